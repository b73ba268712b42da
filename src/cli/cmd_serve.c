/* reflex serve: the edge node. Flags (or the same names in a --config YAML file; flags given on
 * the command line win) become an rx_node_config; rx_node_run does the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/engine_opts.h"
#include "core/config_file.h"
#include "reflex/node.h"

static const char usage[] =
    "usage: reflex serve -m MODEL [options]\n"
    "\n"
    "Serves MODEL over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions,\n"
    "/v1/embeddings, /v1/models) with continuous batching and streaming, plus /health, /ready,\n"
    "/metrics (Prometheus) and /v1/status (for routers). SIGTERM drains; SIGHUP reloads keys.\n"
    "\n"
    "engine:\n" RX_ENGINE_FLAGS_HELP "  -c is the context of each slot here.\n"
    "  -np, --parallel N    slots: sequences decoded together (default 4)\n"
    "  --queue N            requests that may wait for a slot; more get 503 (default 64)\n"
    "  --no-prefix-cache    do not reuse cached prompt prefixes\n"
    "  --model-id NAME      the id clients send as \"model\" (default: file name)\n"
    "  --model-version V    reported in /v1/status (default: SHA-256 prefix)\n"
    "http:\n"
    "  --host ADDR          listen address (default 127.0.0.1)\n"
    "  --port N             listen port (default 8080; 0 = any free port)\n"
    "  --max-header-bytes N, --max-body-bytes N   limits (default 16384, 8388608)\n"
    "  --header-timeout S, --body-timeout S, --idle-timeout S   seconds (default 10, 30, 60)\n"
    "  --max-connections N  (default 1024)\n"
    "  --tls-cert FILE --tls-key FILE   serve HTTPS\n"
    "  --tls-client-ca FILE             require client certificates signed by this CA\n"
    "security and identity:\n"
    "  --api-key KEY        accept this Bearer key (repeatable); none: no authentication\n"
    "  --api-key-file FILE  one key per line (re-read on SIGHUP)\n"
    "  --cors-origin ORIGIN allow browser requests from ORIGIN\n"
    "  --node-name NAME, --tier access|regional|central, --region R, --site S\n"
    "  --domains D1,D2      data domains this node may hold (default public)\n"
    "lifecycle:\n"
    "  --drain-timeout S    on SIGTERM, let requests finish for S seconds (default 30)\n"
    "  --config FILE        YAML mapping of these flag names to values\n"
    "  --quiet              no per-request log lines\n"
    "  -h, --help           this help\n";

#define MAX_KEYS 64

typedef struct {
    rx_engine_opts eng;
    rx_node_config node;
    const char *keys[MAX_KEYS];
} serve_opts;

static bool is(const char *a, const char *s)
{
    return strcmp(a, s) == 0;
}

static bool int_flag(const char *a, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    return rx_cli_int("serve", a, v, lo, hi, out);
}

/* One flag with a value; returns 1 consumed, 0 unknown, -1 error. */
static int value_flag(serve_opts *o, const char *a, const char *v)
{
    int64_t n;
    rx_node_config *c = &o->node;
    if (is(a, "--host"))
        c->http.host = v;
    else if (is(a, "--port")) {
        if (!int_flag(a, v, 0, 65535, &n)) return -1;
        c->http.port = (int)n;
    } else if (is(a, "-np") || is(a, "--parallel")) {
        if (!int_flag(a, v, 1, 256, &n)) return -1;
        c->sched.n_slots = (int32_t)n;
    } else if (is(a, "--queue")) {
        if (!int_flag(a, v, 1, 1 << 20, &n)) return -1;
        c->sched.queue_cap = (int32_t)n;
    } else if (is(a, "--max-header-bytes")) {
        if (!int_flag(a, v, 256, 1 << 24, &n)) return -1;
        c->http.max_header_bytes = (size_t)n;
    } else if (is(a, "--max-body-bytes")) {
        if (!int_flag(a, v, 256, (int64_t)1 << 32, &n)) return -1;
        c->http.max_body_bytes = (size_t)n;
    } else if (is(a, "--header-timeout") || is(a, "--body-timeout") || is(a, "--idle-timeout") ||
               is(a, "--drain-timeout")) {
        double sec;
        if (!rx_cli_float("serve", a, v, 0.001, 86400, &sec)) return -1;
        int ms = (int)(sec * 1000);
        if (is(a, "--header-timeout"))
            c->http.header_timeout_ms = ms;
        else if (is(a, "--body-timeout"))
            c->http.body_timeout_ms = ms;
        else if (is(a, "--idle-timeout"))
            c->http.idle_timeout_ms = ms;
        else
            c->drain_timeout_ms = ms;
    } else if (is(a, "--max-connections")) {
        if (!int_flag(a, v, 1, 1 << 20, &n)) return -1;
        c->http.max_connections = (int)n;
    } else if (is(a, "--tls-cert"))
        c->http.tls_cert = v;
    else if (is(a, "--tls-key"))
        c->http.tls_key = v;
    else if (is(a, "--tls-client-ca"))
        c->http.tls_client_ca = v;
    else if (is(a, "--api-key")) {
        if (c->n_api_keys == MAX_KEYS) {
            rx_cli_usage_error("serve", "at most %d --api-key flags (use --api-key-file)",
                               MAX_KEYS);
            return -1;
        }
        o->keys[c->n_api_keys++] = v;
    } else if (is(a, "--api-key-file"))
        c->api_key_file = v;
    else if (is(a, "--cors-origin"))
        c->cors_origin = v;
    else if (is(a, "--node-name"))
        c->node_name = v;
    else if (is(a, "--tier")) {
        if (!is(v, "access") && !is(v, "regional") && !is(v, "central")) {
            rx_cli_usage_error("serve", "--tier: expected access, regional or central, got '%s'",
                               v);
            return -1;
        }
        c->tier = v;
    } else if (is(a, "--region"))
        c->region = v;
    else if (is(a, "--site"))
        c->site = v;
    else if (is(a, "--domains"))
        c->domains = v;
    else if (is(a, "--model-id"))
        c->model_id = v;
    else if (is(a, "--model-version"))
        c->model_version = v;
    else if (is(a, "--config"))
        return 1; /* read before the other flags */
    else
        return 0;
    return 1;
}

