/* The HTTP server object: configuration defaults and checks, the event base, the listening
 * socket, running and stopping the loop, and tearing everything down. Connections live in
 * http_conn.c, requests in http_req.c, answers in http_respond.c, TLS in tls.c.
 *
 * What clients see at the limits:
 *  - request line and headers over max_header_bytes: 431 and close;
 *  - malformed request: 400 (505 for an HTTP version other than 1.0 and 1.1, 501 for a method
 *    we do not serve) and close;
 *  - body over max_body_bytes: 413 and close (at once when Content-Length declares it, after
 *    which the rest of the body is read and dropped for a while: lingering close);
 *  - a deadline missed (header, body, idle; see http_deadline.c): close, no response;
 *  - past max_connections: the new connection is closed before any byte is read;
 *  - a response the client does not read: closed once writes stall for the longest of the
 *    three timeouts plus 1 s. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <netdb.h>
#include <stdio.h>

#include <event2/thread.h>

#include "net/internal.h"

/* libevent's locking is process-wide and must be switched on before the first event_base, so
 * that rx_http_post and rx_http_server_stop may wake the loop from other threads. */
static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc = -1;

static void init_evthread(void)
{
    evthread_rc = evthread_use_pthreads();
}

/* A write to a socket the peer has closed raises SIGPIPE, whose default action kills the
 * process; responses go out with writev (evbuffer_write), which cannot ask for MSG_NOSIGNAL. A handler the
 * program installed itself is left alone. */
static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, NULL);
    }
}

static rx_status check_config(const rx_http_config *cfg)
{
    if (cfg->port < 0 || cfg->port > 65535)
        return rx_error(RX_ERR_INVALID_ARG, "http: port %d is out of range 0..65535", cfg->port);
    if (cfg->header_timeout_ms < 0 || cfg->body_timeout_ms < 0 || cfg->idle_timeout_ms < 0)
        return rx_error(RX_ERR_INVALID_ARG, "http: negative timeout (header %d, body %d, idle %d)",
                        cfg->header_timeout_ms, cfg->body_timeout_ms, cfg->idle_timeout_ms);
    if (cfg->max_connections < 0)
        return rx_error(RX_ERR_INVALID_ARG, "http: max_connections %d is negative",
                        cfg->max_connections);
    if (!cfg->tls_cert != !cfg->tls_key)
        return rx_error(RX_ERR_INVALID_ARG, "http: tls_cert and tls_key must be set together");
    if (cfg->tls_client_ca && !cfg->tls_cert)
        return rx_error(RX_ERR_INVALID_ARG, "http: tls_client_ca needs tls_cert and tls_key");
    if (cfg->host && strlen(cfg->host) >= sizeof((rx_http_server *)0)->host_buf)
        return rx_error(RX_ERR_INVALID_ARG, "http: host name is too long");
    if (cfg->max_body_bytes > (size_t)INT64_MAX || cfg->max_header_bytes > (size_t)INT64_MAX)
        return rx_error(RX_ERR_INVALID_ARG, "http: size limit too large");
    return RX_OK;
}

static void apply_defaults(rx_http_server *s, const rx_http_config *cfg)
{
    s->cfg = *cfg;
    strcpy(s->host_buf, cfg->host ? cfg->host : "127.0.0.1");
    s->cfg.host = s->host_buf;
    /* the TLS paths are only read in create; do not keep borrowed pointers */
    s->cfg.tls_cert = s->cfg.tls_key = s->cfg.tls_client_ca = NULL;
    if (!s->cfg.max_header_bytes) s->cfg.max_header_bytes = 16 * 1024;
    if (!s->cfg.max_body_bytes) s->cfg.max_body_bytes = 8 * 1024 * 1024;
    if (!s->cfg.header_timeout_ms) s->cfg.header_timeout_ms = 10 * 1000;
    if (!s->cfg.body_timeout_ms) s->cfg.body_timeout_ms = 30 * 1000;
    if (!s->cfg.idle_timeout_ms) s->cfg.idle_timeout_ms = 60 * 1000;
    if (!s->cfg.max_connections) s->cfg.max_connections = 1024;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg);
static void unlisten_cb(evutil_socket_t fd, short what, void *arg);
static void accept_retry_cb(evutil_socket_t fd, short what, void *arg);

static rx_status setup_events(rx_http_server *s)
{
    s->late_close_ev = event_new(s->base, -1, 0, rx_http__late_close_cb, s);
    s->post_ev = event_new(s->base, -1, 0, rx_http__post_cb, s);
    s->stop_ev = event_new(s->base, -1, 0, stop_cb, s);
    s->unlisten_ev = event_new(s->base, -1, 0, unlisten_cb, s);
    s->accept_retry_ev = event_new(s->base, -1, EV_PERSIST, accept_retry_cb, s);
    if (!s->late_close_ev || !s->post_ev || !s->stop_ev || !s->unlisten_ev || !s->accept_retry_ev)
        return rx_error(RX_ERR_NOMEM, "http: cannot allocate loop events");
    return RX_OK;
}

/* accept() failed for a reason other than "try again": out of file descriptors (EMFILE,
 * ENFILE) or kernel memory. The listening socket stays readable, so libevent would call accept
 * in a tight loop; pause it instead, and resume when one of our connections closes, and on a
 * 1 s tick. */
static void on_accept_error(struct evconnlistener *lev, void *srv)
{
    (void)srv;
    evconnlistener_disable(lev);
}

void rx_http__resume_accepting(rx_http_server *s)
{
    if (s->listener) evconnlistener_enable(s->listener);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http__resume_accepting(arg);
}

