/* src/bench/prompts.c: synthetic prompts repeat exactly for a seed and differ across seeds and
 * indices; L words are exactly L tokens with the large vocabularies the heuristic is meant for
 * (checked with the real tokenizers of ../shared/vocab); dataset files load, and each bad line
 * is refused with its file and line number. */
#include "rxtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/gguf.h"
#include "reflex/loadgen.h"
#include "reflex/tokenizer.h"

static int count_words(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        n += (p == s || p[-1] == ' ') && *p != ' ';
    return n;
}

static void test_synth_and_dataset(void **state)
{
    (void)state;
    rx_lg_prompt *a, *b, *c;
    assert_int_equal(rx_lg_prompts_synth(3, 4, 32, 16, &a), RX_OK);
    assert_int_equal(rx_lg_prompts_synth(3, 4, 32, 16, &b), RX_OK);
    assert_int_equal(rx_lg_prompts_synth(4, 4, 32, 16, &c), RX_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(count_words(a[i].text), 32);
        assert_int_equal(a[i].output_len, 16);
        assert_string_equal(a[i].text, b[i].text);
        assert_string_not_equal(a[i].text, c[i].text);
    }
    assert_string_not_equal(a[0].text, a[1].text);
    rx_lg_prompts_free(a, 4);
    rx_lg_prompts_free(b, 4);
    rx_lg_prompts_free(c, 4);

    char path[4096];
    snprintf(path, sizeof path, "%s/ds.jsonl", rxt_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("{\"prompt\": \"hello there\", \"output_len\": 5}\n\n{\"prompt\": \"x\"}\n", f);
    fclose(f);
    int64_t n;
    assert_int_equal(rx_lg_prompts_load(path, 9, &a, &n), RX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].text, "hello there");
    assert_int_equal(a[0].output_len, 5);
    assert_int_equal(a[1].output_len, 9);
    rx_lg_prompts_free(a, n);
    const char *bad[] = {"{\"prompt\": 1}\n", "not json\n",
                         "{\"prompt\": \"a\", \"output_len\": 0}\n", "\n\n"};
    for (int i = 0; i < 4; i++) {
        f = fopen(path, "w");
        fputs("{\"prompt\": \"ok\"}\n", f);
        fputs(bad[i], f);
        fclose(f);
        assert_int_equal(rx_lg_prompts_load(path, 9, &a, &n) != RX_OK, i < 3);
        if (i < 3)
            assert_non_null(strstr(rx_last_error(), "ds.jsonl:2:"));
        else
            rx_lg_prompts_free(a, n);
    }
    assert_int_equal(rx_lg_prompts_load("/nonexistent/x.jsonl", 9, &a, &n), RX_ERR_IO);
}

/* The documented heuristic: one word, one token, for BPE/SentencePiece vocabularies of 32k+. */
static void test_words_are_tokens(void **state)
{
    (void)state;
    const char *vocabs[] = {"vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-llama-spm.gguf",
                            "vocab/ggml-vocab-phi-3.gguf"};
    rx_lg_prompt *p;
    assert_int_equal(rx_lg_prompts_synth(11, 8, 64, 1, &p), RX_OK);
    for (int v = 0; v < 3; v++) {
        rx_gguf *g;
        rx_tokenizer *tok;
        assert_int_equal(rx_gguf_open(rxt_shared(vocabs[v]), &g), RX_OK);
        assert_int_equal(rx_tokenizer_load(g, &tok), RX_OK);
        for (int i = 0; i < 8; i++) {
            size_t n;
            int32_t ids[512];
            assert_int_equal(
                rx_tokenize(tok, p[i].text, strlen(p[i].text), false, false, ids, 512, &n), RX_OK);
            assert_int_equal(n, 64);
        }
        rx_tokenizer_free(tok);
        rx_gguf_close(g);
    }
    rx_lg_prompts_free(p, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_and_dataset),
        cmocka_unit_test(test_words_are_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
