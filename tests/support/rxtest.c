/* Shared helpers for reflex's cmocka tests. */
#include "rxtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *rxt_shared(const char *rel)
{
    static char path[4096];
    const char *root = getenv("RX_SHARED");
    snprintf(path, sizeof path, "%s/%s", root ? root : "../shared", rel);
    return path;
}

const char *rxt_bin(void)
{
    const char *bin = getenv("RX_BIN");
    return bin ? bin : "./reflex";
}

char *rxt_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
        if (size) *size = (size_t)len;
    }
    return buf;
}

const char *rxt_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/rxtest.XXXXXX");
        if (!mkdtemp(dir)) return "/tmp";
    }
    return dir;
}
