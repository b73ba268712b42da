/* What the gateway reads from a client's JSON body to route it: model, stream, user, data
 * domain, stickiness, n, and the digest of the leading prompt text (core/hash.h's rx_prefix_digest,
 * which nodes report in /v1/status). Pure: no I/O, fuzzable. */
#ifndef RX_GATEWAY_REQUEST_INFO_H
#define RX_GATEWAY_REQUEST_INFO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/status.h"

typedef struct {
    json_t *json;    /* owned: the body */
    char model[128]; /* "" when absent */
    char domain[64]; /* "public" when absent */
    char user[128];  /* "" when absent */
    bool stream, sticky, has_digest;
    int64_t n; /* choices asked for (1 when absent) */
    uint64_t digest;
    double min_confidence; /* "reflex": {"cascade": {"min_confidence": X}}; NAN when absent */
} gw_request_info;

/* Parses body[0..len) as a JSON object. RX_ERR_FORMAT with a message (line and column) when it
 * is not one; strings too long for the fields above are refused too, so nothing is cut short
 * silently (a truncated domain would route wrongly). *out is then empty. */
rx_status gw_request_info_parse(const char *body, size_t len, gw_request_info *out);
void gw_request_info_free(gw_request_info *info);

#endif
