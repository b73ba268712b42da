/* HTTP client calls on the server's loop (see reflex/http_client.h), on raw nonblocking sockets.
 *
 * Cost per keep-alive request is the point of this file: each connection's socket is
 * registered once, edge-triggered for reading and writing, so a request costs one send() of
 * the serialized request and usually one read() of the answer (a read shorter than the buffer
 * means the socket was drained, and the next arrival raises a new edge), with no epoll_ctl, no
 * ioctl and no allocation besides the call record. Timers are libevent timers (no syscall).
 *
 * Lifetimes: a call holds one connection of its pool while in flight; a finished connection
 * goes back to the pool's idle list when the answer ended cleanly and the server keeps it
 * alive, else it is closed. Callbacks run user code that may cancel calls, start calls or free
 * the pool, so a connection whose own handler is on the stack is closed at once but its memory
 * is freed when that handler unwinds (`busy`, `dead`); code after a callback checks `dead`. */
#include "reflex/http_client.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http_response.h"

#define RX_MAX_IDLE 32
#define RX_READ_BYTES 16384

typedef struct conn conn;

struct rx_http_pool {
    struct event_base *base; /* borrowed from the server */
    char host[256];
    int port;
    rx_http_pool_config cfg;
    struct sockaddr_storage addr; /* resolved at create (again at connect if that failed) */
    socklen_t addr_len;           /* 0: not resolved */
    char host_line[300];          /* "Host: host:port\r\n" */
    size_t host_line_len;
    /* libevent common timeouts (O(1) to arm: every call of a pool has the same durations), or
     * pointers into plain[] when the base has none left */
    const struct timeval *connect_tv, *first_byte_tv, *idle_tv;
    struct timeval plain[3];
    conn *idle;                                                 /* owned, newest first */
    int n_idle, n_busy;
    rx_http_call *calls; /* in flight, for rx_http_pool_free */
};

struct conn {
    rx_http_pool *pool;   /* borrowed */
    int fd;               /* -1 once closed */
    struct event *io;     /* owned: read and write, edge-triggered, added once */
    struct event *wr;     /* owned: one-shot write interest, only where the backend has no ET */
    struct event *timer;  /* owned: the current phase's deadline */
    rx_http_call *call;   /* the call it carries, or NULL while idle */
    conn *prev, *next;    /* pool->idle */
    bool connecting;      /* connect() in progress */
    bool served;          /* it answered a request before: the server may have dropped it */
    bool dead;            /* closed while its handler ran: freed when that unwinds */
    int busy;             /* its handlers on the stack */
    int err;              /* an error found outside its handler, reported from it */
    size_t out_off;       /* bytes of call->req sent */
    size_t n_in;          /* bytes received for the current call */
    rx_http_resp resp;    /* the answer being read (headers kept until the next call) */
    char in[RX_READ_BYTES];
};

struct rx_http_call {
    rx_http_pool *pool;
    rx_http_call *prev, *next; /* pool->calls */
    conn *conn;                /* while in flight */
    rx_http_call_cb cb;
    void *user;
    bool finished;
    bool head_only;
    /* A kept-alive connection the server closed while it sat idle (cpp-httplib, behind
     * llama-server, closes after a few requests) fails before any byte of the answer: the
     * request never reached the server, so it is sent once more on a fresh connection. */
    bool resent;
    size_t req_len;
    char req[]; /* the serialized request, kept whole for that resend */
};

typedef enum {
    F_CONNECT,         /* connect() failed: err */
    F_CONNECT_TIMEOUT, /* no connection within connect_timeout_ms */
    F_SEND,            /* send() failed: err */
    F_RECV,            /* recv() failed: err */
    F_EOF,             /* the server closed before the end */
    F_FIRST_BYTE,      /* no head within first_byte_timeout_ms */
    F_IDLE,            /* no byte for idle_timeout_ms mid-body */
    F_MALFORMED,       /* resp.error says what */
} failure;

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
static void close_conn(conn *k)
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

