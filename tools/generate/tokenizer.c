/*
 * tokenizer.c - byte-level BPE. Encoding: split the text into GPT-2
 * pre-tokens, write each byte as its stand-in character, then repeatedly
 * join the adjacent pair with the lowest merge rank until no pair is in the
 * merge list. Decoding maps each stand-in character back to its byte.
 */
#include "tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str_map.h"

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves;
 * the other 68 bytes take code points 256, 257, ... in byte order. */
static uint32_t byte_to_codepoint(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
        return b;
    uint32_t n = 0;
    for (unsigned i = 0; i < b; i++)
        if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255)))
            n++;
    return 256 + n;
}

static int utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2; /* every stand-in is below 0x800 */
}

/* Decodes one UTF-8 sequence; returns its length (1 for malformed input,
 * with *cp set to the raw byte | 0x80000000 so it never matches a stand-in). */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int len = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || (size_t)len > n) {
        *cp = 0x80000000u | s[0];
        return 1;
    }
    uint32_t c = s[0] & (0x7fu >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0x80000000u | s[0];
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3fu);
    }
    *cp = c;
    return len;
}

/* The bytes a token's text stands for: stand-ins map back to their byte;
 * any other character (in special tokens) is kept as its UTF-8. */
static char *token_to_bytes(gguf_str text, const int16_t *codepoint_byte, uint32_t *len)
{
    char *out = malloc(text.len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)text.ptr;
    for (size_t i = 0; i < text.len;) {
        uint32_t cp;
        int n = utf8_decode(s + i, text.len - i, &cp);
        if (cp < 324 && codepoint_byte[cp] >= 0)
            out[o++] = (char)codepoint_byte[cp];
        else
            for (int j = 0; j < n; j++)
                out[o++] = (char)s[i + j];
        i += (size_t)n;
    }
    out[o] = '\0'; /* for printing; the length is what counts */
    *len = (uint32_t)o;
    return out;
}

int tokenizer_init(tokenizer *tok, const gguf_file *file, uint32_t n_vocab_model, char *err, size_t err_size)
{
    memset(tok, 0, sizeof *tok);
    tok->eos_id = TOKENIZER_NONE;
    gguf_str model;
    int r = gguf_get_string(file, "tokenizer.ggml.model", &model, err, err_size);
    if (r < 0)
        return -1;
    if (r > 0)
        return fail(err, err_size, "metadata key 'tokenizer.ggml.model' is missing");
    if (!gguf_str_eq(model, "gpt2"))
        return fail(err, err_size, "metadata key 'tokenizer.ggml.model' is '%.*s'; only 'gpt2' (byte-level BPE) is supported",
                    (int)(model.len > 32 ? 32 : model.len), model.ptr);

    const gguf_kv *tokens = gguf_find_kv(file, "tokenizer.ggml.tokens");
    if (!tokens)
        return fail(err, err_size, "metadata key 'tokenizer.ggml.tokens' is missing");
    if (tokens->type != GGUF_TYPE_ARRAY || tokens->array_type != GGUF_TYPE_STRING)
        return fail(err, err_size, "metadata key 'tokenizer.ggml.tokens' is not an array of strings");
    if (tokens->array_count == 0 || tokens->array_count > n_vocab_model)
        return fail(err, err_size, "metadata key 'tokenizer.ggml.tokens' has %llu entries; the embedding has %u rows",
                    (unsigned long long)tokens->array_count, n_vocab_model);
    tok->n_vocab = (uint32_t)tokens->array_count;
    tok->tokens = tokens->array_strings;

    int16_t codepoint_byte[324];
    memset(codepoint_byte, 0xff, sizeof codepoint_byte);
    for (unsigned b = 0; b < 256; b++) {
        uint32_t cp = byte_to_codepoint(b);
        codepoint_byte[cp] = (int16_t)b;
        tok->byte_char_len[b] = (uint8_t)utf8_encode(cp, tok->byte_char[b]);
    }

    tok->vocab = str_map_create(tok->n_vocab);
    tok->token_bytes = calloc(tok->n_vocab, sizeof *tok->token_bytes);
    tok->token_len = calloc(tok->n_vocab, sizeof *tok->token_len);
    if (!tok->vocab || !tok->token_bytes || !tok->token_len)
        goto oom;
    for (uint32_t i = 0; i < tok->n_vocab; i++) {
        if (str_map_put(tok->vocab, tok->tokens[i].ptr, (size_t)tok->tokens[i].len, i))
            goto oom;
        tok->token_bytes[i] = token_to_bytes(tok->tokens[i], codepoint_byte, &tok->token_len[i]);
        if (!tok->token_bytes[i])
            goto oom;
    }
    for (unsigned b = 0; b < 256; b++)
        if (!str_map_get(tok->vocab, tok->byte_char[b], tok->byte_char_len[b], &tok->byte_token[b]))
            tok->byte_token[b] = TOKENIZER_NONE;

    const gguf_kv *merges = gguf_find_kv(file, "tokenizer.ggml.merges");
    if (merges) {
        if (merges->type != GGUF_TYPE_ARRAY || merges->array_type != GGUF_TYPE_STRING) {
            tokenizer_free(tok);
            return fail(err, err_size, "metadata key 'tokenizer.ggml.merges' is not an array of strings");
        }
        if (merges->array_count > UINT32_MAX) {
            tokenizer_free(tok);
            return fail(err, err_size, "metadata key 'tokenizer.ggml.merges' has too many entries");
        }
        tok->n_merges = (uint32_t)merges->array_count;
        tok->merges = str_map_create(tok->n_merges);
        if (!tok->merges)
            goto oom;
        for (uint32_t i = 0; i < tok->n_merges; i++)
            if (str_map_put(tok->merges, merges->array_strings[i].ptr, (size_t)merges->array_strings[i].len, i))
                goto oom;
    }

    uint32_t eos;
    r = gguf_get_u32(file, "tokenizer.ggml.eos_token_id", &eos, err, err_size);
    if (r < 0) {
        tokenizer_free(tok);
        return -1;
    }
    if (r == 0 && eos < tok->n_vocab)
        tok->eos_id = eos;
    return 0;
oom:
    tokenizer_free(tok);
    return fail(err, err_size, "out of memory for the vocabulary");
}

