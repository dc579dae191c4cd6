/*
 * fuzz_bytes.h - reads a fuzz input as a stream of small decisions.
 *
 * An exhausted input reads as zeros, so every prefix of an input is itself a
 * valid program; that keeps minimised inputs meaningful.
 */
#ifndef SPARQ_FUZZ_BYTES_H
#define SPARQ_FUZZ_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_bytes {
    const uint8_t *data;
    size_t size;
    size_t pos;
} fuzz_bytes;

static inline int fuzz_done(const fuzz_bytes *in)
{
    return in->pos >= in->size;
}

static inline uint8_t fuzz_u8(fuzz_bytes *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint32_t fuzz_raw32(fuzz_bytes *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)fuzz_u8(in) << (8 * i);
    return v;
}

/* Mostly small numbers, sometimes the edges where arithmetic overflows or
 * limits are checked off by one. */
static inline uint32_t fuzz_u32(fuzz_bytes *in)
{
    static const uint32_t edges[] = {
        0u, 1u, 2u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 63u, 64u, 65u, 255u, 256u, 257u,
        1048575u, 1048576u, 1048577u, 0x7fffffffu, 0x80000000u, 0xfffffff8u, 0xfffffffeu, 0xffffffffu,
    };
    uint8_t pick = fuzz_u8(in);
    if (pick < 128)
        return pick & 31u;
    if (pick < 192)
        return edges[pick % (sizeof edges / sizeof edges[0])];
    if (pick < 224)
        return fuzz_u8(in) | (uint32_t)fuzz_u8(in) << 8;
    return fuzz_raw32(in);
}

/* A struct_size: usually right, sometimes one of the sizes that must fail or
 * that a newer host would send. Never more than `room`, the bytes the host
 * really has behind the pointer. */
static inline uint32_t fuzz_struct_size(fuzz_bytes *in, uint32_t size, uint32_t room)
{
    uint8_t pick = fuzz_u8(in);
    uint32_t v;
    if (pick < 200)
        v = size;
    else if (pick < 215)
        v = size - 1u - (pick & 3u);
    else if (pick < 230)
        v = size + 8u * (pick & 7u);
    else
        v = fuzz_raw32(in);
    return v > room ? room : v;
}

#endif /* SPARQ_FUZZ_BYTES_H */