static rx_status resolve(rx_http_pool *p)
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
static rx_status conn_open(rx_http_pool *p, conn **out)
{
    if (!p->addr_len && resolve(p) != RX_OK) return RX_ERR_IO;
    conn *k = calloc(1, sizeof *k);
    if (!k) return rx_error(RX_ERR_NOMEM, "no memory for a connection to %s:%d", p->host, p->port);
    k->pool = p;
    k->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0) {
        rx_status s = rx_error(RX_ERR_IO, "%s:%d: no socket: %s", p->host, p->port,
                               strerror(errno));
        free(k);
        return s;
    }
    const int one = 1;
    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const bool et = event_base_get_features(p->base) & EV_FEATURE_ET;
    k->io = event_new(p->base, k->fd, EV_READ | EV_PERSIST | (et ? EV_WRITE | EV_ET : 0),
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

static void idle_remove(rx_http_pool *p, conn *k)
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
static void conn_release(rx_http_pool *p, conn *k, bool reusable)
{
    if (!reusable || p->n_idle >= RX_MAX_IDLE) {
        close_conn(k);
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
    idle_remove(k->pool, k);
    close_conn(k);
}

static void arm(conn *k, const struct timeval *tv)
{
    evtimer_add(k->timer, tv);
}

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
    arm(k, k->connecting ? c->pool->connect_tv : c->pool->first_byte_tv);
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

/* Sends what is left of the request; 0, or the errno of a failed send. */
static int send_rest(conn *k)
{
    const rx_http_call *c = k->call;
    while (k->out_off < c->req_len) {
        const ssize_t n =
            send(k->fd, c->req + k->out_off, c->req_len - k->out_off, MSG_NOSIGNAL);
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

static void describe(char *msg, size_t cap, const conn *k, failure f, int err)
{
    const rx_http_pool *p = k->pool;
    const bool head = k->resp.head_done;
    const char *mid = head ? "connection lost mid-response" : "connection failed or reset";
    switch (f) {
    case F_CONNECT:
        snprintf(msg, cap, "%s:%d: connection failed or reset (connect: %s)", p->host, p->port,
                 strerror(err));
        break;
    case F_CONNECT_TIMEOUT:
        snprintf(msg, cap, "%s:%d: connection failed or reset (connect timed out after %d ms)",
                 p->host, p->port, p->cfg.connect_timeout_ms);
        break;
    case F_SEND:
        snprintf(msg, cap, "%s:%d: %s (sending the request: %s)", p->host, p->port, mid,
                 strerror(err));
        break;
    case F_RECV:
        snprintf(msg, cap, "%s:%d: %s (%s%s)", p->host, p->port, mid, strerror(err),
                 head ? "" : ", before the response head");
        break;
    case F_EOF:
        snprintf(msg, cap, "%s:%d: %s (closed by the server %s)", p->host, p->port, mid,
                 head ? "before the end of the body" : "before the response head");
        break;
    case F_FIRST_BYTE:
        snprintf(msg, cap, "%s:%d: no response within %d ms", p->host, p->port,
                 p->cfg.first_byte_timeout_ms);
        break;
    case F_IDLE:
        snprintf(msg, cap, "%s:%d: connection lost mid-response (nothing for %d ms)", p->host,
                 p->port, p->cfg.idle_timeout_ms);
        break;
    case F_MALFORMED:
        snprintf(msg, cap, "%s:%d: malformed response%s: %s", p->host, p->port,
                 head ? " body" : "", k->resp.error);
        break;
    }
}

static rx_status resend(rx_http_call *c);

/* k's call failed: k closes, and the call ends with RX_ERR_IO, or goes out again once when the
 * server had dropped a kept-alive connection before answering (see `resent`). */
static void fail_call(conn *k, failure f, int err)
{
    rx_http_call *c = k->call;
    char msg[512];
    describe(msg, sizeof msg, k, f, err);
    const bool stale = k->served && k->n_in == 0 && !c->resent &&
                       (f == F_SEND || f == F_RECV || f == F_EOF);
    detach(c, k);
    close_conn(k);
    if (stale) {
        c->resent = true;
        if (resend(c) == RX_OK) return;
        snprintf(msg, sizeof msg, "%s", rx_last_error());
    }
    end_call(c, RX_ERR_IO, msg);
}

/* The answer ended: the connection goes back to the pool when it may be reused. */
static void complete_call(conn *k, bool reusable)
{
    rx_http_call *c = k->call;
    rx_http_pool *p = k->pool;
    detach(c, k);
    k->served = true;
    conn_release(p, k, reusable);
    end_call(c, RX_OK, "");
}

static rx_status resend(rx_http_call *c)
{
    conn *k;
    rx_status s = conn_open(c->pool, &k);
    if (s != RX_OK) return s;
    attach(c, k);
    return RX_OK;
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

/* Bytes for k's call (full: they filled the buffer); false when the call is over (or k is). */
static bool take_bytes(conn *k, size_t n, bool full)
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
        if (reusable && full) {
            char b; /* the socket may hold more: it must hold nothing */
            reusable = recv(k->fd, &b, 1, MSG_PEEK) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
        complete_call(k, reusable);
        return false;
    }
    case RX_HTTP_RESP_STOPPED: /* only when k died in a callback */
    case RX_HTTP_RESP_ERROR:
        fail_call(k, F_MALFORMED, 0);
        return false;
    }
    return false;
}

/* Reads until the socket is drained, the answer ends, or the call is gone. */
static void read_all(conn *k)
{
    for (;;) {
        const ssize_t n = recv(k->fd, k->in, sizeof k->in, 0);
        if (n > 0) {
            /* a short read drained the socket (a later arrival raises a new edge) */
            const bool full = (size_t)n == sizeof k->in;
            if (!take_bytes(k, (size_t)n, full) || !full) return;
        } else if (n == 0) {
            if (rx_http_resp__eof(&k->resp) == RX_HTTP_RESP_DONE)
                complete_call(k, false);
            else
                fail_call(k, F_EOF, 0);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            fail_call(k, F_RECV, errno);
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
        fail_call(k, F_CONNECT, err);
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
        if (what & EV_READ) idle_readable(k);
    } else if (k->err) {
        fail_call(k, k->connecting ? F_CONNECT : F_SEND, k->err);
    } else {
        bool may_send = what & EV_WRITE;
        if (k->connecting) {
            connected(k);
            may_send = true;
        }
        if (!k->dead && k->call == c && !k->connecting && may_send && k->out_off < c->req_len) {
            const int err = send_rest(k);
            if (err) fail_call(k, F_SEND, err);
        }
        if (!k->dead && k->call == c && !k->connecting && (what & EV_READ)) read_all(k);
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
    fail_call(k,
              k->connecting ? F_CONNECT_TIMEOUT : k->resp.head_done ? F_IDLE : F_FIRST_BYTE, 0);
    if (--k->busy == 0 && k->dead) free_conn(k);
}

/* --- the request bytes --- */

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static bool is_token(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *s)) return false;
    return true;
}

/* A path byte that cannot go on the request line as it is: percent-encoded (the gateway
 * forwards decoded paths). */
static bool escape_in_path(unsigned char ch)
{
    return ch <= ' ' || ch >= 127;
}

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

static size_t n_headers(const char *const *h)
{
    size_t n = 0;
    while (h && h[n] && h[n + 1])
        n += 2;
    return n;
}

static rx_status check_request(const rx_http_pool *p, const char *method, const char *path,
                               const char *const *headers)
{
    if (!is_token(method) || !path || path[0] != '/')
        return rx_error(RX_ERR_INVALID_ARG, "%s:%d: bad method or path", p->host, p->port);
    for (size_t i = 0, n = n_headers(headers); i < n; i += 2) {
        if (!is_token(headers[i]) || has_crlf(headers[i + 1]))
            return rx_error(RX_ERR_INVALID_ARG, "%s:%d: header %.64s: bad name or value",
                            p->host, p->port, headers[i]);
        if (strcasecmp(headers[i], "Host") == 0 || strcasecmp(headers[i], "Content-Length") == 0 ||
            strcasecmp(headers[i], "Transfer-Encoding") == 0)
            return rx_error(RX_ERR_INVALID_ARG, "%s:%d: header %s is the client's to set",
                            p->host, p->port, headers[i]);
    }
    return RX_OK;
}

/* "METHOD path HTTP/1.1", Host, the caller's headers, Content-Length, the body: one buffer,
 * sent with one send(). Returns the call with it, or NULL (no memory). */
static rx_http_call *new_call(const rx_http_pool *p, const char *method, const char *path,
                              const char *const *headers, const char *body, size_t len)
{
    const size_t nh = n_headers(headers);
    const bool with_length = len || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
                             !strcmp(method, "PATCH");
    char length[48] = "";
    if (with_length) snprintf(length, sizeof length, "Content-Length: %zu\r\n", len);
    size_t need = strlen(method) + 1 + strlen(" HTTP/1.1\r\n") + p->host_line_len +
                  strlen(length) + 2 + len;
    for (const char *s = path; *s; s++)
        need += escape_in_path((unsigned char)*s) ? 3 : 1;
    for (size_t i = 0; i < nh; i++)
        need += strlen(headers[i]) + 2;
    rx_http_call *c = malloc(sizeof *c + need);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    char *w = c->req;
    w = put(w, method, strlen(method));
    *w++ = ' ';
    for (const char *s = path; *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (escape_in_path(ch)) {
            *w++ = '%';
            *w++ = "0123456789ABCDEF"[ch >> 4];
            *w++ = "0123456789ABCDEF"[ch & 15];
        } else {
            *w++ = (char)ch;
        }
    }
    w = put(w, " HTTP/1.1\r\n", 11);
    w = put(w, p->host_line, p->host_line_len);
    for (size_t i = 0; i < nh; i += 2) {
        w = put(w, headers[i], strlen(headers[i]));
        w = put(w, ": ", 2);
        w = put(w, headers[i + 1], strlen(headers[i + 1]));
        w = put(w, "\r\n", 2);
    }
    w = put(w, length, strlen(length));
    w = put(w, "\r\n", 2);
    if (len) w = put(w, body, len);
    c->req_len = (size_t)(w - c->req);
    c->head_only = strcmp(method, "HEAD") == 0;
    return c;
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
    int n = snprintf(p->host_line, sizeof p->host_line, "Host: %s%s%s:%d\r\n", v6 ? "[" : "",
                     p->host, v6 ? "]" : "", p->port);
    p->host_line_len = n > 0 && (size_t)n < sizeof p->host_line ? (size_t)n : 0;
    p->connect_tv = timeout_tv(p, 0, p->cfg.connect_timeout_ms);
    p->first_byte_tv = timeout_tv(p, 1, p->cfg.first_byte_timeout_ms);
    p->idle_tv = timeout_tv(p, 2, p->cfg.idle_timeout_ms);
    if (!p->host_line_len) {
        free(p);
        return rx_error(RX_ERR_INVALID_ARG, "upstream host %.64s...: too long", host);
    }
    /* blocking, once; a host that does not resolve yet is tried again at each connection */
    if (resolve(p) != RX_OK) p->addr_len = 0;
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
        idle_remove(p, k);
        close_conn(k);
    }
    free(p);
}

rx_status rx_http_call_start(rx_http_pool *p, const char *method, const char *path,
                             const char *const *headers, const char *body, size_t len,
                             const rx_http_call_cb *cb, void *user, rx_http_call **out)
{
    if (p->n_busy >= p->cfg.max_connections)
        return rx_error(RX_ERR_FULL, "%s:%d: %d connections busy", p->host, p->port, p->n_busy);
    rx_status s = check_request(p, method, path, headers);
    if (s != RX_OK) return s;
    rx_http_call *c = new_call(p, method, path, headers, body, len);
    if (!c) return rx_error(RX_ERR_NOMEM, "no memory for a call to %s:%d", p->host, p->port);
    c->pool = p;
    c->cb = *cb;
    c->user = user;
    conn *k = p->idle;
    if (k) {
        idle_remove(p, k);
    } else if ((s = conn_open(p, &k)) != RX_OK) {
        free(c);
        return s;
    }
    attach(c, k);
    c->next = p->calls;
    if (p->calls) p->calls->prev = c;
    p->calls = c;
    if (!k->connecting && !k->err) {
        /* a send that fails here is reported from the handler: no callback runs inside start */
        k->err = send_rest(k);
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
        close_conn(k); /* mid-answer: its state is unknown */
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
