/*
 * The byte-level BPE tokenizer: byte level without merges (the test model's
 * case), merges by rank, pre-token boundaries that merges must not cross,
 * and decoding back to the exact bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "gguf_builder.h"
#include "tokenizer.h"

/* GPT-2's stand-in for a byte, as UTF-8. */
static void stand_in(unsigned byte, char out[3])
{
    unsigned extra = 0;
    for (unsigned b = 0; b < byte; b++)
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174))
            extra++;
    int printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    unsigned cp = printable ? byte : 256 + extra;
    memset(out, 0, 3);
    if (cp < 0x80) {
        out[0] = (char)cp;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
    }
}

typedef struct vocab_file {
    gguf_builder b;
    gguf_file f;
    char bytes[256][3];
} vocab_file;

/* 256 byte tokens, then `extra` tokens, with `merges` (may be 0). */
static void make_vocab(vocab_file *v, const char *const *extra, uint32_t n_extra, const char *const *merges,
                       uint32_t n_merges)
{
    memset(v, 0, sizeof *v);
    const char *tokens[300];
    for (unsigned i = 0; i < 256; i++) {
        stand_in(i, v->bytes[i]);
        tokens[i] = v->bytes[i];
    }
    for (uint32_t i = 0; i < n_extra; i++)
        tokens[256 + i] = extra[i];
    gb_header(&v->b, 3, 0, n_merges ? 3 : 2);
    gb_kv_str(&v->b, "tokenizer.ggml.model", "gpt2");
    gb_kv_str_array(&v->b, "tokenizer.ggml.tokens", tokens, 256 + n_extra);
    if (n_merges)
        gb_kv_str_array(&v->b, "tokenizer.ggml.merges", merges, n_merges);
    char err[256];
    if (gguf_parse_memory(v->b.data, v->b.size, &v->f, err, sizeof err))
        fail_msg("%s", err);
}

static void free_vocab(vocab_file *v)
{
    gguf_close(&v->f);
    gb_free(&v->b);
}

static void decode(const tokenizer *t, const uint32_t *ids, size_t n, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len;
        const char *p = tokenizer_token_bytes(t, ids[i], &len);
        assert_non_null(p);
        assert_true(o + len < out_size);
        memcpy(out + o, p, len);
        o += len;
    }
    out[o] = '\0';
}

static void byte_level_without_merges(void **state)
{
    (void)state;
    vocab_file v;
    const char *eot[] = {"<|endoftext|>"};
    make_vocab(&v, eot, 1, NULL, 0);
    tokenizer t;
    char err[256];
    assert_int_equal(tokenizer_init(&t, &v.f, 257, err, sizeof err), 0);
    char text[256];
    for (int i = 0; i < 256; i++)
        text[i] = (char)(255 - i);
    uint32_t *ids;
    size_t n;
    assert_int_equal(tokenizer_encode(&t, text, 256, &ids, &n, err, sizeof err), 0);
    assert_int_equal(n, 256);
    for (int i = 0; i < 256; i++) {
        assert_int_equal(ids[i], 255 - i); /* byte b is token b in this vocabulary */
        uint32_t len;
        const char *p = tokenizer_token_bytes(&t, ids[i], &len);
        assert_int_equal(len, 1);
        assert_int_equal((unsigned char)p[0], 255 - i);
    }
    uint32_t len;
    const char *eot_bytes = tokenizer_token_bytes(&t, 256, &len);
    assert_int_equal(len, 13);
    assert_memory_equal(eot_bytes, "<|endoftext|>", 13);
    assert_null(tokenizer_token_bytes(&t, 257, &len));
    free(ids);
    tokenizer_free(&t);

    /* More tokens than the embedding has rows is an error naming the key. */
    assert_int_equal(tokenizer_init(&t, &v.f, 100, err, sizeof err), -1);
    assert_non_null(strstr(err, "tokenizer.ggml.tokens"));
    free_vocab(&v);
}

static void merges_apply_by_rank_within_pretokens(void **state)
{
    (void)state;
    const char *extra[] = {"he", "ll", "hell", "\xc4\xa0w", "or", "t'", "\xc4\xa0\xc4\xa0", "hello"};
    /* "he ll" before "hell o": "hello" ends as "hell" + "o", never "hello"
     * since no merge makes it; "t '" and "Ġ Ġ" would cross pre-token
     * boundaries and must never apply. */
    const char *merges[] = {"h e", "l l", "he ll", "\xc4\xa0 w", "o r", "t '", "\xc4\xa0 \xc4\xa0"};
    vocab_file v;
    make_vocab(&v, extra, 8, merges, 7);
    tokenizer t;
    char err[256];
    assert_int_equal(tokenizer_init(&t, &v.f, 300, err, sizeof err), 0);

    const char *text = "hello world it's  a\n\nb";
    uint32_t *ids;
    size_t n;
    assert_int_equal(tokenizer_encode(&t, text, strlen(text), &ids, &n, err, sizeof err), 0);
    /* hell o | Ġw or l d | Ġ i t | ' s | Ġ | Ġ a | \n | \n | b */
    uint32_t expect[32];
    size_t m = 0;
    expect[m++] = 256 + 2;  /* hell */
    expect[m++] = 'o';
    expect[m++] = 256 + 3;  /* Ġw */
    expect[m++] = 256 + 4;  /* or */
    expect[m++] = 'l';
    expect[m++] = 'd';
    expect[m++] = ' ';      /* Ġ (byte 32 is token 32) */
    expect[m++] = 'i';
    expect[m++] = 't';
    expect[m++] = '\'';
    expect[m++] = 's';
    expect[m++] = ' ';
    expect[m++] = ' ';
    expect[m++] = 'a';
    expect[m++] = '\n';
    expect[m++] = '\n';
    expect[m++] = 'b';
    assert_int_equal(n, m);
    for (size_t i = 0; i < m; i++)
        if (ids[i] != expect[i])
            fail_msg("token %zu is %u, expected %u", i, ids[i], expect[i]);
    char back[64];
    decode(&t, ids, n, back, sizeof back);
    assert_string_equal(back, text);
    free(ids);
    tokenizer_free(&t);
    free_vocab(&v);
}

static void rejects_other_tokenizer_models(void **state)
{
    (void)state;
    gguf_builder b = {0};
    gb_header(&b, 3, 0, 1);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gguf_file f;
    char err[256];
    assert_int_equal(gguf_parse_memory(b.data, b.size, &f, err, sizeof err), 0);
    tokenizer t;
    assert_int_equal(tokenizer_init(&t, &f, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "tokenizer.ggml.model"));
    gguf_close(&f);
    gb_free(&b);

    gb_header(&b, 3, 0, 2);
    gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    gb_kv_u32(&b, "tokenizer.ggml.tokens", 5);
    assert_int_equal(gguf_parse_memory(b.data, b.size, &f, err, sizeof err), 0);
    assert_int_equal(tokenizer_init(&t, &f, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "tokenizer.ggml.tokens"));
    gguf_close(&f);
    gb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(byte_level_without_merges),
        cmocka_unit_test(merges_apply_by_rank_within_pretokens),
        cmocka_unit_test(rejects_other_tokenizer_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
