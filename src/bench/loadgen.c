/* The load generator's event loop: one libevent loop, one keep-alive HTTP connection per
 * concurrent stream, closed-loop streams or an open-loop arrival schedule, and the client-side
 * clock on every content chunk (evhttp's chunked callback sees each read as it arrives).
 *
 * Each connection carries at most one request at a time, so a request's state lives in its
 * connection. The next request on a connection is started from a zero-delay event, never from
 * inside an evhttp callback, so a failing server cannot recurse the stack. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/internal.h"
#include "bench/sse_client.h"
#include "core/clock.h"

/* Past this many connections an open loop queues arrivals on the client (and says so by the
 * later send times): file descriptors run out before any edge server's slots do. */
#define MAX_CONNS 4096

typedef struct lg_run lg_run;

typedef struct {
    lg_run *run;
    struct evhttp_connection *evcon; /* owned */
    struct evhttp_request *req;      /* in flight; evhttp owns it */
    bool busy;
    int64_t rec; /* index of the record in flight */
    uint64_t t_send_ns, t_last_ns, t_chunk_ns;
    rx_sse_client sse; /* the response being read */
    bool got_headers, has_err;
    enum evhttp_request_error err;
    int err_errno;
    char body[200]; /* start of a non-200 body, for the error message */
    size_t body_len;
    int32_t itl_cap;
    bool stale;       /* https: the connection closed; open a new one before the next request */
    int64_t served;   /* requests answered on this connection (keep-alive reuse) */
    bool resent;      /* the record in flight was already re-sent once */
    char tls_err[96]; /* https: OpenSSL's reason when the connection failed */
} lg_conn;

struct lg_run {
    const rx_lg_config *cfg; /* borrowed */
    rx_bench_target target;
    struct ssl_ctx_st *tls;              /* https only (owned) */
    struct event_base *base;             /* owned */
    struct event *tick, *arrival, *stop; /* owned */
    lg_conn *conns[MAX_CONNS];           /* owned, created on demand */
    int n_conns;
    rx_lg_record *records; /* owned until handed to the result */
    int64_t n_records, cap_records;
    double *arrivals; /* open loop: send times (owned) */
    int64_t n_arrivals, next_arrival, queued;
    int64_t in_flight, done;
    uint64_t t0_ns, t_last_end_ns;
    bool stop_issuing, interrupted;
    rx_status status; /* first fatal error (out of memory) */
};

static double timeout_of(const rx_lg_config *cfg)
{
    return cfg->timeout_s > 0 ? cfg->timeout_s : 300.0;
}

static double since(uint64_t t0_ns, uint64_t t_ns)
{
    return (double)(t_ns - t0_ns) / 1e9;
}

static rx_lg_record *rec_of(lg_conn *c)
{
    return &c->run->records[c->rec];
}

/* --- per-chunk timing --- */

static void on_content(void *user)
{
    lg_conn *c = user;
    rx_lg_record *r = rec_of(c);
    if (isnan(r->ttft_s)) {
        r->ttft_s = since(c->t_send_ns, c->t_chunk_ns);
    } else {
        if (r->n_itl == c->itl_cap) {
            int32_t cap = c->itl_cap ? c->itl_cap * 2 : 64;
            double *g = realloc(r->itl_s, (size_t)cap * sizeof *g);
            if (!g) {
                c->run->status = rx_error(RX_ERR_NOMEM, "bench: no memory for gaps");
                return;
            }
            r->itl_s = g;
            c->itl_cap = cap;
        }
        r->itl_s[r->n_itl++] = since(c->t_last_ns, c->t_chunk_ns);
    }
    c->t_last_ns = c->t_chunk_ns;
}

