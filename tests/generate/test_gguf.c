/*
 * The GGUF reader and the model loader on valid, malformed, truncated and
 * hostile files built here: every bad file gives an error that says what is
 * wrong (and which key or tensor), none crashes or reads past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "gguf_builder.h"
#include "llama_model.h"

int gguf_fuzz_one(const uint8_t *data, size_t size);

/* Parses a copy of exactly `size` bytes on the heap, so a read past the end
 * is caught by the allocator's guards or a sanitizer. Returns the status;
 * err receives the message. */
static int parse_copy(const uint8_t *data, size_t size, char *err, size_t err_size)
{
    uint8_t *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    if (size)
        memcpy(copy, data, size);
    gguf_file f;
    err[0] = '\0';
    int r = gguf_parse_memory(copy, size, &f, err, err_size);
    if (r == 0)
        gguf_close(&f);
    free(copy);
    return r;
}

static void expect_error(const gguf_builder *b, const char *needle1, const char *needle2)
{
    char err[512];
    assert_int_equal(parse_copy(b->data, b->size, err, sizeof err), -1);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("error '%s' does not mention '%s'%s%s", err, needle1, needle2 ? " and " : "", needle2 ? needle2 : "");
}

/* A small valid file with one of every metadata type and two tensors. */
static void build_valid(gguf_builder *b, uint32_t alignment)
{
    gb_header(b, 3, 2, 16);
    gb_str(b, "t.u8"), gb_u32(b, 0), gb_u8(b, 200);
    gb_str(b, "t.i8"), gb_u32(b, 1), gb_u8(b, 0xfe);
    gb_str(b, "t.u16"), gb_u32(b, 2), gb_u8(b, 0x34), gb_u8(b, 0x12);
    gb_str(b, "t.i16"), gb_u32(b, 3), gb_u8(b, 0xff), gb_u8(b, 0xff);
    gb_kv_u32(b, "t.u32", 4000000000u);
    gb_str(b, "t.i32"), gb_u32(b, 5), gb_u32(b, (uint32_t)-7);
    gb_kv_f32(b, "t.f32", 1.5f);
    gb_str(b, "t.bool"), gb_u32(b, 7), gb_u8(b, 1);
    gb_kv_str(b, "t.str", "hello");
    gb_str(b, "t.u64"), gb_u32(b, 10), gb_u64(b, 1ull << 40);
    gb_str(b, "t.i64"), gb_u32(b, 11), gb_u64(b, (uint64_t)-3);
    gb_str(b, "t.f64"), gb_u32(b, 12);
    double d = -2.25;
    gb_bytes(b, &d, 8);
    gb_str(b, "t.arr_u32"), gb_u32(b, 9), gb_u32(b, 4), gb_u64(b, 3), gb_u32(b, 10), gb_u32(b, 20), gb_u32(b, 30);
    const char *strs[] = {"a", "", "ccc"};
    gb_kv_str_array(b, "t.arr_str", strs, 3);
    /* An array of arrays of int8: validated and skipped. */
    gb_str(b, "t.nested"), gb_u32(b, 9), gb_u32(b, 9), gb_u64(b, 2);
    gb_u32(b, 1), gb_u64(b, 2), gb_u8(b, 1), gb_u8(b, 2);
    gb_u32(b, 1), gb_u64(b, 0);
    gb_kv_u32(b, "general.alignment", alignment);
    uint64_t dims_a[2] = {4, 2}, dims_b[1] = {32};
    gb_tensor_info(b, "a", 2, dims_a, 0, 0);
    gb_tensor_info(b, "b", 1, dims_b, 8, alignment);
    gb_align(b, alignment);
    for (int i = 0; i < 8; i++)
        gb_f32(b, (float)i);
    gb_align(b, alignment);
    uint16_t scale = 0x3c00; /* 1.0 */
    gb_bytes(b, &scale, 2);
    for (int i = 0; i < 32; i++)
        gb_u8(b, (uint8_t)i);
}

