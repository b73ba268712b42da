/* src/bench/sse_client.c: every stream is fed whole, split at every byte boundary, and one
 * byte at a time, and must give the same counts each way. Covers LF, CRLF and CR line ends,
 * comments, multi-line data, [DONE], the usage chunk, chat vs completion deltas, malformed
 * JSON and oversized events (counted, never a crash), and the request body. */
#include "rxtest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bench/sse_client.h"

typedef struct {
    int64_t content, events, malformed, prompt_tokens, completion_tokens;
    bool done, usage, server_error, after_done;
    int callbacks;
    char error[160];
} outcome;

static void count_cb(void *user)
{
    (*(int *)user)++;
}

static void snapshot(const rx_sse_client *c, int callbacks, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->content = c->content_chunks;
    o->events = c->events;
    o->malformed = c->malformed;
    o->prompt_tokens = c->prompt_tokens;
    o->completion_tokens = c->completion_tokens;
    o->done = c->done;
    o->usage = c->usage_seen;
    o->server_error = c->server_error;
    o->after_done = c->after_done;
    o->callbacks = callbacks;
    snprintf(o->error, sizeof o->error, "%s", c->error);
}

/* Feeds s in pieces cut at cuts[0..n_cuts) (ascending), then finishes. */
static void feed_cut(const char *s, size_t len, const size_t *cuts, int n_cuts, outcome *o)
{
    rx_sse_client c;
    int callbacks = 0;
    rx_sse_client_init(&c, count_cb, &callbacks);
    size_t at = 0;
    for (int i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        /* each piece in its own buffer, so ASan sees any read past it */
        char *piece = malloc(end - at + 1);
        memcpy(piece, s + at, end - at);
        assert_int_equal(rx_sse_client_feed(&c, piece, end - at), RX_OK);
        free(piece);
        at = end;
    }
    rx_sse_client_finish(&c);
    snapshot(&c, callbacks, o);
    rx_sse_client_free(&c);
}

static void assert_same(const outcome *a, const outcome *b)
{
    assert_int_equal(a->content, b->content);
    assert_int_equal(a->events, b->events);
    assert_int_equal(a->malformed, b->malformed);
    assert_int_equal(a->prompt_tokens, b->prompt_tokens);
    assert_int_equal(a->completion_tokens, b->completion_tokens);
    assert_int_equal(a->done, b->done);
    assert_int_equal(a->usage, b->usage);
    assert_int_equal(a->server_error, b->server_error);
    assert_int_equal(a->callbacks, b->callbacks);
    assert_string_equal(a->error, b->error);
}

/* Whole, every two-piece split, every three-piece split of short streams, byte by byte. */
static void parse_all_ways(const char *s, outcome *o)
{
    size_t len = strlen(s);
    feed_cut(s, len, NULL, 0, o);
    assert_int_equal(o->callbacks, o->content);
    outcome x;
    for (size_t i = 0; i <= len; i++) {
        feed_cut(s, len, &i, 1, &x);
        assert_same(o, &x);
    }
    if (len <= 200)
        for (size_t i = 0; i <= len; i++)
            for (size_t j = i; j <= len; j++) {
                size_t cuts[2] = {i, j};
                feed_cut(s, len, cuts, 2, &x);
                assert_same(o, &x);
            }
    size_t *all = malloc((len + 1) * sizeof *all);
    for (size_t i = 0; i < len; i++)
        all[i] = i + 1;
    feed_cut(s, len, all, len ? (int)len - 1 : 0, &x);
    assert_same(o, &x);
    free(all);
}

