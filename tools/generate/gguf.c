/*
 * gguf.c - GGUF v3 parsing. Every read goes through a cursor that knows
 * where the mapping ends; counts are checked against the bytes left before
 * anything is allocated for them.
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as little-endian uint32 */
#define GGUF_MAX_ARRAY_NESTING 4

typedef struct cursor {
    const uint8_t *base;
    size_t size;
    size_t pos;
    char *err;
    size_t err_size;
} cursor;

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Formats a gguf_str for messages: printable, bounded. */
static const char *show(gguf_str s, char *buf, size_t buf_size)
{
    size_t n = 0;
    for (uint64_t i = 0; i < s.len && n + 5 < buf_size; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c < 0x7f) {
            buf[n++] = (char)c;
        } else {
            n += (size_t)snprintf(buf + n, buf_size - n, "\\x%02x", c);
        }
    }
    if (s.len > 0 && n + 5 >= buf_size && n + 4 <= buf_size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static size_t remaining(const cursor *c)
{
    return c->size - c->pos;
}

static int take(cursor *c, size_t n, const void **out, const char *what)
{
    *out = c->base;
    if (n > remaining(c))
        return fail(c->err, c->err_size, "%s: needs %zu bytes at offset %zu but the file ends at %zu", what, n,
                    c->pos, c->size);
    *out = c->base + c->pos;
    c->pos += n;
    return 0;
}

static int read_u32(cursor *c, uint32_t *v, const char *what)
{
    const void *p = NULL;
    if (take(c, 4, &p, what))
        return -1;
    memcpy(v, p, 4);
    return 0;
}

static int read_u64(cursor *c, uint64_t *v, const char *what)
{
    const void *p = NULL;
    if (take(c, 8, &p, what))
        return -1;
    memcpy(v, p, 8);
    return 0;
}

static int read_str(cursor *c, gguf_str *s, const char *what)
{
    uint64_t len;
    if (read_u64(c, &len, what))
        return -1;
    if (len > remaining(c))
        return fail(c->err, c->err_size, "%s: string length %llu at offset %zu runs past the end of the file (%zu)",
                    what, (unsigned long long)len, c->pos - 8, c->size);
    s->ptr = (const char *)(c->base + c->pos);
    s->len = len;
    c->pos += (size_t)len;
    return 0;
}

static size_t scalar_size(gguf_value_type t)
{
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL:
        return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16:
        return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32:
        return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

/* Smallest encoding of one element of this type: bounds array counts. */
static size_t min_encoded_size(gguf_value_type t)
{
    if (t == GGUF_TYPE_STRING)
        return 8;
    if (t == GGUF_TYPE_ARRAY)
        return 12;
    return scalar_size(t);
}

static void decode_scalar(gguf_value_type t, const uint8_t *p, gguf_kv *kv)
{
    switch (t) {
    case GGUF_TYPE_UINT8: kv->scalar.u = p[0]; break;
    case GGUF_TYPE_INT8: kv->scalar.i = (int8_t)p[0]; break;
    case GGUF_TYPE_BOOL: kv->scalar.u = p[0] != 0; break;
    case GGUF_TYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); kv->scalar.u = v; break; }
    case GGUF_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); kv->scalar.i = v; break; }
    case GGUF_TYPE_UINT32: { uint32_t v; memcpy(&v, p, 4); kv->scalar.u = v; break; }
    case GGUF_TYPE_INT32: { int32_t v; memcpy(&v, p, 4); kv->scalar.i = v; break; }
    case GGUF_TYPE_FLOAT32: { float v; memcpy(&v, p, 4); kv->scalar.f = v; break; }
    case GGUF_TYPE_UINT64: { uint64_t v; memcpy(&v, p, 8); kv->scalar.u = v; break; }
    case GGUF_TYPE_INT64: { int64_t v; memcpy(&v, p, 8); kv->scalar.i = v; break; }
    case GGUF_TYPE_FLOAT64: { double v; memcpy(&v, p, 8); kv->scalar.f = v; break; }
    default: break;
    }
}

