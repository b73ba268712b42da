/* The control channel between `reflex wan cut|heal|status` and the relay daemon: a Unix socket
 * in the WAN's state directory; one request line per connection ("status", "cut A-B",
 * "heal A-B"), one JSON answer, then the daemon closes. */
#include "wan/internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define REQUEST_MAX 1024
#define REPLY_MAX (1u << 20)
#define CLIENT_TIMEOUT_S 5

void rx_wan__state_path(const rx_wan_config *c, const char *file, char *buf, size_t size)
{
    const char *root = getenv("RX_WAN_RUN_DIR");
    if (!root || !root[0]) root = "/run/reflex-wan";
    snprintf(buf, size, "%s/%s%s%s", root, c->name, file[0] ? "/" : "", file);
}

/* --- the daemon's side --- */

typedef struct {
    rx_wan_relay *relay;      /* borrowed */
    const rx_wan_config *cfg; /* borrowed: the daemon's copy */
} control_ctx;

static json_t *answer(control_ctx *x, const char *line)
{
    if (strcmp(line, "status") == 0) return rx_wan__relay_status(x->relay);
    bool cut = strncmp(line, "cut ", 4) == 0;
    if (!cut && strncmp(line, "heal ", 5) != 0)
        return json_pack("{s:s}", "error", "unknown request (status, cut LINK, heal LINK)");
    const char *name = line + (cut ? 4 : 5);
    int k = rx_wan_find_link(x->cfg, name);
    if (k < 0) {
        char known[512] = "";
        for (int i = 0; i < x->cfg->n_links; i++) {
            char n[32];
            rx_wan_link_name(x->cfg, i, n, sizeof n);
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", n);
        }
        char msg[700];
        snprintf(msg, sizeof msg, "no link '%.64s' (links: %s)", name, known);
        return json_pack("{s:s}", "error", msg);
    }
    rx_status s = rx_wan__relay_set_cut(x->relay, k, cut);
    if (s != RX_OK) return json_pack("{s:s}", "error", rx_last_error());
    char n[32];
    rx_wan_link_name(x->cfg, k, n, sizeof n);
    fprintf(stderr, "reflex wan: link %s %s\n", n, cut ? "cut" : "healed");
    return json_pack("{s:s, s:s}", "link", n, "state", cut ? "cut" : "up");
}

static void on_drained(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_free(bev);
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

static void on_request(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > REQUEST_MAX) bufferevent_free(bev);
        return;
    }
    json_t *reply = answer(arg, line);
    free(line);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    bufferevent_disable(bev, EV_READ);
    bufferevent_setcb(bev, NULL, on_drained, on_client_event, arg);
    if (text) {
        bufferevent_write(bev, text, strlen(text));
        bufferevent_write(bev, "\n", 1);
    } else {
        static const char oom[] = "{\"error\":\"no memory\"}\n";
        bufferevent_write(bev, oom, sizeof oom - 1);
    }
    free(text);
}

static void on_control_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int len, void *arg)
{
    (void)sa;
    (void)len;
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close(fd);
        return;
    }
    bufferevent_setcb(bev, on_request, NULL, on_client_event, arg);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

rx_status rx_wan__control_listen(struct event_base *base, const rx_wan_config *c,
                                 rx_wan_relay *relay, struct evconnlistener **out)
{
    static control_ctx ctx; /* one daemon, one relay: lives as long as the process */
    ctx.relay = relay;
    ctx.cfg = c;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    rx_wan__state_path(c, "control.sock", sa.sun_path, sizeof sa.sun_path);
    unlink(sa.sun_path);
    *out = evconnlistener_new_bind(base, on_control_accept, &ctx,
                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                   (struct sockaddr *)&sa, sizeof sa);
    if (!*out) return rx_error(RX_ERR_IO, "cannot listen on %s: %s", sa.sun_path, strerror(errno));
    return RX_OK;
}

/* --- the CLI's side --- */

rx_status rx_wan_request(const rx_wan_config *c, const char *request, char **reply)
{
    *reply = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    rx_wan__state_path(c, "control.sock", sa.sun_path, sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return rx_error(RX_ERR_IO, "socket: %s", strerror(errno));
    struct timeval tv = {CLIENT_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return rx_error(RX_ERR_NOT_FOUND, "wan '%s' is not up", c->name);
        return rx_error(RX_ERR_IO, "cannot reach the relay at %s: %s", sa.sun_path, strerror(e));
    }
    char line[REQUEST_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", request);
    char *buf = malloc(REPLY_MAX + 1);
    size_t len = 0;
    rx_status s = RX_OK;
    if (!buf)
        s = rx_error(RX_ERR_NOMEM, "no memory");
    else if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n)
        s = rx_error(RX_ERR_IO, "cannot send to the relay: %s", strerror(errno));
    for (ssize_t r; s == RX_OK && (r = read(fd, buf + len, REPLY_MAX - len)) != 0;) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            s = rx_error(RX_ERR_IO, "no answer from the relay: %s", strerror(errno));
        else if ((len += (size_t)r) == REPLY_MAX)
            s = rx_error(RX_ERR_RANGE, "relay answer too long");
    }
    close(fd);
    if (s != RX_OK) {
        free(buf);
        return s;
    }
    buf[len] = '\0';
    json_t *j = json_loads(buf, 0, NULL);
    const char *err = json_is_object(j) ? json_string_value(json_object_get(j, "error")) : NULL;
    if (!json_is_object(j))
        s = rx_error(RX_ERR_FORMAT, "the relay's answer is not JSON: %.80s", buf);
    else if (err)
        s = rx_error(RX_ERR_INVALID_ARG, "%s", err);
    json_decref(j);
    if (s != RX_OK) {
        free(buf);
        return s;
    }
    buf[strcspn(buf, "\n")] = '\0';
    *reply = buf;
    return RX_OK;
}
