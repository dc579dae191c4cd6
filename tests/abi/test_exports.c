/*
 * The plugin's dynamic symbol table is part of its ABI: exactly one defined,
 * exported symbol (the entry point), nothing named vk*, and no dependency on
 * the Vulkan loader (volk opens it at run time). Read straight from the ELF
 * file, so the check needs no binutils and sees what the dynamic linker sees.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sparq/sparq.h>

typedef struct elf_image {
    unsigned char *bytes;
    size_t size;
    const Elf64_Ehdr *header;
    const Elf64_Shdr *sections;
} elf_image;

static elf_image image;

static const void *at(size_t offset, size_t length)
{
    /* Every table the test reads is bounds-checked: a truncated or corrupt
     * file must fail an assertion, not crash the test. */
    assert_true(offset <= image.size && length <= image.size - offset);
    return image.bytes + offset;
}

static int load_image(void **state)
{
    (void)state;
    const char *path = getenv("SPARQ_PLUGIN_PATH");
    if (!path) {
        fprintf(stderr, "SPARQ_PLUGIN_PATH is not set (run through meson test)\n");
        return -1;
    }
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        return -1;
    }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    if (size <= 0) {
        fclose(file);
        return -1;
    }
    image.size = (size_t)size;
    image.bytes = malloc(image.size);
    size_t got = image.bytes ? fread(image.bytes, 1, image.size, file) : 0;
    fclose(file);
    return got == image.size ? 0 : -1;
}

static int free_image(void **state)
{
    (void)state;
    free(image.bytes);
    memset(&image, 0, sizeof image);
    return 0;
}

static void test_is_elf64_shared_object(void **state)
{
    (void)state;
    assert_true(image.size >= sizeof(Elf64_Ehdr));
    const Elf64_Ehdr *header = at(0, sizeof *header);
    assert_memory_equal(header->e_ident, ELFMAG, SELFMAG);
    assert_int_equal(header->e_ident[EI_CLASS], ELFCLASS64);
    assert_int_equal(header->e_type, ET_DYN);
    assert_int_equal(header->e_shentsize, sizeof(Elf64_Shdr));
    assert_true(header->e_shnum > 0);
    image.header = header;
    image.sections = at(header->e_shoff, (size_t)header->e_shnum * sizeof(Elf64_Shdr));
}

static const Elf64_Shdr *find_section(uint32_t type)
{
    if (!image.header)
        test_is_elf64_shared_object(NULL);
    for (unsigned i = 0; i < image.header->e_shnum; i++)
        if (image.sections[i].sh_type == type)
            return &image.sections[i];
    return NULL;
}

static const char *string_at(const Elf64_Shdr *strtab, size_t offset)
{
    assert_true(offset < strtab->sh_size);
    const char *s = at(strtab->sh_offset + offset, strtab->sh_size - offset);
    assert_non_null(memchr(s, '\0', strtab->sh_size - offset));
    return s;
}

static const Elf64_Shdr *linked_strtab(const Elf64_Shdr *section)
{
    assert_true(section->sh_link < image.header->e_shnum);
    const Elf64_Shdr *strtab = &image.sections[section->sh_link];
    assert_int_equal(strtab->sh_type, SHT_STRTAB);
    return strtab;
}

/* GNU ld emits one absolute symbol per version node of a named version
 * script (e.g. SPARQ_1.0). The dynamic linker never binds to those, and
 * `nm -D --defined-only` marks them "A"; they are not exports. */
static int is_version_name(const char *name)
{
    const Elf64_Shdr *verdef = find_section(SHT_GNU_verdef);
    if (!verdef)
        return 0;
    const Elf64_Shdr *strtab = linked_strtab(verdef);
    size_t offset = verdef->sh_offset;
    for (uint64_t n = 0; n < verdef->sh_info; n++) {
        const Elf64_Verdef *def = at(offset, sizeof *def);
        const Elf64_Verdaux *aux = at(offset + def->vd_aux, sizeof *aux);
        if (strcmp(string_at(strtab, aux->vda_name), name) == 0)
            return 1;
        if (!def->vd_next)
            break;
        offset += def->vd_next;
    }
    return 0;
}

