/* net/http server over TLS: a throwaway CA, server and client certificates are made with the
 * openssl CLI in a temp dir; then HTTPS requests (keep-alive, streaming, a client leaving
 * mid-stream), cleartext and garbage sent to the TLS port, client certificates required
 * (none, a good one, one from another CA), and certificate files that do not load. */
#include "rxtest.h"

#include <stdatomic.h>

#include <openssl/err.h>

#include "http_testlib.h"

static char dir[512];

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && ", dir);
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof cmd - n, fmt, a, b);
    strncat(cmd, " >/dev/null 2>&1", sizeof cmd - strlen(cmd) - 1);
    return system(cmd);
}

/* name.key + name.crt signed by ca (ca.key/ca.crt): small EC keys keep this fast. */
static int make_leaf(const char *name, const char *ca)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout %s.key"
             " -out %s.csr -subj /CN=127.0.0.1 >/dev/null 2>&1 && "
             "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial -out %s.crt"
             " -days 2",
             name, name, name, ca, ca, name);
    return sh("%s%s", cmd, "");
}

static int make_ca(const char *name)
{
    return sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
              " -keyout %s.key -out %s.crt -days 2 -subj /CN=rx-test-ca",
              name, name);
}

static int setup_certs(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/tls", rxt_tmpdir());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return -1;
    if (system("openssl version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "openssl CLI missing (apt-get install -y openssl)\n");
        return -1;
    }
    if (make_ca("ca") || make_leaf("srv", "ca") || make_leaf("cli", "ca") || make_ca("evil") ||
        make_leaf("evilcli", "evil"))
        return -1;
    return 0;
}

/* --- the server side --- */

typedef struct {
    tl_server srv;
    rx_http_req *held;
    atomic_int closed_fired;
} fixture;

static void on_held_close(void *arg)
{
    fixture *f = arg;
    rx_http_req *r = f->held;
    f->held = NULL;
    rx_http_stream_end(r); /* finishing from on_close itself is allowed */
    atomic_store(&f->closed_fired, 1);
}

static void handler(rx_http_req *r, void *user)
{
    fixture *f = user;
    if (strcmp(rx_http_path(r), "/hold") == 0) {
        f->held = r;
        rx_http_on_close(r, on_held_close, f);
        rx_http_stream_start(r, 200, "text/event-stream");
        rx_http_stream_write(r, "data: hello\n\n", 13);
        return;
    }
    size_t len;
    const char *body = rx_http_body(r, &len);
    rx_http_add_header(r, "X-Path", rx_http_path(r));
    rx_http_respond(r, 200, "text/plain", body, len);
}

static fixture *start(bool client_ca)
{
    char cert[600], key[600], ca[600];
    path_of(cert, sizeof cert, "srv.crt");
    path_of(key, sizeof key, "srv.key");
    path_of(ca, sizeof ca, "ca.crt");
    rx_http_config cfg = {.tls_cert = cert, .tls_key = key, .tls_client_ca = client_ca ? ca : NULL};
    fixture *f = calloc(1, sizeof *f);
    rx_status st = tl_start(&f->srv, &cfg, handler, f);
    if (st != RX_OK) fail_msg("server: %s", rx_last_error());
    return f;
}

static void stop(fixture *f)
{
    tl_stop(&f->srv);
    assert_int_equal(f->srv.run_status, RX_OK);
    free(f);
}

/* --- the client side --- */

/* A TLS connection that checks the server against ca.crt and presents name.crt if given;
 * NULL when the handshake fails. */
static tl_conn *tls_open(int port, const char *client_name)
{
    char ca[600], cert[600], key[600];
    path_of(ca, sizeof ca, "ca.crt");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca, NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (client_name) {
        char n[64];
        snprintf(n, sizeof n, "%s.crt", client_name);
        path_of(cert, sizeof cert, n);
        snprintf(n, sizeof n, "%s.key", client_name);
        path_of(key, sizeof key, n);
        assert_int_equal(SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    tl_conn *c = tl_open(port);
    assert_non_null(c);
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1) {
        ERR_clear_error();
        tl_close(c);
        return NULL;
    }
    return c;
}

static const char *GET_ECHO = "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n";

static void test_https(void **state)
{
    (void)state;
    fixture *f = start(false);
    int port = rx_http_server_port(f->srv.s);
    tl_conn *c = tls_open(port, NULL);
    assert_non_null(c);
    tl_resp r;
    assert_int_equal(tl_request(c, GET_ECHO, &r), 200);
    char v[64];
    assert_string_equal(tl_header(&r, "X-Path", v, sizeof v), "/echo");
    assert_int_equal(
        tl_request(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", &r), 200);
    assert_string_equal(r.body, "hello");
    tl_close(c);
    stop(f);
}

static void test_tls_client_leaves_mid_stream(void **state)
{
    (void)state;
    fixture *f = start(false);
    tl_conn *c = tls_open(rx_http_server_port(f->srv.s), NULL);
    assert_non_null(c);
    assert_int_equal(tl_sends(c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    while (!memmem(c->buf, c->len, "hello", 5))
        assert_true(tl_fill(c) > 0);
    tl_close(c); /* no close_notify: a dirty close, as a crashed client would */
    double end = tl_now_ms() + 3000;
    while (!atomic_load(&f->closed_fired)) {
        assert_true(tl_now_ms() < end);
        tl_sleep_ms(5);
    }
    stop(f);
}

/* Cleartext or garbage on the TLS port: no HTTP answer, the connection closes, the server
 * goes on. */
static void test_not_tls_to_tls_port(void **state)
{
    (void)state;
    fixture *f = start(false);
    int port = rx_http_server_port(f->srv.s);
    tl_conn *c = tl_open(port);
    assert_int_equal(tl_sends(c, GET_ECHO), 0);
    while (tl_fill(c) > 0) {
    }
    assert_true(c->len < 5 || memcmp(c->buf, "HTTP/", 5) != 0);
    tl_close(c);

    c = tl_open(port);
    static const char junk[] = "\x16\x03\x01\x00\x05garbagegarbagegarbage";
    tl_send(c, junk, sizeof junk - 1);
    while (tl_fill(c) > 0) {
    }
    tl_close(c);

    c = tl_open(port); /* half a handshake, then gone */
    tl_send(c, "\x16\x03\x01", 3);
    tl_close(c);

    c = tls_open(port, NULL);
    assert_non_null(c);
    tl_resp r;
    assert_int_equal(tl_request(c, GET_ECHO, &r), 200);
    tl_close(c);
    stop(f);
}

/* With TLS 1.3 the client may finish its handshake before the server has checked its
 * certificate, so a refusal can show up as a failed first read instead of a failed connect. */
static bool refused(int port, const char *client_name)
{
    tl_conn *c = tls_open(port, client_name);
    if (!c) return true;
    tl_resp r;
    int st = tl_request(c, GET_ECHO, &r);
    tl_close(c);
    ERR_clear_error();
    return st == 0;
}

static void test_mtls(void **state)
{
    (void)state;
    fixture *f = start(true);
    int port = rx_http_server_port(f->srv.s);
    assert_true(refused(port, NULL));
    assert_true(refused(port, "evilcli"));
    tl_conn *c = tls_open(port, "cli");
    assert_non_null(c);
    tl_resp r;
    assert_int_equal(tl_request(c, GET_ECHO, &r), 200);
    assert_int_equal(tl_request(c, GET_ECHO, &r), 200);
    tl_close(c);
    stop(f);
}

static void expect_format_error(const char *cert, const char *key, const char *ca,
                                const char *named)
{
    rx_http_config cfg = {.tls_cert = cert, .tls_key = key, .tls_client_ca = ca};
    rx_http_server *s = NULL;
    assert_int_equal(rx_http_server_create(&cfg, handler, NULL, &s), RX_ERR_FORMAT);
    assert_null(s);
    if (!strstr(rx_last_error(), named)) fail_msg("'%s' does not name %s", rx_last_error(), named);
}

static void test_bad_files(void **state)
{
    (void)state;
    char cert[600], key[600], ca[600], junk[600], other_key[600];
    path_of(cert, sizeof cert, "srv.crt");
    path_of(key, sizeof key, "srv.key");
    path_of(ca, sizeof ca, "ca.crt");
    path_of(junk, sizeof junk, "junk.pem");
    path_of(other_key, sizeof other_key, "cli.key");
    FILE *fp = fopen(junk, "w");
    assert_non_null(fp);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", fp);
    fclose(fp);
    expect_format_error(junk, key, NULL, junk);
    expect_format_error(cert, junk, NULL, junk);
    expect_format_error(cert, other_key, NULL, other_key); /* key of another certificate */
    expect_format_error(cert, key, junk, junk);
    expect_format_error(cert, key, "/nonexistent/ca.pem", "/nonexistent/ca.pem");
}

int main(void)
{
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https),
        cmocka_unit_test(test_tls_client_leaves_mid_stream),
        cmocka_unit_test(test_not_tls_to_tls_port),
        cmocka_unit_test(test_mtls),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup_certs, NULL);
}