static void valid_file_reads_back(void **state)
{
    (void)state;
    gguf_builder b = {0};
    build_valid(&b, 64);
    gguf_file f;
    char err[512];
    assert_int_equal(gguf_parse_memory(b.data, b.size, &f, err, sizeof err), 0);
    assert_int_equal(f.n_kv, 16);
    assert_int_equal(f.alignment, 64);
    assert_int_equal(gguf_find_kv(&f, "t.u8")->scalar.u, 200);
    assert_int_equal(gguf_find_kv(&f, "t.i8")->scalar.i, -2);
    assert_int_equal(gguf_find_kv(&f, "t.u16")->scalar.u, 0x1234);
    assert_int_equal(gguf_find_kv(&f, "t.i16")->scalar.i, -1);
    assert_int_equal(gguf_find_kv(&f, "t.i32")->scalar.i, -7);
    assert_true(gguf_find_kv(&f, "t.f32")->scalar.f == 1.5);
    assert_int_equal(gguf_find_kv(&f, "t.bool")->scalar.u, 1);
    assert_int_equal(gguf_find_kv(&f, "t.u64")->scalar.u, 1ull << 40);
    assert_int_equal(gguf_find_kv(&f, "t.i64")->scalar.i, -3);
    assert_true(gguf_find_kv(&f, "t.f64")->scalar.f == -2.25);
    uint32_t u;
    assert_int_equal(gguf_get_u32(&f, "t.u32", &u, err, sizeof err), 0);
    assert_int_equal(u, 4000000000u);
    assert_int_equal(gguf_get_u32(&f, "t.missing", &u, err, sizeof err), 1);
    assert_int_equal(gguf_get_u32(&f, "t.i32", &u, err, sizeof err), -1); /* negative */
    assert_non_null(strstr(err, "t.i32"));
    assert_int_equal(gguf_get_u32(&f, "t.str", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "t.str"));
    assert_non_null(strstr(err, "string"));
    gguf_str s;
    assert_int_equal(gguf_get_string(&f, "t.str", &s, err, sizeof err), 0);
    assert_true(gguf_str_eq(s, "hello"));
    const gguf_kv *arr = gguf_find_kv(&f, "t.arr_u32");
    int64_t iv;
    assert_int_equal(gguf_array_int(arr, 2, &iv), 0);
    assert_int_equal(iv, 30);
    assert_int_equal(gguf_array_int(arr, 3, &iv), -1);
    const gguf_kv *sa = gguf_find_kv(&f, "t.arr_str");
    assert_int_equal(sa->array_count, 3);
    assert_true(gguf_str_eq(sa->array_strings[1], ""));
    assert_true(gguf_str_eq(sa->array_strings[2], "ccc"));
    assert_int_equal(gguf_find_kv(&f, "t.nested")->array_count, 2);

    const gguf_tensor *ta = gguf_find_tensor(&f, "a"), *tb = gguf_find_tensor(&f, "b");
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(ta->n_elements, 8);
    assert_int_equal((ta->data - b.data) % 64, 0);
    float v;
    memcpy(&v, ta->data + 7 * 4, 4);
    assert_true(v == 7.0f);
    assert_int_equal(tb->n_bytes, 34);
    assert_int_equal(tb->data[2 + 31], 31);
    assert_null(gguf_find_tensor(&f, "c"));
    gguf_close(&f);
    gb_free(&b);
}

static void bad_magic_and_versions(void **state)
{
    (void)state;
    gguf_builder b = {0};
    build_valid(&b, 32);
    b.data[0] = 'X';
    expect_error(&b, "magic", NULL);
    b.data[0] = 'G';
    const uint32_t versions[] = {1, 2, 99, 0};
    for (size_t i = 0; i < 4; i++) {
        memcpy(b.data + 4, &versions[i], 4);
        char want[32];
        snprintf(want, sizeof want, "version %u", versions[i]);
        expect_error(&b, want, NULL);
    }
    gb_free(&b);
    char err[256];
    assert_int_equal(parse_copy((const uint8_t *)"", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "magic"));
}

static void hostile_counts(void **state)
{
    (void)state;
    gguf_builder b = {0};
    build_valid(&b, 32);
    uint64_t huge = UINT64_MAX;
    memcpy(b.data + 8, &huge, 8); /* tensor count */
    expect_error(&b, "tensor count", NULL);
    uint64_t two = 2, big = 1ull << 40;
    memcpy(b.data + 8, &two, 8);
    memcpy(b.data + 16, &big, 8); /* metadata count */
    expect_error(&b, "metadata count", NULL);
    gb_free(&b);

    /* An array whose count cannot fit in what is left. */
    gguf_builder a = {0};
    gb_header(&a, 3, 0, 1);
    gb_str(&a, "big.array"), gb_u32(&a, 9), gb_u32(&a, 4), gb_u64(&a, 1ull << 60);
    expect_error(&a, "big.array", "count");
    gb_free(&a);

    /* An array of strings whose count is plausible but whose strings run out. */
    gguf_builder s = {0};
    gb_header(&s, 3, 0, 1);
    gb_str(&s, "strs"), gb_u32(&s, 9), gb_u32(&s, 8), gb_u64(&s, 2), gb_str(&s, "x"), gb_u64(&s, 1000);
    expect_error(&s, "strs", "past the end");
    gb_free(&s);
}

