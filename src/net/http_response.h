/* Private to src/net: reads one HTTP/1.1 response (http-parser underneath) for the client
 * (http_client.c). Bytes go in as they arrive, cut anywhere; out come the final head (status,
 * headers kept for lookup), decoded body bytes as soon as they are decoded (Content-Length,
 * chunked or until the connection closes), and the end with whether the connection may carry
 * another request. Interim 1xx answers are skipped; the head is bounded; anything malformed is
 * an error with a message. No sockets here, so fuzz/fuzz_http_response.c drives it directly. */
#ifndef RX_NET_HTTP_RESPONSE_H
#define RX_NET_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

/* Stored header bytes (names, values and their terminators) past which a head is refused. */
#define RX_HTTP_RESP_MAX_HEAD 65536

typedef struct {
    /* The final head arrived (headers readable now). Nonzero stops the reader. */
    int (*on_head)(void *user, int status);
    /* Decoded body bytes, borrowed for the call, never empty. Nonzero stops the reader. */
    int (*on_body)(void *user, const char *data, size_t len);
} rx_http_resp_cb;

typedef enum {
    RX_HTTP_RESP_MORE,    /* every byte was read; the response goes on */
    RX_HTTP_RESP_DONE,    /* the response ended; bytes after it were left unread */
    RX_HTTP_RESP_STOPPED, /* a callback returned nonzero; the reader is spent */
    RX_HTTP_RESP_ERROR,   /* malformed, over a limit, or cut short: error says why */
} rx_http_resp_state;

typedef struct {
    http_parser parser;
    const rx_http_resp_cb *cb; /* borrowed */
    void *user;
    char *hdr; /* owned, kept across responses: "name\0value\0" pairs of the head being read */
    size_t hdr_len, hdr_cap;
    const char *feed_end; /* end of the bytes being fed (tells a cut field from a new one) */
    int status;           /* of the final head; 0 before it */
    bool head_only;       /* answer to HEAD: no body whatever the headers say */
    bool head_done, done, keep_alive, stopped;
    bool interim;              /* reading a 1xx head, which is dropped */
    bool in_value, field_cut;  /* header callbacks: where the last one left off */
    bool value_cut, name_open; /* (see header_field / header_value in the .c) */
    char error[128];
} rx_http_resp;

/* Zeroes r (no allocation yet); cb and user stay for every response read with it. */
void rx_http_resp__init(rx_http_resp *r, const rx_http_resp_cb *cb, void *user);
/* Readies r for the next response on the connection; head_only: it answers a HEAD request. */
void rx_http_resp__start(rx_http_resp *r, bool head_only);
/* Reads data[0..len); *used: how many bytes belong to the response (less than len only when it
 * is DONE, STOPPED or ERROR there). */
rx_http_resp_state rx_http_resp__feed(rx_http_resp *r, const char *data, size_t len, size_t *used);
/* The peer closed: DONE for a body that runs until close, else ERROR (cut short). */
rx_http_resp_state rx_http_resp__eof(rx_http_resp *r);
/* A header of the final head by name (case-insensitive; the first of repeated ones), or NULL
 * before the head. Valid until the next rx_http_resp__start or __free. */
const char *rx_http_resp__header(const rx_http_resp *r, const char *name);
void rx_http_resp__free(rx_http_resp *r);

#endif