/* Skips over an array's elements (nested arrays are validated, not kept). */
static int skip_array(cursor *c, int depth, const char *what)
{
    uint32_t type;
    uint64_t count;
    if (depth > GGUF_MAX_ARRAY_NESTING)
        return fail(c->err, c->err_size, "%s: arrays nested deeper than %d", what, GGUF_MAX_ARRAY_NESTING);
    if (read_u32(c, &type, what) || read_u64(c, &count, what))
        return -1;
    if (type >= GGUF_TYPE_COUNT)
        return fail(c->err, c->err_size, "%s: unknown array element type %u", what, type);
    if (count > remaining(c) / min_encoded_size((gguf_value_type)type))
        return fail(c->err, c->err_size, "%s: array count %llu is more than the rest of the file can hold", what,
                    (unsigned long long)count);
    for (uint64_t i = 0; i < count; i++) {
        const void *p = NULL;
        gguf_str s;
        if (type == GGUF_TYPE_STRING) {
            if (read_str(c, &s, what))
                return -1;
        } else if (type == GGUF_TYPE_ARRAY) {
            if (skip_array(c, depth + 1, what))
                return -1;
        } else if (take(c, scalar_size((gguf_value_type)type), &p, what)) {
            return -1;
        }
    }
    return 0;
}

static int read_value(cursor *c, gguf_kv *kv, const char *what)
{
    uint32_t type;
    if (read_u32(c, &type, what))
        return -1;
    if (type >= GGUF_TYPE_COUNT)
        return fail(c->err, c->err_size, "%s: unknown value type %u", what, type);
    kv->type = (gguf_value_type)type;
    if (type == GGUF_TYPE_STRING)
        return read_str(c, &kv->string, what);
    if (type != GGUF_TYPE_ARRAY) {
        const void *p = NULL;
        if (take(c, scalar_size(kv->type), &p, what))
            return -1;
        decode_scalar(kv->type, p, kv);
        return 0;
    }

    uint32_t elem;
    uint64_t count;
    if (read_u32(c, &elem, what) || read_u64(c, &count, what))
        return -1;
    if (elem >= GGUF_TYPE_COUNT)
        return fail(c->err, c->err_size, "%s: unknown array element type %u", what, elem);
    kv->array_type = (gguf_value_type)elem;
    if (count > remaining(c) / min_encoded_size(kv->array_type))
        return fail(c->err, c->err_size, "%s: array count %llu is more than the rest of the file can hold", what,
                    (unsigned long long)count);
    kv->array_count = count;
    kv->array_data = c->base + c->pos;
    if (elem == GGUF_TYPE_STRING) {
        kv->array_strings = calloc(count ? count : 1, sizeof(gguf_str));
        if (!kv->array_strings)
            return fail(c->err, c->err_size, "%s: out of memory for %llu strings", what, (unsigned long long)count);
        for (uint64_t i = 0; i < count; i++)
            if (read_str(c, &kv->array_strings[i], what))
                return -1;
        return 0;
    }
    if (elem == GGUF_TYPE_ARRAY) {
        for (uint64_t i = 0; i < count; i++)
            if (skip_array(c, 2, what))
                return -1;
        return 0;
    }
    const void *p = NULL;
    return take(c, (size_t)count * scalar_size(kv->array_type), &p, what);
}

/* Block layout of each accepted tensor type: elements per block, bytes per block. */
static int tensor_layout(uint32_t type, uint64_t *block, uint64_t *bytes)
{
    static const struct { uint32_t type, block, bytes; } layouts[] = {
        {GGUF_TENSOR_F32, 1, 4},      {GGUF_TENSOR_F16, 1, 2},      {GGUF_TENSOR_Q4_0, 32, 18},
        {GGUF_TENSOR_Q4_1, 32, 20},   {GGUF_TENSOR_Q5_0, 32, 22},   {GGUF_TENSOR_Q5_1, 32, 24},
        {GGUF_TENSOR_Q8_0, 32, 34},   {GGUF_TENSOR_Q8_1, 32, 36},   {GGUF_TENSOR_Q2_K, 256, 84},
        {GGUF_TENSOR_Q3_K, 256, 110}, {GGUF_TENSOR_Q4_K, 256, 144}, {GGUF_TENSOR_Q5_K, 256, 176},
        {GGUF_TENSOR_Q6_K, 256, 210}, {GGUF_TENSOR_Q8_K, 256, 292}, {GGUF_TENSOR_I8, 1, 1},
        {GGUF_TENSOR_I16, 1, 2},      {GGUF_TENSOR_I32, 1, 4},      {GGUF_TENSOR_I64, 1, 8},
        {GGUF_TENSOR_F64, 1, 8},      {GGUF_TENSOR_BF16, 1, 2},
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        if (layouts[i].type == type) {
            *block = layouts[i].block;
            *bytes = layouts[i].bytes;
            return 0;
        }
    }
    return -1;
}

