/*
 * thread_pool.c - workers sleep on a condition variable and wake on a
 * generation counter, so one broadcast starts a run and the last worker to
 * finish wakes the caller. Runs are short (one matrix-vector product), so
 * the pool hands out one contiguous chunk per thread instead of a queue.
 */
#include "thread_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct thread_pool {
    unsigned n_threads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t start;
    pthread_cond_t done;
    unsigned long generation;
    unsigned pending;
    int stopping;
    /* The current run. */
    size_t n;
    thread_pool_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    thread_pool *pool;
    unsigned index;
} worker_arg;

static void chunk(size_t n, unsigned parts, unsigned i, size_t *begin, size_t *end)
{
    *begin = n * i / parts;
    *end = n * (i + 1) / parts;
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    thread_pool *pool = wa->pool;
    unsigned index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->generation == seen && !pool->stopping)
            pthread_cond_wait(&pool->start, &pool->lock);
        if (pool->stopping) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        seen = pool->generation;
        size_t n = pool->n;
        thread_pool_fn fn = pool->fn;
        void *ctx = pool->ctx;
        pthread_mutex_unlock(&pool->lock);

        size_t begin, end;
        chunk(n, pool->n_threads, index, &begin, &end);
        if (begin < end)
            fn(ctx, begin, end, index);

        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->lock);
    }
}

unsigned thread_pool_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

thread_pool *thread_pool_create(unsigned n_threads)
{
    if (n_threads == 0)
        n_threads = thread_pool_cpu_count();
    thread_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->threads = calloc(n_threads, sizeof *pool->threads);
    if (!pool->threads) {
        free(pool);
        return NULL;
    }
    for (unsigned i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || (wa->pool = pool, wa->index = i, pthread_create(&pool->threads[i], NULL, worker_main, wa) != 0)) {
            free(wa);
            pool->n_threads = i; /* destroy joins only the threads that exist */
            thread_pool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void thread_pool_destroy(thread_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 1; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

unsigned thread_pool_size(const thread_pool *pool)
{
    return pool->n_threads;
}

void thread_pool_run(thread_pool *pool, size_t n, thread_pool_fn fn, void *ctx)
{
    if (pool->n_threads == 1 || n < 2) {
        if (n)
            fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->n = n;
    pool->fn = fn;
    pool->ctx = ctx;
    pool->pending = pool->n_threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);

    size_t begin, end;
    chunk(n, pool->n_threads, 0, &begin, &end);
    if (begin < end)
        fn(ctx, begin, end, 0);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
