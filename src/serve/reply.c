/* What every node response shares: identity headers, W3C traceparent, CORS, errors as OpenAI
 * JSON (the one place an rx_status becomes an HTTP status), and one JSON log line per request. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/node_internal.h"

void rx_node__headers(rx_node *n, rx_http_req *req, const char *trace)
{
    rx_http_add_header(req, "x-reflex-node", n->node_name);
    rx_http_add_header(req, "x-reflex-tier", n->cfg.tier);
    if (trace && trace[0]) rx_http_add_header(req, "traceparent", trace);
    if (n->cfg.cors_origin) {
        rx_http_add_header(req, "Access-Control-Allow-Origin", n->cfg.cors_origin);
        rx_http_add_header(req, "Vary", "Origin");
    }
}

void rx_node__error(rx_node *n, rx_http_req *req, const rx_api_error *err)
{
    (void)n;
    char *body = rx_api_error_json(err);
    if (err->http_status == 503 || err->http_status == 429)
        rx_http_add_header(req, "Retry-After", "1");
    if (err->http_status == 401) rx_http_add_header(req, "WWW-Authenticate", "Bearer");
    const char *fallback = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}";
    rx_http_respond(req, err->http_status, "application/json", body ? body : fallback,
                    strlen(body ? body : fallback));
    free(body);
    rx_metrics_request(&n->metrics, err->http_status);
}

void rx_node__status_error(rx_api_error *err, rx_status s, const char *message)
{
    switch (s) {
    case RX_ERR_FULL:
        rx_api_set_error(err, 503, "server_error", NULL, "overloaded", "%s", message);
        break;
    case RX_ERR_RANGE:
        rx_api_set_error(err, 400, "invalid_request_error", "messages", "context_length_exceeded",
                         "%s", message);
        break;
    case RX_ERR_INVALID_ARG:
    case RX_ERR_FORMAT:
        rx_api_set_error(err, 400, "invalid_request_error", NULL, "", "%s", message);
        break;
    default:
        rx_api_set_error(err, 500, "server_error", NULL, "", "%s", message);
        break;
    }
}

void rx_node__log(rx_node *n, const char *id, const char *tenant, const char *method,
                  const char *path, int status, int32_t n_prompt, int32_t n_out, double ttft_ms,
                  double total_ms, const char *trace)
{
    if (n->cfg.quiet) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *o =
        json_pack("{s:f, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:s}", "ts",
                  (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, "id", id ? id : "", "tenant",
                  tenant ? tenant : "", "method", method, "path", path, "status", status,
                  "prompt_tokens", (int)n_prompt, "completion_tokens", (int)n_out, "ttft_ms",
                  ttft_ms, "total_ms", total_ms, "traceparent", trace ? trace : "");
    if (!o) return;
    char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (line) fprintf(stderr, "%s\n", line);
    free(line);
    json_decref(o);
}

void rx_node__remember_digest(rx_node *n, uint64_t d)
{
    for (int i = 0; i < n->n_digests; i++)
        if (n->digests[i] == d) {
            memmove(n->digests + i, n->digests + i + 1, (size_t)(n->n_digests - i - 1) * sizeof d);
            n->n_digests--;
            break;
        }
    if (n->n_digests == RX_NODE_DIGESTS) {
        memmove(n->digests, n->digests + 1, (RX_NODE_DIGESTS - 1) * sizeof d);
        n->n_digests--;
    }
    n->digests[n->n_digests++] = d;
}
