/* The bytes of a client request (see http_client_internal.h): checked, then serialized once
 * into the call record, where they stay whole for a resend. Header names must be tokens and
 * values free of CR and LF, so no caller input can add a header or a request; path bytes that a
 * request line cannot hold are percent-encoded (the gateway forwards decoded paths). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http_client_internal.h"

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static bool is_token(const char *s)
{
    if (!*s) return false;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if (*u <= ' ' || *u >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *u)) return false;
    return true;
}

/* A path byte that cannot go on the request line as it is: percent-encoded (the gateway
 * forwards decoded paths). */
static bool escape_in_path(unsigned char ch)
{
    return ch <= ' ' || ch >= 127;
}

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

static size_t n_headers(const char *const *h)
{
    size_t n = 0;
    while (h && h[n] && h[n + 1])
        n += 2;
    return n;
}

static rx_status check_request(const rx_http_pool *p, const char *method, const char *path,
                               const char *const *headers)
{
    if (!is_token(method) || !path || path[0] != '/')
        return rx_error(RX_ERR_INVALID_ARG, "%s:%d: bad method or path", p->host, p->port);
    for (size_t i = 0, n = n_headers(headers); i < n; i += 2) {
        if (!is_token(headers[i]) || has_crlf(headers[i + 1]))
            return rx_error(RX_ERR_INVALID_ARG, "%s:%d: header %.64s: bad name or value", p->host,
                            p->port, headers[i]);
        if (strcasecmp(headers[i], "Host") == 0 || strcasecmp(headers[i], "Content-Length") == 0 ||
            strcasecmp(headers[i], "Transfer-Encoding") == 0)
            return rx_error(RX_ERR_INVALID_ARG, "%s:%d: header %s is the client's to set", p->host,
                            p->port, headers[i]);
    }
    return RX_OK;
}

/* "METHOD path HTTP/1.1", Host, the caller's headers, Content-Length, the body: one buffer,
 * sent with one send(). */
rx_http_call *rx_http_client__new_call(const rx_http_pool *p, const char *method, const char *path,
                                       const char *const *headers, const char *body, size_t len,
                                       rx_status *err)
{
    if ((*err = check_request(p, method, path, headers)) != RX_OK) return NULL;
    const size_t nh = n_headers(headers);
    const bool with_length =
        len || !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
    char length[48] = "";
    if (with_length) snprintf(length, sizeof length, "Content-Length: %zu\r\n", len);
    size_t need =
        strlen(method) + 1 + strlen(" HTTP/1.1\r\n") + p->host_line_len + strlen(length) + 2 + len;
    for (const char *s = path; *s; s++)
        need += escape_in_path((unsigned char)*s) ? 3 : 1;
    for (size_t i = 0; i < nh; i++)
        need += strlen(headers[i]) + 2;
    rx_http_call *c = malloc(sizeof *c + need);
    if (!c) {
        *err = rx_error(RX_ERR_NOMEM, "no memory for a call to %s:%d", p->host, p->port);
        return NULL;
    }
    memset(c, 0, sizeof *c);
    char *w = c->req;
    w = put(w, method, strlen(method));
    *w++ = ' ';
    for (const char *s = path; *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (escape_in_path(ch)) {
            *w++ = '%';
            *w++ = "0123456789ABCDEF"[ch >> 4];
            *w++ = "0123456789ABCDEF"[ch & 15];
        } else {
            *w++ = (char)ch;
        }
    }
    w = put(w, " HTTP/1.1\r\n", 11);
    w = put(w, p->host_line, p->host_line_len);
    for (size_t i = 0; i < nh; i += 2) {
        w = put(w, headers[i], strlen(headers[i]));
        w = put(w, ": ", 2);
        w = put(w, headers[i + 1], strlen(headers[i + 1]));
        w = put(w, "\r\n", 2);
    }
    w = put(w, length, strlen(length));
    w = put(w, "\r\n", 2);
    if (len) w = put(w, body, len);
    c->req_len = (size_t)(w - c->req);
    c->head_only = strcmp(method, "HEAD") == 0;
    return c;
}
