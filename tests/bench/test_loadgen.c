/* src/bench/loadgen.c end to end, with no other process: a small streaming server on libevent
 * runs in a thread on 127.0.0.1 and imitates an OpenAI server (completions and chat chunks, the
 * usage chunk, [DONE]); the model name asks it to fail in one way (503, malformed chunk, error
 * object, dropped connection, stall, no [DONE]; "close" ends every response with
 * Connection: close). It also listens with TLS on a second port, with a self-signed certificate
 * made here. Checks closed and open loops, per-request records, https with and without trust,
 * reconnection, and that each failure is counted under its kind. */
#include "rxtest.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "reflex/loadgen.h"

typedef struct {
    struct event_base *base;
    struct evhttp *http, *https;
    int port, tls_port;
    SSL_CTX *tls;
    char cert_path[4096]; /* the self-signed certificate, as a CA file for the client */
    pthread_t thread;
    int requests, tokens; /* read after the thread has stopped */
} fake_server;

typedef struct {
    fake_server *srv;
    struct evhttp_request *req;
    struct event *timer;
    char model[32];
    bool chat;
    int n, sent;
} stream;

static void stream_free(stream *st)
{
    event_free(st->timer);
    free(st);
}

/* The connection failed mid-reply: evhttp has detached the request from it and left it to us,
 * and ending the reply is what frees a detached request. */
static void on_client_gone(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    stream *st = arg;
    evhttp_send_reply_end(st->req);
    stream_free(st);
}

static void send_event(stream *st, const char *data)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "data: %s\n\n", data);
    evhttp_send_reply_chunk(st->req, b);
    evbuffer_free(b);
}

static void end_stream(stream *st)
{
    evhttp_connection_set_closecb(evhttp_request_get_connection(st->req), NULL, NULL);
    evhttp_send_reply_end(st->req);
    stream_free(st);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream *st = arg;
    const char *m = st->model;
    if (strcmp(m, "drop") == 0 && st->sent == 2) {
        /* the connection breaks mid-stream */
        struct evhttp_connection *conn = evhttp_request_get_connection(st->req);
        shutdown(bufferevent_getfd(evhttp_connection_get_bufferevent(conn)), SHUT_RDWR);
        return; /* on_client_gone cleans up when evhttp sees the end */
    }
    if (strcmp(m, "error") == 0 && st->sent == 1) {
        send_event(st, "{\"error\":{\"message\":\"engine died\"}}");
        end_stream(st);
        return;
    }
    if (st->sent < st->n) {
        char chunk[128];
        if (strcmp(m, "malformed") == 0 && st->sent == 1)
            snprintf(chunk, sizeof chunk, "{oops");
        else if (st->chat)
            snprintf(chunk, sizeof chunk, "{\"choices\":[{\"delta\":{\"content\":\" t%d\"}}]}",
                     st->sent);
        else
            snprintf(chunk, sizeof chunk, "{\"choices\":[{\"text\":\" t%d\"}]}", st->sent);
        send_event(st, chunk);
        st->sent++;
        st->srv->tokens++;
        struct timeval tv = {strcmp(m, "stall") == 0 ? 5 : 0, 2000};
        evtimer_add(st->timer, &tv);
        return;
    }
    char usage[160];
    snprintf(usage, sizeof usage,
             "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":%d}}", st->n);
    send_event(st, usage);
    if (strcmp(m, "nodone") != 0) send_event(st, "[DONE]");
    end_stream(st);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    fake_server *srv = arg;
    srv->requests++;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *j = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
    const char *model = json_string_value(json_object_get(j, "model"));
    stream *st = calloc(1, sizeof *st);
    st->srv = srv;
    st->req = req;
    st->n = (int)json_integer_value(json_object_get(j, "max_tokens"));
    st->chat = strstr(evhttp_request_get_uri(req), "/chat/") != NULL;
    snprintf(st->model, sizeof st->model, "%s", model ? model : "ok");
    json_decref(j);
    if (strcmp(st->model, "busy") == 0) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "{\"error\":{\"message\":\"overloaded\"}}");
        evhttp_send_reply(req, 503, "Service Unavailable", b);
        evbuffer_free(b);
        free(st);
        return;
    }
    /* without TCP_NODELAY, Nagle holds the first small chunk until the client's delayed ACK
     * of the headers: a 40 ms TTFT that is all kernel (a real server must set it too) */
    int one = 1;
    setsockopt(
        bufferevent_getfd(evhttp_connection_get_bufferevent(evhttp_request_get_connection(req))),
        IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    st->timer = evtimer_new(srv->base, on_tick, st);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/event-stream");
    if (strcmp(st->model, "close") == 0)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_client_gone, st);
    struct timeval tv = {0, 5000}; /* "prefill" */
    evtimer_add(st->timer, &tv);
}

