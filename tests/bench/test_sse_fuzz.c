/* fuzz/fuzz_sse.c inside the normal suite: every committed seed in fuzz/corpus/sse (and any
 * crash reproducer added there), every truncation of each, and every single-byte change of the
 * seeds (0x00, '\n', '\r', +1 at each offset) go through the fuzz driver, whose invariants abort
 * on failure. Keeps the driver compiling under gcc -Werror and the seeds valid between runs. */
#include "rxtest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/fuzz_sse.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    const char *src = getenv("RX_SRC");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/sse", src ? src : ".");
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    long inputs = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        size_t size;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        uint8_t *seed = (uint8_t *)rxt_read_file(path, &size);
        assert_non_null(seed);
        uint8_t *buf = malloc(size ? size : 1);
        assert_non_null(buf);
        for (size_t n = 0; n <= size; n++, inputs++) {
            memcpy(buf, seed, n);
            LLVMFuzzerTestOneInput(buf, n);
        }
        for (size_t i = 0; i < size; i++) {
            const uint8_t values[] = {0x00, '\n', '\r', (uint8_t)(seed[i] + 1)};
            for (int k = 0; k < 4; k++, inputs++) {
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
    assert_true(files >= 5);
    print_message("%d seeds, %ld inputs\n", files, inputs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_and_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
