/* One connection of the HTTP client: its socket, opened nonblocking with TCP_NODELAY and
 * registered once with libevent, edge-triggered for reading and writing (and EV_CLOSED,
 * epoll's RDHUP), so a keep-alive request costs one send() of the serialized request and
 * usually one recv() of the answer, with no epoll_ctl and no ioctl. A recv() shorter than the
 * buffer drained the socket and a later arrival raises a new edge; only when the event says the
 * peer closed (its FIN may have come with the data) is the end read at once. Timers are
 * libevent common timeouts (no syscall).
 *
 * Callbacks run user code that may cancel calls, start calls or free the pool, so a connection
 * whose own handler is on the stack is closed at once but freed when that handler unwinds
 * (`busy`, `dead`); code after a callback checks `dead` before touching anything. */
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/http_client_internal.h"

typedef rx_http_client_conn conn;

static void conn_io(evutil_socket_t fd, short what, void *arg);
static void conn_timeout(evutil_socket_t fd, short what, void *arg);

/* --- connections --- */

static int resp_head(void *user, int status);
static int resp_body(void *user, const char *data, size_t len);
static const rx_http_resp_cb resp_cb = {resp_head, resp_body};

static void free_conn(conn *k)
{
    rx_http_resp__free(&k->resp);
    free(k);
}

/* Closes k now; frees it now, or when its handler unwinds. k must carry no call. */
void rx_http_client__close(conn *k)
{
    if (k->fd >= 0) {
        event_free(k->io);
        if (k->wr) event_free(k->wr);
        event_free(k->timer);
        close(k->fd);
        k->fd = -1;
    }
    k->pool = NULL;
    if (k->busy)
        k->dead = true;
    else
        free_conn(k);
}

/* Where the backend has no edge trigger (EVENT_NOEPOLL...), write interest is asked for only
 * while a connect or a send is pending, or a level-triggered write event would spin. */
static void want_write(conn *k)
{
    if (k->wr) event_add(k->wr, NULL);
}

rx_status rx_http_client__resolve(rx_http_pool *p)
{
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    const int rc = getaddrinfo(p->host, port, &hints, &list);
    if (rc != 0)
        return rx_error(RX_ERR_IO, "%s:%d: cannot resolve the host: %s", p->host, p->port,
                        gai_strerror(rc));
    /* IPv4 first: "localhost" lists ::1 first, and reflex listens on 127.0.0.1 by default */
    const struct addrinfo *pick = list;
    for (const struct addrinfo *a = list; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    memcpy(&p->addr, pick->ai_addr, pick->ai_addrlen);
    p->addr_len = pick->ai_addrlen;
    freeaddrinfo(list);
    return RX_OK;
}

/* A new connection, connecting. A connect() that fails at once is reported from the handler
 * (k->err), so rx_http_call_start never calls back. */
rx_status rx_http_client__open(rx_http_pool *p, conn **out)
{
    if (!p->addr_len && rx_http_client__resolve(p) != RX_OK) return RX_ERR_IO;
    conn *k = calloc(1, sizeof *k);
    if (!k) return rx_error(RX_ERR_NOMEM, "no memory for a connection to %s:%d", p->host, p->port);
    k->pool = p;
    k->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0) {
        rx_status s =
            rx_error(RX_ERR_IO, "%s:%d: no socket: %s", p->host, p->port, strerror(errno));
        free(k);
        return s;
    }
    const int one = 1;
    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int features = event_base_get_features(p->base);
    const bool et = features & EV_FEATURE_ET, closed = features & EV_FEATURE_EARLY_CLOSE;
    k->drain = et && !closed;
    k->io = event_new(p->base, k->fd,
                      EV_READ | EV_PERSIST | (et ? EV_WRITE | EV_ET : 0) | (closed ? EV_CLOSED : 0),
                      conn_io, k);
    k->wr = et ? NULL : event_new(p->base, k->fd, EV_WRITE, conn_io, k);
    k->timer = evtimer_new(p->base, conn_timeout, k);
    rx_http_resp__init(&k->resp, &resp_cb, k);
    if (!k->io || (!et && !k->wr) || !k->timer || event_add(k->io, NULL) != 0) {
        if (k->io) event_free(k->io);
        if (k->wr) event_free(k->wr);
        if (k->timer) event_free(k->timer);
        close(k->fd);
        free(k);
        return rx_error(RX_ERR_NOMEM, "no memory for a connection to %s:%d", p->host, p->port);
    }
    k->connecting = true;
    if (connect(k->fd, (const struct sockaddr *)&p->addr, p->addr_len) == 0) {
        k->connecting = false;
    } else if (errno == EINPROGRESS) {
        want_write(k);
    } else {
        k->err = errno;
        event_active(k->io, EV_WRITE, 1);
    }
    *out = k;
    return RX_OK;
}

void rx_http_client__idle_remove(rx_http_pool *p, conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        p->idle = k->next;
    if (k->next) k->next->prev = k->prev;
    k->prev = k->next = NULL;
    p->n_idle--;
}

/* Back to the idle list, or closed. */
void rx_http_client__release(rx_http_pool *p, conn *k, bool reusable)
{
    if (!reusable || p->n_idle >= RX_HTTP_CLIENT_MAX_IDLE) {
        rx_http_client__close(k);
        return;
    }
    k->prev = NULL;
    k->next = p->idle;
    if (p->idle) p->idle->prev = k;
    p->idle = k;
    p->n_idle++;
}

