/* reflex bench serve: load generator for any OpenAI-compatible streaming server (reflex serve,
 * llama-server, vLLM). Parses and checks flags, builds the prompts, probes the server, runs the
 * load (src/bench) and prints the summary; --json writes every request too. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reflex/loadgen.h"

#define CMD "bench serve"

static const char usage[] =
    "usage: reflex bench serve --url URL --model M (--concurrency N | --rate R [--burstiness B])\n"
    "                          (--requests K | --duration S) (--dataset FILE | --prompt-len L)\n"
    "                          --output-len N [options]\n"
    "\n"
    "Sends streamed completions to an OpenAI-compatible server and measures, on the client,\n"
    "time to first token, every inter-token gap, TPOT, end-to-end latency, throughput and\n"
    "goodput, as vLLM's bench serve does. Every request asks for exactly N tokens\n"
    "(max_tokens N, temperature 0, ignore_eos).\n"
    "\n"
    "options:\n"
    "  --url URL           server base URL, http[s]://host:port (a /v1 suffix is accepted)\n"
    "  --model M           model name sent in each request\n"
    "  --concurrency N     closed loop: N streams, each sends its next request when one ends\n"
    "  --rate R            open loop: R requests/s (Poisson arrivals; 'inf': all at once)\n"
    "  --burstiness B      open loop: gamma-distributed gaps of shape B (default 1 = Poisson;\n"
    "                      < 1 burstier, > 1 more even)\n"
    "  --requests K        send K requests\n"
    "  --duration S        send for S seconds (also 90s, 5m), then wait for those in flight\n"
    "  --prompt-len L      synthetic prompts of about L tokens (L common words; see README)\n"
    "  --dataset FILE      prompts from JSON lines {\"prompt\": ..., \"output_len\": N}\n"
    "  --output-len N      max_tokens per request (a dataset's output_len wins)\n"
    "  --endpoint E        completions (default) or chat\n"
    "  --slo LIST          goodput objectives, e.g. ttft=500ms,itl=50ms,e2e=2s (also tpot);\n"
    "                      itl bounds every gap of a request, tpot its average\n"
    "  --api-key K         sent as 'Authorization: Bearer K'\n"
    "  --cacert FILE       https: trust the CAs in this PEM file (default: the system's)\n"
    "  --insecure          https: do not check the server's certificate\n"
    "  --seed S            prompts and arrival times (default 0)\n"
    "  --warmup W          W requests first, not counted (default 0)\n"
    "  --timeout S         give up on a request after S seconds without data (default 300)\n"
    "  --json OUT          write the summary and every request to OUT\n"
    "  --label NAME        name this run in the report and its JSON (config.label), so\n"
    "                      'reflex bench plot' labels it NAME\n"
    "  Ctrl-C stops the run: requests in flight are cancelled and the report covers the rest.\n"
    "  -h, --help          this help\n";

typedef struct {
    rx_lg_config cfg;
    const char *dataset, *json, *slo_text;
    int64_t prompt_len, output_len, warmup;
    rx_lg_slo slo;
} serve_opts;

/* Seconds, with an optional s or m suffix. */
static bool parse_duration(const char *flag, const char *v, double *out)
{
    char buf[64];
    size_t n = strlen(v);
    double unit = 1.0;
    if (n && n < sizeof buf && (v[n - 1] == 's' || v[n - 1] == 'm')) {
        unit = v[n - 1] == 'm' ? 60.0 : 1.0;
        n--;
    }
    if (n == 0 || n >= sizeof buf)
        return rx_cli_usage_error(CMD, "%s: expected seconds, got '%s'", flag, v), false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    double x = strtod(buf, &end);
    if (*end || !(x > 0) || x > 1e7)
        return rx_cli_usage_error(CMD, "%s: expected a positive duration (30, 90s, 5m), got '%s'",
                                  flag, v),
               false;
    *out = x * unit;
    return true;
}

