/* The OpenAI-compatible API as data: request bodies parsed and validated into plain structs
 * (jansson underneath), chat templates, and the JSON of responses, stream chunks and errors.
 * No I/O, no HTTP, no engine state: the server wires these to the scheduler. Unknown fields
 * are ignored; a known field of the wrong type or out of range is an error naming the field.
 *
 * Ownership: an rx_api_request owns every string and array it points to, freed together by
 * rx_api_request_free. Strings returned as char * are malloc'd and owned by the caller. */
#ifndef REFLEX_API_H
#define REFLEX_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/sampler.h"
#include "reflex/status.h"
#include "reflex/tokenizer.h"

typedef enum { RX_API_CHAT = 1, RX_API_COMPLETION, RX_API_EMBEDDING } rx_api_kind;

/* An error as the client sees it: HTTP status and OpenAI's {"error":{...}} fields. */
typedef struct {
    int http_status;   /* 400, 401, 404, 405, 413, 429, 500, 503 ... */
    const char *type;  /* "invalid_request_error", "authentication_error", "server_error", ... */
    char param[64];    /* the offending field ("messages[2].content"), or "" */
    char code[48];     /* OpenAI-style code ("context_length_exceeded"), or "" */
    char message[512];
} rx_api_error;

typedef struct {
    char *role;    /* "system", "user", "assistant", "tool", "developer" */
    char *content; /* a string, or the text parts of an array joined with no separator */
} rx_api_message;

typedef struct {
    char *text;     /* a text prompt, or NULL when ids are given */
    int32_t *ids;   /* token ids (prompt as an array of integers) */
    size_t n_ids;
} rx_api_prompt;

typedef struct {
    rx_api_kind kind;
    char *model;                /* NULL when absent */
    rx_api_message *messages;   /* chat: at least one */
    size_t n_messages;
    rx_api_prompt *prompts;     /* completion, embedding: at least one ("input" for embeddings) */
    size_t n_prompts;
    int32_t max_tokens;         /* max_tokens or max_completion_tokens; -1 when absent */
    float temperature;          /* default 1.0, as OpenAI's; 0..2 */
    float top_p;                /* default 1.0; (0, 1] */
    int32_t n;                  /* default 1; 1..16 */
    char **stop;                /* string or list of up to 4 non-empty strings */
    size_t n_stop;
    bool has_seed;
    uint64_t seed;
    bool stream;
    bool include_usage;         /* stream_options.include_usage */
    bool echo;                  /* completions: echo the prompt */
    int32_t logprobs;           /* -1: none; chat: top_logprobs (0..20) when logprobs is true;
                                   completions: the integer logprobs (0..5) */
    float presence_penalty;     /* -2..2, default 0 */
    float frequency_penalty;    /* -2..2, default 0 */
    char *user;                 /* NULL when absent */
    /* reflex extensions, under "reflex": {...} */
    char *domain;               /* "reflex".domain, NULL when absent */
    bool ignore_eos;            /* "reflex".ignore_eos (benchmarks) */
    int32_t top_k;              /* "top_k" (llama.cpp's extension); 0 = off */
    float min_p;                /* "min_p"; 0 = off */
    float repeat_penalty;       /* "repeat_penalty"; 1 = off */
    bool embedding_base64;      /* embeddings: encoding_format "base64" */
} rx_api_request;

/* Parses body[0..len) as a request of the given kind. On failure fills err (400 with the field
 * named, or 413 for limits) and returns RX_ERR_FORMAT or RX_ERR_INVALID_ARG; *out is then
 * empty (safe to free). */
rx_status rx_api_parse(rx_api_kind kind, const char *body, size_t len, rx_api_request *out,
                       rx_api_error *err);
void rx_api_request_free(rx_api_request *r); /* frees the members; accepts NULL */

/* The sampler settings the request asks for (temperature, top_p, top_k, min_p, penalties,
 * seed, n_top_logprobs), starting from a neutral base (no top-k/min-p unless asked). */
