/* libFuzzer target for the tokenizers: arbitrary bytes through every vocabulary in
 * ../shared/vocab (the first input byte picks one), with and without special-token parsing,
 * then back through the streaming detokenizer, which must hand out valid UTF-8 only, and must
 * give the text back where round trips are guaranteed (no special parsing, valid UTF-8 into a
 * byte-level BPE whose vocabulary has every byte, or into llama-spm without U+2581).
 *
 * The vocabularies load once, from $RX_SHARED/vocab, else from <binary dir>/../../shared/vocab
 * (the layout of build-fuzz/ inside a checkout next to shared/).
 * Run: make fuzz && ./build-fuzz/fuzz_tokenizer -max_total_time=300 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/unicode.h"
#include "reflex/gguf.h"
#include "reflex/tokenizer.h"

static const char *names[] = {"llama-spm",      "phi-3",        "gpt-2", "falcon", "starcoder",
                              "deepseek-coder", "deepseek-llm", "mpt",   "refact"};
#define N_VOCABS (sizeof names / sizeof names[0])
static rx_tokenizer *toks[N_VOCABS];
static rx_detok *detoks[N_VOCABS];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    char root[4096];
    const char *env = getenv("RX_SHARED");
    if (env) {
        snprintf(root, sizeof root, "%s", env);
    } else {
        char self[4096];
        snprintf(self, sizeof self, "%s", (*argv)[0]);
        snprintf(root, sizeof root, "%s/../../shared", dirname(self));
    }
    for (size_t i = 0; i < N_VOCABS; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", root, names[i]);
        rx_gguf *g;
        if (rx_gguf_open(path, &g) != RX_OK || rx_tokenizer_load(g, &toks[i]) != RX_OK ||
            rx_detok_create(toks[i], 0, &detoks[i]) != RX_OK) {
            fprintf(stderr, "fuzz_tokenizer: %s (set RX_SHARED)\n", rx_last_error());
            abort();
        }
        rx_gguf_close(g);
    }
    return 0;
}

/* Byte-level BPE drops a byte whose base token the vocabulary lacks (falcon has no token for
 * some control bytes, starcoder none for 0xF1), as llama.cpp does; only then is a round trip
 * not guaranteed. */
static bool bytes_covered(const rx_tokenizer *tok, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t enc[4];
        size_t n = rx_utf8_encode(rx_byte_to_cpt((uint8_t)text[i]), enc);
        if (rx_token_find(tok, (const char *)enc, n) < 0) return false;
    }
    return true;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t v = data[0] % N_VOCABS;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    rx_tokenizer *tok = toks[v];
    for (int parse_special = 0; parse_special < 2; parse_special++) {
        size_t n, cap = 4 * len + 8;
        int32_t *ids = malloc(cap * sizeof *ids);
        if (rx_tokenize(tok, text, len, parse_special, parse_special, ids, cap, &n) != RX_OK)
            abort();
        char *back = malloc(3 * (n * rx_tokenizer_max_piece(tok) + 4) + 1);
        size_t o = 0;
        rx_detok_reset(detoks[v]);
        for (size_t i = 0; i <= n; i++) {
            const char *t;
            size_t tl;
            rx_status s = i < n ? rx_detok_push(detoks[v], ids[i], &t, &tl)
                                : rx_detok_flush(detoks[v], &t, &tl);
            if (s != RX_OK || !valid_utf8(t, tl)) abort();
            memcpy(back + o, t, tl);
            o += tl;
        }
        bool bpe = rx_tokenizer_type(tok) == RX_VOCAB_BPE;
        bool guaranteed =
            !parse_special && valid_utf8(text, len) &&
            (bpe ? bytes_covered(tok, text, len) : v == 0 && !memmem(text, len, "\xe2\x96\x81", 3));
        if (guaranteed && (o != len || memcmp(back, text, len) != 0)) {
            fprintf(stderr, "round trip failed for %s: '%.*s' -> '%.*s'\n", names[v], (int)len,
                    text, (int)o, back);
            abort();
        }
        free(back);
        free(ids);
    }
    return 0;
}
