/* The llama forward pass over a batch of tokens, as llama.cpp computes it: RMSNorm, Q/K/V
 * projections (+ qwen2 biases), rotary embeddings, grouped-query attention over the KV cache,
 * SwiGLU feed-forward, final norm and output projection for the tokens that want logits.
 * The KV cache keeps llama.cpp's numerics: queries are converted to the cache type before
 * Q·K, and attention weights to F16 before the weighted sum over an F16 V cache. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "core/fp16.h"
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

/* One query head of one token against positions [0, pos] of its sequence. */
static void attend_head(rx_context *c, uint32_t layer, int32_t seq, int32_t pos, const float *q,
                        uint32_t h, float *out, int ith)
{
    const rx_model_hparams *hp = &c->model->hp;
    const rx_type kvt = c->p.kv_type;
    const rx_type_kernels *kk = &c->k->type[kvt];
    const int64_t hd = hp->head_dim;
    const size_t head_off = (size_t)(h / (hp->n_head / hp->n_head_kv)) * c->kv_head_bytes;
    float *scores = c->att_scores + (size_t)ith * c->p.n_ctx;
    float *vrow = c->att_v + (size_t)ith * hd;
    const void *qv = q;
    if (kk->vec_dot_type != RX_TYPE_F32) {
        uint8_t *qbuf = c->att_q + (size_t)ith * c->att_q_bytes;
        c->k->type[kk->vec_dot_type].from_float(q, qbuf, hd);
        qv = qbuf;
    }
    for (int32_t j = 0; j <= pos; j++)
        kk->vec_dot(hd, &scores[j], kv_row(c, c->k_cache, layer, seq, j) + head_off, qv);
    rx_op_softmax(scores, (int64_t)pos + 1, 1.0f / sqrtf((float)hd));
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int32_t j = 0; j <= pos; j++) {
        float w = scores[j];
        if (kvt == RX_TYPE_F16) w = rx_fp16_to_f32(rx_f32_to_fp16(w));
        kk->to_float(kv_row(c, c->v_cache, layer, seq, j) + head_off, vrow, hd);
        for (int64_t i = 0; i < hd; i++) out[i] += w * vrow[i];
    }
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
        attend_head(c, job->layer, seq, job->b->pos[t], c->q + off, h, c->att + off, ith);
    }
}

static void add_bias(float *y, const float *bias, int64_t n_tokens, int64_t n)
{
    if (!bias) return;
    for (int64_t t = 0; t < n_tokens; t++) rx_op_add(y + t * n, bias, n);
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
        rx_op_rope(c->q + t * d, hp->n_head, hp->head_dim, hp->n_rot, pos, hp->rope_freq_base,
                   hp->rope_freq_scale);
        rx_op_rope(c->kx + t * kvd, hp->n_head_kv, hp->head_dim, hp->n_rot, pos,
                   hp->rope_freq_base, hp->rope_freq_scale);
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
    rx_op_swiglu(c->hb, c->hb2, n * hp->n_ff);
    matmul(c, &L->w_down, c->hb, n, c->xb);
    rx_op_add(c->x, c->xb, n * d);
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

    for (uint32_t il = 0; il < hp->n_layer; il++) {
        attention_block(c, b, il);
        ffn_block(c, n, il);
    }

    int64_t n_out = 0;
    for (int64_t t = 0; t < n; t++) {
        bool want = b->logits ? b->logits[t] != 0 : t == n - 1;
        if (want) rx_op_rmsnorm(c->out_x + n_out++ * d, c->x + t * d, m->output_norm, d, hp->rms_eps);
    }
    if (n_out) matmul(c, &m->output, c->out_x, n_out, c->logits);
}
