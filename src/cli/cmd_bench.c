/* reflex bench: llama-bench's pp/tg tests and figures (mean ± stddev tokens/s over -r runs,
 * after one warm-up), as a markdown table or JSON, so the two tools read side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/engine_opts.h"
#include "reflex/bench.h"

static const char usage[] =
    "usage: reflex bench -m MODEL [-p 512] [-n 128] [-t 1,2] [-r 5] [-o md|json] [options]\n"
    "\n"
    "Measures prompt processing (ppN: N prompt tokens from an empty cache) and generation\n"
    "(tgN: N single-token decodes) as llama-bench does; lists take comma-separated values.\n"
    "\n"
    "options:\n" RX_ENGINE_FLAGS_HELP
    "  -p, --n-prompt LIST  prompt lengths (default 512; 0 = skip)\n"
    "  -n, --n-gen LIST     generation lengths (default 128; 0 = skip)\n"
    "  -r, --repetitions N  measured runs per test (default 5)\n"
    "  -o, --output FMT     md (default) or json\n"
    "  -h, --help           this help\n"
    "\n"
    "reflex bench serve ... measures a running server instead (see 'reflex bench serve --help');\n"
    "reflex bench plot ... draws its --json reports as an SVG (see 'reflex bench plot --help').\n";

#define MAX_LIST 16

typedef struct {
    int64_t v[MAX_LIST];
    int n;
} int_list;

static bool parse_list(const char *flag, const char *s, int64_t lo, int64_t hi, int_list *out)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    out->n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (out->n == MAX_LIST) {
            rx_cli_usage_error("bench", "%s: at most %d values", flag, MAX_LIST);
            return false;
        }
        if (!rx_cli_int("bench", flag, tok, lo, hi, &out->v[out->n++])) return false;
    }
    if (out->n == 0) rx_cli_usage_error("bench", "%s: empty list", flag);
    return out->n > 0;
}

typedef struct {
    rx_engine_opts eng;
    int_list pp, tg, threads;
    int64_t reps;
    bool json;
} bench_opts;

static int parse(bench_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    rx_engine_opts_init(&o->eng);
    o->pp = (int_list){{512}, 1};
    o->tg = (int_list){{128}, 1};
    o->threads = (int_list){{o->eng.threads}, 1};
    o->reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) return rx_cli_usage_error("bench", "%s needs a value", a);
            if (!parse_list(a, argv[++i], 1, 256, &o->threads)) return 2;
            continue;
        }
        int r = rx_engine_opts_parse("bench", &o->eng, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) return rx_cli_usage_error("bench", "unknown flag or missing value: %s", a);
        const char *v = argv[++i];
        if (strcmp(a, "-p") == 0 || strcmp(a, "--n-prompt") == 0) {
            if (!parse_list(a, v, 0, 1 << 16, &o->pp)) return 2;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-gen") == 0) {
            if (!parse_list(a, v, 0, 1 << 16, &o->tg)) return 2;
        } else if (strcmp(a, "-r") == 0 || strcmp(a, "--repetitions") == 0) {
            if (!rx_cli_int("bench", a, v, 1, 1000, &o->reps)) return 2;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (strcmp(v, "md") != 0 && strcmp(v, "json") != 0)
                return rx_cli_usage_error("bench", "-o: expected md or json, got '%s'", v);
            o->json = strcmp(v, "json") == 0;
        } else {
            return rx_cli_usage_error("bench", "unknown flag: %s", a);
        }
    }
    if (!o->eng.model) return rx_cli_usage_error("bench", "-m MODEL is required");
    return -1;
}

typedef struct {
    const char *path;
    char name[64];
    uint64_t bytes, params;
    uint64_t weight_bytes; /* matrices read per generated token */
} model_info;

static void describe(const rx_model *m, const char *path, model_info *mi)
{
    const rx_gguf *g = rx_model_gguf(m);
    mi->path = path;
    mi->bytes = mi->params = 0;
    mi->weight_bytes = rx_model_weight_bytes(m);
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        mi->bytes += t->nbytes;
        mi->params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    const rx_model_hparams *hp = rx_model_hparams_of(m);
    double p = (double)mi->params;
    if (p >= 1e9) snprintf(mi->name, sizeof mi->name, "%s %.1fB %s", hp->arch, p / 1e9, rx_type_name(hp->ftype));
    else if (p >= 1e6) snprintf(mi->name, sizeof mi->name, "%s %.0fM %s", hp->arch, p / 1e6, rx_type_name(hp->ftype));
    else snprintf(mi->name, sizeof mi->name, "%s %.0fK %s", hp->arch, p / 1e3, rx_type_name(hp->ftype));
}

typedef struct {
    bool pp;
    int32_t n;
    int threads;
    double mean, stddev;
    double samples[1000];
    int n_samples;
} result;

static rx_status run_test(rx_context *c, bool pp, int32_t n, int32_t bos, int reps, result *r)
{
    uint64_t ns;
    rx_status s = pp ? rx_bench_pp(c, n, bos, 1, &ns) : rx_bench_tg(c, n, bos, 1, &ns); /* warm-up */
    double sum = 0.0, sq = 0.0;
    for (int k = 0; k < reps && s == RX_OK; k++) {
        s = pp ? rx_bench_pp(c, n, bos, (uint64_t)k + 2, &ns) : rx_bench_tg(c, n, bos, (uint64_t)k + 2, &ns);
        r->samples[k] = (double)n / ((double)ns / 1e9);
        sum += r->samples[k];
    }
    if (s != RX_OK) return s;
    r->n_samples = reps;
    r->mean = sum / reps;
    for (int k = 0; k < reps; k++) sq += (r->samples[k] - r->mean) * (r->samples[k] - r->mean);
    r->stddev = reps > 1 ? sqrt(sq / (reps - 1)) : 0.0;
    return RX_OK;
}

