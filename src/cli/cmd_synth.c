/* reflex synth: a llama GGUF with random weights at a real model's shape and a real
 * vocabulary, for measuring speed and memory at sizes we do not ship. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "reflex/synth.h"

static const char *CMD = "synth";

static void help(void)
{
    printf(
        "usage: reflex synth (--shape NAME | --dims E,FF,L,H,HKV) --vocab VOCAB.gguf -o OUT.gguf\n"
        "                    [--type TYPE] [--seed S] [--ctx N] [-t N] [-q]\n\n"
        "Writes a llama model with random weights, N(0, 0.02) from a seeded generator, norms 1,\n"
        "at a real shape, with the tokenizer metadata of VOCAB.gguf (reflex and llama.cpp load\n"
        "it). Tensors are generated chunk by chunk straight into TYPE, with llama-quantize's\n"
        "per-tensor choices (e.g. Q6_K output for Q4_0), so memory stays small.\n\n"
        "  --shape NAME        %s\n"
        "  --dims E,FF,L,H,HKV n_embd, n_ff, n_layer, n_head, n_head_kv (overrides --shape)\n"
        "  --vocab PATH        tokenizer-only GGUF, e.g. "
        "../shared/vocab/ggml-vocab-llama-spm.gguf\n"
        "  --type TYPE         %s (default F16)\n"
        "  --seed S            generator seed (default 0); same seed, same bytes\n"
        "  --ctx N             llama.context_length (default: the shape's)\n"
        "  -o, --output PATH   the GGUF to write (as PATH.tmp, renamed when complete)\n"
        "  -t, --threads N     worker threads (default: all CPUs)\n"
        "  -q, --quiet         no progress output\n"
        "  -h, --help          this help\n\n"
        "Exits 0 on success, 1 on failure (no output left behind), 2 on a usage error.\n",
        rx_synth_shape_names(), rx_ftype_supported_names());
}

/* "E,FF,L,H,HKV", each in [1, 2^22]. */
static bool parse_dims(const char *s, rx_synth_shape *sh)
{
    uint32_t v[5];
    const char *p = s;
    for (int i = 0; i < 5; i++) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(p, &end, 10);
        if (errno || end == p || x < 1 || x > (1u << 22) || *p == '-' ||
            (i < 4 ? *end != ',' : *end != '\0'))
            return false;
        v[i] = (uint32_t)x;
        p = end + 1;
    }
    snprintf(sh->name, sizeof sh->name, "custom");
    sh->n_embd = v[0];
    sh->n_ff = v[1];
    sh->n_layer = v[2];
    sh->n_head = v[3];
    sh->n_head_kv = v[4];
    if (!sh->n_ctx) sh->n_ctx = 512;
    if (sh->rope_freq_base == 0.0f) sh->rope_freq_base = 10000.0f;
    return true;
}

int rx_cmd_synth(int argc, char **argv)
{
    const char *shape = NULL, *dims = NULL, *type = "F16", *out = NULL;
    bool missing = false, quiet = false;
    int64_t ctx = 0, v;
    rx_synth_params p = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help();
            return 0;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (rx_cli_is_flag(CMD, argc, argv, i, "--shape", &missing)) {
            shape = argv[++i];
        } else if (!missing && rx_cli_is_flag(CMD, argc, argv, i, "--dims", &missing)) {
            dims = argv[++i];
        } else if (!missing && rx_cli_is_flag(CMD, argc, argv, i, "--vocab", &missing)) {
            p.vocab_path = argv[++i];
        } else if (!missing && rx_cli_is_flag(CMD, argc, argv, i, "--type", &missing)) {
            type = argv[++i];
        } else if (!missing && (rx_cli_is_flag(CMD, argc, argv, i, "-o", &missing) ||
                                rx_cli_is_flag(CMD, argc, argv, i, "--output", &missing))) {
            out = argv[++i];
        } else if (!missing && rx_cli_is_flag(CMD, argc, argv, i, "--seed", &missing)) {
            if (!rx_cli_int(CMD, a, argv[++i], 0, INT64_MAX, &v)) return 2;
            p.seed = (uint64_t)v;
        } else if (!missing && rx_cli_is_flag(CMD, argc, argv, i, "--ctx", &missing)) {
            if (!rx_cli_int(CMD, a, argv[++i], 1, UINT32_MAX, &ctx)) return 2;
        } else if (!missing && (rx_cli_is_flag(CMD, argc, argv, i, "-t", &missing) ||
                                rx_cli_is_flag(CMD, argc, argv, i, "--threads", &missing))) {
            if (!rx_cli_int(CMD, a, argv[++i], 1, 1024, &v)) return 2;
            p.n_threads = (int)v;
        } else if (missing) {
            return 2;
        } else if (a[0] == '-') {
            return rx_cli_usage_error(CMD, "unknown option '%s'", a);
        } else {
            return rx_cli_usage_error(CMD, "unexpected argument '%s'", a);
        }
    }
    if (!shape && !dims)
        return rx_cli_usage_error(CMD, "--shape NAME or --dims E,FF,L,H,HKV is required");
    if (shape && !rx_synth_shape_find(shape, &p.shape))
        return rx_cli_usage_error(CMD, "unknown shape '%s' (known: %s)", shape,
                                  rx_synth_shape_names());
    if (ctx) p.shape.n_ctx = (uint32_t)ctx;
    if (dims && !parse_dims(dims, &p.shape))
        return rx_cli_usage_error(
            CMD, "--dims: expected five positive integers E,FF,L,H,HKV, got '%s'", dims);
    if (!p.vocab_path) return rx_cli_usage_error(CMD, "--vocab VOCAB.gguf is required");
    if (!out) return rx_cli_usage_error(CMD, "-o OUT.gguf is required");
    if (!rx_ftype_from_name(type, &p.ftype) || !rx_ftype_supported(p.ftype))
        return rx_cli_usage_error(CMD, "unsupported type '%s' (supported: %s)", type,
                                  rx_ftype_supported_names());
    rx_cli_progress bar;
    rx_cli_progress_init(&bar, quiet);
    p.progress = rx_cli_progress_tensor;
    p.progress_user = &bar;
    if (rx_synth_write(out, &p) != RX_OK) {
        rx_cli_progress_end(&bar);
        return rx_cli_fail(CMD, "%s", rx_last_error());
    }
    rx_cli_progress_done(&bar, out);
    return 0;
}
