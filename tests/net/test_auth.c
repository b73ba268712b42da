/* net/auth: Bearer keys from flags and files, matched whole (no prefixes), reload failures
 * leave the caller's keys untouched. */
#include "rxtest.h"

#include <stdio.h>
#include <string.h>

#include "net/auth.h"

static void test_keys(void **state)
{
    (void)state;
    const char *keys[] = {"alpha", "beta"};
    rx_auth a;
    assert_int_equal(rx_auth_load(keys, 2, NULL, &a), RX_OK);
    assert_false(rx_auth_open(&a));
    assert_int_equal(rx_auth_check(&a, "Bearer alpha"), 0);
    assert_int_equal(rx_auth_check(&a, "bearer beta"), 1);
    assert_int_equal(rx_auth_check(&a, "Bearer alph"), -1);
    assert_int_equal(rx_auth_check(&a, "Bearer alphaa"), -1);
    assert_int_equal(rx_auth_check(&a, "alpha"), -1);
    assert_int_equal(rx_auth_check(&a, "Basic alpha"), -1);
    assert_int_equal(rx_auth_check(&a, ""), -1);
    assert_int_equal(rx_auth_check(&a, NULL), -1);
    rx_auth_free(&a);

    rx_auth none;
    assert_int_equal(rx_auth_load(NULL, 0, NULL, &none), RX_OK);
    assert_true(rx_auth_open(&none));
    rx_auth_free(&none);

    const char *empty[] = {""};
    assert_int_equal(rx_auth_load(empty, 1, NULL, &a), RX_ERR_FORMAT);
}

static void test_key_file(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/keys", rxt_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# team keys\n\n  gamma  \ndelta\r\n", f);
    fclose(f);
    const char *keys[] = {"alpha"};
    rx_auth a;
    assert_int_equal(rx_auth_load(keys, 1, path, &a), RX_OK);
    assert_int_equal(a.n, 3);
    assert_int_equal(rx_auth_check(&a, "Bearer gamma"), 1);
    assert_int_equal(rx_auth_check(&a, "Bearer delta"), 2);
    assert_int_equal(rx_auth_check(&a, "Bearer # team keys"), -1);
    rx_auth kept = a;
    assert_int_equal(rx_auth_load(keys, 1, "/nonexistent/keys", &a), RX_ERR_IO);
    assert_ptr_equal(a.digest, kept.digest); /* untouched on failure */
    assert_non_null(strstr(rx_last_error(), "/nonexistent/keys"));
    rx_auth_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
