/* Completions, chat completions and embeddings: a request is parsed (api.h), its prompts are
 * rendered and tokenized, each choice is submitted to the scheduler, and the scheduler's events
 * (which arrive on its thread) are copied and posted to the event loop, where they become SSE
 * chunks or one JSON response. A job lives until every choice has had its terminal event and
 * the HTTP request is finished; a client that goes away cancels its choices. */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/hash.h"
#include "serve/node_internal.h"

#define RX_MAX_CHOICES 16

typedef struct {
    gen_job *job;
    int index;
    uint64_t sched_id;
    bool submitted, done, started;
    char *text; /* owned: generated text so far (non-streamed responses) */
    size_t len, cap;
    rx_api_token *tokens; /* owned: for logprobs */
    size_t n_tokens, cap_tokens;
    const char *finish;
    uint64_t last_token_ns;
    float *embedding; /* owned */
    int32_t n_prompt, n_cached, n_generated;
} choice;

struct gen_job {
    rx_node *node;
    gen_job *next;    /* node's job list */
    rx_http_req *req; /* finished (and NULL) once answered */
    rx_api_request api;
    rx_api_kind kind;
    char id[48];
    char tenant[160];
    char trace[56];
    int64_t created;
    uint64_t t0_ns, ttft_ns;
    int n_choices, n_done;
    choice choices[RX_MAX_CHOICES];
    int32_t *prompt_ids[RX_MAX_CHOICES]; /* owned: tokenized prompts, one per prompt */
    int32_t n_prompt_ids[RX_MAX_CHOICES];
    char *prompt_text[RX_MAX_CHOICES]; /* owned: for echo */
    bool stream, failed;
    rx_api_error error; /* the first failure of a choice */
    /* "reflex": {"continue_ids": [...]} / {"continue": "..."}: a gateway resuming a stream that
     * another node started; the ids (or text) follow the prompt */
    int32_t *cont_ids; /* owned */
    size_t n_cont;
    char *cont_text; /* owned */
};

/* A scheduler event copied for the trip to the loop thread. */
typedef struct {
    choice *ch;
    rx_sched_event ev; /* pointers inside refer to the copies below */
    rx_sample_info info;
    char *text;
    float *embedding;
    char *message;
    uint64_t at_ns;
} posted;

static const char *finish_name(rx_finish_reason f)
{
    return f == RX_FINISH_LENGTH ? "length" : "stop";
}

static const char *kind_path(rx_api_kind k)
{
    return k == RX_API_CHAT         ? "/v1/chat/completions"
           : k == RX_API_COMPLETION ? "/v1/completions"
                                    : "/v1/embeddings";
}

static void job_free(gen_job *j)
{
    rx_node *n = j->node;
    for (gen_job **p = &n->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            n->n_jobs--;
            break;
        }
    for (int i = 0; i < RX_MAX_CHOICES; i++) {
        free(j->choices[i].text);
        free(j->choices[i].tokens);
        free(j->choices[i].embedding);
        free(j->prompt_ids[i]);
        free(j->prompt_text[i]);
    }
    rx_api_request_free(&j->api);
    free(j->cont_ids);
    free(j->cont_text);
    free(j);
}

static bool append(choice *c, const char *s, size_t len)
{
    if (c->len + len + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        while (cap < c->len + len + 1)
            cap *= 2;
        char *t = realloc(c->text, cap);
        if (!t) return false;
        c->text = t;
        c->cap = cap;
    }
    memcpy(c->text + c->len, s, len);
    c->len += len;
    c->text[c->len] = '\0';
    return true;
}

static bool keep_token(choice *c, int32_t id, const rx_sample_info *info)
{
    if (c->n_tokens == c->cap_tokens) {
        size_t cap = c->cap_tokens ? c->cap_tokens * 2 : 64;
        rx_api_token *t = realloc(c->tokens, cap * sizeof *t);
        if (!t) return false;
        c->tokens = t;
        c->cap_tokens = cap;
    }
    c->tokens[c->n_tokens].id = id;
    c->tokens[c->n_tokens].info = *info;
    c->n_tokens++;
    return true;
}

/* Choices each prompt gets: n, but one vector per input for embeddings. */
static int per_prompt(const gen_job *j)
{
    return j->kind == RX_API_EMBEDDING ? 1 : (j->api.n > 0 ? j->api.n : 1);
}

