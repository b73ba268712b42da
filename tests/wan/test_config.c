/* wan/config.c: the default WAN file parses to what it says; every kind of bad config is refused
 * with one message naming the file position and the field; link names resolve either way round;
 * addresses and namespace names follow the documented scheme. */
#include "rxtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/wan.h"
#include "wan/internal.h"

static void test_default_file(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/bench/wan/default.yaml", getenv("RX_SRC"));
    rx_wan_config c;
    assert_int_equal(rx_wan_config_load(path, &c), RX_OK);
    assert_string_equal(c.name, "rxwan");
    assert_int_equal(c.n_hosts, 4);
    assert_int_equal(c.n_links, 4);
    assert_string_equal(c.hosts[1].name, "edge");
    assert_int_equal(c.hosts[1].n_ports, 2);
    assert_int_equal(c.hosts[1].ports[0], 8080);
    assert_int_equal(c.hosts[1].ports[1], 8081);
    assert_int_equal(c.hosts[0].n_ports, 0);
    static const int64_t delays_ms[] = {1, 10, 75, 76};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(c.links[k].delay_us, delays_ms[k] * 1000);
        assert_int_equal(c.links[k].jitter_us, 0);
        assert_int_equal(c.links[k].rate_bps, 0);
    }
    assert_int_equal(c.links[2].a, 1);
    assert_int_equal(c.links[2].b, 3);
    assert_int_equal(rx_wan_find_link(&c, "edge-central"), 2);
    assert_int_equal(rx_wan_find_link(&c, "central-edge"), 2);
    assert_int_equal(rx_wan_find_link(&c, "edge-centra"), -1);
    assert_int_equal(rx_wan_find_link(&c, "edge"), -1);
    assert_int_equal(rx_wan_find_link(&c, ""), -1);
    char buf[64];
    rx_wan_host_netns(&c, 3, buf, sizeof buf);
    assert_string_equal(buf, "rxwan-central");
    rx_wan__link_netns(&c, 2, buf, sizeof buf);
    assert_string_equal(buf, "rxwan-l2");
    rx_wan_link_name(&c, 3, buf, sizeof buf);
    assert_string_equal(buf, "client-central");
    rx_wan_service_addr_str(1, buf, sizeof buf);
    assert_string_equal(buf, "10.77.0.2");
    const uint8_t *a = (const uint8_t *)&(uint32_t){rx_wan_service_addr(1)};
    assert_true(a[0] == 10 && a[1] == 77 && a[2] == 0 && a[3] == 2);
    assert_int_equal(rx_wan__veth_addr(2, 3), (10u << 24) | (78u << 16) | (2u << 8) | 6u);
}

static void test_options_and_forms(void **state)
{
    (void)state;
    /* block style, options, a link named the other way round, a trailing document end */
    const char *y = "name: w_1\n"
                    "hosts:\n"
                    "  - name: a\n"
                    "    ports:\n"
                    "      - 1\n"
                    "      - 65535\n"
                    "  - name: b2\n"
                    "links:\n"
                    "  - a: b2\n"
                    "    b: a\n"
                    "    delay: 1.5ms\n"
                    "    jitter: 200us\n"
                    "    rate: 512kbit\n"
                    "...\n";
    rx_wan_config c;
    assert_int_equal(rx_wan_config_parse(y, strlen(y), "t", &c), RX_OK);
    assert_int_equal(c.links[0].a, 1);
    assert_int_equal(c.links[0].b, 0);
    assert_int_equal(c.links[0].delay_us, 1500);
    assert_int_equal(c.links[0].jitter_us, 200);
    assert_int_equal(c.links[0].rate_bps, 512000);
    assert_int_equal(c.hosts[0].ports[1], 65535);
}

typedef struct {
    const char *yaml;
    const char *needle; /* must appear in the message */
} bad_case;

