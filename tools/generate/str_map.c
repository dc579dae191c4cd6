/*
 * str_map.c - linear probing at a load factor of at most 1/2; the table is
 * sized once from the expected count and grows by doubling if exceeded.
 */
#include "str_map.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *key; /* NULL = empty */
    size_t len;
    uint32_t value;
    uint64_t hash;
} slot;

struct str_map {
    slot *slots;
    size_t capacity; /* a power of two */
    size_t count;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

str_map *str_map_create(size_t expected)
{
    str_map *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->capacity = 16;
    while (m->capacity < expected * 2)
        m->capacity *= 2;
    m->slots = calloc(m->capacity, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void str_map_destroy(str_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->capacity; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static slot *find(slot *slots, size_t capacity, const char *key, size_t len, uint64_t h)
{
    size_t i = (size_t)h & (capacity - 1);
    while (slots[i].key && !(slots[i].hash == h && slots[i].len == len && memcmp(slots[i].key, key, len) == 0))
        i = (i + 1) & (capacity - 1);
    return &slots[i];
}

static int grow(str_map *m)
{
    size_t cap = m->capacity * 2;
    slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->capacity; i++)
        if (m->slots[i].key)
            *find(slots, cap, m->slots[i].key, m->slots[i].len, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->capacity = cap;
    return 0;
}

int str_map_put(str_map *m, const char *key, size_t len, uint32_t value)
{
    if ((m->count + 1) * 2 > m->capacity && grow(m))
        return -1;
    uint64_t h = hash_bytes(key, len);
    slot *s = find(m->slots, m->capacity, key, len, h);
    if (s->key)
        return 0;
    s->key = malloc(len ? len : 1);
    if (!s->key)
        return -1;
    memcpy(s->key, key, len);
    s->len = len;
    s->value = value;
    s->hash = h;
    m->count++;
    return 0;
}

int str_map_get(const str_map *m, const char *key, size_t len, uint32_t *value)
{
    const slot *s = find(m->slots, m->capacity, key, len, hash_bytes(key, len));
    if (!s->key)
        return 0;
    *value = s->value;
    return 1;
}
