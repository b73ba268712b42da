/* Forwarding one client request: route it, send it upstream, and pass the answer back. A
 * failure before the first byte reaches the client (connection refused or reset, timeout, 5xx)
 * is retried on another eligible upstream within the retry budget. A stream whose upstream dies
 * after the client has seen part of it is resumed on another eligible upstream: the request is
 * re-sent with the text already delivered appended (a completion's prompt grows by it; a chat
 * gets it as "reflex": {"continue": ...}) and max_tokens reduced, so the client sees one
 * unbroken SSE stream. With greedy decoding the continuation is the text the first node would
 * have produced, up to tokenization of the joined text; sampled streams continue plausibly.
 * Data-domain policy is a routing filter, so a retry or a resumption never leaves the domain. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "gateway/gateway_internal.h"
#include "gateway/request_info.h"

struct gw_proxy {
    rx_gateway *g;
    rx_http_req *req; /* the client's; NULL once answered */
    char path[64];
    json_t *json; /* owned: the request body, when it is a JSON object */
    char model[128], domain[64], user[128];
    char version[128]; /* the split's pick for model, when it has a split */
    char cascade_note[96];
    uint64_t ttft_ns; /* start to the first byte the client got; 0 before */
    char *cache_key;  /* owned: the normalized request when it may be cached, or NULL */
    gw_route_req route;
    bool stream, chat;
    int upstream;       /* index of the current upstream, -1 before the first */
    rx_http_call *call; /* in flight, or NULL */
    uint64_t call_start_ns, t0_ns;
    int status; /* of the current upstream response */
    char content_type[96];
    bool head_sent;   /* the client has the response head */
    bool client_gone; /* the client disconnected: finish quietly */
    bool done_seen;   /* the upstream sent data: [DONE] */
    char *buf;        /* owned: unary body, or SSE bytes not yet framed */
    size_t len, cap;
    char *delivered; /* owned: text of choice 0 the client has seen */
    size_t dlen, dcap;
    json_t *delivered_ids; /* owned: its token ids, when the node reports them (x_reflex) */
    bool ids_complete;     /* every content chunk carried its ids */
    bool resumable;        /* a stream of one choice */
    int tokens_delivered, attempts, resumes;
    double min_confidence; /* the cascade opt-in; NAN: none */
    bool client_logprobs;  /* the client asked for logprobs itself */
    bool head_seen;        /* the current call's response head arrived */
    /* hedging (--hedge, non-streamed requests): when the call is slower than its upstream's p95,
     * a copy goes to another eligible upstream and the first good answer wins */
    rx_http_timer_rec *hedge_timer;
    rx_http_call *hedge; /* the copy in flight, or NULL */
    int hedge_upstream, hedge_status;
    int hedge_after_ms;
    uint64_t hedge_start_ns;
    char hedge_type[96];
    char *hbuf; /* owned: the copy's body */
    size_t hlen, hcap;
    bool hedged; /* one copy per request */
    char why[768];
    char trace[64];
};

static bool grow(char **b, size_t *cap, size_t need)
{
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    char *n = realloc(*b, c);
    if (!n) return false;
    *b = n;
    *cap = c;
    return true;
}

static void drop_hedge(gw_proxy *p);

static void proxy_free(gw_proxy *p)
{
    rx_http_timer_cancel(p->hedge_timer);
    drop_hedge(p);
    free(p->hbuf);
    p->g->n_active--;
    json_decref(p->json);
    json_decref(p->delivered_ids);
    free(p->cache_key);
    free(p->buf);
    free(p->delivered);
    free(p);
}

static void headers_out(gw_proxy *p, int upstream)
{
    rx_http_add_header(p->req, "x-reflex-node",
                       upstream >= 0 ? p->g->ups[upstream].spec.name : p->g->name);
    rx_http_add_header(p->req, "x-reflex-tier",
                       upstream >= 0 ? rx_tier_name(p->g->ups[upstream].spec.tier)
                                     : rx_tier_name(p->g->cfg.topo.tier));
    rx_http_add_header(p->req, "x-reflex-route", p->why);
    if (p->trace[0]) rx_http_add_header(p->req, "traceparent", p->trace);
}