static int read_tensor_info(cursor *c, uint64_t index, gguf_tensor *t)
{
    char what[160], name[96];
    snprintf(what, sizeof what, "tensor info #%llu", (unsigned long long)index);
    if (read_str(c, &t->name, what))
        return -1;
    snprintf(what, sizeof what, "tensor '%s'", show(t->name, name, sizeof name));
    uint32_t n_dims, type;
    if (read_u32(c, &n_dims, what))
        return -1;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return fail(c->err, c->err_size, "%s: %u dimensions (1..%d allowed)", what, n_dims, GGUF_MAX_DIMS);
    t->n_dims = n_dims;
    t->n_elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->dims[d] = 1;
        if (d >= n_dims)
            continue;
        if (read_u64(c, &t->dims[d], what))
            return -1;
        if (t->dims[d] == 0 || t->dims[d] > (uint64_t)INT64_MAX / t->n_elements)
            return fail(c->err, c->err_size, "%s: dimension %u is %llu (zero or too large)", what, d,
                        (unsigned long long)t->dims[d]);
        t->n_elements *= t->dims[d];
    }
    if (read_u32(c, &type, what) || read_u64(c, &t->offset, what))
        return -1;
    uint64_t block, block_bytes;
    if (tensor_layout(type, &block, &block_bytes))
        return fail(c->err, c->err_size, "%s: unknown or unsupported tensor type %u", what, type);
    t->type = (gguf_tensor_type)type;
    if (t->dims[0] % block)
        return fail(c->err, c->err_size, "%s: first dimension %llu is not a multiple of the %s block size %llu", what,
                    (unsigned long long)t->dims[0], gguf_tensor_type_name(t->type), (unsigned long long)block);
    if (t->n_elements / block > UINT64_MAX / block_bytes)
        return fail(c->err, c->err_size, "%s: byte size overflows", what);
    t->n_bytes = t->n_elements / block * block_bytes;
    return 0;
}

static int compare_str(gguf_str a, gguf_str b)
{
    size_t n = a.len < b.len ? (size_t)a.len : (size_t)b.len;
    int r = memcmp(a.ptr, b.ptr, n);
    if (r)
        return r;
    return (a.len > b.len) - (a.len < b.len);
}

static int compare_kv_keys(const void *a, const void *b)
{
    return compare_str(((const gguf_kv *)a)->key, ((const gguf_kv *)b)->key);
}

static int compare_tensor_names(const void *a, const void *b)
{
    return compare_str(((const gguf_tensor *)a)->name, ((const gguf_tensor *)b)->name);
}

/* Duplicates are rejected: lookups would otherwise depend on file order.
 * Sorting keeps this O(n log n) for hostile counts; the file order is not
 * kept (nothing needs it). */
static int check_unique(gguf_file *f, char *err, size_t err_size)
{
    char buf[96];
    qsort(f->kv, (size_t)f->n_kv, sizeof *f->kv, compare_kv_keys);
    for (uint64_t i = 1; i < f->n_kv; i++)
        if (!compare_str(f->kv[i - 1].key, f->kv[i].key))
            return fail(err, err_size, "metadata key '%s' appears more than once", show(f->kv[i].key, buf, sizeof buf));
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, compare_tensor_names);
    for (uint64_t i = 1; i < f->n_tensors; i++)
        if (!compare_str(f->tensors[i - 1].name, f->tensors[i].name))
            return fail(err, err_size, "tensor '%s' appears more than once", show(f->tensors[i].name, buf, sizeof buf));
    return 0;
}