/* The request field that holds the prompt, for errors about it. */
static const char *prompt_param(rx_api_kind k)
{
    return k == RX_API_CHAT ? "messages" : k == RX_API_EMBEDDING ? "input" : "prompt";
}

static rx_api_meta meta_of(const gen_job *j)
{
    rx_api_meta m = {j->id, j->api.model ? j->api.model : j->node->model_id, j->created, 0, 0, 0};
    for (int i = 0; i < j->n_choices; i++) {
        const choice *c = &j->choices[i];
        /* each prompt counts once, however many choices it has */
        if (i % per_prompt(j) == 0) m.prompt_tokens += c->n_prompt;
        m.completion_tokens += c->n_generated;
        m.cached_tokens += c->n_cached;
    }
    return m;
}

static void sse(gen_job *j, const char *data)
{
    if (!j->req || !data) return;
    size_t len = strlen(data);
    char *frame = malloc(len + 9);
    if (!frame) return;
    memcpy(frame, "data: ", 6);
    memcpy(frame + 6, data, len);
    memcpy(frame + 6 + len, "\n\n", 3);
    rx_http_stream_write(j->req, frame, len + 8);
    free(frame);
}

static void log_and_count(gen_job *j, int status)
{
    rx_node *n = j->node;
    rx_api_meta m = meta_of(j);
    const double total_ms = (double)(rx_now_ns() - j->t0_ns) / 1e6;
    rx_node__log(n, j->id, j->tenant, "POST", kind_path(j->kind), status, m.prompt_tokens,
                 m.completion_tokens, (double)j->ttft_ns / 1e6, total_ms, j->trace);
    rx_metrics_request(&n->metrics, status);
    if (status == 200) {
        rx_hist_observe(&n->metrics.e2e, total_ms / 1e3);
        rx_hist_observe(&n->metrics.prompt_tokens, m.prompt_tokens);
        rx_hist_observe(&n->metrics.output_tokens, m.completion_tokens);
    }
}

/* Every choice has ended: answer (or end the stream) and free the job. */
static void finish(gen_job *j)
{
    rx_node *n = j->node;
    const bool gone = j->req && !rx_http_alive(j->req);
    int status = j->failed ? j->error.http_status : gone ? 499 : 200;
    if (j->stream && j->req) {
        if (j->failed) {
            char *e = rx_api_error_json(&j->error);
            sse(j, e);
            free(e);
        } else if (j->api.include_usage) {
            rx_api_meta m = meta_of(j);
            char *u = rx_api_usage_chunk_json(j->kind, &m);
            sse(j, u);
            free(u);
        }
        sse(j, "[DONE]");
        rx_http_stream_end(j->req);
    } else if (j->req && j->failed) {
        rx_node__error(n, j->req, &j->error); /* counts it */
    } else if (j->req) {
        rx_api_meta m = meta_of(j);
        char *body = NULL;
        if (j->kind == RX_API_EMBEDDING) {
            const float *vecs[RX_MAX_CHOICES];
            for (int i = 0; i < j->n_choices; i++)
                vecs[i] = j->choices[i].embedding;
            body = rx_api_embeddings_json_as(&m, vecs, (size_t)j->n_choices,
                                             (int32_t)rx_model_hparams_of(n->model)->n_embd,
                                             j->api.embedding_base64);
        } else {
            rx_api_choice out[RX_MAX_CHOICES];
            const int per = per_prompt(j);
            for (int i = 0; i < j->n_choices; i++) {
                choice *c = &j->choices[i];
                /* echo: the prompt leads the text (logprobs cover generated tokens only) */
                const char *echo =
                    j->kind == RX_API_COMPLETION && j->api.echo ? j->prompt_text[i / per] : NULL;
                if (echo && echo[0]) {
                    size_t el = strlen(echo);
                    char *t = malloc(el + c->len + 1);
                    if (t) {
                        memcpy(t, echo, el);
                        if (c->len) memcpy(t + el, c->text, c->len);
                        t[el + c->len] = '\0';
                        free(c->text);
                        c->text = t;
                        c->len += el;
                        c->cap = c->len + 1;
                    }
                }
                out[i] = (rx_api_choice){c->text ? c->text : "", c->len, c->finish, c->tokens,
                                         c->n_tokens};
            }
            body = rx_api_response_json(j->kind, &m, out, (size_t)j->n_choices, n->tok);
        }
        if (body) {
            rx_http_respond(j->req, 200, "application/json", body, strlen(body));
        } else {
            status = 500;
            const char *e = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}";
            rx_http_respond(j->req, 500, "application/json", e, strlen(e));
        }
        free(body);
    }
    const bool counted = j->req && j->failed && !j->stream;
    j->req = NULL;
    if (counted)
        rx_node__log(n, j->id, j->tenant, "POST", kind_path(j->kind), status, 0, 0, 0,
                     (double)(rx_now_ns() - j->t0_ns) / 1e6, j->trace);
    else
        log_and_count(j, status);
    job_free(j);
}