/* A label goes into the JSON report: refused now if it cannot, not after a long run. */
static bool check_label(const char *v)
{
    json_t *s = json_string(v); /* NULL when v is not UTF-8 */
    json_decref(s);
    if (!v[0] || strlen(v) > 200 || !s)
        return rx_cli_usage_error(CMD, "--label: expected 1 to 200 bytes of UTF-8 text"), false;
    return true;
}

/* One flag with its value; 0 handled, 2 usage error. */
static int parse_flag(serve_opts *o, const char *a, const char *v)
{
    rx_lg_config *c = &o->cfg;
    int64_t n;
    if (strcmp(a, "--url") == 0)
        c->url = v;
    else if (strcmp(a, "--model") == 0)
        c->model = v;
    else if (strcmp(a, "--api-key") == 0)
        c->api_key = v;
    else if (strcmp(a, "--cacert") == 0)
        c->ca_file = v;
    else if (strcmp(a, "--dataset") == 0)
        o->dataset = v;
    else if (strcmp(a, "--json") == 0)
        o->json = v;
    else if (strcmp(a, "--label") == 0) {
        if (!check_label(v)) return 2;
        c->label = v;
    }
    else if (strcmp(a, "--concurrency") == 0) {
        if (!rx_cli_int(CMD, a, v, 1, 4096, &n)) return 2;
        c->concurrency = (int)n;
    } else if (strcmp(a, "--rate") == 0) {
        if (strcmp(v, "inf") == 0)
            c->rate = INFINITY;
        else if (!rx_cli_float(CMD, a, v, 1e-6, 1e6, &c->rate))
            return 2;
    } else if (strcmp(a, "--burstiness") == 0) {
        if (!rx_cli_float(CMD, a, v, 1e-3, 1e3, &c->burstiness)) return 2;
    } else if (strcmp(a, "--requests") == 0) {
        if (!rx_cli_int(CMD, a, v, 1, 10000000, &c->n_requests)) return 2;
    } else if (strcmp(a, "--duration") == 0) {
        if (!parse_duration(a, v, &c->duration_s)) return 2;
    } else if (strcmp(a, "--timeout") == 0) {
        if (!parse_duration(a, v, &c->timeout_s)) return 2;
    } else if (strcmp(a, "--prompt-len") == 0) {
        if (!rx_cli_int(CMD, a, v, 1, 1 << 20, &o->prompt_len)) return 2;
    } else if (strcmp(a, "--output-len") == 0) {
        if (!rx_cli_int(CMD, a, v, 1, 1 << 20, &o->output_len)) return 2;
    } else if (strcmp(a, "--warmup") == 0) {
        if (!rx_cli_int(CMD, a, v, 0, 1000000, &o->warmup)) return 2;
    } else if (strcmp(a, "--seed") == 0) {
        if (!rx_cli_int(CMD, a, v, 0, INT64_MAX, &n)) return 2;
        c->seed = (uint64_t)n;
    } else if (strcmp(a, "--endpoint") == 0) {
        if (strcmp(v, "completions") != 0 && strcmp(v, "chat") != 0)
            return rx_cli_usage_error(CMD, "--endpoint: expected completions or chat, got '%s'", v);
        c->endpoint = strcmp(v, "chat") == 0 ? RX_LG_CHAT : RX_LG_COMPLETIONS;
    } else if (strcmp(a, "--slo") == 0) {
        if (rx_lg_slo_parse(v, &o->slo) != RX_OK)
            return rx_cli_usage_error(CMD, "--%s", rx_last_error()); /* "--slo: ..." */
        o->slo_text = v;
    } else {
        return rx_cli_usage_error(CMD, "unknown flag: %s", a);
    }
    return 0;
}

