/* From ids back to text: the per-token piece cache built at load, and the streaming
 * detokenizer that only ever hands out complete UTF-8 (partial sequences wait for the next
 * token; bytes that can never complete become U+FFFD). */
#include <stdlib.h>
#include <string.h>

#include "engine/tok_internal.h"
#include "engine/unicode.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The bytes token id stands for, control tokens rendered as their text. buf holds at least
 * 3 * text length + 4 bytes: a stray byte in a BPE entry decodes to U+FFFD (3 bytes). */
static size_t piece_into(const rx_tokenizer *tok, int32_t id, char *buf)
{
    const rx_tok_entry *e = &tok->toks[id];
    const char *t = tok->blob + e->off;
    if (e->attr & (RX_TATTR_UNKNOWN | RX_TATTR_CONTROL | RX_TATTR_USER_DEFINED)) {
        memcpy(buf, t, e->len);
        return e->len;
    }
    size_t o = 0;
    if (e->attr & RX_TATTR_NORMAL) {
        for (size_t i = 0, used; i < e->len; i += used) {
            if (tok->type == RX_VOCAB_SPM) {
                used = 1;
                if (e->len - i >= 3 && memcmp(t + i, "\xe2\x96\x81", 3) == 0) {
                    buf[o++] = ' ';
                    used = 3;
                } else {
                    buf[o++] = t[i];
                }
                continue;
            }
            /* GPT-2 byte-level: each codepoint is one byte. One that no byte maps to is kept
             * as UTF-8 (llama.cpp writes an "[UNK_BYTE_0x..]" marker instead). */
            uint32_t cpt = rx_utf8_decode((const uint8_t *)t + i, e->len - i, &used);
            int b = rx_cpt_to_byte(cpt);
            if (b >= 0)
                buf[o++] = (char)b;
            else
                o += rx_utf8_encode(cpt, (uint8_t *)buf + o);
        }
        return o;
    }
    if ((e->attr & RX_TATTR_BYTE) && e->len >= 5) { /* "<0xAB>" */
        int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
        if (hi >= 0 && lo >= 0) buf[o++] = (char)(hi * 16 + lo);
        return o;
    }
    return 0; /* unused / undefined tokens render as nothing */
}

rx_status rx_tok__build_pieces(rx_tokenizer *tok)
{
    size_t max_len = 0, total = 0;
    for (uint32_t i = 0; i < tok->n_vocab; i++)
        if (tok->toks[i].len > max_len) max_len = tok->toks[i].len;
    char *scratch = malloc(3 * max_len + 4);
    tok->piece_off = malloc(tok->n_vocab * sizeof *tok->piece_off);
    tok->piece_len = malloc(tok->n_vocab * sizeof *tok->piece_len);
    if (!scratch || !tok->piece_off || !tok->piece_len) goto nomem;
    for (uint32_t i = 0; i < tok->n_vocab; i++) {
        size_t n = piece_into(tok, (int32_t)i, scratch);
        tok->piece_len[i] = (uint32_t)n;
        total += n;
        if (n > tok->max_piece) tok->max_piece = n;
    }
    if (total > UINT32_MAX) {
        free(scratch);
        return rx_error(RX_ERR_FORMAT, "tokenizer: detokenized vocabulary too large");
    }
    tok->pieces = malloc(total ? total : 1);
    if (!tok->pieces) goto nomem;
    size_t off = 0;
    for (uint32_t i = 0; i < tok->n_vocab; i++) {
        tok->piece_off[i] = (uint32_t)off;
        off += piece_into(tok, (int32_t)i, tok->pieces + off);
    }
    free(scratch);
    return RX_OK;
nomem:
    free(scratch);
    return rx_error(RX_ERR_NOMEM, "tokenizer: piece cache");
}

rx_status rx_token_piece(const rx_tokenizer *tok, int32_t id, bool special, const char **piece,
                         size_t *len)
{
    if (id < 0 || (uint32_t)id >= tok->n_vocab) {
        *piece = "";
        *len = 0;
        return rx_error(RX_ERR_RANGE, "detokenize: token id %d outside the vocabulary (%u)", id,
                        tok->n_vocab);
    }
    *piece = tok->pieces + tok->piece_off[id];
    *len = tok->piece_len[id];
    if (!special && (tok->toks[id].attr & (RX_TATTR_CONTROL | RX_TATTR_UNKNOWN))) *len = 0;
    return RX_OK;
}

