/* net/http server over plain HTTP, driven with raw sockets on 127.0.0.1: echo of GET/POST,
 * keep-alive, limits (header, body, connections), per-phase deadlines against slow clients,
 * malformed input, chunked streaming, the request lifetime when a client leaves mid-stream or
 * while its request is pending, tasks and stop from other threads, timers and signals.
 * The request framing (net/http_parse.c, on http-parser) has its own fuzz target,
 * fuzz/fuzz_http_request.c. */
#include "rxtest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "http_testlib.h"

/* --- the handler under test and what it records --- */

typedef struct {
    tl_server srv;
    rx_http_req *held; /* /hold and /pending: the request the test finishes later */
    bool held_streaming;
    atomic_int closed_fired;   /* on_close ran */
    atomic_int alive_in_close; /* rx_http_alive as seen from on_close */
    atomic_int finished;       /* the held request was finished */
    pthread_t loop_thread;     /* recorded by the handler */
    atomic_int n_posted;
    atomic_int post_order_ok;
    atomic_int post_on_loop;
    atomic_int timer_fired;
    atomic_int signal_fired;
    atomic_int streams_open; /* /stream handlers not yet ended */
    atomic_int held_set;     /* held was set (held itself is read on the loop thread) */
} fixture;

typedef struct {
    fixture *f;
    rx_http_req *req;
    int i, n;
} streamer;

static void stream_next(void *arg)
{
    streamer *st = arg;
    char line[32];
    int n = snprintf(line, sizeof line, "data: %d\n\n", st->i);
    rx_http_stream_write(st->req, line, (size_t)n);
    if (++st->i < st->n) {
        rx_http_timer(st->f->srv.s, 40, stream_next, st);
    } else {
        rx_http_stream_end(st->req);
        atomic_fetch_sub(&st->f->streams_open, 1);
        free(st);
    }
}

static void on_held_close(void *arg)
{
    fixture *f = arg;
    atomic_store(&f->alive_in_close, rx_http_alive(f->held) ? 1 : 0);
    atomic_store(&f->closed_fired, 1);
}

static void echo(rx_http_req *r, fixture *f)
{
    size_t len;
    const char *body = rx_http_body(r, &len);
    rx_http_add_header(r, "X-Method", rx_http_method(r));
    rx_http_add_header(r, "X-Path", rx_http_path(r));
    if (rx_http_query(r)) rx_http_add_header(r, "X-Query", rx_http_query(r));
    const char *t = rx_http_header(r, "x-test");
    if (t) rx_http_add_header(r, "X-Test-Seen", t);
    rx_http_add_header(r, "X-Peer-Local", strncmp(rx_http_peer(r), "127.0.0.1:", 10) ? "0" : "1");
    rx_http_add_header(r, "X-Alive", rx_http_alive(r) ? "1" : "0");
    (void)f;
    rx_http_respond(r, 200, "text/plain", body, len);
}

static void handler(rx_http_req *r, void *user)
{
    fixture *f = user;
    f->loop_thread = pthread_self();
    const char *path = rx_http_path(r);
    if (strncmp(path, "/echo", 5) == 0) {
        echo(r, f);
    } else if (strcmp(path, "/stream") == 0) {
        streamer *st = calloc(1, sizeof *st);
        st->f = f;
        st->req = r;
        st->n = rx_http_query(r) ? atoi(rx_http_query(r) + 2) : 3; /* "n=5" */
        atomic_fetch_add(&f->streams_open, 1);
        rx_http_stream_start(r, 200, "text/event-stream");
        stream_next(st);
    } else if (strcmp(path, "/hold") == 0 || strncmp(path, "/pending", 8) == 0) {
        f->held = r;
        f->held_streaming = path[1] == 'h';
        atomic_store(&f->held_set, 1);
        if (strcmp(path, "/pending-quiet") != 0) rx_http_on_close(r, on_held_close, f);
        if (f->held_streaming) {
            rx_http_stream_start(r, 200, "text/event-stream");
            rx_http_stream_write(r, "data: hello\n\n", 13);
        }
    } else {
        rx_http_respond(r, 404, "text/plain", "no\n", 3);
    }
}