/* The flags that must come in exactly-one-of groups, and the required ones. */
static int check(const serve_opts *o)
{
    const rx_lg_config *c = &o->cfg;
    if (!c->url) return rx_cli_usage_error(CMD, "--url URL is required");
    if (!c->model) return rx_cli_usage_error(CMD, "--model M is required");
    if ((c->concurrency > 0) == (c->rate > 0))
        return rx_cli_usage_error(CMD, "give exactly one of --concurrency and --rate");
    if (c->burstiness > 0 && c->rate == 0)
        return rx_cli_usage_error(CMD, "--burstiness needs --rate");
    if ((c->n_requests > 0) == (c->duration_s > 0))
        return rx_cli_usage_error(CMD, "give exactly one of --requests and --duration");
    if (isinf(c->rate) && c->duration_s > 0)
        return rx_cli_usage_error(CMD, "--rate inf needs --requests");
    if ((o->dataset != NULL) == (o->prompt_len >= 0))
        return rx_cli_usage_error(CMD, "give exactly one of --dataset and --prompt-len");
    if (o->output_len <= 0) return rx_cli_usage_error(CMD, "--output-len N is required");
    return -1;
}

static int parse(serve_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->prompt_len = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) return rx_cli_usage_error(CMD, "unexpected argument: %s", a);
        if (strcmp(a, "--insecure") == 0) {
            o->cfg.insecure = true;
            continue;
        }
        if (i + 1 >= argc) return rx_cli_usage_error(CMD, "%s needs a value", a);
        int r = parse_flag(o, a, argv[++i]);
        if (r) return r;
    }
    int r = check(o);
    if (r >= 0) return r;
    if (o->cfg.rate > 0 && o->cfg.burstiness == 0) o->cfg.burstiness = 1.0;
    return -1;
}

static void progress(void *user, int64_t done, int64_t total, double elapsed_s)
{
    const serve_opts *o = user;
    double frac = total > 0 ? (double)done / (double)total : elapsed_s / o->cfg.duration_s;
    frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
    char bar[31];
    for (int k = 0; k < 30; k++)
        bar[k] = k < (int)(frac * 30) ? '#' : '.';
    bar[30] = '\0';
    if (total > 0)
        fprintf(stderr, "\r\033[K[%s] %lld/%lld requests  %.1f s", bar, (long long)done,
                (long long)total, elapsed_s);
    else
        fprintf(stderr, "\r\033[K[%s] %lld requests  %.1f/%g s", bar, (long long)done, elapsed_s,
                o->cfg.duration_s);
}

/* Prompts for the measured run and for the warm-up (a different seed, so the warm-up does not
 * fill a prefix cache with the measured prompts). */
static rx_status make_prompts(const serve_opts *o, uint64_t seed, int64_t n, rx_lg_prompt **p,
                              int64_t *np)
{
    if (o->dataset) return rx_lg_prompts_load(o->dataset, (int32_t)o->output_len, p, np);
    *np = n;
    return rx_lg_prompts_synth(seed, n, (int32_t)o->prompt_len, (int32_t)o->output_len, p);
}

static int warm_up(const serve_opts *o)
{
    rx_lg_config w = o->cfg;
    rx_lg_prompt *p;
    int64_t np;
    if (make_prompts(o, o->cfg.seed ^ 0xa5a5a5a5ull, o->warmup, &p, &np) != RX_OK)
        return rx_cli_fail(CMD, "%s", rx_last_error());
    int streams = o->cfg.concurrency > 0 ? o->cfg.concurrency : 4;
    w.concurrency = streams < o->warmup ? streams : (int)o->warmup;
    w.rate = 0;
    w.n_requests = o->warmup;
    w.duration_s = 0;
    w.prompts = p;
    w.n_prompts = np;
    w.progress = NULL;
    rx_lg_result *r;
    rx_status s = rx_lg_run(&w, &r);
    rx_lg_prompts_free(p, np);
    if (s != RX_OK) return rx_cli_fail(CMD, "warm-up: %s", rx_last_error());
    bool interrupted = r->interrupted;
    rx_lg_result_free(r);
    if (interrupted) return rx_cli_fail(CMD, "interrupted during the warm-up"), 130;
    return 0;
}