static void log_line(gw_proxy *p, int status)
{
    rx_gateway *g = p->g;
    const double total_ms = (double)(rx_now_ns() - p->t0_ns) / 1e6;
    rx_hist_observe(&g->m.total, total_ms / 1e3);
    /* the one-minute SLO windows: time to first byte, and 5xx (including our 503s) as errors */
    const uint64_t now = rx_now_ns();
    const double ttft_s = p->ttft_ns ? (double)p->ttft_ns / 1e9 : -1;
    const bool error = status >= 500;
    rx_window_observe(&g->slo, now, ttft_s, error);
    if (p->upstream >= 0) {
        gw_upstream *u = &g->ups[p->upstream];
        rx_window_observe(&u->slo, now, ttft_s, error);
        if (ttft_s >= 0) rx_hist_observe(&u->ttft, ttft_s);
    }
    if (g->cfg.quiet) return;
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:f, s:s}", "path", p->path, "status",
                          status, "upstream", p->upstream >= 0 ? g->ups[p->upstream].spec.name : "",
                          "route", p->why, "attempts", p->attempts, "resumes", p->resumes,
                          "total_ms", total_ms, "traceparent", p->trace);
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (line) fprintf(stderr, "%s\n", line);
    free(line);
    json_decref(o);
}

/* The client went away: finish its request (writes are ignored by now) and free. */
static void finish_quietly(gw_proxy *p)
{
    if (p->req) {
        if (p->head_sent)
            rx_http_stream_end(p->req);
        else
            rx_http_respond(p->req, 499, "application/json", "{}", 2);
        p->req = NULL;
    }
    log_line(p, 499);
    proxy_free(p);
}

/* Answers the client with an OpenAI-style error (before any byte was sent) and ends. */
static void fail_client(gw_proxy *p, int status, const char *code, const char *msg)
{
    if (p->req) {
        if (!p->head_sent) {
            const char *type = status == 503   ? "server_error"
                               : status == 400 ? "invalid_request_error"
                                               : "upstream_error";
            json_t *e = json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", msg, "type", type,
                                  "param", "code", code);
            char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;
            json_decref(e);
            headers_out(p, -1);
            if (status == 503 || status == 429) rx_http_add_header(p->req, "Retry-After", "1");
            const char *b = body ? body : "{\"error\":{\"message\":\"unavailable\"}}";
            rx_http_respond(p->req, status, "application/json", b, strlen(b));
            free(body);
        } else {
            /* mid-stream and nowhere to resume: say so in the stream, then end it */
            json_t *e = json_pack("{s:{s:s, s:s, s:s}}", "error", "message", msg, "type",
                                  "upstream_error", "code", code);
            char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;
            json_decref(e);
            if (body) {
                char frame[1200];
                int n = snprintf(frame, sizeof frame, "data: %s\n\n", body);
                if (n > 0 && (size_t)n < sizeof frame)
                    rx_http_stream_write(p->req, frame, (size_t)n);
            }
            free(body);
            rx_http_stream_write(p->req, "data: [DONE]\n\n", 14);
            rx_http_stream_end(p->req);
        }
        p->req = NULL;
    }
    if (status == 503) p->g->m.unavailable++;
    log_line(p, status);
    proxy_free(p);
}

/* Tracks choice 0's text in one SSE event's JSON, for resumption. */
static void track_delivered(gw_proxy *p, const char *data, size_t len)
{
    json_error_t e;
    json_t *o = json_loadb(data, len, 0, &e);
    json_t *choices = json_object_get(o, "choices");
    json_t *c0 = json_array_get(choices, 0);
    if (c0 && json_integer_value(json_object_get(c0, "index")) == 0) {
        json_t *t = json_object_get(c0, "text");
        if (!t) t = json_object_get(json_object_get(c0, "delta"), "content");
        const char *s = json_string_value(t);
        size_t n = s ? json_string_length(t) : 0;
        if (n && grow(&p->delivered, &p->dcap, p->dlen + n + 1)) {
            memcpy(p->delivered + p->dlen, s, n);
            p->dlen += n;
            p->delivered[p->dlen] = '\0';
        }
        /* a reflex node reports each chunk's token ids: resumption can then be exact */
        json_t *ids = json_object_get(json_object_get(o, "x_reflex"), "tokens");
        if (json_is_array(ids) && p->delivered_ids) {
            size_t i;
            json_t *id;
            json_array_foreach(ids, i, id) json_array_append(p->delivered_ids, id);
            p->tokens_delivered += (int)json_array_size(ids);
        } else if (n) {
            p->ids_complete = false;
            p->tokens_delivered++;
        }
    }
    json_decref(o);
}

