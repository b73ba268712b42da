/* The gateway's admin API, for releases under load: POST /admin/reload re-reads the topology
 * (as SIGHUP does); GET /admin/splits lists the traffic splits;
 * POST /admin/splits with {"split": "MODEL=V1:90,V2:10;sticky"} adds or replaces one, with
 * {"delete": "MODEL"} removes one. A change is one assignment on the loop thread, between two
 * requests, so a blue-green switch is atomic and no request is dropped. Bearer --admin-key;
 * without one the API is off. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_internal.h"

static void answer(rx_http_req *req, int status, json_t *o)
{
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *b = body ? body : "{\"error\":{\"message\":\"out of memory\"}}";
    rx_http_respond(req, status, "application/json", b, strlen(b));
    free(body);
}

static void refuse(rx_http_req *req, int status, const char *type, const char *msg)
{
    answer(req, status, json_pack("{s:{s:s, s:s}}", "error", "message", msg, "type", type));
}

static json_t *splits_json(const rx_gateway *g)
{
    json_t *a = json_array();
    for (int i = 0; a && i < g->cfg.topo.n_splits; i++) {
        const rx_split *sp = &g->cfg.topo.splits[i];
        json_t *v = json_object();
        for (int k = 0; v && k < sp->n_versions; k++)
            json_object_set_new(v, sp->version[k],
                                json_pack("{s:i, s:I}", "weight", sp->weight[k], "requests",
                                          (json_int_t)g->m.split_requests[i][k]));
        json_array_append_new(a, json_pack("{s:s, s:o, s:b, s:s}", "model", sp->model, "versions",
                                           v ? v : json_object(), "sticky", sp->sticky, "shadow",
                                           sp->shadow));
    }
    return json_pack("{s:o}", "splits", a ? a : json_array());
}

static void change(rx_gateway *g, rx_http_req *req)
{
    size_t n;
    const char *body = rx_http_body(req, &n);
    json_error_t e;
    json_t *o = json_loadb(body, n, 0, &e);
    const char *spec = json_string_value(json_object_get(o, "split"));
    const char *del = json_string_value(json_object_get(o, "delete"));
    rx_topology *t = &g->cfg.topo;
    if (spec) {
        rx_split sp;
        if (rx_split_parse(spec, &sp) != RX_OK) {
            json_decref(o);
            refuse(req, 400, "invalid_request_error", rx_last_error());
            return;
        }
        int i = 0;
        while (i < t->n_splits && strcmp(t->splits[i].model, sp.model) != 0)
            i++;
        if (i == RX_TOPO_MAX_SPLITS) {
            json_decref(o);
            refuse(req, 400, "invalid_request_error", "too many splits");
            return;
        }
        if (i == t->n_splits) t->n_splits++;
        t->splits[i] = sp;
        memset(g->m.split_requests[i], 0, sizeof g->m.split_requests[i]);
    } else if (del) {
        int i = 0;
        while (i < t->n_splits && strcmp(t->splits[i].model, del) != 0)
            i++;
        if (i == t->n_splits) {
            json_decref(o);
            refuse(req, 404, "invalid_request_error", "no split for that model");
            return;
        }
        for (int k = i; k + 1 < t->n_splits; k++) {
            t->splits[k] = t->splits[k + 1];
            memcpy(g->m.split_requests[k], g->m.split_requests[k + 1],
                   sizeof g->m.split_requests[k]);
        }
        t->n_splits--;
    } else {
        json_decref(o);
        refuse(req, 400, "invalid_request_error",
               "the body must be {\"split\": \"MODEL=V1:W1,...\"} or {\"delete\": \"MODEL\"}");
        return;
    }
    json_decref(o);
    answer(req, 200, splits_json(g));
}

void gw_admin_handle(rx_gateway *g, rx_http_req *req)
{
    if (rx_auth_open(&g->admin)) {
        refuse(req, 404, "invalid_request_error", "the admin API is off (start with --admin-key)");
        return;
    }
    if (rx_auth_check(&g->admin, rx_http_header(req, "Authorization")) < 0) {
        rx_http_add_header(req, "WWW-Authenticate", "Bearer");
        refuse(req, 401, "authentication_error", "missing or invalid admin key");
        return;
    }
    const char *method = rx_http_method(req);
    if (strcmp(rx_http_path(req), "/admin/reload") == 0) {
        if (strcmp(method, "POST") != 0) {
            refuse(req, 405, "invalid_request_error", "/admin/reload takes POST");
        } else if (gw_reload(g) != RX_OK) {
            refuse(req, 400, "invalid_request_error", rx_last_error());
        } else {
            answer(req, 200,
                   json_pack("{s:s, s:i}", "status", "reloaded", "upstreams",
                             g->cfg.topo.n_upstreams));
        }
        return;
    }
    if (strcmp(rx_http_path(req), "/admin/splits") != 0)
        refuse(req, 404, "invalid_request_error", "no such admin route (try /admin/splits)");
    else if (strcmp(method, "GET") == 0)
        answer(req, 200, splits_json(g));
    else if (strcmp(method, "POST") == 0)
        change(g, req);
    else
        refuse(req, 405, "invalid_request_error", "/admin/splits takes GET or POST");
}
