/* HTTP/1.1 client on the server's event loop (raw nonblocking sockets on libevent events,
 * http-parser for the responses), for the gateway's upstream calls and health checks: a pool of
 * keep-alive connections per origin, callbacks for the response head, the body bytes as they
 * are read and decoded (streams pass through unbuffered) and the end; connect, first-byte and
 * idle timeouts; cancellation. A kept-alive connection the server dropped before answering
 * is retried once on a fresh one. The host is resolved once, at pool creation.
 *
 * Threading: loop thread only. Ownership: a call is owned by the pool until its on_done has run
 * (exactly once, also after rx_http_call_cancel, with RX_ERR_CANCELLED); do not touch it after. */
#ifndef REFLEX_HTTP_CLIENT_H
#define REFLEX_HTTP_CLIENT_H

#include <stddef.h>

#include "reflex/http.h"
#include "reflex/status.h"

typedef struct rx_http_pool rx_http_pool;
typedef struct rx_http_call rx_http_call;

typedef struct {
    int connect_timeout_ms;    /* a new connection's connect(); 0: 2000 */
    int first_byte_timeout_ms; /* connected (or reused) to the response head; 0: 30000 */
    int idle_timeout_ms;       /* between reads once the head arrived; 0: 30000 */
    int max_connections;       /* 0: 256 */
} rx_http_pool_config;

typedef struct {
    /* The response head arrived (status and headers readable with rx_http_call_header). */
    void (*on_head)(rx_http_call *c, int status, void *user);
    /* Body bytes (chunked encoding removed), as they arrived. */
    void (*on_chunk)(rx_http_call *c, const char *data, size_t len, void *user);
    /* The end: RX_OK after the whole body, RX_ERR_IO (connect failure, reset, timeout, a
     * malformed answer; the message says which and whether the head had arrived), or
     * RX_ERR_CANCELLED. */
    void (*on_done)(rx_http_call *c, rx_status s, const char *message, void *user);
} rx_http_call_cb;

/* host: a name or address, resolved here (blocking; tried again at each new connection while
 * it does not resolve). Errors: RX_ERR_NOMEM, RX_ERR_INVALID_ARG for a host over 255 bytes. */
rx_status rx_http_pool_create(rx_http_server *loop, const char *host, int port,
                              const rx_http_pool_config *cfg, rx_http_pool **out);
/* Cancels every call (each gets on_done) and frees; accepts NULL. */
void rx_http_pool_free(rx_http_pool *p);

/* Starts a request. headers: name, value pairs ending with NULL (may be NULL); Host and
 * Content-Length are the client's (Content-Length goes with a body, and with POST, PUT and
 * PATCH always). body is copied. A HEAD answer has no body. No callback runs inside this call.
 * Errors at once (no callback follows): RX_ERR_FULL when max_connections are busy, RX_ERR_NOMEM,
 * RX_ERR_INVALID_ARG for a bad method or path or a header name or value with CR or LF,
 * RX_ERR_IO when the host does not resolve or no socket can be opened. */
rx_status rx_http_call_start(rx_http_pool *p, const char *method, const char *path,
                             const char *const *headers, const char *body, size_t len,
                             const rx_http_call_cb *cb, void *user, rx_http_call **out);
void rx_http_call_cancel(rx_http_call *c);
/* A response header by name (case-insensitive), from on_head until on_done, or NULL. */
const char *rx_http_call_header(const rx_http_call *c, const char *name);

#endif