static void oom(gen_job *j)
{
    if (j->failed) return;
    j->failed = true;
    rx_api_set_error(&j->error, 500, "server_error", NULL, "", "out of memory");
    for (int i = 0; i < j->n_choices; i++)
        rx_sched_cancel(j->node->sched, j->choices[i].sched_id);
}

/* Appends ,"x_reflex":{"tokens":[id]} to a chunk object: a gateway that must resume this stream
 * elsewhere re-sends exactly these tokens (clients ignore the unknown field). */
static char *with_token_id(char *chunk, int32_t id)
{
    size_t n = chunk ? strlen(chunk) : 0;
    if (id < 0 || n < 2 || chunk[n - 1] != '}') return chunk;
    char tail[64];
    int w = snprintf(tail, sizeof tail, ",\"x_reflex\":{\"tokens\":[%d]}}", id);
    char *out = realloc(chunk, n + (size_t)w + 1);
    if (!out) return chunk;
    memcpy(out + n - 1, tail, (size_t)w + 1);
    return out;
}

/* Text for a choice: kept for the final answer, or sent as a stream chunk now. */
static void emit_text(gen_job *j, choice *c, const char *text, size_t len, const rx_api_token *t,
                      int32_t id)
{
    if (!j->stream) {
        if (!append(c, text, len)) oom(j);
        return;
    }
    if (!j->req || !rx_http_alive(j->req)) return;
    rx_api_meta m = meta_of(j);
    char *chunk = rx_api_chunk_json(j->kind, &m, c->index, false, text, len, t, t ? 1 : 0, NULL,
                                    j->node->tok);
    chunk = with_token_id(chunk, id);
    sse(j, chunk);
    free(chunk);
}

static void on_token(gen_job *j, choice *c, const posted *p)
{
    rx_node *n = j->node;
    const rx_sched_event *ev = &p->ev;
    if (c->last_token_ns)
        rx_metrics_itl(&n->metrics, p->at_ns - c->last_token_ns);
    else if (!j->ttft_ns) {
        /* to the moment the token goes to the connection, not when the scheduler made it: the
         * hop to this thread is part of what a client waits for */
        j->ttft_ns = rx_now_ns() - j->t0_ns;
        rx_metrics_ttft(&n->metrics, j->ttft_ns);
    }
    c->last_token_ns = p->at_ns;
    c->n_generated++;
    atomic_fetch_add(&n->metrics.tokens_out, 1);
    rx_api_token t = {ev->token, ev->info ? *ev->info : (rx_sample_info){0}};
    const bool lp = j->api.logprobs >= 0 && ev->info;
    if (!j->stream && lp && !keep_token(c, ev->token, ev->info)) {
        oom(j);
        return;
    }
    emit_text(j, c, ev->text ? ev->text : "", ev->text_len, lp ? &t : NULL, ev->token);
}