static void *serve(void *arg)
{
    fake_server *srv = arg;
    event_base_dispatch(srv->base);
    return NULL;
}

/* A self-signed P-256 certificate for IP 127.0.0.1, written to path; the server's context. */
static SSL_CTX *make_tls(const char *path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"subjectAltName", "IP:127.0.0.1"},
                             {"basicConstraints", "critical,CA:TRUE"}};
    for (int i = 0; i < 2; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
    return bufferevent_openssl_socket_new(base, -1, SSL_new(arg), BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static int bound_port(struct evhttp *http)
{
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl);
    return ntohs(sa.sin_port);
}

static int setup(void **state)
{
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN); /* as loadgen.h asks; the server side writes to closed peers too */
    fake_server *srv = calloc(1, sizeof *srv);
    srv->base = event_base_new();
    srv->http = evhttp_new(srv->base);
    evhttp_set_gencb(srv->http, on_request, srv);
    srv->port = bound_port(srv->http);
    snprintf(srv->cert_path, sizeof srv->cert_path, "%s/cert.pem", rxt_tmpdir());
    srv->tls = make_tls(srv->cert_path);
    srv->https = evhttp_new(srv->base);
    evhttp_set_gencb(srv->https, on_request, srv);
    evhttp_set_bevcb(srv->https, tls_bev, srv->tls);
    evhttp_set_timeout(srv->https, 1); /* idle connections close: clients must reconnect */
    srv->tls_port = bound_port(srv->https);
    pthread_create(&srv->thread, NULL, serve, srv);
    *state = srv;
    return 0;
}

static int teardown(void **state)
{
    fake_server *srv = *state;
    event_base_loopbreak(srv->base);
    pthread_join(srv->thread, NULL);
    evhttp_free(srv->http);
    evhttp_free(srv->https);
    SSL_CTX_free(srv->tls);
    event_base_free(srv->base);
    free(srv);
    return 0;
}

/* Runs one load; the caller frees the result. */
typedef enum { PLAIN, TLS_TRUSTED, TLS_UNTRUSTED, TLS_INSECURE } transport;

static rx_lg_result *run_over(const fake_server *srv, transport tr, const char *model,
                              int concurrency, double rate, int64_t n, int32_t out_len,
                              rx_lg_endpoint ep, int port)
{
    char url[64];
    if (tr == PLAIN)
        snprintf(url, sizeof url, "http://127.0.0.1:%d", port ? port : srv->port);
    else
        snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/", srv->tls_port);
    rx_lg_prompt *p;
    assert_int_equal(rx_lg_prompts_synth(1, 4, 8, out_len, &p), RX_OK);
    rx_lg_config cfg = {.url = url,
                        .seed = 5,
                        .model = model,
                        .endpoint = ep,
                        .concurrency = concurrency,
                        .rate = rate,
                        .burstiness = rate < 1 ? 1e3 : 1.0, /* slow rates: near-even gaps */
                        .n_requests = n,
                        .prompts = p,
                        .n_prompts = 4,
                        /* 1 s lets the plain runs see the 5 s stall quickly; a TLS
                         * handshake under ASan on a loaded 2-core CI machine has taken
                         * longer than that, and no TLS run waits on a stall */
                        .timeout_s = tr == PLAIN ? 1.0 : 5.0,
                        .insecure = tr == TLS_INSECURE,
                        .ca_file = tr == TLS_TRUSTED ? srv->cert_path : NULL};
    rx_lg_result *r;
    assert_int_equal(rx_lg_run(&cfg, &r), RX_OK);
    rx_lg_prompts_free(p, 4);
    assert_int_equal(r->n_records, n);
    return r;
}