/* A resumed stream must not repeat the chat role chunk or echo: the client already has them. */
static bool resumed_preamble(const char *data, size_t len)
{
    json_error_t e;
    json_t *o = json_loadb(data, len, 0, &e);
    json_t *c0 = json_array_get(json_object_get(o, "choices"), 0);
    json_t *delta = json_object_get(c0, "delta");
    bool skip = delta && json_object_get(delta, "role") &&
                json_string_length(json_object_get(delta, "content")) == 0;
    json_decref(o);
    return skip;
}

/* Frames complete SSE events from p->buf and forwards them. */
static void forward_events(gw_proxy *p)
{
    size_t start = 0;
    for (;;) {
        char *sep = NULL;
        for (size_t i = start; i + 1 < p->len; i++)
            if (p->buf[i] == '\n' && p->buf[i + 1] == '\n') {
                sep = p->buf + i;
                break;
            }
        if (!sep) break;
        const char *ev = p->buf + start;
        const size_t ev_len = (size_t)(sep - ev);
        start = (size_t)(sep - p->buf) + 2;
        if (ev_len >= 6 && memcmp(ev, "data: ", 6) == 0) {
            const char *data = ev + 6;
            const size_t dl = ev_len - 6;
            if (dl == 6 && memcmp(data, "[DONE]", 6) == 0)
                p->done_seen = true;
            else if (p->resumes && resumed_preamble(data, dl))
                continue;
            else
                track_delivered(p, data, dl);
        }
        if (p->req) rx_http_stream_write(p->req, ev, ev_len + 2);
    }
    memmove(p->buf, p->buf + start, p->len - start);
    p->len -= start;
}

static void attempt(gw_proxy *p);

static bool may_retry(gw_proxy *p)
{
    rx_gateway *g = p->g;
    return (double)g->m.retries < g->cfg.retry_budget * (double)g->m.requests + 3;
}

/* Another eligible upstream gets the request, or the client a 503 when the budget is spent. */
static void retry_elsewhere(gw_proxy *p, const char *what)
{
    rx_gateway *g = p->g;
    if (!may_retry(p)) {
        fail_client(p, 503, "retry_budget_exhausted", what);
        return;
    }
    g->m.retries++;
    g->m.failovers++;
    attempt(p);
}

/* The current upstream failed: leave it out and try the next, or give up. */
static void upstream_failed(gw_proxy *p, const char *what)
{
    rx_gateway *g = p->g;
    gw_upstream *u = &g->ups[p->upstream];
    gw_upstream_failed(g, u);
    p->route.exclude |= 1ull << p->upstream;
    if (!g->cfg.quiet)
        fprintf(stderr, "reflex gateway: upstream %s failed (%s)%s\n", u->spec.name, what,
                p->head_sent ? ": resuming the stream elsewhere" : "");
    if (p->hedge) return; /* the hedged copy is still out: it may yet answer */
    if (p->head_sent) {
        if (!p->stream || !p->resumable) {
            fail_client(p, 502, "upstream_failed", what);
            return;
        }
        p->resumes++;
        g->m.resumed++;
        g->m.failovers++;
        attempt(p);
        return;
    }
    retry_elsewhere(p, what);
}

static void hedge_head(gw_proxy *p, int status);
static void hedge_done(gw_proxy *p, rx_status s, const char *message);

static void on_head(rx_http_call *c, int status, void *user)
{
    gw_proxy *p = user;
    if (c == p->hedge) {
        hedge_head(p, status);
        return;
    }
    if (c != p->call) return;
    rx_gateway *g = p->g;
    p->status = status;
    p->head_seen = true;
    const char *ct = rx_http_call_header(c, "Content-Type");
    snprintf(p->content_type, sizeof p->content_type, "%s", ct ? ct : "application/json");
    gw_upstream_ok(g, &g->ups[p->upstream], (double)(rx_now_ns() - p->call_start_ns) / 1e6);
    if (status >= 500 || (p->head_sent && status != 200)) {
        /* nothing of this answer has reached the client: try elsewhere */
        p->call = NULL;
        g->ups[p->upstream].in_flight--;
        rx_http_call_cancel(c);
        char what[64];
        snprintf(what, sizeof what, "HTTP %d", status);
        upstream_failed(p, what);
        return;
    }
    if (!p->head_sent && p->stream && status == 200 && p->req) {
        p->ttft_ns = rx_now_ns() - p->t0_ns;
        rx_hist_observe(&g->m.ttft, (double)p->ttft_ns / 1e9);
        headers_out(p, p->upstream);
        rx_http_add_header(p->req, "Cache-Control", "no-cache");
        rx_http_stream_start(p->req, 200, p->content_type);
        p->head_sent = true;
    }
}

