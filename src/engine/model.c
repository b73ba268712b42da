/* Model loading: reads the llama/qwen2 hyper-parameters from GGUF metadata, checks them
 * against each other and against every tensor's shape and type, points the weights at the
 * file mapping, then copies the matrices the forward pass multiplies into anonymous memory
 * (see copy_matrices for why). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/kernels/kernels.h"
#include "engine/model_internal.h"

#define MAX_LAYERS 4096

static rx_status get_u32(const rx_gguf *g, const char *arch, const char *suffix, bool required,
                         uint32_t dflt, uint32_t *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    rx_status s = rx_gguf_get_u32(g, key, out);
    if (s == RX_ERR_NOT_FOUND && !required) {
        *out = dflt;
        return RX_OK;
    }
    return s;
}

static rx_status get_f32(const rx_gguf *g, const char *arch, const char *suffix, float dflt,
                         float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    rx_status s = rx_gguf_get_f32(g, key, out);
    if (s == RX_ERR_NOT_FOUND) {
        *out = dflt;
        return RX_OK;
    }
    return s;
}

static rx_status read_arch(const rx_gguf *g, rx_model_hparams *hp)
{
    rx_str arch;
    rx_status s = rx_gguf_get_str(g, "general.architecture", &arch);
    if (s != RX_OK) return s;
    if ((arch.len == 5 && memcmp(arch.ptr, "llama", 5) == 0) ||
        (arch.len == 5 && memcmp(arch.ptr, "qwen2", 5) == 0)) {
        memcpy(hp->arch, arch.ptr, 5);
        hp->arch[5] = '\0';
        return RX_OK;
    }
    int shown = arch.len > 32 ? 32 : (int)arch.len;
    return rx_error(RX_ERR_UNSUPPORTED,
                    "general.architecture '%.*s' is not supported (llama, qwen2)", shown, arch.ptr);
}

/* Rope scaling: only linear scaling changes llama's rotary frequencies here. */
static rx_status read_rope_scaling(const rx_gguf *g, const char *arch, rx_model_hparams *hp)
{
    char key[128];
    float factor = 0.0f;
    rx_str type = {"linear", 6};
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    rx_status s = rx_gguf_get_str(g, key, &type);
    if (s != RX_OK && s != RX_ERR_NOT_FOUND) return s;
    if (s == RX_OK && !(type.len == 6 && memcmp(type.ptr, "linear", 6) == 0) &&
        !(type.len == 4 && memcmp(type.ptr, "none", 4) == 0))
        return rx_error(RX_ERR_UNSUPPORTED, "%s: rope scaling '%.*s' is not supported (linear)",
                        key, type.len > 32 ? 32 : (int)type.len, type.ptr);
    if ((s = get_f32(g, arch, "rope.scaling.factor", 0.0f, &factor)) != RX_OK) return s;
    if (factor == 0.0f && (s = get_f32(g, arch, "rope.scale_linear", 0.0f, &factor)) != RX_OK)
        return s;
    hp->rope_freq_scale = 1.0f;
    if (factor != 0.0f && !(type.len == 4 && memcmp(type.ptr, "none", 4) == 0)) {
        if (!(factor >= 1.0f && factor <= 1024.0f))
            return rx_error(RX_ERR_FORMAT, "%s.rope.scaling.factor: %g is not in [1, 1024]", arch,
                            factor);
        hp->rope_freq_scale = 1.0f / factor;
    }
    return RX_OK;
}

