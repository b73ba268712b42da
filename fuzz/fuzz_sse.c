/* libFuzzer target for the streaming client's SSE parser (src/bench/sse_client.c).
 * The first byte picks a piece size; the rest is a response body, fed once whole and once in
 * pieces of that size. Both must give the same counts and the same first error (the parser
 * must not care where the network cuts), every content callback must match a counted chunk,
 * and nothing may crash, leak or read past a piece. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sse_client.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_sse: invariant broken: %s\n", what);
        abort();
    }
}

static void count(void *user)
{
    (*(int64_t *)user)++;
}

/* Feeds data in pieces of step bytes (0: whole), each copied to its own allocation. */
static void parse(const uint8_t *data, size_t size, size_t step, rx_sse_client *c, int64_t *calls)
{
    *calls = 0;
    rx_sse_client_init(c, count, calls);
    if (step == 0) step = size ? size : 1;
    for (size_t at = 0; at < size; at += step) {
        size_t n = size - at < step ? size - at : step;
        char *piece = malloc(n);
        check(piece != NULL, "malloc");
        memcpy(piece, data + at, n);
        check(rx_sse_client_feed(c, piece, n) == RX_OK, "feed accepts any bytes");
        free(piece);
    }
    rx_sse_client_finish(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t step = (size_t)(data[0] % 16) + 1;
    data++;
    size--;
    rx_sse_client a, b;
    int64_t calls_a, calls_b;
    parse(data, size, 0, &a, &calls_a);
    parse(data, size, step, &b, &calls_b);
    check(calls_a == a.content_chunks && calls_b == b.content_chunks, "one callback per chunk");
    check(a.content_chunks == b.content_chunks && a.events == b.events &&
              a.malformed == b.malformed && a.done == b.done && a.usage_seen == b.usage_seen &&
              a.prompt_tokens == b.prompt_tokens && a.completion_tokens == b.completion_tokens &&
              a.server_error == b.server_error && a.after_done == b.after_done,
          "same counts whatever the split");
    check(strcmp(a.error, b.error) == 0, "same first error whatever the split");
    check(a.content_chunks <= a.events, "content chunks are events");
    check((a.malformed == 0 && !a.server_error) || a.error[0], "a problem has a message");
    rx_sse_client_free(&a);
    rx_sse_client_free(&b);
    return 0;
}
