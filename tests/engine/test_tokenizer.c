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
        while (o + tl > cap)
            buf = realloc(buf, cap *= 2);
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
            for (size_t i = 0; i < n_want; i++)
                print_error(" %d", want[i]);
            print_error("\n  got ");
            for (size_t i = 0; i < n_got; i++)
                print_error(" %d", got[i]);
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
    print_message("%s: %zu cases, %zu round trips, %d failures\n", name, n_cases, n_round,
                  failures);
    assert_int_equal(failures, 0);
    free(inp);
    free(out);
    unload(&l);
}

static void test_vocab_llama_spm(void **state)
{
    (void)state;
    check_vocab_set("llama-spm");
}
static void test_vocab_phi_3(void **state)
{
    (void)state;
    check_vocab_set("phi-3");
}
static void test_vocab_gpt_2(void **state)
{
    (void)state;
    check_vocab_set("gpt-2");
}
static void test_vocab_falcon(void **state)
{
    (void)state;
    check_vocab_set("falcon");
}
static void test_vocab_starcoder(void **state)
{
    (void)state;
    check_vocab_set("starcoder");
}
static void test_vocab_deepseek_coder(void **state)
{
    (void)state;
    check_vocab_set("deepseek-coder");
}
static void test_vocab_deepseek_llm(void **state)
{
    (void)state;
    check_vocab_set("deepseek-llm");
}
static void test_vocab_mpt(void **state)
{
    (void)state;
    check_vocab_set("mpt");
}
static void test_vocab_refact(void **state)
{
    (void)state;
    check_vocab_set("refact");
}

/* Model prompts: tokenize(prompt) with BOS equals llama.cpp's prompt_tokens. */
static void check_ref_prompts(const char *model, const char *ref)
{
    loaded l = load(model);
    size_t size;
    char *text = rxt_read_file(rxt_shared(ref), &size);
    assert_non_null(text);
    size_t n_lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        assert_non_null(j);
        const char *prompt = json_string_value(json_object_get(j, "prompt"));
        json_t *want = json_object_get(j, "prompt_tokens");
        assert_non_null(prompt);
        size_t n;
        int32_t *got = tokenize_all(l.tok, prompt, strlen(prompt), true, true, &n);
        assert_int_equal(n, json_array_size(want));
        for (size_t i = 0; i < n; i++)
            assert_int_equal(got[i], json_integer_value(json_array_get(want, i)));
        size_t back_len;
        char *back = stream_detok(l.tok, got, n, &back_len);
        assert_int_equal(back_len, strlen(prompt));
        assert_memory_equal(back, prompt, back_len);
        free(back);
        free(got);
        json_decref(j);
        n_lines++;
    }
    assert_true(n_lines >= 10);
    free(text);
    unload(&l);
}

static void test_ref_stories260k(void **state)
{
    (void)state;
    check_ref_prompts("models/stories260K.gguf", "ref/stories260K.jsonl");
}

static void test_ref_tiny_random(void **state)
{
    (void)state;
    check_ref_prompts("models/tiny-random-F16.gguf", "ref/tiny-random-F16.jsonl");
}

static int32_t find(const rx_tokenizer *tok, const char *text)
{
    int32_t id = rx_token_find(tok, text, strlen(text));
    assert_true(id >= 0);
    return id;
}

/* Multibyte text through byte-fallback tokens: every chunk is whole UTF-8, and broken
 * sequences come out as U+FFFD. */
