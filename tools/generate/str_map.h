/*
 * str_map.h - an open-addressing hash map from byte strings to uint32. Keys
 * are copied.
 */
#ifndef SPARQ_GENERATE_STR_MAP_H
#define SPARQ_GENERATE_STR_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct str_map str_map;

str_map *str_map_create(size_t expected);
void str_map_destroy(str_map *map);
/* Inserts or keeps the first value for a key. 0 on success, -1 if out of memory. */
int str_map_put(str_map *map, const char *key, size_t len, uint32_t value);
/* 1 and *value if present, 0 if not. */
int str_map_get(const str_map *map, const char *key, size_t len, uint32_t *value);

#endif
