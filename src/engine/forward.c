/* The llama forward pass over a batch of tokens, as llama.cpp computes it: RMSNorm, Q/K/V
 * projections (+ qwen2 biases), rotary embeddings, grouped-query attention over the KV cache,
 * SwiGLU feed-forward, final norm and output projection for the tokens that want logits.
 * Numerics follow llama.cpp's x86 AVX2 build to the bit (see kernels.h): queries go to the
 * cache type before Q·K, attention weights to F16 before the sum over an F16 V cache, both
 * products summed in its lane order, and the last layer's feed-forward only for the output
 * rows, as its graph does. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "engine/context_internal.h"
#include "engine/ops.h"

static void matmul(rx_context *c, const rx_weight *w, const float *x, int64_t n, float *y)
{
    /* shapes and types were checked at load and the scratch sized for them */
    rx_status s = rx_matmul(c->k, c->tp, w, x, n, y, c->mm_scratch, c->mm_scratch_size);
    (void)s;
    assert(s == RX_OK);
}

static uint8_t *kv_row(rx_context *c, uint8_t *cache, uint32_t layer, int32_t seq, int32_t pos)
{
    size_t row = ((size_t)layer * c->p.n_seq + (size_t)seq) * c->p.n_ctx + (size_t)pos;
    return cache + row * c->kv_row_bytes;
}

/* One query head of one token against positions [0, pos] of its sequence, with llama.cpp's
 * numerics (the kernels' comments give its orders); batched: the token came in a batch of two
 * or more, which llama.cpp multiplies through tinyBLAS where it can. */
static void attend_head(rx_context *c, uint32_t layer, int32_t seq, int32_t pos, const float *q,
                        uint32_t h, float *out, int ith, bool batched)
{
    const rx_model_hparams *hp = &c->model->hp;
    const rx_type kvt = c->p.kv_type;
    const rx_type_kernels *kk = &c->k->type[kvt];
    const int64_t hd = hp->head_dim, n = (int64_t)pos + 1;
    const size_t head_off = (size_t)(h / (hp->n_head / hp->n_head_kv)) * c->kv_head_bytes;
    const size_t stride = c->kv_row_bytes;
    float *scores = c->att_scores + (size_t)ith * c->p.n_ctx;

    /* K·q: q goes to the cache's type first, except for an F32 cache, where llama.cpp keeps
     * the permuted (non-contiguous) q as it is and so never reaches tinyBLAS */
    const void *qv = q;
    if (kk->vec_dot_type != RX_TYPE_F32) {
        uint8_t *qbuf = c->att_q + (size_t)ith * c->att_q_bytes;
        c->k->type[kk->vec_dot_type].from_float(q, qbuf, hd);
        qv = qbuf;
    }
    const bool gemm_kq = batched && kvt != RX_TYPE_F32 && hd % 8 == 0 && kk->gemm_tile;
    kk->att_scores(hd, n, scores, kv_row(c, c->k_cache, layer, seq, 0) + head_off, stride, qv,
                   gemm_kq);
    rx_op_softmax(c->k, scores, n, 1.0f / sqrtf((float)hd));

    /* V·p: tinyBLAS's 8 lanes in batches where it takes the shape, vec_dot_f16's 32 otherwise */
    const int slots = batched && hd % 4 == 0 ? 8 : 32;
    kk->att_values(hd, n, out, kv_row(c, c->v_cache, layer, seq, 0) + head_off, stride, scores,
                   slots);
}

typedef struct {
    rx_context *c;
    const rx_batch *b;
    uint32_t layer;
} attn_job;

/* Splits the (token, head) pairs of the batch evenly across the pool. */
static void attention_task(void *arg, int ith, int nth)
{
    const attn_job *job = arg;
    rx_context *c = job->c;
    const rx_model_hparams *hp = &c->model->hp;
    const int64_t total = (int64_t)job->b->n_tokens * hp->n_head;
    const int64_t begin = total * ith / nth, end = total * (ith + 1) / nth;
    for (int64_t i = begin; i < end; i++) {
        const int32_t t = (int32_t)(i / hp->n_head);
        const uint32_t h = (uint32_t)(i % hp->n_head);
        const int32_t seq = job->b->seq ? job->b->seq[t] : 0;
        const size_t off = (size_t)t * hp->n_embd + (size_t)h * hp->head_dim;
        attend_head(c, job->layer, seq, job->b->pos[t], c->q + off, h, c->att + off, ith,
                    job->b->n_tokens >= 2);
    }
}

static void add_bias(float *y, const float *bias, int64_t n_tokens, int64_t n)
{
    if (!bias) return;
    for (int64_t t = 0; t < n_tokens; t++)
        rx_op_add(y + t * n, bias, n);
}

