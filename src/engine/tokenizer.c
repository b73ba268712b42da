/* Tokenizer entry points: splitting special-token text out of the input (llama.cpp's
 * "partition" step), dispatching each raw fragment to SPM or BPE, and the vocabulary lookups
 * shared by both. Loading lives in tok_load.c, the algorithms in tok_spm.c / tok_bpe.c. */
#include <stdlib.h>
#include <string.h>

#include "engine/tok_internal.h"

/* FNV-1a; vocabularies are trusted not to be adversarial about hash collisions, and the
 * tables are at most half full. */
uint64_t rx_tok__hash(const void *p, size_t len, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ (seed * 0x100000001b3ull);
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

int32_t rx_tok__find(const rx_tokenizer *tok, const char *s, size_t len)
{
    for (size_t i = rx_tok__hash(s, len, 0) & tok->slot_mask; tok->slots[i];
         i = (i + 1) & tok->slot_mask) {
        const rx_tok_entry *e = &tok->toks[tok->slots[i] - 1];
        if (e->len == len && memcmp(tok->blob + e->off, s, len) == 0)
            return (int32_t)(tok->slots[i] - 1);
    }
    return -1;
}

int32_t rx_tok__merge_rank(const rx_tokenizer *tok, const char *l, size_t ll, const char *r,
                           size_t rl)
{
    if (!tok->merge_slots || ll + rl > tok->max_merge_len) return -1;
    for (size_t i = rx_tok__merge_hash(l, ll, r, rl) & tok->merge_slot_mask; tok->merge_slots[i];
         i = (i + 1) & tok->merge_slot_mask) {
        const rx_tok_merge *m = &tok->merges[tok->merge_slots[i] - 1];
        if (m->left_len == ll && m->right_len == rl &&
            memcmp(tok->merge_blob + m->left_off, l, ll) == 0 &&
            memcmp(tok->merge_blob + m->right_off, r, rl) == 0)
            return (int32_t)(tok->merge_slots[i] - 1);
    }
    return -1;
}

rx_status rx_tok__push(rx_tok_ids *ids, int32_t id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof *v);
        if (!v) return rx_error(RX_ERR_NOMEM, "tokenize: %zu ids", cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return RX_OK;
}

/* --- the merge queue: a 4-ary max-heap (half the depth of a binary one; on a 1 MB input the
 * queue holds ~1M entries and the sift-down's cache misses dominate) --- */

static bool better(const rx_tok_bigram *a, const rx_tok_bigram *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

rx_status rx_tok__heap_push(rx_tok_heap *h, rx_tok_bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        rx_tok_bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v) return rx_error(RX_ERR_NOMEM, "tokenize: merge queue of %zu", cap);
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && better(&b, &h->v[(i - 1) / 4])) {
        h->v[i] = h->v[(i - 1) / 4];
        i = (i - 1) / 4;
    }
    h->v[i] = b;
    return RX_OK;
}

rx_tok_bigram rx_tok__heap_pop(rx_tok_heap *h)
{
    rx_tok_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 4 * i + 1, best = c;
        if (c >= h->n) break;
        size_t end = c + 4 < h->n ? c + 4 : h->n;
        for (size_t k = c + 1; k < end; k++)
            if (better(&h->v[k], &h->v[best])) best = k;
        if (!better(&h->v[best], &last)) break;
        h->v[i] = h->v[best];
        i = best;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* --- partition: special-token text becomes fragments of one token --- */

typedef struct {
    size_t off, len; /* raw text, when id < 0 */
    int32_t id;
} fragment;

typedef struct {
    fragment *v;
    size_t n, cap;
} fragments;

static rx_status frag_push(fragments *f, fragment x)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        fragment *v = realloc(f->v, cap * sizeof *v);
        if (!v) return rx_error(RX_ERR_NOMEM, "tokenize: %zu fragments", cap);
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = x;
    return RX_OK;
}

static bool c_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Splits every raw fragment of *in at each occurrence of token id, into *out. Occurrences are
 * found left to right without overlap; LSTRIP/RSTRIP tokens swallow the adjacent whitespace. */
static rx_status split_on(const rx_tokenizer *tok, const char *text, int32_t id,
                          const fragments *in, fragments *out)
{
    const rx_tok_entry *e = &tok->toks[id];
    const char *needle = tok->blob + e->off;
    rx_status s = RX_OK;
    out->n = 0;
    for (size_t i = 0; i < in->n && s == RX_OK; i++) {
        fragment f = in->v[i];
        if (f.id >= 0) {
            s = frag_push(out, f);
            continue;
        }
        while (f.len > 0 && s == RX_OK) {
            const char *hit = memmem(text + f.off, f.len, needle, e->len);
            if (!hit) {
                s = frag_push(out, f);
                break;
            }
            size_t at = (size_t)(hit - text), left = at - f.off;
            if (e->attr & RX_TATTR_LSTRIP)
                while (left > 0 && c_space(text[f.off + left - 1]))
                    left--;
            if (left > 0) s = frag_push(out, (fragment){f.off, left, -1});
            if (s == RX_OK) s = frag_push(out, (fragment){0, 0, id});
            size_t end = f.off + f.len;
            f.off = at + e->len;
            f.len = end - f.off;
            if (e->attr & RX_TATTR_RSTRIP)
                while (f.len > 0 && c_space(text[f.off]))
                    f.off++, f.len--;
        }
    }
    return s;
}

