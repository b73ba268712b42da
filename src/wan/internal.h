/* Shared inside src/wan: value parsing, the delivery schedule (pure functions, unit-tested),
 * namespace set-up, the relay and its control channel. */
#ifndef RX_WAN_INTERNAL_H
#define RX_WAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <unistd.h>

#include "reflex/wan.h"

/* Reads fd to its end (EINTR retried) into buf, at most size - 1 bytes, NUL-terminated; returns
 * the length. For the short messages of a child process (ip's stderr, the daemon's "ok"). */
static inline size_t rx_wan__read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t r = read(fd, buf + len, size - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    return len;
}

/* --- units.c: "75ms", "1.5ms", "200us", "1s" and "100mbit", "512kbit", "1gbit" --- */
bool rx_wan__parse_duration_us(const char *s, int64_t *out_us);
bool rx_wan__parse_rate_bps(const char *s, uint64_t *out_bps);

/* --- schedule.c: when bytes read from one end of a link reach the other --- */

/* A link direction's transmitter, shared by every connection on it: bytes leave one after
 * another at the link's rate, so connections share the bandwidth as on a real line. */
typedef struct {
    int64_t tx_free_us; /* when the bytes taken so far have all left */
} rx_wan_shaper;

/* When the last of n bytes offered at now_us has left a link of rate_bps (0: unlimited, now). */
int64_t rx_wan__transmit(rx_wan_shaper *s, int64_t now_us, size_t n, uint64_t rate_bps);
/* max(prev_us, sent_us + delay_us + jitter_us), never before sent_us: a byte stream stays in
 * order however the jitter falls, as TCP delivers it. */
int64_t rx_wan__deliver_at(int64_t prev_us, int64_t sent_us, int64_t delay_us, int64_t jitter_us);
/* A sample uniform in [-jitter_us, +jitter_us] from a splitmix64 state. */
int64_t rx_wan__jitter(uint64_t *rng, int64_t jitter_us);
/* The earliest arrival of a new connection's first bytes at either end. The kernel completed
 * the client's handshake at once, so the round trip it skipped (2 x delay) is charged here, then
 * the crossing itself: connect + request + response then cost 4 x delay, as over a real link. */
int64_t rx_wan__open_hold(int64_t accept_us, int64_t delay_us);
/* Timers wake late (a VM's timer wake-up often takes 0.2-0.5 ms), which would add to every
 * crossing. The relay keeps a moving average of that lateness (ewma_us, updated with one
 * observed late_us), arms timers that much early, and waits out the rest on the clock. At most
 * RX_WAN_MAX_WAKE_EARLY_US. */
#define RX_WAN_MAX_WAKE_EARLY_US 1000
void rx_wan__lateness_update(int64_t *ewma_us, int64_t late_us);
/* The largest piece read at once: about 1 ms of the link's rate, 1500 B .. 64 KiB. */
size_t rx_wan__chunk_bytes(uint64_t rate_bps);

/* --- netns.c: namespaces, veth pairs, addresses and routes through `ip` --- */

/* "<name>-l<k>": the middle namespace of link k, where its relay listens. */
void rx_wan__link_netns(const rx_wan_config *c, int link, char *buf, size_t size);
/* The veth addresses of link k: host a's end, the link namespace's two ends, host b's end. */
uint32_t rx_wan__veth_addr(int link, int which); /* which: 0 a, 1 link-a, 2 link-b, 3 b */
rx_status rx_wan__netns_create(const rx_wan_config *c);
/* Deletes every namespace of c that exists; *found counts them. */
rx_status rx_wan__netns_delete(const rx_wan_config *c, int *found);
/* Opens /run/netns/<name> (O_RDONLY|O_CLOEXEC); -1 with a message if absent. */
int rx_wan__netns_open(const char *name);

/* --- relay.c: the daemon's forwarding engine (libevent) --- */
typedef struct rx_wan_relay rx_wan_relay;
struct event_base;
struct evconnlistener;

/* Listens in every link namespace; fails with a message naming the address. */
rx_status rx_wan__relay_create(struct event_base *base, const rx_wan_config *c, rx_wan_relay **out);
void rx_wan__relay_destroy(rx_wan_relay *r); /* accepts NULL */
rx_status rx_wan__relay_set_cut(rx_wan_relay *r, int link, bool cut);
/* The status object (config, state and counters): a new jansson reference. */
struct json_t;
struct json_t *rx_wan__relay_status(const rx_wan_relay *r);

/* --- control.c: the Unix socket between the CLI and the daemon --- */
/* /run/reflex-wan/<name> (RX_WAN_RUN_DIR overrides /run/reflex-wan) and files in it. */
void rx_wan__state_path(const rx_wan_config *c, const char *file, char *buf, size_t size);
/* Serves one-line requests on <state>/control.sock until the base stops. */
rx_status rx_wan__control_listen(struct event_base *base, const rx_wan_config *c,
                                 rx_wan_relay *relay, struct evconnlistener **out);

#endif