void tokenizer_free(tokenizer *tok)
{
    if (tok->token_bytes)
        for (uint32_t i = 0; i < tok->n_vocab; i++)
            free(tok->token_bytes[i]);
    free(tok->token_bytes);
    free(tok->token_len);
    str_map_destroy(tok->vocab);
    str_map_destroy(tok->merges);
    memset(tok, 0, sizeof *tok);
}

const char *tokenizer_token_bytes(const tokenizer *tok, uint32_t id, uint32_t *len)
{
    if (id >= tok->n_vocab)
        return NULL;
    *len = tok->token_len[id];
    return tok->token_bytes[id];
}

/* ASCII character classes of GPT-2's pre-tokeniser. */
enum char_class { CLASS_SPACE, CLASS_LETTER, CLASS_DIGIT, CLASS_OTHER };

static enum char_class classify(unsigned char c)
{
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
        return CLASS_SPACE;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80)
        return CLASS_LETTER;
    if (c >= '0' && c <= '9')
        return CLASS_DIGIT;
    return CLASS_OTHER;
}

/* Length of the pre-token starting at s[0] (n > 0). */
static size_t pretoken_length(const unsigned char *s, size_t n)
{
    if (s[0] == '\'' && n >= 2) {
        static const char *contractions[] = {"re", "ve", "ll", "s", "t", "m", "d"};
        for (size_t i = 0; i < sizeof contractions / sizeof contractions[0]; i++) {
            size_t len = strlen(contractions[i]);
            if (n >= 1 + len && memcmp(s + 1, contractions[i], len) == 0)
                return 1 + len;
        }
    }
    size_t start = 0;
    if (s[0] == ' ' && n >= 2 && classify(s[1]) != CLASS_SPACE)
        start = 1; /* " ?\p{L}+" and friends take one leading space */
    enum char_class c = classify(s[start]);
    size_t i = start + 1;
    if (c != CLASS_SPACE) {
        while (i < n && classify(s[i]) == c)
            i++;
        return i;
    }
    while (i < n && classify(s[i]) == CLASS_SPACE)
        i++;
    /* "\s+(?!\S)": a run followed by text leaves its last character to the
     * next pre-token, unless the run is a single character. */
    if (i < n && i > 1)
        i--;
    return i;
}

typedef struct piece {
    size_t start, len; /* into the stand-in string of the pre-token */
} piece;

static int append_id(uint32_t **ids, size_t *n, size_t *cap, uint32_t id)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        uint32_t *p = realloc(*ids, c * sizeof *p);
        if (!p)
            return -1;
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

