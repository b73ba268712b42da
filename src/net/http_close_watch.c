/* Notices a client that goes away while the owner holds its request. evhttp stops reading a
 * connection once a request is complete, so on its own it learns of a disconnect only when a
 * later write fails; a generation could run for minutes for nobody. While the request is out
 * we watch the socket for EV_CLOSED (EPOLLRDHUP) without reading from it, and check with
 * poll(POLLRDHUP) so unread bytes (a pipelined request, a TLS record) are not taken for a
 * close. Once unread bytes are pending the fd stays readable, so we poll on a timer instead.
 * A client that half-closes (shutdown(SHUT_WR)) after its request counts as gone. */
#include <poll.h>

#include "net/internal.h"

enum { POLL_INTERVAL_MS = 200 };

/* 1: the peer closed or reset; 0: open with unread bytes; -1: open, nothing to read. */
static int peer_state(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) < 0) return -1;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return 1;
    return (p.revents & POLLIN) ? 0 : -1;
}

static void poll_later(rx_http_conn *c)
{
    struct timeval tv = {0, POLL_INTERVAL_MS * 1000};
    evtimer_add(c->watch_poll, &tv);
}

void rx_http__watch_start(rx_http_conn *c)
{
    int st = peer_state(c->fd);
    if (st == 0)
        poll_later(c);
    else
        event_add(c->watch_io, NULL); /* st == 1 fires at once and is handled there */
}

void rx_http__watch_stop(rx_http_conn *c)
{
    event_del(c->watch_io);
    evtimer_del(c->watch_poll);
}

void rx_http__watch_io_cb(evutil_socket_t fd, short what, void *arg)
{
    rx_http_conn *c = arg;
    int st = peer_state(fd);
    if ((what & EV_CLOSED) || st == 1)
        rx_http__conn_close(c, BEV_EVENT_EOF);
    else if (st == 0)
        poll_later(c);
    else
        event_add(c->watch_io, NULL);
}

void rx_http__watch_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http_conn *c = arg;
    if (peer_state(c->fd) == 1)
        rx_http__conn_close(c, BEV_EVENT_EOF);
    else
        poll_later(c);
}