/* --- streaming --- */

struct rx_detok {
    const rx_tokenizer *tok; /* borrowed */
    unsigned flags;
    bool started;    /* a non-BOS token has been seen since the last reset */
    uint8_t pend[4]; /* an incomplete UTF-8 sequence carried to the next token */
    size_t n_pend;
    char *in;  /* owned: pend + the new piece */
    char *out; /* owned: what push/flush hand back */
};

rx_status rx_detok_create(const rx_tokenizer *tok, unsigned flags, rx_detok **out)
{
    *out = NULL;
    rx_detok *d = calloc(1, sizeof *d);
    size_t cap = tok->max_piece + 4;
    if (d) d->in = malloc(cap), d->out = malloc(3 * cap);
    if (!d || !d->in || !d->out) {
        rx_detok_destroy(d);
        return rx_error(RX_ERR_NOMEM, "detokenizer");
    }
    d->tok = tok;
    d->flags = flags;
    *out = d;
    return RX_OK;
}

void rx_detok_destroy(rx_detok *d)
{
    if (!d) return;
    free(d->in);
    free(d->out);
    free(d);
}

void rx_detok_reset(rx_detok *d)
{
    d->started = false;
    d->n_pend = 0;
}

static size_t put_replacement(char *o)
{
    return rx_utf8_encode(RX_UNICODE_REPLACEMENT, (uint8_t *)o);
}

rx_status rx_detok_push(rx_detok *d, int32_t id, const char **text, size_t *len)
{
    const rx_tokenizer *tok = d->tok;
    const char *piece;
    size_t n;
    *text = d->out;
    *len = 0;
    rx_status s = rx_token_piece(tok, id, d->flags & RX_DETOK_SPECIAL, &piece, &n);
    if (s != RX_OK) return s;
    if (!d->started && !(id == tok->bos && tok->add_bos)) {
        d->started = true;
        bool strip =
            tok->type == RX_VOCAB_SPM && tok->add_space_prefix && !(d->flags & RX_DETOK_KEEP_SPACE);
        if (strip && n > 0 && piece[0] == ' ') piece++, n--;
    }
    memcpy(d->in, d->pend, d->n_pend);
    memcpy(d->in + d->n_pend, piece, n);
    n += d->n_pend;
    d->n_pend = 0;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int r = rx_utf8_check((const uint8_t *)d->in + i, n - i);
        if (r > 0) {
            memcpy(d->out + o, d->in + i, (size_t)r);
            o += (size_t)r;
            i += (size_t)r;
        } else if (r == 0) { /* incomplete: wait for the next piece */
            d->n_pend = n - i;
            memcpy(d->pend, d->in + i, d->n_pend);
            break;
        } else {
            o += put_replacement(d->out + o);
            i++;
        }
    }
    *len = o;
    return RX_OK;
}

rx_status rx_detok_flush(rx_detok *d, const char **text, size_t *len)
{
    *text = d->out;
    *len = d->n_pend ? put_replacement(d->out) : 0;
    rx_detok_reset(d);
    return RX_OK;
}

rx_status rx_detokenize(const rx_tokenizer *tok, const int32_t *ids, size_t n_ids, unsigned flags,
                        char *out, size_t cap, size_t *n_out)
{
    rx_detok *d;
    *n_out = 0;
    rx_status s = rx_detok_create(tok, flags, &d);
    size_t total = 0;
    for (size_t i = 0; i <= n_ids && s == RX_OK; i++) {
        const char *t;
        size_t n;
        s = i < n_ids ? rx_detok_push(d, ids[i], &t, &n) : rx_detok_flush(d, &t, &n);
        if (s == RX_OK && total + n <= cap) memcpy(out + total, t, n);
        total += n;
    }
    rx_detok_destroy(d);
    if (s != RX_OK) return s;
    *n_out = total;
    return total > cap ? RX_ERR_FULL : RX_OK;
}
