/* Reading a client's request body for routing (see request_info.h). */
#include "gateway/request_info.h"

#include "core/hash.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static rx_status copy(char *dst, size_t cap, const json_t *v, const char *field)
{
    if (!v) return RX_OK;
    if (!json_is_string(v)) return rx_error(RX_ERR_FORMAT, "'%s' must be a string", field);
    size_t n = json_string_length(v);
    if (n >= cap || memchr(json_string_value(v), '\0', n))
        return rx_error(RX_ERR_FORMAT, "'%s' must be a string of at most %zu bytes", field,
                        cap - 1);
    memcpy(dst, json_string_value(v), n + 1);
    return RX_OK;
}

rx_status gw_request_info_parse(const char *body, size_t len, gw_request_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->domain, sizeof out->domain, "public");
    out->n = 1;
    json_error_t e;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        return o ? rx_error(RX_ERR_FORMAT, "the body must be a JSON object")
                 : rx_error(RX_ERR_FORMAT, "the body is not JSON: %s at line %d column %d", e.text,
                            e.line, e.column);
    }
    json_t *rx = json_object_get(o, "reflex");
    rx_status s = copy(out->model, sizeof out->model, json_object_get(o, "model"), "model");
    if (s == RX_OK) s = copy(out->user, sizeof out->user, json_object_get(o, "user"), "user");
    if (s == RX_OK && rx && !json_is_object(rx))
        s = rx_error(RX_ERR_FORMAT, "'reflex' must be an object");
    if (s == RX_OK)
        s = copy(out->domain, sizeof out->domain, json_object_get(rx, "domain"), "reflex.domain");
    /* an empty domain would match no node's list and read as a policy by accident */
    if (s == RX_OK && !out->domain[0])
        s = rx_error(RX_ERR_FORMAT, "'reflex.domain' may not be empty");
    if (s != RX_OK) {
        json_decref(o);
        memset(out, 0, sizeof *out);
        return s;
    }
    /* the cascade opt-in: a mean token log-probability below X sends the request up a tier */
    out->min_confidence = NAN;
    json_t *cascade = json_object_get(rx, "cascade");
    if (cascade) {
        json_t *mc = json_object_get(cascade, "min_confidence");
        if (!json_is_object(cascade) || !json_is_number(mc) || json_number_value(mc) > 0) {
            json_decref(o);
            memset(out, 0, sizeof *out);
            return rx_error(RX_ERR_FORMAT,
                            "'reflex.cascade' must be {\"min_confidence\": X}, X a mean token "
                            "log-probability (a number <= 0)");
        }
        out->min_confidence = json_number_value(mc);
        if (json_is_true(json_object_get(o, "stream"))) {
            json_decref(o);
            memset(out, 0, sizeof *out);
            return rx_error(RX_ERR_FORMAT, "a cascade needs \"stream\": false (the local draft "
                                           "must be judged before anyone sees it)");
        }
    }
    out->json = o;
    out->stream = json_is_true(json_object_get(o, "stream"));
    out->sticky = json_is_true(json_object_get(rx, "sticky"));
    json_t *n = json_object_get(o, "n");
    if (json_is_integer(n)) out->n = json_integer_value(n);
    /* the node's digest covers the first message's text, or the (first) prompt */
    json_t *lead = json_object_get(json_array_get(json_object_get(o, "messages"), 0), "content");
    if (!lead) {
        lead = json_object_get(o, "prompt");
        if (json_is_array(lead)) lead = json_array_get(lead, 0);
    }
    if (json_is_string(lead)) {
        out->has_digest = true;
        out->digest = rx_prefix_digest(json_string_value(lead), json_string_length(lead));
    }
    return RX_OK;
}

void gw_request_info_free(gw_request_info *info)
{
    json_decref(info->json);
    info->json = NULL;
}