static rx_status bind_listener(rx_http_server *s)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(s->cfg.host, port, &hints, &ai);
    if (gai != 0)
        return rx_error(RX_ERR_IO, "http: cannot listen on %s:%d: %s", s->cfg.host, s->cfg.port,
                        gai_strerror(gai));
    int err = 0;
    for (struct addrinfo *a = ai; a && !s->listener; a = a->ai_next) {
        s->listener = evconnlistener_new_bind(
            s->base, rx_http__accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
            1024, a->ai_addr, (int)a->ai_addrlen);
        if (!s->listener) err = errno;
    }
    freeaddrinfo(ai);
    if (!s->listener)
        return rx_error(RX_ERR_IO, "http: cannot listen on %s:%d: %s", s->cfg.host, s->cfg.port,
                        strerror(err));
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    struct timeval tick = {1, 0};
    if (event_add(s->accept_retry_ev, &tick) != 0)
        return rx_error(RX_ERR_NOMEM, "http: cannot add the accept retry timer");
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    evutil_socket_t fd = evconnlistener_get_fd(s->listener);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return rx_error(RX_ERR_IO, "http: getsockname on %s failed: %s", s->cfg.host,
                        strerror(errno));
    if (ss.ss_family == AF_INET6)
        s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return RX_OK;
}

rx_status rx_http_server_create(const rx_http_config *cfg, rx_http_handler handler, void *user,
                                rx_http_server **out)
{
    if (!out) return rx_error(RX_ERR_INVALID_ARG, "http: out is NULL");
    *out = NULL;
    if (!cfg || !handler) return rx_error(RX_ERR_INVALID_ARG, "http: config or handler is NULL");
    rx_status st = check_config(cfg);
    if (st != RX_OK) return st;
    pthread_once(&evthread_once, init_evthread);
    if (evthread_rc != 0)
        return rx_error(RX_ERR_UNSUPPORTED, "http: libevent has no pthreads locking");
    ignore_sigpipe();

    rx_http_server *s = calloc(1, sizeof *s);
    if (!s) return rx_error(RX_ERR_NOMEM, "http: cannot allocate the server");
    if (pthread_mutex_init(&s->post_mu, NULL) != 0) {
        free(s);
        return rx_error(RX_ERR_NOMEM, "http: cannot create a mutex");
    }
    apply_defaults(s, cfg);
    s->handler = handler;
    s->user = user;
    s->base = event_base_new();
    if (!s->base) st = rx_error(RX_ERR_NOMEM, "http: event_base_new failed");
    if (st == RX_OK) st = setup_events(s);
    if (st == RX_OK && cfg->tls_cert) st = rx_http__tls_ctx(cfg, &s->tls);
    if (st == RX_OK) st = bind_listener(s);
    if (st != RX_OK) {
        rx_http_server_free(s);
        return st;
    }
    *out = s;
    return RX_OK;
}

struct event_base *rx_http_server_event_base(rx_http_server *s) { return s->base; }

int rx_http_server_port(const rx_http_server *s)
{
    return s ? s->port : 0;
}

int rx_http_server_n_connections(const rx_http_server *s)
{
    return s ? atomic_load(&((rx_http_server *)s)->n_conns) : 0;
}

rx_status rx_http_server_run(rx_http_server *s)
{
    if (!s) return rx_error(RX_ERR_INVALID_ARG, "http: server is NULL");
    /* run until stop, not until the loop has no events (it has none once not accepting) */
    if (event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY) < 0)
        return rx_error(RX_ERR_IO, "http: the event loop failed on %s:%d", s->cfg.host, s->port);
    return RX_OK;
}

static void unlisten(rx_http_server *s)
{
    s->draining = true;
    if (s->accept_retry_ev) event_del(s->accept_retry_ev);
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
}

static void unlisten_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    unlisten(arg);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http_server *s = arg;
    unlisten(s);
    rx_http__close_all(s);
    event_base_loopexit(s->base, NULL);
}

/* Both are preallocated events made active, so they cannot fail for lack of memory and are
 * safe from any thread (event_active takes the base lock and wakes the loop). */
void rx_http_server_stop_accepting(rx_http_server *s)
{
    if (s) event_active(s->unlisten_ev, EV_READ, 0);
}

void rx_http_server_stop(rx_http_server *s)
{
    if (s) event_active(s->stop_ev, EV_READ, 0);
}

void rx_http_server_free(rx_http_server *s)
{
    if (!s) return;
    if (s->base) {
        unlisten(s);
        rx_http__close_all(s);
    }
    /* Queued tasks still run (rx_http_post promises they will), here on the calling thread;
     * a task may queue more, so drain a few rounds. */
    for (int round = 0; round < 16 && s->post_head; round++)
        rx_http__run_posted(s);
    rx_http__late_close_cb(-1, 0, s);
    rx_http__free_timers(s);
    rx_http__late_close_cb(-1, 0, s);
    while (s->post_head) { /* left by tasks queued in the last round: drop them */
        rx_http_task_node *n = s->post_head;
        s->post_head = n->next;
        free(n);
    }
    if (s->late_close_ev) event_free(s->late_close_ev);
    if (s->post_ev) event_free(s->post_ev);
    if (s->stop_ev) event_free(s->stop_ev);
    if (s->unlisten_ev) event_free(s->unlisten_ev);
    if (s->accept_retry_ev) event_free(s->accept_retry_ev);
    if (s->tls) SSL_CTX_free(s->tls);
    if (s->base) event_base_free(s->base);
    pthread_mutex_destroy(&s->post_mu);
    free(s);
}
