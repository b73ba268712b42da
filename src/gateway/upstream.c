/* Upstream health for the gateway: every upstream's /v1/status is polled (load, readiness,
 * prefix digests); failures seen while proxying eject an upstream for a while (passive outlier
 * detection, which also acts as its circuit breaker), and a successful poll after that time
 * re-admits it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "gateway/gateway_internal.h"

bool gw_upstream_ejected(const rx_gateway *g, const gw_upstream *u)
{
    (void)g;
    return u->ejected_until_ns > rx_now_ns();
}

void gw_upstream_failed(rx_gateway *g, gw_upstream *u)
{
    u->errors++;
    u->failures_in_row++;
    /* one connection failure is enough on a LAN-close fleet: the next request must not wait */
    u->ejected_until_ns = rx_now_ns() + (uint64_t)g->cfg.eject_ms * 1000000u;
    u->healthy = false;
    u->ejections++;
    g->m.ejections++;
}

void gw_upstream_ok(rx_gateway *g, gw_upstream *u, double head_ms)
{
    (void)g;
    u->failures_in_row = 0;
    u->ewma_ms = u->ewma_ms == 0 ? head_ms : 0.8 * u->ewma_ms + 0.2 * head_ms;
}

static void parse_status(gw_upstream *u, const char *body, size_t len)
{
    json_error_t e;
    json_t *o = json_loadb(body, len, 0, &e);
    if (!json_is_object(o)) {
        u->healthy = false;
        json_decref(o);
        return;
    }
    json_t *slots = json_object_get(o, "slots"), *queue = json_object_get(o, "queue");
    u->slots_total = (int)json_integer_value(json_object_get(slots, "total"));
    u->slots_busy = (int)json_integer_value(json_object_get(slots, "busy"));
    u->queue_depth = (int)json_integer_value(json_object_get(queue, "depth"));
    u->queue_cap = (int)json_integer_value(json_object_get(queue, "capacity"));
    u->status_ttft_ms = json_number_value(json_object_get(json_object_get(o, "ewma_ms"), "ttft"));
    json_t *ready = json_object_get(o, "ready");
    u->healthy = !ready || json_is_true(ready);
    json_t *digests = json_object_get(json_object_get(o, "prefix_cache"), "digests");
    u->n_digests = 0;
    size_t i;
    json_t *d;
    json_array_foreach(digests, i, d)
    {
        if (u->n_digests == GW_MAX_DIGESTS) break;
        const char *h = json_string_value(d);
        if (h) u->digests[u->n_digests++] = strtoull(h, NULL, 16);
    }
    json_decref(o);
}

typedef struct {
    rx_gateway *g;
    gw_upstream *u;
    int status;
} poll_ctx;

static void poll_head(rx_http_call *c, int status, void *user)
{
    (void)c;
    ((poll_ctx *)user)->status = status;
}

static void poll_chunk(rx_http_call *c, const char *data, size_t len, void *user)
{
    (void)c;
    gw_upstream *u = ((poll_ctx *)user)->u;
    if (u->poll_len + len > (1u << 20)) return; /* a status page is small */
    char *b = realloc(u->poll_body, u->poll_len + len + 1);
    if (!b) return;
    memcpy(b + u->poll_len, data, len);
    u->poll_body = b;
    u->poll_len += len;
}

static void poll_done(rx_http_call *c, rx_status s, const char *message, void *user)
{
    (void)c;
    (void)message;
    poll_ctx *ctx = user;
    gw_upstream *u = ctx->u;
    u->poll = NULL;
    const bool was_healthy = u->healthy;
    if (s == RX_OK && ctx->status == 200 && u->poll_body) {
        parse_status(u, u->poll_body, u->poll_len);
    } else if (s == RX_OK && ctx->status == 404) {
        /* alive, with no reflex status API (llama-server, vLLM, any OpenAI-compatible server):
         * healthy, load unknown */
        u->healthy = true;
        u->slots_total = u->slots_busy = u->queue_depth = u->queue_cap = 0;
        u->n_digests = 0;
    } else if (s != RX_ERR_CANCELLED) {
        u->healthy = false;
    }
    if (s == RX_OK && u->healthy && !gw_upstream_ejected(ctx->g, u)) u->failures_in_row = 0;
    u->polled = true;
    if (was_healthy != u->healthy && !ctx->g->cfg.quiet)
        fprintf(stderr, "reflex gateway: upstream %s is %s\n", u->spec.name,
                u->healthy ? "healthy" : "unhealthy");
    free(u->poll_body);
    u->poll_body = NULL;
    u->poll_len = 0;
    free(ctx);
}

