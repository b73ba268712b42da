/* Parsing and questions about the fleet's topology (see reflex/topology.h). */
#include "reflex/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tier_names[] = {"access", "regional", "central"};

rx_status rx_tier_parse(const char *s, rx_tier *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, tier_names[i]) == 0) {
            *out = (rx_tier)i;
            return RX_OK;
        }
    return rx_error(RX_ERR_FORMAT, "tier must be access, regional or central, not '%s'", s);
}

const char *rx_tier_name(rx_tier t)
{
    return (unsigned)t < 3 ? tier_names[t] : "?";
}

/* Copies [s, s+len) into dst (cap bytes) when it fits and holds printable ASCII only. */
static bool copy_field(char *dst, size_t cap, const char *s, size_t len)
{
    if (len == 0 || len >= cap) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

static rx_status parse_url(const char *url, size_t len, rx_upstream_spec *u)
{
    const char *p = url, *end = url + len;
    if (len < 7 || strncmp(p, "http://", 7) != 0)
        return rx_error(RX_ERR_FORMAT, "upstream '%.*s': the URL must start with http://", (int)len,
                        url);
    p += 7;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *host_end = slash ? slash : end;
    if (slash && !(slash + 1 == end)) /* only "http://host:port" or "http://host:port/" */
        return rx_error(RX_ERR_FORMAT, "upstream '%.*s': give no path (the API is /v1/...)",
                        (int)len, url);
    const char *colon = NULL;
    for (const char *q = p; q < host_end; q++)
        if (*q == ':') colon = q;
    if (!colon)
        return rx_error(RX_ERR_FORMAT, "upstream '%.*s': a port is required", (int)len, url);
    if (!copy_field(u->host, sizeof u->host, p, (size_t)(colon - p)))
        return rx_error(RX_ERR_FORMAT, "upstream '%.*s': bad host", (int)len, url);
    long port = 0;
    for (const char *q = colon + 1; q < host_end; q++) {
        if (*q < '0' || *q > '9' || port > 65535) {
            port = -1;
            break;
        }
        port = port * 10 + (*q - '0');
    }
    if (port <= 0 || port > 65535 || colon + 1 == host_end)
        return rx_error(RX_ERR_FORMAT, "upstream '%.*s': the port must be 1..65535", (int)len, url);
    u->port = (int)port;
    snprintf(u->name, sizeof u->name, "%s:%d", u->host, u->port);
    return RX_OK;
}

/* A comma-separated list of fields into rows of width w. */
static rx_status parse_list(const char *what, const char *v, size_t len, char *rows, size_t w,
                            int *n, const rx_upstream_spec *u)
{
    *n = 0;
    const char *p = v, *end = v + len;
    while (p <= end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        if (*n == RX_TOPO_MAX_LIST)
            return rx_error(RX_ERR_FORMAT, "upstream %s: more than %d %s", u->name,
                            RX_TOPO_MAX_LIST, what);
        if (!copy_field(rows + (size_t)*n * w, w, p, (size_t)(e - p)))
            return rx_error(RX_ERR_FORMAT, "upstream %s: bad %s entry '%.*s'", u->name, what,
                            (int)(e - p), p);
        (*n)++;
        if (!c) break;
        p = c + 1;
    }
    return RX_OK;
}

static rx_status parse_kv(const char *k, size_t kl, const char *v, size_t vl, rx_upstream_spec *u)
{
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(k, s, kl) == 0)
    char buf[128];
    if (KEY("fallback")) {
        if (vl == 4 && memcmp(v, "true", 4) == 0)
            u->fallback = true;
        else if (vl == 5 && memcmp(v, "false", 5) == 0)
            u->fallback = false;
        else
            return rx_error(RX_ERR_FORMAT, "upstream %s: fallback must be true or false", u->name);
        return RX_OK;
    }
    if (KEY("tier") || KEY("weight")) {
        if (!copy_field(buf, sizeof buf, v, vl))
            return rx_error(RX_ERR_FORMAT, "upstream %s: bad %.*s", u->name, (int)kl, k);
        if (KEY("tier")) {
            rx_status s = rx_tier_parse(buf, &u->tier);
            return s == RX_OK ? s : rx_error_context(s, "upstream %s: ", u->name);
        }
        char *end;
        long w = strtol(buf, &end, 10);
        if (*end || w < 1 || w > 1000)
            return rx_error(RX_ERR_FORMAT, "upstream %s: weight must be 1..1000, not '%s'", u->name,
                            buf);
        u->weight = (int)w;
        return RX_OK;
    }
    if (KEY("region") || KEY("site") || KEY("name")) {
        char *dst = KEY("region") ? u->region : KEY("site") ? u->site : u->name;
        size_t cap = KEY("region") ? sizeof u->region
                     : KEY("site") ? sizeof u->site
                                   : sizeof u->name;
        if (!copy_field(dst, cap, v, vl))
            return rx_error(RX_ERR_FORMAT, "upstream %s: bad %.*s '%.*s'", u->name, (int)kl, k,
                            (int)vl, v);
        return RX_OK;
    }
    if (KEY("domains"))
        return parse_list("domains", v, vl, &u->domains[0][0], sizeof u->domains[0], &u->n_domains,
                          u);
    if (KEY("models")) {
        rx_status s =
            parse_list("models", v, vl, &u->models[0][0], sizeof u->models[0], &u->n_models, u);
        /* "id=alias": clients say alias, the node is sent id */
        for (int i = 0; s == RX_OK && i < u->n_models; i++) {
            char *eq = strchr(u->models[i], '=');
            snprintf(u->model_upstream[i], sizeof u->model_upstream[i], "%s", u->models[i]);
            if (!eq) continue;
            *eq = '\0';
            u->model_upstream[i][eq - u->models[i]] = '\0';
            if (!u->models[i][0] || !eq[1])
                return rx_error(RX_ERR_FORMAT, "upstream %s: a model alias reads id=alias",
                                u->name);
            memmove(u->models[i], eq + 1, strlen(eq + 1) + 1);
        }
        return s;
    }
    return rx_error(RX_ERR_FORMAT,
                    "upstream %s: unknown field '%.*s' (tier, region, site, domains, models, "
                    "weight, name, fallback)",
                    u->name, (int)kl, k);
#undef KEY
}

