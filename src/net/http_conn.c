/* One connection from accept to close. The socket is registered once, edge-triggered, for
 * reading, writing and the peer's close, so a keep-alive request costs no event changes: a
 * read when the kernel says bytes arrived, a write when there is something to send.
 *
 * conn_drive is the one place that moves a connection on: it finishes the TLS handshake,
 * writes what is queued, reads what arrived, and parses and dispatches whole requests, in that
 * order, until nothing changes. Everything else (an answer from another loop task, an event,
 * the handler inside dispatch) just queues bytes and asks for a drive; a drive asked for while
 * one runs is folded into it, so the connection is never freed under a caller. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>

#include "net/internal.h"

enum {
    IN_CHUNK = 16 * 1024,      /* one read's worth */
    HELD_BACKLOG = 64 * 1024,  /* pipelined bytes kept behind a request the owner holds */
    TLS_WRITE_MAX = 16 * 1024, /* one TLS record */
};

static void io_cb(evutil_socket_t fd, short what, void *arg);

static void format_peer(const struct sockaddr *sa, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%u", addr, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", addr, port);
    } else {
        snprintf(out, cap, "?");
    }
}

static void conn_destroy(rx_http_conn *c)
{
    rx_http_server *s = c->srv;
    if (c->req) {
        rx_http_req *r = c->req;
        c->req = NULL;
        rx_http__req_lost(r);
    }
    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->io) event_free(c->io);
    if (c->deadline) event_free(c->deadline);
    if (c->stall) event_free(c->stall);
    if (c->ssl) SSL_free(c->ssl);
    if (c->fd >= 0) close(c->fd);
    rx_bytes_free(&c->out);
    free(c->in);
    rx_http__parse_free(&c->parse);
    free(c);
    atomic_fetch_sub(&s->n_conns, 1);
    rx_http__resume_accepting(s); /* a descriptor is free again, in case accept ran out */
}

void rx_http__accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                     int socklen, void *arg)
{
    (void)lev, (void)socklen;
    rx_http_server *s = arg;
    if (atomic_load(&s->n_conns) >= s->cfg.max_connections) {
        close(fd); /* over the limit: closed before any byte is read */
        return;
    }
    rx_http_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->srv = s;
    c->fd = fd;
    atomic_fetch_add(&s->n_conns, 1);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    format_peer(sa, c->peer, sizeof c->peer);
    rx_http__parse_init(&c->parse, s->cfg.max_header_bytes, s->cfg.max_body_bytes);
    /* streamed tokens are small writes: do not let Nagle hold one back for the previous ACK */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rx_bytes_init(&c->out, NULL, 0);
    c->deadline = evtimer_new(s->base, rx_http__deadline_cb, c);
    c->stall = evtimer_new(s->base, rx_http__deadline_cb, c);
    c->io = event_new(s->base, fd, EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET, io_cb, c);
    c->handshaken = !s->tls;
    if (s->tls) {
        c->ssl = SSL_new(s->tls);
        if (c->ssl && SSL_set_fd(c->ssl, fd) == 1) {
            SSL_set_accept_state(c->ssl);
        } else if (c->ssl) {
            SSL_free(c->ssl);
            c->ssl = NULL;
        }
    }
    if (!c->deadline || !c->stall || !c->io || (s->tls && !c->ssl) ||
        event_add(c->io, NULL) != 0) {
        conn_destroy(c);
        return;
    }
    c->sock_writable = true;
    rx_http__phase(c, RX_CONN_WAITING);
}

/* --- writing --- */

/* The peer is gone (reset, or a write after its close). */
static void peer_gone(rx_http_conn *c)
{
    c->peer_eof = true;
    c->dying = true;
}

static void flush_plain(rx_http_conn *c)
{
    while (rx_bytes_pending(&c->out) > 0 && c->sock_writable) {
        ssize_t n = send(c->fd, rx_bytes_data(&c->out), rx_bytes_pending(&c->out), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                c->sock_writable = false;
            else
                peer_gone(c);
            return;
        }
        /* a short write means the socket's buffer is full: edge-triggered, wait for EV_WRITE */
        if ((size_t)n < rx_bytes_pending(&c->out)) c->sock_writable = false;
        rx_bytes_consume(&c->out, (size_t)n);
        c->wrote = true;
    }
}

