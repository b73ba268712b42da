/* HTTP client calls on the server's loop (see reflex/http_client.h): pools, the life of a call
 * over its pool's connections (http_client_conn.c) and the messages of its failures. A call
 * holds one connection while in flight; when its answer ended cleanly and the server keeps the
 * connection alive, the connection goes back to the pool's idle list, else it is closed. A call
 * ends exactly once: on_done runs, the call is freed, and nothing calls back after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "net/http_client_internal.h"

typedef rx_http_client_conn conn;

/* --- calls --- */

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

static void attach(rx_http_call *c, conn *k)
{
    c->conn = k;
    k->call = c;
    k->out_off = 0;
    k->n_in = 0;
    rx_http_resp__start(&k->resp, c->head_only);
    c->pool->n_busy++;
    evtimer_add(k->timer, k->connecting ? c->pool->connect_tv : c->pool->first_byte_tv);
}

static void detach(rx_http_call *c, conn *k)
{
    c->conn = NULL;
    k->call = NULL;
    c->pool->n_busy--;
    evtimer_del(k->timer);
}

/* Ends a detached call once: it reports and is freed. */
static void end_call(rx_http_call *c, rx_status s, const char *message)
{
    c->finished = true;
    unlink_call(c);
    if (c->cb.on_done) c->cb.on_done(c, s, message, c->user);
    free(c);
}

static void describe(char *msg, size_t cap, const conn *k, rx_http_client_failure f, int err)
{
    const rx_http_pool *p = k->pool;
    const bool head = k->resp.head_done;
    const char *mid = head ? "connection lost mid-response" : "connection failed or reset";
    switch (f) {
    case RX_HTTP_CLIENT_CONNECT:
        snprintf(msg, cap, "%s:%d: connection failed or reset (connect: %s)", p->host, p->port,
                 strerror(err));
        break;
    case RX_HTTP_CLIENT_CONNECT_TIMEOUT:
        snprintf(msg, cap, "%s:%d: connection failed or reset (connect timed out after %d ms)",
                 p->host, p->port, p->cfg.connect_timeout_ms);
        break;
    case RX_HTTP_CLIENT_SEND:
        snprintf(msg, cap, "%s:%d: %s (sending the request: %s)", p->host, p->port, mid,
                 strerror(err));
        break;
    case RX_HTTP_CLIENT_RECV:
        snprintf(msg, cap, "%s:%d: %s (%s%s)", p->host, p->port, mid, strerror(err),
                 head ? "" : ", before the response head");
        break;
    case RX_HTTP_CLIENT_EOF:
        snprintf(msg, cap, "%s:%d: %s (closed by the server %s)", p->host, p->port, mid,
                 head ? "before the end of the body" : "before the response head");
        break;
    case RX_HTTP_CLIENT_FIRST_BYTE:
        snprintf(msg, cap, "%s:%d: no response within %d ms", p->host, p->port,
                 p->cfg.first_byte_timeout_ms);
        break;
    case RX_HTTP_CLIENT_IDLE:
        snprintf(msg, cap, "%s:%d: connection lost mid-response (nothing for %d ms)", p->host,
                 p->port, p->cfg.idle_timeout_ms);
        break;
    case RX_HTTP_CLIENT_MALFORMED:
        snprintf(msg, cap, "%s:%d: malformed response%s: %s", p->host, p->port, head ? " body" : "",
                 k->resp.error);
        break;
    }
}

static rx_status resend(rx_http_call *c);

/* The call goes out again once when the server had dropped a kept-alive connection before
 * answering (see `resent`). */
void rx_http_client__fail(conn *k, rx_http_client_failure f, int err)
{
    rx_http_call *c = k->call;
    char msg[512];
    describe(msg, sizeof msg, k, f, err);
    const bool stale =
        k->served && k->n_in == 0 && !c->resent &&
        (f == RX_HTTP_CLIENT_SEND || f == RX_HTTP_CLIENT_RECV || f == RX_HTTP_CLIENT_EOF);
    detach(c, k);
    rx_http_client__close(k);
    if (stale) {
        c->resent = true;
        if (resend(c) == RX_OK) return;
        snprintf(msg, sizeof msg, "%s", rx_last_error());
    }
    end_call(c, RX_ERR_IO, msg);
}

