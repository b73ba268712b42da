/* net/http_client against a scripted upstream: a thread on 127.0.0.1 that answers each accepted
 * connection with the test's function (raw bytes, cut where the test says). The client runs on
 * an rx_http_server's loop (port 0, used only for its loop thread), as in the gateway; every
 * client call is posted to that loop. Covered: Content-Length, chunked (streamed as it arrives)
 * and read-until-close bodies, HEAD, 1xx interim heads, keep-alive reuse, the single resend after
 * a dropped keep-alive connection, connect refused, first-byte and idle timeouts, cancel and pool
 * free from inside callbacks, a call started from on_done, max_connections, malformed and
 * oversized answers, and header bytes refused at start. */
#include "rxtest.h"

#include <poll.h>
#include <stdatomic.h>

#include "http_testlib.h"
#include "reflex/http_client.h"

/* --- the scripted upstream --- */

typedef struct upstream upstream;
/* Serves one accepted connection; n counts connections from 0. The thread closes fd after. */
typedef void (*serve_fn)(upstream *u, int fd, int n);

struct upstream {
    int lfd, port;
    pthread_t thread;
    serve_fn serve;
    void *arg; /* the test's */
    atomic_int stop;
    atomic_int accepts;
    atomic_int requests;
    char last_req[1 << 16]; /* the last request read, NUL-terminated (upstream thread) */
    size_t last_req_len;
};

static void *upstream_run(void *arg)
{
    upstream *u = arg;
    while (!atomic_load(&u->stop)) {
        struct pollfd pfd = {u->lfd, POLLIN, 0};
        if (poll(&pfd, 1, 20) != 1) continue;
        int fd = accept(u->lfd, NULL, NULL);
        if (fd < 0) continue;
        int n = atomic_fetch_add(&u->accepts, 1);
        u->serve(u, fd, n);
        close(fd);
    }
    return NULL;
}

static void upstream_start(upstream *u, serve_fn serve, void *arg)
{
    memset(u, 0, sizeof *u);
    u->serve = serve;
    u->arg = arg;
    u->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(u->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(u->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(u->lfd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(u->lfd, (struct sockaddr *)&a, &len);
    u->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&u->thread, NULL, upstream_run, u), 0);
}

static void upstream_stop(upstream *u)
{
    atomic_store(&u->stop, 1);
    pthread_join(u->thread, NULL);
    close(u->lfd);
}

/* Waits up to ms for fd to be readable (or the test to end); true when it is. */
static bool up_wait(upstream *u, int fd, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&u->stop); waited += 20) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 20) == 1) return true;
    }
    return false;
}

/* Reads one request (head and Content-Length body) into u->last_req; false on EOF or silence. */
static bool up_read(upstream *u, int fd)
{
    size_t len = 0;
    for (;;) {
        if (!up_wait(u, fd, 3000)) return false;
        ssize_t n = recv(fd, u->last_req + len, sizeof u->last_req - 1 - len, 0);
        if (n <= 0) return false;
        len += (size_t)n;
        u->last_req[len] = 0;
        char *end = strstr(u->last_req, "\r\n\r\n");
        if (!end) continue;
        const char *cl = strcasestr(u->last_req, "\r\nContent-Length: ");
        size_t body = cl && cl < end ? strtoul(cl + 18, NULL, 10) : 0;
        if (len >= (size_t)(end + 4 - u->last_req) + body) break;
    }
    u->last_req_len = len;
    atomic_fetch_add(&u->requests, 1);
    return true;
}

static void up_send(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        s += n;
        len -= (size_t)n;
    }
}

/* Keeps the connection open without a word until the client closes it or the test ends. */
static void up_hold(upstream *u, int fd)
{
    char b[4096];
    while (up_wait(u, fd, 10000))
        if (recv(fd, b, sizeof b, 0) <= 0) return;
}

/* --- the client side --- */