static void on_done(gen_job *j, choice *c, const posted *p)
{
    rx_node *n = j->node;
    const rx_sched_event *ev = &p->ev;
    c->done = true;
    j->n_done++;
    if (ev->kind == RX_SCHED_ERROR) {
        if (!j->failed) {
            j->failed = true;
            rx_node__status_error(&j->error, ev->status, ev->message ? ev->message : "failed");
        }
    } else {
        if (ev->text && ev->text_len) emit_text(j, c, ev->text, ev->text_len, NULL, -1);
        c->finish = finish_name(ev->finish);
        c->n_prompt = ev->n_prompt;
        c->n_cached = ev->n_cached;
        c->n_generated = ev->n_generated;
        if (ev->finish == RX_FINISH_CANCELLED) atomic_fetch_add(&n->metrics.cancelled, 1);
        rx_hist_observe(&n->metrics.queue_wait, (double)ev->queue_ns / 1e9);
        atomic_fetch_add(&n->metrics.tokens_in, (uint64_t)ev->n_prompt);
        if (p->embedding) {
            c->embedding = p->embedding;
            ((posted *)p)->embedding = NULL;
        }
        if (j->stream && j->req && rx_http_alive(j->req) && !j->failed) {
            rx_api_meta m = meta_of(j);
            char *chunk =
                rx_api_chunk_json(j->kind, &m, c->index, false, "", 0, NULL, 0, c->finish, n->tok);
            sse(j, chunk);
            free(chunk);
        }
    }
    if (j->n_done == j->n_choices) finish(j);
}

static void deliver(void *arg)
{
    posted *p = arg;
    choice *c = p->ch;
    gen_job *j = c->job;
    if (p->ev.kind == RX_SCHED_TOKEN)
        on_token(j, c, p);
    else
        on_done(j, c, p);
    free(p->text);
    free(p->embedding);
    free(p->message);
    free(p);
}

/* Scheduler thread: copy the event and hand it to the loop. */
static void on_event(const rx_sched_event *ev, void *user)
{
    choice *c = user;
    posted *p = calloc(1, sizeof *p);
    if (!p) return; /* a lost token under memory exhaustion; the terminal event still tries */
    p->ch = c;
    p->ev = *ev;
    p->at_ns = rx_now_ns();
    if (ev->info) {
        p->info = *ev->info;
        p->ev.info = &p->info;
    }
    if (ev->text && ev->text_len) {
        p->text = malloc(ev->text_len);
        if (p->text)
            memcpy(p->text, ev->text, ev->text_len);
        else
            p->ev.text_len = 0;
    }
    p->ev.text = p->text;
    if (ev->embedding && ev->n_embd > 0) {
        p->embedding = malloc((size_t)ev->n_embd * sizeof(float));
        if (p->embedding) memcpy(p->embedding, ev->embedding, (size_t)ev->n_embd * sizeof(float));
    }
    p->ev.embedding = p->embedding;
    if (ev->message) p->message = strdup(ev->message);
    p->ev.message = p->message;
    if (rx_http_post(c->job->node->http, deliver, p) != RX_OK) {
        free(p->text);
        free(p->embedding);
        free(p->message);
        free(p);
    }
}

static void on_client_gone(void *arg)
{
    gen_job *j = arg;
    for (int i = 0; i < j->n_choices; i++)
        if (j->choices[i].submitted && !j->choices[i].done)
            rx_sched_cancel(j->node->sched, j->choices[i].sched_id);
}

static void make_id(gen_job *j)
{
    unsigned char b[12];
    if (RAND_bytes(b, sizeof b) != 1) memset(b, 0x42, sizeof b);
    const char *prefix = j->kind == RX_API_CHAT         ? "chatcmpl-"
                         : j->kind == RX_API_COMPLETION ? "cmpl-"
                                                        : "embd-";
    size_t off = (size_t)snprintf(j->id, sizeof j->id, "%s", prefix);
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(j->id + off + 2 * i, 3, "%02x", b[i]);
}

/* Tokenizes text (BOS as the model asks); the ids are malloc'd. */
static rx_status tokenize(rx_node *n, const char *text, bool parse_special, int32_t **ids,
                          int32_t *n_ids)
{
    size_t len = strlen(text), cap = len + 8, got = 0;
    int32_t *buf = malloc(cap * sizeof *buf);
    if (!buf) return rx_error(RX_ERR_NOMEM, "no memory to tokenize %zu bytes", len);
    rx_status s = rx_tokenize(n->tok, text, len, true, parse_special, buf, cap, &got);
    if (s != RX_OK) {
        free(buf);
        return s;
    }
    *ids = buf;
    *n_ids = (int32_t)got;
    return RX_OK;
}

/* Reads the resumption extension from the body (rx_api_parse ignores "reflex" fields it does not
 * know). */