static void flush_tls(rx_http_conn *c)
{
    while (rx_bytes_pending(&c->out) > 0 && c->sock_writable) {
        /* a retried SSL_write must offer the same bytes: the first tls_wlen of c->out, which
         * only ever grows at the end until they are written (the buffer may move meanwhile) */
        if (!c->tls_wlen) {
            size_t len = rx_bytes_pending(&c->out);
            c->tls_wlen = len < TLS_WRITE_MAX ? len : TLS_WRITE_MAX;
        }
        ERR_clear_error();
        int n = SSL_write(c->ssl, rx_bytes_data(&c->out), (int)c->tls_wlen);
        if (n > 0) {
            rx_bytes_consume(&c->out, (size_t)n);
            c->tls_wlen = 0;
            c->wrote = true;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
            c->sock_writable = false;
        else
            peer_gone(c);
        return;
    }
}

static void flush(rx_http_conn *c)
{
    c->wrote = false;
    if (c->out.failed) { /* an answer did not fit in memory: never send a truncated one */
        c->dying = true;
        return;
    }
    if (c->ssl)
        flush_tls(c);
    else
        flush_plain(c);
    if (c->dying) return;
    rx_http__stall_check(c, c->wrote);
}

/* --- reading --- */

static bool reserve_in(rx_http_conn *c)
{
    if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
    if (c->in_cap - c->in_len >= IN_CHUNK / 4) return true;
    if (c->in_off > 0) { /* slide the unparsed tail down before growing */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
        if (c->in_cap - c->in_len >= IN_CHUNK / 4) return true;
    }
    size_t cap = c->in_cap ? c->in_cap * 2 : IN_CHUNK;
    char *p = realloc(c->in, cap);
    if (!p) return false;
    c->in = p;
    c->in_cap = cap;
    return true;
}

/* One read from the socket (or TLS) into buf: the byte count, or 0 with the connection's state
 * updated: sock_readable cleared when nothing more is there now, peer_eof set at the end of
 * the stream (close_notify, a dirty close, a broken record, a reset). */
static size_t conn_read(rx_http_conn *c, char *buf, size_t cap)
{
    if (c->ssl) {
        ERR_clear_error();
        int k = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
        if (k > 0) return (size_t)k;
        int e = SSL_get_error(c->ssl, k);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            c->sock_readable = false;
        else
            c->peer_eof = true;
        return 0;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n > 0) return (size_t)n;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            c->sock_readable = false;
        else
            c->peer_eof = true;
        return 0;
    }
}

/* Reads what the kernel has (bounded), into c->in. Edge-triggered: a plain read that returns
 * less than it asked for has emptied the socket, and new bytes will raise a new event; TLS
 * reads on until the library says it wants more from the socket. */
static void read_input(rx_http_conn *c)
{
    while (c->sock_readable && !c->peer_eof && !c->dying) {
        /* behind a held request keep only a bounded backlog (the close is still seen, by
         * EV_CLOSED); otherwise read a chunk and let the parser take it first */
        if (c->req && c->in_len - c->in_off >= HELD_BACKLOG) return;
        if (!c->req && c->in_len - c->in_off >= IN_CHUNK) return;
        if (!reserve_in(c)) {
            peer_gone(c);
            return;
        }
        size_t room = c->in_cap - c->in_len;
        size_t n = conn_read(c, c->in + c->in_len, room);
        if (!n) return;
        c->in_len += n;
        if (!c->ssl && n < room) c->sock_readable = false;
    }
}

/* Lingering close: the last answer is written and our side shut; read and drop whatever the
 * client still sends (an oversized body, a pipelined request) until it closes, so the answer
 * is not destroyed by a reset from unread data. Bounded by the CLOSING deadline. */
static void linger(rx_http_conn *c)
{
    char sink[4096];
    while (c->sock_readable && !c->peer_eof)
        conn_read(c, sink, sizeof sink);
    if (c->peer_eof) c->dying = true;
}

