/* HTTP client calls on the server's loop (see reflex/http_client.h). Each call holds one
 * evhttp_connection of its origin's pool for its whole life; finished connections go back to
 * the pool's idle list for keep-alive reuse.
 *
 * Cancelling: libevent 2.1 has no safe way to stop a request in flight without its done callback
 * possibly running later with our pointer, so a cancelled or timed-out call is detached at once
 * (its callbacks become no-ops, on_done(CANCELLED) runs), and its connection, with the request
 * on it, is freed from a zero-delay event, outside any libevent callback of that connection;
 * evhttp_connection_free drops queued requests without calling them back. */
#include "reflex/http_client.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct idle_conn {
    struct evhttp_connection *conn;
    struct idle_conn *next;
} idle_conn;

struct rx_http_pool {
    struct event_base *base; /* borrowed from the server */
    char host[256];
    int port;
    rx_http_pool_config cfg;
    idle_conn *idle; /* owned */
    int n_idle, n_busy;
    rx_http_call *calls; /* in flight, for rx_http_pool_free */
};

struct rx_http_call {
    rx_http_pool *pool;
    rx_http_call *prev, *next;
    struct evhttp_connection *conn; /* owned while in flight */
    struct evhttp_request *req;     /* owned by conn */
    struct event *first_byte;       /* owned */
    rx_http_call_cb cb;
    void *user;
    bool got_head, finished;
    bool starting, failed_at_start; /* inside evhttp_make_request */
    /* A kept-alive connection the server closed while it sat idle (cpp-httplib, behind
     * llama-server, closes after a few requests) fails before any byte of the answer: the
     * request never reached the server, so it is sent once more on a fresh connection. That
     * needs its own copy of the request. */
    bool reused, resent;
    enum evhttp_cmd_type type;
    char *path, *body; /* owned */
    size_t body_len;
    char **headers; /* owned: name, value pairs */
    int n_headers;
};

#define RX_MAX_IDLE 32

static void free_copy(rx_http_call *c)
{
    free(c->path);
    free(c->body);
    for (int i = 0; i < c->n_headers; i++)
        free(c->headers[i]);
    free(c->headers);
    c->path = c->body = NULL;
    c->headers = NULL;
    c->n_headers = 0;
}

static void unlink_call(rx_http_call *c)
{
    rx_http_pool *p = c->pool;
    if (c->prev)
        c->prev->next = c->next;
    else if (p->calls == c)
        p->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Frees a connection (and any request on it, without callbacks) and optionally a detached call
 * whose pointer that request still holds, from the loop, outside that connection's callbacks. */
typedef struct {
    struct evhttp_connection *conn;
    rx_http_call *call;
} doomed;

static void free_conn_later_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    doomed *d = arg;
    evhttp_connection_free(d->conn);
    if (d->call) free_copy(d->call);
    free(d->call);
    free(d);
}

static void free_conn_later(rx_http_pool *p, struct evhttp_connection *conn, rx_http_call *call)
{
    doomed *d = malloc(sizeof *d);
    if (d) {
        d->conn = conn;
        d->call = call;
        if (event_base_once(p->base, -1, EV_TIMEOUT, free_conn_later_cb, d, NULL) == 0) return;
        free(d);
    }
    /* no memory for the event: free now, as a last resort */
    evhttp_connection_free(conn);
    if (call) free_copy(call);
    free(call);
}

static void give_back(rx_http_pool *p, struct evhttp_connection *conn, bool reusable)
{
    p->n_busy--;
    if (!reusable || p->n_idle >= RX_MAX_IDLE) {
        free_conn_later(p, conn, NULL);
        return;
    }
    idle_conn *ic = malloc(sizeof *ic);
    if (!ic) {
        free_conn_later(p, conn, NULL);
        return;
    }
    ic->conn = conn;
    ic->next = p->idle;
    p->idle = ic;
    p->n_idle++;
}

/* Ends a call once: stops its timer, unlinks it, reports. Frees it unless keep (a detached call
 * is freed with its connection). */
static void end_call(rx_http_call *c, rx_status s, const char *message, bool keep)
{
    if (c->finished) return;
    c->finished = true;
    if (c->first_byte) event_free(c->first_byte);
    c->first_byte = NULL;
    unlink_call(c);
    if (c->cb.on_done) c->cb.on_done(c, s, message, c->user);
    if (!keep) {
        free_copy(c);
        free(c);
    }
}

static rx_status resend(rx_http_call *c);

