/* Connection life cycle on top of evhttp 2.1, which has no hook for "connection accepted" and
 * no connection limit. We create each connection's bufferevent ourselves (evhttp's bevcb),
 * hold a reference on it, and right after evhttp has wired it up we read its evhttp_connection
 * back from the bufferevent's callback argument ("adopt"). From then on the connection is
 * counted, has deadlines and a close callback, and can be closed by us on purpose. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/internal.h"

static void conn_free(rx_http_conn *c)
{
    if (c->deadline) event_free(c->deadline);
    if (c->watch_io) event_free(c->watch_io);
    if (c->watch_poll) event_free(c->watch_poll);
    free(c);
}

/* evhttp's bevcb, called for each accepted socket before evhttp builds its connection. It must
 * return a bufferevent: on NULL evhttp would make a plain one itself, which on a TLS port would
 * serve cleartext, so a connection we cannot track is still given a socket bufferevent and
 * marked for closing at adopt. */
struct bufferevent *rx_http__new_bev(struct event_base *base, void *arg)
{
    rx_http_server *s = arg;
    rx_http_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL; /* dispatch will refuse requests on a connection it does not know */
    c->srv = s;
    c->fd = -1;
    struct bufferevent *bev = s->tls ? rx_http__tls_bev(s) : NULL;
    if (!bev) {
        c->reject = s->tls != NULL;
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        free(c);
        return NULL;
    }
    if (atomic_load(&s->n_conns) >= s->cfg.max_connections) c->reject = true;
    atomic_fetch_add(&s->n_conns, 1);
    /* our reference keeps bev readable at adopt even if evhttp failed and freed it meanwhile */
    bufferevent_incref(bev);
    c->bev = bev;
    c->next_adopt = s->adopting;
    s->adopting = c;
    event_active(s->adopt_ev, EV_READ, 0);
    return bev;
}

static bool index_by_fd(rx_http_server *s, rx_http_conn *c)
{
    if (c->fd >= s->by_fd_cap) {
        int cap = s->by_fd_cap ? s->by_fd_cap : 64;
        while (cap <= c->fd)
            cap *= 2;
        rx_http_conn **p = realloc(s->by_fd, (size_t)cap * sizeof *p);
        if (!p) return false;
        memset(p + s->by_fd_cap, 0, (size_t)(cap - s->by_fd_cap) * sizeof *p);
        s->by_fd = p;
        s->by_fd_cap = cap;
    }
    s->by_fd[c->fd] = c;
    return true;
}

static void on_evcon_closed(struct evhttp_connection *evcon, void *arg);

static bool attach(rx_http_server *s, rx_http_conn *c)
{
    c->fd = bufferevent_getfd(c->bev);
    if (c->fd < 0 || !index_by_fd(s, c)) return false;
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    evhttp_connection_set_closecb(c->evcon, on_evcon_closed, c);
    /* streamed tokens are small writes: do not let Nagle hold one back for the previous ACK */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->deadline = evtimer_new(s->base, rx_http__deadline_cb, c);
    c->watch_io = event_new(s->base, c->fd, EV_READ | EV_CLOSED, rx_http__watch_io_cb, c);
    c->watch_poll = evtimer_new(s->base, rx_http__watch_poll_cb, c);
    c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), rx_http__on_input, c);
    if (!c->deadline || !c->watch_io || !c->watch_poll || !c->in_cb) return false;
    rx_http__phase(c, RX_CONN_WAITING);
    return true;
}

static void adopt_one(rx_http_server *s, rx_http_conn *c)
{
    void *cbarg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
    bufferevent_decref(c->bev);
    if (!cbarg) { /* evhttp failed to set the connection up and freed it */
        atomic_fetch_sub(&s->n_conns, 1);
        conn_free(c);
        return;
    }
    c->evcon = cbarg;
    /* the callback argument is evhttp's connection (libevent 2.1 and 2.2 both wire it so);
     * check the round trip rather than trust it blindly */
    if (evhttp_connection_get_bufferevent(c->evcon) != c->bev) {
        atomic_fetch_sub(&s->n_conns, 1);
        conn_free(c);
        return;
    }
    if (!attach(s, c)) {
        if (c->prev || s->conns == c) { /* listed and close callback set: evhttp unwinds it */
            rx_http__conn_close(c, BEV_EVENT_EOF);
            return;
        }
        /* not known to anyone: close it through evhttp with no callback of ours */
        if (c->fd >= 0 && c->fd < s->by_fd_cap) s->by_fd[c->fd] = NULL;
        struct evhttp_connection *evcon = c->evcon;
        atomic_fetch_sub(&s->n_conns, 1);
        conn_free(c);
        evhttp_connection_free(evcon);
        return;
    }
    if (c->reject) rx_http__conn_close(c, BEV_EVENT_EOF);
}

/* Accepts come in bursts inside the listener callback; adoption runs right after, in the same
 * loop turn, before any event of these new sockets can fire. */
void rx_http__adopt_pending(rx_http_server *s)
{
    while (s->adopting) {
        rx_http_conn *c = s->adopting;
        s->adopting = c->next_adopt;
        c->next_adopt = NULL;
        adopt_one(s, c);
    }
}

void rx_http__adopt_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http__adopt_pending(arg);
}

rx_http_conn *rx_http__conn_of(rx_http_server *s, struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    int fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0 || fd >= s->by_fd_cap) return NULL;
    rx_http_conn *c = s->by_fd[fd];
    return c && c->evcon == evcon ? c : NULL;
}

/* evhttp calls this when it frees the connection, whatever the reason; the connection and
 * its bufferevent are still intact here and freed right after we return. */
static void on_evcon_closed(struct evhttp_connection *evcon, void *arg)
{
    rx_http_conn *c = arg;
    rx_http_server *s = c->srv;
    if (c->in_cb) evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
    if (c->fd >= 0 && c->fd < s->by_fd_cap && s->by_fd[c->fd] == c) s->by_fd[c->fd] = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    atomic_fetch_sub(&s->n_conns, 1);
    rx_http__resume_accepting(s); /* a descriptor is free again, in case accept ran out */
    (void)evcon;
    rx_http_req *r = c->req;
    c->req = NULL;
    conn_free(c);
    if (r) rx_http__req_lost(r);
}

void rx_http__conn_close(rx_http_conn *c, short what)
{
    /* evhttp's own error path (its bufferevent event callback, run synchronously because our
     * bufferevents do not defer callbacks) frees the connection and unhooks a request the
     * owner still holds, exactly as when the peer resets */
    bufferevent_trigger_event(c->bev, BEV_EVENT_READING | what, 0);
}

void rx_http__close_all(rx_http_server *s)
{
    while (s->conns) {
        rx_http_conn *c = s->conns;
        struct evhttp_connection *evcon = c->evcon;
        rx_http__conn_close(c, BEV_EVENT_EOF);
        /* not expected: evhttp kept it; freeing it runs our close callback all the same */
        if (s->conns == c) evhttp_connection_free(evcon);
    }
}
