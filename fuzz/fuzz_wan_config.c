/* libFuzzer target for WAN configs (wan/config.c): arbitrary bytes through libyaml and our walk.
 * Beyond "no crash": a refusal is RX_ERR_FORMAT/RX_ERR_RANGE with one "config fuzz" line and
 * leaves the config empty; an accepted config keeps every documented limit (2..16 hosts with
 * valid, distinct names and ports, 1..32 links between distinct known hosts, no pair twice,
 * jitter <= delay <= 10 s, rate 0 or 8 kbit..100 gbit), and each link's name finds that link.
 * Run: make fuzz && ./build-fuzz/fuzz_wan_config -max_total_time=300 fuzz/corpus/wan */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/wan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z')) abort();
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) abort();
}

static void check_config(const rx_wan_config *c)
{
    check_name(c->name, RX_WAN_NAME_MAX);
    if (c->n_hosts < 2 || c->n_hosts > RX_WAN_MAX_HOSTS) abort();
    if (c->n_links < 1 || c->n_links > RX_WAN_MAX_LINKS) abort();
    for (int h = 0; h < c->n_hosts; h++) {
        const rx_wan_host *x = &c->hosts[h];
        check_name(x->name, RX_WAN_HOST_NAME_MAX);
        for (int j = 0; j < h; j++)
            if (strcmp(c->hosts[j].name, x->name) == 0) abort();
        if (x->n_ports < 0 || x->n_ports > RX_WAN_MAX_PORTS) abort();
        for (int i = 0; i < x->n_ports; i++) {
            if (x->ports[i] == 0) abort();
            for (int j = 0; j < i; j++)
                if (x->ports[j] == x->ports[i]) abort();
        }
    }
    for (int k = 0; k < c->n_links; k++) {
        const rx_wan_link *l = &c->links[k];
        if (l->a < 0 || l->a >= c->n_hosts || l->b < 0 || l->b >= c->n_hosts || l->a == l->b)
            abort();
        if (l->delay_us < 0 || l->delay_us > RX_WAN_MAX_DELAY_US) abort();
        if (l->jitter_us < 0 || l->jitter_us > l->delay_us) abort();
        if (l->rate_bps != 0 && (l->rate_bps < 8000 || l->rate_bps > RX_WAN_MAX_RATE_BPS)) abort();
        char name[32];
        rx_wan_link_name(c, k, name, sizeof name);
        if (rx_wan_find_link(c, name) != k) abort(); /* no pair is linked twice */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rx_wan_config c;
    rx_status s = rx_wan_config_parse((const char *)data, size, "fuzz", &c);
    if (s != RX_OK) {
        if (c.n_hosts != 0 || c.n_links != 0 || c.name[0] != '\0') abort();
        if (s != RX_ERR_FORMAT && s != RX_ERR_RANGE && s != RX_ERR_NOMEM) abort();
        if (s != RX_ERR_NOMEM &&
            (strncmp(rx_last_error(), "config fuzz", 11) != 0 || strchr(rx_last_error(), '\n')))
            abort();
        return 0;
    }
    check_config(&c);
    return 0;
}
