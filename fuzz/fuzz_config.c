/* libFuzzer target for config files (core/config_file.c): arbitrary bytes through libyaml and
 * our mapping walk. Beyond "no crash": a refusal is RX_ERR_FORMAT/RX_ERR_RANGE with a
 * "config fuzz:" message and leaves no arguments; an accepted file starts with a flag
 * "--name" of lowercase letters, digits and '-'.
 * Run: make fuzz && ./build-fuzz/fuzz_config -max_total_time=300 fuzz/corpus/config */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rx_config_args a;
    rx_status s = rx_config_parse((const char *)data, size, "fuzz", &a);
    if (s != RX_OK) {
        if (a.argc != 0 || a.argv != NULL) abort();
        if (s != RX_ERR_FORMAT && s != RX_ERR_RANGE && s != RX_ERR_NOMEM) abort();
        if (strncmp(rx_last_error(), "config fuzz", 11) != 0 && s != RX_ERR_NOMEM) abort();
        return 0;
    }
    /* the first argument is always a flag; later ones may be values that start with "--" */
    if (a.argc > 0) {
        if (strncmp(a.argv[0], "--", 2) != 0 || !a.argv[0][2]) abort();
        for (const char *p = a.argv[0] + 2; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) abort();
    }
    rx_config_args_free(&a);
    return 0;
}
