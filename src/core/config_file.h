/* Config files for the long-running roles (serve, gateway): a YAML mapping whose keys are the
 * command's long flag names, turned into the same flags, so every flag can live in the file and
 * means exactly what it means on the command line.
 *
 *   port: 8080            ->  --port 8080
 *   api-key: [k1, k2]     ->  --api-key k1 --api-key k2
 *   prefix-cache: true    ->  --prefix-cache        (false: the flag is left out)
 *
 * Parsed with libyaml; anything else (nested mappings, anchors to nowhere, a non-scalar key, a
 * key that is not a flag name) is refused with the file, line and column. */
#ifndef RX_CORE_CONFIG_FILE_H
#define RX_CORE_CONFIG_FILE_H

#include <stddef.h>

#include "reflex/status.h"

typedef struct {
    int argc;
    char **argv; /* owned: "--key", "value", ... (no program name) */
} rx_config_args;

/* Parses text[0..len); origin names it in messages. On failure *out is empty. */
rx_status rx_config_parse(const char *text, size_t len, const char *origin, rx_config_args *out);
/* Reads a whole file of at most max_bytes into *text (malloc'd, NUL-terminated, the caller
 * frees); a larger file is read only to max_bytes + 1, for the parser's size check to refuse. */
rx_status rx_config_read_file(const char *path, size_t max_bytes, char **text, size_t *len);
/* Reads and parses a file (at most 1 MiB). */
rx_status rx_config_load(const char *path, rx_config_args *out);
void rx_config_args_free(rx_config_args *a); /* accepts an empty one */

#endif
