/* Request dispatch for the node: authentication, tracing, CORS preflight, and the operations
 * endpoints (/health, /ready, /metrics, /v1/status, /v1/models). Generation goes to gen.c. */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "serve/node_internal.h"

static bool hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static void rand_hex(char *out, size_t n_bytes)
{
    unsigned char b[16];
    if (RAND_bytes(b, (int)n_bytes) != 1) memset(b, 0x5a, n_bytes);
    for (size_t i = 0; i < n_bytes; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* W3C traceparent "00-<trace 32 hex>-<parent 16 hex>-<flags 2 hex>": a valid one keeps its trace
 * id and gets this node's span as parent; a missing or invalid one starts a new trace. */
static void traceparent(const rx_http_req *req, char out[56])
{
    const char *in = rx_http_header(req, "traceparent");
    char trace[33], flags[3] = "01", span[17];
    if (in && strlen(in) == 55 && in[0] == '0' && in[1] == '0' && in[2] == '-' && in[35] == '-' &&
        in[52] == '-' && hex(in + 3, 32) && hex(in + 36, 16) && hex(in + 53, 2) &&
        strncmp(in + 3, "00000000000000000000000000000000", 32) != 0) {
        memcpy(trace, in + 3, 32);
        memcpy(flags, in + 53, 2);
    } else {
        rand_hex(trace, 16);
    }
    trace[32] = '\0';
    flags[2] = '\0';
    rand_hex(span, 8);
    span[16] = '\0';
    snprintf(out, 56, "00-%s-%s-%s", trace, span, flags);
}

static void reply_json(rx_node *n, rx_http_req *req, int status, json_t *o)
{
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(o);
    if (!body) {
        rx_api_error err;
        rx_api_set_error(&err, 500, "server_error", NULL, "", "out of memory");
        rx_node__error(n, req, &err);
        return;
    }
    rx_http_respond(req, status, "application/json", body, strlen(body));
    free(body);
    rx_metrics_request(&n->metrics, status);
}

static void models(rx_node *n, rx_http_req *req)
{
    const char *ids[1] = {n->model_id};
    char *body = rx_api_models_json(ids, 1, n->started);
    if (!body) {
        reply_json(n, req, 500, NULL);
        return;
    }
    rx_http_respond(req, 200, "application/json", body, strlen(body));
    free(body);
    rx_metrics_request(&n->metrics, 200);
}

static json_t *domains_json(const char *list)
{
    json_t *a = json_array();
    const char *p = list;
    while (a && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) json_array_append_new(a, json_stringn(p, len));
        p += len + (e ? 1 : 0);
    }
    return a;
}

static void status(rx_node *n, rx_http_req *req)
{
    rx_sched_stats st;
    rx_sched_get_stats(n->sched, &st);
    json_t *digests = json_array();
    for (int i = n->n_digests - 1; digests && i >= 0; i--) {
        char h[17];
        snprintf(h, sizeof h, "%016llx", (unsigned long long)n->digests[i]);
        json_array_append_new(digests, json_string(h));
    }
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:b,"
        " s:[{s:s, s:s, s:s, s:i, s:s}],"
        " s:{s:i, s:i}, s:{s:i, s:i}, s:{s:I, s:I},"
        " s:{s:f, s:f}, s:{s:I, s:I, s:f, s:i, s:o}}",
        "node", n->node_name, "tier", n->cfg.tier, "region", n->cfg.region, "site", n->cfg.site,
        "version", n->model_version, "sha256", n->sha256, "domains", domains_json(n->cfg.domains),
        "ready", n->ready && !n->draining, "draining", n->draining, "models", "id", n->model_id,
        "version", n->model_version, "sha256", n->sha256, "n_ctx", (int)n->n_ctx, "chat_template",
        rx_chat_family_name(n->chat), "slots", "total", st.n_slots, "busy", st.slots_busy, "queue",
        "depth", st.queue_depth, "capacity", st.queue_cap, "kv_cells", "used",
        (json_int_t)st.kv_cells_used, "total", (json_int_t)st.kv_cells_total, "ewma_ms", "ttft",
        (double)atomic_load(&n->metrics.ewma_ttft_us) / 1000.0, "itl",
        (double)atomic_load(&n->metrics.ewma_itl_us) / 1000.0, "prefix_cache", "lookups",
        (json_int_t)st.prefix_lookups, "hits", (json_int_t)st.prefix_hits, "hit_ratio",
        st.prefix_lookups ? (double)st.prefix_hits / (double)st.prefix_lookups : 0.0,
        "digest_bytes", RX_PREFIX_DIGEST_BYTES, "digests", digests ? digests : json_array());
    reply_json(n, req, 200, o);
}

