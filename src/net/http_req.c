/* One request as the handler sees it: evhttp's request callback builds the wrapper (method,
 * decoded path, query, body, peer) and hands it to the handler; the accessors read it; and when
 * the client goes away first, the wrapper is marked dead and takes over evhttp's request so
 * that every borrowed pointer stays valid until the owner finishes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "UNKNOWN";
}

/* The decoded path in *out; 400 when it would decode to a NUL byte (a C string cannot hold it,
 * and a truncated path is a classic way past a prefix check), 503 when out of memory. */
static int decoded_path(struct evhttp_request *ereq, char **out)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ereq);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!raw || !*raw) raw = "/";
    size_t n = 0;
    char *path = evhttp_uridecode(raw, 0, &n);
    if (!path) return 503;
    if (strlen(path) != n) {
        free(path);
        return 400;
    }
    *out = path;
    return 0;
}

static void format_peer(struct evhttp_connection *evcon, char *out, size_t cap)
{
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &addr, &port);
    if (!addr) addr = "?";
    snprintf(out, cap, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, (unsigned)port);
}

/* The wrapper for ereq in *out, or the HTTP status to refuse it with. */
static int make_req(rx_http_server *s, rx_http_conn *c, struct evhttp_request *ereq,
                    rx_http_req **out)
{
    rx_http_req *r = calloc(1, sizeof *r);
    if (!r) return 503;
    int refuse = decoded_path(ereq, &r->path);
    struct evbuffer *in = evhttp_request_get_input_buffer(ereq);
    r->body_len = evbuffer_get_length(in);
    r->body = r->body_len ? (const char *)evbuffer_pullup(in, -1) : "";
    if (!refuse && !r->body) refuse = 503; /* no memory for a contiguous copy */
    if (refuse) {
        free(r->path);
        free(r);
        return refuse;
    }
    r->srv = s;
    r->conn = c;
    r->ereq = ereq;
    r->method = method_name(evhttp_request_get_command(ereq));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ereq);
    r->query = uri ? evhttp_uri_get_query(uri) : NULL;
    format_peer(c->evcon, r->peer, sizeof r->peer);
    *out = r;
    return 0;
}

static void on_response_done(struct evhttp_request *ereq, void *arg)
{
    (void)ereq;
    rx_http_conn *c = arg;
    c->served_one = true;
    rx_http__phase(c, RX_CONN_WAITING);
}

void rx_http__dispatch(struct evhttp_request *ereq, void *arg)
{
    rx_http_server *s = arg;
    rx_http_conn *c = rx_http__conn_of(s, evhttp_request_get_connection(ereq));
    if (!c || c->reject) { /* a connection we could not track (out of memory at accept) */
        evhttp_send_error(ereq, 503, "Service Unavailable");
        return;
    }
    rx_http_req *r = NULL;
    int refuse = make_req(s, c, ereq, &r);
    if (refuse) {
        evhttp_send_error(ereq, refuse, NULL);
        return;
    }
    c->req = r;
    rx_http__phase(c, RX_CONN_HANDLER);
    evhttp_request_set_on_complete_cb(ereq, on_response_done, c);
    rx_http__watch_start(c);
    s->handler(r, s->user); /* may finish r before returning */
}

/* --- the client went away --- */

static void late_unlink(rx_http_req *r)
{
    if (!r->close_queued) return;
    rx_http_server *s = r->srv;
    if (r->late_prev)
        r->late_prev->late_next = r->late_next;
    else
        s->late_closes = r->late_next;
    if (r->late_next) r->late_next->late_prev = r->late_prev;
    r->late_prev = r->late_next = NULL;
    r->close_queued = false;
}

/* Queues r's on_close to run on the next loop turn (once, unless r is finished first). */
static void late_close(rx_http_req *r)
{
    if (r->close_queued || !r->on_close) return;
    rx_http_server *s = r->srv;
    r->close_queued = true;
    r->late_prev = NULL;
    r->late_next = s->late_closes;
    if (s->late_closes) s->late_closes->late_prev = r;
    s->late_closes = r;
    event_active(s->late_close_ev, EV_READ, 0);
}

void rx_http__late_close_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http_server *s = arg;
    while (s->late_closes) {
        rx_http_req *r = s->late_closes;
        late_unlink(r);
        rx_http_task fn = r->on_close;
        r->on_close = NULL;
        if (fn) fn(r->on_close_arg); /* may finish r */
    }
}

void rx_http__req_lost(rx_http_req *r)
{
    r->dead = true;
    r->conn = NULL;
    /* from now on evhttp must not free it (it may still list it while it frees the
     * connection, in evhttp_free): the owner's finish does */
    evhttp_request_own(r->ereq);
    /* never call the owner from inside evhttp's teardown (or from inside its own write that
     * failed): it could finish r while evhttp still walks its lists */
    late_close(r);
}

/* Unhooks r from its connection and from the late-close list; the caller then frees it. */
void rx_http__req_detach(rx_http_req *r)
{
    late_unlink(r);
    rx_http_conn *c = r->conn;
    if (c) {
        rx_http__watch_stop(c);
        c->req = NULL;
        rx_http__phase(c, RX_CONN_RESPONDING);
        r->conn = NULL;
    }
}

void rx_http__req_free(rx_http_req *r)
{
    free(r->path);
    free(r);
}

/* --- accessors --- */

const char *rx_http_method(const rx_http_req *r)
{
    return r->method;
}

const char *rx_http_path(const rx_http_req *r)
{
    return r->path;
}

const char *rx_http_query(const rx_http_req *r)
{
    return r->query;
}

const char *rx_http_header(const rx_http_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ereq), name);
}

const char *rx_http_body(const rx_http_req *r, size_t *len)
{
    if (len) *len = r->body_len;
    return r->body;
}

const char *rx_http_peer(const rx_http_req *r)
{
    return r->peer;
}

bool rx_http_alive(const rx_http_req *r)
{
    return !r->dead;
}

void rx_http_on_close(rx_http_req *r, rx_http_task fn, void *arg)
{
    r->on_close = fn;
    r->on_close_arg = arg;
    if (!fn)
        late_unlink(r);
    else if (r->dead)
        late_close(r); /* it has already gone: tell the owner soon, not from inside this call */
}