typedef struct {
    tl_server loop;
    rx_http_pool *pool;
    upstream up;
} fixture;

typedef struct rec rec;
struct rec {
    fixture *f;
    const char *method, *path;
    const char *const *headers;
    const char *body;
    rx_http_call *call;
    rx_status start_status;
    atomic_int started;
    atomic_int done; /* on_done runs */
    atomic_int n_chunks;
    atomic_int late; /* callbacks after on_done, or empty chunks */
    int heads, status;
    rx_status result;
    char msg[512];
    char got[1 << 17];
    size_t got_len;
    char ctype[128], final_hdr[64], link[64];
    double t_start, t_done;
    /* what the callbacks do */
    int cancel_at_chunk; /* cancel in on_chunk when this many chunks came */
    bool cancel_in_head, free_pool_in_chunk;
    rec *then; /* started from on_done */
};

static const char *copy_hdr(rx_http_call *c, const char *name, char *out, size_t cap)
{
    const char *v = rx_http_call_header(c, name);
    snprintf(out, cap, "%s", v ? v : "(none)");
    return out;
}

static void start_rec(void *arg);

static void on_head(rx_http_call *c, int status, void *user)
{
    rec *r = user;
    if (atomic_load(&r->done)) atomic_fetch_add(&r->late, 1);
    r->heads++;
    r->status = status;
    copy_hdr(c, "CONTENT-type", r->ctype, sizeof r->ctype);
    copy_hdr(c, "x-final", r->final_hdr, sizeof r->final_hdr);
    copy_hdr(c, "Link", r->link, sizeof r->link);
    if (r->cancel_in_head) rx_http_call_cancel(c);
}

static void on_chunk(rx_http_call *c, const char *data, size_t len, void *user)
{
    rec *r = user;
    if (atomic_load(&r->done) || len == 0) atomic_fetch_add(&r->late, 1); /* never */
    if (r->got_len + len < sizeof r->got) {
        memcpy(r->got + r->got_len, data, len);
        r->got_len += len;
        r->got[r->got_len] = 0;
    }
    int n = atomic_fetch_add(&r->n_chunks, 1) + 1;
    if (r->cancel_at_chunk == n) rx_http_call_cancel(c);
    if (r->free_pool_in_chunk) {
        rx_http_pool_free(r->f->pool);
        r->f->pool = NULL;
    }
}

static void on_done(rx_http_call *c, rx_status s, const char *message, void *user)
{
    rec *r = user;
    (void)c;
    if (atomic_load(&r->done)) atomic_fetch_add(&r->late, 1);
    r->result = s;
    snprintf(r->msg, sizeof r->msg, "%s", message);
    r->t_done = tl_now_ms();
    /* a call after on_done would fail here: the test checks it is never cancelled again */
    if (r->then) start_rec(r->then);
    atomic_fetch_add(&r->done, 1);
}

static const rx_http_call_cb callbacks = {on_head, on_chunk, on_done};

static void start_rec(void *arg)
{
    rec *r = arg;
    r->t_start = tl_now_ms();
    r->start_status = rx_http_call_start(r->f->pool, r->method ? r->method : "GET",
                                         r->path ? r->path : "/", r->headers, r->body,
                                         r->body ? strlen(r->body) : 0, &callbacks, r, &r->call);
    atomic_store(&r->started, 1);
}

typedef struct {
    void (*fn)(void *);
    void *arg;
    atomic_int done;
} sync_task;

static void run_sync(void *arg)
{
    sync_task *t = arg;
    t->fn(t->arg);
    atomic_store(&t->done, 1);
}

static bool is_set(void *arg)
{
    return atomic_load((atomic_int *)arg) != 0;
}

/* Runs fn(arg) on the loop thread and waits for it. */
static void on_loop(fixture *f, void (*fn)(void *), void *arg)
{
    sync_task t = {fn, arg, 0};
    assert_int_equal(rx_http_post(f->loop.s, run_sync, &t), RX_OK);
    assert_true(tl_wait(is_set, &t.done, 5000));
}