static int on_headers(struct evhttp_request *req, void *arg)
{
    lg_conn *c = arg;
    c->got_headers = true;
    rec_of(c)->http_status = evhttp_request_get_response_code(req);
    return 0;
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    lg_conn *c = arg;
    c->t_chunk_ns = rx_now_ns(); /* one arrival time for every event in this read */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (rec_of(c)->http_status != 200) {
        size_t n = len < sizeof c->body - 1 - c->body_len ? len : sizeof c->body - 1 - c->body_len;
        evbuffer_copyout(in, c->body + c->body_len, n);
        c->body_len += n;
        c->body[c->body_len] = '\0';
    } else {
        struct evbuffer_iovec v[16];
        int n = evbuffer_peek(in, -1, NULL, v, 16);
        for (int i = 0; i < n && i < 16; i++)
            if (rx_sse_client_feed(&c->sse, v[i].iov_base, v[i].iov_len) != RX_OK)
                c->run->status = RX_ERR_NOMEM;
        if (n > 16) { /* rare: more segments than the array; feed the rest contiguously */
            size_t off = 0;
            for (int i = 0; i < 16; i++)
                off += v[i].iov_len;
            evbuffer_drain(in, off);
            const char *rest = (const char *)evbuffer_pullup(in, -1);
            if (rest && rx_sse_client_feed(&c->sse, rest, evbuffer_get_length(in)) != RX_OK)
                c->run->status = RX_ERR_NOMEM;
        }
    }
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_error(enum evhttp_request_error err, void *arg)
{
    lg_conn *c = arg;
    c->has_err = true;
    c->err = err;
    /* evhttp restores the socket error before calling us; after an EOF it is stale */
    c->err_errno = err == EVREQ_HTTP_EOF || errno == EINPROGRESS || errno == EAGAIN ? 0 : errno;
    const char *tls =
        c->run->tls ? rx_bench__tls_error(evhttp_connection_get_bufferevent(c->evcon)) : NULL;
    if (tls) snprintf(c->tls_err, sizeof c->tls_err, "TLS: %s", tls);
}

/* --- the end of a request --- */

static void classify(lg_conn *c, rx_lg_record *r, bool complete)
{
    rx_sse_client *s = &c->sse;
    if (!complete || r->http_status == 0) {
        const char *why = c->tls_err[0]  ? c->tls_err
                          : c->err_errno ? strerror(c->err_errno)
                                         : "connection closed by the server";
        if (c->has_err && c->err == EVREQ_HTTP_TIMEOUT) {
            r->kind = RX_LG_TIMEOUT;
            snprintf(r->error, sizeof r->error, "no data for %g s", timeout_of(c->run->cfg));
        } else if (!c->got_headers) {
            r->kind = RX_LG_CONNECT;
            snprintf(r->error, sizeof r->error, "no response from %.60s: %.60s",
                     c->run->target.host_header, why);
        } else {
            r->kind = RX_LG_DISCONNECT;
            snprintf(r->error, sizeof r->error, "connection broke mid-stream: %.100s", why);
        }
    } else if (r->http_status != 200) {
        r->kind = RX_LG_HTTP;
        snprintf(r->error, sizeof r->error, "HTTP %d: %.120s", r->http_status, c->body);
    } else if (s->server_error) {
        r->kind = RX_LG_HTTP;
        snprintf(r->error, sizeof r->error, "%s", s->error);
    } else if (s->malformed) {
        r->kind = RX_LG_MALFORMED;
        snprintf(r->error, sizeof r->error, "%s", s->error);
    } else if (!s->done || s->content_chunks == 0) {
        r->kind = RX_LG_MALFORMED;
        snprintf(r->error, sizeof r->error, "%s",
                 !s->done ? "stream ended without data: [DONE]" : "stream carried no content");
    } else {
        r->kind = RX_LG_OK;
    }
}

static void finish(lg_conn *c, bool complete)
{
    lg_run *run = c->run;
    rx_lg_record *r = rec_of(c);
    uint64_t now = rx_now_ns();
    if (complete) rx_sse_client_finish(&c->sse);
    if (!complete && run->tls) c->stale = true;
    r->e2e_s = since(c->t_send_ns, now);
    classify(c, r, complete);
    r->usage_seen = c->sse.usage_seen;
    r->content_chunks = c->sse.content_chunks;
    r->prompt_tokens = c->sse.prompt_tokens;
    r->completion_tokens = c->sse.usage_seen ? c->sse.completion_tokens : c->sse.content_chunks;
    if (r->completion_tokens > 1 && !isnan(r->ttft_s))
        r->tpot_s = (r->e2e_s - r->ttft_s) / (double)(r->completion_tokens - 1);
    c->busy = false;
    run->in_flight--;
    run->done++;
    run->t_last_end_ns = now;
}

static void schedule(lg_run *run, lg_conn *c);
static rx_status open_evcon(lg_run *run, lg_conn *c);
static void start_request(lg_run *run, lg_conn *c, int64_t rec);

static void on_done(struct evhttp_request *req, void *arg)
{
    lg_conn *c = arg;
    c->req = NULL;
    /* NULL or code 0: evhttp gave up on the request (connect failure, reset, timeout) */
    const bool complete = req != NULL && evhttp_request_get_response_code(req) != 0;
    /* A keep-alive connection the server closed between two requests (cpp-httplib, which
     * llama-server uses, closes after a few): the request never reached it, so it is sent again
     * on a fresh connection, once, as any HTTP client does, and not counted as a failure. */
    if (!complete && !c->got_headers && c->served > 0 && !c->resent &&
        !(c->has_err && c->err == EVREQ_HTTP_TIMEOUT)) {
        c->resent = true;
        c->served = 0;
        c->run->in_flight--;
        if (c->run->tls) c->stale = true;
        start_request(c->run, c, c->rec);
        return;
    }
    if (complete) c->served++;
    finish(c, complete);
    schedule(c->run, c);
}

/* --- starting requests --- */

static rx_status add_record(lg_run *run, int64_t *index)
{
    if (run->n_records == run->cap_records) {
        int64_t cap = run->cap_records ? run->cap_records * 2 : 256;
        rx_lg_record *g = realloc(run->records, (size_t)cap * sizeof *g);
        if (!g) return rx_error(RX_ERR_NOMEM, "bench: no memory for %lld records", (long long)cap);
        run->records = g;
        run->cap_records = cap;
    }
    *index = run->n_records++;
    return RX_OK;
}

static struct evhttp_request *new_request(lg_conn *c, const char *body)
{
    const rx_lg_config *cfg = c->run->cfg;
    struct evhttp_request *req = evhttp_request_new(on_done, c);
    if (!req) return NULL;
    evhttp_request_set_chunked_cb(req, on_chunk);
    evhttp_request_set_header_cb(req, on_headers);
    evhttp_request_set_error_cb(req, on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char auth[1024];
    int bad = evhttp_add_header(h, "Host", c->run->target.host_header) ||
              evhttp_add_header(h, "Content-Type", "application/json") ||
              evhttp_add_header(h, "Accept", "text/event-stream") ||
              evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    if (!bad && cfg->api_key) {
        snprintf(auth, sizeof auth, "Bearer %s", cfg->api_key);
        bad = evhttp_add_header(h, "Authorization", auth);
    }
    if (bad) {
        evhttp_request_free(req);
        return NULL;
    }
    return req;
}

/* Sends the next request on c; a request that cannot even be sent becomes a failed record. */
static void start(lg_run *run, lg_conn *c)
{
    int64_t i = 0;
    if (add_record(run, &i) != RX_OK) {
        run->status = RX_ERR_NOMEM;
        run->stop_issuing = true;
        return;
    }
    c->resent = false;
    start_request(run, c, i);
}

/* Sends record i's request on c (a new record, or one re-sent after a stale connection). */
static void start_request(lg_run *run, lg_conn *c, int64_t i)
{
    const rx_lg_config *cfg = run->cfg;
    const rx_lg_prompt *p = &cfg->prompts[i % cfg->n_prompts];
    rx_lg_record *r = &run->records[i];
    *r = (rx_lg_record){
        .ttft_s = NAN, .tpot_s = NAN, .prompt_tokens = -1, .output_len = p->output_len};
    c->rec = i;
    c->busy = true;
    c->got_headers = c->has_err = false;
    c->err_errno = 0;
    c->tls_err[0] = '\0';
    c->body_len = 0;
    c->body[0] = '\0';
    c->itl_cap = 0;
    rx_sse_client_reset(&c->sse);
    run->in_flight++;
    c->t_send_ns = rx_now_ns();
    r->start_s = since(run->t0_ns, c->t_send_ns);
    if (c->stale && open_evcon(run, c) != RX_OK) {
        finish(c, false);
        r->kind = RX_LG_CONNECT;
        snprintf(r->error, sizeof r->error, "cannot open a connection");
        schedule(run, c);
        return;
    }
    char *body = NULL;
    struct evhttp_request *req = NULL;
    if (rx_sse_request_body(cfg->endpoint, cfg->model, p->text, p->output_len, &body) == RX_OK)
        req = new_request(c, body);
    free(body);
    c->t_send_ns = rx_now_ns(); /* the clock starts when the request leaves */
    r->start_s = since(run->t0_ns, c->t_send_ns);
    c->req = req;
    if (!req || evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, run->target.path) != 0) {
        c->req = NULL;
        finish(c, false);
        r->kind = RX_LG_CONNECT;
        snprintf(r->error, sizeof r->error, "cannot send a request to %.100s",
                 run->target.host_header);
        schedule(run, c);
    }
}

static bool closed_loop_may_send(const lg_run *run)
{
    const rx_lg_config *cfg = run->cfg;
    if (run->stop_issuing) return false;
    if (cfg->n_requests > 0) return run->n_records < cfg->n_requests;
    return since(run->t0_ns, rx_now_ns()) < cfg->duration_s;
}

static void maybe_end(lg_run *run)
{
    bool more = run->cfg->concurrency > 0
                    ? closed_loop_may_send(run)
                    : !run->stop_issuing && (run->next_arrival < run->n_arrivals || run->queued);
    if (run->in_flight == 0 && !more) event_base_loopbreak(run->base);
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lg_conn *c = arg;
    lg_run *run = c->run;
    if (!c->busy) {
        if (run->cfg->concurrency > 0 && closed_loop_may_send(run)) {
            start(run, c);
        } else if (run->cfg->concurrency == 0 && run->queued > 0 && !run->stop_issuing) {
            run->queued--;
            start(run, c);
        }
    }
    maybe_end(run);
}

/* After a request ends on c: its stream sends again (closed loop) or takes a queued arrival,
 * from a fresh event rather than from inside evhttp. */
static void schedule(lg_run *run, lg_conn *c)
{
    static const struct timeval zero = {0, 0};
    if (event_base_once(run->base, -1, EV_TIMEOUT, on_next, c, &zero) != 0) {
        run->status = rx_error(RX_ERR_NOMEM, "bench: cannot schedule an event");
        event_base_loopbreak(run->base);
    }
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    ((lg_conn *)arg)->stale = true;
}

/* (Re)opens c's connection object. Plain HTTP keeps one for good (evhttp reconnects by
 * itself); an https one cannot be reconnected, since its TLS session is spent, so every close
 * marks it stale and it is replaced before the next request, outside evhttp's callbacks. */
static rx_status open_evcon(lg_run *run, lg_conn *c)
{
    if (c->evcon) evhttp_connection_free(c->evcon);
    c->evcon = NULL;
    const rx_bench_target *t = &run->target;
    if (run->tls) {
        struct bufferevent *bev =
            rx_bench__tls_bev(run->base, run->tls, t->host, run->cfg->insecure);
        if (bev)
            c->evcon = evhttp_connection_base_bufferevent_new(run->base, NULL, bev, t->host,
                                                              (unsigned short)t->port);
        else
            return rx_error(RX_ERR_NOMEM, "bench: cannot create a TLS connection");
        if (!c->evcon) bufferevent_free(bev);
    } else {
        c->evcon = evhttp_connection_base_new(run->base, NULL, t->host, (unsigned short)t->port);
    }
    if (!c->evcon) return rx_error(RX_ERR_NOMEM, "bench: cannot create a connection");
    double s = timeout_of(run->cfg);
    struct timeval tv = {(time_t)s, (suseconds_t)((s - floor(s)) * 1e6)};
    evhttp_connection_set_timeout_tv(c->evcon, &tv);
    if (run->tls) evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
    c->stale = false;
    return RX_OK;
}

static lg_conn *new_conn(lg_run *run)
{
    if (run->n_conns == MAX_CONNS) return NULL;
    lg_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->run = run;
    if (open_evcon(run, c) != RX_OK) {
        free(c);
        return NULL;
    }
    rx_sse_client_init(&c->sse, on_content, c);
    run->conns[run->n_conns++] = c;
    return c;
}

static lg_conn *idle_conn(lg_run *run)
{
    for (int i = 0; i < run->n_conns; i++)
        if (!run->conns[i]->busy) return run->conns[i];
    return new_conn(run);
}

/* Open loop: sends every arrival that is due, then sleeps until the next one. */
static void on_arrival(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lg_run *run = arg;
    double now = since(run->t0_ns, rx_now_ns());
    while (!run->stop_issuing && run->next_arrival < run->n_arrivals &&
           run->arrivals[run->next_arrival] <= now) {
        run->next_arrival++;
        lg_conn *c = idle_conn(run);
        if (c)
            start(run, c);
        else
            run->queued++; /* every connection busy: sent when one frees */
    }
    if (!run->stop_issuing && run->next_arrival < run->n_arrivals) {
        double wait = run->arrivals[run->next_arrival] - now;
        struct timeval tv = {(time_t)wait, (suseconds_t)((wait - floor(wait)) * 1e6)};
        evtimer_add(run->arrival, &tv);
    }
    maybe_end(run);
}

static void report_progress(lg_run *run)
{
    const rx_lg_config *cfg = run->cfg;
    if (!cfg->progress) return;
    int64_t total = cfg->concurrency > 0 ? (cfg->n_requests > 0 ? cfg->n_requests : 0)
                                         : (cfg->n_requests > 0 ? run->n_arrivals : 0);
    cfg->progress(cfg->progress_user, run->done, total, since(run->t0_ns, rx_now_ns()));
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lg_run *run = arg;
    report_progress(run);
    maybe_end(run);
}

/* stop_signal: no more sends; requests in flight are cancelled (evhttp then calls nothing of
 * ours for them) and their records marked for removal. */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lg_run *run = arg;
    run->stop_issuing = run->interrupted = true;
    for (int i = 0; i < run->n_conns; i++) {
        lg_conn *c = run->conns[i];
        if (!c->busy) continue;
        if (c->req) evhttp_cancel_request(c->req);
        c->req = NULL;
        c->busy = false;
        c->stale = run->tls != NULL;
        run->records[c->rec].kind = RX_LG_KIND_COUNT; /* cancelled */
        run->in_flight--;
    }
    event_base_loopbreak(run->base);
}

