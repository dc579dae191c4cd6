#include "sq_fault.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

/* One counter per variable, restarted when its value changes. */
typedef struct fault_counter {
    const char *variable;
    atomic_bool armed; /* a value is being counted: lets the unset case skip the lock */
    char value[64];    /* the value the count belongs to (under lock) */
    uint64_t count;
} fault_counter;

static fault_counter allocations = {.variable = "SPARQ_DEBUG_FAIL_ALLOCATION_AFTER"};
static fault_counter submissions = {.variable = "SPARQ_DEBUG_LOSE_DEVICE_AFTER"};
static once_flag lock_once = ONCE_FLAG_INIT;
static mtx_t lock; /* caches of one context may allocate from several threads */

static void init_lock(void)
{
    mtx_init(&lock, mtx_plain);
}

/* Counts one event; true when it falls in the failing range "N[,M]". */
static bool count_event(fault_counter *f)
{
    const char *v = getenv(f->variable);
    if (!v || !*v) {
        if (atomic_load(&f->armed)) { /* unset after use: a later value counts afresh */
            call_once(&lock_once, init_lock);
            mtx_lock(&lock);
            f->value[0] = '\0';
            atomic_store(&f->armed, false);
            mtx_unlock(&lock);
        }
        return false;
    }
    call_once(&lock_once, init_lock);
    mtx_lock(&lock);
    if (strncmp(v, f->value, sizeof f->value) != 0) {
        strncpy(f->value, v, sizeof f->value - 1);
        f->value[sizeof f->value - 1] = '\0';
        f->count = 0;
        atomic_store(&f->armed, true);
    }
    const uint64_t event = f->count++;
    mtx_unlock(&lock);
    char *end = NULL;
    const uint64_t pass = strtoull(v, &end, 10);
    if (end == v || event < pass)
        return false;
    if (*end != ',')
        return true; /* no M: every later event fails */
    const uint64_t fail = strtoull(end + 1, NULL, 10);
    return event - pass < fail;
}

bool sq_fault_allocation(void)
{
    return count_event(&allocations);
}

bool sq_fault_device_lost(void)
{
    return count_event(&submissions);
}

uint64_t sq_fault_fence_timeout_ns(uint64_t normal)
{
    const char *v = getenv("SPARQ_DEBUG_FENCE_TIMEOUT_MS");
    char *end = NULL;
    const unsigned long long ms = v ? strtoull(v, &end, 10) : 0;
    return v && end != v ? (uint64_t)ms * 1000000u : normal; /* unset, empty or not a number: normal */
}

void *sq_calloc(size_t count, size_t size)
{
    return sq_fault_allocation() ? NULL : calloc(count, size);
}

void *sq_realloc(void *block, size_t size)
{
    return sq_fault_allocation() ? NULL : realloc(block, size);
}