/* libevent's done callback: req is NULL on failure. */
static void on_request_done(struct evhttp_request *req, void *arg)
{
    rx_http_call *c = arg;
    if (c->finished) return; /* detached: freed with its connection */
    if (c->starting) {
        /* a synchronous connect failure: rx_http_call_start cleans up and reports it */
        c->failed_at_start = true;
        return;
    }
    rx_http_pool *p = c->pool;
    struct evhttp_connection *conn = c->conn;
    c->conn = NULL;
    c->req = NULL;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        give_back(p, conn, false);
        if (!c->got_head && c->reused && !c->resent) {
            c->resent = true;
            if (resend(c) == RX_OK) return;
        }
        char msg[400];
        snprintf(msg, sizeof msg, "%s:%d: %s", p->host, p->port,
                 c->got_head ? "connection lost mid-response" : "connection failed or reset");
        end_call(c, RX_ERR_IO, msg, false);
        return;
    }
    /* a body delivered without chunks (Content-Length) still goes through on_chunk */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (!c->got_head) {
        c->got_head = true;
        if (c->first_byte) event_del(c->first_byte);
        if (c->cb.on_head) c->cb.on_head(c, evhttp_request_get_response_code(req), c->user);
    }
    if (n && c->cb.on_chunk && !c->finished) {
        const char *data = (const char *)evbuffer_pullup(in, -1);
        c->cb.on_chunk(c, data, n, c->user);
        evbuffer_drain(in, n);
    }
    give_back(p, conn, true);
    end_call(c, RX_OK, "", false);
}

static int on_header(struct evhttp_request *req, void *arg)
{
    rx_http_call *c = arg;
    if (c->finished) return -1;
    c->req = req;
    c->got_head = true;
    if (c->first_byte) event_del(c->first_byte);
    if (c->cb.on_head) c->cb.on_head(c, evhttp_request_get_response_code(req), c->user);
    return 0;
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    rx_http_call *c = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n && c->cb.on_chunk && !c->finished)
        c->cb.on_chunk(c, (const char *)evbuffer_pullup(in, -1), n, c->user);
    evbuffer_drain(in, n);
}

/* Detaches a call: it reports now, and no libevent callback reaches it again (they see
 * `finished`); it is freed together with its connection, later. */
static void abort_call(rx_http_call *c, rx_status s, const char *message)
{
    if (c->finished) return;
    rx_http_pool *p = c->pool;
    struct evhttp_connection *conn = c->conn;
    c->conn = NULL;
    end_call(c, s, message, conn != NULL);
    if (conn) {
        p->n_busy--;
        free_conn_later(p, conn, c);
    }
}

static void on_first_byte_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rx_http_call *c = arg;
    char msg[400];
    snprintf(msg, sizeof msg, "%s:%d: no response within %d ms", c->pool->host, c->pool->port,
             c->pool->cfg.first_byte_timeout_ms);
    abort_call(c, RX_ERR_IO, msg);
}

rx_status rx_http_pool_create(rx_http_server *loop, const char *host, int port,
                              const rx_http_pool_config *cfg, rx_http_pool **out)
{
    rx_http_pool *p = calloc(1, sizeof *p);
    if (!p) return rx_error(RX_ERR_NOMEM, "no memory for an upstream pool");
    p->base = rx_http_server_event_base(loop);
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    if (cfg) p->cfg = *cfg;
    if (p->cfg.connect_timeout_ms <= 0) p->cfg.connect_timeout_ms = 2000;
    if (p->cfg.first_byte_timeout_ms <= 0) p->cfg.first_byte_timeout_ms = 30000;
    if (p->cfg.idle_timeout_ms <= 0) p->cfg.idle_timeout_ms = 30000;
    if (p->cfg.max_connections <= 0) p->cfg.max_connections = 256;
    *out = p;
    return RX_OK;
}

void rx_http_pool_free(rx_http_pool *p)
{
    if (!p) return;
    while (p->calls)
        abort_call(p->calls, RX_ERR_CANCELLED, "the pool is closing");
    for (idle_conn *ic = p->idle, *next; ic; ic = next) {
        next = ic->next;
        free_conn_later(p, ic->conn, NULL);
        free(ic);
    }
    free(p);
}

