/* One HTTP/1.1 response read with http-parser (see http_response.h). http-parser does the
 * framing (status line, Content-Length, chunked decoding, read until close, keep-alive rules);
 * this file keeps the final head's headers in one buffer, skips 1xx heads, bounds the head,
 * and stops at the end of the response (the parser is paused there) so that nothing after it is
 * taken as the next response: the client sends one request at a time. */
#include "net/http_response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(rx_http_resp *r, const char *what)
{
    if (!r->error[0]) snprintf(r->error, sizeof r->error, "%s", what);
    return -1;
}

static int append(rx_http_resp *r, const char *data, size_t len)
{
    /* +2: the terminators still to come for this pair */
    if (len > RX_HTTP_RESP_MAX_HEAD || r->hdr_len + len + 2 > RX_HTTP_RESP_MAX_HEAD) {
        char msg[64];
        snprintf(msg, sizeof msg, "response head over %d bytes", RX_HTTP_RESP_MAX_HEAD);
        return fail(r, msg);
    }
    if (r->hdr_len + len + 2 > r->hdr_cap) {
        size_t cap = r->hdr_cap ? r->hdr_cap : 1024;
        while (cap < r->hdr_len + len + 2)
            cap *= 2;
        char *h = realloc(r->hdr, cap);
        if (!h) return fail(r, "no memory for a response head");
        r->hdr = h;
        r->hdr_cap = cap;
    }
    memcpy(r->hdr + r->hdr_len, data, len);
    r->hdr_len += len;
    return 0;
}

/* Header bytes: stored NUL-terminated, so a NUL inside (http-parser lets it through in values)
 * is refused rather than cutting the pair short. */
static int append_header(rx_http_resp *r, const char *data, size_t len)
{
    if (memchr(data, 0, len)) return fail(r, "a NUL byte in a header");
    return append(r, data, len);
}

/* Ends the pair being stored: a name without a value callback had an empty value (http-parser
 * reports none), and a value loses its trailing blanks. */
static int close_pair(rx_http_resp *r)
{
    if (r->name_open) {
        r->name_open = false;
        return append(r, "\0", 2);
    }
    if (r->in_value) {
        r->in_value = false;
        while (r->hdr_len && (r->hdr[r->hdr_len - 1] == ' ' || r->hdr[r->hdr_len - 1] == '\t'))
            r->hdr_len--;
        return append(r, "", 1);
    }
    return 0;
}

static int message_begin(http_parser *hp)
{
    rx_http_resp *r = hp->data;
    r->hdr_len = 0;
    r->name_open = r->in_value = r->field_cut = r->value_cut = false;
    return 0;
}

/* http-parser hands a field over in pieces only where a feed ended inside it; a field callback
 * that does not continue such a cut piece starts a new header. */
static int header_field(http_parser *hp, const char *at, size_t len)
{
    rx_http_resp *r = hp->data;
    if (r->head_done) return 0; /* trailers: not kept */
    if (!(r->name_open && r->field_cut)) {
        if (close_pair(r) != 0) return -1;
        r->name_open = true;
    }
    r->field_cut = at + len == r->feed_end;
    return append_header(r, at, len);
}

/* Likewise for values; a value piece that does not continue a cut one comes from a folded line
 * (obs-fold), which reads as one space. */
static int header_value(http_parser *hp, const char *at, size_t len)
{
    rx_http_resp *r = hp->data;
    if (r->head_done) return 0;
    if (r->name_open) {
        r->name_open = false;
        r->in_value = true;
        if (append(r, "", 1) != 0) return -1;
    } else if (r->in_value && !r->value_cut && len) {
        if (append(r, " ", 1) != 0) return -1;
    }
    r->value_cut = at + len == r->feed_end;
    return append_header(r, at, len);
}