static void strings_past_the_end(void **state)
{
    (void)state;
    gguf_builder b = {0};
    gb_header(&b, 3, 0, 1);
    gb_u64(&b, 1ull << 62); /* key length */
    gb_bytes(&b, "abcdefghijklmnopqrstuvwxyz", 26);
    expect_error(&b, "metadata entry #0", "past the end");
    gb_free(&b);

    gb_header(&b, 3, 0, 1);
    gb_str(&b, "general.name");
    gb_u32(&b, 8);
    gb_u64(&b, 100); /* value length, with 5 bytes left */
    gb_bytes(&b, "short", 5);
    expect_error(&b, "general.name", "past the end");
    gb_free(&b);

    gb_header(&b, 3, 1, 0);
    gb_u64(&b, 1000); /* tensor name length */
    gb_bytes(&b, "0123456789012345678901234567890", 31);
    expect_error(&b, "tensor info #0", "past the end");
    gb_free(&b);
}

static void every_truncation_fails_cleanly(void **state)
{
    (void)state;
    gguf_builder b = {0};
    build_valid(&b, 32);
    char err[512];
    for (size_t n = 0; n < b.size; n++) {
        if (parse_copy(b.data, n, err, sizeof err) != -1)
            fail_msg("a file truncated to %zu of %zu bytes was accepted", n, b.size);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(parse_copy(b.data, b.size, err, sizeof err), 0);
    gb_free(&b);
}

/* A header with one tensor `name`, given dims/type/offset, and `data_bytes` of data. */
static void one_tensor(gguf_builder *b, uint32_t n_dims, const uint64_t *dims, uint32_t type, uint64_t offset,
                       size_t data_bytes)
{
    gb_header(b, 3, 1, 0);
    gb_tensor_info(b, "blk.0.attn_q.weight", n_dims, dims, type, offset);
    gb_align(b, 32);
    for (size_t i = 0; i < data_bytes; i++)
        gb_u8(b, 0);
}

static void bad_tensor_infos(void **state)
{
    (void)state;
    gguf_builder b = {0};
    uint64_t dims[5] = {32, 2, 1, 1, 1};

    one_tensor(&b, 2, dims, 0, 0, 32 * 2 * 4);
    char err[256];
    assert_int_equal(parse_copy(b.data, b.size, err, sizeof err), 0);
    gb_free(&b);

    one_tensor(&b, 2, dims, 0, 0, 32 * 2 * 4 - 1); /* data one byte short */
    expect_error(&b, "blk.0.attn_q.weight", "past the end");
    gb_free(&b);

    one_tensor(&b, 2, dims, 0, 1ull << 62, 256); /* offset far past the end */
    expect_error(&b, "blk.0.attn_q.weight", "past the end");
    gb_free(&b);

    one_tensor(&b, 2, dims, 0, UINT64_MAX - 31, 256); /* offset that wraps */
    expect_error(&b, "blk.0.attn_q.weight", NULL);
    gb_free(&b);

    one_tensor(&b, 2, dims, 0, 4, 512); /* misaligned */
    expect_error(&b, "blk.0.attn_q.weight", "alignment");
    gb_free(&b);

    one_tensor(&b, 2, dims, 77, 0, 512); /* unknown type */
    expect_error(&b, "blk.0.attn_q.weight", "type 77");
    gb_free(&b);

    one_tensor(&b, 5, dims, 0, 0, 512); /* too many dims */
    expect_error(&b, "blk.0.attn_q.weight", "dimensions");
    gb_free(&b);

    uint64_t zero[2] = {32, 0};
    one_tensor(&b, 2, zero, 0, 0, 512);
    expect_error(&b, "blk.0.attn_q.weight", "dimension 1");
    gb_free(&b);

    uint64_t huge[4] = {1ull << 32, 1ull << 32, 1ull << 32, 1};
    one_tensor(&b, 4, huge, 0, 0, 512); /* element count overflows */
    expect_error(&b, "blk.0.attn_q.weight", "too large");
    gb_free(&b);

    uint64_t odd[2] = {33, 2};
    one_tensor(&b, 2, odd, 8, 0, 512); /* Q8_0 needs whole blocks */
    expect_error(&b, "blk.0.attn_q.weight", "block");
    gb_free(&b);

    /* Two tensors with one name. */
    gb_header(&b, 3, 2, 0);
    gb_tensor_info(&b, "same", 1, dims, 0, 0);
    gb_tensor_info(&b, "same", 1, dims, 0, 128);
    gb_align(&b, 32);
    for (int i = 0; i < 256; i++)
        gb_u8(&b, 0);
    expect_error(&b, "same", "more than once");
    gb_free(&b);
}

static void bad_metadata(void **state)
{
    (void)state;
    gguf_builder b = {0};
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "odd.type");
    gb_u32(&b, 13); /* no such value type */
    gb_u32(&b, 0);
    expect_error(&b, "odd.type", "unknown value type 13");
    gb_free(&b);

    gb_header(&b, 3, 0, 2);
    gb_kv_u32(&b, "dup", 1);
    gb_kv_u32(&b, "dup", 2);
    expect_error(&b, "dup", "more than once");
    gb_free(&b);

    gb_header(&b, 3, 0, 1);
    gb_kv_u32(&b, "general.alignment", 24);
    expect_error(&b, "general.alignment", "power of two");
    gb_free(&b);

    gb_header(&b, 3, 0, 1);
    gb_kv_str(&b, "general.alignment", "32");
    expect_error(&b, "general.alignment", "string");
    gb_free(&b);

    /* Arrays nested deeper than the reader allows. */
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "deep");
    gb_u32(&b, 9);
    for (int i = 0; i < 8; i++)
        gb_u32(&b, 9), gb_u64(&b, 1);
    gb_u32(&b, 4), gb_u64(&b, 0);
    expect_error(&b, "deep", "nested");
    gb_free(&b);
}