static struct evhttp_connection *new_conn(rx_http_pool *p)
{
    struct evhttp_connection *conn =
        evhttp_connection_base_new(p->base, NULL, p->host, (ev_uint16_t)p->port);
    if (!conn) return NULL;
    evhttp_connection_set_retries(conn, 0);
    struct timeval tv = {p->cfg.idle_timeout_ms / 1000, (p->cfg.idle_timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(conn, &tv);
    return conn;
}

static struct evhttp_connection *take_conn(rx_http_pool *p, bool *reused)
{
    *reused = p->idle != NULL;
    if (p->idle) {
        idle_conn *ic = p->idle;
        struct evhttp_connection *conn = ic->conn;
        p->idle = ic->next;
        p->n_idle--;
        free(ic);
        return conn;
    }
    return new_conn(p);
}

/* Sends c's request on c->conn. RX_OK, or an error with nothing left to call back (the caller
 * drops the connection). */
static rx_status send_request(rx_http_call *c)
{
    rx_http_pool *p = c->pool;
    struct evhttp_request *req = evhttp_request_new(on_request_done, c);
    if (!req) return rx_error(RX_ERR_NOMEM, "no memory for a call to %s:%d", p->host, p->port);
    c->req = req;
    evhttp_request_set_header_cb(req, on_header);
    evhttp_request_set_chunked_cb(req, on_chunk);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", p->host, p->port);
    evhttp_add_header(h, "Host", hostport);
    for (int i = 0; i + 1 < c->n_headers; i += 2)
        evhttp_add_header(h, c->headers[i], c->headers[i + 1]);
    if (c->body_len) evbuffer_add(evhttp_request_get_output_buffer(req), c->body, c->body_len);
    c->starting = true;
    c->failed_at_start = false;
    int rc = evhttp_make_request(c->conn, req, c->type, c->path);
    c->starting = false;
    if (rc != 0 || c->failed_at_start) {
        c->req = NULL; /* libevent freed it; nothing will call back */
        return rx_error(RX_ERR_IO, "%s:%d: could not send the request", p->host, p->port);
    }
    return RX_OK;
}

/* The same request on a fresh connection (see `reused`). */
static rx_status resend(rx_http_call *c)
{
    rx_http_pool *p = c->pool;
    c->conn = new_conn(p);
    if (!c->conn) return rx_error(RX_ERR_NOMEM, "no memory for a connection");
    p->n_busy++;
    c->reused = false;
    if (send_request(c) == RX_OK) return RX_OK;
    give_back(p, c->conn, false);
    c->conn = NULL;
    return RX_ERR_IO;
}

static bool copy_request(rx_http_call *c, const char *path, const char *const *headers,
                         const char *body, size_t len)
{
    c->path = strdup(path);
    c->body = malloc(len ? len : 1);
    if (!c->path || !c->body) return false;
    if (len) memcpy(c->body, body, len);
    c->body_len = len;
    int n = 0;
    while (headers && headers[n] && headers[n + 1])
        n += 2;
    c->headers = calloc((size_t)(n ? n : 1), sizeof *c->headers);
    if (!c->headers) return false;
    for (int i = 0; i < n; i++) {
        if (!(c->headers[i] = strdup(headers[i]))) return false;
        c->n_headers = i + 1;
    }
    return true;
}

rx_status rx_http_call_start(rx_http_pool *p, const char *method, const char *path,
                             const char *const *headers, const char *body, size_t len,
                             const rx_http_call_cb *cb, void *user, rx_http_call **out)
{
    if (p->n_busy >= p->cfg.max_connections)
        return rx_error(RX_ERR_FULL, "%s:%d: %d connections busy", p->host, p->port, p->n_busy);
    rx_http_call *c = calloc(1, sizeof *c);
    if (!c) return rx_error(RX_ERR_NOMEM, "no memory for a call");
    c->pool = p;
    c->cb = *cb;
    c->user = user;
    c->type = strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
    c->first_byte = evtimer_new(p->base, on_first_byte_timeout, c);
    if (!c->first_byte || !copy_request(c, path, headers, body, len) ||
        !(c->conn = take_conn(p, &c->reused))) {
        if (c->first_byte) event_free(c->first_byte);
        free_copy(c);
        free(c);
        return rx_error(RX_ERR_NOMEM, "no memory for a call to %s:%d", p->host, p->port);
    }
    p->n_busy++;
    rx_status s = send_request(c);
    if (s != RX_OK) {
        event_free(c->first_byte);
        p->n_busy--;
        free_conn_later(p, c->conn, NULL);
        free_copy(c);
        free(c);
        return s;
    }
    c->next = p->calls;
    if (p->calls) p->calls->prev = c;
    p->calls = c;
    struct timeval tv = {p->cfg.first_byte_timeout_ms / 1000,
                         (p->cfg.first_byte_timeout_ms % 1000) * 1000};
    evtimer_add(c->first_byte, &tv);
    *out = c;
    return RX_OK;
}

void rx_http_call_cancel(rx_http_call *c)
{
    if (c && !c->finished) abort_call(c, RX_ERR_CANCELLED, "cancelled");
}

const char *rx_http_call_header(const rx_http_call *c, const char *name)
{
    if (!c->req) return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(c->req), name);
}