typedef struct {
    fixture *f;
    rx_http_pool_config cfg;
    int port;
    rx_status s;
} pool_args;

static void create_pool(void *arg)
{
    pool_args *a = arg;
    a->s = rx_http_pool_create(a->f->loop.s, "127.0.0.1", a->port, &a->cfg, &a->f->pool);
}

static void free_pool(void *arg)
{
    fixture *f = arg;
    rx_http_pool_free(f->pool);
    f->pool = NULL;
}

static void noop_handler(rx_http_req *req, void *user)
{
    (void)user;
    rx_http_respond(req, 404, "text/plain", "", 0);
}

/* An upstream serving with serve, and a pool to it (cfg may be NULL); port 0: the upstream's. */
static fixture *start(serve_fn serve, void *arg, const rx_http_pool_config *cfg, int port)
{
    fixture *f = calloc(1, sizeof *f);
    upstream_start(&f->up, serve, arg);
    rx_http_config hc = {0};
    assert_int_equal(tl_start(&f->loop, &hc, noop_handler, NULL), RX_OK);
    pool_args a = {f, {0}, port ? port : f->up.port, RX_OK};
    if (cfg) a.cfg = *cfg;
    on_loop(f, create_pool, &a);
    assert_int_equal(a.s, RX_OK);
    return f;
}

static void stop(fixture *f)
{
    on_loop(f, free_pool, f);
    upstream_stop(&f->up);
    tl_stop(&f->loop);
    free(f);
}

static void init_rec(rec *r, fixture *f, const char *method, const char *path)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->method = method;
    r->path = path;
}

/* Starts r on the loop; returns the start status (no wait for the answer). */
static rx_status begin(rec *r)
{
    on_loop(r->f, start_rec, r);
    return r->start_status;
}

static void finish(rec *r)
{
    assert_true(tl_wait(is_set, &r->done, 5000));
    assert_int_equal(atomic_load(&r->done), 1);
}

/* One call to its end. */
static void call(rec *r)
{
    assert_int_equal(begin(r), RX_OK);
    finish(r);
}

/* --- scripts and tests --- */

static void serve_content_length(upstream *u, int fd, int n)
{
    (void)n;
    while (up_read(u, fd))
        up_send(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Final:  yes \r\n"
                    "Content-Length: 5\r\nx-final: second\r\n\r\nhello");
}

static void test_content_length_keep_alive(void **state)
{
    (void)state;
    fixture *f = start(serve_content_length, NULL, NULL, 0);
    rec r;
    const char *headers[] = {"X-A", "b", "Accept", "application/json", NULL};
    init_rec(&r, f, "GET", "/x?y=1");
    r.headers = headers;
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_int_equal(r.heads, 1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.got, "hello");
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(r.final_hdr, "yes"); /* the first of two, blanks trimmed */
    char want[512];
    snprintf(want, sizeof want,
             "GET /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-A: b\r\nAccept: application/json\r\n"
             "\r\n",
             f->up.port);
    assert_string_equal(f->up.last_req, want);

    /* the same connection, a body with its length; a path byte a request line cannot hold */
    init_rec(&r, f, "POST", "/v1/a b");
    r.body = "{\"k\":1}";
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_string_equal(r.got, "hello");
    snprintf(want, sizeof want,
             "POST /v1/a%%20b HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 7\r\n\r\n"
             "{\"k\":1}",
             f->up.port);
    assert_string_equal(f->up.last_req, want);

    /* POST without a body still says so */
    init_rec(&r, f, "POST", "/e");
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_non_null(strstr(f->up.last_req, "\r\nContent-Length: 0\r\n\r\n"));
    assert_int_equal(atomic_load(&f->up.accepts), 1);
    assert_int_equal(atomic_load(&f->up.requests), 3);
    assert_int_equal(atomic_load(&r.late), 0);
    stop(f);
}

