/* HTTP/1.1 request framing: bytes in, one complete request (method, URL, headers, body) out,
 * or the status to refuse it with. http-parser does the grammar (request line, header syntax,
 * Content-Length and chunked bodies); this wrapper adds our limits and keeps everything the
 * handler will borrow in one growable block that can be handed over whole. No I/O here, so
 * the fuzzer drives it directly (fuzz/fuzz_http_request.c). */
#ifndef RX_NET_HTTP_PARSE_H
#define RX_NET_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

/* One request's text. buf holds, NUL-terminated each: the raw URL, then name and value of
 * every header, then the body. Offsets, not pointers: buf grows while the request arrives. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t url, body, body_len; /* offsets into buf */
    size_t *hdr;                /* 2 * n_hdr offsets: name, value */
    int n_hdr, hdr_cap;
} rx_http_msg;

typedef enum {
    RX_PARSE_MORE,  /* everything given was taken; a request is not complete yet */
    RX_PARSE_HEAD,  /* the headers are complete (the body, if any, follows) */
    RX_PARSE_DONE,  /* a whole request: take it with rx_http__parse_take */
    RX_PARSE_ERROR, /* refuse with p->status and close; feed nothing more */
} rx_parse_event;

typedef struct {
    http_parser hp;
    rx_http_msg msg;
    rx_http_msg spare; /* a finished request's memory, kept for the next */
    size_t max_header, max_body;
    size_t header_bytes; /* bytes of request line and headers so far */
    int status;          /* RX_PARSE_ERROR: 400, 413, 431, 501 or 505 */
    const char *why;     /* RX_PARSE_ERROR: a short reason for the error body */
    bool in_head;        /* the request line or headers have begun */
    bool head_done, done;
    bool expect_continue; /* RX_PARSE_HEAD: the client waits for "100 Continue" */
    bool keep_alive;      /* from RX_PARSE_HEAD: another request may follow this one */
    int method;           /* from RX_PARSE_HEAD: an http_method */
    int http_minor;       /* from RX_PARSE_HEAD: 0 or 1 (HTTP/1.x only) */
    int last;             /* the last header callback: 0 none, 1 name, 2 value */
} rx_http_parse;

void rx_http__parse_init(rx_http_parse *p, size_t max_header, size_t max_body);
void rx_http__parse_free(rx_http_parse *p);
/* Feeds up to n bytes and stops early at each event; *used is how many were taken. */
rx_parse_event rx_http__parse_feed(rx_http_parse *p, const char *data, size_t n, size_t *used);
/* After RX_PARSE_DONE: moves the message to *out (buf NUL-terminated throughout) and readies
 * the parser for the next request on the same connection. */
void rx_http__parse_take(rx_http_parse *p, rx_http_msg *out);
/* Gives a finished message's memory back for reuse (or frees it when one is already kept). */
void rx_http__parse_recycle(rx_http_parse *p, rx_http_msg *m);
void rx_http__msg_free(rx_http_msg *m);
/* Case-insensitive header lookup; NULL when absent. */
const char *rx_http__msg_header(const rx_http_msg *m, const char *name);

#endif
