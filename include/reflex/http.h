/* HTTP/1.1 server on libevent's event loop, with http-parser for the request grammar:
 * keep-alive and pipelining, limits on header and body size, timeouts, optional TLS and
 * client-certificate checking with OpenSSL, chunked streaming (SSE), and a thread-safe way
 * for other threads (the scheduler) to run code on the event-loop thread.
 *
 * Threading: one event-loop thread runs rx_http_server_run; every function here must be called
 * on that thread, except rx_http_post, rx_http_server_stop and rx_http_server_stop_accepting.
 * Ownership: an rx_http_req is handed to the handler and stays valid until the handler (or code
 * it schedules) finishes it with rx_http_respond or rx_http_stream_end, even when the client has
 * gone away meanwhile (writes then do nothing). Every request must be finished exactly once. */
#ifndef REFLEX_HTTP_H
#define REFLEX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/status.h"

typedef struct rx_http_server rx_http_server;
typedef struct rx_http_req rx_http_req;

typedef struct {
    const char *host;        /* default "127.0.0.1" */
    int port;                /* 0: an ephemeral port (read it back with rx_http_server_port) */
    size_t max_header_bytes; /* 0: 16 KiB; larger headers get 431 */
    size_t max_body_bytes;   /* 0: 8 MiB; larger bodies get 413 */
    int header_timeout_ms;   /* 0: 10 s to receive the request line and headers */
    int body_timeout_ms;     /* 0: 30 s to receive the body */
    int idle_timeout_ms;     /* 0: 60 s for a keep-alive connection between requests */
    int max_connections;     /* 0: 1024; past it new connections are closed at once */
    const char *tls_cert;    /* PEM files; both set: HTTPS only */
    const char *tls_key;
    const char *tls_client_ca; /* set: a client certificate signed by this CA is required */
} rx_http_config;

/* Called on the loop thread for each complete request (headers and body received). */
typedef void (*rx_http_handler)(rx_http_req *req, void *user);
/* A function posted to the loop thread. */
typedef void (*rx_http_task)(void *arg);
typedef struct rx_http_timer_rec rx_http_timer_rec;

/* Binds and listens (nothing runs until rx_http_server_run). Errors: RX_ERR_IO naming the
 * address when bind/listen fails, RX_ERR_INVALID_ARG for a bad config, RX_ERR_FORMAT naming
 * the file when a TLS certificate, key or CA does not load. The config is copied. */
rx_status rx_http_server_create(const rx_http_config *cfg, rx_http_handler handler, void *user,
                                rx_http_server **out);
void rx_http_server_free(rx_http_server *s);      /* accepts NULL; after run has returned */
int rx_http_server_port(const rx_http_server *s); /* the bound port */

/* Runs the event loop on the calling thread until rx_http_server_stop. */
rx_status rx_http_server_run(rx_http_server *s);
/* Thread-safe. Closes the listening socket: no new connections; existing ones go on. */
void rx_http_server_stop_accepting(rx_http_server *s);
/* Thread-safe. Makes rx_http_server_run return soon (open connections are closed). */
void rx_http_server_stop(rx_http_server *s);
/* The libevent loop behind the server, for clients that share its thread (net/http_client). */
struct event_base;
struct event_base *rx_http_server_event_base(rx_http_server *s);
/* Connections now open (for draining). */
int rx_http_server_n_connections(const rx_http_server *s);

/* Thread-safe: runs task(arg) on the loop thread soon, in posting order. RX_ERR_NOMEM if the
 * task could not be queued (then it will not run). */
rx_status rx_http_post(rx_http_server *s, rx_http_task task, void *arg);
/* Loop thread: runs task(arg) once after delay_ms. */
rx_status rx_http_timer(rx_http_server *s, int delay_ms, rx_http_task task, void *arg);
/* Loop thread: the same, and *out may be cancelled until the task has started (the task's owner
 * forgets the handle when the task runs). */
rx_status rx_http_timer_start(rx_http_server *s, int delay_ms, rx_http_task task, void *arg,
                              rx_http_timer_rec **out);
void rx_http_timer_cancel(rx_http_timer_rec *t);
/* Loop thread: runs fn(arg) when the process receives signo (SIGTERM, SIGHUP, SIGINT...). */
rx_status rx_http_on_signal(rx_http_server *s, int signo, rx_http_task fn, void *arg);

/* --- one request --- */
const char *rx_http_method(const rx_http_req *r); /* "GET", "POST", ... */
const char *rx_http_path(const rx_http_req *r);   /* decoded path without the query */
const char *rx_http_query(const rx_http_req *r);  /* raw query string or NULL */
/* A request header by name (case-insensitive), or NULL. Borrowed until the request finishes. */
const char *rx_http_header(const rx_http_req *r, const char *name);
/* The body; borrowed until the request finishes. Never NULL (an empty body has len 0). */
const char *rx_http_body(const rx_http_req *r, size_t *len);
const char *rx_http_peer(const rx_http_req *r); /* "127.0.0.1:54321" */
/* The client went away (connection closed or reset); writes to r are then ignored. */
bool rx_http_alive(const rx_http_req *r);
/* fn(arg) runs on the loop thread when the client goes away before r is finished (at most
 * once; not after r is finished). Replaces a previous callback. */
void rx_http_on_close(rx_http_req *r, rx_http_task fn, void *arg);

/* Adds a response header; call before rx_http_respond or rx_http_stream_start. */
void rx_http_add_header(rx_http_req *r, const char *name, const char *value);
/* Sends a whole response and finishes r. body may be NULL when len is 0. */
void rx_http_respond(rx_http_req *r, int status, const char *content_type, const char *body,
                     size_t len);
/* Starts a chunked response (for SSE: "text/event-stream"); then write, then end. */
void rx_http_stream_start(rx_http_req *r, int status, const char *content_type);
/* Sends one chunk now (unbuffered). */
void rx_http_stream_write(rx_http_req *r, const char *data, size_t len);
/* Ends the chunked response and finishes r. */
void rx_http_stream_end(rx_http_req *r);

#endif
