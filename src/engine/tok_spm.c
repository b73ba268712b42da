/* SentencePiece-style BPE (tokenizer.ggml.model "llama"), as llama.cpp's llm_tokenizer_spm:
 * spaces become U+2581 (with one prepended when the caller asks), the text is cut into UTF-8
 * characters, and adjacent symbols are merged best score first (leftmost on ties) for as long
 * as their concatenation is a vocabulary entry. Whatever is left that is not a token falls
 * back to <0xAB> byte tokens. A heap keeps this O(n log n) on long inputs. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "engine/tok_internal.h"
#include "engine/unicode.h"

static const char SPACE_MARK[3] = {'\xe2', '\x96', '\x81'}; /* U+2581 */

/* The text to merge: optional leading space, then every ' ' as U+2581. */
static char *escape(const char *text, size_t len, bool space_prefix, size_t *out_len)
{
    size_t spaces = space_prefix;
    for (size_t i = 0; i < len; i++)
        spaces += text[i] == ' ';
    size_t n;
    if (!rx_mul_size(spaces, 2, &n) || !rx_add_size(n, len + space_prefix, &n)) return NULL;
    char *s = malloc(n ? n : 1);
    if (!s) return NULL;
    size_t o = 0;
    if (space_prefix) memcpy(s, SPACE_MARK, 3), o = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            memcpy(s + o, SPACE_MARK, 3), o += 3;
        else
            s[o++] = text[i];
    }
    *out_len = o;
    return s;
}

typedef struct {
    const rx_tokenizer *tok;
    const char *text;
    rx_tok_sym *sym;
    rx_tok_heap heap;
} spm_state;

static rx_status try_pair(spm_state *st, int32_t left, int32_t right)
{
    if (left < 0 || right < 0) return RX_OK;
    const rx_tok_sym *l = &st->sym[left], *r = &st->sym[right];
    int32_t id = rx_tok__find(st->tok, st->text + l->off, l->len + r->len);
    if (id < 0) return RX_OK;
    rx_tok_bigram b = {left, l->len + r->len, st->tok->toks[id].score};
    return rx_tok__heap_push(&st->heap, b);
}

static rx_status emit_symbol(spm_state *st, int32_t i, rx_tok_ids *ids)
{
    const rx_tok_sym *y = &st->sym[i];
    int32_t id = rx_tok__find(st->tok, st->text + y->off, y->len);
    if (id >= 0) return rx_tok__push(ids, id);
    /* Only a single character can fail the lookup (merges always form tokens), so it goes out
     * byte by byte. A vocabulary without a byte's token gives <unk> (llama.cpp would throw). */
    rx_status s = RX_OK;
    for (uint32_t k = 0; k < y->len && s == RX_OK; k++) {
        int32_t b = st->tok->byte_tok[(uint8_t)st->text[y->off + k]];
        if (b < 0) b = st->tok->unk;
        if (b >= 0) s = rx_tok__push(ids, b);
    }
    return s;
}

static rx_status merge_all(spm_state *st)
{
    rx_status s = RX_OK;
    while (st->heap.n && s == RX_OK) {
        rx_tok_bigram b = rx_tok__heap_pop(&st->heap);
        rx_tok_sym *l = &st->sym[b.left];
        /* Stale entry: the left side was merged away, or either side grew since it was
         * queued (both only ever grow, so the size alone tells). */
        if (l->len == 0 || l->next < 0 || l->len + st->sym[l->next].len != b.size) continue;
        rx_tok_sym *r = &st->sym[l->next];
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) st->sym[r->next].prev = b.left;
        s = try_pair(st, l->prev, b.left);
        if (s == RX_OK) s = try_pair(st, b.left, l->next);
    }
    return s;
}

rx_status rx_tok__spm(const rx_tokenizer *tok, const char *raw, size_t raw_len, bool space_prefix,
                      rx_tok_ids *ids)
{
    size_t len;
    if (raw_len > INT32_MAX / 3)
        return rx_error(RX_ERR_RANGE, "tokenize: %zu bytes is too long", raw_len);
    char *text = escape(raw, raw_len, space_prefix, &len);
    if (!text) return rx_error(RX_ERR_NOMEM, "tokenize: %zu bytes", raw_len);
    spm_state st = {tok, text, malloc((len ? len : 1) * sizeof *st.sym), {0}};
    rx_status s = st.sym ? RX_OK : rx_error(RX_ERR_NOMEM, "tokenize: %zu symbols", len);
    int32_t n = 0;
    /* One symbol per UTF-8 character by its lead byte, cut short at the end of the text. */
    for (size_t off = 0; off < len && s == RX_OK; n++) {
        size_t cl = rx_utf8_len((uint8_t)text[off]);
        if (cl > len - off) cl = len - off;
        st.sym[n] = (rx_tok_sym){n - 1, off + cl == len ? -1 : n + 1, (uint32_t)off, (uint32_t)cl};
        off += cl;
    }
    for (int32_t i = 1; i < n && s == RX_OK; i++)
        s = try_pair(&st, i - 1, i);
    if (s == RX_OK) s = merge_all(&st);
    for (int32_t i = n ? 0 : -1; i >= 0 && s == RX_OK; i = st.sym[i].next)
        s = emit_symbol(&st, i, ids);
    free(st.heap.v);
    free(st.sym);
    free(text);
    return s;
}