static void start_linger(rx_http_conn *c)
{
    c->lingering = true;
    if (c->ssl) {
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* close_notify, best effort */
    }
    shutdown(c->fd, SHUT_WR);
    rx_http__phase(c, RX_CONN_CLOSING);
    if (c->peer_eof) c->dying = true;
}

/* --- parsing --- */

static void parse_input(rx_http_conn *c)
{
    while (!c->req && !c->close_after && !c->dying && c->in_off < c->in_len) {
        if (c->phase == RX_CONN_WAITING) rx_http__phase(c, RX_CONN_HEADERS);
        size_t used = 0;
        rx_parse_event ev =
            rx_http__parse_feed(&c->parse, c->in + c->in_off, c->in_len - c->in_off, &used);
        c->in_off += used;
        switch (ev) {
        case RX_PARSE_MORE:
            break;
        case RX_PARSE_HEAD:
            if (c->parse.expect_continue)
                rx_bytes_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            rx_http__phase(c, RX_CONN_BODY);
            continue;
        case RX_PARSE_DONE:
            rx_http__dispatch(c); /* may answer at once, and so make room for the next */
            continue;
        case RX_PARSE_ERROR:
            rx_http__refuse(c, c->parse.status, c->parse.why, c->parse.http_minor);
            return;
        }
        break;
    }
    if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
}

/* --- the drive --- */

static bool handshake(rx_http_conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshaken = true;
        return true;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        c->sock_readable = false;
    else if (e == SSL_ERROR_WANT_WRITE)
        c->sock_writable = false;
    else { /* not TLS, a bad certificate, or gone: OpenSSL has queued its alert, if any */
        SSL_free(c->ssl);
        c->ssl = NULL;
        c->handshaken = true;
        c->close_after = c->refused = true; /* linger, so the alert is not lost to a reset */
        rx_http__phase(c, RX_CONN_CLOSING);
    }
    return false;
}

static void conn_drive(rx_http_conn *c)
{
    if (c->in_drive) {
        c->again = true;
        return;
    }
    c->in_drive = true;
    do {
        c->again = false;
        if (!c->handshaken && !handshake(c)) {
            if (c->close_after) c->again = true;
            continue;
        }
        flush(c);
        if (c->dying) break;
        if (c->lingering) {
            linger(c);
            break;
        }
        if (rx_bytes_pending(&c->out) == 0 && c->close_after && !c->req) {
            /* linger only where unread bytes could turn our close into a reset that destroys
             * the answer: a refused request, or input after the last request */
            if (c->refused || c->in_off < c->in_len || c->sock_readable) {
                start_linger(c);
                c->again = !c->dying;
                continue;
            }
            c->dying = true;
            break;
        }
        read_input(c);
        /* a client that leaves (or half-closes) while its request is held counts as gone */
        if (c->req && (c->peer_eof || c->rdhup)) {
            rx_http_req *r = c->req;
            c->req = NULL;
            rx_http__req_lost(r);
            c->dying = true;
            break;
        }
        size_t before = c->in_len - c->in_off;
        parse_input(c);
        if (c->dying) break;
        if (!c->req && c->peer_eof && rx_bytes_pending(&c->out) == 0) {
            c->dying = true; /* nothing left to answer for a client that has gone */
            break;
        }
        /* the parser made room in a full buffer: there may be more to read */
        if (before >= IN_CHUNK && c->sock_readable) c->again = true;
        if (rx_bytes_pending(&c->out) > 0 && c->sock_writable) c->again = true;
    } while (c->again && !c->dying);
    c->in_drive = false;
    if (c->dying) conn_destroy(c);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    rx_http_conn *c = arg;
    if (what & EV_READ) c->sock_readable = true;
    if (what & EV_WRITE) c->sock_writable = true;
    if (what & EV_CLOSED) {
        c->sock_readable = true; /* the end of the stream is there to be read */
        c->rdhup = true;
    }
    conn_drive(c);
}

void rx_http__conn_kick(rx_http_conn *c)
{
    conn_drive(c);
}

void rx_http__conn_close(rx_http_conn *c)
{
    if (c->in_drive)
        c->dying = true;
    else
        conn_destroy(c);
}

void rx_http__close_all(rx_http_server *s)
{
    while (s->conns)
        rx_http__conn_close(s->conns);
}