rx_sampler_params rx_api_sampler_params(const rx_api_request *r);

/* --- chat templates --- */
typedef enum {
    RX_CHAT_PLAIN = 0, /* no template: "role: content\n" lines, then "assistant:" */
    RX_CHAT_LLAMA2,
    RX_CHAT_LLAMA3,
    RX_CHAT_CHATML,
    RX_CHAT_ZEPHYR,
    RX_CHAT_PHI3,
    RX_CHAT_GEMMA,
    RX_CHAT_MISTRAL,
} rx_chat_family;

/* The family of a tokenizer.chat_template text (NULL: PLAIN), by its distinctive markers. */
rx_chat_family rx_chat_detect(const char *template_text);
const char *rx_chat_family_name(rx_chat_family f); /* "llama3", "chatml", ... */

/* Renders the messages with the family's format, ending with the assistant's turn opened.
 * bos is the BOS text the template writes itself (e.g. "<s>"), or "" when the tokenizer adds
 * BOS (as for the llama families). Returns a malloc'd string, NULL on allocation failure. */
char *rx_chat_render(rx_chat_family f, const rx_api_message *msgs, size_t n_msgs);

/* --- responses --- */

/* {"error":{"message","type","param","code"}} */
char *rx_api_error_json(const rx_api_error *err);
/* Fills err. */
void rx_api_set_error(rx_api_error *err, int http_status, const char *type, const char *param,
                      const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* One generated token as a response reports it, for logprobs. */
typedef struct {
    int32_t id;
    rx_sample_info info;  /* logprob and top alternatives */
} rx_api_token;

/* One choice of a finished (non-streamed) response. */
typedef struct {
    const char *text;               /* the generated text (chat: the message content) */
    size_t text_len;
    const char *finish_reason;      /* "stop", "length" */
    const rx_api_token *tokens;     /* for logprobs; NULL when not asked */
    size_t n_tokens;
} rx_api_choice;

typedef struct {
    const char *id;        /* "chatcmpl-..." / "cmpl-..." */
    const char *model;
    int64_t created;       /* unix seconds */
    int32_t prompt_tokens, completion_tokens, cached_tokens;
} rx_api_meta;

/* Whole responses: object "chat.completion" / "text_completion". tok renders tokens for
 * logprobs (token text, bytes). */
char *rx_api_response_json(rx_api_kind kind, const rx_api_meta *meta, const rx_api_choice *choices,
                           size_t n_choices, const rx_tokenizer *tok);

/* One SSE stream chunk object ("chat.completion.chunk" / "text_completion"), without the
 * "data: " framing: a delta with text (and role on a chat's first chunk when first is true),
 * optional logprobs for the tokens it carries, finish_reason when non-NULL. */
char *rx_api_chunk_json(rx_api_kind kind, const rx_api_meta *meta, int32_t index, bool first,
                        const char *text, size_t text_len, const rx_api_token *tokens,
                        size_t n_tokens, const char *finish_reason, const rx_tokenizer *tok);
/* The final usage chunk of a stream with include_usage (choices: []). */
char *rx_api_usage_chunk_json(rx_api_kind kind, const rx_api_meta *meta);

/* {"object":"list","data":[{"object":"embedding","index":i,"embedding":[...]}],"model","usage"} */
char *rx_api_embeddings_json(const rx_api_meta *meta, const float *const *vecs, size_t n_vecs,
                             int32_t n_embd);
/* The same with each vector as OpenAI's "base64" encoding (little-endian float32 bytes), which
 * the official SDKs ask for by default. */
char *rx_api_embeddings_json_as(const rx_api_meta *meta, const float *const *vecs, size_t n_vecs,
                                int32_t n_embd, bool base64);

/* {"object":"list","data":[{"id","object":"model","created","owned_by":"reflex"}]} */
char *rx_api_models_json(const char *const *ids, size_t n_ids, int64_t created);

#endif
