/* Strict flag-value parsing and one-line error output for the subcommands. */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vfail(const char *cmd, int code, const char *fmt, va_list ap)
{
    fprintf(stderr, "reflex %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    if (code == 2) fprintf(stderr, " (see 'reflex %s --help')", cmd);
    fputc('\n', stderr);
    return code;
}

int rx_cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int code = vfail(cmd, 1, fmt, ap);
    va_end(ap);
    return code;
}

int rx_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int code = vfail(cmd, 2, fmt, ap);
    va_end(ap);
    return code;
}

bool rx_cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) {
        rx_cli_usage_error(cmd, "%s: expected an integer in [%lld, %lld], got '%s'", flag,
                           (long long)lo, (long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool rx_cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
                  double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || isnan(v) || v < lo || v > hi) {
        rx_cli_usage_error(cmd, "%s: expected a number in [%g, %g], got '%s'", flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool rx_cli_is_flag(const char *cmd, int argc, char **argv, int i, const char *flag,
                    bool *missing)
{
    if (strcmp(argv[i], flag) != 0) return false;
    if (i + 1 >= argc) {
        rx_cli_usage_error(cmd, "%s needs a value", flag);
        *missing = true;
        return false;
    }
    return true;
}