static tiny_model_spec tiny_spec(void)
{
    tiny_model_spec sp = {2, 64, 4, 2, 96, 128, 10000.0f, 1e-5f, 7};
    return sp;
}

/* Replaces the first occurrence of `from` (as a GGUF string) by `to` of the same length. */
static void rename_in_file(gguf_builder *b, const char *from, const char *to)
{
    size_t n = strlen(from);
    assert_int_equal(n, strlen(to));
    for (size_t i = 8; i + n <= b->size; i++) {
        uint64_t len;
        memcpy(&len, b->data + i - 8, 8);
        if (len == n && memcmp(b->data + i, from, n) == 0) {
            memcpy(b->data + i, to, n);
            return;
        }
    }
    fail_msg("'%s' is not in the file", from);
}

static int load_model(gguf_builder *b, char *err, size_t err_size)
{
    gguf_file f;
    if (gguf_parse_memory(b->data, b->size, &f, err, err_size))
        return -1;
    llama_model m;
    int r = llama_model_from_gguf(&m, &f, err, err_size);
    if (r == 0)
        llama_model_free(&m);
    return r;
}

static void model_keys_and_tensors(void **state)
{
    (void)state;
    tiny_model_spec sp = tiny_spec();
    char err[512];
    gguf_builder b = {0};
    gb_tiny_model(&b, &sp);
    assert_int_equal(load_model(&b, err, sizeof err), 0);
    gb_free(&b);

    /* A required key renamed away. */
    gb_tiny_model(&b, &sp);
    rename_in_file(&b, "llama.block_count", "llama.block_cOunt");
    assert_int_equal(load_model(&b, err, sizeof err), -1);
    assert_non_null(strstr(err, "'llama.block_count' is missing"));
    gb_free(&b);

    /* A tensor renamed away. */
    gb_tiny_model(&b, &sp);
    rename_in_file(&b, "blk.1.ffn_up.weight", "blk.1.ffn_uq.weight");
    assert_int_equal(load_model(&b, err, sizeof err), -1);
    assert_non_null(strstr(err, "'blk.1.ffn_up.weight' is missing"));
    gb_free(&b);

    /* Wrong types for llama keys: a string, then a float where an integer belongs. */
    gguf_builder w = {0};
    gb_header(&w, 3, 0, 2);
    gb_kv_str(&w, "general.architecture", "llama");
    gb_kv_str(&w, "llama.block_count", "eight");
    assert_int_equal(load_model(&w, err, sizeof err), -1);
    assert_non_null(strstr(err, "llama.block_count"));
    assert_non_null(strstr(err, "string"));
    gb_free(&w);

    gb_header(&w, 3, 0, 7);
    gb_kv_u32(&w, "llama.block_count", 1);
    gb_kv_u32(&w, "llama.embedding_length", 64);
    gb_kv_u32(&w, "llama.attention.head_count", 4);
    gb_kv_u32(&w, "llama.feed_forward_length", 96);
    gb_kv_u32(&w, "llama.context_length", 64);
    gb_kv_u32(&w, "llama.attention.layer_norm_rms_epsilon", 1);
    gb_kv_f32(&w, "llama.attention.head_count_kv", 2.0f);
    assert_int_equal(load_model(&w, err, sizeof err), -1);
    assert_non_null(strstr(err, "llama.attention.head_count_kv"));
    assert_non_null(strstr(err, "float32"));
    gb_free(&w);

    gb_header(&w, 3, 0, 1);
    gb_kv_str(&w, "general.architecture", "gpt2");
    assert_int_equal(load_model(&w, err, sizeof err), -1);
    assert_non_null(strstr(err, "general.architecture"));
    gb_free(&w);

    /* A shape that disagrees with the metadata: claim more heads than the
     * projections hold (64 = 8 heads of 8 would still fit; 2 KV heads of 16
     * would not). */
    gb_tiny_model(&b, &sp);
    rename_in_file(&b, "llama.rope.dimension_count", "llama.rope.dimension_cOunt");
    assert_int_equal(load_model(&b, err, sizeof err), 0);
    gb_free(&b);
    sp.n_head_kv = 4;
    gb_tiny_model(&b, &sp);
    /* Overwrite head_count_kv (4) with 1 so attn_k (64 x 64) mismatches 64 x 16. */
    for (size_t i = 0; i + 29 < b.size; i++)
        if (memcmp(b.data + i, "llama.attention.head_count_kv", 29) == 0) {
            uint32_t one = 1;
            memcpy(b.data + i + 29 + 4, &one, 4);
            break;
        }
    assert_int_equal(load_model(&b, err, sizeof err), -1);
    assert_non_null(strstr(err, "blk.0.attn_k.weight"));
    assert_non_null(strstr(err, "shape"));
    gb_free(&b);
}

