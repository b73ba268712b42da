/* One streamed OpenAI response, client side: an incremental SSE parser (bytes in any split,
 * LF, CRLF or CR line ends, comments, multi-line data) feeding a chunk interpreter that counts
 * content chunks, reads the usage chunk and notices [DONE], server errors and malformed JSON.
 * Bad input is counted, never fatal: the load generator turns the counts into an error kind. */
#include "bench/sse_client.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rx_sse_client_init(rx_sse_client *c, rx_sse_on_content on_content, void *user)
{
    memset(c, 0, sizeof *c);
    c->on_content = on_content;
    c->user = user;
    c->prompt_tokens = c->completion_tokens = -1;
}

void rx_sse_client_free(rx_sse_client *c)
{
    free(c->line);
    free(c->data);
    c->line = c->data = NULL;
    c->line_cap = c->data_cap = c->line_len = c->data_len = 0;
}

void rx_sse_client_reset(rx_sse_client *c)
{
    char *line = c->line, *data = c->data;
    size_t line_cap = c->line_cap, data_cap = c->data_cap;
    rx_sse_client_init(c, c->on_content, c->user);
    c->line = line;
    c->data = data;
    c->line_cap = line_cap;
    c->data_cap = data_cap;
}

static void note(rx_sse_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(rx_sse_client *c, const char *fmt, ...)
{
    if (c->error[0]) return; /* the first problem is the one worth reading */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

static rx_status grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return RX_OK;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p) return rx_error(RX_ERR_NOMEM, "sse: cannot grow a buffer to %zu bytes", n);
    *buf = p;
    *cap = n;
    return RX_OK;
}

static const char *content_of(json_t *choice)
{
    const char *t = json_string_value(json_object_get(choice, "text"));
    if (t && t[0]) return t;
    json_t *delta = json_object_get(choice, "delta");
    t = json_string_value(json_object_get(delta, "content"));
    if (t && t[0]) return t;
    /* reasoning models stream their thinking first; vLLM counts it as output too */
    t = json_string_value(json_object_get(delta, "reasoning_content"));
    return t && t[0] ? t : NULL;
}

static void read_usage(rx_sse_client *c, json_t *usage)
{
    json_t *ct = json_object_get(usage, "completion_tokens");
    json_t *pt = json_object_get(usage, "prompt_tokens");
    if (!json_is_integer(ct)) return;
    c->usage_seen = true;
    c->completion_tokens = json_integer_value(ct);
    if (json_is_integer(pt)) c->prompt_tokens = json_integer_value(pt);
}

static void read_error(rx_sse_client *c, json_t *err)
{
    c->server_error = true;
    const char *msg = json_is_string(err) ? json_string_value(err)
                                          : json_string_value(json_object_get(err, "message"));
    note(c, "server error in stream: %s", msg ? msg : "(no message)");
}

/* One complete event's data (NUL-terminated at data[len]). */
static void handle_data(rx_sse_client *c, const char *data, size_t len)
{
    c->events++;
    if (c->done) {
        c->after_done = true;
        return;
    }
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        c->done = true;
        return;
    }
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    if (!json_is_object(j)) {
        c->malformed++;
        note(c, "malformed chunk (%s): %.60s", j ? "not an object" : jerr.text, data);
        json_decref(j);
        return;
    }
    json_t *err = json_object_get(j, "error");
    json_t *choices = json_object_get(j, "choices");
    json_t *usage = json_object_get(j, "usage");
    if (err && !json_is_null(err)) {
        read_error(c, err);
    } else if (!json_is_array(choices) && !json_is_object(usage)) {
        c->malformed++;
        note(c, "chunk has neither choices nor usage: %.60s", data);
    } else {
        if (json_is_object(usage)) read_usage(c, usage);
        if (json_array_size(choices) > 0 && content_of(json_array_get(choices, 0))) {
            c->content_chunks++;
            if (c->on_content) c->on_content(c->user);
        }
    }
    json_decref(j);
}

static void dispatch(rx_sse_client *c)
{
    c->drop_event = false;
    if (!c->has_data) return;
    c->data[c->data_len] = '\0'; /* room is kept by add_data */
    handle_data(c, c->data, c->data_len);
    c->has_data = false;
    c->data_len = 0;
}