static void poll_all(void *arg)
{
    rx_gateway *g = arg;
    static const rx_http_call_cb cb = {poll_head, poll_chunk, poll_done};
    for (int i = 0; i < g->n_ups; i++) {
        gw_upstream *u = &g->ups[i];
        if (u->poll || !u->pool)
            continue; /* the last poll is still out: it will time out on its own */
        poll_ctx *ctx = malloc(sizeof *ctx);
        if (!ctx) continue;
        *ctx = (poll_ctx){g, u, 0};
        const char *headers[] = {"Accept", "application/json", NULL};
        if (rx_http_call_start(u->pool, "GET", "/v1/status", headers, NULL, 0, &cb, ctx,
                               &u->poll) != RX_OK) {
            u->healthy = false;
            u->poll = NULL;
            free(ctx);
        }
    }
    if (!g->draining) rx_http_timer(g->http, g->cfg.poll_interval_ms, poll_all, g);
}

/* The array has room for every upstream a topology may have, so indexes held by requests in
 * flight (and pointers held by polls) never move across reloads. */
rx_status gw_upstreams_start(rx_gateway *g)
{
    g->ups = calloc(RX_TOPO_MAX_UPSTREAMS, sizeof *g->ups);
    if (!g->ups) return rx_error(RX_ERR_NOMEM, "no memory for the upstreams");
    g->n_ups = 0;
    rx_status s = gw_upstreams_apply(g, &g->cfg.topo);
    if (s == RX_OK) poll_all(g);
    return s;
}

static int find_active(const rx_gateway *g, const rx_upstream_spec *spec)
{
    for (int i = 0; i < g->n_ups; i++)
        if (!g->ups[i].retired && g->ups[i].spec.port == spec->port &&
            strcmp(g->ups[i].spec.host, spec->host) == 0)
            return i;
    return -1;
}

/* A slot for a new upstream: a retired one that nothing uses any more, or a fresh one. */
static int free_slot(rx_gateway *g)
{
    for (int i = 0; i < g->n_ups; i++) {
        gw_upstream *u = &g->ups[i];
        if (u->retired && u->in_flight == 0 && !u->poll) {
            rx_http_pool_free(u->pool);
            free(u->poll_body);
            memset(u, 0, sizeof *u);
            return i;
        }
    }
    return g->n_ups < RX_TOPO_MAX_UPSTREAMS ? g->n_ups++ : -1;
}

rx_status gw_upstreams_apply(rx_gateway *g, const rx_topology *t)
{
    /* check that it fits before changing anything */
    int need = 0;
    for (int k = 0; k < t->n_upstreams; k++)
        need += find_active(g, &t->upstreams[k]) < 0;
    int room = RX_TOPO_MAX_UPSTREAMS - g->n_ups;
    for (int i = 0; i < g->n_ups; i++)
        room += g->ups[i].retired && g->ups[i].in_flight == 0 && !g->ups[i].poll;
    if (need > room)
        return rx_error(RX_ERR_FULL, "no room for %d new upstreams while %d retired ones finish",
                        need, g->n_ups - room);
    rx_http_pool_config pc = {g->cfg.connect_timeout_ms, g->cfg.first_byte_timeout_ms,
                              g->cfg.idle_timeout_ms, 0};
    bool keep[RX_TOPO_MAX_UPSTREAMS] = {0};
    for (int k = 0; k < t->n_upstreams; k++) {
        int i = find_active(g, &t->upstreams[k]);
        if (i >= 0) { /* stays: new attributes, same pool and health */
            g->ups[i].spec = t->upstreams[k];
            keep[i] = true;
            continue;
        }
        i = free_slot(g);
        gw_upstream *u = &g->ups[i];
        u->spec = t->upstreams[k];
        u->healthy = true; /* optimistic until the first poll says otherwise */
        rx_window_init(&u->slo);
        rx_window_init(&u->unary);
        rx_hist_init(&u->ttft, rx_hist_latency_bounds, rx_hist_latency_n);
        rx_status s = rx_http_pool_create(g->http, u->spec.host, u->spec.port, &pc, &u->pool);
        if (s != RX_OK) return s;
        keep[i] = true;
    }
    for (int i = 0; i < g->n_ups; i++)
        if (!keep[i]) g->ups[i].retired = true;
    return RX_OK;
}

void gw_upstreams_close(rx_gateway *g)
{
    for (int i = 0; i < g->n_ups; i++) {
        rx_http_pool_free(g->ups[i].pool);
        g->ups[i].pool = NULL;
        free(g->ups[i].poll_body);
        g->ups[i].poll_body = NULL;
    }
}

void gw_upstreams_stop(rx_gateway *g)
{
    gw_upstreams_close(g);
    free(g->ups);
    g->ups = NULL;
    g->n_ups = 0;
}