static bool read_continuation(gen_job *j, const char *body, size_t len, rx_api_error *err)
{
    json_error_t e;
    json_t *o = json_loadb(body, len, 0, &e);
    json_t *rx = json_object_get(o, "reflex");
    json_t *ids = json_object_get(rx, "continue_ids"), *text = json_object_get(rx, "continue");
    bool ok = true;
    const int32_t n_vocab = rx_tokenizer_n_vocab(j->node->tok);
    if (ids && (!json_is_array(ids) || json_array_size(ids) > (size_t)j->node->n_ctx)) {
        rx_api_set_error(err, 400, "invalid_request_error", "reflex.continue_ids", "",
                         "reflex.continue_ids must be an array of at most %d token ids",
                         j->node->n_ctx);
        ok = false;
    } else if (ids && json_array_size(ids)) {
        j->n_cont = json_array_size(ids);
        j->cont_ids = malloc(j->n_cont * sizeof *j->cont_ids);
        for (size_t i = 0; ok && i < j->n_cont; i++) {
            json_t *v = json_array_get(ids, i);
            json_int_t id = json_integer_value(v);
            if (!j->cont_ids || !json_is_integer(v) || id < 0 || id >= n_vocab) {
                rx_api_set_error(err, 400, "invalid_request_error", "reflex.continue_ids", "",
                                 "reflex.continue_ids[%zu] is not a token id (0..%d)", i,
                                 n_vocab - 1);
                ok = false;
            } else {
                j->cont_ids[i] = (int32_t)id;
            }
        }
    }
    if (ok && text) {
        if (!json_is_string(text)) {
            rx_api_set_error(err, 400, "invalid_request_error", "reflex.continue", "",
                             "reflex.continue must be a string");
            ok = false;
        } else {
            j->cont_text = strndup(json_string_value(text), json_string_length(text));
        }
    }
    json_decref(o);
    return ok;
}

/* Appends the continuation to prompt i (ids first-class; text for chat resumptions). */
static rx_status add_continuation(gen_job *j, size_t i)
{
    if (!j->n_cont) return RX_OK;
    int32_t *ids =
        realloc(j->prompt_ids[i], ((size_t)j->n_prompt_ids[i] + j->n_cont) * sizeof *ids);
    if (!ids) return rx_error(RX_ERR_NOMEM, "no memory");
    memcpy(ids + j->n_prompt_ids[i], j->cont_ids, j->n_cont * sizeof *ids);
    j->prompt_ids[i] = ids;
    j->n_prompt_ids[i] += (int32_t)j->n_cont;
    return RX_OK;
}

/* Renders and tokenizes every prompt of the request into the job; fills err on failure. */
static bool prepare_prompts(gen_job *j, rx_api_error *err)
{
    rx_node *n = j->node;
    const rx_api_request *a = &j->api;
    size_t n_prompts = j->kind == RX_API_CHAT ? 1 : a->n_prompts;
    const int per = per_prompt(j);
    if (n_prompts * (size_t)per > RX_MAX_CHOICES) {
        rx_api_set_error(err, 400, "invalid_request_error", "n", "",
                         "%zu prompts x n=%d is more than %d sequences per request", n_prompts, per,
                         RX_MAX_CHOICES);
        return false;
    }
    for (size_t i = 0; i < n_prompts; i++) {
        rx_status s = RX_OK;
        if (j->kind == RX_API_CHAT) {
            char *text = rx_chat_render(n->chat, a->messages, a->n_messages);
            if (!text)
                s = rx_error(RX_ERR_NOMEM, "no memory to render the chat");
            else {
                const char *lead = a->messages[0].content ? a->messages[0].content : "";
                rx_node__remember_digest(n, rx_prefix_digest(lead, strlen(lead)));
                s = tokenize(n, text, true, &j->prompt_ids[i], &j->n_prompt_ids[i]);
                j->prompt_text[i] = text;
            }
        } else if (a->prompts[i].text) {
            const char *t = a->prompts[i].text;
            rx_node__remember_digest(n, rx_prefix_digest(t, strlen(t)));
            s = tokenize(n, t, false, &j->prompt_ids[i], &j->n_prompt_ids[i]);
            j->prompt_text[i] = strdup(t);
            if (!j->prompt_text[i] && s == RX_OK) s = rx_error(RX_ERR_NOMEM, "no memory");
        } else {
            const rx_api_prompt *p = &a->prompts[i];
            const int32_t n_vocab = rx_tokenizer_n_vocab(n->tok);
            for (size_t k = 0; k < p->n_ids; k++)
                if (p->ids[k] < 0 || p->ids[k] >= n_vocab) {
                    rx_api_set_error(
                        err, 400, "invalid_request_error", prompt_param(j->kind), "",
                        "token id %d at position %zu is outside the vocabulary (0..%d)", p->ids[k],
                        k, n_vocab - 1);
                    return false;
                }
            j->prompt_ids[i] = malloc((p->n_ids ? p->n_ids : 1) * sizeof(int32_t));
            if (!j->prompt_ids[i])
                s = rx_error(RX_ERR_NOMEM, "no memory");
            else {
                memcpy(j->prompt_ids[i], p->ids, p->n_ids * sizeof(int32_t));
                j->n_prompt_ids[i] = (int32_t)p->n_ids;
            }
        }
        if (s == RX_OK) s = add_continuation(j, i);
        if (s != RX_OK) {
            rx_node__status_error(err, s, rx_last_error());
            return false;
        }
        if (j->n_prompt_ids[i] == 0) {
            rx_api_set_error(err, 400, "invalid_request_error", prompt_param(j->kind), "",
                             "the prompt is empty after tokenization");
            return false;
        }
    }
    j->n_choices = (int)n_prompts * per;
    return true;
}