static void on_chunk(rx_http_call *c, const char *data, size_t len, void *user)
{
    gw_proxy *p = user;
    if (c == p->hedge) {
        if (grow(&p->hbuf, &p->hcap, p->hlen + len + 1)) {
            memcpy(p->hbuf + p->hlen, data, len);
            p->hlen += len;
        }
        return;
    }
    if (c != p->call) return;
    if (!grow(&p->buf, &p->cap, p->len + len + 1)) return;
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    if (p->head_sent) forward_events(p);
}

/* Mean log-probability of the generated tokens of choice 0 (completions: token_logprobs; chat:
 * logprobs.content[].logprob); NAN when the answer has none. */
static double mean_logprob(const json_t *answer)
{
    json_t *lp = json_object_get(json_array_get(json_object_get(answer, "choices"), 0), "logprobs");
    json_t *list = json_object_get(lp, "token_logprobs");
    bool chat = !list;
    if (chat) list = json_object_get(lp, "content");
    double sum = 0;
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_t *x = chat ? json_object_get(v, "logprob") : v;
        if (!json_is_number(x)) continue;
        sum += json_number_value(x);
        n++;
    }
    return n ? sum / (double)n : NAN;
}

/* The cascade (KubeEdge Sedna's joint inference, for language models): a local answer whose
 * mean token log-probability is below the request's min_confidence is discarded and the next tier
 * up answers. A confident answer goes out without the logprobs the gateway added to judge it.
 * Returns true when the request went up (the answer was dropped). */
static bool cascade_up(gw_proxy *p, const gw_upstream *u)
{
    json_error_t e;
    json_t *answer = json_loadb(p->buf, p->len, 0, &e);
    const double conf = mean_logprob(answer);
    if (!isnan(conf) && conf < p->min_confidence) {
        json_decref(answer);
        bool any_above = false;
        for (int i = 0; i < p->g->n_ups; i++)
            any_above |= p->g->ups[i].spec.tier > u->spec.tier;
        if (any_above) {
            p->g->m.cascades++;
            p->route.min_tier = (int)u->spec.tier + 1;
            char note[96];
            snprintf(note, sizeof note, "cascade: confidence %.3f < %.3f at %s; ", conf,
                     p->min_confidence, rx_tier_name(u->spec.tier));
            snprintf(p->cascade_note, sizeof p->cascade_note, "%s", note);
            attempt(p);
            return true;
        }
        return false; /* nowhere higher to go: the local answer stands */
    }
    if (answer && !p->client_logprobs) {
        json_t *choices = json_object_get(answer, "choices");
        size_t i;
        json_t *c;
        json_array_foreach(choices, i, c) json_object_set_new(c, "logprobs", json_null());
        char *out = json_dumps(answer, JSON_COMPACT);
        if (out) {
            free(p->buf);
            p->buf = out;
            p->len = strlen(out);
            p->cap = p->len + 1;
        }
    }
    json_decref(answer);
    return false;
}

/* The current answer (p->upstream, p->status, p->buf) goes to the client, and the request ends. */
static void finish_answer(gw_proxy *p)
{
    rx_gateway *g = p->g;
    gw_upstream *u = &g->ups[p->upstream];
    drop_hedge(p);
    if (p->head_sent) {
        if (p->len) rx_http_stream_write(p->req, p->buf, p->len);
        rx_http_stream_end(p->req);
    } else {
        p->ttft_ns = rx_now_ns() - p->t0_ns;
        if (p->status == 200) rx_hist_observe(&g->m.ttft, (double)p->ttft_ns / 1e9);
        headers_out(p, p->upstream);
        if (p->status == 200) gw_cache_put(g, p->cache_key, p->buf, p->len, p->content_type);
        rx_http_respond(p->req, p->status, p->content_type, p->buf, p->len);
    }
    p->req = NULL;
    /* escalated: answered above the gateway's own tier (first choice or after failures) */
    if (u->spec.tier > g->cfg.topo.tier) g->m.escalations++;
    log_line(p, p->head_sent ? 200 : p->status);
    proxy_free(p);
}