/* Drops the records of cancelled requests, keeping send order. */
static void drop_cancelled(rx_lg_result *res)
{
    int64_t k = 0;
    for (int64_t i = 0; i < res->n_records; i++) {
        if (res->records[i].kind == RX_LG_KIND_COUNT)
            free(res->records[i].itl_s);
        else
            res->records[k++] = res->records[i];
    }
    res->n_records = k;
}

static rx_status check_config(const rx_lg_config *cfg)
{
    if (!cfg->url || !cfg->model || !cfg->prompts || cfg->n_prompts <= 0)
        return rx_error(RX_ERR_INVALID_ARG, "bench: url, model and prompts are required");
    if ((cfg->concurrency > 0) == (cfg->rate > 0))
        return rx_error(RX_ERR_INVALID_ARG, "bench: set exactly one of concurrency and rate");
    if ((cfg->n_requests > 0) == (cfg->duration_s > 0))
        return rx_error(RX_ERR_INVALID_ARG, "bench: set exactly one of requests and duration");
    if (cfg->rate > 0 && !(cfg->burstiness > 0))
        return rx_error(RX_ERR_INVALID_ARG, "bench: burstiness must be > 0");
    return RX_OK;
}

/* Starts the first requests: every closed-loop stream, or the arrival timer. */
static rx_status begin(lg_run *run)
{
    const rx_lg_config *cfg = run->cfg;
    static const struct timeval zero = {0, 0};
    if (cfg->concurrency > 0) {
        for (int i = 0; i < cfg->concurrency && i < MAX_CONNS; i++) {
            lg_conn *c = new_conn(run);
            if (!c) return rx_error(RX_ERR_NOMEM, "bench: cannot open connection %d", i);
            schedule(run, c);
        }
        return run->status;
    }
    rx_status s = rx_bench__arrivals(cfg->rate, cfg->burstiness, cfg->seed, cfg->n_requests,
                                     cfg->duration_s, &run->arrivals, &run->n_arrivals);
    if (s != RX_OK) return s;
    run->arrival = evtimer_new(run->base, on_arrival, run);
    if (!run->arrival || evtimer_add(run->arrival, &zero) != 0)
        return rx_error(RX_ERR_NOMEM, "bench: cannot create the arrival timer");
    return RX_OK;
}

