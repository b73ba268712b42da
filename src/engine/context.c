/* Contexts: allocate the KV cache and every scratch buffer once, up front, so the token
 * loop never allocates; check each batch before the forward pass touches the cache. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/mem.h"
#include "engine/context_internal.h"

rx_context_params rx_context_default_params(void)
{
    return (rx_context_params){
        .n_ctx = 0, .n_seq = 1, .n_batch = 512, .n_outputs = 0, .n_threads = 1,
        .kv_type = RX_TYPE_F16, .kernels = NULL, .embeddings = false,
    };
}

static rx_status check_params(const rx_model_hparams *hp, rx_context_params *p)
{
    if (p->n_ctx == 0) p->n_ctx = hp->n_ctx_train;
    if (p->n_seq == 0) p->n_seq = 1;
    if (p->n_batch == 0) p->n_batch = 512;
    if (p->n_outputs == 0) p->n_outputs = p->n_seq;
    if (p->n_threads <= 0) p->n_threads = 1;
    if (p->n_ctx > (1u << 20))
        return rx_error(RX_ERR_RANGE, "context size %u exceeds 2^20", p->n_ctx);
    if (p->n_seq > 4096 || p->n_batch > (1u << 16) || p->n_outputs > (1u << 16))
        return rx_error(RX_ERR_RANGE, "n_seq %u, n_batch %u or n_outputs %u is too large",
                        p->n_seq, p->n_batch, p->n_outputs);
    if (p->n_threads > 512) return rx_error(RX_ERR_RANGE, "%d threads is too many", p->n_threads);
    if (p->kv_type != RX_TYPE_F16 && p->kv_type != RX_TYPE_F32 && p->kv_type != RX_TYPE_Q8_0)
        return rx_error(RX_ERR_UNSUPPORTED, "KV cache type %s is not supported (F16, F32, Q8_0)",
                        rx_type_name(p->kv_type));
    if (p->kv_type == RX_TYPE_Q8_0 && hp->head_dim % 32 != 0)
        return rx_error(RX_ERR_UNSUPPORTED,
                        "a Q8_0 KV cache needs a head size that is a multiple of 32, not %u",
                        hp->head_dim);
    return RX_OK;
}

/* The largest scratch any of the model's products needs for a full batch. */
static size_t matmul_scratch_size(const rx_context *c)
{
    const rx_model *m = c->model;
    const int64_t B = c->p.n_batch, n_out = c->p.n_outputs;
    size_t most = rx_matmul_scratch_size(c->k, m->output.type, m->output.cols, n_out);
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const rx_layer *l = &m->layers[i];
        const rx_weight *w[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t j = 0; j < sizeof w / sizeof w[0]; j++) {
            size_t need = rx_matmul_scratch_size(c->k, w[j]->type, w[j]->cols, B);
            if (need > most) most = need;
        }
    }
    return most;
}

