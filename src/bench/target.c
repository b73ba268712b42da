/* The server under test: parses --url into host, port and endpoint path, and probes it with
 * one blocking TCP connect so a dead server fails the run at once with errno's words. */
#include <errno.h>
#include <event2/http.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "bench/internal.h"
#include "reflex/loadgen.h"

rx_status rx_bench__target(const char *url, int endpoint, rx_bench_target *t)
{
    memset(t, 0, sizeof *t);
    struct evhttp_uri *u = evhttp_uri_parse(url);
    if (!u) return rx_error(RX_ERR_INVALID_ARG, "not a URL: '%s'", url);
    const char *scheme = evhttp_uri_get_scheme(u), *host = evhttp_uri_get_host(u);
    const char *path = evhttp_uri_get_path(u);
    rx_status s = RX_OK;
    bool tls = scheme && strcmp(scheme, "https") == 0;
    if (!scheme || (!tls && strcmp(scheme, "http") != 0))
        s = rx_error(RX_ERR_INVALID_ARG, "%s: expected http://host[:port] or https://", url);
    else if (!host || !host[0] || strlen(host) >= sizeof t->host)
        s = rx_error(RX_ERR_INVALID_ARG, "%s: no host", url);
    else if (path && strlen(path) >= sizeof t->path - 32)
        s = rx_error(RX_ERR_INVALID_ARG, "%s: path too long", url);
    if (s == RX_OK) {
        int port = evhttp_uri_get_port(u);
        t->tls = tls;
        t->port = port > 0 ? port : tls ? 443 : 80;
        snprintf(t->host, sizeof t->host, "%s", host);
        snprintf(t->host_header, sizeof t->host_header, "%s:%d", host, t->port);
        size_t n = path ? strlen(path) : 0;
        while (n && path[n - 1] == '/')
            n--;
        /* accept both the server root and its /v1 base (what OpenAI clients call base_url) */
        bool v1 = n >= 3 && memcmp(path + n - 3, "/v1", 3) == 0;
        snprintf(t->path, sizeof t->path, "%.*s%s%s", (int)n, n ? path : "", v1 ? "" : "/v1",
                 endpoint == RX_LG_CHAT ? "/chat/completions" : "/completions");
    }
    evhttp_uri_free(u);
    return s;
}

/* Non-blocking connect bounded by timeout_ms; 0 or an errno. */
static int connect_within(const struct addrinfo *ai, int timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) return errno;
    int err = 0;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int r = poll(&p, 1, timeout_ms);
            socklen_t len = sizeof err;
            if (r == 0)
                err = ETIMEDOUT;
            else if (r < 0)
                err = errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
    }
    close(fd);
    return err;
}

rx_status rx_lg_probe(const char *url, double timeout_s)
{
    rx_bench_target t;
    rx_status s = rx_bench__target(url, RX_LG_COMPLETIONS, &t);
    if (s != RX_OK) return s;
    char port[16];
    snprintf(port, sizeof port, "%d", t.port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int g = getaddrinfo(t.host, port, &hints, &res);
    if (g != 0) return rx_error(RX_ERR_IO, "cannot resolve %s: %s", t.host, gai_strerror(g));
    int err = ETIMEDOUT;
    for (struct addrinfo *ai = res; ai && err; ai = ai->ai_next)
        err = connect_within(ai, timeout_s > 0 ? (int)(timeout_s * 1000) : 5000);
    freeaddrinfo(res);
    if (err) return rx_error(RX_ERR_IO, "cannot connect to %s: %s", t.host_header, strerror(err));
    return RX_OK;
}