static void free_run(lg_run *run)
{
    for (int i = 0; i < run->n_conns; i++) {
        evhttp_connection_free(run->conns[i]->evcon);
        rx_sse_client_free(&run->conns[i]->sse);
        free(run->conns[i]);
    }
    if (run->tick) event_free(run->tick);
    if (run->arrival) event_free(run->arrival);
    if (run->stop) event_free(run->stop);
    if (run->base) event_base_free(run->base);
    rx_bench__tls_ctx_free(run->tls);
    free(run->arrivals);
    free(run);
}

rx_status rx_lg_run(const rx_lg_config *cfg, rx_lg_result **out)
{
    *out = NULL;
    rx_status s = check_config(cfg);
    if (s != RX_OK) return s;
    lg_run *run = calloc(1, sizeof *run);
    rx_lg_result *res = calloc(1, sizeof *res);
    if (!run || !res) {
        free(run);
        free(res);
        return rx_error(RX_ERR_NOMEM, "bench: no memory for a run");
    }
    run->cfg = cfg;
    s = rx_bench__target(cfg->url, cfg->endpoint, &run->target);
    if (s == RX_OK && run->target.tls)
        s = rx_bench__tls_ctx(cfg->ca_file, cfg->insecure, &run->tls);
    if (s == RX_OK && !(run->base = event_base_new()))
        s = rx_error(RX_ERR_NOMEM, "bench: cannot create an event loop");
    static const struct timeval tick = {0, 200000};
    if (s == RX_OK) {
        run->tick = event_new(run->base, -1, EV_PERSIST, on_tick, run);
        if (!run->tick || event_add(run->tick, &tick) != 0)
            s = rx_error(RX_ERR_NOMEM, "bench: cannot create the progress timer");
    }
    run->t0_ns = run->t_last_end_ns = rx_now_ns();
    if (s == RX_OK && cfg->stop_signal) {
        run->stop = evsignal_new(run->base, cfg->stop_signal, on_stop, run);
        if (!run->stop || event_add(run->stop, NULL) != 0)
            s = rx_error(RX_ERR_NOMEM, "bench: cannot watch signal %d", cfg->stop_signal);
    }
    if (s == RX_OK) s = begin(run);
    if (s == RX_OK) event_base_dispatch(run->base);
    if (s == RX_OK) s = run->status;
    if (s == RX_OK) report_progress(run);
    res->records = run->records;
    res->n_records = run->n_records;
    res->duration_s = since(run->t0_ns, run->t_last_end_ns);
    res->interrupted = run->interrupted;
    drop_cancelled(res);
    free_run(run);
    if (s != RX_OK) {
        rx_lg_result_free(res);
        return s;
    }
    *out = res;
    return RX_OK;
}

void rx_lg_result_free(rx_lg_result *r)
{
    if (!r) return;
    for (int64_t i = 0; i < r->n_records; i++)
        free(r->records[i].itl_s);
    free(r->records);
    free(r);
}

const char *rx_lg_kind_name(rx_lg_kind k)
{
    static const char *const names[RX_LG_KIND_COUNT] = {"ok",      "connect",   "http",
                                                        "timeout", "malformed", "disconnect"};
    return k < RX_LG_KIND_COUNT ? names[k] : "?";
}
