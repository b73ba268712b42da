/* reflex tokenize: prints the token ids of a text for a model's (or vocab-only) GGUF, one line,
 * space separated; the quickest way to compare with llama.cpp's tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "reflex/gguf.h"
#include "reflex/tokenizer.h"

static const char *CMD = "tokenize";

static void help(void)
{
    printf("usage: reflex tokenize -m MODEL [--no-bos] [--special] TEXT\n\n"
           "Prints the token ids of TEXT, space separated, on one line.\n\n"
           "  -m, --model PATH  GGUF file with tokenizer.ggml.* metadata (a model or a vocab)\n"
           "  --no-bos          do not add BOS/EOS even if the model asks for them\n"
           "  --special         turn control-token text such as <s> into those tokens\n"
           "  -h, --help        this help\n");
}

static int run(const char *model, const char *text, bool add_special, bool parse_special)
{
    rx_gguf *g = NULL;
    rx_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int code = 1;
    size_t len = strlen(text), n = 0, cap;
    if (rx_gguf_open(model, &g) != RX_OK) { /* the message names the file */
        code = rx_cli_fail(CMD, "%s", rx_last_error());
        goto done;
    }
    if (rx_tokenizer_load(g, &tok) != RX_OK) {
        code = rx_cli_fail(CMD, "%s: %s", model, rx_last_error());
        goto done;
    }
    rx_status s;
    /* SPM can need up to 4 ids per input byte (a prefix space plus byte fallback). */
    cap = 4 * len + 8;
    ids = malloc(cap * sizeof *ids);
    if (!ids ||
        (s = rx_tokenize(tok, text, len, add_special, parse_special, ids, cap, &n)) != RX_OK) {
        code = rx_cli_fail(CMD, "%s", ids ? rx_last_error() : "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
    code = 0;
done:
    free(ids);
    rx_tokenizer_free(tok);
    rx_gguf_close(g);
    return code;
}

int rx_cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text = NULL;
    bool add_special = true, parse_special = false, missing = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help();
            return 0;
        } else if (rx_cli_is_flag(CMD, argc, argv, i, "-m", &missing) ||
                   rx_cli_is_flag(CMD, argc, argv, i, "--model", &missing)) {
            model = argv[++i];
        } else if (missing) {
            return 2;
        } else if (strcmp(argv[i], "--no-bos") == 0) {
            add_special = false;
        } else if (strcmp(argv[i], "--special") == 0) {
            parse_special = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0' && !text) {
            return rx_cli_usage_error(CMD, "unknown option '%s'", argv[i]);
        } else if (text) {
            return rx_cli_usage_error(CMD, "one TEXT argument expected (quote it)");
        } else {
            text = argv[i];
        }
    }
    if (!model) return rx_cli_usage_error(CMD, "-m MODEL is required");
    if (!text) return rx_cli_usage_error(CMD, "TEXT is required");
    return run(model, text, add_special, parse_special);
}