/* Random byte changes to a valid model: whatever happens, no crash, and a
 * failure always comes with a message. */
static void mutated_files_never_crash(void **state)
{
    (void)state;
    tiny_model_spec sp = tiny_spec();
    sp.n_layer = 1;
    gguf_builder b = {0};
    gb_tiny_model(&b, &sp);
    /* Mutate only the header and infos: the data section cannot fail. */
    size_t meta_end = 0;
    gguf_file f;
    char err[512];
    assert_int_equal(gguf_parse_memory(b.data, b.size, &f, err, sizeof err), 0);
    meta_end = (size_t)f.data_offset;
    gguf_close(&f);
    uint8_t *copy = malloc(b.size);
    assert_non_null(copy);
    uint64_t rng = 12345;
    unsigned failures = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(copy, b.data, b.size);
        int n_changes = 1 + iter % 4;
        for (int c = 0; c < n_changes; c++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(rng >> 33) % meta_end;
            uint8_t values[] = {0x00, 0xff, 0x7f, 0x80, 0x01, (uint8_t)(rng >> 8)};
            copy[at] = values[(rng >> 20) % 6];
        }
        size_t size = iter % 5 == 0 ? (size_t)(rng >> 40) % b.size : b.size;
        gguf_fuzz_one(copy, size);
        err[0] = '\0';
        if (parse_copy(copy, size, err, sizeof err) != 0) {
            failures++;
            assert_true(strlen(err) > 10);
        } else {
            /* Parsed: the model loader must then judge it without crashing. */
            uint8_t *again = malloc(size);
            assert_non_null(again);
            memcpy(again, copy, size);
            gguf_file g;
            assert_int_equal(gguf_parse_memory(again, size, &g, err, sizeof err), 0);
            llama_model m;
            if (llama_model_from_gguf(&m, &g, err, sizeof err) == 0)
                llama_model_free(&m);
            else
                assert_true(strlen(err) > 10);
            free(again);
        }
    }
    assert_true(failures > 100); /* the mutations do reach the checks */
    free(copy);
    gb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_file_reads_back),
        cmocka_unit_test(bad_magic_and_versions),
        cmocka_unit_test(hostile_counts),
        cmocka_unit_test(strings_past_the_end),
        cmocka_unit_test(every_truncation_fails_cleanly),
        cmocka_unit_test(bad_tensor_infos),
        cmocka_unit_test(bad_metadata),
        cmocka_unit_test(model_keys_and_tensors),
        cmocka_unit_test(mutated_files_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
