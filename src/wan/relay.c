/* The WAN relay: for every link, listeners inside the link's namespace on each end's service
 * address and forwarded ports; each accepted connection gets an onward connection to the other
 * end, and the bytes of each direction wait in a queue until the schedule (schedule.c) says they
 * have crossed the link. One event loop serves every link of a WAN.
 *
 * A connection is two pipes: pipe[s] carries what side[s] sends to side[1-s]. Each pipe keeps
 * the bytes read but not yet delivered in one evbuffer and a ring of records (delivery time,
 * length, or an end-of-stream mark). Reading stops while a pipe holds more than PIPE_HIGH bytes
 * (with what waits in the receiver's output buffer), so a slow receiver or a cut link pushes back
 * on the sender through TCP, as a real path would.
 *
 * Cut: the listeners close (new connections are refused) and the timers deliver nothing, so
 * bytes wait as in a partition; heal reopens the listeners, and what waited goes on one delay
 * after the heal. */
#include "wan/internal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

#define PIPE_HIGH (4u << 20) /* stop reading the sender beyond this much held */
#define PIPE_LOW (1u << 20)  /* and read again below this */
#define PIPE_MAX_RECORDS 65536
#define LISTEN_BACKLOG 256

typedef struct {
    int64_t at_us;
    uint32_t len; /* 0: the end of the stream */
    bool reset;   /* with len 0: the sender's connection broke, reset the receiver's */
} record;

struct conn;

typedef struct {
    struct conn *conn;     /* borrowed: the owner */
    int side;              /* reads side[side], writes side[1 - side] */
    int dir;               /* the link direction: 0 a->b, 1 b->a */
    struct evbuffer *held; /* owned: read, not yet delivered */
    record *q;             /* owned ring */
    size_t q_head, q_len, q_cap;
    int64_t last_at_us;  /* delivery time of the newest record (order is kept) */
    struct event *timer; /* owned */
    int64_t wake_us;     /* when the timer was asked to fire */
    bool eof_read, eof_queued_out, eof_done;
} wpipe;

struct relay_link;

typedef struct conn {
    struct relay_link *link;     /* borrowed */
    struct bufferevent *side[2]; /* owned: 0 the initiator (accepted), 1 the onward socket */
    wpipe pipe[2];
    bool connected; /* the onward connect has completed */
    struct conn *prev, *next;
} conn;

typedef struct {
    struct evconnlistener *l; /* owned; NULL while the link is cut */
    struct relay_link *link;  /* borrowed */
    int dir;                  /* 0: listens for b's port, reached from a */
    uint16_t port;
    struct sockaddr_in bind_addr, onward;
} listener;

typedef struct relay_link {
    rx_wan_relay *relay; /* borrowed */
    int index;
    rx_wan_link cfg;
    int netns_fd;
    bool cut;
    rx_wan_shaper shaper[2];
    uint64_t bytes[2], connections, active;
    conn *conns;
    int n_listeners;
    listener listeners[2 * RX_WAN_MAX_PORTS];
} relay_link;

struct rx_wan_relay {
    struct event_base *base; /* borrowed */
    rx_wan_config cfg;
    int self_ns; /* the namespace the daemon started in */
    uint64_t rng;
    int64_t wake_early_us; /* see rx_wan__lateness_update */
    relay_link links[RX_WAN_MAX_LINKS];
};

static int64_t now_us(void)
{
    return (int64_t)(rx_now_ns() / 1000u);
}

/* A TCP socket created inside the link's namespace (a socket stays in the namespace it was
 * made in, whatever the process does afterwards). */
