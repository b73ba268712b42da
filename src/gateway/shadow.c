/* Shadow traffic: a copy of a request goes to an upstream serving the shadow version; its answer
 * is read and dropped, and only its latency and errors are recorded, so a candidate is tried on
 * real traffic without a client ever seeing it. Shadow copies are routed like any request
 * (healthy, unsaturated, same tiers) and never retried; a copy with nowhere to go is dropped
 * and counted apart from the candidate's errors. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "gateway/gateway_internal.h"

typedef struct {
    rx_gateway *g;
    int upstream;
    uint64_t t0_ns;
    int status;
} shadow_call;

static void on_head(rx_http_call *c, int status, void *user)
{
    (void)c;
    ((shadow_call *)user)->status = status;
}

static void on_chunk(rx_http_call *c, const char *data, size_t len, void *user)
{
    (void)c;
    (void)data;
    (void)len;
    (void)user;
}

static void on_done(rx_http_call *c, rx_status s, const char *message, void *user)
{
    (void)c;
    (void)message;
    shadow_call *sc = user;
    rx_gateway *g = sc->g;
    if (g->ups && sc->upstream < g->n_ups) g->ups[sc->upstream].in_flight--;
    if (s != RX_OK || sc->status != 200)
        g->m.shadow_errors++;
    else
        rx_hist_observe(&g->m.shadow, (double)(rx_now_ns() - sc->t0_ns) / 1e9);
    free(sc);
}

void gw_shadow_send(rx_gateway *g, const char *version, const char *domain, const char *path,
                    const char *body, size_t len)
{
    g->m.shadow_requests++;
    /* the copy obeys the request's data domain like the request itself */
    gw_route_req r = {.model = version, .domain = domain};
    char why[256];
    const int i = gw_route(g, &r, why, sizeof why);
    if (i < 0) {
        g->m.shadow_dropped++;
        return;
    }
    shadow_call *sc = calloc(1, sizeof *sc);
    if (!sc) {
        g->m.shadow_errors++;
        return;
    }
    *sc = (shadow_call){g, i, rx_now_ns(), 0};
    static const rx_http_call_cb cb = {on_head, on_chunk, on_done};
    const char *headers[] = {"Content-Type", "application/json", NULL};
    rx_http_call *call;
    if (rx_http_call_start(g->ups[i].pool, "POST", path, headers, body, len, &cb, sc, &call) !=
        RX_OK) {
        g->m.shadow_errors++;
        free(sc);
        return;
    }
    g->ups[i].in_flight++;
}
