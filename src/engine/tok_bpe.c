/* Byte-level BPE (tokenizer.ggml.model "gpt2"), as llama.cpp's llm_tokenizer_bpe: decode the
 * text to codepoints, split it into words with the pre-tokenizer, re-encode each word as
 * UTF-8 and map every byte to its GPT-2 codepoint, then merge adjacent symbols lowest merge
 * rank first (leftmost on ties). A heap keeps each word O(n log n). */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "engine/tok_internal.h"
#include "engine/unicode.h"

typedef struct {
    const rx_tokenizer *tok;
    char *word; /* the byte-encoded word being merged */
    size_t word_cap;
    rx_tok_sym *sym;
    size_t sym_cap;
    rx_tok_heap heap;
} bpe_state;

static rx_status grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return RX_OK;
    size_t cap2 = *cap ? *cap : 64, bytes;
    while (cap2 < need)
        cap2 *= 2;
    if (!rx_mul_size(cap2, elem, &bytes)) return rx_error(RX_ERR_NOMEM, "tokenize: word too long");
    void *q = realloc(*p, bytes);
    if (!q) return rx_error(RX_ERR_NOMEM, "tokenize: %zu bytes", bytes);
    *p = q;
    *cap = cap2;
    return RX_OK;
}

static rx_status try_pair(bpe_state *st, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return RX_OK;
    const rx_tok_sym *l = &st->sym[left], *r = &st->sym[right];
    int32_t rank =
        rx_tok__merge_rank(st->tok, st->word + l->off, l->len, st->word + r->off, r->len);
    if (rank < 0) return RX_OK;
    rx_tok_bigram b = {left, l->len + r->len, -(float)rank};
    return rx_tok__heap_push(&st->heap, b);
}

/* A symbol that is not a token goes out as the tokens of its single bytes, where those
 * exist (llama.cpp's fallback; for a sane vocabulary it never triggers). */
static rx_status emit_symbol(const bpe_state *st, const rx_tok_sym *y, rx_tok_ids *ids)
{
    int32_t id = rx_tok__find(st->tok, st->word + y->off, y->len);
    if (id >= 0) return rx_tok__push(ids, id);
    rx_status s = RX_OK;
    for (uint32_t k = 0; k < y->len && s == RX_OK; k++) {
        int32_t b = rx_tok__find(st->tok, st->word + y->off + k, 1);
        if (b >= 0) s = rx_tok__push(ids, b);
    }
    return s;
}

static rx_status merge_word(bpe_state *st, size_t len, rx_tok_ids *ids)
{
    if (len > INT32_MAX) return rx_error(RX_ERR_RANGE, "tokenize: word of %zu bytes", len);
    if (st->tok->ignore_merges) {
        int32_t id = rx_tok__find(st->tok, st->word, len);
        if (id >= 0) return rx_tok__push(ids, id);
    }
    rx_status s = grow((void **)&st->sym, &st->sym_cap, len, sizeof *st->sym);
    int32_t n = 0;
    for (size_t off = 0; off < len && s == RX_OK; n++) {
        size_t cl = rx_utf8_len((uint8_t)st->word[off]);
        if (cl > len - off) cl = len - off;
        st->sym[n] = (rx_tok_sym){n - 1, off + cl == len ? -1 : n + 1, (uint32_t)off, (uint32_t)cl};
        off += cl;
    }
    st->heap.n = 0;
    for (int32_t i = 1; i < n && s == RX_OK; i++)
        s = try_pair(st, i - 1, i);
    while (st->heap.n && s == RX_OK) {
        rx_tok_bigram b = rx_tok__heap_pop(&st->heap);
        rx_tok_sym *l = &st->sym[b.left];
        if (l->len == 0 || l->next < 0 || l->len + st->sym[l->next].len != b.size)
            continue; /* stale */
        rx_tok_sym *r = &st->sym[l->next];
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) st->sym[r->next].prev = b.left;
        s = try_pair(st, l->prev, b.left);
        if (s == RX_OK) s = try_pair(st, b.left, l->next);
    }
    for (int32_t i = n ? 0 : -1; i >= 0 && s == RX_OK; i = st->sym[i].next)
        s = emit_symbol(st, &st->sym[i], ids);
    return s;
}

/* Word cpts[a..b) -> UTF-8 -> GPT-2 byte encoding, into st->word. */
static rx_status encode_word(bpe_state *st, const uint32_t *cpts, size_t a, size_t b, size_t *len)
{
    size_t need;
    if (!rx_mul_size(b - a, 8, &need)) return rx_error(RX_ERR_NOMEM, "tokenize: word too long");
    rx_status s = grow((void **)&st->word, &st->word_cap, need, 1);
    if (s != RX_OK) return s;
    size_t o = 0;
    for (size_t i = a; i < b; i++) {
        uint8_t u[4];
        size_t ul = rx_utf8_encode(cpts[i], u);
        for (size_t k = 0; k < ul; k++) {
            memcpy(st->word + o, st->tok->byte_enc[u[k]], st->tok->byte_enc_len[u[k]]);
            o += st->tok->byte_enc_len[u[k]];
        }
    }
    *len = o;
    return RX_OK;
}

rx_status rx_tok__bpe(const rx_tokenizer *tok, const char *text, size_t len, rx_tok_ids *ids)
{
    if (len > INT32_MAX / 8) return rx_error(RX_ERR_RANGE, "tokenize: %zu bytes is too long", len);
    uint32_t *cpts = malloc((len ? len : 1) * sizeof *cpts);
    if (!cpts) return rx_error(RX_ERR_NOMEM, "tokenize: %zu bytes", len);
    size_t n = 0;
    for (size_t off = 0, used; off < len; off += used)
        cpts[n++] = rx_utf8_decode((const uint8_t *)text + off, len - off, &used);

    size_t *ends = NULL, n_words = 0;
    bpe_state st = {tok, NULL, 0, NULL, 0, {0}};
    rx_status s = rx_tok__pretokenize(tok->pre, cpts, n, &ends, &n_words);
    for (size_t w = 0; w < n_words && s == RX_OK; w++) {
        size_t wlen = 0;
        s = encode_word(&st, cpts, w ? ends[w - 1] : 0, ends[w], &wlen);
        if (s == RX_OK) s = merge_word(&st, wlen, ids);
    }
    free(ends);
    free(st.word);
    free(st.sym);
    free(st.heap.v);
    free(cpts);
    return s;
}