/* Checks prompt + max_tokens against the context before anything is queued. */
static bool check_lengths(gen_job *j, rx_api_error *err)
{
    const int32_t n_ctx = j->node->n_ctx;
    const int per = per_prompt(j);
    for (int i = 0; i < j->n_choices / per; i++) {
        int32_t np = j->n_prompt_ids[i];
        int64_t want =
            j->kind == RX_API_EMBEDDING ? 0 : (j->api.max_tokens > 0 ? j->api.max_tokens : 1);
        if ((int64_t)np + want > n_ctx) {
            const char *param = prompt_param(j->kind);
            if (j->api.max_tokens > 0)
                rx_api_set_error(err, 400, "invalid_request_error", param,
                                 "context_length_exceeded",
                                 "this model's context is %d tokens; the prompt has %d tokens and "
                                 "max_tokens asks for %d more (%lld in all)",
                                 n_ctx, np, j->api.max_tokens, (long long)np + want);
            else
                rx_api_set_error(err, 400, "invalid_request_error", param,
                                 "context_length_exceeded",
                                 "this model's context is %d tokens; the prompt has %d tokens, "
                                 "leaving no room to generate",
                                 n_ctx, np);
            return false;
        }
    }
    return true;
}

static rx_status submit_all(gen_job *j)
{
    rx_node *n = j->node;
    const int per = per_prompt(j);
    rx_sampler_params sp = rx_api_sampler_params(&j->api);
    for (int i = 0; i < j->n_choices; i++) {
        choice *c = &j->choices[i];
        c->job = j;
        c->index = i;
        const int p = i / per;
        rx_sched_request r = {0};
        r.prompt = j->prompt_ids[p];
        r.n_prompt = j->n_prompt_ids[p];
        r.sampling = sp;
        r.sampling.seed = sp.seed + (uint64_t)(i % per); /* n choices of one seed differ */
        r.max_tokens = j->api.max_tokens > 0 ? j->api.max_tokens : n->n_ctx - r.n_prompt;
        r.stop = (const char *const *)j->api.stop;
        r.n_stop = (int32_t)j->api.n_stop;
        r.tenant = j->tenant;
        r.embedding = j->kind == RX_API_EMBEDDING;
        r.ignore_eog = j->api.ignore_eos;
        r.logprobs = j->api.logprobs >= 0;
        r.on_event = on_event;
        r.user = c;
        rx_status s = rx_sched_submit(n->sched, &r, &c->sched_id);
        if (s != RX_OK) return s;
        c->submitted = true;
    }
    return RX_OK;
}