static fixture *start(const rx_http_config *cfg)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(tl_start(&f->srv, cfg, handler, f), RX_OK);
    assert_true(rx_http_server_port(f->srv.s) > 0);
    return f;
}

static fixture *start_default(void)
{
    rx_http_config cfg = {0};
    return start(&cfg);
}

static void stop(fixture *f)
{
    tl_stop(&f->srv);
    assert_int_equal(f->srv.run_status, RX_OK);
    free(f);
}

static int port_of(fixture *f)
{
    return rx_http_server_port(f->srv.s);
}

/* One GET on a fresh connection; the status or 0. */
static int get_once(fixture *f, const char *path)
{
    tl_conn *c = tl_open(port_of(f));
    if (!c) return 0;
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    tl_resp r;
    int st = tl_request(c, req, &r);
    tl_close(c);
    return st;
}

/* --- tests --- */

static void test_get_post_echo(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f));
    assert_non_null(c);
    tl_resp r;
    char v[128];
    assert_int_equal(
        tl_request(c, "GET /echo?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nX-Test: abc\r\n\r\n", &r), 200);
    assert_string_equal(tl_header(&r, "X-Method", v, sizeof v), "GET");
    assert_string_equal(tl_header(&r, "X-Path", v, sizeof v), "/echo");
    assert_string_equal(tl_header(&r, "X-Query", v, sizeof v), "x=1&y=%20");
    assert_string_equal(tl_header(&r, "X-Test-Seen", v, sizeof v), "abc");
    assert_string_equal(tl_header(&r, "X-Peer-Local", v, sizeof v), "1");
    assert_string_equal(tl_header(&r, "X-Alive", v, sizeof v), "1");
    assert_int_equal(r.body_len, 0);

    assert_int_equal(tl_request(c,
                                "POST /echo%20me HTTP/1.1\r\nHost: t\r\n"
                                "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
                                &r),
                     200);
    assert_string_equal(tl_header(&r, "X-Method", v, sizeof v), "POST");
    assert_string_equal(tl_header(&r, "X-Path", v, sizeof v), "/echo me");
    assert_null(tl_header(&r, "X-Query", v, sizeof v));
    assert_string_equal(tl_header(&r, "Content-Type", v, sizeof v), "text/plain");
    assert_string_equal(r.body, "hello world");

    /* a chunked request body is reassembled */
    assert_int_equal(
        tl_request(c,
                   "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                   &r),
        200);
    assert_string_equal(r.body, "hello world");
    /* Expect: 100-continue gets its interim answer before the body is sent */
    assert_int_equal(tl_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                                 "Content-Length: 4\r\n\r\n"),
                     0);
    assert_int_equal(tl_read(c, &r), 0);
    assert_int_equal(r.status, 100);
    assert_int_equal(tl_request(c, "body", &r), 200);
    assert_string_equal(r.body, "body");
    assert_int_equal(tl_request(c, "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n", &r), 404);
    tl_close(c);
    stop(f);
}

static bool conns_are(void *arg)
{
    void **a = arg;
    return rx_http_server_n_connections(a[0]) == *(int *)a[1];
}

static bool wait_conns(fixture *f, int n)
{
    void *a[2] = {f->srv.s, &n};
    return tl_wait(conns_are, a, 2000);
}

static void test_keep_alive(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f));
    tl_resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tl_request(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
        assert_int_equal(
            tl_request(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", &r),
            200);
        assert_string_equal(r.body, "abc");
    }
    assert_int_equal(rx_http_server_n_connections(f->srv.s), 1);
    /* two pipelined requests in one write are both answered, in order */
    assert_int_equal(tl_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nA"
                                 "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nB"),
                     0);
    assert_int_equal(tl_read(c, &r), 0);
    assert_string_equal(r.body, "A");
    assert_int_equal(tl_read(c, &r), 0);
    assert_string_equal(r.body, "B");
    tl_close(c);
    assert_true(wait_conns(f, 0));
    stop(f);
}