static rx_status read_hparams(const rx_gguf *g, rx_model_hparams *hp)
{
    rx_status s = read_arch(g, hp);
    const char *a = hp->arch;
    if (s == RX_OK) s = get_u32(g, a, "embedding_length", true, 0, &hp->n_embd);
    if (s == RX_OK) s = get_u32(g, a, "block_count", true, 0, &hp->n_layer);
    if (s == RX_OK) s = get_u32(g, a, "feed_forward_length", true, 0, &hp->n_ff);
    if (s == RX_OK) s = get_u32(g, a, "attention.head_count", true, 0, &hp->n_head);
    if (s == RX_OK) s = get_u32(g, a, "attention.head_count_kv", false, hp->n_head, &hp->n_head_kv);
    if (s == RX_OK) s = get_u32(g, a, "context_length", true, 0, &hp->n_ctx_train);
    if (s == RX_OK) s = get_f32(g, a, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->rms_eps);
    if (s == RX_OK) s = get_f32(g, a, "rope.freq_base", 10000.0f, &hp->rope_freq_base);
    if (s == RX_OK) s = read_rope_scaling(g, a, hp);
    if (s != RX_OK) return s;

    if (hp->n_embd == 0 || hp->n_embd > (1u << 20))
        return rx_error(RX_ERR_FORMAT, "%s.embedding_length: %u is not in [1, 2^20]", a,
                        hp->n_embd);
    if (hp->n_layer == 0 || hp->n_layer > MAX_LAYERS)
        return rx_error(RX_ERR_FORMAT, "%s.block_count: %u is not in [1, %d]", a, hp->n_layer,
                        MAX_LAYERS);
    if (hp->n_ff == 0 || hp->n_ff > (1u << 22))
        return rx_error(RX_ERR_FORMAT, "%s.feed_forward_length: %u is not in [1, 2^22]", a,
                        hp->n_ff);
    if (hp->n_head == 0 || hp->n_embd % hp->n_head != 0)
        return rx_error(RX_ERR_FORMAT,
                        "%s.attention.head_count: %u does not divide embedding_length %u", a,
                        hp->n_head, hp->n_embd);
    if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0)
        return rx_error(RX_ERR_FORMAT,
                        "%s.attention.head_count_kv: %u does not divide head_count %u", a,
                        hp->n_head_kv, hp->n_head);
    if (hp->n_ctx_train == 0)
        return rx_error(RX_ERR_FORMAT, "%s.context_length: must be positive", a);
    hp->head_dim = hp->n_embd / hp->n_head;
    if ((s = get_u32(g, a, "rope.dimension_count", false, hp->head_dim, &hp->n_rot)) != RX_OK)
        return s;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return rx_error(RX_ERR_FORMAT,
                        "%s.rope.dimension_count: %u must be even and at most the head size %u", a,
                        hp->n_rot, hp->head_dim);
    if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f))
        return rx_error(RX_ERR_FORMAT, "%s.attention.layer_norm_rms_epsilon: %g is not in (0, 1)",
                        a, hp->rms_eps);
    if (!(hp->rope_freq_base > 0.0f))
        return rx_error(RX_ERR_FORMAT, "%s.rope.freq_base: %g must be positive", a,
                        hp->rope_freq_base);
    return RX_OK;
}

