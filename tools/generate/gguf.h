/*
 * gguf.h - a bounds-checked reader for GGUF version 3 files.
 *
 * The file is mapped read-only and parsed once: every length, count and
 * offset is checked against the end of the mapping before it is used, so a
 * truncated or hostile file gives an error message (naming the key or tensor
 * at fault) instead of a read past the end or a huge allocation.
 *
 * Strings handed out point into the mapping and are NOT NUL-terminated: use
 * the (ptr, len) pair. They live as long as the gguf_file.
 */
#ifndef SPARQ_GENERATE_GGUF_H
#define SPARQ_GENERATE_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* Metadata value types, as numbered by the GGUF specification. */
typedef enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} gguf_value_type;

/* Tensor element types (ggml numbering). Only those with a known block
 * layout are accepted by the reader; the model code converts F32, F16 and
 * Q8_0. */
typedef enum gguf_tensor_type {
    GGUF_TENSOR_F32 = 0,
    GGUF_TENSOR_F16 = 1,
    GGUF_TENSOR_Q4_0 = 2,
    GGUF_TENSOR_Q4_1 = 3,
    GGUF_TENSOR_Q5_0 = 6,
    GGUF_TENSOR_Q5_1 = 7,
    GGUF_TENSOR_Q8_0 = 8,
    GGUF_TENSOR_Q8_1 = 9,
    GGUF_TENSOR_Q2_K = 10,
    GGUF_TENSOR_Q3_K = 11,
    GGUF_TENSOR_Q4_K = 12,
    GGUF_TENSOR_Q5_K = 13,
    GGUF_TENSOR_Q6_K = 14,
    GGUF_TENSOR_Q8_K = 15,
    GGUF_TENSOR_I8 = 24,
    GGUF_TENSOR_I16 = 25,
    GGUF_TENSOR_I32 = 26,
    GGUF_TENSOR_I64 = 27,
    GGUF_TENSOR_F64 = 28,
    GGUF_TENSOR_BF16 = 30,
} gguf_tensor_type;

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct gguf_str {
    const char *ptr; /* into the mapping; not NUL-terminated */
    uint64_t len;
} gguf_str;

/* One metadata entry. Scalars are decoded into `scalar`; strings into
 * `string`; arrays keep their element type and count, and their elements
 * are read with gguf_array_*(). */
typedef struct gguf_kv {
    gguf_str key;
    gguf_value_type type;
    union {
        uint64_t u;
        int64_t i;
        double f;
    } scalar;
    gguf_str string;
    gguf_value_type array_type; /* for GGUF_TYPE_ARRAY */
    uint64_t array_count;
    const uint8_t *array_data;  /* first element (scalar arrays) */
    gguf_str *array_strings;    /* [array_count], for arrays of strings */
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t dims[GGUF_MAX_DIMS]; /* dims[0] is the contiguous one; unused dims are 1 */
    gguf_tensor_type type;
    uint64_t n_elements;
    uint64_t n_bytes;
    uint64_t offset;     /* relative to the data section */
    const uint8_t *data; /* into the mapping; n_bytes long */
} gguf_tensor;

typedef struct gguf_file {
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset; /* file offset of the tensor data section */
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    int owns_mapping;
} gguf_file;

/* Maps and parses `path`. Returns 0 on success; on failure returns -1, frees
 * everything and writes a message to err (err_size bytes, NUL-terminated). */
int gguf_open(const char *path, gguf_file *file, char *err, size_t err_size);

/* Parses a file already in memory (the buffer must outlive the gguf_file and
 * is not freed by gguf_close). For tests and fuzzing. */
int gguf_parse_memory(const uint8_t *data, size_t size, gguf_file *file, char *err, size_t err_size);

void gguf_close(gguf_file *file);

/* Lookups by NUL-terminated name; NULL if absent. */
const gguf_kv *gguf_find_kv(const gguf_file *file, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *file, const char *name);

/* Typed metadata access. Each returns 0 on success, 1 if the key is absent
 * (value untouched), -1 if present with the wrong type or out of range (err
 * names the key, its type and what was expected). Integers accept any
 * integer type whose value fits; floats accept FLOAT32 and FLOAT64. */
int gguf_get_u32(const gguf_file *file, const char *key, uint32_t *value, char *err, size_t err_size);
int gguf_get_f32(const gguf_file *file, const char *key, float *value, char *err, size_t err_size);
int gguf_get_string(const gguf_file *file, const char *key, gguf_str *value, char *err, size_t err_size);

/* Element `index` of an integer array as int64 (0 on success, -1 if not an
 * integer array or out of range). */
int gguf_array_int(const gguf_kv *kv, uint64_t index, int64_t *value);
/* Element `index` of a float array. */
int gguf_array_float(const gguf_kv *kv, uint64_t index, double *value);

const char *gguf_value_type_name(gguf_value_type type);
const char *gguf_tensor_type_name(gguf_tensor_type type);

/* Compares a gguf_str with a NUL-terminated string. */
int gguf_str_eq(gguf_str s, const char *c);

#endif
