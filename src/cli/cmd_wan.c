/* reflex wan up|down|cut|heal|status --config FILE: an emulated wide-area network on this
 * machine (see reflex/wan.h). Flags and printing only; the work is in src/wan. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reflex/wan.h"

static const char usage[] =
    "usage: reflex wan up|down|status --config FILE [--json]\n"
    "       reflex wan cut|heal LINK --config FILE\n"
    "\n"
    "Emulates a wide-area network on this machine (needs root): every host of the config is a\n"
    "network namespace <name>-<host>; every link forwards TCP between its two hosts through a\n"
    "relay that adds the link's one-way delay, jitter and rate each way.\n"
    "\n"
    "  up               create the namespaces and links, start the relay (detached)\n"
    "  down             stop the relay, delete every namespace (safe to repeat)\n"
    "  cut LINK         partition a link (\"A-B\" as in the config): traffic waits, new\n"
    "                   connections are refused\n"
    "  heal LINK        end the partition: waiting traffic goes on\n"
    "  status           hosts, links, state and byte counters (--json: machine-readable)\n"
    "  --config FILE    the WAN (YAML: name, hosts with ports, links with delay/jitter/rate;\n"
    "                   see bench/wan/default.yaml)\n"
    "  -h, --help       this help\n"
    "\n"
    "Run a process in a host:  ip netns exec <name>-<host> CMD\n"
    "A linked peer reaches host i at 10.77.0.(i+1) on the ports the config lists for it.\n";

static void print_ms(json_t *v)
{
    if (json_is_integer(v))
        printf("%-10lld", (long long)json_integer_value(v));
    else
        printf("%-10g", json_number_value(v));
}

/* The status object as two small tables. */
static void print_status(json_t *st)
{
    printf("wan %s: up (relay pid %lld)\n", json_string_value(json_object_get(st, "name")),
           (long long)json_integer_value(json_object_get(st, "relay_pid")));
    printf("  %-13s %-30s %-11s %s\n", "host", "netns", "address", "ports");
    size_t i;
    json_t *h, *l;
    json_array_foreach(json_object_get(st, "hosts"), i, h)
    {
        char ports[128] = "-";
        size_t j;
        json_t *p;
        json_array_foreach(json_object_get(h, "ports"), j, p)
            snprintf(ports + (j ? strlen(ports) : 0), sizeof ports - (j ? strlen(ports) : 0),
                     "%s%lld", j ? "," : "", (long long)json_integer_value(p));
        printf("  %-13s %-30s %-11s %s\n", json_string_value(json_object_get(h, "name")),
               json_string_value(json_object_get(h, "netns")),
               json_string_value(json_object_get(h, "address")), ports);
    }
    printf("  %-27s %-10s%-10s%-10s%-6s%14s%14s%8s\n", "link", "delay_ms", "jitter_ms", "rate_mbit",
           "state", "bytes_a_to_b", "bytes_b_to_a", "conns");
    json_array_foreach(json_object_get(st, "links"), i, l)
    {
        printf("  %-27s ", json_string_value(json_object_get(l, "name")));
        print_ms(json_object_get(l, "delay_ms"));
        print_ms(json_object_get(l, "jitter_ms"));
        json_t *rate = json_object_get(l, "rate_mbit");
        if (json_number_value(rate) == 0)
            printf("%-10s", "-");
        else
            printf("%-10g", json_number_value(rate));
        printf("%-6s%14lld%14lld%8lld\n", json_string_value(json_object_get(l, "state")),
               (long long)json_integer_value(json_object_get(l, "bytes_a_to_b")),
               (long long)json_integer_value(json_object_get(l, "bytes_b_to_a")),
               (long long)json_integer_value(json_object_get(l, "connections")));
    }
}

static int status(const rx_wan_config *c, bool as_json)
{
    char *reply;
    if (rx_wan_request(c, "status", &reply) != RX_OK)
        return rx_cli_fail("wan", "%s", rx_last_error());
    json_t *st = json_loads(reply, 0, NULL);
    if (as_json)
        printf("%s\n", reply);
    else if (st)
        print_status(st);
    json_decref(st);
    free(reply);
    return 0;
}

static int cut_or_heal(const rx_wan_config *c, const char *action, const char *link)
{
    int k = rx_wan_find_link(c, link);
    if (k < 0) {
        char known[512] = "";
        for (int i = 0; i < c->n_links; i++) {
            char n[32];
            rx_wan_link_name(c, i, n, sizeof n);
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", n);
        }
        return rx_cli_usage_error("wan", "no link '%s' in wan '%s' (links: %s)", link, c->name,
                                  known);
    }
    char name[32], request[64], *reply;
    rx_wan_link_name(c, k, name, sizeof name);
    snprintf(request, sizeof request, "%s %s", action, name);
    if (rx_wan_request(c, request, &reply) != RX_OK)
        return rx_cli_fail("wan", "%s %s: %s", action, name, rx_last_error());
    free(reply);
    printf("link %s: %s\n", name, strcmp(action, "cut") == 0 ? "cut" : "up");
    return 0;
}

int rx_cmd_wan(int argc, char **argv)
{
    const char *action = NULL, *link = NULL, *config = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (rx_cli_is_flag("wan", argc, argv, i, "--config", &missing)) {
            config = argv[++i];
        } else if (missing) {
            return 2;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (argv[i][0] == '-') {
            return rx_cli_usage_error("wan", "unknown option '%s'", argv[i]);
        } else if (!action) {
            action = argv[i];
        } else if (!link && (strcmp(action, "cut") == 0 || strcmp(action, "heal") == 0)) {
            link = argv[i];
        } else {
            return rx_cli_usage_error("wan", "unexpected argument '%s'", argv[i]);
        }
    }
    static const char *const actions[] = {"up", "down", "cut", "heal", "status"};
    bool known = false;
    for (size_t i = 0; action && i < sizeof actions / sizeof actions[0]; i++)
        known |= strcmp(action, actions[i]) == 0;
    if (!action)
        return rx_cli_usage_error("wan", "an action is required: up, down, cut, heal, status");
    if (!known)
        return rx_cli_usage_error("wan", "unknown action '%s' (up, down, cut, heal, status)",
                                  action);
    bool needs_link = strcmp(action, "cut") == 0 || strcmp(action, "heal") == 0;
    if (needs_link && !link) return rx_cli_usage_error("wan", "%s needs a LINK (\"A-B\")", action);
    if (as_json && strcmp(action, "status") != 0)
        return rx_cli_usage_error("wan", "--json goes with status only");
    if (!config) return rx_cli_usage_error("wan", "--config FILE is required");

    rx_wan_config cfg;
    if (rx_wan_config_load(config, &cfg) != RX_OK) return rx_cli_fail("wan", "%s", rx_last_error());
    if (strcmp(action, "status") == 0) return status(&cfg, as_json);
    if (needs_link) return cut_or_heal(&cfg, action, link);
    if (strcmp(action, "up") == 0) {
        if (rx_wan_up(&cfg) != RX_OK) return rx_cli_fail("wan", "up: %s", rx_last_error());
        printf("wan %s up: %d hosts, %d links; run a process in a host with: "
               "ip netns exec %s-<host> CMD\n",
               cfg.name, cfg.n_hosts, cfg.n_links, cfg.name);
        return 0;
    }
    int was_up;
    if (rx_wan_down(&cfg, &was_up) != RX_OK) return rx_cli_fail("wan", "down: %s", rx_last_error());
    printf("wan %s: %s\n", cfg.name, was_up ? "down" : "was not up");
    return 0;
}