static void test_streaming_utf8(void **state)
{
    (void)state;
    loaded l = load("vocab/ggml-vocab-llama-spm.gguf");
    const char *s = "日本語 😀🦙 naïve Ελληνικά ∑ 𝔘𝔫𝔦";
    size_t n, back_len;
    int32_t *ids = tokenize_all(l.tok, s, strlen(s), false, false, &n);
    char *back = stream_detok(l.tok, ids, n, &back_len);
    assert_int_equal(back_len, strlen(s));
    assert_memory_equal(back, s, back_len);
    free(back);
    free(ids);

    /* 😀 = F0 9F 98 80 as four byte tokens: nothing comes out until the last one. */
    rx_detok *d;
    const char *t;
    size_t tl;
    assert_int_equal(rx_detok_create(l.tok, 0, &d), RX_OK);
    const char *bytes[] = {"<0xF0>", "<0x9F>", "<0x98>", "<0x80>"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rx_detok_push(d, find(l.tok, bytes[i]), &t, &tl), RX_OK);
        assert_int_equal(tl, i < 3 ? 0 : 4);
    }
    assert_memory_equal(t, "\xf0\x9f\x98\x80", 4);
    /* E6 then 'A': the E6 can never complete, so it is replaced as soon as that is known. */
    assert_int_equal(rx_detok_push(d, find(l.tok, "<0xE6>"), &t, &tl), RX_OK);
    assert_int_equal(tl, 0);
    assert_int_equal(rx_detok_push(d, find(l.tok, "<0x41>"), &t, &tl), RX_OK);
    assert_int_equal(tl, 4);
    assert_memory_equal(t,
                        "\xef\xbf\xbd"
                        "A",
                        4);
    /* A dangling E6 97 becomes one U+FFFD at flush. */
    assert_int_equal(rx_detok_push(d, find(l.tok, "<0xE6>"), &t, &tl), RX_OK);
    assert_int_equal(rx_detok_push(d, find(l.tok, "<0x97>"), &t, &tl), RX_OK);
    assert_int_equal(tl, 0);
    assert_int_equal(rx_detok_flush(d, &t, &tl), RX_OK);
    assert_int_equal(tl, 3);
    assert_memory_equal(t, "\xef\xbf\xbd", 3);
    assert_int_equal(rx_detok_push(d, 1 << 30, &t, &tl), RX_ERR_RANGE);
    rx_detok_destroy(d);
    unload(&l);
}

/* SPM: the space prefix is dropped from the first piece after BOS unless asked to keep it;
 * control tokens render only with RX_DETOK_SPECIAL. */
static void test_detok_bos_space(void **state)
{
    (void)state;
    loaded l = load("models/stories260K.gguf");
    size_t n;
    int32_t *ids = tokenize_all(l.tok, "Once upon", 9, true, false, &n);
    assert_int_equal(ids[0], rx_token_bos(l.tok));
    char buf[64];
    size_t len;
    assert_int_equal(rx_detokenize(l.tok, ids, n, 0, buf, sizeof buf, &len), RX_OK);
    assert_int_equal(len, 9);
    assert_memory_equal(buf, "Once upon", 9);
    assert_int_equal(rx_detokenize(l.tok, ids, n, RX_DETOK_KEEP_SPACE, buf, sizeof buf, &len),
                     RX_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(buf, " Once upon", 10);
    assert_int_equal(rx_detokenize(l.tok, ids, n, RX_DETOK_SPECIAL, buf, sizeof buf, &len), RX_OK);
    assert_int_equal(len, 12);
    assert_memory_equal(buf, "<s>Once upon", 12);
    assert_int_equal(rx_detokenize(l.tok, ids, n, 0, buf, 4, &len), RX_ERR_FULL);
    assert_int_equal(len, 9);
    assert_true(rx_token_is_eog(l.tok, rx_token_eos(l.tok)));
    assert_false(rx_token_is_eog(l.tok, ids[1]));
    const char *piece;
    size_t pl;
    assert_int_equal(rx_token_piece(l.tok, rx_token_bos(l.tok), false, &piece, &pl), RX_OK);
    assert_int_equal(pl, 0);
    assert_int_equal(rx_token_piece(l.tok, -1, false, &piece, &pl), RX_ERR_RANGE);
    free(ids);
    unload(&l);
}

/* Control-token text is a token only with parse_special; user-defined tokens always are. */
static void test_parse_special(void **state)
{
    (void)state;
    loaded l = load("vocab/ggml-vocab-gpt-2.gguf");
    const char *s = "a<|endoftext|>b";
    size_t n;
    int32_t *ids = tokenize_all(l.tok, s, strlen(s), false, true, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 50256);
    assert_true(rx_token_is_eog(l.tok, 50256));
    free(ids);
    ids = tokenize_all(l.tok, s, strlen(s), false, false, &n);
    assert_true(n > 3);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 50256);
    free(ids);
    unload(&l);

    l = load("vocab/ggml-vocab-phi-3.gguf");
    /* Phi-3: <|user|> is control and eats the whitespace after it; </s> is user-defined. */
    s = "<|user|>\n hi</s>";
    ids = tokenize_all(l.tok, s, strlen(s), true, true, &n);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], find(l.tok, "<|user|>"));
    assert_int_equal(ids[n - 1], find(l.tok, "</s>"));
    assert_int_equal(n, 4); /* <s> <|user|> ▁hi </s> */
    assert_int_equal(ids[2], find(l.tok, "\xe2\x96\x81hi"));
    free(ids);
    ids = tokenize_all(l.tok, s, strlen(s), false, false, &n);
    assert_int_equal(ids[n - 1], find(l.tok, "</s>"));
    assert_true(rx_token_is_eog(l.tok, find(l.tok, "<|end|>")));
    free(ids);
    unload(&l);
}

