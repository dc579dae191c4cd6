/*
 * sparq-shaderc: compiles the GLSL compute shaders to SPIR-V at build time
 * with the shaderc library, validates each module with spirv-val when given
 * one, and writes them as C arrays so the plugin embeds them and needs no
 * shader compiler at run time.
 *
 *   sparq-shaderc --out-c F.c --out-h F.h --include DIR [--spirv-val PATH]
 *                 NAME=FILE[:DEFINE[=VALUE][,DEFINE...]] ...
 *
 * Every NAME becomes `SPARQ_SHADER_<NAME>` in an enum and an entry of
 * sparq_shader_table[]. One GLSL file can give several variants through
 * defines. A compile error names the file and line (shaderc's message).
 */
#include <ctype.h>
#include <errno.h>
#include <shaderc/shaderc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_INCLUDE_DIRS 8

static const char *include_dirs[MAX_INCLUDE_DIRS];
static int n_include_dirs;

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    *size = (size_t)n;
    return buf;
}

struct include_result {
    shaderc_include_result result;
    char *path;
    char *content;
};

/* Resolves #include "x.glsl" against the including file's folder, then the
 * --include folders. */
static shaderc_include_result *resolve_include(void *user, const char *requested, int type,
                                               const char *requesting, size_t depth)
{
    (void)user;
    (void)depth;
    struct include_result *r = calloc(1, sizeof(*r));
    char candidate[4096];
    int found = 0;
    if (type == shaderc_include_type_relative) {
        const char *slash = strrchr(requesting, '/');
        int dirlen = slash ? (int)(slash - requesting) : 0;
        snprintf(candidate, sizeof candidate, "%.*s%s%s", dirlen, requesting, slash ? "/" : "", requested);
        found = access(candidate, R_OK) == 0;
    }
    for (int i = 0; !found && i < n_include_dirs; i++) {
        snprintf(candidate, sizeof candidate, "%s/%s", include_dirs[i], requested);
        found = access(candidate, R_OK) == 0;
    }
    size_t size = 0;
    if (found && (r->content = read_file(candidate, &size)) != NULL) {
        r->path = strdup(candidate);
        r->result.source_name = r->path;
        r->result.source_name_length = strlen(r->path);
        r->result.content = r->content;
        r->result.content_length = size;
    } else {
        /* shaderc reports an empty source_name with content as the error. */
        static const char msg[] = "include file not found";
        r->result.source_name = "";
        r->result.source_name_length = 0;
        r->result.content = msg;
        r->result.content_length = sizeof msg - 1;
    }
    return &r->result;
}

static void release_include(void *user, shaderc_include_result *result)
{
    (void)user;
    struct include_result *r = (struct include_result *)result;
    free(r->path);
    free(r->content);
    free(r);
}

/* Writes the module to a temporary file and runs spirv-val on it. */
static int validate(const char *spirv_val, const char *name, const void *code, size_t size)
{
    char path[] = "/tmp/sparq-shaderc-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "sparq-shaderc: mkstemp: %s\n", strerror(errno));
        return -1;
    }
    int ok = write(fd, code, size) == (ssize_t)size;
    close(fd);
    if (!ok) {
        unlink(path);
        fprintf(stderr, "sparq-shaderc: cannot write %s\n", path);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execl(spirv_val, spirv_val, "--target-env", "vulkan1.2", path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    unlink(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "sparq-shaderc: spirv-val rejected shader %s\n", name);
        return -1;
    }
    return 0;
}

static void upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

