#include "fuzz_host_memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

enum { MAX_BLOCKS = 64 };
#define SMALL_LIMIT (4u << 20)

static void *blocks[MAX_BLOCKS];
static int n_blocks;
static uint8_t *shared;
static uint64_t shared_size;

uint64_t fuzz_mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

/* Reserved, not committed: pages are only backed if something touches them,
 * which for a correct plugin never happens. */
static void reserve_shared(void)
{
    for (uint64_t size = 1ull << 40; size >= (1ull << 30) && !shared; size >>= 1) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            shared = p;
            shared_size = size;
        }
    }
}

void *fuzz_host_buffer(uint64_t bytes)
{
    if (bytes <= SMALL_LIMIT) {
        if (n_blocks == MAX_BLOCKS)
            return NULL;
        void *p = malloc(bytes ? bytes : 1);
        if (!p) {
            fprintf(stderr, "fuzz: host out of memory\n");
            abort();
        }
        blocks[n_blocks++] = p;
        return p;
    }
    if (!shared)
        reserve_shared();
    return shared && bytes <= shared_size ? shared : NULL;
}

void *fuzz_host_output(uint64_t bytes)
{
    return bytes <= SMALL_LIMIT ? fuzz_host_buffer(bytes) : NULL;
}

int fuzz_host_is_shared(const void *p)
{
    return shared && (const uint8_t *)p >= shared && (const uint8_t *)p < shared + shared_size;
}

void fuzz_host_release_all(void)
{
    while (n_blocks > 0)
        free(blocks[--n_blocks]);
}
