/* fuzz/fuzz_http_response.c inside the normal suite: every committed seed in
 * fuzz/corpus/http-response (crash reproducers included), every truncation of each, and every
 * single-byte change of the seeds (0x00, 0xff, '\n', '\r', +1 at each offset) go through the fuzz
 * driver, whose invariants abort on failure: the response reader must agree with itself however
 * the bytes are cut. Keeps the driver compiling under gcc -Werror and the seeds valid. */
#include "rxtest.h"

#include "../../fuzz/fuzz_http_response.c"

static void test_seeds_and_mutations(void **state)
{
    (void)state;
    rxt_replay_corpus("http-response", LLVMFuzzerTestOneInput, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_and_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
