/* Private to src/net: the server, connection and request records behind include/reflex/http.h,
 * and the helpers the files of this folder share. The event loop is libevent's; the HTTP/1.1
 * grammar is http-parser's (http_parse.c); what is ours is the connection itself: one
 * edge-triggered registration per socket for its whole life (no event changes per request),
 * reads and writes straight to the socket or TLS, per-phase deadlines, and the request wrapper
 * with its lifetime contract. */
#ifndef RX_NET_INTERNAL_H
#define RX_NET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "net/bytes.h"
#include "net/http_parse.h"
#include "reflex/http.h"

typedef struct rx_http_conn rx_http_conn;
typedef struct rx_http_task_node rx_http_task_node;

/* Where a connection is in its request cycle; each phase has its own deadline (or none). */
typedef enum {
    RX_CONN_WAITING, /* no byte of the next request yet: header (first) or idle deadline */
    RX_CONN_HEADERS, /* request line and headers arriving: header deadline */
    RX_CONN_BODY,    /* headers seen, body arriving: body deadline */
    RX_CONN_HANDLER, /* the owner holds the request: no deadline; a close is noticed by reading */
    RX_CONN_CLOSING, /* answering for the last time, then closing: linger deadline */
} rx_conn_phase;

/* One accepted connection, from accept to close. */
struct rx_http_conn {
    rx_http_server *srv; /* borrowed */
    int fd;
    SSL *ssl;               /* owned; NULL for plain HTTP */
    struct event *io;       /* owned: EV_READ|EV_WRITE|EV_CLOSED, edge-triggered, persistent */
    struct event *deadline; /* owned: the phase deadline */
    struct event *stall;    /* owned: a response the client does not read */
    rx_http_parse parse;
    char *in;              /* owned: bytes read and not yet parsed */
    size_t in_off, in_len; /* unparsed bytes are in[in_off .. in_len) */
    size_t in_cap;
    rx_bytes out;         /* response bytes not yet written */
    rx_http_req *req;     /* the unfinished request the owner holds, or NULL */
    rx_conn_phase phase;
    char peer[64];        /* "127.0.0.1:54321" or "[::1]:54321" */
    bool handshaken;      /* TLS handshake done (always true for plain HTTP) */
    bool served_one;      /* a request finished: WAITING uses the idle deadline */
    bool sock_readable;   /* the kernel may have bytes for us (edge seen, not yet drained) */
    bool sock_writable;   /* the last write did not fill the socket's buffer */
    bool peer_eof;        /* the client closed its side (or reset) */
    bool rdhup;           /* epoll saw the client's close (EV_CLOSED), maybe before its data */
    bool wrote;           /* the last flush made progress */
    size_t tls_wlen;      /* a TLS write to repeat with these first bytes of out, or 0 */
    bool close_after;     /* close once the current response has been written */
    bool refused;         /* the last answer refused a request (it may not have been read) */
    bool lingering;       /* response written, write side shut: draining reads until EOF */
    bool in_drive, again; /* conn_drive is running; run it once more before returning */
    bool dying;           /* close at the end of the running drive */
    rx_http_conn *prev, *next; /* srv->conns */
};

/* The wrapper handed to the handler; see the ownership comment in include/reflex/http.h. */
struct rx_http_req {
    rx_http_server *srv; /* borrowed */
    rx_http_conn *conn;  /* borrowed; NULL once the client has gone (or the answer is done) */
    rx_http_msg msg;     /* owned: URL, headers and body, which the accessors lend out */
    const char *method;  /* static string */
    char *path;          /* owned: decoded path */
    const char *query;   /* in path's allocation, or NULL */
    bool head;           /* a HEAD request: answer without a body */
    int http_minor;      /* 0: HTTP/1.0 (streams end with the connection) */
    bool keep_alive;     /* the client may send another request */
    rx_bytes hdrs;          /* response headers added so far ("Name: value\r\n"...) */
    char hdrs_inline[384];  /* hdrs' storage until it outgrows it */
    char peer[64];
    rx_http_task on_close; /* fires once if the client goes first */
    void *on_close_arg;
    bool dead;         /* the client went away: writes are ignored */
    bool started;      /* rx_http_stream_start was called */
    bool chunked;      /* the stream is framed with chunked encoding */
    bool close_queued; /* queued on srv->late_closes (on_close set after death) */
    rx_http_req *late_prev, *late_next;
};