static rx_status add_data(rx_sse_client *c, const char *v, size_t n)
{
    size_t sep = c->has_data ? 1 : 0;
    if (c->drop_event) return RX_OK;
    if (c->data_len + sep + n > RX_SSE_MAX_EVENT) {
        c->malformed++;
        note(c, "event data over %u bytes", RX_SSE_MAX_EVENT);
        c->has_data = false;
        c->drop_event = true;
        c->data_len = 0;
        return RX_OK;
    }
    rx_status s = grow(&c->data, &c->data_cap, c->data_len + sep + n + 1);
    if (s != RX_OK) return s;
    if (sep) c->data[c->data_len++] = '\n';
    memcpy(c->data + c->data_len, v, n);
    c->data_len += n;
    c->has_data = true;
    return RX_OK;
}

/* One line without its terminator. Fields other than data (event, id, retry) do not matter to
 * an OpenAI stream and are ignored, as are comments (":" lines, used as keep-alives). */
static rx_status handle_line(rx_sse_client *c, const char *line, size_t n)
{
    if (n == 0) {
        dispatch(c);
        return RX_OK;
    }
    if (line[0] == ':') return RX_OK;
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    if (name_len != 4 || memcmp(line, "data", 4) != 0) return RX_OK;
    const char *v = colon ? colon + 1 : line + n;
    size_t vn = (size_t)(line + n - v);
    if (vn && v[0] == ' ') v++, vn--;
    return add_data(c, v, vn);
}

rx_status rx_sse_client_feed(rx_sse_client *c, const char *ptr, size_t len)
{
    const char *p = ptr, *end = ptr + len;
    while (p < end) {
        if (c->skip_lf) {
            c->skip_lf = false;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        const char *q = p;
        while (q < end && *q != '\n' && *q != '\r')
            q++;
        size_t n = (size_t)(q - p);
        if (!c->overflow && c->line_len + n > RX_SSE_MAX_EVENT) {
            c->overflow = true; /* drop the rest of this line; it is reported once at its end */
            c->line_len = 0;
        }
        if (!c->overflow && n) {
            rx_status s = grow(&c->line, &c->line_cap, c->line_len + n);
            if (s != RX_OK) return s;
            memcpy(c->line + c->line_len, p, n);
            c->line_len += n;
        }
        if (q == end) break;
        c->skip_lf = *q == '\r';
        p = q + 1;
        if (c->overflow) { /* the event lost a line: drop all of it */
            c->overflow = false;
            c->malformed++;
            note(c, "line over %u bytes", RX_SSE_MAX_EVENT);
            c->drop_event = true;
            c->has_data = false;
            c->data_len = 0;
            continue;
        }
        rx_status s = handle_line(c, c->line, c->line_len);
        c->line_len = 0;
        if (s != RX_OK) return s;
    }
    return RX_OK;
}

void rx_sse_client_finish(rx_sse_client *c)
{
    /* SSE drops an event that the stream did not end with a blank line; a server that stops
     * mid-event has sent a broken stream, so it counts. */
    if (c->line_len || c->has_data || c->overflow || c->drop_event) {
        c->malformed++;
        note(c, "stream ended inside an event");
    }
    c->line_len = c->data_len = 0;
    c->has_data = c->overflow = c->skip_lf = c->drop_event = false;
}

rx_status rx_sse_request_body(rx_lg_endpoint ep, const char *model, const char *prompt,
                              int32_t max_tokens, char **out)
{
    *out = NULL;
    json_t *j = json_object();
    int bad = !j;
    if (!bad) {
        bad |= json_object_set_new(j, "model", json_string(model));
        if (ep == RX_LG_CHAT) {
            json_t *msg = json_pack("{s:s, s:s}", "role", "user", "content", prompt);
            bad |= json_object_set_new(j, "messages", json_pack("[o]", msg));
        } else {
            bad |= json_object_set_new(j, "prompt", json_string(prompt));
        }
        bad |= json_object_set_new(j, "max_tokens", json_integer(max_tokens));
        bad |= json_object_set_new(j, "temperature", json_real(0.0));
        bad |= json_object_set_new(j, "stream", json_true());
        bad |= json_object_set_new(j, "stream_options", json_pack("{s:b}", "include_usage", 1));
        /* every request must generate exactly max_tokens: llama-server and vLLM read
         * ignore_eos at the top level, reflex reads it among its extensions */
        bad |= json_object_set_new(j, "ignore_eos", json_true());
        bad |= json_object_set_new(j, "reflex", json_pack("{s:b}", "ignore_eos", 1));
    }
    char *s = bad ? NULL : json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) return rx_error(RX_ERR_NOMEM, "bench: cannot build a request body");
    *out = s;
    return RX_OK;
}