static int socket_in(relay_link *lk)
{
    rx_wan_relay *r = lk->relay;
    if (setns(lk->netns_fd, CLONE_NEWNET) != 0) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int saved = errno;
    if (setns(r->self_ns, CLONE_NEWNET) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    errno = saved;
    return fd;
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* --- the pipes --- */

static void conn_free(conn *c)
{
    relay_link *lk = c->link;
    for (int s = 0; s < 2; s++) {
        if (c->side[s]) bufferevent_free(c->side[s]);
        if (c->pipe[s].timer) event_free(c->pipe[s].timer);
        if (c->pipe[s].held) evbuffer_free(c->pipe[s].held);
        free(c->pipe[s].q);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        lk->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    lk->active--;
    free(c);
}

/* Closes the receiving socket with a reset, as a broken connection looks from afar. */
static void conn_reset(conn *c, int side)
{
    if (c->side[side]) {
        struct linger lg = {1, 0};
        setsockopt(bufferevent_getfd(c->side[side]), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    conn_free(c);
}

static bool push(wpipe *p, record rec)
{
    if (p->q_len > 0 && rec.len > 0) {
        record *tail = &p->q[(p->q_head + p->q_len - 1) % p->q_cap];
        if (tail->len > 0 && tail->at_us == rec.at_us && tail->len + rec.len > tail->len) {
            tail->len += rec.len;
            return true;
        }
    }
    if (p->q_len == p->q_cap) {
        size_t cap = p->q_cap ? p->q_cap * 2 : 16;
        record *q = malloc(cap * sizeof *q);
        if (!q) return false;
        for (size_t i = 0; i < p->q_len; i++)
            q[i] = p->q[(p->q_head + i) % p->q_cap];
        free(p->q);
        p->q = q;
        p->q_cap = cap;
        p->q_head = 0;
    }
    p->q[(p->q_head + p->q_len++) % p->q_cap] = rec;
    return true;
}

static void arm(wpipe *p)
{
    if (p->q_len == 0 || p->conn->link->cut) return;
    int64_t now = now_us();
    p->wake_us = p->q[p->q_head].at_us - p->conn->link->relay->wake_early_us;
    int64_t wait = p->wake_us - now;
    if (wait < 0) wait = 0;
    struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};
    event_add(p->timer, &tv);
}

static size_t backlog_bytes(const wpipe *p)
{
    const conn *c = p->conn;
    size_t out = c->side[1 - p->side]
                     ? evbuffer_get_length(bufferevent_get_output(c->side[1 - p->side]))
                     : 0;
    return evbuffer_get_length(p->held) + out;
}

/* Reads again once the backlog has drained (or stops when it has grown). */
static void flow(wpipe *p)
{
    conn *c = p->conn;
    if (p->eof_read || !c->side[p->side] || (p->side == 1 && !c->connected)) return;
    size_t held = backlog_bytes(p);
    if (held >= PIPE_HIGH || p->q_len >= PIPE_MAX_RECORDS)
        bufferevent_disable(c->side[p->side], EV_READ);
    else if (held <= PIPE_LOW)
        bufferevent_enable(c->side[p->side], EV_READ);
}

/* Queues whatever side[p->side] has sent, stamped with its arrival time at the far end. */
static void take(wpipe *p)
{
    conn *c = p->conn;
    relay_link *lk = c->link;
    struct evbuffer *in = bufferevent_get_input(c->side[p->side]);
    size_t chunk = rx_wan__chunk_bytes(lk->cfg.rate_bps);
    bool was_empty = p->q_len == 0;
    for (size_t n; (n = evbuffer_get_length(in)) > 0;) {
        if (n > chunk) n = chunk;
        int64_t now = now_us();
        int64_t sent = rx_wan__transmit(&lk->shaper[p->dir], now, n, lk->cfg.rate_bps);
        int64_t at = rx_wan__deliver_at(p->last_at_us, sent, lk->cfg.delay_us,
                                        rx_wan__jitter(&lk->relay->rng, lk->cfg.jitter_us));
        if (!push(p, (record){at, (uint32_t)n, false})) break; /* no memory: read it later */
        evbuffer_remove_buffer(in, p->held, n);
        p->last_at_us = at;
    }
    if (was_empty) arm(p);
    flow(p);
}

static void queue_end(wpipe *p, bool reset)
{
    relay_link *lk = p->conn->link;
    int64_t at = rx_wan__deliver_at(p->last_at_us, now_us(), lk->cfg.delay_us,
                                    rx_wan__jitter(&lk->relay->rng, lk->cfg.jitter_us));
    p->eof_read = true;
    bool was_empty = p->q_len == 0;
    if (!push(p, (record){at, 0, reset})) {
        conn_reset(p->conn, 1 - p->side); /* cannot even queue the end: give up now */
        return;
    }
    p->last_at_us = at;
    if (was_empty) arm(p);
}

/* After a delivered end of stream: half-close once the output has drained; the connection is
 * done when both directions are. Returns true if c was freed. */
static bool finish_eof(wpipe *p)
{
    conn *c = p->conn;
    struct bufferevent *dst = c->side[1 - p->side];
    if (!p->eof_queued_out || p->eof_done) return false;
    /* a half-close before the onward connect completes would be lost: it waits for it */
    if (p->side == 0 && !c->connected) return false;
    if (evbuffer_get_length(bufferevent_get_output(dst)) > 0) return false;
    shutdown(bufferevent_getfd(dst), SHUT_WR);
    p->eof_done = true;
    if (c->pipe[0].eof_done && c->pipe[1].eof_done) {
        conn_free(c);
        return true;
    }
    return false;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wpipe *p = arg;
    conn *c = p->conn;
    relay_link *lk = c->link;
    if (lk->cut) return; /* heal re-arms */
    struct bufferevent *dst = c->side[1 - p->side];
    int64_t now = now_us();
    rx_wan__lateness_update(&lk->relay->wake_early_us, now - p->wake_us);
    /* woken early on purpose: wait out the rest on the clock (well under a millisecond) */
    if (p->q_len > 0 && p->q[p->q_head].at_us > now &&
        p->q[p->q_head].at_us - now <= RX_WAN_MAX_WAKE_EARLY_US)
        while ((now = now_us()) < p->q[p->q_head].at_us) {
        }
    while (p->q_len > 0 && p->q[p->q_head].at_us <= now) {
        record rec = p->q[p->q_head];
        p->q_head = (p->q_head + 1) % p->q_cap;
        p->q_len--;
        if (rec.len > 0) {
            evbuffer_remove_buffer(p->held, bufferevent_get_output(dst), rec.len);
            lk->bytes[p->dir] += rec.len;
        } else if (rec.reset) {
            conn_reset(c, 1 - p->side);
            return;
        } else {
            p->eof_queued_out = true;
            if (finish_eof(p)) return;
        }
    }
    arm(p);
    flow(p);
}

/* --- the sockets --- */

static void on_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    take(&c->pipe[bev == c->side[0] ? 0 : 1]);
}

/* side[s]'s output drained: a pending half-close can go, and its sender may read again. */
static void on_write(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    wpipe *p = &c->pipe[bev == c->side[0] ? 1 : 0];
    if (finish_eof(p)) return;
    flow(p);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    int s = bev == c->side[0] ? 0 : 1;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        nodelay(bufferevent_getfd(bev));
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        finish_eof(&c->pipe[0]);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        /* the connection broke (or the onward connect was refused): nothing more goes to this
         * side; the other learns it one delay later, by a reset */
        wpipe *in = &c->pipe[1 - s];
        event_del(in->timer);
        in->q_len = 0;
        evbuffer_drain(in->held, evbuffer_get_length(in->held));
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        if (!c->pipe[s].eof_read) {
            queue_end(&c->pipe[s], true);
        } else {
            conn_reset(c, 1 - s);
        }
        return;
    }
    if (what & BEV_EVENT_EOF) {
        take(&c->pipe[s]);
        bufferevent_disable(bev, EV_READ);
        if (!c->pipe[s].eof_read) queue_end(&c->pipe[s], false);
    }
}

static bool pipe_init(conn *c, int s, int dir, struct event_base *base, int64_t hold_us)
{
    wpipe *p = &c->pipe[s];
    p->conn = c;
    p->side = s;
    p->dir = dir;
    p->last_at_us = hold_us;
    p->held = evbuffer_new();
    p->timer = evtimer_new(base, on_timer, p);
    return p->held && p->timer;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l;
    (void)sa;
    (void)len;
    listener *li = arg;
    relay_link *lk = li->link;
    struct event_base *base = lk->relay->base;
    conn *c = calloc(1, sizeof *c);
    int onward = -1;
    if (!c) goto fail;
    c->link = lk;
    lk->active++;
    if (lk->conns) lk->conns->prev = c;
    c->next = lk->conns;
    lk->conns = c;
    int64_t hold = rx_wan__open_hold(now_us(), lk->cfg.delay_us);
    if (!pipe_init(c, 0, li->dir, base, hold) || !pipe_init(c, 1, 1 - li->dir, base, hold))
        goto fail;
    c->side[0] = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->side[0]) goto fail;
    fd = -1;
    onward = socket_in(lk);
    if (onward < 0) goto fail;
    c->side[1] = bufferevent_socket_new(base, onward, BEV_OPT_CLOSE_ON_FREE);
    if (!c->side[1]) goto fail;
    onward = -1;
    nodelay(bufferevent_getfd(c->side[0]));
    for (int s = 0; s < 2; s++)
        bufferevent_setcb(c->side[s], on_read, on_write, on_event, c);
    lk->connections++;
    bufferevent_enable(c->side[0], EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(c->side[1], (struct sockaddr *)&li->onward, sizeof li->onward) !=
        0)
        on_event(c->side[1], BEV_EVENT_ERROR, c);
    return;
fail:
    fprintf(stderr, "reflex wan: dropping a connection on link %d: %s\n", lk->index,
            strerror(errno));
    if (fd >= 0) close(fd);
    if (onward >= 0) close(onward);
    if (c) conn_free(c);
}

/* --- listeners --- */

static rx_status listen_one(listener *li)
{
    relay_link *lk = li->link;
    char addr[32];
    unsigned a = ntohl(li->bind_addr.sin_addr.s_addr);
    snprintf(addr, sizeof addr, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
             li->port);
    int fd = socket_in(lk);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&li->bind_addr, sizeof li->bind_addr) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        rx_status s = rx_error(RX_ERR_IO, "relay cannot listen on %s in link %d's namespace: %s",
                               addr, lk->index, strerror(errno));
        if (fd >= 0) close(fd);
        return s;
    }
    li->l = evconnlistener_new(lk->relay->base, on_accept, li, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    if (!li->l) {
        close(fd);
        return rx_error(RX_ERR_NOMEM, "relay cannot listen on %s: no memory", addr);
    }
    return RX_OK;
}

