/*
 * What every attention test needs, on top of tests/common/test_plugin.h:
 * a cache that remembers what was appended (to check what the device stored),
 * inputs from the reference's structured generator, an attend call whose
 * outputs are poisoned first and checked for a full write, and a comparison
 * of those outputs with the float64 reference.
 *
 * The plugin is used only through its ABI. Every helper fails the running
 * cmocka test with a message naming the case when something is wrong.
 */
#ifndef SPARQ_ATTENTION_HARNESS_H
#define SPARQ_ATTENTION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sparq/sparq.h>

#include "sparq_ref.h"
#include "test_plugin.h" /* TEST_SPARQ_OK */

/* cmocka group setup/teardown: one validation-enabled context per program. */
int harness_group_setup(void **state);
int harness_group_teardown(void **state);

const sparq_api *harness_api(void);
sparq_context *harness_context(void);

/* An independent random stream per test, from the printed process seed. */
void harness_rng(sparq_ref_rng *rng, const char *stream);

/* Ends every test: the validation layers reported nothing. */
void harness_finish(void);

/* A cache plus a host copy of what was appended to each slot. */
typedef struct harness_cache {
    sparq_cache *cache;
    sparq_cache_desc desc;
    sparq_ref_kv_model model;
    uint32_t *lengths; /* [n_seqs], kept in step with the device */
    float *shadow_k;   /* [n_seqs][capacity][n_kv_heads][head_dim], values as appended */
    float *shadow_v;
} harness_cache;

void harness_cache_create(harness_cache *hc, sparq_ref_rng *rng, uint32_t n_seqs, uint32_t n_kv_heads,
                          uint32_t head_dim, uint32_t capacity, sparq_dtype storage);
void harness_cache_destroy(harness_cache *hc);

/* Floats per token of one slot: n_kv_heads * head_dim. */
size_t harness_row(const harness_cache *hc);

/* Draws K and V for n_rows tokens from the cache's model: [n_rows][row]. */
void harness_make_kv(const harness_cache *hc, sparq_ref_rng *rng, size_t n_rows, float **k, float **v);

/* One append call of n_tokens per listed slot, k/v laid out as the ABI says.
 * dtype F16 sends binary16 (the values are rounded first and the host copy
 * keeps the rounded ones). Returns the plugin's status; the host copy only
 * changes on success. */
sparq_status harness_append(harness_cache *hc, const uint32_t *slots, uint32_t n_slots, uint32_t n_tokens,
                            const float *k, const float *v, sparq_dtype dtype);

/* Appends fresh random tokens to `slot` until it holds `length`, in calls of
 * at most `block` tokens (0 = 256), sent as `dtype`. Asserts success. */
void harness_fill(harness_cache *hc, sparq_ref_rng *rng, uint32_t slot, uint32_t length, uint32_t block,
                  sparq_dtype dtype);

/* Asserts the plugin's lengths equal the host's. */
void harness_check_lengths(const harness_cache *hc);

/* A slot read back through cache_read. */
typedef struct harness_slot {
    uint32_t length;
    float *k;     /* [length][n_kv_heads][head_dim] */
    float *v;
    float *v_sum; /* [n_kv_heads][head_dim] */
} harness_slot;

/* Reads a slot back and checks it against what was appended: f32 storage
 * bit-exact, f16 storage a binary16 rounding of each value; v_sum close to
 * the float64 sum of the stored V. */
void harness_read_slot(const harness_cache *hc, uint32_t slot, harness_slot *out);
void harness_slot_free(harness_slot *slot);

/* One attend call's inputs. */
typedef struct harness_attend {
    sparq_attention_mode mode; /* DENSE or SPARQ (0 is SPARQ, as in the ABI) */
    uint32_t n_slots;
    const uint32_t *slots;
    uint32_t n_heads;
    sparq_dtype io_dtype; /* q and out: F32 or F16 */
    float scale;
    uint32_t flags;
    uint32_t r, k, l;
    const float *q;       /* [n_slots][n_heads][head_dim], representable in io_dtype */
    bool want_selection;  /* ask for selected and alpha (SparQ) */
} harness_attend;

/* Queries for an attend: [n_slots][n_heads][head_dim], rounded to io_dtype.
 * A group whose i1 (for parameter r) is nearly tied is redrawn: there the
 * device may pick other components legitimately. free() the result. */
float *harness_make_queries(const harness_cache *hc, sparq_ref_rng *rng, uint32_t n_slots, uint32_t n_heads,
                            uint32_t r, sparq_dtype io_dtype, sparq_ref_focus focus);

typedef struct harness_result {
    float *out;               /* [n_slots][n_heads][head_dim] in f32 */
    void *raw_out;            /* the bytes the plugin wrote */
    size_t raw_out_bytes;
    uint32_t *selected;       /* [n_slots][n_kv_heads][selected_stride] or NULL */
    uint32_t selected_stride;
    float *alpha;             /* [n_slots][n_heads] or NULL */
    size_t selected_count;    /* entries in selected */
    size_t alpha_count;       /* entries in alpha */
} harness_result;

/* Poisons every output with NaN (and selected with a value that is neither a
 * position nor SPARQ_NO_POSITION), calls attend, and on success checks that
 * every element was written: out finite, selected ascending and in range
 * then SPARQ_NO_POSITION, alpha finite in [0, 1]. Returns the status. */
sparq_status harness_run(const harness_cache *hc, const harness_attend *a, harness_result *res);
void harness_result_free(harness_result *res);

/* Tolerances on the relative L2 error of each query head's output. */
double harness_output_tolerance(const harness_cache *hc, sparq_dtype io_dtype);

/* Compares a successful run with the reference, per (slot, KV head):
 * dense output; or SparQ's selection validity, then output and alpha given
 * the device's selection (which needs want_selection). `label` names the
 * case in failure messages. */
void harness_check(const harness_cache *hc, const harness_attend *a, const harness_result *res, const char *label);

/* Runs and checks in one go (asserts success). */
void harness_run_and_check(const harness_cache *hc, const harness_attend *a, const char *label);

/* Compares the output of a run with dense reference attention (SparQ with
 * k >= S must give it). */
void harness_check_dense(const harness_cache *hc, const harness_attend *a, const harness_result *res,
                         const char *label);

/* Asserts two runs wrote bit-identical outputs (and selections, alphas). */
void harness_assert_same_result(const harness_result *a, const harness_result *b, const char *label);

#endif
