/*
 * replay_main.c - runs fuzz inputs through the harness without libFuzzer.
 *
 * Usage: fuzz_abi_replay FILE_OR_DIRECTORY...
 * Every regular file is one input; directories are read one level deep, in
 * name order so that a failure points at the same file every time. An input
 * that breaks an invariant aborts the process, which fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 0;
    }
    uint8_t *data = NULL;
    size_t size = 0, room = 0;
    for (;;) {
        if (size == room) {
            room = room ? 2 * room : 4096;
            uint8_t *grown = realloc(data, room);
            if (!grown) {
                fclose(f);
                free(data);
                fprintf(stderr, "%s: out of memory\n", path);
                return 0;
            }
            data = grown;
        }
        size_t got = fread(data + size, 1, room - size, f);
        if (got == 0)
            break;
        size += got;
    }
    int ok = !ferror(f);
    fclose(f);
    if (ok) {
        fprintf(stderr, "replay %s (%zu bytes)\n", path, size);
        LLVMFuzzerTestOneInput(data, size);
    } else {
        perror(path);
    }
    free(data);
    return ok;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path, int *runs)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*runs)++;
        return run_file(path);
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        perror(path);
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < n; i++) {
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(child, &st) == 0 && S_ISREG(st.st_mode)) {
            (*runs)++;
            ok &= run_file(child);
        }
        free(names[i]);
    }
    free(names);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    int ok = 1, runs = 0;
    for (int i = 1; i < argc; i++)
        ok &= run_path(argv[i], &runs);
    printf("replayed %d inputs\n", runs);
    /* A corpus that silently went missing must not pass. */
    return ok && runs > 0 ? 0 : 1;
}
