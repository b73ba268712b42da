/* fuzz/fuzz_gguf.c inside the normal suite: every committed seed in fuzz/corpus/gguf (and any
 * crash reproducer added there), every truncation of each, and five single-byte changes of the
 * seeds at each offset (rxt_replay_corpus) go through the fuzz driver, whose invariants abort on
 * failure. Keeps the driver compiling under gcc -Werror and the seeds valid between fuzz runs. */
#include "rxtest.h"

#include "../../fuzz/fuzz_gguf.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    rxt_replay_corpus("gguf", LLVMFuzzerTestOneInput, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_and_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