/* Parses args[0..argc) (no program name). Returns -1 to go on, or an exit code. */
static int parse_list(serve_opts *o, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int r = rx_engine_opts_parse("serve", &o->eng, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (is(a, "-h") || is(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (is(a, "--no-prefix-cache")) {
            o->node.sched.prefix_cache = false;
            continue;
        }
        if (is(a, "--quiet")) {
            o->node.quiet = true;
            continue;
        }
        if (i + 1 >= argc) {
            if (value_flag(o, a, "") == 0)
                return rx_cli_usage_error("serve", "unknown option '%s'", a);
            return rx_cli_usage_error("serve", "%s needs a value", a);
        }
        int v = value_flag(o, a, argv[i + 1]);
        if (v < 0) return 2;
        if (v == 0) return rx_cli_usage_error("serve", "unknown option '%s'", a);
        i++;
    }
    return -1;
}

static void print_listening(int port, void *user)
{
    (void)user;
    /* a line scripts can wait for */
    fprintf(stderr, "reflex serve: listening on port %d\n", port);
}

int rx_cmd_serve(int argc, char **argv)
{
    serve_opts o;
    memset(&o, 0, sizeof o);
    rx_engine_opts_init(&o.eng);
    o.node.sched = rx_sched_default_params();
    o.node.sched.n_slots = 4;
    o.node.http.port = 8080;

    const char *config = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (is(argv[i], "--config")) config = argv[i + 1];
    rx_config_args file = {0};
    if (config && rx_config_load(config, &file) != RX_OK)
        return rx_cli_fail("serve", "%s", rx_last_error());
    int r = parse_list(&o, file.argc, file.argv);
    if (r < 0) r = parse_list(&o, argc - 1, argv + 1);
    if (r >= 0) {
        rx_config_args_free(&file);
        return r;
    }
    if (!o.eng.model) {
        rx_config_args_free(&file);
        return rx_cli_usage_error("serve", "a model is required (-m MODEL)");
    }
    o.node.model_path = o.eng.model;
    o.node.api_keys = o.keys;
    o.node.sched.n_threads = o.eng.threads;
    o.node.sched.n_ctx = o.eng.ctx;
    o.node.sched.n_batch = (int32_t)o.eng.batch;
    o.node.sched.kv_type = o.eng.kv_type;
    o.node.sched.kernels = o.eng.kernels;
    o.node.on_listening = print_listening;
    rx_status s = rx_node_run(&o.node);
    rx_config_args_free(&file);
    if (s != RX_OK) return rx_cli_fail("serve", "%s", rx_last_error());
    return 0;
}
