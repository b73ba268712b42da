/* Durations ("75ms", "1.5ms", "200us", "2s") and rates ("100mbit", "512kbit") in WAN configs:
 * a decimal number without sign or exponent, then a unit; nothing else. */
#include "wan/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Splits s into a plain decimal number and the unit after it; false if the number is malformed. */
static bool number_unit(const char *s, double *value, const char **unit)
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
    *value = strtod(num, NULL);
    *unit = s + i;
    return isfinite(*value);
}

bool rx_wan__parse_duration_us(const char *s, int64_t *out_us)
{
    double v;
    const char *unit;
    if (!number_unit(s, &v, &unit)) return false;
    double scale;
    if (strcmp(unit, "us") == 0)
        scale = 1;
    else if (strcmp(unit, "ms") == 0)
        scale = 1e3;
    else if (strcmp(unit, "s") == 0)
        scale = 1e6;
    else if (*unit == '\0' && v == 0)
        scale = 0; /* "0" needs no unit */
    else
        return false;
    double us = round(v * scale);
    if (us > (double)RX_WAN_MAX_DELAY_US) return false;
    *out_us = (int64_t)us;
    return true;
}

bool rx_wan__parse_rate_bps(const char *s, uint64_t *out_bps)
{
    double v;
    const char *unit;
    if (!number_unit(s, &v, &unit)) return false;
    double scale;
    if (strcasecmp(unit, "bit") == 0)
        scale = 1;
    else if (strcasecmp(unit, "kbit") == 0)
        scale = 1e3;
    else if (strcasecmp(unit, "mbit") == 0)
        scale = 1e6;
    else if (strcasecmp(unit, "gbit") == 0)
        scale = 1e9;
    else
        return false;
    double bps = round(v * scale);
    if (bps > (double)RX_WAN_MAX_RATE_BPS) return false;
    *out_bps = (uint64_t)bps;
    return true;
}
