/* Status names and the per-thread error message behind rx_error() / rx_last_error(). */
#include "reflex/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_text[] = {
#define RX_STATUS_TEXT(name, text) text,
    RX_STATUS_LIST(RX_STATUS_TEXT)
#undef RX_STATUS_TEXT
};

static _Thread_local char last_message[1024];

const char *rx_status_str(rx_status s)
{
    if ((unsigned)s >= RX_STATUS_COUNT) return "unknown status";
    return status_text[s];
}

rx_status rx_error(rx_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return s;
}

rx_status rx_error_context(rx_status s, const char *fmt, ...)
{
    char prefix[512], old[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_message, sizeof old);
    const char *tail = old[0] ? old : rx_status_str(s);
    size_t n = strnlen(prefix, sizeof last_message - 1);
    memcpy(last_message, prefix, n);
    size_t m = strnlen(tail, sizeof last_message - 1 - n);
    memcpy(last_message + n, tail, m);
    last_message[n + m] = '\0';
    return s;
}

const char *rx_last_error(void) { return last_message; }

void rx_error_clear(void) { last_message[0] = '\0'; }
