/* Request framing on http-parser (see http_parse.h). The parser is paused at the end of the
 * headers and at the end of each request, so the caller sees one event at a time and bytes of
 * a pipelined next request stay unread in its buffer until it asks for them. */
#include "net/http_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { LAST_NONE, LAST_NAME, LAST_VALUE };

static bool reserve(rx_http_msg *m, size_t more)
{
    if (m->cap - m->len > more) return true; /* one byte always left for a terminator */
    size_t cap = m->cap ? m->cap : 1024;
    while (cap - m->len <= more) {
        if (cap > (size_t)-1 / 2) return false;
        cap *= 2;
    }
    char *b = realloc(m->buf, cap);
    if (!b) return false;
    m->buf = b;
    m->cap = cap;
    return true;
}

static bool append(rx_http_msg *m, const char *data, size_t n)
{
    if (!reserve(m, n)) return false;
    if (n) memcpy(m->buf + m->len, data, n);
    m->len += n;
    return true;
}

static bool terminate(rx_http_msg *m)
{
    return append(m, "", 1);
}

/* Room for one more header's two offsets. */
static bool reserve_header(rx_http_msg *m)
{
    if (m->n_hdr * 2 + 2 > m->hdr_cap) {
        int cap = m->hdr_cap ? m->hdr_cap * 2 : 32;
        size_t *h = realloc(m->hdr, (size_t)cap * sizeof *h);
        if (!h) return false;
        m->hdr = h;
        m->hdr_cap = cap;
    }
    return true;
}

static rx_http_parse *of(http_parser *hp)
{
    return hp->data;
}

static int fail(rx_http_parse *p, int status, const char *why)
{
    p->status = status;
    p->why = why;
    return -1;
}

static int on_message_begin(http_parser *hp)
{
    of(hp)->in_head = true;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    rx_http_parse *p = of(hp);
    return append(&p->msg, at, n) ? 0 : fail(p, 503, "out of memory");
}

/* The URL is complete once the first header (or the end of the headers) arrives. */
static bool close_url(rx_http_parse *p)
{
    return terminate(&p->msg);
}

/* http-parser lets a NUL byte through in header text; stored NUL-terminated, it would cut the
 * header short unseen (the client's response reader refuses it the same way) */
static bool has_nul(const char *at, size_t n)
{
    return memchr(at, 0, n) != NULL;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    rx_http_parse *p = of(hp);
    rx_http_msg *m = &p->msg;
    if (p->head_done) return 0; /* a chunked body's trailer: not kept */
    if (has_nul(at, n)) return fail(p, 400, "a NUL byte in a header");
    if (p->last != LAST_NAME) {
        if (p->last == LAST_NONE && !close_url(p)) return fail(p, 503, "out of memory");
        if (p->last == LAST_VALUE && !terminate(m)) return fail(p, 503, "out of memory");
        if (!reserve_header(m)) return fail(p, 503, "out of memory");
        m->hdr[m->n_hdr * 2] = m->len;
        p->last = LAST_NAME;
    }
    return append(m, at, n) ? 0 : fail(p, 503, "out of memory");
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    rx_http_parse *p = of(hp);
    rx_http_msg *m = &p->msg;
    if (p->head_done) return 0;
    if (has_nul(at, n)) return fail(p, 400, "a NUL byte in a header");
    if (p->last != LAST_VALUE) {
        if (p->last != LAST_NAME || !terminate(m)) return fail(p, 503, "out of memory");
        m->hdr[m->n_hdr * 2 + 1] = m->len;
        m->n_hdr++;
        p->last = LAST_VALUE;
    }
    return append(m, at, n) ? 0 : fail(p, 503, "out of memory");
}

static bool allowed_method(int method)
{
    switch (method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_POST:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_OPTIONS:
    case HTTP_PATCH:
        return true;
    default:
        return false;
    }
}

