/* Log-probabilities in OpenAI's two shapes: chat's list of {token, logprob, bytes,
 * top_logprobs} and the legacy completions' parallel arrays. A token's piece can be a fragment
 * of a UTF-8 character (byte-fallback and byte-level tokens), so "token" carries the piece
 * made valid (U+FFFD for stray bytes) and "bytes" the raw bytes, which is how a client
 * reassembles the exact text. */
#include <math.h>
#include <stdlib.h>

#include "serve/api_internal.h"

/* A log-probability as JSON: -inf (a token the model rules out) and NaN cannot be written in
 * JSON, so they become -9999.0, the floor OpenAI reports. */
static json_t *logprob_json(float lp)
{
    return json_real(isfinite(lp) ? (double)lp : -9999.0);
}

/* The piece of id with control tokens rendered as "" (rx_token_piece's special = false); an
 * id out of range, or no tokenizer, gives "" too rather than failing the response. */
static void piece_of(const rx_tokenizer *tok, int32_t id, const char **p, size_t *len)
{
    if (!tok || rx_token_piece(tok, id, false, p, len) != RX_OK) {
        *p = "";
        *len = 0;
    }
}

static json_t *bytes_json(const char *p, size_t len)
{
    json_t *a = json_array();
    bool ok = true;
    for (size_t i = 0; i < len; i++)
        rx_api__push(a, json_integer((unsigned char)p[i]), &ok);
    if (!ok) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* {token, logprob, bytes}: one entry of chat's top_logprobs, and the head of a content item */
static json_t *chat_entry(const rx_tokenizer *tok, int32_t id, float lp)
{
    const char *p;
    size_t len;
    piece_of(tok, id, &p, &len);
    json_t *e = json_object();
    bool ok = true;
    rx_api__put(e, "token", rx_api__json_text(p, len), &ok);
    rx_api__put(e, "logprob", logprob_json(lp), &ok);
    rx_api__put(e, "bytes", bytes_json(p, len), &ok);
    if (!ok) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static int32_t n_top_of(const rx_sample_info *info)
{
    int32_t n = info->n_top;
    return n < 0 ? 0 : n > RX_MAX_TOP_LOGPROBS ? RX_MAX_TOP_LOGPROBS : n;
}

json_t *rx_api__chat_logprobs(const rx_api_token *tokens, size_t n, const rx_tokenizer *tok)
{
    json_t *root = json_object(), *content = json_array();
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const rx_sample_info *info = &tokens[i].info;
        json_t *item = chat_entry(tok, tokens[i].id, info->logprob);
        json_t *top = json_array();
        for (int32_t k = 0; k < n_top_of(info); k++)
            rx_api__push(top, chat_entry(tok, info->top[k].id, info->top[k].logprob), &ok);
        rx_api__put(item, "top_logprobs", top, &ok);
        rx_api__push(content, item, &ok);
    }
    rx_api__put(root, "content", content, &ok);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The legacy shape. text_offset counts bytes of the pieces from the start of the text this
 * object reports on (the choice's text, or the chunk's in a stream); top_logprobs maps each
 * alternative's text to its log-probability, keeping the likelier one when two alternatives
 * render to the same text. */
json_t *rx_api__completion_logprobs(const rx_api_token *tokens, size_t n, const rx_tokenizer *tok)
{
    json_t *root = json_object();
    json_t *texts = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    bool ok = true;
    size_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const rx_sample_info *info = &tokens[i].info;
        const char *p;
        size_t len;
        piece_of(tok, tokens[i].id, &p, &len);
        rx_api__push(texts, rx_api__json_text(p, len), &ok);
        rx_api__push(lps, logprob_json(info->logprob), &ok);
        rx_api__push(offs, json_integer((json_int_t)offset), &ok);
        offset += len;
        json_t *top = json_object();
        for (int32_t k = 0; k < n_top_of(info); k++) {
            piece_of(tok, info->top[k].id, &p, &len);
            size_t clean_len;
            char *clean = rx_api__utf8_sanitize(p, len, &clean_len);
            /* keys are C strings: a piece holding NUL is cut there, which only merges keys */
            if (!clean) {
                ok = false;
            } else if (!json_object_get(top, clean)) {
                rx_api__put(top, clean, logprob_json(info->top[k].logprob), &ok);
            }
            free(clean);
        }
        rx_api__push(tops, top, &ok);
    }
    rx_api__put(root, "tokens", texts, &ok);
    rx_api__put(root, "token_logprobs", lps, &ok);
    rx_api__put(root, "top_logprobs", tops, &ok);
    rx_api__put(root, "text_offset", offs, &ok);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}