/* BPE over one pre-token. */
static int encode_pretoken(const tokenizer *tok, const unsigned char *s, size_t n, char *buf, piece *pieces,
                           char *pair, uint32_t **ids, size_t *n_ids, size_t *cap, char *err, size_t err_size)
{
    size_t len = 0, n_pieces = 0;
    for (size_t i = 0; i < n; i++) {
        pieces[n_pieces].start = len;
        pieces[n_pieces].len = tok->byte_char_len[s[i]];
        memcpy(buf + len, tok->byte_char[s[i]], tok->byte_char_len[s[i]]);
        len += tok->byte_char_len[s[i]];
        n_pieces++;
    }
    while (tok->merges && n_pieces > 1) {
        uint32_t best_rank = UINT32_MAX, rank;
        size_t best = 0;
        for (size_t i = 0; i + 1 < n_pieces; i++) {
            size_t a = pieces[i].len, b = pieces[i + 1].len;
            memcpy(pair, buf + pieces[i].start, a);
            pair[a] = ' ';
            memcpy(pair + a + 1, buf + pieces[i + 1].start, b);
            if (str_map_get(tok->merges, pair, a + 1 + b, &rank) && rank < best_rank) {
                best_rank = rank;
                best = i;
            }
        }
        if (best_rank == UINT32_MAX)
            break;
        pieces[best].len += pieces[best + 1].len;
        memmove(&pieces[best + 1], &pieces[best + 2], (n_pieces - best - 2) * sizeof *pieces);
        n_pieces--;
    }
    for (size_t i = 0; i < n_pieces; i++) {
        uint32_t id;
        if (str_map_get(tok->vocab, buf + pieces[i].start, pieces[i].len, &id)) {
            if (append_id(ids, n_ids, cap, id))
                return fail(err, err_size, "out of memory");
            continue;
        }
        /* A piece the vocabulary lacks: fall back to its bytes' tokens. */
        const char *p = buf + pieces[i].start;
        for (size_t o = 0; o < pieces[i].len;) {
            size_t b;
            for (b = 0; b < 256; b++)
                if (tok->byte_char_len[b] <= pieces[i].len - o &&
                    memcmp(p + o, tok->byte_char[b], tok->byte_char_len[b]) == 0)
                    break;
            if (b == 256 || tok->byte_token[b] == TOKENIZER_NONE)
                return fail(err, err_size, "the vocabulary has no token for a byte of the piece '%.*s'",
                            (int)pieces[i].len, p);
            if (append_id(ids, n_ids, cap, tok->byte_token[b]))
                return fail(err, err_size, "out of memory");
            o += tok->byte_char_len[b];
        }
    }
    return 0;
}

int tokenizer_encode(const tokenizer *tok, const char *text, size_t len, uint32_t **ids, size_t *n_ids, char *err,
                     size_t err_size)
{
    *ids = NULL;
    *n_ids = 0;
    size_t cap = 0;
    const unsigned char *s = (const unsigned char *)text;
    if (!tok->merges) {
        /* Byte level: one token per byte, no pre-tokenisation needed. */
        for (size_t i = 0; i < len; i++) {
            if (tok->byte_token[s[i]] == TOKENIZER_NONE) {
                free(*ids);
                *ids = NULL;
                *n_ids = 0;
                return fail(err, err_size, "the vocabulary has no token for byte 0x%02x", s[i]);
            }
            if (append_id(ids, n_ids, &cap, tok->byte_token[s[i]]))
                goto oom;
        }
        return 0;
    }
    size_t longest = 0;
    for (size_t i = 0; i < len;) {
        size_t n = pretoken_length(s + i, len - i);
        if (n > longest)
            longest = n;
        i += n;
    }
    char *buf = malloc(longest * 2 + 1), *pair = malloc(longest * 4 + 2);
    piece *pieces = malloc((longest + 1) * sizeof *pieces);
    if (!buf || !pair || !pieces) {
        free(buf);
        free(pair);
        free(pieces);
        goto oom;
    }
    for (size_t i = 0; i < len;) {
        size_t n = pretoken_length(s + i, len - i);
        if (encode_pretoken(tok, s + i, n, buf, pieces, pair, ids, n_ids, &cap, err, err_size)) {
            free(buf);
            free(pair);
            free(pieces);
            free(*ids);
            *ids = NULL;
            *n_ids = 0;
            return -1;
        }
        i += n;
    }
    free(buf);
    free(pair);
    free(pieces);
    return 0;
oom:
    free(*ids);
    *ids = NULL;
    *n_ids = 0;
    return fail(err, err_size, "out of memory");
}
