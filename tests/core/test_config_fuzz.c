/* fuzz/fuzz_config.c inside the normal suite: every seed in fuzz/corpus/config, each of its
 * truncations, and three single-byte changes at every offset go through the driver, whose
 * invariants abort on failure. */
#include "rxtest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/fuzz_config.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    const char *src = getenv("RX_SRC");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/config", src ? src : ".");
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
            memcpy(buf, seed, n);
            LLVMFuzzerTestOneInput(buf, n);
        }
        for (size_t i = 0; i < size; i++) {
            const uint8_t values[] = {0x00, 0xff, (uint8_t)(seed[i] + 1)};
            for (int k = 0; k < 3; k++) {
                memcpy(buf, seed, size);
                buf[i] = values[k];
                LLVMFuzzerTestOneInput(buf, size);
            }
        }
        free(buf);
        free(seed);
        files++;
    }
    closedir(d);
    assert_true(files >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_seeds_and_mutations)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
