/* Llama-family models (llama, qwen2) loaded from GGUF, and contexts that run them.
 *
 * A model is immutable after loading: its weight matrices are copied once out of the file
 * mapping into memory of their own (decode reads them faster there), and any number of
 * contexts may share it. A context owns the KV cache for up to n_seq sequences, the scratch
 * buffers and the thread pool; one thread drives a context. */
#ifndef REFLEX_MODEL_H
#define REFLEX_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "reflex/gguf.h"
#include "reflex/status.h"
#include "reflex/types.h"

typedef struct {
    char arch[16]; /* "llama" or "qwen2" */
    uint32_t n_vocab;
    uint32_t n_ctx_train;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim; /* n_embd / n_head */
    uint32_t n_rot;    /* rotary dimensions per head (<= head_dim) */
    uint32_t n_ff;
    float rms_eps;
    float rope_freq_base;
    float rope_freq_scale; /* 1 / linear scaling factor */
    bool tied_output;      /* output reuses token_embd */
    bool qkv_bias;         /* qwen2 */
    rx_type ftype;         /* the most common weight type */
} rx_model_hparams;

typedef struct rx_model rx_model;

/* Opens path, maps it and checks the architecture, hyper-parameters and every tensor's
 * presence, shape and type. Inconsistent files fail with RX_ERR_FORMAT naming the key or
 * tensor; unsupported ones with RX_ERR_UNSUPPORTED. */
rx_status rx_model_load(const char *path, rx_model **out);
void rx_model_free(rx_model *m); /* accepts NULL */

const rx_model_hparams *rx_model_hparams_of(const rx_model *m);
const rx_gguf *rx_model_gguf(const rx_model *m); /* borrowed; valid while m lives */
/* Bytes of weights one forward pass reads per token (all matrices once). */
uint64_t rx_model_weight_bytes(const rx_model *m);

/* Start from rx_context_default_params() and change what you need. */
typedef struct {
    uint32_t n_ctx;      /* positions per sequence; 0 = the model's training context */
    uint32_t n_seq;      /* sequences held at once (server slots); 0 = 1 */
    uint32_t n_batch;    /* most tokens per rx_decode call; 0 = 512 */
    uint32_t n_outputs;  /* most tokens per call that request logits; 0 = n_seq */
    int n_threads;       /* 0 = 1 */
    rx_type kv_type;     /* RX_TYPE_F16 (default), RX_TYPE_F32 or RX_TYPE_Q8_0 */
    const char *kernels; /* NULL automatic, "ref" or "avx2" to force */
    bool embeddings;     /* keep the final hidden states of output tokens for rx_embedding */
} rx_context_params;

/* Defaults: n_ctx 0, n_seq 1, n_batch 512, n_outputs n_seq, 1 thread, F16 KV cache, no
 * embeddings. */
rx_context_params rx_context_default_params(void);

typedef struct rx_context rx_context;

rx_status rx_context_create(const rx_model *m, const rx_context_params *p, rx_context **out);
void rx_context_free(rx_context *c); /* accepts NULL */
uint32_t rx_context_n_ctx(const rx_context *c);
const char *rx_context_kernels(const rx_context *c); /* "ref", "avx2" */

/* A batch of tokens, each with its position in its sequence and its sequence id. Within one
 * batch the tokens of a sequence have consecutive positions, and the first of them is at most
 * the sequence's current length (a smaller position rewinds the sequence there). */
typedef struct {
    int32_t n_tokens;
    const int32_t *token;
    const int32_t *pos;
    const int32_t *seq;   /* NULL: all sequence 0 */
    const int8_t *logits; /* nonzero: return logits for this token; NULL: the last token only */
} rx_batch;

/* Runs the model over the batch, appending to each sequence's KV cache. Bad batches (token or
 * position out of range, too many tokens, gaps) fail with RX_ERR_INVALID_ARG/RANGE and leave
 * the cache unchanged. */
rx_status rx_decode(rx_context *c, const rx_batch *b);

/* Logits (n_vocab floats) of the i-th token of the last batch that asked for logits, counting
 * only those tokens; valid until the next rx_decode. NULL when i is out of range. */
const float *rx_logits(const rx_context *c, int32_t i);

/* The final-norm hidden state (n_embd floats: what the output projection turns into logits) of
 * the i-th token of the last batch that asked for logits, counted as rx_logits counts; valid
 * until the next rx_decode. NULL when i is out of range or the context was created without
 * embeddings. Pooling (mean, last token) is the caller's choice. */
const float *rx_embedding(const rx_context *c, int32_t i);

/* Current length of sequence seq, and forgetting a sequence (a freed server slot). */
int32_t rx_seq_len(const rx_context *c, int32_t seq);
void rx_seq_clear(rx_context *c, int32_t seq);

#endif
