/* The gateway's private state, shared by gateway.c (lifecycle, operations endpoints),
 * upstream.c (pools, status polling, ejection), route.c (filters and scores) and proxy.c
 * (forwarding, retries, stream resumption). Loop thread only. */
#ifndef RX_GATEWAY_INTERNAL_H
#define RX_GATEWAY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/histogram.h"
#include "core/slo_window.h"
#include "reflex/gateway.h"
#include "reflex/http.h"
#include "reflex/http_client.h"
#include "net/auth.h"

#define GW_MAX_DIGESTS 64

typedef struct {
    rx_upstream_spec spec;
    rx_http_pool *pool; /* owned */
    /* from the last /v1/status poll */
    bool polled, healthy;
    int slots_total, slots_busy, queue_depth, queue_cap;
    double status_ttft_ms;
    uint64_t digests[GW_MAX_DIGESTS];
    int n_digests;
    bool retired;        /* left the topology: no new requests; its slot is reused once idle */
    rx_slo_window slo;   /* the last minute's TTFT and errors through this upstream */
    rx_histogram ttft;   /* seconds, first byte as the client saw it */
    rx_slo_window unary; /* the last minute's whole non-streamed answers (the hedge's p95) */
    rx_http_call *poll;  /* in flight, or NULL */
    char *poll_body;     /* owned: the status body being received */
    size_t poll_len;
    /* measured by the gateway */
    uint64_t ejected_until_ns;
    int failures_in_row;
    int in_flight;
    double ewma_ms; /* time to response head */
    uint64_t requests, errors, ejections;
} gw_upstream;

typedef struct {
    uint64_t requests, retries, failovers, escalations, ejections, unavailable, resumed;
    /* shadow copies: made; not sent (no eligible shadow upstream: a saturated or unhealthy
     * candidate sheds its copies rather than slow the live path); sent and failed */
    uint64_t shadow_requests, shadow_dropped, shadow_errors;
    uint64_t cascades;           /* local answers below the requested confidence, answered above */
    uint64_t cache_hits;         /* answers from the response cache (nothing was eligible) */
    uint64_t hedges, hedge_wins; /* hedged copies sent; copies that answered first */
    rx_histogram ttft, total;    /* seconds, as the client sees them */
    rx_histogram shadow;         /* seconds, the shadow copies' whole answers */
    /* requests per split version, [split][version] (reset when a split changes) */
    uint64_t split_requests[RX_TOPO_MAX_SPLITS][RX_SPLIT_MAX_VERSIONS];
} gw_metrics;

typedef struct gw_proxy gw_proxy;
typedef struct gw_cache_entry gw_cache_entry;

typedef struct rx_gateway {
    rx_gateway_config cfg; /* copied */
    rx_http_server *http;  /* owned */
    gw_upstream *ups;      /* owned, [n_ups] */
    int n_ups;
    gw_metrics m;
    char name[160];
    bool draining;
    int n_active;          /* proxied requests in flight */
    uint64_t rr;           /* tie breaker */
    uint64_t rng;          /* split draws (xorshift) */
    rx_auth admin;         /* owned: --admin-key; none: the admin API is off */
    rx_slo_window slo;     /* the last minute, all requests */
    gw_cache_entry *cache; /* owned: newest first */
    int cache_n;
} rx_gateway;

/* upstream.c */
rx_status gw_upstreams_start(rx_gateway *g);
/* Applies a new topology (SIGHUP, POST /admin/reload) without dropping a request: upstreams
 * that stay keep their pools and state, new ones get pools, removed ones retire. */
rx_status gw_upstreams_apply(rx_gateway *g, const rx_topology *t);
void gw_upstreams_close(rx_gateway *g); /* frees the pools; call on the loop */
void gw_upstreams_stop(rx_gateway *g);  /* and the upstreams */
bool gw_upstream_ejected(const rx_gateway *g, const gw_upstream *u);
void gw_upstream_failed(rx_gateway *g, gw_upstream *u);
void gw_upstream_ok(rx_gateway *g, gw_upstream *u, double head_ms);

/* route.c: what the request asks, and the choice with its reason. */
typedef struct {
    const char *model;  /* NULL: any */
    const char *domain; /* never NULL ("public" by default) */
    const char *user;   /* NULL: none */
    bool sticky;        /* route by a hash of user */
    bool has_digest;
    uint64_t digest;  /* FNV-1a of the first 256 bytes of the leading text */
    uint64_t exclude; /* bit i: upstream i already tried */
    int min_tier;     /* route at this tier or above (a cascade climbing); 0 = any */
} gw_route_req;

/* Picks an upstream index (or -1) and writes a one-line reason to why. */
int gw_route(rx_gateway *g, const gw_route_req *r, char *why, size_t why_cap);

/* gateway.c */
rx_status gw_reload(rx_gateway *g);

/* admin.c: GET/POST /admin/splits, POST /admin/reload (Bearer --admin-key) */
void gw_admin_handle(rx_gateway *g, rx_http_req *req);
/* shadow.c: a copy of a request to a shadow version; the answer is discarded */
void gw_shadow_send(rx_gateway *g, const char *version, const char *domain, const char *path,
                    const char *body, size_t len);

/* cache.c: greedy answers kept for when nothing is eligible */
#include <jansson.h>
char *gw_cache_key(const json_t *request, const char *path, const char *domain); /* malloc'd */
void gw_cache_put(rx_gateway *g, const char *norm, const char *body, size_t len, const char *type);
const gw_cache_entry *gw_cache_get(rx_gateway *g, const char *norm, const char **body, size_t *len,
                                   const char **type);
void gw_cache_free(rx_gateway *g);

/* proxy.c */
void gw_proxy_handle(rx_gateway *g, rx_http_req *req, const char *path);

#endif
