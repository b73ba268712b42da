/* reflex run: one-shot generation from the command line, like llama-cli. Only the generated
 * text goes to stdout, as it is produced; timings go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/engine_opts.h"
#include "reflex/generate.h"

static const char usage[] =
    "usage: reflex run -m MODEL -p PROMPT [options]\n"
    "\n"
    "Generates a continuation of PROMPT and prints only the generated text, as it is\n"
    "produced. Prompt and decode speed and time to first token go to stderr.\n"
    "\n"
    "options:\n" RX_ENGINE_FLAGS_HELP
    "  -p, --prompt TEXT    the prompt (required)\n"
    "  -n, --n-predict N    tokens to generate (default 128; -1 = until end of text)\n"
    "  --temp T             temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K            top-k (default 40; 0 = off)\n"
    "  --top-p P            top-p (default 0.95; 1 = off)\n"
    "  --min-p P            min-p (default 0.05; 0 = off)\n"
    "  --repeat-penalty R   repetition penalty (default 1.0 = off)\n"
    "  --seed S             sampling seed (default: random)\n"
    "  --ignore-eos         keep generating past end-of-text tokens\n"
    "  --special            print control tokens as text\n"
    "  -h, --help           this help\n";

typedef struct {
    rx_detok *detok;
    bool failed;
} printer;

static bool print_token(void *user, int32_t token, const rx_sample_info *info)
{
    (void)info;
    printer *pr = user;
    const char *text;
    size_t len;
    if (rx_detok_push(pr->detok, token, &text, &len) != RX_OK) return !(pr->failed = true);
    if (len && fwrite(text, 1, len, stdout) != len) return !(pr->failed = true);
    fflush(stdout);
    return true;
}

typedef struct {
    rx_engine_opts eng;
    const char *prompt;
    int64_t n_predict;
    rx_sampler_params sp;
    bool ignore_eos, special;
} run_opts;

/* Returns -1 to continue, or the exit code (0 for --help). */
static int parse(run_opts *o, int argc, char **argv)
{
    rx_engine_opts_init(&o->eng);
    o->n_predict = 128;
    o->sp = rx_sampler_default_params();
    o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = rx_engine_opts_parse("run", &o->eng, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--ignore-eos") == 0) {
            o->ignore_eos = true;
            continue;
        }
        if (strcmp(a, "--special") == 0) {
            o->special = true;
            continue;
        }
        if (i + 1 >= argc) return rx_cli_usage_error("run", "unknown flag or missing value: %s", a);
        const char *v = argv[++i];
        int64_t n;
        double d;
        bool ok = true;
        if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) o->prompt = v;
        else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0)
            ok = rx_cli_int("run", a, v, -1, 1 << 20, &o->n_predict);
        else if (strcmp(a, "--temp") == 0)
            ok = rx_cli_float("run", a, v, 0, 100, &d), o->sp.temperature = (float)d;
        else if (strcmp(a, "--top-k") == 0)
            ok = rx_cli_int("run", a, v, 0, 1 << 24, &n), o->sp.top_k = (int32_t)n;
        else if (strcmp(a, "--top-p") == 0)
            ok = rx_cli_float("run", a, v, 0, 1, &d), o->sp.top_p = (float)d;
        else if (strcmp(a, "--min-p") == 0)
            ok = rx_cli_float("run", a, v, 0, 1, &d), o->sp.min_p = (float)d;
        else if (strcmp(a, "--repeat-penalty") == 0)
            ok = rx_cli_float("run", a, v, 0.01, 100, &d), o->sp.repeat_penalty = (float)d;
        else if (strcmp(a, "--seed") == 0)
            ok = rx_cli_int("run", a, v, 0, INT64_MAX, &n), o->sp.seed = (uint64_t)n;
        else return rx_cli_usage_error("run", "unknown flag: %s", a);
        if (!ok) return 2;
    }
    if (!o->prompt) return rx_cli_usage_error("run", "-p PROMPT is required");
    return -1;
}

static void report(const rx_generate_stats *st)
{
    double pp_s = (double)st->prompt_ns / 1e9, tg_s = (double)st->decode_ns / 1e9;
    int32_t decoded = st->n_generated > 0 ? st->n_generated - 1 : 0;
    fprintf(stderr, "\n\nreflex run: prompt %d tokens in %.2f ms (%.2f tokens/s); ", st->n_prompt,
            pp_s * 1e3, pp_s > 0 ? st->n_prompt / pp_s : 0.0);
    fprintf(stderr, "decode %d tokens in %.2f ms (%.2f tokens/s); time to first token %.2f ms\n",
            decoded, tg_s * 1e3, tg_s > 0 ? decoded / tg_s : 0.0, (double)st->ttft_ns / 1e6);
}

int rx_cmd_run(int argc, char **argv)
{
    run_opts o;
    int code = parse(&o, argc, argv);
    if (code >= 0) return code;
    rx_model *m;
    rx_tokenizer *tok;
    rx_context *c;
    if (!rx_engine_open("run", &o.eng, 1, &m, &tok, &c)) return 1;
    size_t n_prompt = 0, len = strlen(o.prompt);
    int32_t *prompt = malloc((len + 2) * sizeof *prompt);
    rx_sampler *s = NULL;
    rx_detok *detok = NULL;
    code = 1;
    if (!prompt || rx_tokenize(tok, o.prompt, len, true, false, prompt, len + 2, &n_prompt) != RX_OK)
        rx_cli_fail("run", "tokenizing the prompt: %s", rx_last_error());
    else if (n_prompt == 0)
        rx_cli_fail("run", "the prompt is empty and the model adds no BOS token");
    else if (rx_sampler_create(&o.sp, rx_tokenizer_n_vocab(tok), &s) != RX_OK ||
             rx_detok_create(tok, RX_DETOK_KEEP_SPACE | (o.special ? RX_DETOK_SPECIAL : 0),
                             &detok) != RX_OK)
        rx_cli_fail("run", "%s", rx_last_error());
    else {
        printer pr = {detok, false};
        rx_generate_params gp = {(int32_t)o.n_predict, o.ignore_eos, 0};
        rx_generate_stats st;
        if (rx_generate(c, s, tok, prompt, (int32_t)n_prompt, &gp, print_token, &pr, &st) != RX_OK)
            rx_cli_fail("run", "%s", rx_last_error());
        else if (pr.failed)
            rx_cli_fail("run", "writing the output failed");
        else {
            const char *text;
            size_t tlen;
            if (rx_detok_flush(detok, &text, &tlen) == RX_OK && tlen) fwrite(text, 1, tlen, stdout);
            fflush(stdout);
            report(&st);
            if (st.stop == RX_STOP_CONTEXT)
                fprintf(stderr, "reflex run: stopped: the context of %u positions is full\n",
                        rx_context_n_ctx(c));
            code = 0;
        }
    }
    rx_detok_destroy(detok);
    rx_sampler_free(s);
    free(prompt);
    rx_engine_close(m, tok, c);
    return code;
}