/* Replaces every "\n" in s by eol. */
static char *with_eol(const char *s, const char *eol)
{
    size_t n = strlen(s), k = strlen(eol);
    char *out = malloc(n * k + 1), *p = out;
    for (; *s; s++) {
        if (*s == '\n') {
            memcpy(p, eol, k);
            p += k;
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    return out;
}

static const char completion_stream[] =
    ": keep-alive\n"
    "data: {\"choices\":[{\"index\":0,\"text\":\" Once\"}]}\n\n"
    "event: message\n"
    "id: 2\n"
    "data: {\"choices\":[{\"index\":0,\"text\":\" upon\"}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"text\":\"\"}]}\n\n" /* empty: not a token */
    "data:{\"choices\":[{\"index\":0,\n"                    /* multi-line data, no space */
    "data: \"text\":\" a\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n"
    "data: [DONE]\n\n";

static void test_completion_every_split_and_eol(void **state)
{
    (void)state;
    const char *eols[] = {"\n", "\r\n", "\r"};
    for (int k = 0; k < 3; k++) {
        char *s = with_eol(completion_stream, eols[k]);
        outcome o;
        parse_all_ways(s, &o);
        assert_int_equal(o.content, 3);
        assert_int_equal(o.events, 6);
        assert_int_equal(o.malformed, 0);
        assert_true(o.done && o.usage);
        assert_int_equal(o.prompt_tokens, 7);
        assert_int_equal(o.completion_tokens, 3);
        assert_string_equal(o.error, "");
        free(s);
    }
}

static void test_chat_deltas(void **state)
{
    (void)state;
    outcome o;
    parse_all_ways("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
                   "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                   "data: {\"choices\":[{\"delta\":{\"content\":null}}]}\n\n"
                   "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\n"
                   "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
                   "data: [DONE]\n\n",
                   &o);
    assert_int_equal(o.content, 2);
    assert_int_equal(o.malformed, 0);
    assert_true(o.done);
    assert_false(o.usage);
    assert_int_equal(o.completion_tokens, -1);
}

static void test_malformed_counted(void **state)
{
    (void)state;
    outcome o;
    parse_all_ways("data: {not json\n\n"
                   "data: [1,2]\n\n"
                   "data: {\"id\":\"x\"}\n\n"
                   "data: {\"choices\":[{\"text\":\"ok\"}]}\n\n"
                   "data: [DONE]\n\n"
                   "data: {\"choices\":[{\"text\":\"late\"}]}\n\n",
                   &o);
    assert_int_equal(o.malformed, 3);
    assert_int_equal(o.content, 1);
    assert_true(o.done && o.after_done);
    assert_non_null(strstr(o.error, "malformed chunk"));

    parse_all_ways("data: {\"error\":{\"message\":\"engine died\",\"code\":500}}\n\n", &o);
    assert_true(o.server_error);
    assert_string_equal(o.error, "server error in stream: engine died");
    assert_int_equal(o.malformed, 0);

    /* a stream cut inside an event: the event is dropped, the cut is counted */
    parse_all_ways("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choi", &o);
    assert_int_equal(o.content, 1);
    assert_int_equal(o.malformed, 1);
    assert_string_equal(o.error, "stream ended inside an event");
    parse_all_ways("", &o);
    assert_int_equal(o.events + o.malformed + o.content, 0);
    parse_all_ways("\n\n\r\n:\n\n", &o); /* blank lines and comments only */
    assert_int_equal(o.events + o.malformed + o.content, 0);
    parse_all_ways("data\n\n", &o); /* a data field with no colon: empty data */
    assert_int_equal(o.events, 1);
    assert_int_equal(o.malformed, 1);
}

static void test_oversized_event(void **state)
{
    (void)state;
    size_t n = RX_SSE_MAX_EVENT + 100;
    char *s = malloc(n + 64);
    memcpy(s, "data: ", 6);
    memset(s + 6, 'x', n);
    strcpy(s + 6 + n, "\n\ndata: [DONE]\n\n");
    outcome o;
    feed_cut(s, strlen(s), NULL, 0, &o);
    assert_int_equal(o.malformed, 1);
    assert_true(o.done);
    /* many short data lines adding up past the limit */
    size_t lines = RX_SSE_MAX_EVENT / 3 + 10, len = 0; /* 3 bytes each: "xx" and '\n' */
    char *m = malloc(lines * 9 + 32);
    for (size_t i = 0; i < lines; i++, len += 9)
        memcpy(m + len, "data: xx\n", 9);
    strcpy(m + len, "\ndata: [DONE]\n\n");
    size_t cut = len / 2;
    feed_cut(m, strlen(m), &cut, 1, &o);
    assert_int_equal(o.malformed, 1); /* the rest of the event is dropped with it */
    assert_int_equal(o.events, 1);
    assert_true(o.done);
    assert_non_null(strstr(o.error, "over"));
    free(s);
    free(m);
}

static void test_reset_keeps_working(void **state)
{
    (void)state;
    rx_sse_client c;
    int calls = 0;
    rx_sse_client_init(&c, count_cb, &calls);
    const char *a = "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DO";
    assert_int_equal(rx_sse_client_feed(&c, a, strlen(a)), RX_OK);
    rx_sse_client_reset(&c); /* next response on the same connection */
    const char *b = "data: {\"choices\":[{\"text\":\"b\"}]}\n\ndata: [DONE]\n\n";
    assert_int_equal(rx_sse_client_feed(&c, b, strlen(b)), RX_OK);
    rx_sse_client_finish(&c);
    assert_int_equal(c.content_chunks, 1);
    assert_true(c.done);
    assert_int_equal(c.malformed, 0);
    assert_int_equal(calls, 2);
    rx_sse_client_free(&c);
    rx_sse_client_free(&c); /* twice is harmless */
}

static void test_request_body(void **state)
{
    (void)state;
    char *body;
    assert_int_equal(rx_sse_request_body(RX_LG_COMPLETIONS, "m1", "say \"hi\"", 16, &body), RX_OK);
    json_t *j = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "m1");
    assert_string_equal(json_string_value(json_object_get(j, "prompt")), "say \"hi\"");
    assert_int_equal(json_integer_value(json_object_get(j, "max_tokens")), 16);
    assert_true(json_is_true(json_object_get(j, "stream")));
    assert_true(
        json_is_true(json_object_get(json_object_get(j, "stream_options"), "include_usage")));
    assert_true(json_is_true(json_object_get(j, "ignore_eos")));
    assert_true(json_is_true(json_object_get(json_object_get(j, "reflex"), "ignore_eos")));
    assert_float_equal(json_number_value(json_object_get(j, "temperature")), 0.0, 0);
    assert_null(json_object_get(j, "messages"));
    json_decref(j);
    free(body);
    assert_int_equal(rx_sse_request_body(RX_LG_CHAT, "m2", "hello", 4, &body), RX_OK);
    j = json_loads(body, 0, NULL);
    json_t *msg = json_array_get(json_object_get(j, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(msg, "role")), "user");
    assert_string_equal(json_string_value(json_object_get(msg, "content")), "hello");
    assert_null(json_object_get(j, "prompt"));
    json_decref(j);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_every_split_and_eol),
        cmocka_unit_test(test_chat_deltas),
        cmocka_unit_test(test_malformed_counted),
        cmocka_unit_test(test_oversized_event),
        cmocka_unit_test(test_reset_keeps_working),
        cmocka_unit_test(test_request_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
