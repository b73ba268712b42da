/* libFuzzer target for what the gateway parses itself: the first byte picks the client's JSON
 * body as routing reads it (gateway/request_info.c) or an --upstream topology string
 * (gateway/topology.c). Beyond "no crash": a refusal is RX_ERR_FORMAT with a message and leaves
 * nothing owned; an accepted body has a non-empty NUL-terminated domain; an accepted upstream
 * has a port in 1..65535, a weight in 1..1000 and at least one domain.
 * Run: make fuzz && ./build-fuzz/fuzz_gateway_request -max_total_time=300 fuzz/corpus/gateway */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/request_info.h"
#include "reflex/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    if (data[0] % 2 == 0) {
        gw_request_info info;
        rx_status s = gw_request_info_parse(text, len, &info);
        if (s != RX_OK) {
            if (s != RX_ERR_FORMAT || info.json || !rx_last_error()[0]) abort();
            return 0;
        }
        if (!info.json || !info.domain[0] || strlen(info.domain) >= sizeof info.domain) abort();
        gw_request_info_free(&info);
        return 0;
    }
    char *spec = malloc(len + 1);
    if (!spec) return 0;
    memcpy(spec, text, len);
    spec[len] = '\0';
    rx_upstream_spec u;
    rx_status s = rx_upstream_parse(spec, &u);
    if (s == RX_OK) {
        if (u.port < 1 || u.port > 65535 || u.weight < 1 || u.weight > 1000 || u.n_domains < 1)
            abort();
        const char *id;
        (void)rx_upstream_serves(&u, "m", &id);
    } else if (s != RX_ERR_FORMAT || !rx_last_error()[0]) {
        abort();
    }
    free(spec);
    return 0;
}
