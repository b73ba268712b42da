/* engine/tokenizer.c and tok_*.c: token-exact with llama.cpp on the vocabulary test sets in
 * ../shared/vocab, the model prompts in ../shared/ref, round trips through the streaming
 * detokenizer, metadata validation, and long inputs. */
#include "rxtest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/unicode.h"
#include "reflex/gguf.h"
#include "reflex/tokenizer.h"

typedef struct {
    rx_gguf *g;
    rx_tokenizer *tok;
} loaded;

static loaded load(const char *rel)
{
    loaded l = {0};
    rx_status s = rx_gguf_open(rxt_shared(rel), &l.g);
    if (s != RX_OK) fail_msg("open %s: %s", rel, rx_last_error());
    s = rx_tokenizer_load(l.g, &l.tok);
    if (s != RX_OK) fail_msg("load %s: %s", rel, rx_last_error());
    return l;
}

static void unload(loaded *l)
{
    rx_tokenizer_free(l->tok);
    rx_gguf_close(l->g);
}

/* The .inp strings are separated (and ended) by "\n__ggml_vocab_test__\n". */
static size_t split_cases(char *inp, size_t size, char **str, size_t *len, size_t max)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t n = 0;
    char *p = inp, *end = inp + size;
    while (p < end && n < max) {
        char *q = memmem(p, (size_t)(end - p), sep, sizeof sep - 1);
        if (!q) break;
        str[n] = p;
        len[n++] = (size_t)(q - p);
        p = q + sizeof sep - 1;
    }
    return n;
}

static size_t parse_ids(const char *line, int32_t *ids, size_t max)
{
    size_t n = 0;
    char *end;
    for (;;) {
        long v = strtol(line, &end, 10);
        if (end == line || n == max) break;
        ids[n++] = (int32_t)v;
        line = end;
    }
    return n;
}

static int32_t *tokenize_all(const rx_tokenizer *tok, const char *s, size_t len, bool add_special,
                             bool parse_special, size_t *n)
{
    rx_status st = rx_tokenize(tok, s, len, add_special, parse_special, NULL, 0, n);
    if (st == RX_OK) return calloc(1, sizeof(int32_t));
    assert_int_equal(st, RX_ERR_FULL);
    int32_t *ids = malloc((*n ? *n : 1) * sizeof *ids);
    size_t n2;
    assert_int_equal(rx_tokenize(tok, s, len, add_special, parse_special, ids, *n, &n2), RX_OK);
    assert_int_equal(n2, *n);
    return ids;
}

static bool valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        int r = rx_utf8_check((const uint8_t *)s + i, n - i);
        if (r <= 0) return false;
        i += (size_t)r;
    }
    return true;
}

/* detokenize(ids) fed one id at a time; also checks no chunk ends inside a UTF-8 sequence. */
static char *stream_detok(const rx_tokenizer *tok, const int32_t *ids, size_t n, size_t *len)
{
    rx_detok *d;
    assert_int_equal(rx_detok_create(tok, 0, &d), RX_OK);
    size_t cap = 64, o = 0;
    char *buf = malloc(cap);
    for (size_t i = 0; i <= n; i++) {
        const char *t;
        size_t tl;
        rx_status s = i < n ? rx_detok_push(d, ids[i], &t, &tl) : rx_detok_flush(d, &t, &tl);
        assert_int_equal(s, RX_OK);
        assert_true(valid_utf8(t, tl));
        while (o + tl > cap) buf = realloc(buf, cap *= 2);
        memcpy(buf + o, t, tl);
        o += tl;
    }
    rx_detok_destroy(d);
    *len = o;
    return buf;
}

/* Every case of one vocabulary set: ids equal the .out line; where the input is valid UTF-8
 * (and, for SPM, free of U+2581, which reads back as a space) the text round-trips. */
static void check_vocab_set(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", name);
    loaded l = load(rel);
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.inp", name);
    size_t inp_size, out_size;
    char *inp = rxt_read_file(rxt_shared(rel), &inp_size);
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.out", name);
    char *out = rxt_read_file(rxt_shared(rel), &out_size);
    assert_non_null(inp);
    assert_non_null(out);

    char *str[256];
    size_t len[256];
    size_t n_cases = split_cases(inp, inp_size, str, len, 256);
    assert_true(n_cases > 0);
    int failures = 0;
    size_t n_round = 0;
    char *line = out;
    static int32_t want[1 << 16];
    for (size_t c = 0; c < n_cases; c++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        size_t n_want = parse_ids(line, want, sizeof want / sizeof want[0]);
        line = nl ? nl + 1 : line + strlen(line);

        size_t n_got;
        int32_t *got = tokenize_all(l.tok, str[c], len[c], false, false, &n_got);
        if (n_got != n_want || memcmp(got, want, n_got * sizeof *got) != 0) {
            failures++;
            print_error("%s case %zu '%.*s':\n  want", name, c, (int)len[c], str[c]);
            for (size_t i = 0; i < n_want; i++) print_error(" %d", want[i]);
            print_error("\n  got ");
            for (size_t i = 0; i < n_got; i++) print_error(" %d", got[i]);
            print_error("\n");
        }
        bool spm = rx_tokenizer_type(l.tok) == RX_VOCAB_SPM;
        if (valid_utf8(str[c], len[c]) && !(spm && memmem(str[c], len[c], "\xe2\x96\x81", 3))) {
            size_t back_len;
            char *back = stream_detok(l.tok, got, n_got, &back_len);
            if (back_len != len[c] || memcmp(back, str[c], len[c]) != 0) {
                failures++;
                print_error("%s case %zu round trip: '%.*s' -> '%.*s'\n", name, c, (int)len[c],
                            str[c], (int)back_len, back);
            }
            n_round++;
            free(back);
        }
        free(got);
    }
    print_message("%s: %zu cases, %zu round trips, %d failures\n", name, n_cases, n_round, failures);
    assert_int_equal(failures, 0);
    free(inp);
    free(out);
    unload(&l);
}

static void test_vocab_llama_spm(void **state) { (void)state; check_vocab_set("llama-spm"); }
static void test_vocab_phi_3(void **state) { (void)state; check_vocab_set("phi-3"); }
static void test_vocab_gpt_2(void **state) { (void)state; check_vocab_set("gpt-2"); }
static void test_vocab_falcon(void **state) { (void)state; check_vocab_set("falcon"); }
static void test_vocab_starcoder(void **state) { (void)state; check_vocab_set("starcoder"); }
static void test_vocab_deepseek_coder(void **state) { (void)state; check_vocab_set("deepseek-coder"); }
static void test_vocab_deepseek_llm(void **state) { (void)state; check_vocab_set("deepseek-llm"); }
static void test_vocab_mpt(void **state) { (void)state; check_vocab_set("mpt"); }
static void test_vocab_refact(void **state) { (void)state; check_vocab_set("refact"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_llama_spm),   cmocka_unit_test(test_vocab_phi_3),
        cmocka_unit_test(test_vocab_gpt_2),       cmocka_unit_test(test_vocab_falcon),
        cmocka_unit_test(test_vocab_starcoder),   cmocka_unit_test(test_vocab_deepseek_coder),
        cmocka_unit_test(test_vocab_deepseek_llm), cmocka_unit_test(test_vocab_mpt),
        cmocka_unit_test(test_vocab_refact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