int main(int argc, char **argv)
{
    const char *out_c = NULL, *out_h = NULL, *spirv_val = NULL;
    int first_shader = argc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out-c") && i + 1 < argc)
            out_c = argv[++i];
        else if (!strcmp(argv[i], "--out-h") && i + 1 < argc)
            out_h = argv[++i];
        else if (!strcmp(argv[i], "--spirv-val") && i + 1 < argc)
            spirv_val = argv[++i];
        else if (!strcmp(argv[i], "--include") && i + 1 < argc && n_include_dirs < MAX_INCLUDE_DIRS)
            include_dirs[n_include_dirs++] = argv[++i];
        else {
            first_shader = i;
            break;
        }
    }
    if (!out_c || !out_h || first_shader >= argc) {
        fprintf(stderr, "usage: sparq-shaderc --out-c F.c --out-h F.h [--include DIR] [--spirv-val PATH] "
                        "NAME=FILE[:DEF[=VAL],...]...\n");
        return 2;
    }

    FILE *fc = fopen(out_c, "w"), *fh = fopen(out_h, "w");
    if (!fc || !fh) {
        fprintf(stderr, "sparq-shaderc: cannot open outputs\n");
        return 1;
    }
    fprintf(fh, "/* Generated by sparq-shaderc. Do not edit. */\n#pragma once\n#include <stddef.h>\n#include <stdint.h>\n\n"
                "typedef struct sparq_shader_blob { const char *name; const uint32_t *code; size_t size; } sparq_shader_blob;\n\n"
                "enum sparq_shader_id {\n");
    fprintf(fc, "/* Generated by sparq-shaderc. Do not edit. */\n#include \"sparq_shaders.h\"\n\n");

    shaderc_compiler_t compiler = shaderc_compiler_initialize();
    int n = argc - first_shader;
    int failed = 0;
    for (int s = 0; s < n; s++) {
        char *spec = strdup(argv[first_shader + s]);
        char *eq = strchr(spec, '=');
        if (!eq) {
            fprintf(stderr, "sparq-shaderc: bad shader spec '%s'\n", spec);
            return 2;
        }
        *eq = '\0';
        const char *name = spec;
        char *file = eq + 1;
        char *defs = strchr(file, ':');
        if (defs)
            *defs++ = '\0';

        shaderc_compile_options_t opts = shaderc_compile_options_initialize();
        shaderc_compile_options_set_target_env(opts, shaderc_target_env_vulkan, shaderc_env_version_vulkan_1_2);
        shaderc_compile_options_set_target_spirv(opts, shaderc_spirv_version_1_5);
        shaderc_compile_options_set_optimization_level(opts, shaderc_optimization_level_performance);
        shaderc_compile_options_set_warnings_as_errors(opts);
        shaderc_compile_options_set_include_callbacks(opts, resolve_include, release_include, NULL);
        for (char *d = defs ? strtok(defs, ",") : NULL; d; d = strtok(NULL, ",")) {
            char *v = strchr(d, '=');
            if (v)
                *v++ = '\0';
            shaderc_compile_options_add_macro_definition(opts, d, strlen(d), v ? v : "1", v ? strlen(v) : 1);
        }

        size_t size = 0;
        char *source = read_file(file, &size);
        if (!source) {
            fprintf(stderr, "sparq-shaderc: cannot read %s: %s\n", file, strerror(errno));
            return 1;
        }
        shaderc_compilation_result_t res =
            shaderc_compile_into_spv(compiler, source, size, shaderc_compute_shader, file, "main", opts);
        if (shaderc_result_get_compilation_status(res) != shaderc_compilation_status_success) {
            /* shaderc's messages already read "file:line: error: ..." */
            fprintf(stderr, "%s", shaderc_result_get_error_message(res));
            fprintf(stderr, "sparq-shaderc: %s (%s) failed to compile\n", file, name);
            failed = 1;
        } else {
            const uint32_t *code = (const uint32_t *)shaderc_result_get_bytes(res);
            size_t bytes = shaderc_result_get_length(res);
            if (spirv_val && validate(spirv_val, name, code, bytes) != 0)
                failed = 1;
            char up[128];
            upper(up, name, sizeof up);
            fprintf(fh, "    SPARQ_SHADER_%s = %d,\n", up, s);
            fprintf(fc, "static const uint32_t spv_%s[%zu] = {", name, bytes / 4);
            for (size_t w = 0; w < bytes / 4; w++)
                fprintf(fc, "%s0x%08x,", w % 8 ? "" : "\n    ", code[w]);
            fprintf(fc, "\n};\n\n");
        }
        shaderc_result_release(res);
        shaderc_compile_options_release(opts);
        free(source);
        free(spec);
    }
    fprintf(fh, "    SPARQ_SHADER_COUNT = %d\n};\n\nextern const sparq_shader_blob sparq_shader_table[SPARQ_SHADER_COUNT];\n", n);
    fprintf(fc, "const sparq_shader_blob sparq_shader_table[SPARQ_SHADER_COUNT] = {\n");
    for (int s = 0; s < n && !failed; s++) {
        char name[128];
        snprintf(name, sizeof name, "%s", argv[first_shader + s]);
        *strchr(name, '=') = '\0';
        fprintf(fc, "    { \"%s\", spv_%s, sizeof spv_%s },\n", name, name, name);
    }
    fprintf(fc, "};\n");
    shaderc_compiler_release(compiler);
    fclose(fc);
    fclose(fh);
    if (failed) {
        remove(out_c);
        remove(out_h);
    }
    return failed;
}