static void test_refusals(void **state)
{
    (void)state;
#define HOSTS "hosts: [{name: a, ports: [80]}, {name: b}]\n"
#define LINK "links: [{a: a, b: b, delay: 1ms}]\n"
    static const bad_case cases[] = {
        {"", "must be a mapping"},
        {"- 1\n", "must be a mapping"},
        {HOSTS LINK, "name: missing"},
        {"name: w\n" LINK, "hosts: at least two"},
        {"name: w\nhosts: [{name: a}]\n" LINK, "hosts: at least two"},
        {"name: w\n" HOSTS, "links: at least one"},
        {"name: W\n" HOSTS LINK, "t:1:7: name: 'W'"},
        {"name: 1w\n" HOSTS LINK, "name: '1w'"},
        {"name: a-b\n" HOSTS LINK, "name: 'a-b'"},
        {"name: abcdefghijklmnopqrstuvwxy\n" HOSTS LINK, "name: longer than 24"},
        {"name: w\nname: v\n" HOSTS LINK, "'name' is given twice"},
        {"name: w\ncolour: red\n" HOSTS LINK, "unknown key 'colour'"},
        {"name: w\nhosts: [{name: a}, {name: a}]\n" LINK, "hosts[1].name: host 'a' is defined"},
        {"name: w\nhosts: [{name: a}, {ports: [1]}]\n" LINK, "hosts[1]: name is missing"},
        {"name: w\nhosts: [{name: a}, {name: l3}]\n" LINK, "hosts[1].name: 'l3' is reserved"},
        {"name: w\nhosts: [{name: a}, {name: verylonghostn}]\n" LINK,
         "hosts[1].name: longer than 12"},
        {"name: w\nhosts: [{name: a, ports: [0]}, {name: b}]\n" LINK,
         "hosts[0].ports[0]: a port must be"},
        {"name: w\nhosts: [{name: a, ports: [65536]}, {name: b}]\n" LINK, "hosts[0].ports[0]"},
        {"name: w\nhosts: [{name: a, ports: [-1]}, {name: b}]\n" LINK, "hosts[0].ports[0]"},
        {"name: w\nhosts: [{name: a, ports: [8x]}, {name: b}]\n" LINK, "hosts[0].ports[0]"},
        {"name: w\nhosts: [{name: a, ports: [5, 5]}, {name: b}]\n" LINK,
         "hosts[0].ports[1]: port 5 twice"},
        {"name: w\nhosts: [{name: a, ports: 80}, {name: b}]\n" LINK,
         "hosts[0].ports: expected a list"},
        {"name: w\nhosts: [{name: a, ports: [[80]]}, {name: b}]\n" LINK, "hosts[0].ports[0]"},
        {"name: w\nhosts: [a, b]\n" LINK, "hosts[0]: expected a mapping"},
        {"name: w\nhosts: {a: 1}\n" LINK, "hosts: expected a list"},
        {"name: w\n" HOSTS "links: [{a: a, b: x, delay: 1ms}]\n", "links[0].b: unknown host 'x'"},
        {"name: w\n" HOSTS "links: [{a: y, b: b, delay: 1ms}]\n", "links[0].a: unknown host 'y'"},
        {"name: w\n" HOSTS "links: [{a: a, b: a, delay: 1ms}]\n",
         "links[0]: links host 'a' to itself"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 1ms}, {a: b, b: a, delay: 2ms}]\n",
         "links[1]: hosts 'b' and 'a' are linked twice"},
        {"name: w\n" HOSTS "links: [{a: a, b: b}]\n", "links[0]: delay is missing"},
        {"name: w\n" HOSTS "links: [{b: b, delay: 1ms}]\n", "links[0]: a is missing"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 75}]\n",
         "links[0].delay: '75' is not a duration"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: -1ms}]\n", "links[0].delay"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 20s}]\n", "links[0].delay"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: [1ms]}]\n",
         "links[0].delay: expected a single"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 1ms, jitter: 2ms}]\n",
         "links[0]: jitter is larger than delay"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 1ms, rate: 100mb}]\n",
         "links[0].rate: '100mb' is not a rate"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 1ms, rate: 1kbit}]\n", "links[0].rate"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 1ms, loss: 1%}]\n",
         "links[0]: unknown key 'loss'"},
        {"name: w\n" HOSTS "links: [{a: a, b: b, delay: 1ms, delay: 2ms}]\n",
         "links[0]: 'delay' is given twice"},
        {"name: &x w\n" HOSTS "links: [{a: *x, b: b, delay: 1ms}]\n", "aliases are not supported"},
        {"name: w\n" HOSTS LINK "---\nname: v\n", "one document only"},
        {"name: w\nhosts: [{name: a}, {name: b}\n", "t:"},
        {"name: \"w\\0\"\n" HOSTS LINK, "NUL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rx_wan_config c;
        rx_status s = rx_wan_config_parse(cases[i].yaml, strlen(cases[i].yaml), "t", &c);
        if (s == RX_OK || !strstr(rx_last_error(), cases[i].needle) ||
            strncmp(rx_last_error(), "config t", 8) != 0 || strchr(rx_last_error(), '\n')) {
            print_error("case %zu: %s\n  status %d, message '%s', want '%s'\n", i, cases[i].yaml, s,
                        rx_last_error(), cases[i].needle);
            fail();
        }
        assert_int_equal(c.n_hosts, 0); /* nothing half-parsed is left */
    }
}