static void sockaddr_of(struct sockaddr_in *sa, uint32_t addr_net, uint16_t port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = addr_net;
    sa->sin_port = htons(port);
}

static rx_status link_open(rx_wan_relay *r, int k)
{
    relay_link *lk = &r->links[k];
    lk->relay = r;
    lk->index = k;
    lk->cfg = r->cfg.links[k];
    char ns[64];
    rx_wan__link_netns(&r->cfg, k, ns, sizeof ns);
    lk->netns_fd = rx_wan__netns_open(ns);
    if (lk->netns_fd < 0) return RX_ERR_NOT_FOUND;
    /* dir 0: a reaches b's ports; dir 1: b reaches a's */
    for (int dir = 0; dir < 2; dir++) {
        int to = dir == 0 ? lk->cfg.b : lk->cfg.a;
        uint32_t onward = htonl(rx_wan__veth_addr(k, dir == 0 ? 3 : 0));
        const rx_wan_host *h = &r->cfg.hosts[to];
        for (int i = 0; i < h->n_ports; i++) {
            listener *li = &lk->listeners[lk->n_listeners++];
            li->link = lk;
            li->dir = dir;
            li->port = h->ports[i];
            sockaddr_of(&li->bind_addr, rx_wan_service_addr(to), h->ports[i]);
            sockaddr_of(&li->onward, onward, h->ports[i]);
            rx_status s = listen_one(li);
            if (s != RX_OK) return s;
        }
    }
    return RX_OK;
}