static bool chunks_at_least_1(void *arg)
{
    return atomic_load(&((rec *)arg)->n_chunks) >= 1;
}

static void serve_chunked(upstream *u, int fd, int n)
{
    (void)n;
    rec *r = u->arg;
    while (up_read(u, fd)) {
        up_send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
        tl_sleep_ms(20);
        up_send(fd, "lo\r\n");
        /* the rest goes only once the client has seen the first chunk: it streams */
        if (!tl_wait(chunks_at_least_1, r, 3000)) return;
        up_send(fd, "6\r\n wo");
        tl_sleep_ms(20);
        up_send(fd, "rld\r\n0\r\n\r\n");
    }
}

static void test_chunked_streams(void **state)
{
    (void)state;
    rec r;
    fixture *f = start(serve_chunked, &r, NULL, 0);
    init_rec(&r, f, "GET", "/s");
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_string_equal(r.got, "hello world");
    /* as they came: at least one before the rest was sent ("hel", "lo", " wo", "rld" when the
     * reads catch every write) */
    assert_true(atomic_load(&r.n_chunks) >= 2);
    /* and the connection is reused after a chunked body */
    init_rec(&r, f, "GET", "/s");
    call(&r);
    assert_string_equal(r.got, "hello world");
    assert_int_equal(atomic_load(&f->up.accepts), 1);
    stop(f);
}

static void serve_until_close(upstream *u, int fd, int n)
{
    if (!up_read(u, fd)) return;
    if (n == 0) {
        up_send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc");
        tl_sleep_ms(30);
        up_send(fd, "def");
    } else {
        /* HTTP/1.0 without keep-alive: the connection is not pooled */
        up_send(fd, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        up_hold(u, fd);
    }
}

static void test_body_until_close(void **state)
{
    (void)state;
    fixture *f = start(serve_until_close, NULL, NULL, 0);
    rec r;
    init_rec(&r, f, "GET", "/c");
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_string_equal(r.got, "abcdef");
    assert_string_equal(r.ctype, "text/plain");
    init_rec(&r, f, "GET", "/c");
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_string_equal(r.got, "ok");
    assert_int_equal(atomic_load(&f->up.accepts), 2);
    init_rec(&r, f, "GET", "/c"); /* the HTTP/1.0 connection was closed, not pooled */
    call(&r);
    assert_string_equal(r.got, "ok");
    assert_int_equal(atomic_load(&f->up.accepts), 3);
    stop(f);
}

static void serve_head(upstream *u, int fd, int n)
{
    (void)n;
    while (up_read(u, fd)) {
        if (strncmp(u->last_req, "HEAD ", 5) == 0)
            up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        else
            up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
}

static void test_head_has_no_body(void **state)
{
    (void)state;
    fixture *f = start(serve_head, NULL, NULL, 0);
    rec r;
    init_rec(&r, f, "HEAD", "/h");
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.got_len, 0);
    assert_int_equal(strncmp(f->up.last_req, "HEAD /h HTTP/1.1\r\n", 18), 0);
    assert_null(strstr(f->up.last_req, "Content-Length"));
    init_rec(&r, f, "GET", "/h"); /* same connection: nothing of a body was waited for */
    call(&r);
    assert_string_equal(r.got, "ok");
    assert_int_equal(atomic_load(&f->up.accepts), 1);
    stop(f);
}

static void serve_interim(upstream *u, int fd, int n)
{
    (void)n;
    while (up_read(u, fd)) {
        up_send(fd, "HTTP/1.1 100 Continue\r\n\r\n");
        tl_sleep_ms(20);
        up_send(fd, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\n"
                    "X-Final: yes\r\nContent-Length: 2\r\n\r\nok");
    }
}

static void test_interim_heads_skipped(void **state)
{
    (void)state;
    fixture *f = start(serve_interim, NULL, NULL, 0);
    rec r;
    init_rec(&r, f, "POST", "/i");
    r.body = "x";
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_int_equal(r.heads, 1);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.final_hdr, "yes");
    assert_string_equal(r.link, "(none)"); /* the interim head's headers are not the answer's */
    assert_string_equal(r.got, "ok");
    stop(f);
}

