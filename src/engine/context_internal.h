/* The context's private layout, shared by context.c (allocation, KV bookkeeping) and
 * forward.c (the forward pass that fills the KV cache and the logits). */
#ifndef RX_ENGINE_CONTEXT_INTERNAL_H
#define RX_ENGINE_CONTEXT_INTERNAL_H

#include "engine/kernels/kernels.h"
#include "engine/matmul.h"
#include "engine/model_internal.h"
#include "engine/threadpool.h"

struct rx_context {
    const rx_model *model; /* borrowed; must outlive the context */
    rx_context_params p;   /* with defaults filled in */
    const rx_kernel_set *k;
    rx_threadpool *tp;     /* owned */

    /* KV cache: rows of kv_dim elements of p.kv_type, at ((layer * n_seq + seq) * n_ctx + pos) */
    size_t kv_row_bytes;
    size_t kv_head_bytes;  /* one head's slice of a row */
    uint8_t *k_cache, *v_cache; /* owned */
    int32_t *seq_len;      /* owned, [n_seq] */
    int32_t *seq_next;     /* owned, [n_seq]: batch checking scratch */

    /* activations for up to n_batch tokens; all owned, 64-byte aligned */
    float *x, *xb, *q, *kx, *vx, *att, *hb, *hb2;
    float *out_x;          /* [n_outputs][n_embd]: final hidden states that need logits */
    float *rope_cs;        /* [n_rot]: one position's rope cos/sin pairs */
    float *logits;         /* [n_outputs][n_vocab] */
    int32_t n_logits;      /* rows of logits from the last rx_decode */
    void *mm_scratch;      /* owned: activations converted for rx_matmul */
    size_t mm_scratch_size;

    /* attention scratch per thread: scores [n_ctx] and the converted query */
    float *att_scores;
    uint8_t *att_q;
    size_t att_q_bytes;
};

/* The forward pass over a checked batch (forward.c). */
void rx__forward(rx_context *c, const rx_batch *b);

#endif