struct rx_http_task_node {
    rx_http_task task;
    void *arg;
    rx_http_task_node *next;
};

struct rx_http_timer_rec {
    rx_http_server *srv;
    struct event *ev; /* owned */
    rx_http_task task;
    void *arg;
    bool is_signal; /* a persistent signal event, not a one-shot timer */
    rx_http_timer_rec *prev, *next;
};

struct rx_http_server {
    rx_http_config cfg; /* copy; host points at host_buf, TLS paths cleared */
    char host_buf[256];
    int port;
    rx_http_handler handler;
    void *user;
    struct event_base *base;          /* owned */
    struct evconnlistener *listener;  /* owned; NULL once no longer accepting */
    bool draining;                    /* not accepting: responses say "Connection: close" */
    SSL_CTX *tls;                     /* owned; NULL for plain HTTP */
    atomic_int n_conns;               /* accepted and not yet closed */
    rx_http_conn *conns;              /* open connections (list head) */
    rx_http_req *late_closes;         /* dead requests whose on_close is still to run */
    struct event *late_close_ev, *post_ev, *stop_ev, *unlisten_ev; /* owned */
    struct event *accept_retry_ev; /* owned: persistent, re-enables a paused listener */
    rx_http_timer_rec *timers;     /* pending timers and signal handlers */
    pthread_mutex_t post_mu;       /* guards the post queue below */
    rx_http_task_node *post_head, *post_tail;
    long date_sec;  /* the second date_buf was formatted for */
    char date[40];  /* "Date: ...\r\n", formatted once a second */
};

/* http_server.c */
void rx_http__resume_accepting(rx_http_server *s);

/* http_conn.c: connection life cycle and I/O. */
void rx_http__accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                     int socklen, void *srv);
/* Writes what is queued in c->out and goes on with the connection (reads, the next pipelined
 * request). May close c: the caller must not touch c afterwards. */
void rx_http__conn_kick(rx_http_conn *c);
/* Closes now (no response): a missed deadline, the server stopping. */
void rx_http__conn_close(rx_http_conn *c);
void rx_http__close_all(rx_http_server *s);

/* http_deadline.c: per-phase deadlines and the write-stall backstop. */
void rx_http__phase(rx_http_conn *c, rx_conn_phase phase);
void rx_http__stall_check(rx_http_conn *c, bool progressed);
void rx_http__deadline_cb(evutil_socket_t fd, short what, void *arg);

/* http_req.c: requests. */
/* A whole request has been parsed: wrap it and call the handler. */
void rx_http__dispatch(rx_http_conn *c);
/* The client went away: mark r dead and queue its on_close. */
void rx_http__req_lost(rx_http_req *r);
/* Unhooks r from its connection (and the late-close queue) before it is finished. */
void rx_http__req_detach(rx_http_req *r);
void rx_http__req_free(rx_http_req *r);
void rx_http__late_close_cb(evutil_socket_t fd, short what, void *arg);

/* http_respond.c */
/* Queues a whole error response (JSON body) and marks c to close after it. */
void rx_http__refuse(rx_http_conn *c, int status, const char *why, int http_minor);
const char *rx_http__reason(int status);

/* tls.c */
rx_status rx_http__tls_ctx(const rx_http_config *cfg, SSL_CTX **out);

/* loop_tasks.c */
void rx_http__post_cb(evutil_socket_t fd, short what, void *arg);
void rx_http__run_posted(rx_http_server *s); /* runs what is queued now, in order */
void rx_http__free_timers(rx_http_server *s);

#endif
