/*
 * matvec.c - dot products of stored rows with float vectors. Each row is
 * converted into per-thread scratch and then dotted in fp32, except F16 rows
 * on CPUs with F16C+FMA, which are converted and multiplied in one pass.
 * With a batch of vectors, a thread streams each of its weight rows once and
 * dots it against every vector while the row is still in L1.
 */
#include "matvec.h"

#include <stdlib.h>
#include <string.h>

#include "half.h"

#define Q8_0_BLOCK 32
#define Q8_0_BLOCK_BYTES 34

int weight_type_supported(gguf_tensor_type type)
{
    return type == GGUF_TENSOR_F32 || type == GGUF_TENSOR_F16 || type == GGUF_TENSOR_Q8_0;
}

void weight_from_tensor(weight *w, const gguf_tensor *t)
{
    w->type = t->type;
    w->data = t->data;
    w->n_in = (uint32_t)t->dims[0];
    w->n_out = (uint32_t)t->dims[1];
    w->row_bytes = (size_t)(t->n_bytes / t->dims[1]);
}

void weight_row_to_f32(const weight *w, uint32_t row, float *out)
{
    const uint8_t *p = w->data + (size_t)row * w->row_bytes;
    switch (w->type) {
    case GGUF_TENSOR_F32:
        memcpy(out, p, (size_t)w->n_in * sizeof(float));
        break;
    case GGUF_TENSOR_F16:
        half_row_to_f32((const uint16_t *)(const void *)p, out, w->n_in);
        break;
    case GGUF_TENSOR_Q8_0:
        for (uint32_t b = 0; b < w->n_in / Q8_0_BLOCK; b++) {
            const uint8_t *block = p + (size_t)b * Q8_0_BLOCK_BYTES;
            uint16_t d16;
            memcpy(&d16, block, 2);
            float d = half_to_f32(d16);
            const int8_t *q = (const int8_t *)(block + 2);
            for (int i = 0; i < Q8_0_BLOCK; i++)
                out[b * Q8_0_BLOCK + i] = d * (float)q[i];
        }
        break;
    default:
        memset(out, 0, (size_t)w->n_in * sizeof(float));
        break;
    }
}

/* Eight independent sums so the compiler can keep a vector of partials
 * without reassociating (which it may not do under strict IEEE rules). */
static float dot_f32(const float *a, const float *b, uint32_t n)
{
    float s[8] = {0};
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx2,fma,f16c"))) static float dot_f16_avx2(const uint16_t *w, const float *x, uint32_t n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), acc1);
    }
    acc0 = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    float r = _mm_cvtss_f32(s);
    for (; i < n; i++)
        r += half_to_f32(w[i]) * x[i];
    return r;
}

/* dot_f16_avx2 against four vectors at once: each converted chunk of the
 * row feeds four accumulator pairs. Every vector's sum is formed in the same
 * order as dot_f16_avx2 forms it, so the results are bit-identical. */
__attribute__((target("avx2,fma,f16c"))) static void dot4_f16_avx2(const uint16_t *w, const float *x, size_t x_stride,
                                                                   uint32_t n, float *y, size_t y_stride)
{
    __m256 a0[4], a1[4];
    for (int b = 0; b < 4; b++)
        a0[b] = a1[b] = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        for (int b = 0; b < 4; b++) {
            const float *xb = x + b * x_stride;
            a0[b] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb + i), a0[b]);
            a1[b] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + i + 8), a1[b]);
        }
    }
    for (int b = 0; b < 4; b++) {
        __m256 acc0 = _mm256_add_ps(a0[b], a1[b]);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc0), _mm256_extractf128_ps(acc0, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        float r = _mm_cvtss_f32(s);
        const float *xb = x + b * x_stride;
        for (uint32_t j = i; j < n; j++)
            r += half_to_f32(w[j]) * xb[j];
        y[b * y_stride] = r;
    }
}

static int have_avx2_fma_f16c(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return known;
}
#define HAVE_F16_FAST_PATH 1
#endif

typedef struct run_args {
    matvec_ctx *ctx;
    const matvec_job *jobs;
    size_t n_jobs;
    int fast_f16;
} run_args;

static void run_rows(void *arg, size_t begin, size_t end, unsigned thread)
{
    run_args *a = arg;
    float *scratch = a->ctx->scratch + (size_t)thread * a->ctx->max_in;
    size_t base = 0;
    for (size_t j = 0; j < a->n_jobs && base < end; j++) {
        const matvec_job *job = &a->jobs[j];
        size_t rows = job->w->n_out;
        size_t lo = begin > base ? begin - base : 0;
        size_t hi = end - base < rows ? end - base : rows;
        const weight *w = job->w;
        const uint32_t n_vec = job->n_vec ? job->n_vec : 1, n_in = w->n_in;
        const size_t n_out = w->n_out;
        for (size_t r = lo; r < hi; r++) {
            const uint8_t *row = w->data + r * w->row_bytes;
            uint32_t b = 0;
#ifdef HAVE_F16_FAST_PATH
            if (a->fast_f16 && w->type == GGUF_TENSOR_F16) {
                const uint16_t *wr = (const uint16_t *)(const void *)row;
                for (; b + 4 <= n_vec; b += 4)
                    dot4_f16_avx2(wr, job->x + (size_t)b * n_in, n_in, n_in, job->y + b * n_out + r, n_out);
                for (; b < n_vec; b++)
                    job->y[b * n_out + r] = dot_f16_avx2(wr, job->x + (size_t)b * n_in, n_in);
                continue;
            }
#endif
            const float *wf = (const float *)(const void *)row;
            if (w->type != GGUF_TENSOR_F32) {
                weight_row_to_f32(w, (uint32_t)r, scratch);
                wf = scratch;
            }
            for (; b < n_vec; b++)
                job->y[b * n_out + r] = dot_f32(wf, job->x + (size_t)b * n_in, n_in);
        }
        base += rows;
    }
}

int matvec_ctx_init(matvec_ctx *ctx, thread_pool *pool, uint32_t max_in)
{
    half_init();
    ctx->pool = pool;
    ctx->max_in = max_in;
    ctx->scratch = malloc((size_t)thread_pool_size(pool) * max_in * sizeof(float));
    return ctx->scratch ? 0 : -1;
}

void matvec_ctx_free(matvec_ctx *ctx)
{
    free(ctx->scratch);
    ctx->scratch = NULL;
}

void matvec_run(matvec_ctx *ctx, const matvec_job *jobs, size_t n_jobs)
{
    size_t total = 0;
    for (size_t j = 0; j < n_jobs; j++)
        total += jobs[j].w->n_out;
    run_args a = {ctx, jobs, n_jobs, 0};
#ifdef HAVE_F16_FAST_PATH
    static int fast = -1;
    /* SPARQ_GENERATE_PORTABLE=1 forces the portable path, to compare the two. */
    if (fast < 0)
        fast = have_avx2_fma_f16c() && getenv("SPARQ_GENERATE_PORTABLE") == NULL;
    a.fast_f16 = fast;
#endif
    thread_pool_run(ctx->pool, total, run_rows, &a);
}
