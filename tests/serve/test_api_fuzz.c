/* fuzz/fuzz_api_request.c inside the normal suite: every committed seed in fuzz/corpus/api (and
 * any crash reproducer added there), every truncation of each, and five single-byte changes at
 * every offset (rxt_replay_corpus) go through the fuzz driver, whose invariants abort on failure.
 * Keeps the driver compiling under gcc -Werror and the seeds meaningful between fuzz runs. */
#include "rxtest.h"

#include "../../fuzz/fuzz_api_request.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    rxt_replay_corpus("api", LLVMFuzzerTestOneInput, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_and_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
