/* Answering a request: response headers, a whole response, or a chunked stream (SSE). Each
 * finishing call (rx_http_respond, rx_http_stream_end) frees the wrapper; on a request whose
 * client has gone, writes do nothing and finishing only frees what the wrapper holds. */
#include <stdlib.h>

#include <event2/util.h>

#include "net/internal.h"

/* evhttp 2.1 knows the RFC 2616 phrases only; these are the ones an API server sends. */
static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    return NULL; /* evhttp's own table, or "Unknown Status Code" */
}

static int valid_status(int status)
{
    return status >= 100 && status <= 599 ? status : 500;
}

static bool writable(const rx_http_req *r)
{
    return !r->dead && r->conn;
}

void rx_http_add_header(rx_http_req *r, const char *name, const char *value)
{
    if (!writable(r) || r->started) return;
    /* evhttp refuses names and values that would split the header (CR/LF) */
    evhttp_add_header(evhttp_request_get_output_headers(r->ereq), name, value);
}

static void set_headers(rx_http_req *r, const char *content_type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ereq);
    if (content_type) {
        evhttp_remove_header(h, "Content-Type");
        evhttp_add_header(h, "Content-Type", content_type);
    }
    /* a draining server answers what is asked on open connections, then closes them, so
     * clients move elsewhere before the final stop cuts them off */
    if (r->srv->draining) {
        evhttp_remove_header(h, "Connection");
        evhttp_add_header(h, "Connection", "close");
    }
}

/* The last step of every finish: a dead request's evhttp record is ours to free. */
static void finish(rx_http_req *r)
{
    if (r->dead) evhttp_request_free(r->ereq);
    rx_http__req_free(r);
}

void rx_http_respond(rx_http_req *r, int status, const char *content_type, const char *body,
                     size_t len)
{
    if (r->started) { /* misuse: finish the stream with this as its last chunk */
        rx_http_stream_write(r, body, len);
        rx_http_stream_end(r);
        return;
    }
    if (!writable(r)) {
        rx_http__req_detach(r);
        finish(r);
        return;
    }
    status = valid_status(status);
    struct evhttp_request *ereq = r->ereq;
    struct evbuffer *buf = r->srv->scratch;
    set_headers(r, content_type);
    if (len && body && evbuffer_add(buf, body, len) != 0) {
        status = 500;
        evbuffer_drain(buf, evbuffer_get_length(buf));
    }
    /* detach first: sending may complete synchronously and start the next request */
    rx_http__req_detach(r);
    rx_http__req_free(r);
    evhttp_send_reply(ereq, status, reason(status), buf);
    evbuffer_drain(buf, evbuffer_get_length(buf)); /* left over only when evhttp dropped it */
}

/* evhttp 2.1 frames a streamed answer to an HTTP/1.0 keep-alive client with
 * "Content-Length: 0"; such a stream can only end with the connection. Forgetting the
 * client's "Connection: keep-alive" does that, and changes nothing for HTTP/1.1, where
 * keep-alive is the default and chunked encoding the framing. */
static void stream_framing(rx_http_req *r)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(r->ereq);
    const char *conn = evhttp_find_header(in, "Connection");
    if (conn && evutil_ascii_strcasecmp(conn, "keep-alive") == 0)
        evhttp_remove_header(in, "Connection");
}

void rx_http_stream_start(rx_http_req *r, int status, const char *content_type)
{
    if (r->started) return;
    r->started = true;
    if (!writable(r)) return;
    status = valid_status(status);
    set_headers(r, content_type);
    stream_framing(r);
    evhttp_send_reply_start(r->ereq, status, reason(status));
}

void rx_http_stream_write(rx_http_req *r, const char *data, size_t len)
{
    if (!r->started) rx_http_stream_start(r, 200, NULL);
    if (!writable(r) || !len) return;
    struct evbuffer *buf = r->srv->scratch;
    if (evbuffer_add(buf, data, len) == 0)
        evhttp_send_reply_chunk(r->ereq, buf); /* queued on the socket now, sent this turn */
    evbuffer_drain(buf, evbuffer_get_length(buf));
}

void rx_http_stream_end(rx_http_req *r)
{
    if (!r->started) rx_http_stream_start(r, 200, NULL);
    if (!writable(r)) {
        rx_http__req_detach(r);
        finish(r);
        return;
    }
    struct evhttp_request *ereq = r->ereq;
    rx_http__req_detach(r);
    rx_http__req_free(r);
    evhttp_send_reply_end(ereq);
}
