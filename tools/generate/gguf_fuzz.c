/*
 * gguf_fuzz.c - a libFuzzer entry for the GGUF reader. Not part of the
 * default build. With clang:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I tools/generate \
 *       tools/generate/gguf_fuzz.c tools/generate/gguf.c -o gguf-fuzz
 *   ./gguf-fuzz -max_len=4096 corpus/
 *
 * Without libFuzzer, -DGGUF_FUZZ_STANDALONE gives a main() that runs each
 * file named on the command line once (for replaying crashes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gguf.h"

int gguf_fuzz_one(const uint8_t *data, size_t size);

int gguf_fuzz_one(const uint8_t *data, size_t size)
{
    gguf_file f;
    char err[512];
    if (gguf_parse_memory(data, size, &f, err, sizeof err) == 0) {
        /* Touch everything the reader handed out, so a bad pointer shows. */
        volatile uint8_t sink = 0;
        for (uint64_t i = 0; i < f.n_kv; i++) {
            const gguf_kv *kv = &f.kv[i];
            for (uint64_t j = 0; j < kv->key.len; j++)
                sink ^= (uint8_t)kv->key.ptr[j];
            if (kv->array_strings)
                for (uint64_t j = 0; j < kv->array_count; j++)
                    if (kv->array_strings[j].len)
                        sink ^= (uint8_t)kv->array_strings[j].ptr[kv->array_strings[j].len - 1];
        }
        for (uint64_t i = 0; i < f.n_tensors; i++)
            if (f.tensors[i].n_bytes)
                sink ^= f.tensors[i].data[f.tensors[i].n_bytes - 1];
        (void)sink;
        gguf_close(&f);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return gguf_fuzz_one(data, size);
}

#ifdef GGUF_FUZZ_STANDALONE
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
            fclose(f);
            free(buf);
            return 1;
        }
        fclose(f);
        gguf_fuzz_one(buf, (size_t)n);
        free(buf);
    }
    return 0;
}
#endif