static void on_done(rx_http_call *c, rx_status s, const char *message, void *user)
{
    gw_proxy *p = user;
    if (c && c == p->hedge) {
        hedge_done(p, s, message);
        return;
    }
    if (c != p->call) return; /* an abandoned call */
    p->call = NULL;
    rx_gateway *g = p->g;
    gw_upstream *u = &g->ups[p->upstream];
    u->in_flight--;
    if (p->client_gone) {
        finish_quietly(p);
        return;
    }
    if (s != RX_OK || (p->head_sent && !p->done_seen)) {
        upstream_failed(p, s != RX_OK ? message : "the stream ended without [DONE]");
        return;
    }
    if (!p->head_sent && p->status == 200 && !isnan(p->min_confidence) && (int)u->spec.tier < 2 &&
        cascade_up(p, u))
        return;
    if (!p->head_sent && p->status == 200)
        rx_window_observe(&u->unary, rx_now_ns(), (double)(rx_now_ns() - p->call_start_ns) / 1e9,
                          false);
    finish_answer(p);
}

/* The body for the chosen upstream: its own model id, and for a resumed stream the delivered
 * text appended and max_tokens reduced. */
static char *body_for(gw_proxy *p, const gw_upstream *u, size_t *len)
{
    if (!p->json) {
        size_t n;
        const char *b = rx_http_body(p->req, &n);
        char *copy = malloc(n + 1);
        if (copy) memcpy(copy, b, n);
        *len = n;
        return copy;
    }
    json_t *o = json_deep_copy(p->json);
    const char *id;
    if (o && !isnan(p->min_confidence) && (int)u->spec.tier < 2 && !p->client_logprobs) {
        /* the cascade judges the answer by its token log-probabilities */
        if (p->chat)
            json_object_set_new(o, "logprobs", json_true());
        else
            json_object_set_new(o, "logprobs", json_integer(0));
    }
    if (o && json_object_get(o, "reflex")) json_object_del(json_object_get(o, "reflex"), "cascade");
    if (o && p->route.model && rx_upstream_serves(&u->spec, p->route.model, &id))
        json_object_set_new(o, "model", json_string(id));
    if (o && p->resumes && p->ids_complete && json_array_size(p->delivered_ids)) {
        json_t *mt = json_object_get(o, "max_completion_tokens");
        const char *key = mt ? "max_completion_tokens" : "max_tokens";
        if (!mt) mt = json_object_get(o, "max_tokens");
        if (json_is_integer(mt)) {
            json_int_t left = json_integer_value(mt) - p->tokens_delivered;
            json_object_set_new(o, key, json_integer(left > 1 ? left : 1));
        }
        json_t *rx = json_object_get(o, "reflex");
        if (!json_is_object(rx)) json_object_set_new(o, "reflex", rx = json_object());
        json_object_set(rx, "continue_ids", p->delivered_ids);
        json_object_del(o, "echo");
    } else if (o && p->resumes && p->dlen) {
        json_t *mt = json_object_get(o, "max_completion_tokens");
        if (!mt) mt = json_object_get(o, "max_tokens");
        if (json_is_integer(mt)) {
            json_int_t left = json_integer_value(mt) - p->tokens_delivered;
            json_object_set_new(o,
                                json_object_get(o, "max_completion_tokens")
                                    ? "max_completion_tokens"
                                    : "max_tokens",
                                json_integer(left > 1 ? left : 1));
        }
        json_t *prompt = json_object_get(o, "prompt");
        if (!p->chat && json_is_string(prompt)) {
            size_t pl = json_string_length(prompt);
            char *joined = malloc(pl + p->dlen + 1);
            if (joined) {
                memcpy(joined, json_string_value(prompt), pl);
                memcpy(joined + pl, p->delivered, p->dlen);
                json_object_set_new(o, "prompt", json_stringn(joined, pl + p->dlen));
                free(joined);
            }
            json_object_del(o, "echo");
        } else {
            json_t *rx = json_object_get(o, "reflex");
            if (!json_is_object(rx)) json_object_set_new(o, "reflex", rx = json_object());
            json_object_set_new(rx, "continue", json_stringn(p->delivered, p->dlen));
        }
    }
    char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    *len = out ? strlen(out) : 0;
    return out;
}

