/* Constant-time Bearer-key checks (see auth.h). */
#include "net/auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static rx_status add_key(rx_auth *a, const char *key, size_t len)
{
    uint8_t(*d)[32] = realloc(a->digest, (a->n + 1) * sizeof *d);
    if (!d) return rx_error(RX_ERR_NOMEM, "auth: no memory for %zu keys", a->n + 1);
    a->digest = d;
    SHA256((const unsigned char *)key, len, a->digest[a->n++]);
    return RX_OK;
}

static rx_status load_file(const char *path, rx_auth *a)
{
    FILE *f = fopen(path, "r");
    if (!f) return rx_error(RX_ERR_IO, "cannot read API key file '%s'", path);
    char line[1024];
    rx_status s = RX_OK;
    while (s == RX_OK && fgets(line, sizeof line, f)) {
        char *b = line, *e = line + strlen(line);
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (b == e || *b == '#') continue;
        s = add_key(a, b, (size_t)(e - b));
    }
    if (s == RX_OK && ferror(f)) s = rx_error(RX_ERR_IO, "error reading API key file '%s'", path);
    fclose(f);
    return s;
}

rx_status rx_auth_load(const char *const *keys, size_t n_keys, const char *key_file, rx_auth *out)
{
    rx_auth a = {0};
    rx_status s = RX_OK;
    for (size_t i = 0; i < n_keys && s == RX_OK; i++) {
        if (!keys[i][0])
            s = rx_error(RX_ERR_FORMAT, "--api-key: an API key may not be empty");
        else
            s = add_key(&a, keys[i], strlen(keys[i]));
    }
    if (s == RX_OK && key_file) s = load_file(key_file, &a);
    if (s != RX_OK) {
        rx_auth_free(&a);
        return s;
    }
    *out = a;
    return RX_OK;
}

void rx_auth_free(rx_auth *a)
{
    free(a->digest);
    a->digest = NULL;
    a->n = 0;
}

bool rx_auth_open(const rx_auth *a)
{
    return a->n == 0;
}

int rx_auth_check(const rx_auth *a, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return -1;
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    uint8_t d[32];
    SHA256((const unsigned char *)key, strlen(key), d);
    /* visit every key, so the time taken does not tell which (or whether one) matched */
    int found = -1;
    for (size_t i = 0; i < a->n; i++) {
        int eq = CRYPTO_memcmp(d, a->digest[i], sizeof d) == 0;
        found = eq && found < 0 ? (int)i : found;
    }
    return found;
}