static void attention_block(rx_context *c, const rx_batch *b, uint32_t il)
{
    const rx_model_hparams *hp = &c->model->hp;
    const rx_layer *L = &c->model->layers[il];
    const int64_t n = b->n_tokens, d = hp->n_embd, kvd = (int64_t)hp->n_head_kv * hp->head_dim;
    for (int64_t t = 0; t < n; t++)
        rx_op_rmsnorm(c->xb + t * d, c->x + t * d, L->attn_norm, d, hp->rms_eps);
    matmul(c, &L->wq, c->xb, n, c->q);
    matmul(c, &L->wk, c->xb, n, c->kx);
    matmul(c, &L->wv, c->xb, n, c->vx);
    add_bias(c->q, L->bq, n, d);
    add_bias(c->kx, L->bk, n, kvd);
    add_bias(c->vx, L->bv, n, kvd);
    const rx_from_float_fn store = c->k->type[c->p.kv_type].from_float;
    for (int64_t t = 0; t < n; t++) {
        const int32_t seq = b->seq ? b->seq[t] : 0, pos = b->pos[t];
        rx_op_rope_angles(c->rope_cs, hp->n_rot, pos, hp->rope_freq_base, hp->rope_freq_scale);
        rx_op_rope(c->q + t * d, hp->n_head, hp->head_dim, hp->n_rot, c->rope_cs);
        rx_op_rope(c->kx + t * kvd, hp->n_head_kv, hp->head_dim, hp->n_rot, c->rope_cs);
        store(c->kx + t * kvd, kv_row(c, c->k_cache, il, seq, pos), kvd);
        store(c->vx + t * kvd, kv_row(c, c->v_cache, il, seq, pos), kvd);
    }
    attn_job job = {c, b, il};
    rx_threadpool_run(c->tp, attention_task, &job);
    matmul(c, &L->wo, c->att, n, c->xb);
    rx_op_add(c->x, c->xb, n * d);
}

static void ffn_block(rx_context *c, int64_t n, uint32_t il)
{
    const rx_model_hparams *hp = &c->model->hp;
    const rx_layer *L = &c->model->layers[il];
    const int64_t d = hp->n_embd;
    for (int64_t t = 0; t < n; t++)
        rx_op_rmsnorm(c->xb + t * d, c->x + t * d, L->ffn_norm, d, hp->rms_eps);
    matmul(c, &L->w_gate, c->xb, n, c->hb);
    matmul(c, &L->w_up, c->xb, n, c->hb2);
    rx_op_swiglu(c->k, c->hb, c->hb2, n, hp->n_ff);
    matmul(c, &L->w_down, c->hb, n, c->xb);
    rx_op_add(c->x, c->xb, n * d);
}

/* Moves the rows of the tokens that want logits to the front of c->x, in order; returns how
 * many. llama.cpp drops the other rows there too, after the last layer's attention, so the
 * last feed-forward block multiplies as few rows as it does (which picks its schedule). */
static int64_t keep_output_rows(rx_context *c, const rx_batch *b)
{
    const int64_t d = c->model->hp.n_embd;
    int64_t n_out = 0;
    for (int64_t t = 0; t < b->n_tokens; t++) {
        bool want = b->logits ? b->logits[t] != 0 : t == b->n_tokens - 1;
        if (!want) continue;
        if (n_out != t) memmove(c->x + n_out * d, c->x + t * d, (size_t)d * sizeof *c->x);
        n_out++;
    }
    return n_out;
}

void rx__forward(rx_context *c, const rx_batch *b)
{
    const rx_model *m = c->model;
    const rx_model_hparams *hp = &m->hp;
    const int64_t n = b->n_tokens, d = hp->n_embd;

    const size_t embd_row = rx_row_size(m->tok_embd.type, d);
    const rx_to_float_fn embd = c->k->type[m->tok_embd.type].to_float;
    for (int64_t t = 0; t < n; t++)
        embd((const uint8_t *)m->tok_embd.data + (size_t)b->token[t] * embd_row, c->x + t * d, d);

    int64_t n_rows = n;
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        attention_block(c, b, il);
        if (il + 1 == hp->n_layer) n_rows = keep_output_rows(c, b);
        if (n_rows > 0) ffn_block(c, n_rows, il);
    }

    for (int64_t t = 0; t < n_rows; t++)
        rx_op_rmsnorm(c->out_x + t * d, c->x + t * d, m->output_norm, d, hp->rms_eps);
    if (n_rows) matmul(c, &m->output, c->out_x, n_rows, c->logits);
}