static void print_md_header(void)
{
    printf("| model                          |       size |     params | backend    | threads |          test |                  t/s |\n");
    printf("| ------------------------------ | ---------: | ---------: | ---------- | ------: | ------------: | -------------------: |\n");
}

static void print_md(const model_info *mi, const char *kernels, const result *r)
{
    char test[32], ts[48], size[32], params[32], backend[32];
    snprintf(test, sizeof test, "%s%d", r->pp ? "pp" : "tg", r->n);
    snprintf(ts, sizeof ts, "%.2f ± %.2f", r->mean, r->stddev);
    snprintf(size, sizeof size, "%.2f MiB", (double)mi->bytes / (1024.0 * 1024.0));
    snprintf(params, sizeof params, "%.2f %s", mi->params >= 1e9 ? mi->params / 1e9 : mi->params / 1e6,
             mi->params >= 1e9 ? "B" : "M");
    snprintf(backend, sizeof backend, "CPU %s", kernels);
    printf("| %-30s | %10s | %10s | %-10s | %7d | %13s | %20s |\n", mi->name, size, params, backend,
           r->threads, test, ts);
    fflush(stdout);
}

static void print_json(const model_info *mi, const char *kernels, const result *r, bool first)
{
    printf("%s  {\"model_filename\": \"%s\", \"model_type\": \"%s\", \"model_size\": %llu, "
           "\"model_n_params\": %llu, \"backend\": \"CPU %s\", \"n_threads\": %d, "
           "\"weight_bytes_per_token\": %llu, \"n_prompt\": %d, \"n_gen\": %d, \"avg_ts\": %.6f, "
           "\"stddev_ts\": %.6f, \"samples_ts\": [",
           first ? "" : ",\n", mi->path, mi->name, (unsigned long long)mi->bytes,
           (unsigned long long)mi->params, kernels, r->threads, (unsigned long long)mi->weight_bytes,
           r->pp ? r->n : 0, r->pp ? 0 : r->n,
           r->mean, r->stddev);
    for (int k = 0; k < r->n_samples; k++) printf("%s%.6f", k ? ", " : "", r->samples[k]);
    printf("]}");
    fflush(stdout);
}

int rx_cmd_bench(int argc, char **argv)
{
    /* the serving load generator shares the name but nothing else */
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) return rx_cmd_bench_serve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "plot") == 0) return rx_cmd_bench_plot(argc - 1, argv + 1);
    bench_opts o;
    int code = parse(&o, argc, argv);
    if (code >= 0) return code;
    rx_model *m;
    if (rx_model_load(o.eng.model, &m) != RX_OK) return rx_cli_fail("bench", "%s", rx_last_error());
    uint32_t bos_u32;
    int32_t bos = rx_gguf_get_u32(rx_model_gguf(m), "tokenizer.ggml.bos_token_id", &bos_u32) == RX_OK &&
                          bos_u32 < rx_model_hparams_of(m)->n_vocab
                      ? (int32_t)bos_u32
                      : -1;
    model_info mi;
    describe(m, o.eng.model, &mi);
    int64_t max_pp = 0, max_tg = 0;
    for (int i = 0; i < o.pp.n; i++) max_pp = o.pp.v[i] > max_pp ? o.pp.v[i] : max_pp;
    for (int i = 0; i < o.tg.n; i++) max_tg = o.tg.v[i] > max_tg ? o.tg.v[i] : max_tg;
    if (o.json) printf("[\n");
    else print_md_header();
    bool first = true;
    code = 0;
    for (int ti = 0; ti < o.threads.n && code == 0; ti++) {
        rx_context_params p = rx_context_default_params();
        p.n_ctx = (uint32_t)(max_pp > max_tg ? max_pp : max_tg);
        p.n_batch = o.eng.batch ? o.eng.batch : 512;
        p.n_threads = (int)o.threads.v[ti];
        p.kv_type = o.eng.kv_type;
        p.kernels = o.eng.kernels;
        rx_context *c;
        if (rx_context_create(m, &p, &c) != RX_OK) {
            code = rx_cli_fail("bench", "%s", rx_last_error());
            break;
        }
        for (int pass = 0; pass < 2 && code == 0; pass++) {
            const int_list *l = pass == 0 ? &o.pp : &o.tg;
            for (int i = 0; i < l->n && code == 0; i++) {
                if (l->v[i] == 0) continue;
                static result r;
                r.pp = pass == 0;
                r.n = (int32_t)l->v[i];
                r.threads = p.n_threads;
                if (run_test(c, r.pp, r.n, bos, (int)o.reps, &r) != RX_OK) {
                    code = rx_cli_fail("bench", "%s", rx_last_error());
                    break;
                }
                if (o.json) print_json(&mi, rx_context_kernels(c), &r, first);
                else print_md(&mi, rx_context_kernels(c), &r);
                first = false;
            }
        }
        rx_context_free(c);
    }
    if (o.json) printf("\n]\n");
    rx_model_free(m);
    return code;
}
