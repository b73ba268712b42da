/* The client side of one OpenAI streaming request: builds the JSON body, and turns the response
 * bytes, fed in whatever pieces the network delivers, into SSE events and then into what the
 * load generator counts (content chunks, usage, [DONE], errors). Private to src/bench. */
#ifndef RX_BENCH_SSE_CLIENT_H
#define RX_BENCH_SSE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/loadgen.h"

/* An event's data may not exceed this (a completion chunk is a few hundred bytes). */
#define RX_SSE_MAX_EVENT (1u << 20)

/* Called for every non-empty content chunk, the moment its event is complete. */
typedef void (*rx_sse_on_content)(void *user);

typedef struct {
    /* --- parser state --- */
    char *line; /* the line being read (owned); its bytes are not yet terminated */
    size_t line_len, line_cap;
    char *data; /* data lines of the event being read, joined with '\n' (owned) */
    size_t data_len, data_cap;
    bool has_data;   /* a data: field was seen in this event */
    bool skip_lf;    /* the last line ended in CR: an LF right after it belongs to it */
    bool overflow;   /* the current line passed RX_SSE_MAX_EVENT; dropped */
    bool drop_event; /* the current event's data passed it; dropped up to the blank line */
    rx_sse_on_content on_content;
    void *user;
    /* --- what the stream said --- */
    int64_t events, content_chunks, malformed;
    bool done;       /* data: [DONE] */
    bool after_done; /* an event came after [DONE] */
    bool usage_seen;
    int64_t prompt_tokens, completion_tokens; /* from usage; -1 until seen */
    bool server_error;                        /* an {"error": ...} object arrived in the stream */
    char error[160]; /* the first problem: server message or what was malformed */
} rx_sse_client;

void rx_sse_client_init(rx_sse_client *c, rx_sse_on_content on_content, void *user);
/* Frees the buffers; the counters stay readable. */
void rx_sse_client_free(rx_sse_client *c);
/* Resets for the next response on the same client, keeping the buffers. */
void rx_sse_client_reset(rx_sse_client *c);

/* Feeds len bytes of the response body. Never fails: bad input is counted in malformed (and
 * described in error). RX_ERR_NOMEM only when a buffer cannot grow. */
rx_status rx_sse_client_feed(rx_sse_client *c, const char *ptr, size_t len);
/* End of body: an unterminated last event is dispatched as SSE says it must not be (dropped),
 * but noted as malformed if it carried data. */
void rx_sse_client_finish(rx_sse_client *c);

/* The JSON body of one request, malloc'd, NUL-terminated. */
rx_status rx_sse_request_body(rx_lg_endpoint ep, const char *model, const char *prompt,
                              int32_t max_tokens, char **out);

#endif
