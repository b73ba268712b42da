/* core/config_file: YAML settings become the same flags as the command line; every malformed
 * file is refused with its line and column, never accepted half-way. */
#include "rxtest.h"

#include <stdio.h>
#include <string.h>

#include "core/config_file.h"

static void expect_args(const char *yaml, const char *const *want, int n_want)
{
    rx_config_args a;
    assert_int_equal(rx_config_parse(yaml, strlen(yaml), "t.yaml", &a), RX_OK);
    assert_int_equal(a.argc, n_want);
    for (int i = 0; i < n_want; i++)
        assert_string_equal(a.argv[i], want[i]);
    rx_config_args_free(&a);
}

static void expect_error(const char *yaml, const char *needle)
{
    rx_config_args a;
    rx_status s = rx_config_parse(yaml, strlen(yaml), "t.yaml", &a);
    assert_int_not_equal(s, RX_OK);
    assert_int_equal(a.argc, 0);
    assert_null(a.argv);
    if (!strstr(rx_last_error(), needle)) fail_msg("'%s' lacks '%s'", rx_last_error(), needle);
}

static void test_scalars_lists_switches(void **state)
{
    (void)state;
    const char *want[] = {"--port",  "8080",   "--api-key", "k1",      "--api-key", "k 2",
                          "--quiet", "--host", "127.0.0.1", "--model", "a: b.gguf"};
    expect_args("port: 8080\napi-key: [k1, \"k 2\"]\nquiet: true\nno-prefix-cache: false\n"
                "host: 127.0.0.1\nmodel: 'a: b.gguf'\n",
                want, 11);
    /* a quoted "true" is a value, not a switch */
    const char *want2[] = {"--tier", "true"};
    expect_args("tier: \"true\"\n", want2, 2);
    /* block lists, comments, document markers */
    const char *want3[] = {"--api-key", "a", "--api-key", "b"};
    expect_args("---\n# keys\napi-key:\n  - a\n  - b\n...\n", want3, 4);
}

static void test_empty_file(void **state)
{
    (void)state;
    expect_args("", NULL, 0);
    expect_args("# nothing\n", NULL, 0);
    expect_args("{}\n", NULL, 0);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_error("port: [8080\n", "t.yaml:");
    expect_error("port:\n  nested: 1\n", "t.yaml:2:");
    expect_error("- a\n- b\n", "mapping");
    expect_error("Port: 1\n", "flag name");
    expect_error("--port: 1\n", "flag name");
    expect_error("port: &a 1\nhost: *a\n", "alias");
    expect_error("api-key: [[a]]\n", "scalars");
    expect_error("a: 1\n---\nb: 2\n", "mapping");
    expect_error("\"\\0\": 1\n", "flag name");
    expect_error("host: \"a\\0b\"\n", "NUL");
}

static void test_load_file(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/c.yaml", rxt_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("parallel: 8\n", f);
    fclose(f);
    rx_config_args a;
    assert_int_equal(rx_config_load(path, &a), RX_OK);
    assert_int_equal(a.argc, 2);
    assert_string_equal(a.argv[0], "--parallel");
    rx_config_args_free(&a);
    assert_int_equal(rx_config_load("/nonexistent/c.yaml", &a), RX_ERR_IO);
    assert_non_null(strstr(rx_last_error(), "/nonexistent/c.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_lists_switches),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