rx_status rx_upstream_parse(const char *spec, rx_upstream_spec *out)
{
    rx_upstream_spec u;
    memset(&u, 0, sizeof u);
    u.weight = 1;
    const size_t len = strlen(spec);
    const char *semi = memchr(spec, ';', len);
    const char *end = spec + len;
    rx_status s = parse_url(spec, semi ? (size_t)(semi - spec) : len, &u);
    const char *p = semi ? semi + 1 : end;
    bool seen[8] = {0};
    static const char *once[] = {"tier",   "region", "site", "domains",
                                 "models", "weight", "name", "fallback"};
    while (s == RX_OK && p < end) {
        const char *q = memchr(p, ';', (size_t)(end - p));
        const char *e = q ? q : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq || eq == p)
            s = rx_error(RX_ERR_FORMAT, "upstream %s: '%.*s' is not key=value", u.name,
                         (int)(e - p), p);
        for (int i = 0; s == RX_OK && i < 8; i++)
            if ((size_t)(eq - p) == strlen(once[i]) && memcmp(p, once[i], strlen(once[i])) == 0) {
                if (seen[i])
                    s = rx_error(RX_ERR_FORMAT, "upstream %s: %s given twice", u.name, once[i]);
                seen[i] = true;
            }
        if (s == RX_OK) s = parse_kv(p, (size_t)(eq - p), eq + 1, (size_t)(e - eq - 1), &u);
        p = q ? q + 1 : end;
    }
    if (s != RX_OK) return s;
    if (u.n_domains == 0) {
        u.n_domains = 1;
        snprintf(u.domains[0], sizeof u.domains[0], "public");
    }
    *out = u;
    return RX_OK;
}

bool rx_upstream_serves(const rx_upstream_spec *u, const char *model, const char **upstream_id)
{
    if (u->n_models == 0) {
        *upstream_id = model;
        return true;
    }
    for (int i = 0; i < u->n_models; i++)
        if (strcmp(u->models[i], model) == 0) {
            *upstream_id = u->model_upstream[i];
            return true;
        }
    return false;
}

bool rx_upstream_holds_domain(const rx_upstream_spec *u, const char *domain)
{
    for (int i = 0; i < u->n_domains; i++)
        if (strcmp(u->domains[i], domain) == 0) return true;
    return false;
}