static rx_lg_result *run(const fake_server *srv, const char *model, int concurrency, double rate,
                         int64_t n, int32_t out_len, rx_lg_endpoint ep, int port)
{
    return run_over(srv, PLAIN, model, concurrency, rate, n, out_len, ep, port);
}

static void check_ok(const rx_lg_result *r, int32_t out_len)
{
    double all_gaps = 0;
    int64_t n_gaps = 0;
    for (int64_t i = 0; i < r->n_records; i++) {
        const rx_lg_record *q = &r->records[i];
        if (q->kind != RX_LG_OK) fail_msg("request %lld: %s", (long long)i, q->error);
        assert_int_equal(q->http_status, 200);
        assert_true(q->usage_seen);
        assert_int_equal(q->completion_tokens, out_len);
        assert_int_equal(q->content_chunks, out_len);
        assert_int_equal(q->prompt_tokens, 3);
        assert_int_equal(q->n_itl, out_len - 1);
        /* the server waits 5 ms before the first token and 2 ms between tokens; a loaded
         * machine can only make times longer, or merge chunks into one read (gap 0) */
        if (!(q->ttft_s > 0.004 && q->ttft_s < q->e2e_s &&
              q->e2e_s > 0.004 + 0.0019 * (out_len - 1)))
            fail_msg("request %lld: ttft %g s, e2e %g s", (long long)i, q->ttft_s, q->e2e_s);
        double sum = 0;
        for (int32_t k = 0; k < q->n_itl; k++) {
            assert_true(q->itl_s[k] >= 0 && q->itl_s[k] < 1.0);
            sum += q->itl_s[k];
        }
        assert_true(sum <= q->e2e_s - q->ttft_s + 1e-9);
        all_gaps += sum;
        n_gaps += q->n_itl;
        assert_true(fabs(q->tpot_s - (q->e2e_s - q->ttft_s) / (out_len - 1)) < 1e-12);
        assert_true(q->start_s >= 0 && q->start_s <= r->duration_s);
    }
    /* chunks are timed one by one, not per response: gaps are ~2 ms on average */
    if (!(all_gaps / (double)n_gaps > 0.0005))
        fail_msg("mean gap %g s over %lld gaps", all_gaps / (double)n_gaps, (long long)n_gaps);
}

static void test_closed_loop(void **state)
{
    fake_server *srv = *state;
    rx_lg_result *r = run(srv, "ok", 3, 0, 9, 5, RX_LG_COMPLETIONS, 0);
    check_ok(r, 5);
    rx_lg_summary s;
    rx_lg_summarize(r, NULL, &s);
    assert_int_equal(s.ok, 9);
    assert_int_equal(s.completion_tokens, 45);
    assert_int_equal(s.itl.n, 36);
    rx_lg_result_free(r);
    r = run(srv, "ok", 2, 0, 4, 4, RX_LG_CHAT, 0);
    check_ok(r, 4);
    rx_lg_result_free(r);
}

static void test_open_loop(void **state)
{
    fake_server *srv = *state;
    rx_lg_result *r = run(srv, "ok", 0, 100.0, 10, 3, RX_LG_COMPLETIONS, 0);
    check_ok(r, 3);
    assert_float_equal(r->records[0].start_s, 0.0, 0.05);
    for (int i = 1; i < 10; i++)
        assert_true(r->records[i].start_s >= r->records[i - 1].start_s);
    rx_lg_result_free(r);
    r = run(srv, "ok", 0, INFINITY, 6, 3, RX_LG_COMPLETIONS, 0);
    check_ok(r, 3);
    rx_lg_result_free(r);
}

static void expect_kind(fake_server *srv, const char *model, rx_lg_kind kind, const char *msg,
                        int port)
{
    rx_lg_result *r = run(srv, model, 2, 0, 3, 4, RX_LG_COMPLETIONS, port);
    for (int64_t i = 0; i < r->n_records; i++) {
        const rx_lg_record *q = &r->records[i];
        if (q->kind != kind || !strstr(q->error, msg))
            fail_msg("%s: kind %s error '%s'", model, rx_lg_kind_name(q->kind), q->error);
    }
    rx_lg_summary s;
    rx_lg_summarize(r, NULL, &s);
    assert_int_equal(s.failed_by_kind[kind], 3);
    assert_float_equal(s.availability, 0.0, 0);
    rx_lg_result_free(r);
}

