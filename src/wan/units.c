/* Durations ("75ms", "1.5ms", "200us", "2s") and rates ("100mbit", "512kbit") in WAN configs:
 * a decimal number without sign or exponent, then a unit; nothing else. */
#include "wan/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    double scale;
} unit;

/* The whole of s as a plain decimal number times one of units (NULL-terminated; case-blind if
 * asked), rounded; false if malformed or above max. A bare "0" needs no unit. */
static bool parse_scaled(const char *s, const unit *units, bool any_case, double max, double *out)
{
    size_t i = 0, digits = 0, dots = 0;
    for (; s[i]; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.' && dots == 0)
            dots++;
        else
            break;
    }
    if (digits == 0 || i > 24) return false;
    char num[32];
    memcpy(num, s, i);
    num[i] = '\0';
    double v = strtod(num, NULL);
    const char *name = s + i;
    double scale = -1;
    if (*name == '\0' && v == 0) scale = 0;
    for (const unit *u = units; scale < 0 && u->name; u++)
        if (any_case ? strcasecmp(name, u->name) == 0 : strcmp(name, u->name) == 0)
            scale = u->scale;
    if (scale < 0 || !isfinite(v)) return false;
    *out = round(v * scale);
    return *out <= max;
}

bool rx_wan__parse_duration_us(const char *s, int64_t *out_us)
{
    static const unit units[] = {{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {NULL, 0}};
    double v;
    if (!parse_scaled(s, units, false, (double)RX_WAN_MAX_DELAY_US, &v)) return false;
    *out_us = (int64_t)v;
    return true;
}

bool rx_wan__parse_rate_bps(const char *s, uint64_t *out_bps)
{
    static const unit units[] = {
        {"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {NULL, 0}};
    double v;
    if (!parse_scaled(s, units, true, (double)RX_WAN_MAX_RATE_BPS, &v)) return false;
    *out_bps = (uint64_t)v;
    return true;
}
