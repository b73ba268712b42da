/* The gateway's lifecycle and its own endpoints: /health, /ready (some upstream eligible),
 * /metrics (Prometheus), /v1/status (upstreams as this gateway sees them); everything under
 * /v1/ is proxied. SIGTERM/SIGINT drain: stop accepting, let proxied requests finish. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/textbuf.h"
#include "gateway/gateway_internal.h"

static void reply(rx_http_req *req, int status, const char *type, char *body_owned)
{
    const char *b = body_owned ? body_owned : "{\"error\":{\"message\":\"out of memory\"}}";
    rx_http_respond(req, status, type, b, strlen(b));
    free(body_owned);
}

static char *status_json(rx_gateway *g)
{
    json_t *ups = json_array();
    for (int i = 0; ups && i < g->n_ups; i++) {
        const gw_upstream *u = &g->ups[i];
        json_array_append_new(
            ups, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:i, s:i, s:i, s:f, s:I, s:I}",
                           "name", u->spec.name, "tier", rx_tier_name(u->spec.tier), "region",
                           u->spec.region, "site", u->spec.site, "healthy", u->healthy, "ejected",
                           gw_upstream_ejected(g, u), "in_flight", u->in_flight, "slots_busy",
                           u->slots_busy, "slots_total", u->slots_total, "queue_depth",
                           u->queue_depth, "ewma_ms", u->ewma_ms, "requests",
                           (json_int_t)u->requests, "errors", (json_int_t)u->errors));
    }
    const uint64_t now = rx_now_ns();
    json_t *slo = json_pack("{s:i, s:f, s:f, s:f, s:I}", "window_s", 60, "ttft_p95_ms",
                            rx_window_quantile(&g->slo, now, 0.95) * 1e3, "ttft_p99_ms",
                            rx_window_quantile(&g->slo, now, 0.99) * 1e3, "error_rate",
                            rx_window_error_rate(&g->slo, now), "requests",
                            (json_int_t)rx_window_requests(&g->slo, now));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o}", "gateway", g->name, "tier",
                          rx_tier_name(g->cfg.topo.tier), "region", g->cfg.topo.region, "site",
                          g->cfg.topo.site, "draining", g->draining, "upstreams",
                          ups ? ups : json_array(), "slo", slo ? slo : json_object());
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static char *metrics_text(rx_gateway *g)
{
    rx_textbuf t = {0};
#define PUT(...) rx_textbuf_printf(&t, __VA_ARGS__)
    const struct {
        const char *name, *help;
        uint64_t v;
    } counters[] = {
        {"reflex_gateway_requests_total", "Requests received.", g->m.requests},
        {"reflex_gateway_retries_total", "Requests retried on another upstream.", g->m.retries},
        {"reflex_gateway_failovers_total", "Upstream failures routed around.", g->m.failovers},
        {"reflex_gateway_stream_resumptions_total", "Streams resumed on another upstream.",
         g->m.resumed},
        {"reflex_gateway_escalations_total", "Requests sent above the gateway's tier.",
         g->m.escalations},
        {"reflex_gateway_ejections_total", "Upstreams ejected after failures.", g->m.ejections},
        {"reflex_gateway_cache_hits_total", "Answers from the response cache (nothing eligible).",
         g->m.cache_hits},
        {"reflex_gateway_cascades_total",
         "Local answers below the asked confidence, answered above.", g->m.cascades},
        {"reflex_gateway_unavailable_total", "Requests answered 503: nothing eligible.",
         g->m.unavailable},
        {"reflex_gateway_hedges_total", "Hedged copies sent (slower than the upstream's p95).",
         g->m.hedges},
        {"reflex_gateway_hedge_wins_total", "Hedged copies that answered first.", g->m.hedge_wins},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        PUT("# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name, counters[i].help,
            counters[i].name, counters[i].name, (unsigned long long)counters[i].v);
    PUT("# HELP reflex_gateway_escalation_ratio Escalated requests / requests.\n"
        "# TYPE reflex_gateway_escalation_ratio gauge\nreflex_gateway_escalation_ratio %.6f\n",
        g->m.requests ? (double)g->m.escalations / (double)g->m.requests : 0.0);
    PUT("# HELP reflex_gateway_upstream_healthy 1 when the upstream is eligible.\n"
        "# TYPE reflex_gateway_upstream_healthy gauge\n");
    for (int i = 0; i < g->n_ups; i++)
        PUT("reflex_gateway_upstream_healthy{upstream=\"%s\",tier=\"%s\"} %d\n",
            g->ups[i].spec.name, rx_tier_name(g->ups[i].spec.tier),
            g->ups[i].healthy && !gw_upstream_ejected(g, &g->ups[i]));
    PUT("# TYPE reflex_gateway_upstream_requests_total counter\n");
    for (int i = 0; i < g->n_ups; i++)
        PUT("reflex_gateway_upstream_requests_total{upstream=\"%s\"} %llu\n", g->ups[i].spec.name,
            (unsigned long long)g->ups[i].requests);
    const uint64_t now = rx_now_ns();
    PUT("# HELP reflex_gateway_slo_ttft_seconds Time to first byte over the last minute.\n"
        "# TYPE reflex_gateway_slo_ttft_seconds gauge\n"
        "reflex_gateway_slo_ttft_seconds{window=\"1m\",quantile=\"0.95\"} %.6f\n"
        "reflex_gateway_slo_ttft_seconds{window=\"1m\",quantile=\"0.99\"} %.6f\n"
        "# HELP reflex_gateway_slo_error_ratio 5xx answers over the last minute.\n"
        "# TYPE reflex_gateway_slo_error_ratio "
        "gauge\nreflex_gateway_slo_error_ratio{window=\"1m\"} %.6f\n",
        rx_window_quantile(&g->slo, now, 0.95), rx_window_quantile(&g->slo, now, 0.99),
        rx_window_error_rate(&g->slo, now));
    for (int i = 0; i < g->n_ups; i++) {
        char labels[200];
        snprintf(labels, sizeof labels, "upstream=\"%s\"", g->ups[i].spec.name);
        PUT("reflex_gateway_slo_ttft_seconds{window=\"1m\",quantile=\"0.95\",%s} %.6f\n"
            "reflex_gateway_slo_error_ratio{window=\"1m\",%s} %.6f\n",
            labels, rx_window_quantile(&g->ups[i].slo, now, 0.95), labels,
            rx_window_error_rate(&g->ups[i].slo, now));
        rx_textbuf_hist(&t, &g->ups[i].ttft, "reflex_gateway_upstream_ttft_seconds", labels);
    }
    PUT("# HELP reflex_gateway_split_requests_total Requests per traffic-split version.\n"
        "# TYPE reflex_gateway_split_requests_total counter\n");
    for (int i = 0; i < g->cfg.topo.n_splits; i++)
        for (int k = 0; k < g->cfg.topo.splits[i].n_versions; k++)
            PUT("reflex_gateway_split_requests_total{model=\"%s\",version=\"%s\"} %llu\n",
                g->cfg.topo.splits[i].model, g->cfg.topo.splits[i].version[k],
                (unsigned long long)g->m.split_requests[i][k]);
    PUT("# HELP reflex_gateway_shadow_requests_total Shadow copies made.\n"
        "# TYPE reflex_gateway_shadow_requests_total counter\n"
        "reflex_gateway_shadow_requests_total %llu\n"
        "# HELP reflex_gateway_shadow_dropped_total Shadow copies not sent: no eligible upstream.\n"
        "# TYPE reflex_gateway_shadow_dropped_total counter\n"
        "reflex_gateway_shadow_dropped_total %llu\n"
        "# HELP reflex_gateway_shadow_errors_total Shadow copies sent that failed or were not "
        "200.\n"
        "# TYPE reflex_gateway_shadow_errors_total counter\n"
        "reflex_gateway_shadow_errors_total %llu\n",
        (unsigned long long)g->m.shadow_requests, (unsigned long long)g->m.shadow_dropped,
        (unsigned long long)g->m.shadow_errors);
    PUT("# HELP reflex_gateway_shadow_duration_seconds Shadow copies, whole answer.\n"
        "# TYPE reflex_gateway_shadow_duration_seconds histogram\n");
    rx_textbuf_hist(&t, &g->m.shadow, "reflex_gateway_shadow_duration_seconds", "");
    PUT("# HELP reflex_gateway_ttft_seconds Client-side time to first byte of the answer.\n"
        "# TYPE reflex_gateway_ttft_seconds histogram\n");
    rx_textbuf_hist(&t, &g->m.ttft, "reflex_gateway_ttft_seconds", "");
    PUT("# HELP reflex_gateway_request_duration_seconds Whole request, as the client sees it.\n"
        "# TYPE reflex_gateway_request_duration_seconds histogram\n");
    rx_textbuf_hist(&t, &g->m.total, "reflex_gateway_request_duration_seconds", "");
#undef PUT
    return rx_textbuf_take(&t);
}

static void handle(rx_http_req *req, void *user)
{
    rx_gateway *g = user;
    const char *path = rx_http_path(req);
    if (strcmp(path, "/health") == 0) {
        reply(req, 200, "application/json", strdup("{\"status\":\"ok\"}"));
        return;
    }
    if (strcmp(path, "/ready") == 0) {
        bool any = false;
        for (int i = 0; i < g->n_ups && !any; i++)
            any = g->ups[i].healthy && !gw_upstream_ejected(g, &g->ups[i]);
        if (!any || g->draining) rx_http_add_header(req, "Retry-After", "1");
        reply(req, any && !g->draining ? 200 : 503, "application/json",
              strdup(any && !g->draining ? "{\"status\":\"ready\"}"
                                         : "{\"status\":\"unavailable\"}"));
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        reply(req, 200, "text/plain; version=0.0.4", metrics_text(g));
        return;
    }
    if (strcmp(path, "/v1/status") == 0) {
        reply(req, 200, "application/json", status_json(g));
        return;
    }
    if (strncmp(path, "/admin/", 7) == 0) {
        gw_admin_handle(g, req);
        return;
    }
    if (strncmp(path, "/v1/", 4) == 0) {
        gw_proxy_handle(g, req, path);
        return;
    }
    char msg[200];
    snprintf(
        msg, sizeof msg,
        "{\"error\":{\"message\":\"no route for this path\",\"type\":\"invalid_request_error\"}}");
    reply(req, 404, "application/json", strdup(msg));
}

/* A new topology, applied between two requests on the loop thread: nothing in flight drops. */
rx_status gw_reload(rx_gateway *g)
{
    if (!g->cfg.reload)
        return rx_error(RX_ERR_UNSUPPORTED,
                        "this gateway was started without a reloadable topology");
    rx_topology *t = malloc(sizeof *t);
    if (!t) return rx_error(RX_ERR_NOMEM, "no memory for a topology");
    rx_status s = g->cfg.reload(t, g->cfg.reload_user);
    if (s == RX_OK) s = gw_upstreams_apply(g, t);
    if (s == RX_OK) {
        g->cfg.topo = *t;
        memset(g->m.split_requests, 0, sizeof g->m.split_requests);
    }
    free(t);
    if (!g->cfg.quiet || s != RX_OK)
        fprintf(stderr, "reflex gateway: reload: %s\n",
                s == RX_OK ? "topology applied" : rx_last_error());
    return s;
}