void rx_http_client__complete(conn *k, bool reusable)
{
    rx_http_call *c = k->call;
    rx_http_pool *p = k->pool;
    detach(c, k);
    k->served = true;
    rx_http_client__release(p, k, reusable);
    end_call(c, RX_OK, "");
}

static rx_status resend(rx_http_call *c)
{
    conn *k;
    rx_status s = rx_http_client__open(c->pool, &k);
    if (s != RX_OK) return s;
    attach(c, k);
    return RX_OK;
}

/* --- the API --- */

static void cancel_with(rx_http_call *c, const char *why);

static const struct timeval *timeout_tv(rx_http_pool *p, int i, int ms)
{
    p->plain[i] = (struct timeval){ms / 1000, (ms % 1000) * 1000};
    const struct timeval *t = event_base_init_common_timeout(p->base, &p->plain[i]);
    return t ? t : &p->plain[i];
}

rx_status rx_http_pool_create(rx_http_server *loop, const char *host, int port,
                              const rx_http_pool_config *cfg, rx_http_pool **out)
{
    if (strlen(host) >= sizeof((rx_http_pool *)0)->host)
        return rx_error(RX_ERR_INVALID_ARG, "upstream host %.64s...: over 255 bytes", host);
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
    const bool v6 = strchr(p->host, ':') && p->host[0] != '[';
    /* fits: a 255-byte host, brackets, a port */
    p->host_line_len = (size_t)snprintf(p->host_line, sizeof p->host_line, "Host: %s%s%s:%d\r\n",
                                        v6 ? "[" : "", p->host, v6 ? "]" : "", p->port);
    p->connect_tv = timeout_tv(p, 0, p->cfg.connect_timeout_ms);
    p->first_byte_tv = timeout_tv(p, 1, p->cfg.first_byte_timeout_ms);
    p->idle_tv = timeout_tv(p, 2, p->cfg.idle_timeout_ms);
    /* blocking, once; a host that does not resolve yet is tried again at each connection */
    if (rx_http_client__resolve(p) != RX_OK) p->addr_len = 0;
    *out = p;
    return RX_OK;
}

void rx_http_pool_free(rx_http_pool *p)
{
    if (!p) return;
    while (p->calls)
        cancel_with(p->calls, "the pool is closing");
    while (p->idle) {
        conn *k = p->idle;
        rx_http_client__idle_remove(p, k);
        rx_http_client__close(k);
    }
    free(p);
}

rx_status rx_http_call_start(rx_http_pool *p, const char *method, const char *path,
                             const char *const *headers, const char *body, size_t len,
                             const rx_http_call_cb *cb, void *user, rx_http_call **out)
{
    if (p->n_busy >= p->cfg.max_connections)
        return rx_error(RX_ERR_FULL, "%s:%d: %d connections busy", p->host, p->port, p->n_busy);
    rx_status s;
    rx_http_call *c = rx_http_client__new_call(p, method, path, headers, body, len, &s);
    if (!c) return s;
    c->pool = p;
    c->cb = *cb;
    c->user = user;
    conn *k = p->idle;
    if (k) {
        rx_http_client__idle_remove(p, k);
    } else if ((s = rx_http_client__open(p, &k)) != RX_OK) {
        free(c);
        return s;
    }
    attach(c, k);
    c->next = p->calls;
    if (p->calls) p->calls->prev = c;
    p->calls = c;
    if (!k->connecting && !k->err) {
        /* a send that fails here is reported from the handler: no callback runs inside start */
        k->err = rx_http_client__send(k);
        if (k->err) event_active(k->io, EV_WRITE, 1);
    }
    *out = c;
    return RX_OK;
}

static void cancel_with(rx_http_call *c, const char *why)
{
    if (!c || c->finished) return;
    conn *k = c->conn;
    if (k) {
        detach(c, k);
        rx_http_client__close(k); /* mid-answer: its state is unknown */
    }
    end_call(c, RX_ERR_CANCELLED, why);
}

void rx_http_call_cancel(rx_http_call *c)
{
    cancel_with(c, "cancelled");
}

const char *rx_http_call_header(const rx_http_call *c, const char *name)
{
    if (!c || !c->conn) return NULL;
    return rx_http_resp__header(&c->conn->resp, name);
}