/* Found by fuzz_tokenizer (fuzz/corpus/tokenizer/falcon-missing-byte-tokens): falcon's
 * vocabulary has no base token for some control bytes (0x13 among them), so like llama.cpp we
 * drop them rather than fail; the text then does not round-trip. */
static void test_fuzz_falcon_missing_byte_tokens(void **state)
{
    (void)state;
    loaded l = load("vocab/ggml-vocab-falcon.gguf");
    size_t n, n_plain;
    int32_t *ids = tokenize_all(l.tok, "4.\0\x13" "3", 5, false, false, &n);
    int32_t *plain = tokenize_all(l.tok, "4.3", 3, false, false, &n_plain);
    assert_int_equal(n, n_plain + 1); /* \0 has a token (U+0100), \x13 has none */
    free(ids);
    free(plain);
    unload(&l);
}

/* --- metadata validation, on small vocabularies built in memory --- */

typedef struct {
    const char *model;  /* NULL: leave out */
    bool tokens_as_u32; /* wrong element type */
    int n_scores;       /* -1: as many as tokens */
    int64_t bos;        /* -2: leave out */
    int token_type_bad; /* a token_type value out of 0..6 */
    bool duplicate;     /* a token twice */
    bool merges;        /* write merges (BPE) */
    const char *pre;
} vocab_spec;

static rx_status load_spec(const vocab_spec *v, rx_tokenizer **tok)
{
    rx_str toks[6] = {{"<unk>", 5}, {"<s>", 3}, {"</s>", 4}, {"a", 1}, {"b", 1}, {"ab", 2}};
    if (v->duplicate) toks[5] = (rx_str){"a", 1};
    float scores[6] = {0, 0, 0, -1, -2, -3};
    int32_t types[6] = {2, 3, 3, 1, 1, 1};
    if (v->token_type_bad) types[4] = v->token_type_bad;
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    if (v->model) rx_gguf_set_str(w, "tokenizer.ggml.model", v->model);
    if (v->pre) rx_gguf_set_str(w, "tokenizer.ggml.pre", v->pre);
    if (v->tokens_as_u32)
        rx_gguf_set_arr(w, "tokenizer.ggml.tokens", RX_GGUF_I32, types, 6);
    else
        rx_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 6);
    rx_gguf_set_arr(w, "tokenizer.ggml.scores", RX_GGUF_F32, scores,
                    v->n_scores < 0 ? 6 : (uint64_t)v->n_scores);
    rx_gguf_set_arr(w, "tokenizer.ggml.token_type", RX_GGUF_I32, types, 6);
    if (v->merges) {
        rx_str m[1] = {{"a b", 3}};
        rx_gguf_set_arr_str(w, "tokenizer.ggml.merges", m, 1);
    }
    if (v->bos != -2) rx_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos);
    void *buf;
    size_t size;
    assert_int_equal(rx_gguf_writer_to_memory(w, &buf, &size), RX_OK);
    rx_gguf_writer_destroy(w);
    rx_gguf *g;
    assert_int_equal(rx_gguf_open_memory(buf, size, &g), RX_OK);
    rx_status s = rx_tokenizer_load(g, tok);
    rx_gguf_close(g);
    free(buf);
    return s;
}

static void expect_error(vocab_spec v, rx_status want, const char *needle)
{
    rx_tokenizer *tok = (rx_tokenizer *)1;
    assert_int_equal(load_spec(&v, &tok), want);
    assert_null(tok);
    if (!strstr(rx_last_error(), needle)) fail_msg("'%s' lacks '%s'", rx_last_error(), needle);
}