/* The first connection answers once, then takes the next request and closes without a word
 * (the server dropped a kept-alive connection as the request went out); later ones answer. */
static void serve_drop_second(upstream *u, int fd, int n)
{
    if (n == 0) {
        if (!up_read(u, fd)) return;
        up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
        up_read(u, fd);
        return;
    }
    while (up_read(u, fd))
        up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
}

static void test_dropped_keep_alive_resent(void **state)
{
    (void)state;
    fixture *f = start(serve_drop_second, NULL, NULL, 0);
    rec r;
    init_rec(&r, f, "GET", "/1");
    call(&r);
    assert_string_equal(r.got, "one");
    init_rec(&r, f, "POST", "/2");
    r.body = "again";
    call(&r);
    assert_int_equal(r.result, RX_OK);
    assert_string_equal(r.got, "two");
    assert_int_equal(atomic_load(&f->up.accepts), 2);
    assert_int_equal(atomic_load(&f->up.requests), 3); /* the second request went twice */
    assert_non_null(strstr(f->up.last_req, "\r\n\r\nagain"));
    stop(f);
}

static void serve_drop_all_but_first(upstream *u, int fd, int n)
{
    if (!up_read(u, fd)) return;
    if (n == 0) {
        up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
        up_read(u, fd);
    }
}

static void test_resent_only_once(void **state)
{
    (void)state;
    fixture *f = start(serve_drop_all_but_first, NULL, NULL, 0);
    rec r;
    init_rec(&r, f, "GET", "/1");
    call(&r);
    assert_string_equal(r.got, "one");
    init_rec(&r, f, "GET", "/2");
    call(&r);
    assert_int_equal(r.result, RX_ERR_IO);
    assert_non_null(strstr(r.msg, "before the response head"));
    assert_int_equal(r.heads, 0);
    assert_int_equal(atomic_load(&f->up.accepts), 2);
    stop(f);
}

