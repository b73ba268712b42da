/* Shared engine flags and model/tokenizer/context set-up for the subcommands. */
#include "cli/engine_opts.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/args.h"

void rx_engine_opts_init(rx_engine_opts *o)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (rx_engine_opts){.threads = n < 1 ? 1 : n > 8 ? 8 : (int)n, .kv_type = RX_TYPE_F16};
}

static bool is(const char *arg, const char *s, const char *l)
{
    return strcmp(arg, s) == 0 || (l && strcmp(arg, l) == 0);
}

int rx_engine_opts_parse(const char *cmd, rx_engine_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    bool known = is(a, "-m", "--model") || is(a, "-t", "--threads") || is(a, "-c", "--ctx-size") ||
                 is(a, "-b", "--batch-size") || is(a, "--kv-type", NULL) || is(a, "--kernels", NULL);
    if (!known) return 0;
    if (*i + 1 >= argc) {
        rx_cli_usage_error(cmd, "%s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    int64_t n;
    if (is(a, "-m", "--model")) {
        o->model = v;
    } else if (is(a, "-t", "--threads")) {
        if (!rx_cli_int(cmd, a, v, 1, 256, &n)) return -1;
        o->threads = (int)n;
    } else if (is(a, "-c", "--ctx-size")) {
        if (!rx_cli_int(cmd, a, v, 8, 1 << 20, &n)) return -1;
        o->ctx = (uint32_t)n;
    } else if (is(a, "-b", "--batch-size")) {
        if (!rx_cli_int(cmd, a, v, 1, 65536, &n)) return -1;
        o->batch = (uint32_t)n;
    } else if (is(a, "--kv-type", NULL)) {
        if (strcasecmp(v, "f16") == 0) o->kv_type = RX_TYPE_F16;
        else if (strcasecmp(v, "f32") == 0) o->kv_type = RX_TYPE_F32;
        else if (strcasecmp(v, "q8_0") == 0) o->kv_type = RX_TYPE_Q8_0;
        else {
            rx_cli_usage_error(cmd, "--kv-type: expected f16, f32 or q8_0, got '%s'", v);
            return -1;
        }
    } else {
        if (strcmp(v, "ref") != 0 && strcmp(v, "avx2") != 0) {
            rx_cli_usage_error(cmd, "--kernels: expected ref or avx2, got '%s'", v);
            return -1;
        }
        o->kernels = v;
    }
    return 1;
}

bool rx_engine_open(const char *cmd, const rx_engine_opts *o, uint32_t n_outputs, rx_model **m,
                    rx_tokenizer **tok, rx_context **c)
{
    *m = NULL;
    *tok = NULL;
    *c = NULL;
    if (!o->model) {
        rx_cli_usage_error(cmd, "-m MODEL is required");
        return false;
    }
    if (rx_model_load(o->model, m) != RX_OK) {
        rx_cli_fail(cmd, "%s", rx_last_error());
        return false;
    }
    if (rx_tokenizer_load(rx_model_gguf(*m), tok) != RX_OK) {
        rx_cli_fail(cmd, "%s: %s", o->model, rx_last_error());
        rx_engine_close(*m, NULL, NULL);
        return false;
    }
    const rx_model_hparams *hp = rx_model_hparams_of(*m);
    if ((uint32_t)rx_tokenizer_n_vocab(*tok) != hp->n_vocab) {
        rx_cli_fail(cmd, "%s: the tokenizer has %d tokens but token_embd.weight has %u rows",
                    o->model, rx_tokenizer_n_vocab(*tok), hp->n_vocab);
        rx_engine_close(*m, *tok, NULL);
        return false;
    }
    rx_context_params p = rx_context_default_params();
    p.n_ctx = o->ctx ? o->ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    p.n_batch = o->batch ? o->batch : 512;
    p.n_outputs = n_outputs;
    p.n_threads = o->threads;
    p.kv_type = o->kv_type;
    p.kernels = o->kernels;
    if (rx_context_create(*m, &p, c) != RX_OK) {
        rx_cli_fail(cmd, "%s", rx_last_error());
        rx_engine_close(*m, *tok, NULL);
        return false;
    }
    return true;
}

void rx_engine_close(rx_model *m, rx_tokenizer *tok, rx_context *c)
{
    rx_context_free(c);
    rx_tokenizer_free(tok);
    rx_model_free(m);
}