static int parse(gguf_file *f, char *err, size_t err_size)
{
    cursor c = {f->base, f->size, 0, err, err_size};
    uint32_t magic;
    if (read_u32(&c, &magic, "header magic"))
        return -1;
    if (magic != GGUF_MAGIC)
        return fail(err, err_size, "not a GGUF file: the magic is 0x%08x, not \"GGUF\"", magic);
    if (read_u32(&c, &f->version, "header version"))
        return -1;
    if (f->version != 3)
        return fail(err, err_size, "unsupported GGUF version %u (only version 3 is read)", f->version);
    if (read_u64(&c, &f->n_tensors, "header tensor count") || read_u64(&c, &f->n_kv, "header metadata count"))
        return -1;
    /* Each metadata entry takes at least 13 bytes and each tensor info 24. */
    if (f->n_kv > remaining(&c) / 13)
        return fail(err, err_size, "header metadata count %llu is more than the file could hold",
                    (unsigned long long)f->n_kv);
    if (f->n_tensors > remaining(&c) / 24)
        return fail(err, err_size, "header tensor count %llu is more than the file could hold",
                    (unsigned long long)f->n_tensors);

    f->kv = calloc(f->n_kv ? (size_t)f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? (size_t)f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors)
        return fail(err, err_size, "out of memory for %llu metadata entries and %llu tensors",
                    (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors);

    char what[160], name[96];
    for (uint64_t i = 0; i < f->n_kv; i++) {
        snprintf(what, sizeof what, "metadata entry #%llu key", (unsigned long long)i);
        if (read_str(&c, &f->kv[i].key, what))
            return -1;
        snprintf(what, sizeof what, "metadata key '%s'", show(f->kv[i].key, name, sizeof name));
        if (read_value(&c, &f->kv[i], what))
            return -1;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (read_tensor_info(&c, i, &f->tensors[i]))
            return -1;
    if (check_unique(f, err, err_size))
        return -1;

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    uint32_t alignment;
    int r = gguf_get_u32(f, "general.alignment", &alignment, err, err_size);
    if (r < 0)
        return -1;
    if (r == 0) {
        if (alignment == 0 || (alignment & (alignment - 1)))
            return fail(err, err_size, "metadata key 'general.alignment' is %u, not a power of two", alignment);
        f->alignment = alignment;
    }
    f->data_offset = (c.pos + f->alignment - 1) / f->alignment * f->alignment;

    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        show(t->name, name, sizeof name);
        if (t->offset % f->alignment)
            return fail(err, err_size, "tensor '%s': data offset %llu is not a multiple of the alignment %llu", name,
                        (unsigned long long)t->offset, (unsigned long long)f->alignment);
        if (f->data_offset > f->size || t->offset > f->size - f->data_offset ||
            t->n_bytes > f->size - f->data_offset - t->offset)
            return fail(err, err_size,
                        "tensor '%s': data (offset %llu + %llu bytes from the data section at %llu) runs past the end "
                        "of the file (%zu bytes)",
                        name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
                        (unsigned long long)f->data_offset, f->size);
        t->data = f->base + f->data_offset + t->offset;
    }
    return 0;
}

int gguf_parse_memory(const uint8_t *data, size_t size, gguf_file *file, char *err, size_t err_size)
{
    memset(file, 0, sizeof *file);
    if (!data && size)
        return fail(err, err_size, "no data");
    file->base = data;
    file->size = size;
    if (parse(file, err, err_size)) {
        gguf_close(file);
        return -1;
    }
    return 0;
}

int gguf_open(const char *path, gguf_file *file, char *err, size_t err_size)
{
    memset(file, 0, sizeof *file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, err_size, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, err_size, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return fail(err, err_size, "cannot map '%s': %s", path, strerror(e));
        }
    }
    close(fd);
    if (gguf_parse_memory(map, size, file, err, err_size)) {
        if (map)
            munmap(map, size);
        size_t n = strlen(err);
        if (n + 1 < err_size) {
            /* Say which file, after the reason. */
            snprintf(err + n, err_size - n, " (in '%s')", path);
        }
        return -1;
    }
    file->owns_mapping = 1;
    return 0;
}

void gguf_close(gguf_file *file)
{
    if (!file)
        return;
    if (file->kv)
        for (uint64_t i = 0; i < file->n_kv; i++)
            free(file->kv[i].array_strings);
    free(file->kv);
    free(file->tensors);
    if (file->owns_mapping && file->base)
        munmap((void *)file->base, file->size);
    memset(file, 0, sizeof *file);
}

int gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

const gguf_kv *gguf_find_kv(const gguf_file *file, const char *key)
{
    gguf_kv probe = {.key = {key, strlen(key)}};
    return bsearch(&probe, file->kv, (size_t)file->n_kv, sizeof *file->kv, compare_kv_keys);
}

const gguf_tensor *gguf_find_tensor(const gguf_file *file, const char *name)
{
    gguf_tensor probe = {.name = {name, strlen(name)}};
    return bsearch(&probe, file->tensors, (size_t)file->n_tensors, sizeof *file->tensors, compare_tensor_names);
}

