/* Karpathy's llama2.c checkpoints (the legacy "version 0" export: run.c's format) and
 * tokenizer.bin, converted to a llama GGUF the way llama.cpp's convert-llama2c-to-ggml does:
 * same metadata keys in the same order, same tensor names and order, F32 weights.
 *
 * Checkpoint layout (little-endian):
 *   7 x i32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *            (vocab_size < 0 means the classifier is stored separately, > 0 that it is
 *            shared with the token embedding)
 *   f32 weights: token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim],
 *            wk[L][kv_dim][dim], wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim],
 *            w1[L][hidden][dim], w2[L][dim][hidden], w3[L][hidden][dim], rms_final[dim],
 *            freq_cis[seq_len][head_size] (skipped), then wcls[vocab][dim] if not shared.
 * tokenizer.bin: u32 max_token_length, then per token f32 score, u32 len, len bytes.
 *
 * Nothing in either file is trusted: the header must describe exactly the file's size, with
 * overflow-checked arithmetic, and every token must lie inside the tokenizer file. */
#ifndef REFLEX_LLAMA2C_H
#define REFLEX_LLAMA2C_H

#include <stddef.h>
#include <stdint.h>

#include "reflex/quantize.h"
#include "reflex/status.h"

typedef struct {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier;  /* 1: output.weight is a copy of the token embedding */
    uint64_t weights_bytes; /* what the header implies after its 28 bytes */
} rx_llama2c_config;

/* Validates a checkpoint image of size bytes (header and size agreement). On failure:
 * RX_ERR_FORMAT (or RX_ERR_UNSUPPORTED for llama2.c's newer "ak42" exports) with a message
 * naming the field and its value. Reads only, never past size. */
rx_status rx_llama2c_parse_header(const void *data, size_t size, rx_llama2c_config *out);

/* Validates a tokenizer.bin image for n_vocab tokens (trailing bytes are ignored, as llama.cpp
 * does). RX_ERR_FORMAT naming the token and byte offset on failure. */
rx_status rx_llama2c_check_vocab(const void *data, size_t size, int32_t n_vocab);

typedef struct {
    uint32_t n_ctx;                   /* llama.context_length; 0: 128, llama.cpp's default */
    rx_quantize_progress_fn progress; /* NULL: silent */
    void *progress_user;
} rx_llama2c_params;

/* Converts model_path + tokenizer_path to out_path (written as "<out>.tmp", renamed when
 * complete, removed on failure). Errors name the file. */
rx_status rx_llama2c_convert(const char *model_path, const char *tokenizer_path,
                             const char *out_path, const rx_llama2c_params *p);

#endif
