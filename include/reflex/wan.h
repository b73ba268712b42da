/* reflex wan: an emulated wide-area network on one machine. Every host is a network namespace
 * (its own TCP stack and address); every link between two hosts is a middle namespace where a
 * user-space relay forwards TCP with the configured one-way delay, jitter and rate, and can be
 * cut (a partition) and healed. Needs root; the relay runs as a detached daemon per WAN name,
 * controlled through a Unix socket under /run/reflex-wan/<name>/.
 *
 * Config (YAML):
 *   name: rxwan
 *   hosts:
 *     - {name: edge, ports: [8080]}     # ports a linked peer may reach on this host
 *   links:
 *     - {a: client, b: edge, delay: 1ms, jitter: 0.2ms, rate: 100mbit}
 *
 * Host i is reached from every host linked to it at its service address 10.77.0.(i+1). */
#ifndef REFLEX_WAN_H
#define REFLEX_WAN_H

#include <stddef.h>
#include <stdint.h>

#include "reflex/status.h"

#define RX_WAN_MAX_HOSTS 16
#define RX_WAN_MAX_LINKS 32
#define RX_WAN_MAX_PORTS 16          /* per host */
#define RX_WAN_NAME_MAX 24           /* the WAN name, the prefix of every namespace */
#define RX_WAN_HOST_NAME_MAX 12      /* "to-<host>" names an interface: 15 characters at most */
#define RX_WAN_MAX_DELAY_US 10000000 /* 10 s one way */
#define RX_WAN_MAX_RATE_BPS 100000000000ull /* 100 gbit */

typedef struct {
    char name[RX_WAN_HOST_NAME_MAX + 1];
    int n_ports;
    uint16_t ports[RX_WAN_MAX_PORTS];
} rx_wan_host;

typedef struct {
    int a, b;          /* host indexes, a != b */
    int64_t delay_us;  /* one way, each direction */
    int64_t jitter_us; /* uniform in [-jitter, +jitter], at most delay_us */
    uint64_t rate_bps; /* bits per second each way; 0: unlimited */
} rx_wan_link;

typedef struct {
    char name[RX_WAN_NAME_MAX + 1];
    int n_hosts, n_links;
    rx_wan_host hosts[RX_WAN_MAX_HOSTS];
    rx_wan_link links[RX_WAN_MAX_LINKS];
} rx_wan_config;

/* Parses text[0..len); origin names it in messages ("config FILE:LINE:COL: links[2].delay: ...").
 * Fails with RX_ERR_FORMAT (or RX_ERR_RANGE for a limit) and one message naming the field. */
rx_status rx_wan_config_parse(const char *text, size_t len, const char *origin, rx_wan_config *out);
rx_status rx_wan_config_load(const char *path, rx_wan_config *out); /* at most 64 KiB */

/* The index of link "A-B" (either order), or -1. */
int rx_wan_find_link(const rx_wan_config *c, const char *name);

/* "<name>-<host>": the namespace of host i; "A-B": the name of link k. */
void rx_wan_host_netns(const rx_wan_config *c, int host, char *buf, size_t size);
void rx_wan_link_name(const rx_wan_config *c, int link, char *buf, size_t size);
/* 10.77.0.(i+1) in network byte order, and as text. */
uint32_t rx_wan_service_addr(int host);
void rx_wan_service_addr_str(int host, char *buf, size_t size);

/* Creates the namespaces and links, then starts the relay daemon and returns once it listens.
 * Fails with a message when the WAN is already up, a namespace it needs exists, or `ip` fails
 * (then everything made so far is removed again). Needs root. */
rx_status rx_wan_up(const rx_wan_config *c);

/* Stops the relay daemon and deletes every namespace the config names. Safe to repeat, and after
 * an `up` that crashed half-way. *was_up tells whether a daemon was running. */
rx_status rx_wan_down(const rx_wan_config *c, int *was_up);

/* One request to the running relay: "cut LINK", "heal LINK" or "status". *reply (malloc'd, the
 * caller frees) is the daemon's JSON answer: the status object, or {"ok":...}. A WAN that is not
 * up is RX_ERR_NOT_FOUND; an answer {"error": msg} becomes RX_ERR_INVALID_ARG with msg. */
rx_status rx_wan_request(const rx_wan_config *c, const char *request, char **reply);

#endif