/* An idle connection became readable: the server closed it or sent something unasked. */
static void idle_readable(conn *k)
{
    char b;
    if (recv(k->fd, &b, 1, MSG_PEEK) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    rx_http_client__idle_remove(k->pool, k);
    rx_http_client__close(k);
}

static void arm(conn *k, const struct timeval *tv)
{
    evtimer_add(k->timer, tv);
}

/* Sends what is left of the request; 0, or the errno of a failed send. */
int rx_http_client__send(conn *k)
{
    const rx_http_call *c = k->call;
    while (k->out_off < c->req_len) {
        const ssize_t n = send(k->fd, c->req + k->out_off, c->req_len - k->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            k->out_off += (size_t)n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            want_write(k);
            return 0;
        } else if (errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

/* --- reading --- */

static int resp_head(void *user, int status)
{
    conn *k = user;
    rx_http_call *c = k->call;
    arm(k, k->pool->idle_tv);
    if (c->cb.on_head) c->cb.on_head(c, status, c->user);
    return k->dead; /* the call was cancelled or the pool freed: stop */
}

static int resp_body(void *user, const char *data, size_t len)
{
    conn *k = user;
    rx_http_call *c = k->call;
    if (c->cb.on_chunk) c->cb.on_chunk(c, data, len, c->user);
    return k->dead;
}

/* Bytes for k's call (maybe_more: the socket may hold more, or its end); false when the call
 * is over (or k is). */
static bool take_bytes(conn *k, size_t n, bool maybe_more)
{
    size_t used;
    k->n_in += n;
    const rx_http_resp_state s = rx_http_resp__feed(&k->resp, k->in, n, &used);
    if (k->dead) return false;
    switch (s) {
    case RX_HTTP_RESP_MORE:
        if (k->resp.head_done) arm(k, k->pool->idle_tv);
        return true;
    case RX_HTTP_RESP_DONE: {
        /* Bytes after the answer were never asked for, and an answer before the whole request
         * was sent leaves the rest of it on the wire: such a connection is not used again. */
        bool reusable = k->resp.keep_alive && used == n && k->out_off == k->call->req_len;
        if (reusable && maybe_more) {
            char b; /* the socket may hold more: it must hold nothing */
            reusable =
                recv(k->fd, &b, 1, MSG_PEEK) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
        rx_http_client__complete(k, reusable);
        return false;
    }
    case RX_HTTP_RESP_STOPPED: /* only when k died in a callback */
    case RX_HTTP_RESP_ERROR:
        rx_http_client__fail(k, RX_HTTP_CLIENT_MALFORMED, 0);
        return false;
    }
    return false;
}

/* Reads until the socket is drained, the answer ends, or the call is gone; closed: the peer
 * closed (or reset), so the end is read now, as no further edge will come for it. */
static void read_all(conn *k, bool closed)
{
    for (;;) {
        const ssize_t n = recv(k->fd, k->in, sizeof k->in, 0);
        if (n > 0) {
            const bool full = (size_t)n == sizeof k->in;
            if (!take_bytes(k, (size_t)n, full || closed) || (!full && !closed && !k->drain))
                return;
        } else if (n == 0) {
            if (rx_http_resp__eof(&k->resp) == RX_HTTP_RESP_DONE)
                rx_http_client__complete(k, false);
            else
                rx_http_client__fail(k, RX_HTTP_CLIENT_EOF, 0);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            rx_http_client__fail(k, RX_HTTP_CLIENT_RECV, errno);
            return;
        }
    }
}

/* --- event handlers --- */

static void connected(conn *k)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err) {
        rx_http_client__fail(k, RX_HTTP_CLIENT_CONNECT, err);
        return;
    }
    k->connecting = false;
    arm(k, k->pool->first_byte_tv);
}

static void conn_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    conn *k = arg;
    rx_http_call *c = k->call;
    k->busy++;
    if (!c) {
        if (what & (EV_READ | EV_CLOSED)) idle_readable(k);
    } else if (k->err) {
        rx_http_client__fail(k, k->connecting ? RX_HTTP_CLIENT_CONNECT : RX_HTTP_CLIENT_SEND,
                             k->err);
    } else {
        bool may_send = what & EV_WRITE;
        if (k->connecting) {
            connected(k);
            may_send = true;
        }
        if (!k->dead && k->call == c && !k->connecting && may_send && k->out_off < c->req_len) {
            const int err = rx_http_client__send(k);
            if (err) rx_http_client__fail(k, RX_HTTP_CLIENT_SEND, err);
        }
        if (!k->dead && k->call == c && !k->connecting && (what & (EV_READ | EV_CLOSED)))
            read_all(k, what & EV_CLOSED);
    }
    if (--k->busy == 0 && k->dead) free_conn(k);
}

static void conn_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *k = arg;
    if (!k->call) return;
    k->busy++;
    rx_http_client__fail(k,
                         k->connecting       ? RX_HTTP_CLIENT_CONNECT_TIMEOUT
                         : k->resp.head_done ? RX_HTTP_CLIENT_IDLE
                                             : RX_HTTP_CLIENT_FIRST_BYTE,
                         0);
    if (--k->busy == 0 && k->dead) free_conn(k);
}