static int on_headers_complete(http_parser *hp)
{
    rx_http_parse *p = of(hp);
    rx_http_msg *m = &p->msg;
    if (p->last == LAST_NONE && !close_url(p)) return fail(p, 503, "out of memory");
    if (p->last == LAST_NAME) return fail(p, 400, "a header without a value");
    if (p->last == LAST_VALUE && !terminate(m)) return fail(p, 503, "out of memory");
    p->head_done = true;
    if (hp->http_major != 1 || hp->http_minor > 1)
        return fail(p, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (!allowed_method((int)hp->method)) return fail(p, 501, "method not implemented");
    /* a declared length over the limit is refused before any of the body is read */
    if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->max_body)
        return fail(p, 413, "request body too large");
    p->method = (int)hp->method;
    p->http_minor = (int)hp->http_minor;
    p->keep_alive = http_should_keep_alive(hp) && !hp->upgrade;
    const char *expect = rx_http__msg_header(m, "expect");
    p->expect_continue = hp->http_minor == 1 && expect && strcasecmp(expect, "100-continue") == 0;
    m->body = m->len;
    m->body_len = 0;
    http_parser_pause(hp, 1);
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    rx_http_parse *p = of(hp);
    rx_http_msg *m = &p->msg;
    if (n > p->max_body - m->body_len) return fail(p, 413, "request body too large");
    if (!append(m, at, n)) return fail(p, 503, "out of memory");
    m->body_len += n;
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    rx_http_parse *p = of(hp);
    if (!terminate(&p->msg)) return fail(p, 503, "out of memory");
    p->msg.len--; /* the terminator is not part of the body */
    p->done = true;
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset_request(rx_http_parse *p)
{
    p->msg.len = p->msg.url = p->msg.body = p->msg.body_len = 0;
    p->msg.n_hdr = 0;
    p->header_bytes = 0;
    p->status = 0;
    p->why = NULL;
    p->in_head = p->head_done = p->done = p->expect_continue = false;
    p->last = LAST_NONE;
}

void rx_http__parse_init(rx_http_parse *p, size_t max_header, size_t max_body)
{
    memset(p, 0, sizeof *p);
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    p->max_header = max_header;
    p->max_body = max_body;
}

void rx_http__msg_free(rx_http_msg *m)
{
    free(m->buf);
    free(m->hdr);
    memset(m, 0, sizeof *m);
}

void rx_http__parse_free(rx_http_parse *p)
{
    rx_http__msg_free(&p->msg);
    rx_http__msg_free(&p->spare);
}

static const char *errno_reason(enum http_errno e)
{
    switch (e) {
    case HPE_INVALID_METHOD:
        return "malformed request method";
    case HPE_INVALID_URL:
        return "malformed request target";
    case HPE_INVALID_VERSION:
        return "malformed HTTP version";
    case HPE_INVALID_HEADER_TOKEN:
        return "malformed header";
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return "malformed Content-Length";
    case HPE_INVALID_CHUNK_SIZE:
        return "malformed chunked body";
    case HPE_INVALID_TRANSFER_ENCODING:
        return "malformed Transfer-Encoding";
    default:
        return "malformed request";
    }
}

rx_parse_event rx_http__parse_feed(rx_http_parse *p, const char *data, size_t n, size_t *used)
{
    *used = 0;
    if (p->status) return RX_PARSE_ERROR;
    if (p->done) return RX_PARSE_DONE;
    if (n == 0) return RX_PARSE_MORE; /* to http-parser, no bytes means the end of input */
    bool head_was_done = p->head_done;
    if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED) http_parser_pause(&p->hp, 0);
    size_t k = http_parser_execute(&p->hp, &settings, data, n);
    *used = k;
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    /* blank lines before a request count too, so the limit does not depend on where the
     * network cut the bytes */
    if (!head_was_done) {
        p->header_bytes += k;
        if (p->header_bytes > p->max_header) {
            p->status = 431;
            p->why = "request line and headers too large";
            return RX_PARSE_ERROR;
        }
    }
    if (e == HPE_PAUSED) return p->done ? RX_PARSE_DONE : RX_PARSE_HEAD;
    if (e != HPE_OK) {
        if (!p->status) {
            p->status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
            p->why = e == HPE_HEADER_OVERFLOW ? "request line and headers too large"
                                              : errno_reason(e);
        }
        return RX_PARSE_ERROR;
    }
    return RX_PARSE_MORE;
}

void rx_http__parse_take(rx_http_parse *p, rx_http_msg *out)
{
    *out = p->msg;
    p->msg = p->spare;
    memset(&p->spare, 0, sizeof p->spare);
    reset_request(p);
}

void rx_http__parse_recycle(rx_http_parse *p, rx_http_msg *m)
{
    if (!p->spare.buf && !p->msg.buf) {
        p->msg = *m;
        p->msg.len = p->msg.n_hdr = 0;
        p->msg.url = p->msg.body = p->msg.body_len = 0;
    } else if (!p->spare.buf) {
        p->spare = *m;
    } else {
        rx_http__msg_free(m);
        return;
    }
    memset(m, 0, sizeof *m);
}

const char *rx_http__msg_header(const rx_http_msg *m, const char *name)
{
    for (int i = 0; i < m->n_hdr; i++)
        if (strcasecmp(m->buf + m->hdr[2 * i], name) == 0) return m->buf + m->hdr[2 * i + 1];
    return NULL;
}