static void test_failures_by_kind(void **state)
{
    fake_server *srv = *state;
    expect_kind(srv, "busy", RX_LG_HTTP, "HTTP 503: {\"error\"", 0);
    expect_kind(srv, "error", RX_LG_HTTP, "engine died", 0);
    expect_kind(srv, "malformed", RX_LG_MALFORMED, "malformed chunk", 0);
    expect_kind(srv, "nodone", RX_LG_MALFORMED, "[DONE]", 0);
    expect_kind(srv, "drop", RX_LG_DISCONNECT, "mid-stream", 0);
    expect_kind(srv, "stall", RX_LG_TIMEOUT, "no data for", 0);
    /* a port nobody listens on: our own listener's port + 1 is a guess, so find a free one */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    expect_kind(srv, "ok", RX_LG_CONNECT, "no response", ntohs(sa.sin_port));
}

static void test_reconnect(void **state)
{
    fake_server *srv = *state;
    rx_lg_result *r = run(srv, "close", 2, 0, 6, 3, RX_LG_COMPLETIONS, 0);
    check_ok(r, 3);
    rx_lg_result_free(r);
}

static void test_https(void **state)
{
    fake_server *srv = *state;
    rx_lg_result *r = run_over(srv, TLS_TRUSTED, "ok", 3, 0, 6, 4, RX_LG_COMPLETIONS, 0);
    check_ok(r, 4);
    rx_lg_result_free(r);
    /* two requests 1.6 s apart (an almost even open loop at 0.625/s); the server closes idle
     * connections after 1 s, so the second needs a fresh TLS session. (Connection: close is
     * not used here: libevent's TLS server can cut its last records when it closes, which a
     * Python server did not do in 600 such requests.) */
    r = run_over(srv, TLS_TRUSTED, "ok", 0, 0.625, 2, 3, RX_LG_CHAT, 0);
    check_ok(r, 3);
    assert_true(r->records[1].start_s > 1.2);
    rx_lg_result_free(r);
    r = run_over(srv, TLS_INSECURE, "ok", 1, 0, 2, 3, RX_LG_COMPLETIONS, 0);
    check_ok(r, 3);
    rx_lg_result_free(r);
    r = run_over(srv, TLS_TRUSTED, "drop", 1, 0, 3, 4, RX_LG_COMPLETIONS, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r->records[i].kind, RX_LG_DISCONNECT);
    rx_lg_result_free(r);
    /* the system's CAs do not trust our certificate */
    r = run_over(srv, TLS_UNTRUSTED, "ok", 1, 0, 2, 3, RX_LG_COMPLETIONS, 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r->records[i].kind, RX_LG_CONNECT);
        if (!strstr(r->records[i].error, "TLS: certificate verify failed"))
            fail_msg("untrusted: '%s'", r->records[i].error);
    }
    rx_lg_result_free(r);
}

static void *raise_later(void *arg)
{
    (void)arg;
    usleep(300 * 1000);
    kill(getpid(), SIGUSR1);
    return NULL;
}

/* The stop signal ends a 30 s run at once; only finished requests are reported. */
static void test_stop_signal(void **state)
{
    fake_server *srv = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv->port);
    rx_lg_prompt *p;
    assert_int_equal(rx_lg_prompts_synth(1, 4, 8, 20, &p), RX_OK);
    rx_lg_config cfg = {.url = url,
                        .model = "ok",
                        .concurrency = 3,
                        .duration_s = 30,
                        .prompts = p,
                        .n_prompts = 4,
                        .stop_signal = SIGUSR1};
    pthread_t t;
    pthread_create(&t, NULL, raise_later, NULL);
    rx_lg_result *r;
    assert_int_equal(rx_lg_run(&cfg, &r), RX_OK);
    pthread_join(t, NULL);
    assert_true(r->interrupted);
    assert_true(r->duration_s < 5.0);
    assert_true(r->n_records >= 1);
    check_ok(r, 20);
    rx_lg_result_free(r);
    rx_lg_prompts_free(p, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_loop),
        cmocka_unit_test(test_open_loop),
        cmocka_unit_test(test_failures_by_kind),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_https),
        cmocka_unit_test(test_stop_signal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
