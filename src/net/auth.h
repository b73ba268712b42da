/* API keys for the node and the gateway's admin API: Bearer tokens checked in constant time
 * (SHA-256 of the presented token compared with every key's digest, no early exit), loaded from
 * flags and key files and reloaded on SIGHUP. Thread safety: one thread (the event loop) uses
 * and reloads it. */
#ifndef RX_NET_AUTH_H
#define RX_NET_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/status.h"

typedef struct {
    uint8_t (*digest)[32]; /* owned, [n] */
    size_t n;
} rx_auth;

/* Builds the key set from keys[0..n_keys) and, when key_file is set, its lines (blank lines
 * and '#' comments skipped, whitespace trimmed). On failure (unreadable file: RX_ERR_IO naming
 * it; an empty key: RX_ERR_FORMAT with the line) *out is left untouched. */
rx_status rx_auth_load(const char *const *keys, size_t n_keys, const char *key_file, rx_auth *out);
void rx_auth_free(rx_auth *a);

/* True when no keys are configured (authentication off). */
bool rx_auth_open(const rx_auth *a);

/* Checks an Authorization header value ("Bearer <key>"); returns the key's index, or -1. */
int rx_auth_check(const rx_auth *a, const char *authorization);

#endif
