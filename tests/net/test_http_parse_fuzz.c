/* fuzz/fuzz_http_request.c inside the normal suite: every seed in fuzz/corpus/http, each of its
 * truncations, and three single-byte changes at every offset go through the driver, whose
 * invariants abort on failure. */
#include "rxtest.h"

#include "../../fuzz/fuzz_http_request.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    rxt_replay_corpus("http", LLVMFuzzerTestOneInput, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_seeds_and_mutations)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
