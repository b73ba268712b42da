/* reflex quantize IN OUT TYPE: llama-quantize's recipes (no importance matrix), same type
 * choices and bytes, with a progress bar on stderr. The work is rx_quantize_file's. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "reflex/quantize.h"

static const char *CMD = "quantize";

static void help(void)
{
    printf(
        "usage: reflex quantize [options] IN.gguf OUT.gguf TYPE\n\n"
        "Converts a llama/qwen2 GGUF to TYPE as llama.cpp's llama-quantize does (no\n"
        "importance matrix): 1-D tensors stay F32, the output matrix gets Q6_K under the 4-\n"
        "and 5-bit types, Q4_K_M gives some attn_v/ffn_down layers Q6_K, and rows that do not\n"
        "fit a type's blocks fall back (Q4_K->Q5_0, Q6_K->Q8_0, else F16). Tensor data is\n"
        "byte-identical to llama-quantize's. OUT is written as OUT.tmp and renamed when done.\n\n"
        "TYPE: %s\n\n"
        "  -t, --threads N       worker threads (default: all CPUs)\n"
        "  --allow-requantize    allow converting tensors that are already quantized\n"
        "  -q, --quiet           no progress output\n"
        "  -h, --help            this help\n\n"
        "Exits 0 on success, 1 on failure (no OUT left behind), 2 on a usage error.\n",
        rx_ftype_supported_names());
}

int rx_cmd_quantize(int argc, char **argv)
{
    const char *pos[3] = {0};
    int n_pos = 0;
    bool missing = false, quiet = false;
    rx_quantize_params p = rx_quantize_default_params();
    for (int i = 1; i < argc; i++) {
        int64_t v;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help();
            return 0;
        } else if (rx_cli_is_flag(CMD, argc, argv, i, "-t", &missing) ||
                   rx_cli_is_flag(CMD, argc, argv, i, "--threads", &missing)) {
            if (!rx_cli_int(CMD, argv[i], argv[i + 1], 1, 1024, &v)) return 2;
            p.n_threads = (int)v;
            i++;
        } else if (missing) {
            return 2;
        } else if (strcmp(argv[i], "--allow-requantize") == 0) {
            p.allow_requantize = true;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return rx_cli_usage_error(CMD, "unknown option '%s'", argv[i]);
        } else if (n_pos == 3) {
            return rx_cli_usage_error(CMD, "too many arguments: expected IN OUT TYPE");
        } else {
            pos[n_pos++] = argv[i];
        }
    }
    if (n_pos < 3) return rx_cli_usage_error(CMD, "expected IN.gguf OUT.gguf TYPE");
    if (!rx_ftype_from_name(pos[2], &p.ftype))
        return rx_cli_usage_error(CMD, "unknown type '%s' (supported: %s)", pos[2],
                                  rx_ftype_supported_names());
    if (!rx_ftype_supported(p.ftype))
        return rx_cli_usage_error(CMD, "type %s is not supported yet (supported: %s)",
                                  rx_ftype_name(p.ftype), rx_ftype_supported_names());
    rx_cli_progress bar;
    rx_cli_progress_init(&bar, quiet);
    p.progress = rx_cli_progress_tensor;
    p.progress_user = &bar;
    if (rx_quantize_file(pos[0], pos[1], &p) != RX_OK) {
        rx_cli_progress_end(&bar);
        return rx_cli_fail(CMD, "%s", rx_last_error());
    }
    rx_cli_progress_done(&bar, pos[1]);
    return 0;
}
