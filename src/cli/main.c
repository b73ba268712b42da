/* reflex: one binary, several roles. Dispatches to cli/cmd_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#define RX_VERSION "0.1.0"

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* tests read the build kind: timing bounds mean little under sanitizers */
#if defined(RX_SANITIZE)
    printf("reflex %s (asan+ubsan)\n", RX_VERSION);
#else
    printf("reflex %s\n", RX_VERSION);
#endif
    return 0;
}

static const rx_command commands[] = {
    {"version", cmd_version, "print the version"},
    {"inspect", rx_cmd_inspect, "show a GGUF file's metadata, tensors and memory estimate"},
    {"tokenize", rx_cmd_tokenize, "print the token ids of a text"},
    {"up", rx_cmd_up, "the embedded default: a node and a gateway on localhost"},
    {"serve", rx_cmd_serve, "serve a model over an OpenAI-compatible HTTP API (edge node)"},
    {"gateway", rx_cmd_gateway, "route requests across nodes and tiers (failover, escalation)"},
    {"run", rx_cmd_run, "generate text from a prompt (like llama-cli)"},
    {"perplexity", rx_cmd_perplexity, "score a text file as llama-perplexity does"},
    {"bench", rx_cmd_bench, "measure prompt and generation speed as llama-bench does"},
    {"quantize", rx_cmd_quantize, "convert a GGUF model to Q8_0, Q4_0, Q4_K_M, ... as llama-quantize does"},
    {"convert", rx_cmd_convert, "convert a llama2.c checkpoint + tokenizer.bin to GGUF"},
    {"synth", rx_cmd_synth, "write a random-weight model at a real shape (speed tests)"},
    {"wan", rx_cmd_wan, "emulate a wide-area network on this machine (namespaces, delay, cuts)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: reflex <command> [options]   (reflex <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "reflex: unknown command '%s' (see 'reflex --help')\n", argv[1]);
    return 2;
}
