/* Helpers shared by the serve/ API files (request parsing, responses, templates): valid-UTF-8
 * JSON strings from arbitrary bytes, the 400 every validation failure becomes, a growable
 * string for rendering, and the limits the parser enforces. Private to src/serve/. */
#ifndef RX_SERVE_API_INTERNAL_H
#define RX_SERVE_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "reflex/api.h"

/* Limits (each breach is a 400 naming the field, except the body size, a 413). They bound the
 * work one request can ask for; the body size bounds the rest (string lengths). */
#define RX_API_MAX_BODY ((size_t)64 << 20)      /* bytes of JSON */
#define RX_API_MAX_MESSAGES 4096                /* chat messages */
#define RX_API_MAX_PARTS 1024                   /* content parts of one message */
#define RX_API_MAX_PROMPTS 16                   /* completion prompts */
#define RX_API_MAX_INPUTS 256                   /* embedding inputs */
#define RX_API_MAX_PROMPT_IDS ((size_t)1 << 20) /* token ids of one prompt */
#define RX_API_MAX_STOP 4                       /* stop strings, as OpenAI */

/* Copies src[0..len) with every byte that is not part of a well-formed UTF-8 sequence
 * (overlong forms, surrogates, code points above U+10FFFF, truncated sequences) replaced by
 * U+FFFD, one per byte. NUL bytes are kept. Returns a malloc'd NUL-terminated string and its
 * length in *out_len, or NULL on allocation failure. */
char *rx_api__utf8_sanitize(const char *src, size_t len, size_t *out_len);

/* A jansson string holding src[0..len) made valid UTF-8 (see above); src may be NULL when len
 * is 0. NULL on allocation failure. */
json_t *rx_api__json_text(const char *src, size_t len);

/* json_dumps in the compact form every response uses; NULL when root is NULL. Consumes root. */
char *rx_api__dump(json_t *root);

/* Fills err with a 400 invalid_request_error for param (a JSON path) and returns
 * RX_ERR_INVALID_ARG, so a check reads `return rx_api__bad(err, "n", "...", ...);`. */
rx_status rx_api__bad(rx_api_error *err, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The 400 for a field of the wrong JSON type: "Invalid type for 'param': expected <expected>,
 * but got <what v is> instead." */
rx_status rx_api__bad_type(rx_api_error *err, const char *param, const char *expected,
                           const json_t *v);

/* Formats a JSON path ("messages[3].content") into out[RX_API_PATH_MAX], cut if longer (the
 * limits above keep real paths far shorter). */
#define RX_API_PATH_MAX 64
void rx_api__path(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value of key in obj, or NULL when it is absent or JSON null (an optional field given as
 * null counts as absent, as OpenAI's API treats it). */
const json_t *rx_api__field(const json_t *obj, const char *key);

/* Fills err with a 500 for an allocation failure and returns RX_ERR_NOMEM. */
rx_status rx_api__nomem(rx_api_error *err);

/* The inputs of a request, parsed into r (api_inputs.c). messages: chat; prompts: the
 * completion "prompt" or the embedding "input" under key, at most max_prompts of them, with
 * empty text refused unless allow_empty_text. */
rx_status rx_api__parse_messages(const json_t *root, rx_api_request *r, rx_api_error *err);
rx_status rx_api__parse_prompts(const json_t *root, const char *key, size_t max_prompts,
                                bool allow_empty_text, rx_api_request *r, rx_api_error *err);

/* Building responses: each step notes a failure in *ok instead of being checked on the spot;
 * jansson's setters accept a NULL container or value (and drop the value), so a failed
 * allocation anywhere surfaces once, at the end. */
static inline void rx_api__put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (json_object_set_new(obj, key, v) != 0) *ok = false;
}
static inline void rx_api__push(json_t *arr, json_t *v, bool *ok)
{
    if (json_array_append_new(arr, v) != 0) *ok = false;
}

/* The "logprobs" object of a chat choice ({"content":[{token, logprob, bytes, top_logprobs}]})
 * or of a completion choice ({tokens, token_logprobs, top_logprobs, text_offset}), for n
 * tokens rendered by tok (NULL: empty token texts). NULL on allocation failure. */
json_t *rx_api__chat_logprobs(const rx_api_token *tokens, size_t n, const rx_tokenizer *tok);
json_t *rx_api__completion_logprobs(const rx_api_token *tokens, size_t n, const rx_tokenizer *tok);

/* A growable NUL-terminated string; ok turns false on the first allocation failure, after
 * which appends do nothing (checked once at the end). Start from RX_API_STRBUF_INIT. */
typedef struct {
    char *buf; /* owned; NULL until the first append */
    size_t len, cap;
    bool ok;
} rx_api_strbuf;
#define RX_API_STRBUF_INIT                                                                         \
    {                                                                                              \
        NULL, 0, 0, true                                                                           \
    }

void rx_api__sb_append(rx_api_strbuf *sb, const char *s, size_t len);
void rx_api__sb_puts(rx_api_strbuf *sb, const char *s);
/* The string (malloc'd, owned by the caller), or NULL after an allocation failure. */
char *rx_api__sb_finish(rx_api_strbuf *sb);

#endif