/* Finds a tensor and checks its shape; expected dims of 0 mean "any" (n_vocab, checked later). */
static rx_status find_tensor(const rx_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                             bool required, const rx_gguf_tensor **out)
{
    const rx_gguf_tensor *t = rx_gguf_find_tensor(g, name);
    *out = t;
    if (!t) {
        if (!required) return RX_OK;
        return rx_error(RX_ERR_FORMAT, "tensor '%s' is missing", name);
    }
    bool ok = t->ne[2] == 1 && t->ne[3] == 1 && (ne0 == 0 || t->ne[0] == ne0) &&
              (ne1 == 0 || t->ne[1] == ne1);
    if (!ok)
        return rx_error(RX_ERR_FORMAT,
                        "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                        name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                        (long long)t->ne[3], (long long)ne0, (long long)ne1);
    return RX_OK;
}

/* A vector (norm weight or bias): must be F32, like llama.cpp keeps them. */
static rx_status load_vector(const rx_gguf *g, const char *name, int64_t n, bool required,
                             const float **out)
{
    const rx_gguf_tensor *t;
    *out = NULL;
    rx_status s = find_tensor(g, name, n, 1, required, &t);
    if (s != RX_OK || !t) return s;
    if (t->type != RX_TYPE_F32)
        return rx_error(RX_ERR_UNSUPPORTED, "tensor '%s' has type %s, expected F32", name,
                        rx_type_name(t->type));
    *out = t->data;
    return RX_OK;
}

static rx_status load_matrix(const rx_gguf *g, const char *name, int64_t cols, int64_t rows,
                             bool required, rx_weight *w)
{
    const rx_gguf_tensor *t;
    memset(w, 0, sizeof *w);
    rx_status s = find_tensor(g, name, cols, rows, required, &t);
    if (s != RX_OK || !t) return s;
    const rx_type_kernels *k = &rx_kernels_ref()->type[t->type];
    if (!k->to_float || !k->vec_dot)
        return rx_error(RX_ERR_UNSUPPORTED, "tensor '%s' has type %s, which reflex cannot run",
                        name, rx_type_name(t->type));
    *w = (rx_weight){.type = t->type, .data = t->data, .rows = t->ne[1], .cols = t->ne[0]};
    return RX_OK;
}

static rx_status load_layer(const rx_gguf *g, const rx_model_hparams *hp, uint32_t il, rx_layer *l)
{
    char name[96];
    int64_t d = hp->n_embd, kv = (int64_t)hp->n_head_kv * hp->head_dim, ff = hp->n_ff;
    rx_status s = RX_OK;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%u." suffix, il), name)
    if (s == RX_OK) s = load_vector(g, NAME("attn_norm.weight"), d, true, &l->attn_norm);
    if (s == RX_OK) s = load_matrix(g, NAME("attn_q.weight"), d, d, true, &l->wq);
    if (s == RX_OK) s = load_matrix(g, NAME("attn_k.weight"), d, kv, true, &l->wk);
    if (s == RX_OK) s = load_matrix(g, NAME("attn_v.weight"), d, kv, true, &l->wv);
    if (s == RX_OK) s = load_matrix(g, NAME("attn_output.weight"), d, d, true, &l->wo);
    if (s == RX_OK) s = load_vector(g, NAME("attn_q.bias"), d, hp->qkv_bias, &l->bq);
    if (s == RX_OK) s = load_vector(g, NAME("attn_k.bias"), kv, hp->qkv_bias, &l->bk);
    if (s == RX_OK) s = load_vector(g, NAME("attn_v.bias"), kv, hp->qkv_bias, &l->bv);
    if (s == RX_OK) s = load_vector(g, NAME("ffn_norm.weight"), d, true, &l->ffn_norm);
    if (s == RX_OK) s = load_matrix(g, NAME("ffn_gate.weight"), d, ff, true, &l->w_gate);
    if (s == RX_OK) s = load_matrix(g, NAME("ffn_up.weight"), d, ff, true, &l->w_up);
    if (s == RX_OK) s = load_matrix(g, NAME("ffn_down.weight"), ff, d, true, &l->w_down);
#undef NAME
    return s;
}

static rx_type most_common_type(const rx_model *m)
{
    uint64_t bytes[RX_TYPE_COUNT] = {0};
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const rx_layer *l = &m->layers[i];
        const rx_weight *w[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
            bytes[w[k]->type] += rx_row_size(w[k]->type, w[k]->cols) * (uint64_t)w[k]->rows;
    }
    rx_type best = RX_TYPE_F32;
    for (int t = 0; t < RX_TYPE_COUNT; t++)
        if (bytes[t] > bytes[best]) best = (rx_type)t;
    return best;
}

static rx_status load_weights(rx_model *m)
{
    const rx_gguf *g = m->gguf;
    rx_model_hparams *hp = &m->hp;
    rx_status s = load_matrix(g, "token_embd.weight", hp->n_embd, 0, true, &m->tok_embd);
    if (s != RX_OK) return s;
    hp->n_vocab = (uint32_t)m->tok_embd.rows;
    if (m->tok_embd.rows > (1 << 24))
        return rx_error(RX_ERR_FORMAT, "tensor 'token_embd.weight': %lld tokens is too many",
                        (long long)m->tok_embd.rows);
    uint32_t vocab_key;
    if ((s = get_u32(g, hp->arch, "vocab_size", false, hp->n_vocab, &vocab_key)) != RX_OK) return s;
    if (vocab_key != hp->n_vocab)
        return rx_error(RX_ERR_FORMAT,
                        "%s.vocab_size %u disagrees with token_embd.weight's %u rows", hp->arch,
                        vocab_key, hp->n_vocab);
    if ((s = load_vector(g, "output_norm.weight", hp->n_embd, true, &m->output_norm)) != RX_OK)
        return s;
    if ((s = load_matrix(g, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output)) != RX_OK)
        return s;
    hp->tied_output = m->output.data == NULL;
    if (hp->tied_output) m->output = m->tok_embd;
    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    if (!m->layers) return rx_error(RX_ERR_NOMEM, "out of memory for %u layers", hp->n_layer);
    for (uint32_t i = 0; i < hp->n_layer && s == RX_OK; i++)
        s = load_layer(g, hp, i, &m->layers[i]);
    if (s == RX_OK) hp->ftype = most_common_type(m);
    return s;
}

/* Transparent huge page size: the copy is aligned to it so the kernel can back it with them. */
#define HUGE_PAGE ((size_t)2 << 20)
/* Each matrix starts on a cache line, as the file's 32-byte alignment does not promise. */
#define COPY_ALIGN 64

/* Decode streams every matrix once per token, so it runs at the speed memory is read at. Read
 * through the file mapping (4 KiB page-cache pages), the weights came at 1-3 GB/s on the 2-core
 * EPYC VM the benchmarks run on, against 15-25 GB/s for the same bytes copied to anonymous
 * memory (and more steadily with huge pages); llama.cpp also reads its Q4_0 weights from a
 * copy (its repacked buffer). So the multiplied matrices are copied into one anonymous mapping
 * advised for huge pages, and the file pages they came from are dropped from this process
 * (rx_model_load always reads through rx_gguf_open's read-only private file mapping, where
 * MADV_DONTNEED only unmaps pages; a later read faults them back in from the file), which
 * keeps the resident size that of one copy. The token
 * embeddings stay in the mapping: only the rows of the tokens seen are read. */
static rx_weight *matrix_at(rx_model *m, size_t k)
{
    if (k == 7 * (size_t)m->hp.n_layer) return &m->output;
    rx_layer *l = &m->layers[k / 7];
    rx_weight *lw[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
    return lw[k % 7];
}

static size_t matrix_bytes(const rx_weight *w)
{
    return rx_row_size(w->type, w->cols) * (size_t)w->rows;
}

static rx_status copy_matrices(rx_model *m)
{
    const size_t n = 7 * (size_t)m->hp.n_layer + 1;
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += (matrix_bytes(matrix_at(m, k)) + COPY_ALIGN - 1) & ~(size_t)(COPY_ALIGN - 1);
    /* one huge page more, to start on a huge-page boundary */
    size_t map_bytes = total + HUGE_PAGE;
    void *map = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return rx_error(RX_ERR_NOMEM, "cannot map %zu bytes for the weights", map_bytes);
    m->copy = map;
    m->copy_bytes = map_bytes;
    char *dst = (char *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    (void)madvise(dst, total, MADV_HUGEPAGE); /* a hint: without huge pages the copy still works */
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const void *embd_src = m->tok_embd.data;
    for (size_t k = 0; k < n; k++) {
        rx_weight *w = matrix_at(m, k);
        const size_t bytes = matrix_bytes(w);
        const uintptr_t src = (uintptr_t)w->data;
        /* Q4_0 and Q8_0 in eights of rows are stored grouped (kernels.h): the same numbers,
         * arranged so the kernel meets eight rows' codes in one load and each row's sums land
         * in their own lanes, with no shuffles per block */
        if (w->type == RX_TYPE_Q4_0 && w->rows % RX_REPACK_ROWS == 0) {
            rx_q4_0x8_pack(w->data, dst, w->rows, w->cols);
            w->grouped = true;
        } else if (w->type == RX_TYPE_Q8_0 && w->rows % RX_REPACK_ROWS == 0) {
            rx_q8_0x8_pack(w->data, dst, w->rows, w->cols);
            w->grouped = true;
        } else {
            memcpy(dst, w->data, bytes);
        }
        /* only whole pages inside this matrix: its neighbours may still be read from the file;
         * and not the token embeddings' rows, which a tied output's lookups read from there */
        uintptr_t lo = (src + page - 1) & ~(page - 1), hi = (src + bytes) & ~(page - 1);
        if (hi > lo && (const void *)src != embd_src)
            (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
        w->data = dst;
        dst += (bytes + COPY_ALIGN - 1) & ~(size_t)(COPY_ALIGN - 1);
    }
    /* tied: the lookups read the copy, unless it was regrouped (then the file's rows) */
    if (m->hp.tied_output) {
        m->tok_embd = m->output;
        if (m->output.grouped) {
            m->tok_embd.data = embd_src;
            m->tok_embd.grouped = false;
        }
    }
    (void)mprotect(map, map_bytes, PROT_READ); /* the model is immutable from here on */
    return RX_OK;
}

rx_status rx_model_load(const char *path, rx_model **out)
{
    *out = NULL;
    rx_model *m = calloc(1, sizeof *m);
    if (!m) return rx_error(RX_ERR_NOMEM, "out of memory");
    rx_status s = rx_gguf_open(path, &m->gguf);
    if (s == RX_OK) {
        s = read_hparams(m->gguf, &m->hp);
        m->hp.qkv_bias = strcmp(m->hp.arch, "qwen2") == 0;
        if (s == RX_OK) s = load_weights(m);
        if (s == RX_OK) s = copy_matrices(m);
        if (s != RX_OK) rx_error_context(s, "%s: ", path);
    }
    if (s != RX_OK) {
        rx_model_free(m);
        return s;
    }
    *out = m;
    return RX_OK;
}

void rx_model_free(rx_model *m)
{
    if (!m) return;
    free(m->layers);
    if (m->copy) munmap(m->copy, m->copy_bytes);
    rx_gguf_close(m->gguf);
    free(m);
}

const rx_model_hparams *rx_model_hparams_of(const rx_model *m)
{
    return &m->hp;
}
const rx_gguf *rx_model_gguf(const rx_model *m)
{
    return m->gguf;
}

static uint64_t weight_bytes(const rx_weight *w)
{
    return rx_row_size(w->type, w->cols) * (uint64_t)w->rows;
}

uint64_t rx_model_weight_bytes(const rx_model *m)
{
    uint64_t total = weight_bytes(&m->output);
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        const rx_layer *l = &m->layers[i];
        total += weight_bytes(&l->wq) + weight_bytes(&l->wk) + weight_bytes(&l->wv) +
                 weight_bytes(&l->wo) + weight_bytes(&l->w_gate) + weight_bytes(&l->w_up) +
                 weight_bytes(&l->w_down);
    }
    return total;
}
