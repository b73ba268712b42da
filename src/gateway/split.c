/* Traffic splits (see reflex/topology.h): parsing and picking a version. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "reflex/topology.h"

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= 128) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == ',' ||
            s[i] == ':' || s[i] == ';' || s[i] == '=')
            return false;
    return true;
}

static rx_status parse_versions(const char *p, const char *end, rx_split *sp)
{
    int total = 0;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (!colon || !name_ok(p, (size_t)(colon - p)))
            return rx_error(RX_ERR_FORMAT, "split %s: '%.*s' is not VERSION:WEIGHT", sp->model,
                            (int)(e - p), p);
        if (sp->n_versions == RX_SPLIT_MAX_VERSIONS)
            return rx_error(RX_ERR_FORMAT, "split %s: more than %d versions", sp->model,
                            RX_SPLIT_MAX_VERSIONS);
        char num[16];
        size_t nl = (size_t)(e - colon - 1);
        if (nl == 0 || nl >= sizeof num)
            return rx_error(RX_ERR_FORMAT, "split %s: a weight must be 0..1000", sp->model);
        memcpy(num, colon + 1, nl);
        num[nl] = '\0';
        char *stop;
        long w = strtol(num, &stop, 10);
        if (*stop || w < 0 || w > 1000)
            return rx_error(RX_ERR_FORMAT, "split %s: weight '%s' is not 0..1000", sp->model, num);
        int i = sp->n_versions++;
        memcpy(sp->version[i], p, (size_t)(colon - p));
        sp->version[i][colon - p] = '\0';
        for (int k = 0; k < i; k++)
            if (strcmp(sp->version[k], sp->version[i]) == 0)
                return rx_error(RX_ERR_FORMAT, "split %s: version %s given twice", sp->model,
                                sp->version[i]);
        sp->weight[i] = (int)w;
        total += (int)w;
        p = comma ? comma + 1 : end;
    }
    if (sp->n_versions == 0 || total == 0)
        return rx_error(RX_ERR_FORMAT, "split %s: needs a version with a weight above 0",
                        sp->model);
    return RX_OK;
}

rx_status rx_split_parse(const char *spec, rx_split *out)
{
    rx_split sp;
    memset(&sp, 0, sizeof sp);
    const char *end = spec + strlen(spec);
    const char *semi = memchr(spec, ';', (size_t)(end - spec));
    const char *head_end = semi ? semi : end;
    const char *eq = memchr(spec, '=', (size_t)(head_end - spec));
    if (!eq || !name_ok(spec, (size_t)(eq - spec)))
        return rx_error(RX_ERR_FORMAT, "split '%s': expected MODEL=VERSION:WEIGHT,...", spec);
    memcpy(sp.model, spec, (size_t)(eq - spec));
    rx_status s = parse_versions(eq + 1, head_end, &sp);
    const char *p = semi ? semi + 1 : end;
    while (s == RX_OK && p < end) {
        const char *q = memchr(p, ';', (size_t)(end - p));
        const char *e = q ? q : end;
        if ((size_t)(e - p) == 6 && memcmp(p, "sticky", 6) == 0) {
            sp.sticky = true;
        } else if ((size_t)(e - p) > 7 && memcmp(p, "shadow=", 7) == 0 &&
                   name_ok(p + 7, (size_t)(e - p - 7))) {
            memcpy(sp.shadow, p + 7, (size_t)(e - p - 7));
        } else {
            s = rx_error(RX_ERR_FORMAT, "split %s: unknown option '%.*s' (sticky, shadow=VERSION)",
                         sp.model, (int)(e - p), p);
        }
        p = q ? q + 1 : end;
    }
    if (s == RX_OK) *out = sp;
    return s;
}

int rx_split_pick(const rx_split *s, const char *user, double r)
{
    int total = 0;
    for (int i = 0; i < s->n_versions; i++)
        total += s->weight[i];
    if (total <= 0) return 0;
    if (s->sticky && user && user[0]) r = rx_hash_unit(rx_hash_mix64(rx_fnv1a64_str(user)));
    double x = r * total;
    for (int i = 0; i < s->n_versions; i++) {
        if (x < s->weight[i]) return i;
        x -= s->weight[i];
    }
    return s->n_versions - 1;
}
