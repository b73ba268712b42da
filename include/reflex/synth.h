/* Synthetic llama models: random weights at a real model's shape with a real vocabulary, for
 * speed and memory measurements (a random model costs per token exactly what the real one
 * does). Weights are N(0, 0.02) from a seeded generator, norms are 1; the tokenizer metadata is
 * copied from a tokenizer-only GGUF (e.g. ggml-vocab-llama-spm.gguf), so reflex and llama.cpp
 * both load the result. Tensors are generated and written chunk by chunk in the requested
 * type, with llama-quantize's per-tensor choices, so memory stays small at any size.
 * Same seed, shape, type and vocabulary give the same bytes (on one machine: libm's log/cos
 * decide the last bits). */
#ifndef REFLEX_SYNTH_H
#define REFLEX_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "reflex/quantize.h"
#include "reflex/status.h"

typedef struct {
    char name[32]; /* "tinyllama-1.1b", or "custom" */
    uint32_t n_embd, n_ff, n_layer, n_head, n_head_kv;
    uint32_t n_ctx;
    float rope_freq_base;
} rx_synth_shape;

/* A known shape by name (case-insensitive); false if unknown. */
bool rx_synth_shape_find(const char *name, rx_synth_shape *out);
/* Space-separated names of the known shapes. */
const char *rx_synth_shape_names(void);

typedef struct {
    rx_synth_shape shape;
    const char *vocab_path; /* GGUF with tokenizer.ggml.* metadata; borrowed */
    rx_ftype ftype;         /* rx_ftype_supported */
    uint64_t seed;
    int n_threads;                    /* 0: all CPUs */
    rx_quantize_progress_fn progress; /* NULL: silent */
    void *progress_user;
} rx_synth_params;

/* Writes the model to out_path (as "<out>.tmp", renamed when complete, removed on failure).
 * RX_ERR_INVALID_ARG for an inconsistent shape (named), RX_ERR_FORMAT/IO for the vocabulary
 * file or the output. */
rx_status rx_synth_write(const char *out_path, const rx_synth_params *p);

#endif
