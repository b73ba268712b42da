/* gateway/split: --split strings parse (weights, sticky, shadow) and refuse every mistake; picks
 * follow the weights, and a sticky split sends one user to one version. */
#include "rxtest.h"

#include <stdio.h>
#include <string.h>

#include "reflex/topology.h"

static void test_parse(void **state)
{
    (void)state;
    rx_split s;
    assert_int_equal(rx_split_parse("m=a:90,b:10;sticky;shadow=c", &s), RX_OK);
    assert_string_equal(s.model, "m");
    assert_int_equal(s.n_versions, 2);
    assert_string_equal(s.version[1], "b");
    assert_int_equal(s.weight[0], 90);
    assert_true(s.sticky);
    assert_string_equal(s.shadow, "c");
    const char *bad[] = {"m",     "m=",        "m=a",  "m=a:",         "m=a:x",         "m=a:1001",
                         "m=a:0", "m=a:1,a:2", "=a:1", "m=a:1;colour", "m=a:1;shadow=", "m=a b:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (rx_split_parse(bad[i], &s) != RX_ERR_FORMAT) fail_msg("accepted '%s'", bad[i]);
        assert_true(rx_last_error()[0] != '\0');
    }
}

static void test_pick(void **state)
{
    (void)state;
    rx_split s;
    assert_int_equal(rx_split_parse("m=a:90,b:10", &s), RX_OK);
    int b = 0;
    for (int i = 0; i < 1000; i++)
        b += rx_split_pick(&s, NULL, (i + 0.5) / 1000.0) == 1;
    assert_int_equal(b, 100);
    assert_int_equal(rx_split_parse("m=a:0,b:5", &s), RX_OK);
    assert_int_equal(rx_split_pick(&s, NULL, 0.0), 1);
    assert_int_equal(rx_split_parse("m=a:50,b:50;sticky", &s), RX_OK);
    int seen[2] = {0};
    for (int u = 0; u < 100; u++) {
        char user[16];
        snprintf(user, sizeof user, "user-%d", u);
        int v = rx_split_pick(&s, user, 0.01);
        for (int k = 0; k < 5; k++)
            assert_int_equal(rx_split_pick(&s, user, k / 5.0), v);
        seen[v]++;
    }
    assert_true(seen[0] > 25 && seen[1] > 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse), cmocka_unit_test(test_pick)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
