/* fuzz/fuzz_wan_config.c inside the normal suite: every seed in fuzz/corpus/wan, each of its
 * truncations, and five single-byte changes at every offset go through the driver, whose
 * invariants abort on failure. */
#include "rxtest.h"

#include "../../fuzz/fuzz_wan_config.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    rxt_replay_corpus("wan", LLVMFuzzerTestOneInput, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_seeds_and_mutations)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