static void test_limits(void **state)
{
    (void)state;
    /* 16 hosts are fine, 17 are too many; 32 links fine, 33 too many */
    char y[8192];
    for (int n_hosts = 16; n_hosts <= 17; n_hosts++) {
        int off = snprintf(y, sizeof y, "name: w\nhosts:\n");
        for (int i = 0; i < n_hosts; i++)
            off += snprintf(y + off, sizeof y - (size_t)off, "  - {name: h%d}\n", i);
        off += snprintf(y + off, sizeof y - (size_t)off, "links:\n");
        int n_links = n_hosts == 16 ? 32 : 1;
        for (int k = 0; k < n_links; k++)
            off += snprintf(y + off, sizeof y - (size_t)off, "  - {a: h%d, b: h%d, delay: 1ms}\n",
                            k % 16, (k % 16 + 1 + k / 16) % 16);
        rx_wan_config c;
        rx_status s = rx_wan_config_parse(y, (size_t)off, "t", &c);
        if (n_hosts == 16) {
            assert_int_equal(s, RX_OK);
            assert_int_equal(c.n_links, 32);
        } else {
            assert_int_equal(s, RX_ERR_FORMAT);
            assert_non_null(strstr(rx_last_error(), "hosts[16]: more than 16 hosts"));
        }
    }
    int off = snprintf(y, sizeof y, "name: w\nhosts: [{name: a}, {name: b}]\nlinks:\n");
    for (int k = 0; k < 33; k++)
        off += snprintf(y + off, sizeof y - (size_t)off, "  - {a: a, b: b, delay: 1ms}\n");
    rx_wan_config c;
    assert_int_equal(rx_wan_config_parse(y, (size_t)off, "t", &c), RX_ERR_FORMAT);
    assert_non_null(strstr(rx_last_error(), "links[32]: more than 32 links"));
    /* a file over 64 KiB is refused before parsing */
    char *big = calloc(1, (64u << 10) + 2);
    memset(big, ' ', (64u << 10) + 1);
    assert_int_equal(rx_wan_config_parse(big, (64u << 10) + 1, "t", &c), RX_ERR_RANGE);
    free(big);
    assert_int_equal(rx_wan_config_load("/nonexistent.yaml", &c), RX_ERR_IO);
    assert_non_null(strstr(rx_last_error(), "/nonexistent.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_file),
        cmocka_unit_test(test_options_and_forms),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
