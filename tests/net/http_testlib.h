/* Test helpers for net/: run an rx_http_server on its own thread, and a small blocking
 * HTTP/1.1 client over a plain socket or an OpenSSL connection (127.0.0.1 only) that reads
 * back one response at a time, Content-Length or chunked, keeping leftovers for keep-alive. */
#ifndef RX_TEST_NET_HTTP_TESTLIB_H
#define RX_TEST_NET_HTTP_TESTLIB_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "reflex/http.h"

static inline double tl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline void tl_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --- the server on a thread --- */

typedef struct {
    rx_http_server *s;
    pthread_t thread;
    rx_status run_status;
} tl_server;

static inline void *tl_run(void *arg)
{
    tl_server *t = arg;
    t->run_status = rx_http_server_run(t->s);
    return NULL;
}

static inline rx_status tl_start(tl_server *t, const rx_http_config *cfg, rx_http_handler h,
                                 void *user)
{
    memset(t, 0, sizeof *t);
    rx_status st = rx_http_server_create(cfg, h, user, &t->s);
    if (st != RX_OK) return st;
    if (pthread_create(&t->thread, NULL, tl_run, t) != 0) {
        rx_http_server_free(t->s);
        return RX_ERR_NOMEM;
    }
    return RX_OK;
}

static inline void tl_stop(tl_server *t)
{
    rx_http_server_stop(t->s);
    pthread_join(t->thread, NULL);
    rx_http_server_free(t->s);
    t->s = NULL;
}

/* --- the client --- */

typedef struct {
    int fd;
    SSL *ssl; /* NULL: plain socket */
    char buf[1 << 16];
    size_t len;
} tl_conn;

typedef struct {
    int status;         /* 0: no response (connection closed or error first) */
    char head[8192];    /* status line and headers, NUL-terminated */
    char body[1 << 16]; /* NUL-terminated */
    size_t body_len;
    int n_chunks;          /* chunked responses: data chunks seen */
    double first_chunk_ms; /* since the read began */
    double done_ms;
} tl_resp;

static inline int tl_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {3, 0}; /* no test read may hang */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static inline tl_conn *tl_open(int port)
{
    int fd = tl_dial(port);
    if (fd < 0) return NULL;
    tl_conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    return c;
}

static inline void tl_close(tl_conn *c)
{
    if (!c) return;
    if (c->ssl) SSL_free(c->ssl);
    close(c->fd);
    free(c);
}

static inline int tl_send(tl_conn *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n =
            c->ssl ? SSL_write(c->ssl, data, (int)len) : send(c->fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static inline int tl_sends(tl_conn *c, const char *s)
{
    return tl_send(c, s, strlen(s));
}

/* Reads more into c->buf; bytes read, 0 on EOF, -1 on error or timeout. */
static inline int tl_fill(tl_conn *c)
{
    if (c->len == sizeof c->buf) return -1;
    ssize_t n = c->ssl ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len))
                       : recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n < 0) return -1;
    c->len += (size_t)n;
    return (int)n;
}

/* 1: the peer closed (EOF or reset) with no further byte; 0: data came; -1: timed out. */
static inline int tl_wait_closed(tl_conn *c)
{
    if (c->len) return 0;
    errno = 0;
    int n = tl_fill(c);
    if (n == 0) return 1;
    if (n > 0) return 0;
    if (c->ssl) return 1; /* SSL_read error: alert or reset */
    return errno == ECONNRESET ? 1 : -1;
}

static inline void tl_consume(tl_conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Position just past "\r\n" in c->buf, or 0 until a whole line is there. */
static inline size_t tl_line_end(tl_conn *c)
{
    for (size_t i = 1; i < c->len; i++)
        if (c->buf[i - 1] == '\r' && c->buf[i] == '\n') return i + 1;
    return 0;
}

static inline const char *tl_header(const tl_resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= cap) n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return out;
        }
    }
    return NULL;
}

static inline int tl_body_add(tl_resp *r, const char *p, size_t n)
{
    if (r->body_len + n >= sizeof r->body) return -1;
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = 0;
    return 0;
}

static inline int tl_read_chunked(tl_conn *c, tl_resp *r, double t0)
{
    for (;;) {
        size_t e;
        while (!(e = tl_line_end(c)))
            if (tl_fill(c) <= 0) return -1;
        size_t size = strtoul(c->buf, NULL, 16);
        tl_consume(c, e);
        while (c->len < size + 2)
            if (tl_fill(c) <= 0) return -1;
        if (size == 0) {
            tl_consume(c, 2);
            return 0;
        }
        if (r->n_chunks++ == 0) r->first_chunk_ms = tl_now_ms() - t0;
        if (tl_body_add(r, c->buf, size) != 0) return -1;
        tl_consume(c, size + 2);
    }
}

/* Reads one response. 0 when complete; -1 otherwise (r->status 0 if not even a head came). */
static inline int tl_read(tl_conn *c, tl_resp *r)
{
    memset(r, 0, sizeof *r);
    double t0 = tl_now_ms();
    char *end;
    for (;;) {
        if (c->len < sizeof c->buf) c->buf[c->len] = 0;
        end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end) break;
        if (tl_fill(c) <= 0) return -1;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    if (head_len >= sizeof r->head) return -1;
    memcpy(r->head, c->buf, head_len);
    r->head[head_len] = 0;
    tl_consume(c, head_len);
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    char v[64];
    int rc = 0;
    if (r->status < 200 || r->status == 204 || r->status == 304) {
        /* no body */
    } else if (tl_header(r, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
        rc = tl_read_chunked(c, r, t0);
    } else if (tl_header(r, "Content-Length", v, sizeof v)) {
        size_t n = strtoul(v, NULL, 10);
        while (c->len < n)
            if (tl_fill(c) <= 0) return -1;
        rc = tl_body_add(r, c->buf, n);
        tl_consume(c, n);
    } else {
        while (tl_fill(c) > 0) {
        }
        rc = tl_body_add(r, c->buf, c->len);
        c->len = 0;
    }
    r->done_ms = tl_now_ms() - t0;
    return rc;
}

/* One request on c, its response in r; the HTTP status, or 0 on failure. */
static inline int tl_request(tl_conn *c, const char *req, tl_resp *r)
{
    if (tl_sends(c, req) != 0) return 0;
    if (tl_read(c, r) != 0) return 0;
    return r->status;
}

/* Polls until cond(arg) or timeout_ms passes; true when cond held. */
static inline bool tl_wait(bool (*cond)(void *), void *arg, int timeout_ms)
{
    double end = tl_now_ms() + timeout_ms;
    while (!cond(arg)) {
        if (tl_now_ms() > end) return false;
        tl_sleep_ms(5);
    }
    return true;
}

#endif