/* Answers once and closes the idle connection: the pool notices and drops it. */
static void serve_close_idle(upstream *u, int fd, int n)
{
    (void)n;
    if (up_read(u, fd)) up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

static void test_idle_close_dropped(void **state)
{
    (void)state;
    fixture *f = start(serve_close_idle, NULL, NULL, 0);
    rec r;
    for (int i = 0; i < 3; i++) {
        init_rec(&r, f, "GET", "/");
        call(&r);
        assert_int_equal(r.result, RX_OK);
        assert_string_equal(r.got, "ok");
        tl_sleep_ms(50);
    }
    assert_int_equal(atomic_load(&f->up.accepts), 3);
    assert_int_equal(atomic_load(&f->up.requests), 3); /* no resend was needed */
    stop(f);
}

static void serve_nothing(upstream *u, int fd, int n)
{
    (void)u;
    (void)fd;
    (void)n;
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* a bound port that does not listen refuses */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    fixture *f = start(serve_nothing, NULL, NULL, ntohs(a.sin_port));
    rec r;
    init_rec(&r, f, "GET", "/");
    call(&r);
    assert_int_equal(r.result, RX_ERR_IO);
    assert_non_null(strstr(r.msg, "connect"));
    assert_int_equal(r.heads, 0);
    stop(f);
    close(s);
}

static void serve_silent(upstream *u, int fd, int n)
{
    (void)n;
    if (up_read(u, fd)) up_hold(u, fd);
}

static void test_first_byte_timeout(void **state)
{
    (void)state;
    rx_http_pool_config cfg = {.first_byte_timeout_ms = 200};
    fixture *f = start(serve_silent, NULL, &cfg, 0);
    rec r;
    init_rec(&r, f, "GET", "/slow");
    call(&r);
    assert_int_equal(r.result, RX_ERR_IO);
    assert_non_null(strstr(r.msg, "no response within 200 ms"));
    const double took = r.t_done - r.t_start;
    assert_true(took >= 150 && took < 2000);
    assert_int_equal(r.heads, 0);
    stop(f);
}

static void serve_stall_mid_body(upstream *u, int fd, int n)
{
    (void)n;
    if (!up_read(u, fd)) return;
    up_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    up_hold(u, fd);
}

static void test_idle_timeout_mid_body(void **state)
{
    (void)state;
    rx_http_pool_config cfg = {.idle_timeout_ms = 200};
    fixture *f = start(serve_stall_mid_body, NULL, &cfg, 0);
    rec r;
    init_rec(&r, f, "GET", "/stall");
    call(&r);
    assert_int_equal(r.result, RX_ERR_IO);
    assert_int_equal(r.heads, 1);
    assert_string_equal(r.got, "abc");
    assert_non_null(strstr(r.msg, "mid-response"));
    assert_non_null(strstr(r.msg, "200 ms"));
    stop(f);
}

static void serve_endless_chunks(upstream *u, int fd, int n)
{
    (void)n;
    if (!up_read(u, fd)) return;
    up_send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n");
    for (int i = 0; i < 20 && !atomic_load(&u->stop); i++) {
        tl_sleep_ms(10);
        up_send(fd, "3\r\nmore\r\n");
    }
}

static void test_cancel_inside_callbacks(void **state)
{
    (void)state;
    fixture *f = start(serve_endless_chunks, NULL, NULL, 0);
    rec r;
    init_rec(&r, f, "GET", "/c");
    r.cancel_at_chunk = 1;
    call(&r);
    assert_int_equal(r.result, RX_ERR_CANCELLED);
    tl_sleep_ms(100); /* more chunks were sent meanwhile: none may arrive */
    assert_int_equal(atomic_load(&r.n_chunks), 1);
    assert_int_equal(atomic_load(&r.done), 1);
    assert_int_equal(atomic_load(&r.late), 0);

    init_rec(&r, f, "GET", "/c");
    r.cancel_in_head = true;
    call(&r);
    assert_int_equal(r.result, RX_ERR_CANCELLED);
    tl_sleep_ms(50);
    assert_int_equal(r.heads, 1);
    assert_int_equal(atomic_load(&r.n_chunks), 0);
    assert_int_equal(atomic_load(&r.late), 0);

    /* the pool freed from a body callback: its call ends once, cancelled */
    init_rec(&r, f, "GET", "/c");
    r.free_pool_in_chunk = true;
    call(&r);
    assert_int_equal(r.result, RX_ERR_CANCELLED);
    assert_non_null(strstr(r.msg, "pool"));
    tl_sleep_ms(50);
    assert_int_equal(atomic_load(&r.n_chunks), 1);
    assert_int_equal(atomic_load(&r.late), 0);
    assert_null(f->pool);
    stop(f);
}

static void test_call_from_on_done_reuses(void **state)
{
    (void)state;
    fixture *f = start(serve_content_length, NULL, NULL, 0);
    rec a, b;
    init_rec(&a, f, "GET", "/a");
    init_rec(&b, f, "GET", "/b");
    a.then = &b;
    call(&a);
    finish(&b);
    assert_int_equal(a.result, RX_OK);
    assert_int_equal(b.start_status, RX_OK);
    assert_int_equal(b.result, RX_OK);
    assert_string_equal(b.got, "hello");
    assert_int_equal(atomic_load(&f->up.accepts), 1);
    stop(f);
}

static void test_max_connections(void **state)
{
    (void)state;
    rx_http_pool_config cfg = {.max_connections = 2};
    fixture *f = start(serve_silent, NULL, &cfg, 0);
    rec r[3];
    for (int i = 0; i < 3; i++)
        init_rec(&r[i], f, "GET", "/hold");
    assert_int_equal(begin(&r[0]), RX_OK);
    assert_int_equal(begin(&r[1]), RX_OK);
    assert_int_equal(begin(&r[2]), RX_ERR_FULL);
    on_loop(f, free_pool, f); /* both calls in flight end, cancelled */
    for (int i = 0; i < 2; i++) {
        finish(&r[i]);
        assert_int_equal(r[i].result, RX_ERR_CANCELLED);
    }
    assert_int_equal(atomic_load(&r[2].done), 0);
    stop(f);
}

static void serve_script(upstream *u, int fd, int n)
{
    (void)n;
    if (up_read(u, fd)) up_send(fd, u->arg);
}

static void expect_io_error(const char *answer, const char *in_message, int heads)
{
    fixture *f = start(serve_script, (void *)answer, NULL, 0);
    rec r;
    init_rec(&r, f, "GET", "/m");
    call(&r);
    assert_int_equal(r.result, RX_ERR_IO);
    if (!strstr(r.msg, in_message)) fail_msg("'%s' does not say '%s'", r.msg, in_message);
    assert_int_equal(r.heads, heads);
    stop(f);
}

static void test_malformed_answers(void **state)
{
    (void)state;
    expect_io_error("HTTP/1.1 abc OK\r\n\r\n", "malformed response", 0);
    expect_io_error("hello there\r\n\r\n", "malformed response", 0);
    expect_io_error("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "malformed response", 0);
    expect_io_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    "malformed response body", 1);
    expect_io_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
                    "malformed response", 0);
    /* cut short: fewer bytes than Content-Length, then the server closes */
    expect_io_error("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", "mid-response", 1);
}

