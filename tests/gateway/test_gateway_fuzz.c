/* fuzz/fuzz_gateway_request.c inside the normal suite: every seed in fuzz/corpus/gateway, each
 * truncation, and three single-byte changes at every offset go through the driver, whose
 * invariants abort on failure. */
#include "rxtest.h"

#include "../../fuzz/fuzz_gateway_request.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    rxt_replay_corpus("gateway", LLVMFuzzerTestOneInput, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_seeds_and_mutations)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