static rx_status partition(const rx_tokenizer *tok, const char *text, size_t len,
                           bool parse_special, fragments *frags)
{
    fragments other = {0};
    rx_status s = len ? frag_push(frags, (fragment){0, len, -1}) : RX_OK;
    for (size_t k = 0; k < tok->n_specials && s == RX_OK; k++) {
        int32_t id = tok->specials[k];
        /* Without parse_special only user-defined tokens are split out (as HF does). */
        if (!parse_special && (tok->toks[id].attr & (RX_TATTR_CONTROL | RX_TATTR_UNKNOWN)))
            continue;
        s = split_on(tok, text, id, frags, &other);
        fragments t = *frags;
        *frags = other;
        other = t;
    }
    free(other.v);
    return s;
}

static rx_status tokenize_fragments(const rx_tokenizer *tok, const char *text,
                                    const fragments *frags, rx_tok_ids *ids)
{
    rx_status s = RX_OK;
    bool prev_special = true; /* SPM: a space prefix goes before text that starts a run */
    for (size_t i = 0; i < frags->n && s == RX_OK; i++) {
        const fragment *f = &frags->v[i];
        if (f->id >= 0) {
            s = rx_tok__push(ids, f->id);
            prev_special = true;
        } else if (tok->type == RX_VOCAB_SPM) {
            s = rx_tok__spm(tok, text + f->off, f->len, tok->add_space_prefix && prev_special, ids);
            prev_special = false;
        } else {
            s = rx_tok__bpe(tok, text + f->off, f->len, ids);
        }
    }
    return s;
}

rx_status rx_tokenize(const rx_tokenizer *tok, const char *text, size_t len, bool add_special,
                      bool parse_special, int32_t *out, size_t cap, size_t *n_out)
{
    fragments frags = {0};
    rx_tok_ids ids = {0};
    *n_out = 0;
    if (!text && len) return rx_error(RX_ERR_INVALID_ARG, "tokenize: NULL text of length %zu", len);
    rx_status s = partition(tok, text, len, parse_special, &frags);
    if (s == RX_OK && add_special && tok->add_bos) s = rx_tok__push(&ids, tok->bos);
    if (s == RX_OK) s = tokenize_fragments(tok, text, &frags, &ids);
    if (s == RX_OK && add_special && tok->add_eos) s = rx_tok__push(&ids, tok->eos);
    if (s == RX_OK) {
        *n_out = ids.n;
        if (ids.n > cap)
            s = RX_ERR_FULL;
        else if (ids.n)
            memcpy(out, ids.v, ids.n * sizeof *out);
    }
    free(frags.v);
    free(ids.v);
    return s;
}

void rx_tokenizer_free(rx_tokenizer *tok)
{
    if (!tok) return;
    free(tok->toks);
    free(tok->blob);
    free(tok->slots);
    free(tok->merges);
    free(tok->merge_blob);
    free(tok->merge_slots);
    free(tok->specials);
    free(tok->pieces);
    free(tok->piece_off);
    free(tok->piece_len);
    free(tok);
}

rx_vocab_type rx_tokenizer_type(const rx_tokenizer *tok)
{
    return tok->type;
}
int32_t rx_tokenizer_n_vocab(const rx_tokenizer *tok)
{
    return (int32_t)tok->n_vocab;
}
int32_t rx_token_bos(const rx_tokenizer *tok)
{
    return tok->bos;
}
int32_t rx_token_eos(const rx_tokenizer *tok)
{
    return tok->eos;
}
bool rx_tokenizer_adds_bos(const rx_tokenizer *tok)
{
    return tok->add_bos;
}
size_t rx_tokenizer_max_piece(const rx_tokenizer *tok)
{
    return tok->max_piece;
}

static bool in_range(const rx_tokenizer *tok, int32_t id)
{
    return id >= 0 && (uint32_t)id < tok->n_vocab;
}

bool rx_token_is_eog(const rx_tokenizer *tok, int32_t id)
{
    return in_range(tok, id) && (tok->toks[id].attr & RX_TATTR_EOG);
}

bool rx_token_is_control(const rx_tokenizer *tok, int32_t id)
{
    return in_range(tok, id) && (tok->toks[id].attr & (RX_TATTR_CONTROL | RX_TATTR_UNKNOWN));
}

const char *rx_token_text(const rx_tokenizer *tok, int32_t id, size_t *len)
{
    if (!in_range(tok, id)) {
        *len = 0;
        return NULL;
    }
    *len = tok->toks[id].len;
    return tok->blob + tok->toks[id].off;
}

int32_t rx_token_find(const rx_tokenizer *tok, const char *text, size_t len)
{
    return rx_tok__find(tok, text, len);
}
