/* reflex gateway: flags (or the same names in a --config YAML file; command-line flags win)
 * become an rx_gateway_config; rx_gateway_run does the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/config_file.h"
#include "reflex/gateway.h"

static const char usage[] =
    "usage: reflex gateway --upstream SPEC [--upstream SPEC ...] [options]\n"
    "\n"
    "Routes OpenAI-compatible requests (/v1/...) across nodes and tiers: by model, data domain,\n"
    "health, saturation, prefix-cache affinity, locality and latency; escalates to the regional\n"
    "or central tier only when the local tier cannot serve; retries and resumes streams on\n"
    "failure; answers 503 with Retry-After at once when nothing eligible is left.\n"
    "\n"
    "  --upstream SPEC      'http://HOST:PORT;tier=access;site=S;region=R;domains=public,D;\n"
    "                       models=M1,ID=ALIAS;weight=N;name=NAME' (repeatable)\n"
    "  --split 'MODEL=V1:90,V2:10[;sticky][;shadow=V3]'   traffic split of a model over\n"
    "                       versions (ids upstreams serve); sticky keeps a user on one version\n"
    "  --cache-ttl S        keep greedy non-streamed answers S seconds, served only when no\n"
    "                       upstream is eligible (default: off)\n"
    "  --admin-key KEY      enables GET/POST /admin/splits (changes under load, atomically)\n"
    "  --tier T, --region R, --site S   where this gateway stands (default tier access)\n"
    "  --host ADDR          listen address (default 127.0.0.1)\n"
    "  --port N             listen port (default 8080; 0 = any free port)\n"
    "  --name NAME          reported in x-reflex-node for its own answers\n"
    "  --poll-interval S    poll every upstream's /v1/status every S seconds (default 0.5)\n"
    "  --eject-time S       leave a failed upstream out for S seconds (default 5)\n"
    "  --retry-budget F     retries at most F x requests (+3) (default 0.2)\n"
    "  --connect-timeout S, --first-byte-timeout S, --idle-timeout S   (default 2, 30, 30)\n"
    "  --max-body-bytes N   (default 8388608)\n"
    "  --config FILE        YAML mapping of these flag names to values (upstream: a list)\n"
    "  --hedge              copy a non-streamed request to a second upstream when it takes\n"
    "                       longer than the first one's p95 (last minute); first answer wins;\n"
    "                       copies count against the retry budget\n"
    "  --quiet              no per-request log lines\n"
    "  -h, --help           this help\n";

typedef struct {
    rx_gateway_config g;
} gw_opts;

static bool is(const char *a, const char *s)
{
    return strcmp(a, s) == 0;
}

static bool seconds(const char *a, const char *v, int *ms)
{
    double s;
    if (!rx_cli_float("gateway", a, v, 0.001, 86400, &s)) return false;
    *ms = (int)(s * 1000);
    return true;
}

/* Returns 1 consumed, 0 unknown, -1 error. */
static int value_flag(gw_opts *o, const char *a, const char *v)
{
    rx_gateway_config *c = &o->g;
    int64_t n;
    if (is(a, "--upstream")) {
        if (c->topo.n_upstreams == RX_TOPO_MAX_UPSTREAMS) {
            rx_cli_usage_error("gateway", "at most %d upstreams", RX_TOPO_MAX_UPSTREAMS);
            return -1;
        }
        if (rx_upstream_parse(v, &c->topo.upstreams[c->topo.n_upstreams]) != RX_OK) {
            rx_cli_usage_error("gateway", "--upstream: %s", rx_last_error());
            return -1;
        }
        c->topo.n_upstreams++;
    } else if (is(a, "--split")) {
        if (c->topo.n_splits == RX_TOPO_MAX_SPLITS) {
            rx_cli_usage_error("gateway", "at most %d splits", RX_TOPO_MAX_SPLITS);
            return -1;
        }
        if (rx_split_parse(v, &c->topo.splits[c->topo.n_splits]) != RX_OK) {
            rx_cli_usage_error("gateway", "--split: %s", rx_last_error());
            return -1;
        }
        c->topo.n_splits++;
    } else if (is(a, "--cache-ttl")) {
        return seconds(a, v, &c->cache_ttl_ms) ? 1 : -1;
    } else if (is(a, "--admin-key")) {
        c->admin_key = v;
    } else if (is(a, "--tier")) {
        if (rx_tier_parse(v, &c->topo.tier) != RX_OK) {
            rx_cli_usage_error("gateway", "--tier: %s", rx_last_error());
            return -1;
        }
    } else if (is(a, "--region"))
        snprintf(c->topo.region, sizeof c->topo.region, "%s", v);
    else if (is(a, "--site"))
        snprintf(c->topo.site, sizeof c->topo.site, "%s", v);
    else if (is(a, "--host"))
        c->http.host = v;
    else if (is(a, "--name"))
        c->name = v;
    else if (is(a, "--port")) {
        if (!rx_cli_int("gateway", a, v, 0, 65535, &n)) return -1;
        c->http.port = (int)n;
    } else if (is(a, "--max-body-bytes")) {
        if (!rx_cli_int("gateway", a, v, 256, (int64_t)1 << 32, &n)) return -1;
        c->http.max_body_bytes = (size_t)n;
    } else if (is(a, "--poll-interval"))
        return seconds(a, v, &c->poll_interval_ms) ? 1 : -1;
    else if (is(a, "--eject-time"))
        return seconds(a, v, &c->eject_ms) ? 1 : -1;
    else if (is(a, "--connect-timeout"))
        return seconds(a, v, &c->connect_timeout_ms) ? 1 : -1;
    else if (is(a, "--first-byte-timeout"))
        return seconds(a, v, &c->first_byte_timeout_ms) ? 1 : -1;
    else if (is(a, "--idle-timeout"))
        return seconds(a, v, &c->idle_timeout_ms) ? 1 : -1;
    else if (is(a, "--retry-budget")) {
        if (!rx_cli_float("gateway", a, v, 0.0001, 10, &c->retry_budget)) return -1;
    } else if (is(a, "--config"))
        return 1;
    else
        return 0;
    return 1;
}

