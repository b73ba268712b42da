/* Per-phase deadlines. evhttp 2.1 has one inactivity timeout per connection, which a client
 * trickling a byte at a time resets forever. Here each phase gets an absolute deadline: the
 * request line and headers must arrive within header_timeout_ms of their first byte (or of
 * the accept), the body within body_timeout_ms of the end of the headers, and a keep-alive
 * connection may sit idle for idle_timeout_ms. The end of the headers is found by scanning the
 * bytes as they land in the input buffer (an empty line after a non-empty one); the parsing
 * itself stays evhttp's. */
#include "net/internal.h"

static void arm(rx_http_conn *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->deadline, &tv);
}

/* Scans p[0..n) for the end of the header block; true once found. */
static bool scan_headers(rx_http_conn *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (!c->line_has_text && c->seen_line) return true;
            if (c->line_has_text) c->seen_line = true;
            c->line_has_text = false;
        } else if (p[i] != '\r') {
            c->line_has_text = true;
        }
    }
    return false;
}

/* Scans the last n bytes of buf; moves to RX_CONN_BODY at the end of the headers. */
static void scan_tail(rx_http_conn *c, struct evbuffer *buf, size_t n)
{
    size_t len = evbuffer_get_length(buf);
    if (n > len) n = len;
    struct evbuffer_ptr pos;
    if (evbuffer_ptr_set(buf, &pos, len - n, EVBUFFER_PTR_SET) != 0) return;
    struct evbuffer_iovec vec[8];
    while (n > 0) {
        int nv = evbuffer_peek(buf, (ev_ssize_t)n, &pos, vec, 8);
        if (nv <= 0) return;
        if (nv > 8) nv = 8;
        size_t done = 0;
        for (int i = 0; i < nv && done < n; i++) {
            size_t take = vec[i].iov_len < n - done ? vec[i].iov_len : n - done;
            if (scan_headers(c, vec[i].iov_base, take)) {
                rx_http__phase(c, RX_CONN_BODY);
                return;
            }
            done += take;
        }
        if (evbuffer_ptr_set(buf, &pos, done, EVBUFFER_PTR_ADD) != 0) return;
        n -= done;
    }
}

void rx_http__phase(rx_http_conn *c, rx_conn_phase phase)
{
    const rx_http_config *cfg = &c->srv->cfg;
    c->phase = phase;
    evtimer_del(c->deadline);
    switch (phase) {
    case RX_CONN_WAITING: {
        c->line_has_text = c->seen_line = false;
        /* a fresh connection owes us its first request; a reused one may rest */
        arm(c, c->served_one ? cfg->idle_timeout_ms : cfg->header_timeout_ms);
        /* a pipelined request may already be buffered: its clock is running */
        struct evbuffer *in = bufferevent_get_input(c->bev);
        size_t have = evbuffer_get_length(in);
        if (have > 0) {
            rx_http__phase(c, RX_CONN_HEADERS);
            scan_tail(c, in, have);
        }
        break;
    }
    case RX_CONN_HEADERS:
        arm(c, cfg->header_timeout_ms);
        break;
    case RX_CONN_BODY:
        arm(c, cfg->body_timeout_ms);
        break;
    case RX_CONN_HANDLER:
    case RX_CONN_RESPONDING:
        break;
    }
}

void rx_http__on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    rx_http_conn *c = arg;
    if (info->n_added == 0) return;
    if (c->phase == RX_CONN_WAITING) {
        rx_http__phase(c, RX_CONN_HEADERS);
        scan_tail(c, buf, evbuffer_get_length(buf));
    } else if (c->phase == RX_CONN_HEADERS) {
        scan_tail(c, buf, info->n_added);
    }
}

void rx_http__deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http_conn *c = arg;
    rx_http__conn_close(c, BEV_EVENT_TIMEOUT);
}
