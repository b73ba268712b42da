/* Private to the HTTP client (http_client.c: pools and calls; http_client_conn.c: one
 * connection's socket and events; http_client_request.c: the request bytes). The records and
 * the few functions these files share. */
#ifndef RX_NET_HTTP_CLIENT_INTERNAL_H
#define RX_NET_HTTP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "net/http_response.h"
#include "reflex/http_client.h"

#define RX_HTTP_CLIENT_MAX_IDLE 32
#define RX_HTTP_CLIENT_READ_BYTES 16384

typedef struct rx_http_client_conn rx_http_client_conn;

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
    rx_http_client_conn *idle; /* owned, newest first */
    int n_idle, n_busy;
    rx_http_call *calls; /* in flight, for rx_http_pool_free */
};

struct rx_http_client_conn {
    rx_http_pool *pool;               /* borrowed; NULL once closed */
    int fd;                           /* -1 once closed */
    struct event *io;                 /* owned: read and write, edge-triggered, added once */
    struct event *wr;                 /* owned: one-shot write interest where there is no ET */
    struct event *timer;              /* owned: the current phase's deadline */
    rx_http_call *call;               /* the call it carries, or NULL while idle */
    rx_http_client_conn *prev, *next; /* pool->idle */
    bool connecting;                  /* connect() in progress */
    bool drain;        /* read to EAGAIN: no edge trigger with close reports to rely on */
    bool served;       /* it answered a request before: the server may have dropped it */
    bool dead;         /* closed while its handler ran: freed when that unwinds */
    int busy;          /* its handlers on the stack */
    int err;           /* an error found outside its handler, reported from it */
    size_t out_off;    /* bytes of call->req sent */
    size_t n_in;       /* bytes received for the current call */
    rx_http_resp resp; /* the answer being read (headers kept until the next call) */
    char in[RX_HTTP_CLIENT_READ_BYTES];
};

struct rx_http_call {
    rx_http_pool *pool;
    rx_http_call *prev, *next; /* pool->calls */
    rx_http_client_conn *conn; /* while in flight */
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
    RX_HTTP_CLIENT_CONNECT,         /* connect() failed: err */
    RX_HTTP_CLIENT_CONNECT_TIMEOUT, /* no connection within connect_timeout_ms */
    RX_HTTP_CLIENT_SEND,            /* send() failed: err */
    RX_HTTP_CLIENT_RECV,            /* recv() failed: err */
    RX_HTTP_CLIENT_EOF,             /* the server closed before the end */
    RX_HTTP_CLIENT_FIRST_BYTE,      /* no head within first_byte_timeout_ms */
    RX_HTTP_CLIENT_IDLE,            /* no byte for idle_timeout_ms mid-body */
    RX_HTTP_CLIENT_MALFORMED,       /* resp.error says what */
} rx_http_client_failure;

/* --- http_client_conn.c --- */

/* Resolves p->host (blocking getaddrinfo) into p->addr. */
rx_status rx_http_client__resolve(rx_http_pool *p);
/* A new connection of p, connecting; its socket registered once. A connect() that fails at
 * once is reported from the connection's handler, never from here. */
rx_status rx_http_client__open(rx_http_pool *p, rx_http_client_conn **out);
/* Closes k now (it carries no call and is on no list); frees it now, or when its handler
 * unwinds. */
void rx_http_client__close(rx_http_client_conn *k);
/* Sends what is left of k's request; 0, or the errno of a failed send. */
int rx_http_client__send(rx_http_client_conn *k);
/* The idle list: push (or close when not reusable or full), remove. */
void rx_http_client__release(rx_http_pool *p, rx_http_client_conn *k, bool reusable);
void rx_http_client__idle_remove(rx_http_pool *p, rx_http_client_conn *k);

/* --- http_client.c --- */

/* k's answer ended; reusable: k may carry another request. */
void rx_http_client__complete(rx_http_client_conn *k, bool reusable);
/* k's call failed: k closes, and the call ends with RX_ERR_IO, or goes out again (`resent`). */
void rx_http_client__fail(rx_http_client_conn *k, rx_http_client_failure f, int err);

/* --- http_client_request.c --- */

/* A call record holding the serialized request; NULL with the error set (RX_ERR_INVALID_ARG
 * for a bad method, path or header, RX_ERR_NOMEM). */
rx_http_call *rx_http_client__new_call(const rx_http_pool *p, const char *method, const char *path,
                                       const char *const *headers, const char *body, size_t len,
                                       rx_status *err);

#endif