static void test_bad_metadata(void **state)
{
    (void)state;
    const vocab_spec ok = {"llama", false, -1, -2, 0, false, false, NULL};
    rx_tokenizer *tok;
    assert_int_equal(load_spec(&ok, &tok), RX_OK);
    /* The tokenizer outlives the GGUF it came from. */
    size_t n;
    int32_t ids[8];
    assert_int_equal(rx_tokenize(tok, "ab", 2, true, false, ids, 8, &n), RX_OK);
    /* <s>, then "▁ab" -> ▁ + ab; ▁ is no token and there are no byte tokens: <unk> per byte */
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 0);
    assert_int_equal(ids[4], 5);
    assert_int_equal(rx_tokenize(tok, "ab", 2, true, false, ids, 1, &n), RX_ERR_FULL);
    assert_int_equal(n, 5);
    rx_tokenizer_free(tok);
    rx_tokenizer_free(NULL);

    vocab_spec v = ok;
    v.model = NULL;
    expect_error(v, RX_ERR_FORMAT, "tokenizer.ggml.model");
    v = ok, v.model = "t5";
    expect_error(v, RX_ERR_UNSUPPORTED, "'t5'");
    v = ok, v.tokens_as_u32 = true;
    expect_error(v, RX_ERR_FORMAT, "tokenizer.ggml.tokens");
    v = ok, v.n_scores = 3;
    expect_error(v, RX_ERR_FORMAT, "tokenizer.ggml.scores");
    v = ok, v.bos = 99;
    expect_error(v, RX_ERR_FORMAT, "bos_token_id");
    v = ok, v.token_type_bad = 9;
    expect_error(v, RX_ERR_FORMAT, "token_type");
    v = ok, v.duplicate = true;
    expect_error(v, RX_ERR_FORMAT, "twice");
    v = ok, v.model = "gpt2";
    expect_error(v, RX_ERR_FORMAT, "tokenizer.ggml.merges");
    v = ok, v.model = "gpt2", v.merges = true, v.pre = "no-such-pre";
    expect_error(v, RX_ERR_UNSUPPORTED, "no-such-pre");
    v = ok, v.bos = UINT32_MAX; /* "unset" keeps the default */
    assert_int_equal(load_spec(&v, &tok), RX_OK);
    assert_int_equal(rx_token_bos(tok), 1);
    rx_tokenizer_free(tok);
}

/* 1 MiB inputs of several shapes stay well under a second of CPU (no quadratic corners);
 * thread CPU time keeps the bound meaningful on a loaded machine. */
static void test_long_inputs(void **state)
{
    (void)state;
    const char *sets[] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                          "vocab/ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-phi-3.gguf"};
    const size_t size = 1 << 20;
    char *buf = malloc(size);
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        loaded l = load(sets[k]);
        for (int shape = 0; shape < 4; shape++) {
            const char *words = "The quick brown fox, naïve café 日本語 123456 <s> \n\t ";
            for (size_t i = 0; i < size; i++)
                buf[i] = shape == 0   ? words[i % strlen(words)]
                         : shape == 1 ? 'a'
                         : shape == 2 ? ' '
                                      : '7';
            struct timespec t0, t1;
            size_t n, cap = 2 * size + 8;
            int32_t *ids = malloc(cap * sizeof *ids);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            assert_int_equal(rx_tokenize(l.tok, buf, size, true, true, ids, cap, &n), RX_OK);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
            /* timing is reported, not asserted: speed belongs in benchmarks, and ctest's
             * timeout bounds a quadratic blow-up */
            print_message("%s shape %d: %zu tokens in %.3f s CPU\n", sets[k], shape, n, s);
            assert_true(n >= 1 && n <= size + 2);
            free(ids);
        }
        unload(&l);
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_llama_spm),    cmocka_unit_test(test_vocab_phi_3),
        cmocka_unit_test(test_vocab_gpt_2),        cmocka_unit_test(test_vocab_falcon),
        cmocka_unit_test(test_vocab_starcoder),    cmocka_unit_test(test_vocab_deepseek_coder),
        cmocka_unit_test(test_vocab_deepseek_llm), cmocka_unit_test(test_vocab_mpt),
        cmocka_unit_test(test_vocab_refact),       cmocka_unit_test(test_ref_stories260k),
        cmocka_unit_test(test_ref_tiny_random),    cmocka_unit_test(test_streaming_utf8),
        cmocka_unit_test(test_detok_bos_space),    cmocka_unit_test(test_parse_special),
        cmocka_unit_test(test_bad_metadata),       cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_fuzz_falcon_missing_byte_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