static void metrics(rx_node *n, rx_http_req *req)
{
    rx_sched_stats st;
    rx_sched_get_stats(n->sched, &st);
    char *text = rx_metrics_render(&n->metrics, &st, n->model_id);
    if (!text) {
        reply_json(n, req, 500, NULL);
        return;
    }
    rx_http_respond(req, 200, "text/plain; version=0.0.4", text, strlen(text));
    free(text);
    rx_metrics_request(&n->metrics, 200);
}

static void plain(rx_node *n, rx_http_req *req, int status_code, const char *text)
{
    rx_http_respond(req, status_code, "application/json", text, strlen(text));
    rx_metrics_request(&n->metrics, status_code);
}

static void refuse(rx_node *n, rx_http_req *req, int code, const char *type, const char *fmt,
                   const char *arg)
{
    rx_api_error err;
    rx_api_set_error(&err, code, type, NULL, "", fmt, arg);
    rx_node__error(n, req, &err);
}

void rx_node__handle(rx_http_req *req, void *user)
{
    rx_node *n = user;
    const char *method = rx_http_method(req), *path = rx_http_path(req);
    char trace[56];
    traceparent(req, trace);
    rx_node__headers(n, req, trace);
    const bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

    if (strcmp(method, "OPTIONS") == 0 && n->cfg.cors_origin) {
        rx_http_add_header(req, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        rx_http_add_header(req, "Access-Control-Allow-Headers",
                           "Authorization, Content-Type, traceparent");
        rx_http_add_header(req, "Access-Control-Max-Age", "600");
        rx_http_respond(req, 204, NULL, NULL, 0);
        return;
    }
    if (strcmp(path, "/health") == 0) {
        if (!get) return refuse(n, req, 405, "invalid_request_error", "%s needs GET", path);
        return plain(n, req, 200, "{\"status\":\"ok\"}");
    }
    int key = rx_auth_check(&n->auth, rx_http_header(req, "Authorization"));
    if (!rx_auth_open(&n->auth) && key < 0)
        return refuse(n, req, 401, "authentication_error", "%s",
                      "missing or invalid API key (send 'Authorization: Bearer <key>')");
    char tenant[160];
    snprintf(tenant, sizeof tenant, "k%d", key);

    if (strcmp(path, "/ready") == 0) {
        if (!get) return refuse(n, req, 405, "invalid_request_error", "%s needs GET", path);
        if (n->ready && !n->draining) return plain(n, req, 200, "{\"status\":\"ready\"}");
        rx_http_add_header(req, "Retry-After", "1");
        return plain(n, req, 503,
                     n->draining ? "{\"status\":\"draining\"}" : "{\"status\":\"loading\"}");
    }
    if (strcmp(path, "/metrics") == 0) {
        if (!get) return refuse(n, req, 405, "invalid_request_error", "%s needs GET", path);
        return metrics(n, req);
    }
    if (strcmp(path, "/v1/status") == 0) {
        if (!get) return refuse(n, req, 405, "invalid_request_error", "%s needs GET", path);
        return status(n, req);
    }
    if (strcmp(path, "/v1/models") == 0) {
        if (!get) return refuse(n, req, 405, "invalid_request_error", "%s needs GET", path);
        return models(n, req);
    }
    rx_api_kind kind = strcmp(path, "/v1/chat/completions") == 0 ? RX_API_CHAT
                       : strcmp(path, "/v1/completions") == 0    ? RX_API_COMPLETION
                       : strcmp(path, "/v1/embeddings") == 0     ? RX_API_EMBEDDING
                                                                 : 0;
    if (!kind) return refuse(n, req, 404, "invalid_request_error", "no route for '%s'", path);
    if (!post) return refuse(n, req, 405, "invalid_request_error", "%s needs POST", path);
    rx_node__generate(n, req, kind, tenant, trace);
}