/* A burst of connections accepted in one go is adopted, served and counted down again. */
static void test_many_connections(void **state)
{
    (void)state;
    fixture *f = start_default();
    enum { N = 64 };
    tl_conn *c[N];
    for (int i = 0; i < N; i++)
        assert_non_null(c[i] = tl_open(port_of(f)));
    for (int i = 0; i < N; i++)
        assert_int_equal(tl_sends(c[i], "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    for (int i = 0; i < N; i++) {
        tl_resp r;
        /* HEAD: headers only, whatever Content-Length says */
        double t0 = tl_now_ms();
        while (!memmem(c[i]->buf, c[i]->len, "\r\n\r\n", 4))
            assert_true(tl_fill(c[i]) > 0);
        assert_true(tl_now_ms() - t0 < 2000);
        assert_int_equal(sscanf(c[i]->buf, "HTTP/1.1 %d", &r.status), 1);
        assert_int_equal(r.status, 200);
    }
    assert_int_equal(rx_http_server_n_connections(f->srv.s), N);
    for (int i = 0; i < N; i++)
        tl_close(c[i]);
    assert_true(wait_conns(f, 0));
    stop(f);
}

static void test_oversize_header(void **state)
{
    (void)state;
    rx_http_config cfg = {.max_header_bytes = 1024};
    fixture *f = start(&cfg);
    tl_conn *c = tl_open(port_of(f));
    char big[4096 + 128];
    char pad[4001];
    memset(pad, 'a', 4000);
    pad[4000] = 0;
    snprintf(big, sizeof big, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
    tl_resp r;
    int st = tl_request(c, big, &r);
    assert_int_equal(st, 431);
    assert_int_equal(tl_wait_closed(c), 1);
    tl_close(c);
    /* an over-long request line is refused the same way */
    c = tl_open(port_of(f));
    char line[3000] = "GET /";
    memset(line + 5, 'b', 2500);
    strcpy(line + 2505, " HTTP/1.1\r\nHost: t\r\n\r\n");
    st = tl_request(c, line, &r);
    assert_true(st == 0 || (st >= 400 && st < 500));
    tl_close(c);
    assert_int_equal(get_once(f, "/echo"), 200);
    stop(f);
}

static void test_oversize_body(void **state)
{
    (void)state;
    rx_http_config cfg = {.max_body_bytes = 1024};
    fixture *f = start(&cfg);
    char req[4096 + 256];
    int n =
        snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n");
    memset(req + n, 'z', 4096);
    req[n + 4096] = 0;
    tl_conn *c = tl_open(port_of(f));
    tl_resp r;
    assert_int_equal(tl_request(c, req, &r), 413);
    tl_close(c);
    /* chunked bodies are counted too */
    c = tl_open(port_of(f));
    char chunked[2048 + 256];
    n = snprintf(chunked, sizeof chunked,
                 "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n");
    memset(chunked + n, 'y', 2048);
    strcpy(chunked + n + 2048, "\r\n0\r\n\r\n");
    int st = tl_request(c, chunked, &r);
    assert_true(st == 413 || st == 400);
    tl_close(c);
    /* exactly at the limit is fine */
    c = tl_open(port_of(f));
    n = snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n");
    memset(req + n, 'x', 1024);
    req[n + 1024] = 0;
    assert_int_equal(tl_request(c, req, &r), 200);
    assert_int_equal(r.body_len, 1024);
    tl_close(c);
    stop(f);
}

/* The slow connection is dropped after its deadline, and nobody else waits for it. */
static void expect_dropped(fixture *f, tl_conn *slow, double t0, int min_ms, int max_ms)
{
    double g0 = tl_now_ms();
    assert_int_equal(get_once(f, "/echo"), 200);
    assert_true(tl_now_ms() - g0 < 250);
    assert_int_equal(tl_wait_closed(slow), 1);
    double took = tl_now_ms() - t0;
    if (took < min_ms || took > max_ms)
        fail_msg("dropped after %.0f ms, want %d..%d", took, min_ms, max_ms);
}

static void test_slow_header(void **state)
{
    (void)state;
    rx_http_config cfg = {.header_timeout_ms = 300};
    fixture *f = start(&cfg);
    tl_conn *slow = tl_open(port_of(f));
    double t0 = tl_now_ms();
    assert_int_equal(tl_sends(slow, "GET /echo HTTP/1.1\r\nHost: t\r\n"), 0);
    expect_dropped(f, slow, t0, 250, 1500);
    tl_close(slow);

    /* trickling a byte every 50 ms does not extend the deadline (evhttp's own timeout would) */
    slow = tl_open(port_of(f));
    t0 = tl_now_ms();
    const char *req = "GET /echo HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int dropped_at = -1;
    for (int i = 0; req[i]; i++) {
        if (tl_send(slow, req + i, 1) != 0) {
            dropped_at = i;
            break;
        }
        tl_sleep_ms(50);
    }
    double took = tl_now_ms() - t0;
    if (dropped_at < 0 || took > 1500) fail_msg("trickler not dropped (%.0f ms)", took);
    tl_close(slow);

    /* a fresh connection that sends nothing is dropped too */
    slow = tl_open(port_of(f));
    t0 = tl_now_ms();
    expect_dropped(f, slow, t0, 250, 1500);
    tl_close(slow);
    stop(f);
}

static void test_slow_body(void **state)
{
    (void)state;
    rx_http_config cfg = {.body_timeout_ms = 300};
    fixture *f = start(&cfg);
    tl_conn *slow = tl_open(port_of(f));
    double t0 = tl_now_ms();
    assert_int_equal(
        tl_sends(slow, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789"),
        0);
    expect_dropped(f, slow, t0, 250, 1500);
    tl_close(slow);
    stop(f);
}

static void test_idle_keep_alive(void **state)
{
    (void)state;
    rx_http_config cfg = {.idle_timeout_ms = 300};
    fixture *f = start(&cfg);
    tl_conn *c = tl_open(port_of(f));
    tl_resp r;
    assert_int_equal(tl_request(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    double t0 = tl_now_ms();
    expect_dropped(f, c, t0, 250, 1500);
    tl_close(c);
    assert_true(wait_conns(f, 0));
    stop(f);
}

static void test_malformed(void **state)
{
    (void)state;
    fixture *f = start_default();
    const struct {
        const char *req;
        int want;
    } bad[] = {
        {"this is not http\r\n\r\n", 400},
        {"GET /echo HTTP/9.9\r\nHost: t\r\n\r\n", 505},
        {"GET /echo HTTP/1.1\r\nNoColonHere\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n", 400},
        {"GET /%00/x HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"BREW /echo HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n", 501},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tl_conn *c = tl_open(port_of(f));
        tl_resp r;
        int st = tl_request(c, bad[i].req, &r);
        if (st != bad[i].want) fail_msg("request %zu: status %d, want %d", i, st, bad[i].want);
        /* every refusal carries an OpenAI-style JSON error body */
        if (!strstr(r.body, "\"error\"")) fail_msg("request %zu: body %s", i, r.body);
        tl_close(c);
    }
    /* a NUL byte inside a header value would cut it short unseen: refused */
    static const char nul[] = "GET /echo HTTP/1.1\r\nHost: t\r\nX-Test: a\0b\r\n\r\n";
    tl_conn *c = tl_open(port_of(f));
    tl_resp r;
    assert_int_equal(tl_send(c, nul, sizeof nul - 1), 0);
    assert_int_equal(tl_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    tl_close(c);
    assert_int_equal(get_once(f, "/echo"), 200);
    stop(f);
}

static void test_stream(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f));
    tl_resp r;
    assert_int_equal(tl_request(c, "GET /stream?n=6 HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    char v[64];
    assert_string_equal(tl_header(&r, "Transfer-Encoding", v, sizeof v), "chunked");
    assert_string_equal(tl_header(&r, "Content-Type", v, sizeof v), "text/event-stream");
    assert_int_equal(r.n_chunks, 6);
    assert_string_equal(r.body,
                        "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n");
    /* the first chunk went out at once, not with the rest 200 ms later */
    if (r.done_ms - r.first_chunk_ms < 120)
        fail_msg("first chunk at %.0f ms, end at %.0f ms", r.first_chunk_ms, r.done_ms);
    /* the connection is reusable after a chunked response */
    assert_int_equal(tl_request(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    /* an HTTP/1.0 client gets the stream unchunked, ended by close */
    tl_close(c);
    c = tl_open(port_of(f));
    assert_int_equal(tl_request(c, "GET /stream?n=2 HTTP/1.0\r\n\r\n", &r), 200);
    assert_string_equal(r.body, "data: 0\n\ndata: 1\n\n");
    tl_close(c);
    /* ... also when it asked for keep-alive (evhttp alone would say Content-Length: 0) */
    c = tl_open(port_of(f));
    assert_int_equal(
        tl_request(c, "GET /stream?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r), 200);
    assert_null(tl_header(&r, "Content-Length", v, sizeof v));
    assert_string_equal(r.body, "data: 0\n\ndata: 1\n\n");
    tl_close(c);
    stop(f);
}

static bool streams_done(void *arg)
{
    return atomic_load(&((fixture *)arg)->streams_open) == 0;
}

/* Many clients leave streams at different points (before the first chunk, after some, after
 * the end); the handlers go on writing to dead requests and end them; nothing leaks. */
static void test_stream_chaos(void **state)
{
    (void)state;
    fixture *f = start_default();
    enum { N = 24 };
    tl_conn *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = tl_open(port_of(f));
        assert_non_null(c[i]);
        assert_int_equal(tl_sends(c[i], "GET /stream?n=8 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    }
    for (int i = 0; i < N; i++) {
        int want = i % 4 == 3 ? 8 : i % 4; /* data chunks to see before leaving */
        int seen = 0;
        while (seen < want) {
            const char *p = c[i]->buf;
            seen = 0;
            while ((p = memmem(p, c[i]->len - (size_t)(p - c[i]->buf), "data:", 5))) {
                seen++;
                p += 5;
            }
            if (seen < want) assert_true(tl_fill(c[i]) > 0);
        }
        tl_close(c[i]);
    }
    assert_true(tl_wait(streams_done, f, 3000));
    assert_true(wait_conns(f, 0));
    assert_int_equal(get_once(f, "/echo"), 200);
    stop(f);
}

static bool flag_set(void *arg)
{
    return atomic_load((atomic_int *)arg) != 0;
}

static void finish_held(void *arg)
{
    fixture *f = arg;
    rx_http_req *r = f->held;
    f->held = NULL;
    assert_false(rx_http_alive(r));
    rx_http_add_header(r, "X-Ignored", "1");
    if (f->held_streaming) {
        rx_http_stream_write(r, "data: late\n\n", 12); /* ignored */
        rx_http_stream_end(r);
    } else {
        rx_http_respond(r, 200, "text/plain", "late", 4);
    }
    atomic_store(&f->finished, 1);
}

static void client_leaves(const char *path, bool read_first_chunk)
{
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f));
    char req[128];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    assert_int_equal(tl_sends(c, req), 0);
    if (read_first_chunk) {
        while (!memmem(c->buf, c->len, "hello", 5))
            assert_true(tl_fill(c) > 0);
    } else {
        tl_sleep_ms(50); /* let the handler take the request */
    }
    tl_close(c);
    assert_true(tl_wait(flag_set, &f->closed_fired, 3000));
    assert_int_equal(atomic_load(&f->alive_in_close), 0);
    assert_int_equal(rx_http_post(f->srv.s, finish_held, f), RX_OK);
    assert_true(tl_wait(flag_set, &f->finished, 3000));
    assert_true(wait_conns(f, 0));
    assert_int_equal(get_once(f, "/echo"), 200);
    stop(f);
}

static void test_disconnect_mid_stream(void **state)
{
    (void)state;
    client_leaves("/hold", true);
}

static void test_disconnect_while_pending(void **state)
{
    (void)state;
    client_leaves("/pending", false);
}

static void respond_held(void *arg)
{
    fixture *f = arg;
    rx_http_req *r = f->held;
    f->held = NULL;
    assert_true(rx_http_alive(r));
    rx_http_respond(r, 201, "text/plain", "done", 4);
    atomic_store(&f->finished, 1);
}

/* A request pipelined behind one the owner still holds waits its turn, and the close watcher
 * does not take the unread bytes for a close. */
static void test_pipelined_behind_held(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f));
    assert_int_equal(tl_sends(c, "GET /pending HTTP/1.1\r\nHost: t\r\n\r\n"
                                 "GET /echo?second HTTP/1.1\r\nHost: t\r\n\r\n"),
                     0);
    tl_sleep_ms(500); /* more than one poll interval of the close watcher */
    assert_int_equal(atomic_load(&f->closed_fired), 0);
    assert_int_equal(rx_http_post(f->srv.s, respond_held, f), RX_OK);
    tl_resp r;
    char v[32];
    assert_int_equal(tl_read(c, &r), 0);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "done");
    assert_int_equal(tl_read(c, &r), 0);
    assert_string_equal(tl_header(&r, "X-Query", v, sizeof v), "second");
    tl_close(c);
    stop(f);
}

static void register_late(void *arg)
{
    fixture *f = arg;
    assert_false(rx_http_alive(f->held));
    rx_http_on_close(f->held, on_held_close, f);
    assert_int_equal(atomic_load(&f->closed_fired), 0); /* not from inside the call */
}

/* on_close set after the client has already gone still runs (on a later loop turn). */
static void test_on_close_after_close(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f));
    assert_int_equal(tl_sends(c, "GET /pending-quiet HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    assert_true(wait_conns(f, 1));
    tl_sleep_ms(50);
    tl_close(c);
    assert_true(wait_conns(f, 0));
    assert_int_equal(rx_http_post(f->srv.s, register_late, f), RX_OK);
    assert_true(tl_wait(flag_set, &f->closed_fired, 2000));
    assert_int_equal(rx_http_post(f->srv.s, finish_held, f), RX_OK);
    assert_true(tl_wait(flag_set, &f->finished, 2000));
    stop(f);
}

/* A request still held when the server stops: on_close fires, and it can be finished later. */
static void test_stop_with_held_request(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f));
    assert_int_equal(tl_sends(c, "GET /pending HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    double end = tl_now_ms() + 2000;
    while (!atomic_load(&f->held_set)) {
        assert_true(tl_now_ms() < end);
        tl_sleep_ms(5);
    }
    rx_http_server_stop(f->srv.s);
    pthread_join(f->srv.thread, NULL);
    assert_int_equal(atomic_load(&f->closed_fired), 1);
    assert_int_equal(tl_wait_closed(c), 1);
    finish_held(f); /* the loop has stopped: this thread may finish it now */
    rx_http_server_free(f->srv.s);
    tl_close(c);
    free(f);
}

typedef struct {
    fixture *f;
    int seq;
} post_arg;

static atomic_int next_seq;

static void posted(void *arg)
{
    post_arg *a = arg;
    if (pthread_equal(pthread_self(), a->f->loop_thread)) atomic_fetch_add(&a->f->post_on_loop, 1);
    if (atomic_fetch_add(&next_seq, 1) != a->seq) atomic_store(&a->f->post_order_ok, 0);
    atomic_fetch_add(&a->f->n_posted, 1);
    free(a);
}

static void *poster(void *arg)
{
    fixture *f = arg;
    for (int i = 0; i < 200; i++) {
        post_arg *a = malloc(sizeof *a);
        a->f = f;
        a->seq = i;
        assert_int_equal(rx_http_post(f->srv.s, posted, a), RX_OK);
        if (i % 50 == 0) tl_sleep_ms(2);
    }
    return NULL;
}

static bool all_posted(void *arg)
{
    return atomic_load(&((fixture *)arg)->n_posted) == 200;
}

static void test_post_from_thread(void **state)
{
    (void)state;
    fixture *f = start_default();
    assert_int_equal(get_once(f, "/echo"), 200); /* records the loop thread */
    atomic_store(&next_seq, 0);
    atomic_store(&f->post_order_ok, 1);
    pthread_t th;
    pthread_create(&th, NULL, poster, f);
    pthread_join(th, NULL);
    assert_true(tl_wait(all_posted, f, 3000));
    assert_int_equal(atomic_load(&f->post_on_loop), 200);
    assert_int_equal(atomic_load(&f->post_order_ok), 1);
    stop(f);
}

static void *stopper(void *arg)
{
    tl_sleep_ms(50);
    rx_http_server_stop(arg);
    return NULL;
}

static void test_stop_from_thread(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *c = tl_open(port_of(f)); /* an open keep-alive connection does not delay stop */
    tl_resp r;
    assert_int_equal(tl_request(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    pthread_t th;
    double t0 = tl_now_ms();
    pthread_create(&th, NULL, stopper, f->srv.s);
    pthread_join(f->srv.thread, NULL);
    pthread_join(th, NULL);
    assert_true(tl_now_ms() - t0 < 1000);
    assert_int_equal(f->srv.run_status, RX_OK);
    assert_int_equal(tl_wait_closed(c), 1);
    tl_close(c);
    rx_http_server_free(f->srv.s);
    free(f);

    /* stop before run: run returns at once */
    rx_http_config cfg = {0};
    rx_http_server *s;
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_OK);
    rx_http_server_stop(s);
    assert_int_equal(rx_http_server_run(s), RX_OK);
    rx_http_server_free(s);
}

static void test_stop_accepting(void **state)
{
    (void)state;
    fixture *f = start_default();
    int port = port_of(f);
    tl_conn *c = tl_open(port);
    tl_resp r;
    assert_int_equal(tl_request(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    rx_http_server_stop_accepting(f->srv.s);
    double end = tl_now_ms() + 2000;
    int fd;
    while ((fd = tl_dial(port)) >= 0) {
        close(fd);
        assert_true(tl_now_ms() < end);
        tl_sleep_ms(10);
    }
    /* refused, or reset when the dial raced the listener's close with a queued handshake */
    assert_true(errno == ECONNREFUSED || errno == ECONNRESET);
    /* the open keep-alive connection is still served, and told to close after */
    assert_int_equal(tl_request(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    char v[32];
    assert_string_equal(tl_header(&r, "Connection", v, sizeof v), "close");
    assert_int_equal(tl_wait_closed(c), 1);
    assert_true(wait_conns(f, 0));
    tl_close(c);
    stop(f);
}

static void test_max_connections(void **state)
{
    (void)state;
    rx_http_config cfg = {.max_connections = 2};
    fixture *f = start(&cfg);
    tl_conn *a = tl_open(port_of(f)), *b = tl_open(port_of(f));
    tl_resp r;
    assert_int_equal(tl_request(a, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    assert_int_equal(tl_request(b, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    tl_conn *over = tl_open(port_of(f));
    assert_non_null(over);
    double t0 = tl_now_ms();
    tl_sends(over, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(tl_wait_closed(over), 1);
    assert_true(tl_now_ms() - t0 < 1000);
    tl_close(over);
    assert_int_equal(rx_http_server_n_connections(f->srv.s), 2);
    tl_close(a);
    assert_true(wait_conns(f, 1));
    tl_conn *d = tl_open(port_of(f));
    assert_int_equal(tl_request(d, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    assert_int_equal(tl_request(b, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    tl_close(b);
    tl_close(d);
    stop(f);
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Out of file descriptors, accept() fails while the listening socket stays readable: the
 * server must pause accepting rather than spin, and resume once descriptors are back. */
static void test_accept_out_of_fds(void **state)
{
    (void)state;
    fixture *f = start_default();
    tl_conn *a = tl_open(port_of(f));
    tl_resp r;
    assert_int_equal(tl_request(a, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    int b = socket(AF_INET, SOCK_STREAM, 0); /* the client's descriptor, made while we can */
    assert_true(b >= 0);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = open("/dev/null", O_RDONLY); /* the number the server's next accept gets */
    assert_true(lowest >= 0);
    close(lowest);
    struct rlimit low = {(rlim_t)lowest, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port_of(f))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(b, (struct sockaddr *)&sa, sizeof sa), 0); /* the kernel queues it */
    const char *req = "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(send(b, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    double cpu0 = cpu_ms();
    tl_sleep_ms(400);
    double spent = cpu_ms() - cpu0;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (spent > 200) fail_msg("the loop spun on accept: %.0f ms of CPU in 400 ms", spent);

    tl_conn *bc = calloc(1, sizeof *bc);
    bc->fd = b;
    struct timeval tv = {3, 0};
    setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(tl_read(bc, &r), 0); /* served once the limit is back (1 s tick) */
    assert_int_equal(r.status, 200);
    tl_close(bc);
    tl_close(a);
    stop(f);
}

static void timer_fired(void *arg)
{
    atomic_store(&((fixture *)arg)->timer_fired, 1);
}

static void signal_fired(void *arg)
{
    atomic_fetch_add(&((fixture *)arg)->signal_fired, 1);
}

static void arm_timer_and_signal(void *arg)
{
    fixture *f = arg;
    assert_int_equal(rx_http_timer(f->srv.s, 30, timer_fired, f), RX_OK);
    assert_int_equal(rx_http_timer(f->srv.s, 60000, timer_fired, f), RX_OK); /* freed unfired */
    assert_int_equal(rx_http_on_signal(f->srv.s, SIGUSR1, signal_fired, f), RX_OK);
    atomic_store(&f->finished, 1);
}

static void test_timer_and_signal(void **state)
{
    (void)state;
    fixture *f = start_default();
    assert_int_equal(rx_http_post(f->srv.s, arm_timer_and_signal, f), RX_OK);
    assert_true(tl_wait(flag_set, &f->finished, 2000));
    assert_true(tl_wait(flag_set, &f->timer_fired, 2000));
    kill(getpid(), SIGUSR1);
    assert_true(tl_wait(flag_set, &f->signal_fired, 2000));
    stop(f);
}

static void test_bad_config(void **state)
{
    (void)state;
    rx_http_server *s = (rx_http_server *)1;
    rx_http_config cfg = {.port = 70000};
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_ERR_INVALID_ARG);
    assert_null(s);
    cfg = (rx_http_config){.tls_cert = "x.pem"};
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_ERR_INVALID_ARG);
    cfg = (rx_http_config){.idle_timeout_ms = -1};
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_ERR_INVALID_ARG);
    cfg = (rx_http_config){.tls_cert = "/nonexistent/cert.pem", .tls_key = "/nonexistent/key.pem"};
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_ERR_FORMAT);
    assert_non_null(strstr(rx_last_error(), "/nonexistent/cert.pem"));
    cfg = (rx_http_config){.host = "256.1.1.1"};
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_ERR_IO);
    assert_non_null(strstr(rx_last_error(), "256.1.1.1"));
    /* a port already taken */
    fixture *f = start_default();
    cfg = (rx_http_config){.port = port_of(f)};
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_ERR_IO);
    stop(f);
    rx_http_server_free(NULL);
}

int main(void)
{
    alarm(120); /* a hang fails the run instead of stalling ctest */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_post_echo),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_oversize_header),
        cmocka_unit_test(test_oversize_body),
        cmocka_unit_test(test_slow_header),
        cmocka_unit_test(test_slow_body),
        cmocka_unit_test(test_idle_keep_alive),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stream_chaos),
        cmocka_unit_test(test_disconnect_mid_stream),
        cmocka_unit_test(test_disconnect_while_pending),
        cmocka_unit_test(test_stop_with_held_request),
        cmocka_unit_test(test_pipelined_behind_held),
        cmocka_unit_test(test_on_close_after_close),
        cmocka_unit_test(test_post_from_thread),
        cmocka_unit_test(test_stop_from_thread),
        cmocka_unit_test(test_stop_accepting),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_accept_out_of_fds),
        cmocka_unit_test(test_timer_and_signal),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
