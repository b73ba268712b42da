/* fuzz/fuzz_plot_report.c inside the normal suite: every committed seed in fuzz/corpus/plot
 * (and any crash reproducer added there), every truncation of each, and five single-byte
 * changes at every offset go through the fuzz driver, whose invariants abort on failure. Keeps
 * the driver compiling under gcc -Werror and the seeds valid between runs. */
#include "rxtest.h"

#include "../../fuzz/fuzz_plot_report.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    rxt_replay_corpus("plot", LLVMFuzzerTestOneInput, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_and_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