static int run(serve_opts *o, const rx_lg_prompt *prompts, int64_t n_prompts)
{
    o->cfg.prompts = prompts;
    o->cfg.n_prompts = n_prompts;
    if (isatty(STDERR_FILENO)) {
        o->cfg.progress = progress;
        o->cfg.progress_user = o;
    }
    rx_lg_result *r;
    rx_status s = rx_lg_run(&o->cfg, &r);
    if (o->cfg.progress) fputc('\n', stderr);
    if (s != RX_OK) return rx_cli_fail(CMD, "%s", rx_last_error());
    rx_lg_summary sum;
    rx_lg_summarize(r, &o->slo, &sum);
    rx_lg_report_text(stdout, &sum, &o->cfg);
    int code = 0;
    if (o->json &&
        rx_lg_report_json(o->json, &sum, &o->cfg, o->slo_text ? &o->slo : NULL, r) != RX_OK)
        code = rx_cli_fail(CMD, "%s", rx_last_error());
    if (code == 0 && r->interrupted) {
        fprintf(stderr,
                "reflex %s: interrupted; the report covers the %lld requests that finished\n", CMD,
                (long long)r->n_records);
        code = 130; /* 128 + SIGINT, as a shell reports it */
    }
    if (code == 0 && sum.ok == 0 && r->n_records > 0)
        code = rx_cli_fail(CMD, "no request succeeded; first error: %s (%s)", r->records[0].error,
                           rx_lg_kind_name(r->records[0].kind));
    rx_lg_result_free(r);
    return code;
}

/* Everything that can fail before any traffic: the prompts, the --json file, the server. */
static int prepare(serve_opts *o, rx_lg_prompt **p, int64_t *np)
{
    /* distinct prompts for every request, up to a bound; beyond it they repeat */
    int64_t n = o->cfg.n_requests > 0 && o->cfg.n_requests < 65536 ? o->cfg.n_requests : 65536;
    if (o->cfg.n_requests == 0) n = 4096;
    int64_t by_bytes = (int64_t)(256 << 20) / (o->prompt_len * 12 + 1); /* ~256 MiB of text */
    if (!o->dataset && n > by_bytes) n = by_bytes > 0 ? by_bytes : 1;
    if (make_prompts(o, o->cfg.seed, n, p, np) != RX_OK)
        return rx_cli_fail(CMD, "%s", rx_last_error());
    int code = 0;
    /* a long run must not end unable to write; "a" checks without clobbering an old report */
    bool existed = o->json && access(o->json, F_OK) == 0;
    FILE *f = o->json ? fopen(o->json, "a") : NULL;
    if (o->json && !f)
        code = rx_cli_fail(CMD, "--json: cannot write %s: %s", o->json, strerror(errno));
    if (f) fclose(f);
    if (f && !existed) unlink(o->json); /* the report creates it again */
    rx_status s = code ? RX_OK : rx_lg_probe(o->cfg.url, 5.0);
    if (s == RX_ERR_INVALID_ARG)
        code = rx_cli_usage_error(CMD, "--url: %s", rx_last_error());
    else if (s != RX_OK)
        code = rx_cli_fail(CMD, "%s", rx_last_error());
    if (code) rx_lg_prompts_free(*p, *np);
    return code;
}

int rx_cmd_bench_serve(int argc, char **argv)
{
    serve_opts o;
    int code = parse(&o, argc, argv);
    if (code >= 0) return code;
    /* a server that closes while a request is being written must fail that request, not
     * kill the process */
    signal(SIGPIPE, SIG_IGN);
    o.cfg.stop_signal = SIGINT; /* Ctrl-C: stop, and report what finished */
    rx_lg_prompt *p;
    int64_t np;
    if ((code = prepare(&o, &p, &np)) != 0) return code;
    if (o.warmup > 0) code = warm_up(&o);
    if (code == 0) code = run(&o, p, np);
    rx_lg_prompts_free(p, np);
    return code;
}