static void on_hup(void *arg)
{
    gw_reload(arg);
}

static void stop_now(void *arg)
{
    rx_gateway *g = arg;
    rx_http_server_stop(g->http);
}

static void drain_poll(void *arg)
{
    rx_gateway *g = arg;
    if (g->n_active > 0) {
        rx_http_timer(g->http, 50, drain_poll, g);
        return;
    }
    /* close the pools while the loop still runs, so their connections are freed by it */
    gw_upstreams_close(g);
    rx_http_timer(g->http, 20, stop_now, g);
}

static void on_stop(void *arg)
{
    rx_gateway *g = arg;
    if (g->draining) return;
    g->draining = true;
    rx_http_server_stop_accepting(g->http);
    drain_poll(g);
}

rx_status rx_gateway_run(const rx_gateway_config *cfg)
{
    rx_gateway *g = calloc(1, sizeof *g);
    if (!g) return rx_error(RX_ERR_NOMEM, "no memory for the gateway");
    signal(SIGPIPE, SIG_IGN);
    g->cfg = *cfg;
    if (g->cfg.poll_interval_ms <= 0) g->cfg.poll_interval_ms = 500;
    if (g->cfg.eject_ms <= 0) g->cfg.eject_ms = 5000;
    if (g->cfg.retry_budget <= 0) g->cfg.retry_budget = 0.2;
    rx_hist_init(&g->m.ttft, rx_hist_latency_bounds, rx_hist_latency_n);
    rx_hist_init(&g->m.total, rx_hist_latency_bounds, rx_hist_latency_n);
    rx_hist_init(&g->m.shadow, rx_hist_latency_bounds, rx_hist_latency_n);
    rx_window_init(&g->slo);
    g->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)rx_now_ns();
    const char *admin_keys[1] = {cfg->admin_key};
    rx_status s = rx_auth_load(admin_keys, cfg->admin_key ? 1 : 0, NULL, &g->admin);
    if (s == RX_OK) s = rx_http_server_create(&cfg->http, handle, g, &g->http);
    if (s == RX_OK) {
        const int port = rx_http_server_port(g->http);
        if (cfg->name)
            snprintf(g->name, sizeof g->name, "%s", cfg->name);
        else
            snprintf(g->name, sizeof g->name, "gateway@%s:%d",
                     cfg->http.host ? cfg->http.host : "127.0.0.1", port);
        s = gw_upstreams_start(g);
    }
    if (s == RX_OK && (s = rx_http_on_signal(g->http, SIGTERM, on_stop, g)) == RX_OK &&
        (s = rx_http_on_signal(g->http, SIGINT, on_stop, g)) == RX_OK)
        s = rx_http_on_signal(g->http, SIGHUP, on_hup, g);
    if (s == RX_OK) {
        const int port = rx_http_server_port(g->http);
        fprintf(stderr, "reflex gateway: %s (tier %s) with %d upstream(s)\n", g->name,
                rx_tier_name(cfg->topo.tier), g->n_ups);
        if (cfg->on_listening) cfg->on_listening(port, cfg->on_listening_user);
        s = rx_http_server_run(g->http);
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rx_last_error());
    gw_upstreams_stop(g);
    rx_http_server_free(g->http);
    rx_auth_free(&g->admin);
    gw_cache_free(g);
    free(g);
    return s == RX_OK ? RX_OK : rx_error(s, "%s", msg);
}
