/* reflex convert --llama2c MODEL.bin --tokenizer TOK.bin -o OUT.gguf: Karpathy's llama2.c
 * checkpoints to a llama GGUF, as llama.cpp's convert-llama2c-to-ggml writes it (F32). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "reflex/llama2c.h"

static const char *CMD = "convert";

static void help(void)
{
    printf("usage: reflex convert --llama2c MODEL.bin --tokenizer TOK.bin -o OUT.gguf [options]\n\n"
           "Converts a llama2.c checkpoint (run.c's legacy format) and its tokenizer.bin to a\n"
           "llama GGUF with F32 weights, as llama.cpp's convert-llama2c-to-ggml does (same\n"
           "metadata, tensor names and order). Quantize the result with 'reflex quantize'.\n\n"
           "  --llama2c PATH     the checkpoint (e.g. stories260K.bin)\n"
           "  --tokenizer PATH   its tokenizer.bin (e.g. tok512.bin)\n"
           "  -o, --output PATH  the GGUF to write (as PATH.tmp, renamed when complete)\n"
           "  -c, --ctx N        llama.context_length to record (default 128, as llama.cpp)\n"
           "  -q, --quiet        no progress output\n"
           "  -h, --help         this help\n\n"
           "Exits 0 on success, 1 on failure (no output left behind), 2 on a usage error.\n");
}

int rx_cmd_convert(int argc, char **argv)
{
    const char *model = NULL, *tok = NULL, *out = NULL;
    bool missing = false, quiet = false;
    rx_llama2c_params p = {0};
    for (int i = 1; i < argc; i++) {
        int64_t v;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help();
            return 0;
        } else if (rx_cli_is_flag(CMD, argc, argv, i, "--llama2c", &missing)) {
            model = argv[++i];
        } else if (missing) {
            return 2;
        } else if (rx_cli_is_flag(CMD, argc, argv, i, "--tokenizer", &missing)) {
            tok = argv[++i];
        } else if (missing) {
            return 2;
        } else if (rx_cli_is_flag(CMD, argc, argv, i, "-o", &missing) ||
                   rx_cli_is_flag(CMD, argc, argv, i, "--output", &missing)) {
            out = argv[++i];
        } else if (missing) {
            return 2;
        } else if (rx_cli_is_flag(CMD, argc, argv, i, "-c", &missing) ||
                   rx_cli_is_flag(CMD, argc, argv, i, "--ctx", &missing)) {
            if (!rx_cli_int(CMD, argv[i], argv[i + 1], 1, UINT32_MAX, &v)) return 2;
            p.n_ctx = (uint32_t)v;
            i++;
        } else if (missing) {
            return 2;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (argv[i][0] == '-') {
            return rx_cli_usage_error(CMD, "unknown option '%s'", argv[i]);
        } else {
            return rx_cli_usage_error(CMD, "unexpected argument '%s'", argv[i]);
        }
    }
    if (!model) return rx_cli_usage_error(CMD, "--llama2c MODEL.bin is required");
    if (!tok) return rx_cli_usage_error(CMD, "--tokenizer TOK.bin is required");
    if (!out) return rx_cli_usage_error(CMD, "-o OUT.gguf is required");
    rx_cli_progress bar;
    rx_cli_progress_init(&bar, quiet);
    p.progress = rx_cli_progress_tensor;
    p.progress_user = &bar;
    if (rx_llama2c_convert(model, tok, out, &p) != RX_OK) {
        rx_cli_progress_end(&bar);
        return rx_cli_fail(CMD, "%s", rx_last_error());
    }
    rx_cli_progress_done(&bar, out);
    return 0;
}