static void hedge_fire(void *arg);

/* Starts a call of the request to upstream i (the body made for it). */
static rx_status start_call(gw_proxy *p, int i, rx_http_call **out)
{
    size_t len;
    char *body = body_for(p, &p->g->ups[i], &len);
    if (!body) return rx_error(RX_ERR_NOMEM, "out of memory");
    const char *auth = rx_http_header(p->req, "Authorization");
    const char *headers[] = {"Content-Type",
                             "application/json",
                             "Accept",
                             p->stream ? "text/event-stream" : "application/json",
                             "traceparent",
                             p->trace,
                             auth ? "Authorization" : NULL,
                             auth,
                             NULL};
    static const rx_http_call_cb cb = {on_head, on_chunk, on_done};
    const bool post = strcmp(rx_http_method(p->req), "POST") == 0;
    rx_status s = rx_http_call_start(p->g->ups[i].pool, post ? "POST" : "GET", p->path, headers,
                                     post ? body : NULL, post ? len : 0, &cb, p, out);
    free(body);
    return s;
}

/* Arms the hedge: once the call has taken longer than its upstream's p95 over the last minute
 * (known from 20 answers or more), a copy goes elsewhere. */
static void arm_hedge(gw_proxy *p, gw_upstream *u)
{
    rx_gateway *g = p->g;
    if (!g->cfg.hedge || p->stream || p->hedged || p->hedge_timer || !isnan(p->min_confidence))
        return;
    const uint64_t now = rx_now_ns();
    if (rx_window_requests(&u->unary, now) < 20) return;
    const double p95 = rx_window_quantile(&u->unary, now, 0.95);
    if (!(p95 > 0)) return;
    p->hedge_after_ms = (int)ceil(p95 * 1e3);
    rx_http_timer_start(g->http, p->hedge_after_ms, hedge_fire, p, &p->hedge_timer);
}

static void attempt(gw_proxy *p)
{
    rx_gateway *g = p->g;
    if (p->client_gone) {
        finish_quietly(p);
        return;
    }
    char why[256];
    int i = gw_route(g, &p->route, why, sizeof why);
    if (p->version[0])
        snprintf(p->why, sizeof p->why, "%ssplit %s -> %s; %s", p->cascade_note, p->model,
                 p->version, why);
    else
        snprintf(p->why, sizeof p->why, "%s%s", p->cascade_note, why);
    if (i < 0) {
        const char *body, *type;
        size_t len;
        if (!p->head_sent && gw_cache_get(g, p->cache_key, &body, &len, &type)) {
            g->m.cache_hits++;
            /* the reason reads "response cache: <why nothing was eligible>" */
            memmove(p->why + 16, p->why, sizeof p->why - 17);
            memcpy(p->why, "response cache: ", 16);
            p->why[sizeof p->why - 1] = '\0';
            headers_out(p, -1);
            rx_http_add_header(p->req, "x-reflex-cache", "hit");
            rx_http_respond(p->req, 200, type, body, len);
            p->req = NULL;
            log_line(p, 200);
            proxy_free(p);
            return;
        }
        fail_client(p, 503, "no_upstream", p->why);
        return;
    }
    p->upstream = i;
    p->attempts++;
    gw_upstream *u = &g->ups[i];
    p->len = 0;
    p->done_seen = false;
    p->head_seen = false;
    p->call_start_ns = rx_now_ns();
    if (start_call(p, i, &p->call) != RX_OK) {
        p->call = NULL;
        upstream_failed(p, rx_last_error());
        return;
    }
    u->in_flight++;
    u->requests++;
    arm_hedge(p, u);
}

/* The hedge timer: the call is still waiting for its head; a copy goes to another eligible
 * upstream, within the retry budget (a hedge is an extra request like a retry). */
