/* The engine flags every model-running subcommand shares (-m, -t, -c, -b, --kv-type,
 * --kernels), parsed once so run, perplexity, bench and serve mean the same by them. */
#ifndef RX_CLI_ENGINE_OPTS_H
#define RX_CLI_ENGINE_OPTS_H

#include <stdbool.h>

#include "reflex/model.h"
#include "reflex/tokenizer.h"

typedef struct {
    const char *model;
    int threads;
    uint32_t ctx;     /* 0: the model's training context, at most 4096 */
    uint32_t batch;   /* 0: 512 */
    rx_type kv_type;
    const char *kernels;
} rx_engine_opts;

#define RX_ENGINE_FLAGS_HELP                                                                       \
    "  -m, --model FILE     GGUF model (required)\n"                                              \
    "  -t, --threads N      threads (default: all cores, at most 8)\n"                            \
    "  -c, --ctx-size N     context positions (default: the model's, at most 4096)\n"            \
    "  -b, --batch-size N   most tokens per forward pass (default 512)\n"                         \
    "  --kv-type TYPE       KV cache type: f16 (default), f32, q8_0\n"                            \
    "  --kernels NAME       force a kernel set: ref or avx2 (default: best for this CPU)\n"

void rx_engine_opts_init(rx_engine_opts *o);

/* If argv[*i] is an engine flag, consumes it (and its value) and returns 1; returns 0 when it is
 * not one, and -1 after printing a usage error. */
int rx_engine_opts_parse(const char *cmd, rx_engine_opts *o, int argc, char **argv, int *i);

/* Loads the model and its tokenizer and creates a context with n_outputs logit rows; prints a
 * one-line error and returns false on failure (everything already opened is freed). */
bool rx_engine_open(const char *cmd, const rx_engine_opts *o, uint32_t n_outputs, rx_model **m,
                    rx_tokenizer **tok, rx_context **c);
void rx_engine_close(rx_model *m, rx_tokenizer *tok, rx_context *c);

#endif