static int headers_complete(http_parser *hp)
{
    rx_http_resp *r = hp->data;
    if (close_pair(r) != 0) return -1;
    const int status = (int)hp->status_code;
    if (status < 100) return fail(r, "status code below 100");
    if (status == 101) return fail(r, "101 Switching Protocols, which no request asked for");
    if (status < 200) {
        r->interim = true; /* 100 Continue and the like: the real answer follows */
        return 1;
    }
    r->head_done = true;
    r->status = status;
    if (r->cb->on_head && r->cb->on_head(r->user, status) != 0) {
        r->stopped = true;
        return -1;
    }
    return r->head_only ? 1 : 0; /* 1: no body, whatever Content-Length says */
}

static int body(http_parser *hp, const char *at, size_t len)
{
    rx_http_resp *r = hp->data;
    if (!len || !r->head_done || !r->cb->on_body) return 0;
    if (r->cb->on_body(r->user, at, len) != 0) {
        r->stopped = true;
        return -1;
    }
    return 0;
}

static int message_complete(http_parser *hp)
{
    rx_http_resp *r = hp->data;
    if (r->interim) {
        r->interim = false;
        return 0;
    }
    r->done = true;
    r->keep_alive = http_should_keep_alive(hp) != 0;
    http_parser_pause(hp, 1); /* what follows is not ours to read */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = message_begin,
    .on_header_field = header_field,
    .on_header_value = header_value,
    .on_headers_complete = headers_complete,
    .on_body = body,
    .on_message_complete = message_complete,
};

void rx_http_resp__init(rx_http_resp *r, const rx_http_resp_cb *cb, void *user)
{
    memset(r, 0, sizeof *r);
    r->cb = cb;
    r->user = user;
}

void rx_http_resp__start(rx_http_resp *r, bool head_only)
{
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    r->hdr_len = 0;
    r->status = 0;
    r->head_only = head_only;
    r->head_done = r->done = r->keep_alive = r->stopped = r->interim = false;
    r->in_value = r->field_cut = r->value_cut = r->name_open = false;
    r->error[0] = '\0';
}

static rx_http_resp_state state_of(rx_http_resp *r)
{
    if (r->error[0]) return RX_HTTP_RESP_ERROR;
    if (r->stopped) return RX_HTTP_RESP_STOPPED;
    if (r->done) return RX_HTTP_RESP_DONE;
    const enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (e != HPE_OK) {
        snprintf(r->error, sizeof r->error, "%s", http_errno_description(e));
        return RX_HTTP_RESP_ERROR;
    }
    return RX_HTTP_RESP_MORE;
}

rx_http_resp_state rx_http_resp__feed(rx_http_resp *r, const char *data, size_t len, size_t *used)
{
    *used = 0;
    rx_http_resp_state s = state_of(r);
    if (s != RX_HTTP_RESP_MORE || len == 0) return s;
    r->feed_end = data + len;
    *used = http_parser_execute(&r->parser, &settings, data, len);
    s = state_of(r);
    if (s == RX_HTTP_RESP_MORE && (r->parser.upgrade || *used != len)) {
        snprintf(r->error, sizeof r->error, "the parser stopped at byte %zu of %zu", *used, len);
        s = RX_HTTP_RESP_ERROR;
    }
    return s;
}

rx_http_resp_state rx_http_resp__eof(rx_http_resp *r)
{
    rx_http_resp_state s = state_of(r);
    if (s != RX_HTTP_RESP_MORE) return s;
    http_parser_execute(&r->parser, &settings, NULL, 0);
    s = state_of(r);
    if (s == RX_HTTP_RESP_MORE) {
        snprintf(r->error, sizeof r->error, "the connection closed before a response");
        s = RX_HTTP_RESP_ERROR;
    }
    return s;
}

const char *rx_http_resp__header(const rx_http_resp *r, const char *name)
{
    if (!r->head_done) return NULL;
    /* every pair is terminated once the head is done */
    for (const char *p = r->hdr, *end = r->hdr + r->hdr_len; p && p < end;) {
        const char *value = p + strlen(p) + 1;
        if (strcasecmp(p, name) == 0) return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

void rx_http_resp__free(rx_http_resp *r)
{
    free(r->hdr);
    r->hdr = NULL;
    r->hdr_cap = r->hdr_len = 0;
}
