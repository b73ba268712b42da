/* libFuzzer target for the server's request framing (src/net/http_parse.c, http-parser
 * underneath). The first byte picks a piece size and the limits; the rest is what a client
 * sends on one connection, fed once whole and once in pieces as the connection would (each
 * piece after the last one's leftovers). Both must see the same requests (method, target,
 * headers, body) and end the same way; every request keeps the limits; a refusal carries a
 * 4xx/5xx status and a reason; nothing may crash, leak or read past a piece. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parse.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http_request: invariant broken: %s\n", what);
        abort();
    }
}

typedef struct {
    uint64_t digest; /* FNV-1a over every request's parts, in order */
    int requests, status;
} outcome;

static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 1099511628211ull;
}

static void take(rx_http_parse *p, outcome *o, size_t max_header, size_t max_body)
{
    rx_http_msg m;
    int method = p->method;
    rx_http__parse_take(p, &m);
    check(m.buf != NULL, "a request has a buffer");
    check(m.body_len <= max_body, "body within its limit");
    check(m.body + m.body_len <= m.len && m.buf[m.body + m.body_len] == '\0', "body terminated");
    size_t url_len = strlen(m.buf + m.url);
    check(url_len <= max_header, "target within the header limit");
    mix(&o->digest, &method, sizeof method);
    mix(&o->digest, m.buf + m.url, url_len + 1);
    for (int i = 0; i < m.n_hdr; i++) {
        const char *name = m.buf + m.hdr[2 * i], *value = m.buf + m.hdr[2 * i + 1];
        check(name < m.buf + m.body && value < m.buf + m.body, "headers before the body");
        check(rx_http__msg_header(&m, name) != NULL, "every header can be found");
        mix(&o->digest, name, strlen(name) + 1);
        mix(&o->digest, value, strlen(value) + 1);
    }
    mix(&o->digest, m.buf + m.body, m.body_len);
    o->requests++;
    rx_http__parse_recycle(p, &m);
}

/* Feeds data in pieces of step bytes (0: whole), the way http_conn.c does: bytes not taken
 * stay in front of the next piece. */
static void run(const uint8_t *data, size_t size, size_t step, size_t max_header,
                size_t max_body, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->digest = 1469598103934665603ull;
    rx_http_parse p;
    rx_http__parse_init(&p, max_header, max_body);
    if (step == 0) step = size ? size : 1;
    char *buf = malloc(size + 1);
    check(buf != NULL, "malloc");
    size_t have = 0, fed = 0;
    while (!o->status) {
        if (fed < size) {
            size_t n = size - fed < step ? size - fed : step;
            memcpy(buf + have, data + fed, n);
            have += n;
            fed += n;
        }
        size_t off = 0;
        while (off < have && !o->status) {
            size_t used = 0;
            rx_parse_event ev = rx_http__parse_feed(&p, buf + off, have - off, &used);
            check(used <= have - off, "takes no more than it is given");
            off += used;
            if (ev == RX_PARSE_MORE) {
                check(off == have, "MORE means everything was taken");
                break;
            }
            if (ev == RX_PARSE_HEAD) {
                check(p.head_done && p.http_minor <= 1, "a head is HTTP/1.0 or 1.1");
                continue;
            }
            if (ev == RX_PARSE_DONE) {
                bool keep = p.keep_alive;
                take(&p, o, max_header, max_body);
                if (!keep) o->status = -1; /* the connection would close here */
                continue;
            }
            check(p.status >= 400 && p.status <= 599 && p.why && *p.why, "a refusal has a reason");
            o->status = p.status;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
        if (fed == size && (off == 0 || have == 0)) break;
    }
    free(buf);
    rx_http__parse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t step = (size_t)(data[0] % 16) + 1;
    size_t max_header = data[0] & 0x40 ? 64 : 16 * 1024;
    size_t max_body = data[0] & 0x80 ? 8 : 1024 * 1024;
    data++;
    size--;
    outcome whole, pieces;
    run(data, size, 0, max_header, max_body, &whole);
    run(data, size, step, max_header, max_body, &pieces);
    check(whole.requests == pieces.requests, "same requests whatever the split");
    check(whole.digest == pieces.digest, "same request contents whatever the split");
    /* a header-size refusal may come a piece earlier or later, never a different kind */
    check(whole.status == pieces.status, "the same end whatever the split");
    return 0;
}
