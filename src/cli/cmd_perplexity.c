/* reflex perplexity: llama.cpp's perplexity over a text file (see reflex/eval.h), printing
 * the running estimate per chunk and, last, "Final estimate: PPL = <value>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/engine_opts.h"
#include "reflex/eval.h"

static const char usage[] =
    "usage: reflex perplexity -m MODEL -f FILE [-c CTX] [options]\n"
    "\n"
    "Scores FILE as llama.cpp's llama-perplexity does: the text is tokenized with BOS, cut into\n"
    "chunks of CTX tokens whose first token becomes BOS, and the second half of each chunk is\n"
    "scored. The last line reads 'Final estimate: PPL = <value>'.\n"
    "\n"
    "options:\n" RX_ENGINE_FLAGS_HELP
    "  -f, --file FILE      the text to score (required)\n"
    "  -h, --help           this help\n";

static bool show_progress(void *user, int64_t chunk, int64_t n_chunks, double ppl)
{
    (void)user;
    fprintf(stdout, "[%lld]%.4f,", (long long)chunk + 1, ppl);
    if (chunk + 1 == n_chunks) fputc('\n', stdout);
    fflush(stdout);
    return true;
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int rx_cmd_perplexity(int argc, char **argv)
{
    rx_engine_opts eng;
    rx_engine_opts_init(&eng);
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        int r = rx_engine_opts_parse("perplexity", &eng, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc)
            file = argv[++i];
        else
            return rx_cli_usage_error("perplexity", "unknown flag or missing value: %s", argv[i]);
    }
    if (!file) return rx_cli_usage_error("perplexity", "-f FILE is required");
    if (!eng.ctx) eng.ctx = 512;
    if (!eng.batch || eng.batch < eng.ctx) eng.batch = eng.ctx;
    size_t len;
    char *text = read_text(file, &len);
    if (!text) return rx_cli_fail("perplexity", "%s: cannot read", file);
    rx_model *m;
    rx_tokenizer *tok;
    rx_context *c;
    if (!rx_engine_open("perplexity", &eng, eng.ctx / 2, &m, &tok, &c)) {
        free(text);
        return 1;
    }
    int code = 1;
    size_t n = 0;
    int32_t *ids = malloc((len + 2) * sizeof *ids);
    double ppl = 0.0;
    if (!ids || rx_tokenize(tok, text, len, true, false, ids, len + 2, &n) != RX_OK)
        rx_cli_fail("perplexity", "tokenizing %s: %s", file, rx_last_error());
    else if (rx_token_bos(tok) < 0)
        rx_cli_fail("perplexity", "the model has no BOS token to start chunks with");
    else if (rx_perplexity(c, ids, (int64_t)n, (int32_t)eng.ctx, rx_token_bos(tok), show_progress,
                           NULL, &ppl) != RX_OK)
        rx_cli_fail("perplexity", "%s", rx_last_error());
    else {
        fprintf(stderr, "reflex perplexity: %zu tokens, %lld chunks of %u\n", n,
                (long long)(n / eng.ctx), eng.ctx);
        printf("Final estimate: PPL = %.4f\n", ppl);
        code = 0;
    }
    free(ids);
    free(text);
    rx_engine_close(m, tok, c);
    return code;
}