static int is_signed_int(gguf_value_type t)
{
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

static int is_unsigned_int(gguf_value_type t)
{
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64;
}

int gguf_get_u32(const gguf_file *file, const char *key, uint32_t *value, char *err, size_t err_size)
{
    const gguf_kv *kv = gguf_find_kv(file, key);
    if (!kv)
        return 1;
    if (is_unsigned_int(kv->type) && kv->scalar.u <= UINT32_MAX) {
        *value = (uint32_t)kv->scalar.u;
        return 0;
    }
    if (is_signed_int(kv->type) && kv->scalar.i >= 0 && kv->scalar.i <= (int64_t)UINT32_MAX) {
        *value = (uint32_t)kv->scalar.i;
        return 0;
    }
    if (is_unsigned_int(kv->type) || is_signed_int(kv->type))
        return fail(err, err_size, "metadata key '%s' is out of range for a 32-bit unsigned integer", key);
    return fail(err, err_size, "metadata key '%s' has type %s; an unsigned integer was expected", key,
                gguf_value_type_name(kv->type));
}

int gguf_get_f32(const gguf_file *file, const char *key, float *value, char *err, size_t err_size)
{
    const gguf_kv *kv = gguf_find_kv(file, key);
    if (!kv)
        return 1;
    if (kv->type != GGUF_TYPE_FLOAT32 && kv->type != GGUF_TYPE_FLOAT64)
        return fail(err, err_size, "metadata key '%s' has type %s; a float was expected", key,
                    gguf_value_type_name(kv->type));
    *value = (float)kv->scalar.f;
    return 0;
}

int gguf_get_string(const gguf_file *file, const char *key, gguf_str *value, char *err, size_t err_size)
{
    const gguf_kv *kv = gguf_find_kv(file, key);
    if (!kv)
        return 1;
    if (kv->type != GGUF_TYPE_STRING)
        return fail(err, err_size, "metadata key '%s' has type %s; a string was expected", key,
                    gguf_value_type_name(kv->type));
    *value = kv->string;
    return 0;
}

int gguf_array_int(const gguf_kv *kv, uint64_t index, int64_t *value)
{
    if (kv->type != GGUF_TYPE_ARRAY || index >= kv->array_count)
        return -1;
    gguf_kv tmp = {0};
    size_t sz = scalar_size(kv->array_type);
    if (!is_signed_int(kv->array_type) && !is_unsigned_int(kv->array_type))
        return -1;
    decode_scalar(kv->array_type, kv->array_data + index * sz, &tmp);
    if (is_unsigned_int(kv->array_type)) {
        if (tmp.scalar.u > (uint64_t)INT64_MAX)
            return -1;
        *value = (int64_t)tmp.scalar.u;
    } else {
        *value = tmp.scalar.i;
    }
    return 0;
}

int gguf_array_float(const gguf_kv *kv, uint64_t index, double *value)
{
    if (kv->type != GGUF_TYPE_ARRAY || index >= kv->array_count ||
        (kv->array_type != GGUF_TYPE_FLOAT32 && kv->array_type != GGUF_TYPE_FLOAT64))
        return -1;
    gguf_kv tmp = {0};
    decode_scalar(kv->array_type, kv->array_data + index * scalar_size(kv->array_type), &tmp);
    *value = tmp.scalar.f;
    return 0;
}

const char *gguf_value_type_name(gguf_value_type type)
{
    static const char *names[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32",  "float32",
                                  "bool",  "string", "array",  "uint64", "int64", "float64"};
    return (unsigned)type < GGUF_TYPE_COUNT ? names[type] : "unknown";
}

const char *gguf_tensor_type_name(gguf_tensor_type type)
{
    switch (type) {
    case GGUF_TENSOR_F32: return "F32";
    case GGUF_TENSOR_F16: return "F16";
    case GGUF_TENSOR_Q4_0: return "Q4_0";
    case GGUF_TENSOR_Q4_1: return "Q4_1";
    case GGUF_TENSOR_Q5_0: return "Q5_0";
    case GGUF_TENSOR_Q5_1: return "Q5_1";
    case GGUF_TENSOR_Q8_0: return "Q8_0";
    case GGUF_TENSOR_Q8_1: return "Q8_1";
    case GGUF_TENSOR_Q2_K: return "Q2_K";
    case GGUF_TENSOR_Q3_K: return "Q3_K";
    case GGUF_TENSOR_Q4_K: return "Q4_K";
    case GGUF_TENSOR_Q5_K: return "Q5_K";
    case GGUF_TENSOR_Q6_K: return "Q6_K";
    case GGUF_TENSOR_Q8_K: return "Q8_K";
    case GGUF_TENSOR_I8: return "I8";
    case GGUF_TENSOR_I16: return "I16";
    case GGUF_TENSOR_I32: return "I32";
    case GGUF_TENSOR_I64: return "I64";
    case GGUF_TENSOR_F64: return "F64";
    case GGUF_TENSOR_BF16: return "BF16";
    }
    return "unknown";
}