rx_status rx_wan__relay_create(struct event_base *base, const rx_wan_config *c, rx_wan_relay **out)
{
    *out = NULL;
    rx_wan_relay *r = calloc(1, sizeof *r);
    if (!r) return rx_error(RX_ERR_NOMEM, "no memory");
    r->base = base;
    r->cfg = *c;
    r->rng = rx_now_ns() ^ ((uint64_t)getpid() << 32);
    for (int k = 0; k < RX_WAN_MAX_LINKS; k++)
        r->links[k].netns_fd = -1;
    r->self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    rx_status s = r->self_ns >= 0
                      ? RX_OK
                      : rx_error(RX_ERR_IO, "cannot open /proc/self/ns/net: %s", strerror(errno));
    for (int k = 0; s == RX_OK && k < c->n_links; k++)
        s = link_open(r, k);
    if (s != RX_OK) {
        rx_wan__relay_destroy(r);
        return s;
    }
    *out = r;
    return RX_OK;
}

void rx_wan__relay_destroy(rx_wan_relay *r)
{
    if (!r) return;
    for (int k = 0; k < RX_WAN_MAX_LINKS; k++) {
        relay_link *lk = &r->links[k];
        while (lk->conns)
            conn_free(lk->conns);
        for (int i = 0; i < lk->n_listeners; i++)
            if (lk->listeners[i].l) evconnlistener_free(lk->listeners[i].l);
        if (lk->netns_fd >= 0) close(lk->netns_fd);
    }
    if (r->self_ns >= 0) close(r->self_ns);
    free(r);
}