static void hedge_fire(void *arg)
{
    gw_proxy *p = arg;
    rx_gateway *g = p->g;
    p->hedge_timer = NULL;
    if (!p->call || p->head_seen || p->client_gone || !p->req || p->hedged || !may_retry(p)) return;
    gw_route_req r = p->route;
    r.exclude |= 1ull << p->upstream;
    char why[256];
    const int i = gw_route(g, &r, why, sizeof why);
    if (i < 0) return;
    p->hlen = 0;
    p->hedge_status = 0;
    if (start_call(p, i, &p->hedge) != RX_OK) {
        p->hedge = NULL;
        return;
    }
    p->hedged = true;
    p->hedge_upstream = i;
    p->hedge_start_ns = rx_now_ns();
    g->ups[i].in_flight++;
    g->ups[i].requests++;
    g->m.retries++;
    g->m.hedges++;
}

/* Forgets the hedged copy (cancelled, or done with). */
static void drop_hedge(gw_proxy *p)
{
    rx_http_call *c = p->hedge;
    if (!c) return;
    p->hedge = NULL;
    p->g->ups[p->hedge_upstream].in_flight--;
    rx_http_call_cancel(c); /* its on_done no longer matches: nothing runs */
}

/* The copy failed: leave its upstream out; if the first call failed too, retry as usual. */
static void hedge_failed(gw_proxy *p, const char *what)
{
    rx_gateway *g = p->g;
    gw_upstream_failed(g, &g->ups[p->hedge_upstream]);
    p->route.exclude |= 1ull << p->hedge_upstream;
    if (!g->cfg.quiet)
        fprintf(stderr, "reflex gateway: upstream %s failed (%s) on a hedged copy\n",
                g->ups[p->hedge_upstream].spec.name, what);
    if (p->call) return; /* the first call is still out */
    retry_elsewhere(p, what);
}

static void hedge_head(gw_proxy *p, int status)
{
    p->hedge_status = status;
    const char *ct = rx_http_call_header(p->hedge, "Content-Type");
    snprintf(p->hedge_type, sizeof p->hedge_type, "%s", ct ? ct : "application/json");
    if (status >= 500) {
        drop_hedge(p);
        char what[64];
        snprintf(what, sizeof what, "HTTP %d", status);
        hedge_failed(p, what);
    }
}

static void hedge_done(gw_proxy *p, rx_status s, const char *message)
{
    rx_gateway *g = p->g;
    const int h = p->hedge_upstream;
    p->hedge = NULL;
    g->ups[h].in_flight--;
    if (p->client_gone) {
        if (!p->call) finish_quietly(p);
        return;
    }
    if (s != RX_OK) {
        if (s != RX_ERR_CANCELLED) hedge_failed(p, message);
        return;
    }
    /* the copy answered first: it is the answer, and the first call is abandoned */
    g->m.hedge_wins++;
    const uint64_t now = rx_now_ns();
    if (p->hedge_status == 200)
        rx_window_observe(&g->ups[h].unary, now, (double)(now - p->hedge_start_ns) / 1e9, false);
    if (p->call) {
        rx_http_call *c = p->call;
        p->call = NULL;
        g->ups[p->upstream].in_flight--;
        rx_http_call_cancel(c);
    }
    const size_t n = strlen(p->why);
    snprintf(p->why + n, sizeof p->why - n, "; hedged after %d ms (p95 of %s): %s answered first",
             p->hedge_after_ms, g->ups[p->upstream].spec.name, g->ups[h].spec.name);
    free(p->buf);
    p->buf = p->hbuf;
    p->len = p->hlen;
    p->cap = p->hcap;
    p->hbuf = NULL;
    p->hlen = p->hcap = 0;
    p->status = p->hedge_status;
    snprintf(p->content_type, sizeof p->content_type, "%s", p->hedge_type);
    p->upstream = h;
    finish_answer(p);
}

static void on_client_gone(void *arg)
{
    gw_proxy *p = arg;
    p->client_gone = true;
    if (p->call) {
        rx_http_call_cancel(p->call); /* its on_done finishes quietly */
    } else if (p->hedge) {
        drop_hedge(p); /* the first call had failed: only the copy was out */
        finish_quietly(p);
    }
}

/* Reads what routing needs from the body; false (with a 400 sent) when it is not a JSON object:
 * an unreadable request cannot be checked against data-domain policy, so it goes nowhere. */
