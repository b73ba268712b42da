/* The model's private layout, shared by the loader (model.c), the context (context.c) and
 * the forward pass (forward.c). */
#ifndef RX_ENGINE_MODEL_INTERNAL_H
#define RX_ENGINE_MODEL_INTERNAL_H

#include "engine/matmul.h"
#include "reflex/model.h"

/* Weight matrices are rx_matrix (engine/matmul.h). Those the forward pass multiplies point into
 * the model's weight copy (see model.c); untied token embeddings into the file mapping. */
typedef rx_matrix rx_weight;

typedef struct {
    const float *attn_norm; /* [n_embd] */
    rx_weight wq, wk, wv, wo;
    const float *bq, *bk, *bv; /* qwen2 biases, or NULL */
    const float *ffn_norm;     /* [n_embd] */
    rx_weight w_gate, w_up, w_down;
} rx_layer;

struct rx_model {
    rx_gguf *gguf; /* owned */
    rx_model_hparams hp;
    rx_weight tok_embd; /* [n_vocab rows of n_embd] */
    const float *output_norm;
    rx_weight output; /* token_embd when tied */
    rx_layer *layers; /* owned, n_layer entries */
    void *copy;       /* owned mapping of copy_bytes: the multiplied matrices */
    size_t copy_bytes;
};

#endif
