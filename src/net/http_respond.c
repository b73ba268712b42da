/* Answering a request: response headers, a whole response, or a chunked stream (SSE). The
 * bytes go to the connection's output buffer and are written at once (one write for a whole
 * response). Each finishing call (rx_http_respond, rx_http_stream_end) frees the wrapper; on a
 * request whose client has gone, writes do nothing and finishing only frees what it holds. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "net/internal.h"

const char *rx_http__reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}

static int valid_status(int status)
{
    return status >= 100 && status <= 599 ? status : 500;
}

static bool writable(const rx_http_req *r)
{
    return !r->dead && r->conn;
}

/* "Date: ...\r\n", formatted once a second (strftime per response shows in profiles). */
static const char *date_line(rx_http_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof s->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        s->date_sec = now;
    }
    return s->date;
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

void rx_http_add_header(rx_http_req *r, const char *name, const char *value)
{
    if (!writable(r) || r->started || !name || !value) return;
    /* a name or value with CR/LF would split the header: response splitting */
    if (!*name || has_crlf(name) || strchr(name, ':') || has_crlf(value)) return;
    rx_bytes_add_str(&r->hdrs, name);
    rx_bytes_add(&r->hdrs, ": ", 2);
    rx_bytes_add_str(&r->hdrs, value);
    rx_bytes_add(&r->hdrs, "\r\n", 2);
}

static void status_line(rx_http_server *s, rx_bytes *out, int status)
{
    rx_bytes_add(out, "HTTP/1.1 ", 9);
    rx_bytes_add_uint(out, (uint64_t)status, 10);
    rx_bytes_add(out, " ", 1);
    rx_bytes_add_str(out, rx_http__reason(status));
    rx_bytes_add(out, "\r\n", 2);
    rx_bytes_add_str(out, date_line(s));
}

/* The status line and the headers every answer carries; framing is the caller's. */
static void head_out(rx_http_req *r, rx_bytes *out, int status, const char *content_type)
{
    status_line(r->srv, out, status);
    if (content_type && !has_crlf(content_type)) {
        rx_bytes_add(out, "Content-Type: ", 14);
        rx_bytes_add_str(out, content_type);
        rx_bytes_add(out, "\r\n", 2);
    }
    if (r->hdrs.failed) out->failed = true; /* a header lost to memory: do not answer without it */
    rx_bytes_add(out, rx_bytes_data(&r->hdrs), rx_bytes_pending(&r->hdrs));
}

/* Whether the connection closes after this answer, and the Connection header that says so. */
static void connection_out(rx_http_req *r, rx_bytes *out, bool must_close)
{
    rx_http_conn *c = r->conn;
    /* a draining server answers what is asked on open connections, then closes them, so
     * clients move elsewhere before the final stop cuts them off */
    if (must_close || !r->keep_alive || r->srv->draining) {
        c->close_after = true;
        rx_bytes_add(out, "Connection: close\r\n", 19);
    } else if (r->http_minor == 0) {
        rx_bytes_add(out, "Connection: keep-alive\r\n", 24);
    }
}

/* The end of every answer: the wrapper goes, the connection moves on to the next request. */
static void finish(rx_http_req *r)
{
    rx_http_conn *c = r->conn;
    rx_http__req_detach(r);
    if (c) {
        rx_http__parse_recycle(&c->parse, &r->msg);
        c->served_one = true;
        if (!c->close_after) rx_http__phase(c, RX_CONN_WAITING);
    }
    rx_http__req_free(r);
    if (c) rx_http__conn_kick(c); /* may free c */
}

void rx_http_respond(rx_http_req *r, int status, const char *content_type, const char *body,
                     size_t len)
{
    if (r->started) { /* misuse: finish the stream with this as its last chunk */
        rx_http_stream_write(r, body, len);
        rx_http_stream_end(r);
        return;
    }
    if (writable(r)) {
        status = valid_status(status);
        rx_bytes *out = &r->conn->out;
        head_out(r, out, status, content_type);
        connection_out(r, out, false);
        bool no_body = status < 200 || status == 204 || status == 304;
        if (!no_body) {
            rx_bytes_add(out, "Content-Length: ", 16);
            rx_bytes_add_uint(out, len, 10);
            rx_bytes_add(out, "\r\n", 2);
        }
        rx_bytes_add(out, "\r\n", 2);
        if (!no_body && !r->head && len && body) rx_bytes_add(out, body, len);
    }
    finish(r);
}

void rx_http_stream_start(rx_http_req *r, int status, const char *content_type)
{
    if (r->started) return;
    r->started = true;
    if (!writable(r)) return;
    status = valid_status(status);
    rx_bytes *out = &r->conn->out;
    head_out(r, out, status, content_type);
    /* HTTP/1.1 frames the stream in chunks; an HTTP/1.0 client has no chunked encoding, so its
     * stream is ended by the close */
    r->chunked = r->http_minor == 1 && !r->head;
    connection_out(r, out, r->http_minor == 0);
    if (r->chunked) rx_bytes_add(out, "Transfer-Encoding: chunked\r\n", 28);
    rx_bytes_add(out, "\r\n", 2);
    rx_http__conn_kick(r->conn);
}

void rx_http_stream_write(rx_http_req *r, const char *data, size_t len)
{
    if (!r->started) rx_http_stream_start(r, 200, NULL);
    if (!writable(r) || !len || r->head) return;
    rx_bytes *out = &r->conn->out;
    if (r->chunked) {
        rx_bytes_add_uint(out, len, 16);
        rx_bytes_add(out, "\r\n", 2);
        rx_bytes_add(out, data, len);
        rx_bytes_add(out, "\r\n", 2);
    } else {
        rx_bytes_add(out, data, len);
    }
    rx_http__conn_kick(r->conn); /* sent now, unbuffered */
}

void rx_http_stream_end(rx_http_req *r)
{
    if (!r->started) rx_http_stream_start(r, 200, NULL);
    if (writable(r) && r->chunked) rx_bytes_add(&r->conn->out, "0\r\n\r\n", 5);
    finish(r);
}

void rx_http__refuse(rx_http_conn *c, int status, const char *why, int http_minor)
{
    (void)http_minor;
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
                     "\"code\":%d}}",
                     why ? why : rx_http__reason(status), status);
    if (n < 0 || (size_t)n >= sizeof body) n = 0;
    status_line(c->srv, &c->out, status);
    rx_bytes_add_str(&c->out, "Content-Type: application/json\r\nContent-Length: ");
    rx_bytes_add_uint(&c->out, (uint64_t)n, 10);
    rx_bytes_add_str(&c->out, "\r\nConnection: close\r\n\r\n");
    rx_bytes_add(&c->out, body, (size_t)n);
    c->close_after = c->refused = true;
    rx_http__phase(c, RX_CONN_CLOSING);
}
