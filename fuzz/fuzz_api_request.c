/* libFuzzer target for the API request parser (serve/api_request.c, api_inputs.c) and what
 * consumes its output. The first byte picks the kind ('0' chat, '1' completion, '2'
 * embedding: byte % 3), the rest is the body. A refusal must be a 400/413 naming a short
 * param, and its error JSON must parse; an accepted request must keep every documented limit,
 * render under every chat template family, and its texts (and the raw body itself, as
 * arbitrary bytes) must come out of the response builders as JSON that parses back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "reflex/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_api_request: invariant broken: %s\n", what);
        abort();
    }
}

/* s must be JSON that jansson reads back (NUL bytes arrive as \u0000); frees s. */
static void check_json(char *s, const char *what)
{
    check(s != NULL, what);
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    check(j != NULL, what);
    json_decref(j);
    free(s);
}

static void check_refusal(rx_status s, const rx_api_request *r, const rx_api_error *e)
{
    check(s == RX_ERR_FORMAT || s == RX_ERR_INVALID_ARG, "refusal status");
    check(e->http_status == 400 || e->http_status == 413, "refusal http status");
    check(e->type != NULL && strcmp(e->type, "invalid_request_error") == 0, "refusal type");
    check(memchr(e->param, 0, sizeof e->param) != NULL, "param terminated");
    check(memchr(e->message, 0, sizeof e->message) != NULL && e->message[0], "message");
    check(!r->messages && !r->prompts && !r->stop && !r->model && !r->user && !r->domain,
          "refused request is empty");
    check_json(rx_api_error_json(e), "error json");
}

static int valid_role(const char *role)
{
    static const char *const roles[] = {"system", "user", "assistant", "tool", "developer"};
    for (size_t i = 0; i < 5; i++)
        if (strcmp(role, roles[i]) == 0) return 1;
    return 0;
}

static void check_limits(const rx_api_request *r, rx_api_kind kind)
{
    check(r->kind == kind, "kind");
    if (kind == RX_API_CHAT) {
        check(r->n_messages >= 1 && r->n_messages <= 4096 && r->messages, "message count");
        for (size_t i = 0; i < r->n_messages; i++)
            check(r->messages[i].role && valid_role(r->messages[i].role) && r->messages[i].content,
                  "message");
    } else {
        check(r->n_prompts >= 1 && r->prompts, "prompt count");
        check(r->n_prompts <= (kind == RX_API_COMPLETION ? 16u : 256u), "prompt limit");
        for (size_t i = 0; i < r->n_prompts; i++) {
            const rx_api_prompt *p = &r->prompts[i];
            check((p->text != NULL) != (p->ids != NULL), "prompt is text or ids");
            if (p->ids) check(p->n_ids >= 1, "ids non-empty");
            for (size_t k = 0; k < p->n_ids; k++)
                check(p->ids[k] >= 0, "id range");
        }
    }
    check(r->max_tokens == -1 || r->max_tokens >= 1, "max_tokens");
    check(r->temperature >= 0 && r->temperature <= 2, "temperature");
    check(r->top_p > 0 && r->top_p <= 1, "top_p");
    check(r->n >= 1 && r->n <= 16, "n");
    check(r->n_stop <= 4, "stop count");
    for (size_t i = 0; i < r->n_stop; i++)
        check(r->stop[i] && r->stop[i][0], "stop string");
    check(r->logprobs >= -1 && r->logprobs <= 20, "logprobs");
    check(r->presence_penalty >= -2 && r->presence_penalty <= 2, "presence_penalty");
    check(r->frequency_penalty >= -2 && r->frequency_penalty <= 2, "frequency_penalty");
    check(r->top_k >= 0 && r->min_p >= 0 && r->min_p <= 1 && r->repeat_penalty > 0, "extras");
    check(!r->include_usage || r->stream, "include_usage only with stream");
    rx_sampler_params p = rx_api_sampler_params(r);
    check(p.n_top_logprobs >= 0 && p.n_top_logprobs <= RX_MAX_TOP_LOGPROBS, "n_top_logprobs");
}

/* Text through the response builders; the result must be JSON whatever the bytes. */
static void respond(rx_api_kind kind, const char *text, size_t len)
{
    rx_api_meta meta = {"id", "model", 1, 1, 1, 0};
    rx_api_choice c = {text, len, "stop", NULL, 0};
    check_json(rx_api_response_json(kind, &meta, &c, 1, NULL), "response json");
    check_json(rx_api_chunk_json(kind, &meta, 0, true, text, len, NULL, 0, NULL, NULL),
               "chunk json");
}

static void accepted(const rx_api_request *r, rx_api_kind kind)
{
    check_limits(r, kind);
    if (kind == RX_API_CHAT) {
        for (int f = RX_CHAT_PLAIN; f <= RX_CHAT_MISTRAL; f++) {
            char *s = rx_chat_render((rx_chat_family)f, r->messages, r->n_messages);
            check(s != NULL, "render");
            free(s);
        }
        respond(kind, r->messages[0].content, strlen(r->messages[0].content));
    } else if (r->prompts[0].text) {
        respond(RX_API_COMPLETION, r->prompts[0].text, strlen(r->prompts[0].text));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    rx_api_kind kind = (rx_api_kind)(RX_API_CHAT + data[0] % 3);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    rx_api_request r;
    rx_api_error e;
    rx_status s = rx_api_parse(kind, body, len, &r, &e);
    if (s == RX_OK)
        accepted(&r, kind);
    else
        check_refusal(s, &r, &e);
    rx_api_request_free(&r);

    /* the body as arbitrary bytes: response text, and template text for detection */
    respond(kind == RX_API_CHAT ? RX_API_CHAT : RX_API_COMPLETION, body, len);
    char *tmpl = malloc(len + 1);
    if (tmpl) {
        memcpy(tmpl, body, len);
        tmpl[len] = '\0';
        rx_chat_family f = rx_chat_detect(tmpl);
        check(f >= RX_CHAT_PLAIN && f <= RX_CHAT_MISTRAL, "detect");
        free(tmpl);
    }
    return 0;
}