/* n * size bytes, 64-byte aligned; tracks the first failure in *s. */
static void *alloc_array(size_t n, size_t size, rx_status *s)
{
    size_t bytes;
    if (*s != RX_OK) return NULL;
    void *p = rx_mul_size(n, size, &bytes) ? rx_alloc64(bytes) : NULL;
    if (!p) *s = rx_error(RX_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

static rx_status alloc_buffers(rx_context *c)
{
    const rx_model_hparams *hp = &c->model->hp;
    const rx_context_params *p = &c->p;
    const size_t kv_dim = (size_t)hp->n_head_kv * hp->head_dim, B = p->n_batch;
    rx_status s = RX_OK;
    c->kv_row_bytes = rx_row_size(p->kv_type, (int64_t)kv_dim);
    c->kv_head_bytes = rx_row_size(p->kv_type, hp->head_dim);
    size_t rows = (size_t)hp->n_layer * p->n_seq * p->n_ctx;
    c->k_cache = alloc_array(rows, c->kv_row_bytes, &s);
    c->v_cache = alloc_array(rows, c->kv_row_bytes, &s);
    c->seq_len = alloc_array(p->n_seq, sizeof *c->seq_len, &s);
    c->seq_next = alloc_array(p->n_seq, sizeof *c->seq_next, &s);
    c->x = alloc_array(B * hp->n_embd, sizeof(float), &s);
    c->xb = alloc_array(B * hp->n_embd, sizeof(float), &s);
    c->q = alloc_array(B * hp->n_embd, sizeof(float), &s);
    c->att = alloc_array(B * hp->n_embd, sizeof(float), &s);
    c->kx = alloc_array(B * kv_dim, sizeof(float), &s);
    c->vx = alloc_array(B * kv_dim, sizeof(float), &s);
    c->hb = alloc_array(B * hp->n_ff, sizeof(float), &s);
    c->hb2 = alloc_array(B * hp->n_ff, sizeof(float), &s);
    c->out_x = alloc_array((size_t)p->n_outputs * hp->n_embd, sizeof(float), &s);
    c->rope_cs = alloc_array(hp->n_rot ? hp->n_rot : 1, sizeof(float), &s);
    c->logits = alloc_array((size_t)p->n_outputs * hp->n_vocab, sizeof(float), &s);
    const size_t nt = (size_t)p->n_threads;
    rx_type qt = c->k->type[p->kv_type].vec_dot_type;
    c->att_q_bytes = (rx_row_size(qt, hp->head_dim) + 63) & ~(size_t)63;
    c->att_scores = alloc_array(nt * p->n_ctx, sizeof(float), &s);
    c->att_q = alloc_array(nt, c->att_q_bytes, &s);
    if (s != RX_OK) return s;
    c->mm_scratch_size = matmul_scratch_size(c);
    c->mm_scratch = alloc_array(1, c->mm_scratch_size, &s);
    return s;
}

rx_status rx_context_create(const rx_model *m, const rx_context_params *params, rx_context **out)
{
    *out = NULL;
    rx_context *c = calloc(1, sizeof *c);
    if (!c) return rx_error(RX_ERR_NOMEM, "out of memory");
    c->model = m;
    c->p = params ? *params : rx_context_default_params();
    rx_status s = check_params(&m->hp, &c->p);
    if (s == RX_OK && !(c->k = rx_kernels_select(c->p.kernels)))
        s = rx_error(RX_ERR_UNSUPPORTED, "kernel set '%s' is not available on this CPU or build",
                     c->p.kernels ? c->p.kernels : "(auto)");
    if (s == RX_OK) s = alloc_buffers(c);
    if (s == RX_OK) s = rx_threadpool_create(c->p.n_threads, &c->tp);
    if (s != RX_OK) {
        rx_context_free(c);
        return s;
    }
    *out = c;
    return RX_OK;
}

void rx_context_free(rx_context *c)
{
    if (!c) return;
    rx_threadpool_destroy(c->tp);
    void *bufs[] = {c->k_cache, c->v_cache, c->seq_len, c->seq_next, c->x, c->xb, c->q, c->att,
                    c->kx, c->vx, c->hb, c->hb2, c->out_x, c->rope_cs, c->logits, c->att_scores,
                    c->att_q, c->mm_scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c);
}

uint32_t rx_context_n_ctx(const rx_context *c) { return c->p.n_ctx; }
const char *rx_context_kernels(const rx_context *c) { return c->k->name; }

int32_t rx_seq_len(const rx_context *c, int32_t seq)
{
    return seq >= 0 && (uint32_t)seq < c->p.n_seq ? c->seq_len[seq] : 0;
}

void rx_seq_clear(rx_context *c, int32_t seq)
{
    if (seq >= 0 && (uint32_t)seq < c->p.n_seq) c->seq_len[seq] = 0;
}

/* Every token, position and sequence id is checked before the cache is touched, so a bad
 * batch leaves the context as it was. `next` tracks each sequence's expected position. */
static rx_status check_batch(const rx_context *c, const rx_batch *b, int32_t *next, int *n_out)
{
    const rx_context_params *p = &c->p;
    if (b->n_tokens <= 0 || (uint32_t)b->n_tokens > p->n_batch)
        return rx_error(RX_ERR_RANGE, "batch of %d tokens: must be in [1, %u]", b->n_tokens,
                        p->n_batch);
    for (uint32_t s = 0; s < p->n_seq; s++) next[s] = -1;
    *n_out = 0;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        int32_t seq = b->seq ? b->seq[i] : 0, pos = b->pos[i], tok = b->token[i];
        if (tok < 0 || (uint32_t)tok >= c->model->hp.n_vocab)
            return rx_error(RX_ERR_RANGE, "token %d at batch index %d is not in [0, %u)", tok, i,
                            c->model->hp.n_vocab);
        if (seq < 0 || (uint32_t)seq >= p->n_seq)
            return rx_error(RX_ERR_RANGE, "sequence %d at batch index %d is not in [0, %u)", seq,
                            i, p->n_seq);
        if (pos < 0 || (uint32_t)pos >= p->n_ctx)
            return rx_error(RX_ERR_RANGE, "position %d at batch index %d exceeds the context of %u",
                            pos, i, p->n_ctx);
        int32_t want = next[seq] < 0 ? c->seq_len[seq] : next[seq];
        if (next[seq] < 0 ? pos > want : pos != want)
            return rx_error(RX_ERR_INVALID_ARG,
                            "position %d of sequence %d at batch index %d leaves a gap (next is %d)",
                            pos, seq, i, want);
        next[seq] = pos + 1;
        if (b->logits ? b->logits[i] != 0 : i == b->n_tokens - 1) (*n_out)++;
    }
    if ((uint32_t)*n_out > p->n_outputs)
        return rx_error(RX_ERR_RANGE, "batch asks for logits of %d tokens, the context holds %u",
                        *n_out, p->n_outputs);
    return RX_OK;
}

rx_status rx_decode(rx_context *c, const rx_batch *b)
{
    int n_out = 0;
    rx_status s = check_batch(c, b, c->seq_next, &n_out);
    if (s != RX_OK) return s;
    rx__forward(c, b);
    for (uint32_t q = 0; q < c->p.n_seq; q++)
        if (c->seq_next[q] >= 0) c->seq_len[q] = c->seq_next[q];
    c->n_logits = n_out;
    return RX_OK;
}

const float *rx_logits(const rx_context *c, int32_t i)
{
    if (i < 0 || i >= c->n_logits) return NULL;
    return c->logits + (size_t)i * c->model->hp.n_vocab;
}

const float *rx_embedding(const rx_context *c, int32_t i)
{
    if (!c->p.embeddings || i < 0 || i >= c->n_logits) return NULL;
    return c->out_x + (size_t)i * c->model->hp.n_embd;
}