static void start_stream(gen_job *j)
{
    rx_node *n = j->node;
    rx_http_add_header(j->req, "Cache-Control", "no-cache");
    rx_http_stream_start(j->req, 200, "text/event-stream");
    rx_api_meta m = meta_of(j);
    for (int i = 0; i < j->n_choices; i++) {
        /* the role (chat) or the echoed prompt (completions) goes first */
        const char *echo = "";
        if (j->kind == RX_API_COMPLETION && j->api.echo) echo = j->prompt_text[i / per_prompt(j)];
        if (j->kind == RX_API_COMPLETION && !echo[0]) continue;
        char *chunk =
            rx_api_chunk_json(j->kind, &m, i, true, echo, strlen(echo), NULL, 0, NULL, n->tok);
        sse(j, chunk);
        free(chunk);
    }
}

void rx_node__generate(rx_node *n, rx_http_req *req, rx_api_kind kind, const char *tenant,
                       const char *trace)
{
    rx_api_error err;
    memset(&err, 0, sizeof err);
    if (n->draining) {
        rx_api_set_error(&err, 503, "server_error", NULL, "draining", "the node is shutting down");
        rx_node__error(n, req, &err);
        return;
    }
    gen_job *j = calloc(1, sizeof *j);
    if (!j) {
        rx_api_set_error(&err, 500, "server_error", NULL, "", "out of memory");
        rx_node__error(n, req, &err);
        return;
    }
    j->node = n;
    j->req = req;
    j->kind = kind;
    j->t0_ns = rx_now_ns();
    j->created = (int64_t)time(NULL);
    snprintf(j->trace, sizeof j->trace, "%s", trace);
    make_id(j);
    j->next = n->jobs;
    n->jobs = j;
    n->n_jobs++;

    size_t body_len;
    const char *body = rx_http_body(req, &body_len);
    bool ok = rx_api_parse(kind, body, body_len, &j->api, &err) == RX_OK;
    if (ok && j->api.model && strcmp(j->api.model, n->model_id) != 0 &&
        strcmp(j->api.model, n->cfg.model_path) != 0) {
        rx_api_set_error(&err, 404, "invalid_request_error", "model", "model_not_found",
                         "the model '%s' is not served here (this node serves '%s')", j->api.model,
                         n->model_id);
        ok = false;
    }
    /* the prefix cache is partitioned by API key and by user within a key */
    snprintf(j->tenant, sizeof j->tenant, "%s/%s", tenant, ok && j->api.user ? j->api.user : "");
    j->stream = ok && j->api.stream && kind != RX_API_EMBEDDING;
    if (ok) ok = read_continuation(j, body, body_len, &err);
    if (ok && (j->n_cont || j->cont_text) && (j->api.n > 1 || j->api.n_prompts > 1)) {
        rx_api_set_error(&err, 400, "invalid_request_error", "reflex", "",
                         "a continuation needs a single prompt and n = 1");
        ok = false;
    }
    if (ok) ok = prepare_prompts(j, &err) && check_lengths(j, &err);
    rx_status s = ok ? submit_all(j) : RX_OK;
    if (ok && s != RX_OK) {
        rx_node__status_error(&err, s, rx_last_error());
        ok = false;
    }
    if (!ok) {
        /* choices already queued get cancelled; the last terminal event answers */
        int pending = 0;
        for (int i = 0; i < j->n_choices; i++)
            if (j->choices[i].submitted) {
                rx_sched_cancel(n->sched, j->choices[i].sched_id);
                pending++;
            }
        if (pending) {
            j->failed = true;
            j->error = err;
            j->n_choices = pending; /* submitted ones are a prefix */
            j->stream = false;
            return;
        }
        rx_node__error(n, req, &err); /* finishes req: nothing of it may be read after */
        rx_node__log(n, j->id, j->tenant, "POST", kind_path(kind), err.http_status, 0, 0, 0,
                     (double)(rx_now_ns() - j->t0_ns) / 1e6, j->trace);
        j->req = NULL;
        job_free(j);
        return;
    }
    rx_http_on_close(req, on_client_gone, j);
    if (j->stream) start_stream(j);
}

void rx_node__cancel_all(rx_node *n)
{
    for (gen_job *j = n->jobs; j; j = j->next)
        for (int i = 0; i < j->n_choices; i++)
            if (j->choices[i].submitted && !j->choices[i].done)
                rx_sched_cancel(n->sched, j->choices[i].sched_id);
}
