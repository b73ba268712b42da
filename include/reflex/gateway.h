/* The gateway: one OpenAI-compatible front door for a fleet of nodes across tiers. It routes each
 * request by filters (serves the model, allowed for the request's data domain, healthy, not
 * saturated) and scores (load, prefix-cache affinity, locality, latency), escalates to the
 * regional or central tier only when the local tier cannot serve, retries failures that happen
 * before the first byte on another node, resumes streams whose node dies mid-way, and answers a
 * fast 503 with Retry-After when nothing eligible is left. `reflex gateway` parses flags into
 * an rx_gateway_config; rx_gateway_run does the rest. */
#ifndef REFLEX_GATEWAY_H
#define REFLEX_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "reflex/http.h"
#include "reflex/status.h"
#include "reflex/topology.h"

typedef struct {
    rx_http_config http;       /* the gateway's own listener */
    rx_topology topo;          /* its tier/region/site and its upstreams */
    const char *name;          /* NULL: "gateway@HOST:PORT" */
    int poll_interval_ms;      /* /v1/status of every upstream; 0: 500 */
    int eject_ms;              /* a failing upstream is left out this long; 0: 5000 */
    double retry_budget;       /* retries at most this fraction of requests (+3); 0: 0.2 */
    int connect_timeout_ms;    /* 0: 2000 */
    int first_byte_timeout_ms; /* 0: 30000 */
    int idle_timeout_ms;       /* between streamed chunks; 0: 30000 */
    bool quiet;                /* no per-request log lines */
    int cache_ttl_ms;          /* response cache for when nothing is eligible; 0: off */
    bool hedge; /* a non-streamed request slower than its upstream's p95 is copied elsewhere */
    const char *admin_key; /* Bearer key for /admin/...; NULL: the admin API is off */
    /* Re-reads the topology (the config file and flags) on SIGHUP and POST /admin/reload;
     * NULL: reloading is off. On failure the running topology stays, and the message says why. */
    rx_status (*reload)(rx_topology *out, void *user);
    void *reload_user;
    void (*on_listening)(int port, void *user);
    void *on_listening_user;
} rx_gateway_config;

/* Serves until SIGTERM/SIGINT, then drains (running requests finish) and returns RX_OK. */
rx_status rx_gateway_run(const rx_gateway_config *cfg);

#endif
