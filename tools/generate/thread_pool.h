/*
 * thread_pool.h - a fixed set of worker threads that split a range of work
 * items between them. The calling thread takes a share too, so a pool of
 * one thread runs everything inline.
 */
#ifndef SPARQ_GENERATE_THREAD_POOL_H
#define SPARQ_GENERATE_THREAD_POOL_H

#include <stddef.h>

typedef struct thread_pool thread_pool;

/* Processes items [begin, end) on thread `thread` (0 = the caller). */
typedef void (*thread_pool_fn)(void *ctx, size_t begin, size_t end, unsigned thread);

/* n_threads >= 1 (0 means the number of online CPUs). NULL on failure. */
thread_pool *thread_pool_create(unsigned n_threads);
void thread_pool_destroy(thread_pool *pool);
unsigned thread_pool_size(const thread_pool *pool);

/* Splits [0, n) into contiguous chunks, one per thread, and returns when all
 * are done. Not reentrant: one run at a time per pool. */
void thread_pool_run(thread_pool *pool, size_t n, thread_pool_fn fn, void *ctx);

/* Number of online CPUs (at least 1). */
unsigned thread_pool_cpu_count(void);

#endif
