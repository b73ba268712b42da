/* Private to src/net: the server, connection and request records behind include/reflex/http.h,
 * and the helpers the files of this folder share. The HTTP parsing is libevent's (evhttp 2.1);
 * what we add on top is connection tracking (count, limit, per-phase deadlines, early close
 * detection), the request wrapper with its lifetime contract, TLS, and cross-thread tasks. */
#ifndef RX_NET_INTERNAL_H
#define RX_NET_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "reflex/http.h"

typedef struct rx_http_conn rx_http_conn;
typedef struct rx_http_task_node rx_http_task_node;

/* Where a connection is in its request cycle; each phase has its own deadline (or none). */
typedef enum {
    RX_CONN_WAITING,    /* no byte of the next request yet: header (first) or idle deadline */
    RX_CONN_HEADERS,    /* request line and headers arriving: header deadline */
    RX_CONN_BODY,       /* headers seen, body arriving: body deadline */
    RX_CONN_HANDLER,    /* the owner holds the request: no deadline, close watcher armed */
    RX_CONN_RESPONDING, /* finished, response flushing: evhttp's write timeout only */
} rx_conn_phase;

/* One accepted connection. Created in the bufferevent callback at accept, adopted right after
 * evhttp has built its evhttp_connection, freed in the evhttp close callback. */
struct rx_http_conn {
    rx_http_server *srv;             /* borrowed */
    struct evhttp_connection *evcon; /* borrowed from evhttp; NULL until adopted */
    struct bufferevent *bev;         /* borrowed (evhttp frees it); one ref of ours until adopt */
    struct evbuffer_cb_entry *in_cb; /* our watch on the input buffer (deadline phases) */
    struct event *deadline;          /* owned: the phase deadline timer */
    struct event *watch_io;          /* owned: EV_READ|EV_CLOSED on fd while in HANDLER */
    struct event *watch_poll;        /* owned: polling fallback once unread data is pending */
    rx_http_req *req;                /* the unfinished request the owner holds, or NULL */
    int fd;                          /* -1 until adopted */
    rx_conn_phase phase;
    bool served_one;               /* a request finished: WAITING uses the idle deadline */
    bool reject;                   /* over max_connections (or no TLS): close at adopt */
    bool line_has_text, seen_line; /* header-end scanner state (RX_CONN_HEADERS) */
    rx_http_conn *prev, *next;     /* srv->conns, adopted connections */
    rx_http_conn *next_adopt;      /* srv->adopting, accepted but not yet adopted */
};

/* The wrapper handed to the handler; see the ownership comment in include/reflex/http.h. */
struct rx_http_req {
    rx_http_server *srv;         /* borrowed */
    rx_http_conn *conn;          /* borrowed; NULL once the client has gone */
    struct evhttp_request *ereq; /* evhttp's; ours to free (evhttp_request_own) once dead */
    const char *method;          /* static string */
    char *path;                  /* owned: decoded path */
    const char *query;           /* borrowed from ereq's parsed URI, or NULL */
    const char *body;            /* borrowed from ereq's input buffer ("" when empty) */
    size_t body_len;
    char peer[64];         /* "127.0.0.1:54321" or "[::1]:54321" */
    rx_http_task on_close; /* fires once if the client goes first */
    void *on_close_arg;
    bool dead;         /* the client went away: writes are ignored */
    bool started;      /* rx_http_stream_start was called */
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
    struct event_base *base;           /* owned */
    struct evhttp *http;               /* owned */
    struct evhttp_bound_socket *bound; /* owned by http; NULL once no longer accepting */
    bool draining;                     /* not accepting: responses say "Connection: close" */
    SSL_CTX *tls;                      /* owned; NULL for plain HTTP */
    struct evbuffer *scratch;          /* owned: reused to hand bodies and chunks to evhttp */
    atomic_int n_conns;                /* accepted and not yet closed */
    rx_http_conn *conns;               /* adopted connections (list head) */
    rx_http_conn *adopting;            /* accepted, waiting for adopt_ev */
    rx_http_conn **by_fd;              /* owned array, adopted connections by socket */
    int by_fd_cap;
    rx_http_req *late_closes; /* dead requests whose on_close is still to run */
    struct event *adopt_ev, *late_close_ev, *post_ev, *stop_ev, *unlisten_ev; /* owned */
    struct event *accept_retry_ev; /* owned: persistent, re-enables a paused listener */
    rx_http_timer_rec *timers;     /* pending timers and signal handlers */
    pthread_mutex_t post_mu;       /* guards the post queue below */
    rx_http_task_node *post_head, *post_tail;
};

/* http_server.c */
void rx_http__resume_accepting(rx_http_server *s);

/* http_conn.c: connection life cycle. */
struct bufferevent *rx_http__new_bev(struct event_base *base, void *srv); /* evhttp bevcb */
void rx_http__adopt_pending(rx_http_server *s);
void rx_http__adopt_cb(evutil_socket_t fd, short what, void *arg);
rx_http_conn *rx_http__conn_of(rx_http_server *s, struct evhttp_connection *evcon);
/* Makes evhttp drop the connection now, as if the peer had closed (what: BEV_EVENT_EOF) or
 * gone silent (BEV_EVENT_TIMEOUT). Synchronous: conn is freed when this returns. */
void rx_http__conn_close(rx_http_conn *c, short what);
void rx_http__close_all(rx_http_server *s);

/* http_deadline.c: per-phase deadlines and the header-end scanner. */
void rx_http__phase(rx_http_conn *c, rx_conn_phase phase);
void rx_http__on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);
void rx_http__deadline_cb(evutil_socket_t fd, short what, void *arg);

/* http_close_watch.c: notices a client that leaves while the owner holds its request. */
void rx_http__watch_start(rx_http_conn *c);
void rx_http__watch_stop(rx_http_conn *c);
void rx_http__watch_io_cb(evutil_socket_t fd, short what, void *arg);
void rx_http__watch_poll_cb(evutil_socket_t fd, short what, void *arg);

/* http_req.c: the evhttp request callback that builds the wrapper and calls the handler. */
void rx_http__dispatch(struct evhttp_request *ereq, void *srv);
/* The client went away: mark r dead, take over its evhttp request, queue its on_close. */
void rx_http__req_lost(rx_http_req *r);
/* Unhooks r from its connection (and the late-close queue) before it is finished. */
void rx_http__req_detach(rx_http_req *r);
void rx_http__req_free(rx_http_req *r); /* the wrapper only, not r->ereq */
void rx_http__late_close_cb(evutil_socket_t fd, short what, void *arg);

/* tls.c */
rx_status rx_http__tls_ctx(const rx_http_config *cfg, SSL_CTX **out);
struct bufferevent *rx_http__tls_bev(rx_http_server *s);

/* loop_tasks.c */
void rx_http__post_cb(evutil_socket_t fd, short what, void *arg);
void rx_http__run_posted(rx_http_server *s); /* runs what is queued now, in order */
void rx_http__free_timers(rx_http_server *s);

#endif