static int parse_list(gw_opts *o, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (is(a, "-h") || is(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (is(a, "--quiet")) {
            o->g.quiet = true;
            continue;
        }
        if (is(a, "--hedge")) {
            o->g.hedge = true;
            continue;
        }
        if (i + 1 >= argc) {
            if (value_flag(o, a, "") == 0)
                return rx_cli_usage_error("gateway", "unknown option '%s'", a);
            return rx_cli_usage_error("gateway", "%s needs a value", a);
        }
        int v = value_flag(o, a, argv[i + 1]);
        if (v < 0) return 2;
        if (v == 0) return rx_cli_usage_error("gateway", "unknown option '%s'", a);
        i++;
    }
    return -1;
}

static void print_listening(int port, void *user)
{
    (void)user;
    fprintf(stderr, "reflex gateway: listening on port %d\n", port);
}

/* Reads the config file (when --config is given) and the flags, which win. */
static int load(gw_opts *o, int argc, char **argv, rx_config_args *file)
{
    memset(o, 0, sizeof *o);
    o->g.http.port = 8080;
    const char *config = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (is(argv[i], "--config")) config = argv[i + 1];
    if (config && rx_config_load(config, file) != RX_OK)
        return rx_cli_fail("gateway", "%s", rx_last_error());
    int r = parse_list(o, file->argc, file->argv);
    if (r < 0) r = parse_list(o, argc - 1, argv + 1);
    if (r < 0 && o->g.topo.n_upstreams == 0)
        r = rx_cli_usage_error("gateway", "at least one --upstream is required");
    return r;
}

typedef struct {
    int argc;
    char **argv;
} reload_ctx;

/* SIGHUP and POST /admin/reload: the same files and flags, read again. */
static rx_status reload(rx_topology *out, void *user)
{
    reload_ctx *ctx = user;
    gw_opts *o = malloc(sizeof *o);
    if (!o) return rx_error(RX_ERR_NOMEM, "no memory");
    rx_config_args file = {0};
    /* parse errors were printed as usage lines; say it once more as the reason */
    int r = load(o, ctx->argc, ctx->argv, &file);
    rx_status s = r < 0 ? RX_OK : rx_error(RX_ERR_FORMAT, "the topology did not parse (see above)");
    if (s == RX_OK) *out = o->g.topo;
    rx_config_args_free(&file);
    free(o);
    return s;
}

int rx_cmd_gateway(int argc, char **argv)
{
    gw_opts *o = malloc(sizeof *o);
    if (!o) return rx_cli_fail("gateway", "out of memory");
    rx_config_args file = {0};
    int r = load(o, argc, argv, &file);
    reload_ctx ctx = {argc, argv};
    if (r < 0) {
        o->g.on_listening = print_listening;
        o->g.reload = reload;
        o->g.reload_user = &ctx;
        r = rx_gateway_run(&o->g) == RX_OK ? 0 : rx_cli_fail("gateway", "%s", rx_last_error());
    }
    rx_config_args_free(&file);
    free(o);
    return r;
}