static void test_oversized_head(void **state)
{
    (void)state;
    size_t cap = 80 * 1024;
    char *big = malloc(cap);
    size_t n = (size_t)snprintf(big, cap, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; n + 200 < 72 * 1024; i++)
        n += (size_t)snprintf(big + n, cap - n, "X-Filler-%d: %0100d\r\n", i, 0);
    snprintf(big + n, cap - n, "Content-Length: 0\r\n\r\n");
    expect_io_error(big, "over 65536 bytes", 0);
    free(big);
}

static void test_bad_request_refused(void **state)
{
    (void)state;
    fixture *f = start(serve_content_length, NULL, NULL, 0);
    const char *crlf_value[] = {"X-A", "b\r\nX-Injected: 1", NULL};
    const char *bad_name[] = {"X A", "b", NULL};
    const char *host[] = {"host", "elsewhere", NULL};
    const char *const *cases[] = {crlf_value, bad_name, host};
    rec r;
    for (int i = 0; i < 3; i++) {
        init_rec(&r, f, "GET", "/");
        r.headers = cases[i];
        assert_int_equal(begin(&r), RX_ERR_INVALID_ARG);
    }
    init_rec(&r, f, "GET\r\n", "/");
    assert_int_equal(begin(&r), RX_ERR_INVALID_ARG);
    tl_sleep_ms(50);
    assert_int_equal(atomic_load(&r.done), 0);
    assert_int_equal(atomic_load(&f->up.accepts), 0);
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length_keep_alive),
        cmocka_unit_test(test_chunked_streams),
        cmocka_unit_test(test_body_until_close),
        cmocka_unit_test(test_head_has_no_body),
        cmocka_unit_test(test_interim_heads_skipped),
        cmocka_unit_test(test_dropped_keep_alive_resent),
        cmocka_unit_test(test_resent_only_once),
        cmocka_unit_test(test_idle_close_dropped),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_first_byte_timeout),
        cmocka_unit_test(test_idle_timeout_mid_body),
        cmocka_unit_test(test_cancel_inside_callbacks),
        cmocka_unit_test(test_call_from_on_done_reuses),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_malformed_answers),
        cmocka_unit_test(test_oversized_head),
        cmocka_unit_test(test_bad_request_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
