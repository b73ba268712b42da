/* Shared helpers for reflex's cmocka tests. */
#include "rxtest.h"

#include <dirent.h>
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

void rxt_replay_corpus(const char *name, int (*fuzz_one)(const uint8_t *, size_t), int min_files)
{
    const char *src = getenv("RX_SRC");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", src ? src : ".", name);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        size_t size;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *seed = (uint8_t *)rxt_read_file(path, &size);
        assert_non_null(seed);
        uint8_t *buf = malloc(size ? size : 1);
        assert_non_null(buf);
        for (size_t n = 0; n <= size; n++) {
            memcpy(buf, seed, n); /* exactly n bytes in a buffer of the seed's size */
            fuzz_one(buf, n);
        }
        for (size_t i = 0; i < size; i++) {
            const uint8_t values[] = {0x00, 0xff, '\n', '\r', (uint8_t)(seed[i] + 1)};
            for (int k = 0; k < 5; k++) {
                memcpy(buf, seed, size);
                buf[i] = values[k];
                fuzz_one(buf, size);
            }
        }
        free(buf);
        free(seed);
        files++;
    }
    closedir(d);
    assert_true(files >= min_files);
}
