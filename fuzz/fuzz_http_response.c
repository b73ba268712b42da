/* libFuzzer target for the HTTP client's response reader (src/net/http_response.c, http-parser
 * underneath). The first byte picks HEAD or not and a stop in the head callback; the second
 * seeds the cut points; the rest is what a server sent, then the connection closes. It is read
 * once whole and once cut into pieces (each its own allocation, so a read past a piece is
 * caught), as the client would: feed until the answer ends or fails, the close at the end.
 * Both reads must agree on everything (the reader must not care where the network cuts):
 * outcome, status, stored headers, body, keep-alive, where the answer ended. Also: at most one
 * head, a final status of 200..999, no body before the head or for HEAD, no empty body piece,
 * the head within its bound, every stored header found by name, an error with a message, and
 * nothing after a callback asked to stop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_response.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http_response: invariant broken: %s\n", what);
        abort();
    }
}

typedef struct {
    rx_http_resp r;
    bool stop_in_head, stopped;
    int heads, status;
    char *hdr; /* the stored headers when the head came */
    size_t hdr_len;
    char *body;
    size_t body_len;
    rx_http_resp_state end;
    size_t done_at; /* where the answer ended, from the first byte */
    bool keep_alive;
} run;

static int on_head(void *user, int status)
{
    run *u = user;
    check(!u->stopped, "no callback after a stop");
    check(u->heads == 0, "one head");
    check(status >= 200 && status <= 999, "a final status");
    check(u->r.hdr_len <= RX_HTTP_RESP_MAX_HEAD, "the head within its bound");
    u->heads++;
    u->status = status;
    u->hdr = malloc(u->r.hdr_len + 1);
    check(u->hdr != NULL, "malloc");
    if (u->r.hdr_len) memcpy(u->hdr, u->r.hdr, u->r.hdr_len);
    u->hdr_len = u->r.hdr_len;
    for (size_t at = 0; at < u->hdr_len;) {
        const char *name = u->hdr + at;
        check(memchr(name, 0, u->hdr_len - at) != NULL, "a terminated name");
        const size_t nl = strlen(name);
        check(at + nl + 1 < u->hdr_len, "a value follows its name");
        const char *value = name + nl + 1;
        check(memchr(value, 0, u->hdr_len - at - nl - 1) != NULL, "a terminated value");
        check(rx_http_resp__header(&u->r, name) != NULL, "a stored header is found");
        at += nl + 1 + strlen(value) + 1;
    }
    if (u->stop_in_head) {
        u->stopped = true;
        return 1;
    }
    return 0;
}

static int on_body(void *user, const char *data, size_t len)
{
    run *u = user;
    check(!u->stopped, "no callback after a stop");
    check(u->heads == 1, "body after the head");
    check(!u->r.head_only, "no body for HEAD");
    check(len > 0, "no empty body piece");
    char *b = realloc(u->body, u->body_len + len);
    check(b != NULL, "realloc");
    memcpy(b + u->body_len, data, len);
    u->body = b;
    u->body_len += len;
    return 0;
}

static const rx_http_resp_cb cb = {on_head, on_body};

/* Reads data in pieces of the sizes the seed gives (seed 0: whole). */
static void read_all(run *u, const uint8_t *data, size_t size, uint32_t seed, bool head_only,
                     bool stop_in_head)
{
    memset(u, 0, sizeof *u);
    u->stop_in_head = stop_in_head;
    rx_http_resp__init(&u->r, &cb, u);
    rx_http_resp__start(&u->r, head_only);
    u->end = RX_HTTP_RESP_MORE;
    size_t at = 0;
    while (at < size && u->end == RX_HTTP_RESP_MORE) {
        size_t n = size - at;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            const size_t cut = 1 + (seed >> 16) % 23;
            if (cut < n) n = cut;
        }
        char *piece = malloc(n);
        check(piece != NULL, "malloc");
        memcpy(piece, data + at, n);
        size_t used;
        u->end = rx_http_resp__feed(&u->r, piece, n, &used);
        free(piece);
        check(used <= n, "used within the piece");
        check(u->end != RX_HTTP_RESP_MORE || used == n, "MORE uses every byte");
        if (u->end == RX_HTTP_RESP_DONE) u->done_at = at + used;
        at += n;
    }
    if (u->end == RX_HTTP_RESP_MORE) {
        u->end = rx_http_resp__eof(&u->r);
        check(u->end != RX_HTTP_RESP_MORE, "the close ends the answer");
        if (u->end == RX_HTTP_RESP_DONE) u->done_at = size;
    }
    u->keep_alive = u->r.keep_alive;
    check(u->end != RX_HTTP_RESP_ERROR || u->r.error[0], "an error has a message");
    check(u->end != RX_HTTP_RESP_STOPPED || u->stopped, "stopped only when asked");
    check(u->end != RX_HTTP_RESP_DONE || u->heads == 1, "an answer has a head");
}

static void drop(run *u)
{
    rx_http_resp__free(&u->r);
    free(u->hdr);
    free(u->body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const bool head_only = data[0] & 1, stop_in_head = data[0] & 2;
    const uint32_t seed = (uint32_t)data[1] + 1;
    data += 2;
    size -= 2;
    run *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    check(a && b, "malloc");
    read_all(a, data, size, 0, head_only, stop_in_head);
    read_all(b, data, size, seed, head_only, stop_in_head);
    check(a->end == b->end, "the same outcome whatever the cuts");
    check(a->heads == b->heads && a->status == b->status, "the same head");
    check(a->hdr_len == b->hdr_len && (!a->hdr_len || !memcmp(a->hdr, b->hdr, a->hdr_len)),
          "the same headers");
    check(a->body_len == b->body_len && (!a->body_len || !memcmp(a->body, b->body, a->body_len)),
          "the same body");
    if (a->end == RX_HTTP_RESP_DONE)
        check(a->done_at == b->done_at && a->keep_alive == b->keep_alive,
              "the same end and keep-alive");
    drop(a);
    drop(b);
    free(a);
    free(b);
    return 0;
}
