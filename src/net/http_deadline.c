/* Per-phase deadlines. One inactivity timeout per connection (evhttp's kind) is reset by a
 * client trickling a byte at a time, forever. Here each phase gets an absolute deadline: the
 * request line and headers must arrive within header_timeout_ms of their first byte (or of the
 * accept, for the first request), the body within body_timeout_ms of the end of the headers,
 * a keep-alive connection may sit idle for idle_timeout_ms, and a closing connection lingers
 * for at most LINGER_MS. A response the client stops reading is the stall timer's: closed once
 * writes make no progress for the longest of the three timeouts plus 1 s. Timers are libevent's
 * min-heap, so moving between phases costs no system call. */
#include "net/internal.h"

enum { LINGER_MS = 2000 };

static void arm(struct event *ev, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

void rx_http__phase(rx_http_conn *c, rx_conn_phase phase)
{
    const rx_http_config *cfg = &c->srv->cfg;
    if (c->phase == phase && phase != RX_CONN_WAITING && evtimer_pending(c->deadline, NULL))
        return;
    c->phase = phase;
    switch (phase) {
    case RX_CONN_WAITING:
        /* a fresh connection owes us its first request; a reused one may rest */
        arm(c->deadline, c->served_one ? cfg->idle_timeout_ms : cfg->header_timeout_ms);
        break;
    case RX_CONN_HEADERS:
        arm(c->deadline, cfg->header_timeout_ms);
        break;
    case RX_CONN_BODY:
        arm(c->deadline, cfg->body_timeout_ms);
        break;
    case RX_CONN_HANDLER:
        evtimer_del(c->deadline);
        break;
    case RX_CONN_CLOSING:
        arm(c->deadline, LINGER_MS < cfg->idle_timeout_ms ? LINGER_MS : cfg->idle_timeout_ms);
        break;
    }
}

void rx_http__stall_check(rx_http_conn *c, bool progressed)
{
    if (rx_bytes_pending(&c->out) == 0) {
        if (evtimer_pending(c->stall, NULL)) evtimer_del(c->stall);
        return;
    }
    if (!progressed && evtimer_pending(c->stall, NULL)) return;
    const rx_http_config *cfg = &c->srv->cfg;
    int ms = cfg->header_timeout_ms;
    if (cfg->body_timeout_ms > ms) ms = cfg->body_timeout_ms;
    if (cfg->idle_timeout_ms > ms) ms = cfg->idle_timeout_ms;
    arm(c->stall, ms + 1000);
}

void rx_http__deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http__conn_close(arg);
}