rx_status rx_wan__relay_set_cut(rx_wan_relay *r, int link, bool cut)
{
    relay_link *lk = &r->links[link];
    if (lk->cut == cut) return RX_OK;
    if (cut) {
        lk->cut = true;
        for (int i = 0; i < lk->n_listeners; i++) {
            evconnlistener_free(lk->listeners[i].l);
            lk->listeners[i].l = NULL;
        }
        for (conn *c = lk->conns; c; c = c->next)
            for (int s = 0; s < 2; s++)
                event_del(c->pipe[s].timer);
        return RX_OK;
    }
    for (int i = 0; i < lk->n_listeners; i++) {
        rx_status s = listen_one(&lk->listeners[i]);
        if (s != RX_OK) return s;
    }
    lk->cut = false;
    /* what waited crosses one delay after the heal, in order */
    int64_t resume = now_us() + lk->cfg.delay_us;
    for (conn *c = lk->conns; c; c = c->next)
        for (int s = 0; s < 2; s++) {
            wpipe *p = &c->pipe[s];
            for (size_t i = 0; i < p->q_len; i++) {
                record *rec = &p->q[(p->q_head + i) % p->q_cap];
                if (rec->at_us < resume) rec->at_us = resume;
            }
            if (p->last_at_us < resume && p->q_len > 0) p->last_at_us = resume;
            arm(p);
        }
    return RX_OK;
}

/* A millisecond figure as an integer when whole, else a real. */
static json_t *ms_value(int64_t us)
{
    return us % 1000 == 0 ? json_integer(us / 1000) : json_real((double)us / 1000.0);
}

json_t *rx_wan__relay_status(const rx_wan_relay *r)
{
    const rx_wan_config *c = &r->cfg;
    json_t *hosts = json_array(), *links = json_array();
    for (int h = 0; h < c->n_hosts; h++) {
        char ns[64], addr[32];
        rx_wan_host_netns(c, h, ns, sizeof ns);
        rx_wan_service_addr_str(h, addr, sizeof addr);
        json_t *ports = json_array();
        for (int i = 0; i < c->hosts[h].n_ports; i++)
            json_array_append_new(ports, json_integer(c->hosts[h].ports[i]));
        json_array_append_new(hosts, json_pack("{s:s, s:s, s:s, s:o}", "name", c->hosts[h].name,
                                               "netns", ns, "address", addr, "ports", ports));
    }
    for (int k = 0; k < c->n_links; k++) {
        const relay_link *lk = &r->links[k];
        char name[32], ns[64];
        rx_wan_link_name(c, k, name, sizeof name);
        rx_wan__link_netns(c, k, ns, sizeof ns);
        json_t *rate = lk->cfg.rate_bps % 1000000 == 0
                           ? json_integer((json_int_t)(lk->cfg.rate_bps / 1000000))
                           : json_real((double)lk->cfg.rate_bps / 1e6);
        json_array_append_new(
            links,
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:I, s:I, s:I, s:I}", "name", name,
                      "a", c->hosts[lk->cfg.a].name, "b", c->hosts[lk->cfg.b].name, "netns", ns,
                      "delay_ms", ms_value(lk->cfg.delay_us), "jitter_ms",
                      ms_value(lk->cfg.jitter_us), "rate_mbit", rate, "state",
                      lk->cut ? "cut" : "up", "bytes_a_to_b", (json_int_t)lk->bytes[0],
                      "bytes_b_to_a", (json_int_t)lk->bytes[1], "connections",
                      (json_int_t)lk->connections, "active_connections", (json_int_t)lk->active));
    }
    return json_pack("{s:s, s:I, s:o, s:o}", "name", c->name, "relay_pid", (json_int_t)getpid(),
                     "hosts", hosts, "links", links);
}