typedef struct symbol_census {
    unsigned exported;          /* defined, global or weak, visible */
    int entry_exported_as_func; /* sparq_plugin_entry is one of them, as STT_FUNC */
    unsigned named_vk;          /* any dynamic symbol, defined or not, starting with "vk" */
} symbol_census;

static symbol_census take_census(void)
{
    const Elf64_Shdr *dynsym = find_section(SHT_DYNSYM);
    assert_non_null(dynsym);
    assert_int_equal(dynsym->sh_entsize, sizeof(Elf64_Sym));
    const Elf64_Shdr *strtab = linked_strtab(dynsym);
    size_t n = dynsym->sh_size / sizeof(Elf64_Sym);
    const Elf64_Sym *symbols = at(dynsym->sh_offset, n * sizeof(Elf64_Sym));

    symbol_census census = {0, 0, 0};
    for (size_t i = 1; i < n; i++) { /* entry 0 is the reserved null symbol */
        const Elf64_Sym *sym = &symbols[i];
        const char *name = string_at(strtab, sym->st_name);
        unsigned binding = ELF64_ST_BIND(sym->st_info);
        unsigned visibility = ELF64_ST_VISIBILITY(sym->st_other);
        if (strncmp(name, "vk", 2) == 0) {
            print_error("dynamic symbol named vk*: %s\n", name);
            census.named_vk++;
        }
        if (sym->st_shndx == SHN_UNDEF)
            continue;
        if (binding != STB_GLOBAL && binding != STB_WEAK && binding != STB_GNU_UNIQUE)
            continue;
        if (visibility != STV_DEFAULT && visibility != STV_PROTECTED)
            continue;
        if (sym->st_shndx == SHN_ABS && is_version_name(name))
            continue;
        print_message("  exported: %s\n", name);
        census.exported++;
        if (strcmp(name, SPARQ_ENTRY_SYMBOL) == 0 && ELF64_ST_TYPE(sym->st_info) == STT_FUNC)
            census.entry_exported_as_func = 1;
    }
    return census;
}

static void test_exports_only_the_entry(void **state)
{
    (void)state;
    symbol_census census = take_census();
    assert_true(census.entry_exported_as_func);
    assert_int_equal(census.exported, 1);
}

static void test_no_vulkan_symbols(void **state)
{
    (void)state;
    assert_int_equal(take_census().named_vk, 0);
}

/* The plugin must dlopen on a machine without Vulkan, so it may link only
 * the C runtime. */
static void test_needs_only_the_c_runtime(void **state)
{
    (void)state;
    static const char *const allowed[] = {"libc.so.", "libm.so.", "libdl.so.", "libpthread.so.", "ld-linux"};
    const Elf64_Shdr *dynamic = find_section(SHT_DYNAMIC);
    assert_non_null(dynamic);
    const Elf64_Shdr *strtab = linked_strtab(dynamic);
    size_t n = dynamic->sh_size / sizeof(Elf64_Dyn);
    const Elf64_Dyn *entries = at(dynamic->sh_offset, n * sizeof(Elf64_Dyn));
    unsigned needed = 0;
    unsigned foreign = 0;
    for (size_t i = 0; i < n && entries[i].d_tag != DT_NULL; i++) {
        if (entries[i].d_tag != DT_NEEDED)
            continue;
        const char *name = string_at(strtab, entries[i].d_un.d_val);
        int ok = 0;
        for (size_t a = 0; a < sizeof allowed / sizeof allowed[0]; a++)
            ok |= strncmp(name, allowed[a], strlen(allowed[a])) == 0;
        print_message("  needs %s%s\n", name, ok ? "" : "  <- not the C runtime");
        needed++;
        foreign += !ok;
    }
    assert_true(needed > 0); /* a plugin without libc would be a parse error here */
    assert_int_equal(foreign, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_elf64_shared_object),
        cmocka_unit_test(test_exports_only_the_entry),
        cmocka_unit_test(test_no_vulkan_symbols),
        cmocka_unit_test(test_needs_only_the_c_runtime),
    };
    return cmocka_run_group_tests(tests, load_image, free_image);
}