static bool inspect(gw_proxy *p)
{
    size_t n;
    const char *body = rx_http_body(p->req, &n);
    gw_request_info info;
    if (gw_request_info_parse(body, n, &info) != RX_OK) {
        fail_client(p, 400, "invalid_request", rx_last_error());
        return false;
    }
    p->json = info.json;
    snprintf(p->model, sizeof p->model, "%s", info.model);
    snprintf(p->user, sizeof p->user, "%s", info.user);
    snprintf(p->domain, sizeof p->domain, "%s", info.domain);
    if (p->model[0]) p->route.model = p->model;
    if (p->user[0]) p->route.user = p->user;
    p->stream = info.stream;
    p->min_confidence = info.min_confidence;
    json_t *lp = json_object_get(info.json, "logprobs");
    p->client_logprobs = lp && !json_is_false(lp) && !json_is_null(lp);
    p->route.sticky = info.sticky;
    p->route.has_digest = info.has_digest;
    p->route.digest = info.digest;
    p->resumable = info.n <= 1;
    return true;
}

/* A model with a traffic split goes to one of its versions (and a copy to its shadow). */
static void apply_split(gw_proxy *p)
{
    rx_gateway *g = p->g;
    if (!p->model[0]) return;
    for (int i = 0; i < g->cfg.topo.n_splits; i++) {
        const rx_split *sp = &g->cfg.topo.splits[i];
        if (strcmp(sp->model, p->model) != 0) continue;
        g->rng ^= g->rng << 13;
        g->rng ^= g->rng >> 7;
        g->rng ^= g->rng << 17;
        const double r = rx_hash_unit(g->rng);
        const int v = rx_split_pick(sp, p->user[0] ? p->user : NULL, r);
        g->m.split_requests[i][v]++;
        snprintf(p->version, sizeof p->version, "%s", sp->version[v]);
        p->route.model = p->version;
        if (sp->shadow[0] && p->json) {
            json_t *copy = json_deep_copy(p->json);
            json_object_set_new(copy, "model", json_string(sp->shadow));
            char *body = copy ? json_dumps(copy, JSON_COMPACT) : NULL;
            json_decref(copy);
            if (body) gw_shadow_send(g, sp->shadow, p->domain, p->path, body, strlen(body));
            free(body);
        }
        return;
    }
}

void gw_proxy_handle(rx_gateway *g, rx_http_req *req, const char *path)
{
    gw_proxy *p = calloc(1, sizeof *p);
    if (!p) {
        const char *b = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}";
        rx_http_respond(req, 500, "application/json", b, strlen(b));
        return;
    }
    g->n_active++;
    g->m.requests++;
    p->g = g;
    p->req = req;
    p->upstream = -1;
    p->t0_ns = rx_now_ns();
    snprintf(p->path, sizeof p->path, "%s", path);
    p->chat = strcmp(path, "/v1/chat/completions") == 0;
    snprintf(p->domain, sizeof p->domain, "public");
    p->resumable = true;
    p->min_confidence = NAN;
    const char *tp = rx_http_header(req, "traceparent");
    if (tp && strlen(tp) == 55) snprintf(p->trace, sizeof p->trace, "%s", tp);
    if (strcmp(rx_http_method(req), "POST") == 0 && !inspect(p)) return;
    const char *hdr_domain = rx_http_header(req, "x-reflex-domain");
    if (hdr_domain) {
        /* policy must never rest on a cut-short or contradicted domain */
        const bool from_body =
            p->json && json_object_get(json_object_get(p->json, "reflex"), "domain");
        if (strlen(hdr_domain) >= sizeof p->domain || !hdr_domain[0] ||
            (from_body && strcmp(hdr_domain, p->domain) != 0)) {
            fail_client(p, 400, "invalid_domain",
                        "x-reflex-domain is empty, too long, or contradicts reflex.domain");
            return;
        }
        snprintf(p->domain, sizeof p->domain, "%s", hdr_domain);
    }
    p->route.domain = p->domain;
    apply_split(p);
    if (g->cfg.cache_ttl_ms > 0) p->cache_key = gw_cache_key(p->json, p->path, p->domain);
    p->delivered_ids = json_array();
    p->ids_complete = true;
    rx_http_on_close(req, on_client_gone, p);
    if (g->draining) {
        snprintf(p->why, sizeof p->why, "the gateway is shutting down");
        fail_client(p, 503, "draining", p->why);
        return;
    }
    attempt(p);
}
