/* gateway/topology: --upstream strings parse into every field, with aliases and defaults, and
 * every malformed one is refused with a message naming the field. */
#include "rxtest.h"

#include <string.h>

#include "reflex/topology.h"

static void test_full_spec(void **state)
{
    (void)state;
    rx_upstream_spec u;
    assert_int_equal(rx_upstream_parse("http://127.0.0.1:8081;tier=regional;site=s1;region=r1;"
                                       "domains=public,d1;models=m1,big=fast;weight=3;name=n1",
                                       &u),
                     RX_OK);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8081);
    assert_int_equal(u.tier, RX_TIER_REGIONAL);
    assert_string_equal(u.site, "s1");
    assert_string_equal(u.region, "r1");
    assert_int_equal(u.n_domains, 2);
    assert_true(rx_upstream_holds_domain(&u, "d1"));
    assert_false(rx_upstream_holds_domain(&u, "d2"));
    assert_int_equal(u.weight, 3);
    assert_string_equal(u.name, "n1");
    const char *id;
    assert_true(rx_upstream_serves(&u, "m1", &id));
    assert_string_equal(id, "m1");
    assert_true(rx_upstream_serves(&u, "fast", &id)); /* alias: clients say fast */
    assert_string_equal(id, "big");
    assert_false(rx_upstream_serves(&u, "big", &id));
    assert_false(u.fallback);
    assert_int_equal(rx_upstream_parse("http://h:1;fallback=true", &u), RX_OK);
    assert_true(u.fallback);
}

static void test_defaults(void **state)
{
    (void)state;
    rx_upstream_spec u;
    assert_int_equal(rx_upstream_parse("http://localhost:9000/", &u), RX_OK);
    assert_int_equal(u.tier, RX_TIER_ACCESS);
    assert_int_equal(u.weight, 1);
    assert_string_equal(u.name, "localhost:9000");
    assert_true(rx_upstream_holds_domain(&u, "public"));
    const char *id;
    assert_true(rx_upstream_serves(&u, "anything", &id)); /* no models listed: any */
}

static void refused(const char *spec, const char *needle)
{
    rx_upstream_spec u;
    assert_int_equal(rx_upstream_parse(spec, &u), RX_ERR_FORMAT);
    if (!strstr(rx_last_error(), needle))
        fail_msg("'%s': '%s' lacks '%s'", spec, rx_last_error(), needle);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("127.0.0.1:8081", "http://");
    refused("https://127.0.0.1:8081", "http://");
    refused("http://127.0.0.1", "port");
    refused("http://127.0.0.1:0", "port");
    refused("http://127.0.0.1:70000", "port");
    refused("http://127.0.0.1:80a", "port");
    refused("http://127.0.0.1:8081/v1", "path");
    refused("http://:8081", "host");
    refused("http://h:1;tier=edge", "tier");
    refused("http://h:1;weight=0", "weight");
    refused("http://h:1;weight=x", "weight");
    refused("http://h:1;colour=red", "unknown field 'colour'");
    refused("http://h:1;tier", "key=value");
    refused("http://h:1;site=a;site=b", "site given twice");
    refused("http://h:1;domains=a,,b", "domains");
    refused("http://h:1;models==x", "alias");
    refused("http://h:1;site=a b", "site");
    refused("http://h:1;fallback=yes", "fallback");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
