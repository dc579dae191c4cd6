/*
 * fuzz_host_memory.h - the host memory a fuzzed call points at.
 *
 * The ABI lets the plugin read or write exactly the bytes a descriptor
 * claims, so every buffer the harness passes is exactly that large: small
 * ones are separate heap blocks (AddressSanitizer then catches any access
 * past the claim), huge ones share one reserved, never-touched mapping (so a
 * call that claims terabytes can still be made legally, and must be refused
 * without being read).
 */
#ifndef SPARQ_FUZZ_HOST_MEMORY_H
#define SPARQ_FUZZ_HOST_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/* Returns `bytes` of host memory valid until fuzz_host_release_all(), or
 * NULL when the claim is larger than this host can back (the call must then
 * not be made). Callers compute `bytes` with fuzz_mul, so an overflowing claim
 * arrives as UINT64_MAX and is refused. */
void *fuzz_host_buffer(uint64_t bytes);

/* Like fuzz_host_buffer, for memory a valid call may legitimately write
 * in full (attend's outputs): never the shared mapping, so NULL above the
 * small-buffer limit. */
void *fuzz_host_output(uint64_t bytes);

/* Multiplies sizes, saturating at UINT64_MAX. */
uint64_t fuzz_mul(uint64_t a, uint64_t b);

/* True if p lies in the huge shared mapping (its contents are not ours). */
int fuzz_host_is_shared(const void *p);

void fuzz_host_release_all(void);

#endif /* SPARQ_FUZZ_HOST_MEMORY_H */
