/* One request as the handler sees it: dispatch builds the wrapper (method, decoded path,
 * query, headers, body, peer) around the parsed message, which the wrapper owns, so every
 * borrowed pointer stays valid until the owner finishes the request, even when the client has
 * gone and its connection is freed meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h> /* evhttp_uridecode: libevent's percent-decoding */

#include "net/internal.h"

/* The decoded path (and the raw query) of the request target; 400 when the target does not
 * parse or its path would decode to a NUL byte (a C string cannot hold it, and a truncated
 * path is a classic way past a prefix check), 503 when out of memory. */
static int split_target(rx_http_req *r, bool is_connect)
{
    char *url = r->msg.buf + r->msg.url;
    size_t len = strlen(url);
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, len, is_connect, &u) != 0) return 400;
    if (u.field_set & (1 << UF_FRAGMENT)) url[u.field_data[UF_FRAGMENT].off - 1] = '\0';
    if (u.field_set & (1 << UF_QUERY)) {
        r->query = url + u.field_data[UF_QUERY].off;
        url[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = '\0';
    }
    char raw[2] = "/";
    const char *path = raw;
    char *owned = NULL;
    if ((u.field_set & (1 << UF_PATH)) && u.field_data[UF_PATH].len > 0) {
        owned = strndup(url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
        if (!owned) return 503;
        path = owned;
    }
    size_t n = 0;
    r->path = evhttp_uridecode(path, 0, &n);
    free(owned);
    if (!r->path) return 503;
    if (strlen(r->path) != n) return 400;
    return 0;
}

void rx_http__dispatch(rx_http_conn *c)
{
    rx_http_server *s = c->srv;
    rx_http_req *r = calloc(1, sizeof *r);
    if (!r) {
        rx_http_msg m;
        rx_http__parse_take(&c->parse, &m);
        rx_http__msg_free(&m);
        rx_http__refuse(c, 503, "out of memory", 1);
        return;
    }
    const rx_http_parse *p = &c->parse;
    r->srv = s;
    rx_bytes_init(&r->hdrs, r->hdrs_inline, sizeof r->hdrs_inline);
    r->method = http_method_str((enum http_method)p->method);
    r->head = p->method == HTTP_HEAD;
    r->http_minor = p->http_minor;
    r->keep_alive = p->keep_alive;
    int minor = p->http_minor;
    rx_http__parse_take(&c->parse, &r->msg);
    memcpy(r->peer, c->peer, sizeof r->peer);
    int refuse = split_target(r, false);
    if (refuse) {
        rx_http__req_free(r);
        rx_http__refuse(c, refuse, refuse == 400 ? "malformed request target" : "out of memory",
                        minor);
        return;
    }
    r->conn = c;
    c->req = r;
    rx_http__phase(c, RX_CONN_HANDLER);
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
    /* never call the owner from inside the connection's teardown: it could finish r while the
     * connection is half gone */
    late_close(r);
}

void rx_http__req_detach(rx_http_req *r)
{
    late_unlink(r);
    rx_http_conn *c = r->conn;
    if (c) {
        c->req = NULL;
        r->conn = NULL;
    }
}

void rx_http__req_free(rx_http_req *r)
{
    rx_http__msg_free(&r->msg);
    rx_bytes_free(&r->hdrs);
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
    return rx_http__msg_header(&r->msg, name);
}

const char *rx_http_body(const rx_http_req *r, size_t *len)
{
    if (len) *len = r->msg.body_len;
    return r->msg.buf ? r->msg.buf + r->msg.body : "";
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
