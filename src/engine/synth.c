/* rx_synth_write: a llama GGUF with random weights at a named shape. Every row has its own
 * generator state derived from (seed, tensor, row), so rows can be made on any number of
 * threads in any order and the file is still the same. */
#include "reflex/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/quantize_internal.h"
#include "reflex/gguf.h"
#include "reflex/tokenizer.h"

#define WEIGHT_STD 0.02

static const rx_synth_shape shapes[] = {
    /* name             n_embd  n_ff  layers heads kv   ctx     rope base */
    {"tiny", 256, 768, 4, 8, 4, 512, 10000.0f}, /* ../shared/models/tiny-random-*.gguf */
    {"tinyllama-1.1b", 2048, 5632, 22, 32, 4, 2048, 10000.0f},
    {"llama-7b", 4096, 11008, 32, 32, 32, 2048, 10000.0f},
    {"llama2-7b", 4096, 11008, 32, 32, 32, 4096, 10000.0f},
    {"llama2-13b", 5120, 13824, 40, 40, 40, 4096, 10000.0f},
    {"llama3-8b", 4096, 14336, 32, 32, 8, 8192, 500000.0f},
    {"llama3.2-1b", 2048, 8192, 16, 32, 8, 131072, 500000.0f},
    {"llama3.2-3b", 3072, 8192, 28, 24, 8, 131072, 500000.0f},
};

bool rx_synth_shape_find(const char *name, rx_synth_shape *out)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcasecmp(shapes[i].name, name) == 0) {
            *out = shapes[i];
            return true;
        }
    return false;
}

const char *rx_synth_shape_names(void)
{
    return "tiny tinyllama-1.1b llama-7b llama2-7b llama2-13b llama3-8b llama3.2-1b llama3.2-3b";
}

/* ------------------------------------------------------------------ random rows */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t seed;
    uint64_t tensor; /* index in the file */
    bool ones;       /* a norm: every weight 1 */
} synth_rows;

/* Box-Muller over a per-row splitmix64 stream. */
static bool make_rows(void *arg, int64_t row0, int64_t nrows, int64_t n_per_row, float *dst,
                      int64_t *bad_row)
{
    const synth_rows *sr = arg;
    (void)bad_row;
    for (int64_t r = 0; r < nrows; r++) {
        float *y = dst + r * n_per_row;
        if (sr->ones) {
            for (int64_t i = 0; i < n_per_row; i++)
                y[i] = 1.0f;
            continue;
        }
        uint64_t s = sr->seed;
        s = splitmix64(&s) ^ (sr->tensor * 0xd1b54a32d192ed03ull);
        s = splitmix64(&s) ^ (uint64_t)(row0 + r);
        for (int64_t i = 0; i < n_per_row; i += 2) {
            double u1 = (double)((splitmix64(&s) >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
            double u2 = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
            double radius = WEIGHT_STD * sqrt(-2.0 * log(u1)), angle = 6.283185307179586 * u2;
            y[i] = (float)(radius * cos(angle));
            if (i + 1 < n_per_row) y[i + 1] = (float)(radius * sin(angle));
        }
    }
    return true;
}

/* ------------------------------------------------------------------ the file */

typedef struct {
    char name[48];
    uint32_t n_dims;
    int64_t ne[2];
} synth_tensor;

/* The order of tiny-random-F16.gguf: embedding, each layer, final norm, output. */
static size_t layout(const rx_synth_shape *sh, int64_t n_vocab, synth_tensor *t)
{
    int64_t e = sh->n_embd, ff = sh->n_ff, kv = e / sh->n_head * sh->n_head_kv;
    size_t n = 0;
    t[n++] = (synth_tensor){"token_embd.weight", 2, {e, n_vocab}};
    for (uint32_t l = 0; l < sh->n_layer; l++) {
        const struct {
            const char *fmt;
            uint32_t n_dims;
            int64_t ne0, ne1;
        } parts[] = {
            {"blk.%u.attn_norm.weight", 1, e, 1},   {"blk.%u.attn_q.weight", 2, e, e},
            {"blk.%u.attn_k.weight", 2, e, kv},     {"blk.%u.attn_v.weight", 2, e, kv},
            {"blk.%u.attn_output.weight", 2, e, e}, {"blk.%u.ffn_norm.weight", 1, e, 1},
            {"blk.%u.ffn_gate.weight", 2, e, ff},   {"blk.%u.ffn_up.weight", 2, e, ff},
            {"blk.%u.ffn_down.weight", 2, ff, e},
        };
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            synth_tensor *o = &t[n++];
            snprintf(o->name, sizeof o->name, parts[k].fmt, l);
            o->n_dims = parts[k].n_dims;
            o->ne[0] = parts[k].ne0;
            o->ne[1] = parts[k].ne1;
        }
    }
    t[n++] = (synth_tensor){"output_norm.weight", 1, {e, 1}};
    t[n++] = (synth_tensor){"output.weight", 2, {e, n_vocab}};
    return n;
}

static rx_status check_shape(const rx_synth_shape *sh)
{
    if (!sh->n_embd || !sh->n_ff || !sh->n_layer || !sh->n_head || !sh->n_head_kv || !sh->n_ctx)
        return rx_error(RX_ERR_INVALID_ARG, "synth: every dimension must be positive");
    if (sh->n_embd > (1u << 20) || sh->n_ff > (1u << 22) || sh->n_layer > 1024 || sh->n_head > 4096)
        return rx_error(RX_ERR_INVALID_ARG,
                        "synth: shape too large (n_embd %u, n_ff %u, n_layer %u)", sh->n_embd,
                        sh->n_ff, sh->n_layer);
    if (sh->n_embd % sh->n_head || sh->n_head % sh->n_head_kv)
        return rx_error(RX_ERR_INVALID_ARG,
                        "synth: n_embd %u, n_head %u, n_head_kv %u do not divide into heads",
                        sh->n_embd, sh->n_head, sh->n_head_kv);
    return RX_OK;
}

static rx_status put_metadata(rx_gguf_writer *w, const rx_synth_params *p, const rx_gguf *vocab)
{
    const rx_synth_shape *sh = &p->shape;
    char name[64];
    snprintf(name, sizeof name, "synthetic-%s", sh->name);
    rx_status s = rx_gguf_set_str(w, "general.architecture", "llama");
    if (s == RX_OK) s = rx_gguf_set_str(w, "general.name", name);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.context_length", sh->n_ctx);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.embedding_length", sh->n_embd);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.feed_forward_length", sh->n_ff);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.block_count", sh->n_layer);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.attention.head_count", sh->n_head);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.attention.head_count_kv", sh->n_head_kv);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.rope.dimension_count", sh->n_embd / sh->n_head);
    if (s == RX_OK) s = rx_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (s == RX_OK) s = rx_gguf_set_f32(w, "llama.rope.freq_base", sh->rope_freq_base);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "general.file_type", (uint32_t)p->ftype);
    rx_type base = rx_ftype_default_type(p->ftype);
    if (s == RX_OK && rx_type_get((uint32_t)base)->block_size > 1)
        s = rx_gguf_set_u32(w, "general.quantization_version", 2);
    for (int64_t i = 0; i < rx_gguf_n_kv(vocab) && s == RX_OK; i++)
        if (strncmp(rx_gguf_key(vocab, i), "tokenizer.", 10) == 0) s = rx_gguf_copy_kv(w, vocab, i);
    return s;
}

/* The vocabulary must load as a tokenizer (so the model will); its size sizes the embedding. */
static rx_status open_vocab(const char *path, rx_gguf **g, int64_t *n_vocab)
{
    rx_tokenizer *tok = NULL;
    rx_status s = rx_gguf_open(path, g);
    if (s == RX_OK && (s = rx_tokenizer_load(*g, &tok)) != RX_OK) rx_error_context(s, "%s: ", path);
    if (s == RX_OK) *n_vocab = rx_tokenizer_n_vocab(tok);
    rx_tokenizer_free(tok);
    return s;
}

typedef struct {
    rx_gguf *vocab;
    synth_tensor *t;
    rx_tensor_desc *desc;
    rx_type *type;
    size_t n;
    rx_gguf_writer *w;
    rx_tensor_stream *stream;
    rx_out_file out;
} job;

static void job_free(job *j)
{
    rx_quantize__out_abort(&j->out);
    rx_quantize__stream_destroy(j->stream);
    rx_gguf_writer_destroy(j->w);
    free(j->t);
    free(j->desc);
    free(j->type);
    rx_gguf_close(j->vocab);
}

/* Tensor list and llama-quantize's type for each, as if quantizing an F32 model. */
static rx_status plan(job *j, const rx_synth_params *p, int64_t n_vocab)
{
    const rx_synth_shape *sh = &p->shape;
    size_t cap = 3 + 9 * (size_t)sh->n_layer;
    j->t = calloc(cap, sizeof *j->t);
    j->desc = calloc(cap, sizeof *j->desc);
    j->type = calloc(cap, sizeof *j->type);
    if (!j->t || !j->desc || !j->type) return rx_error(RX_ERR_NOMEM, "synth: out of memory");
    j->n = layout(sh, n_vocab, j->t);
    for (size_t i = 0; i < j->n; i++)
        j->desc[i] = (rx_tensor_desc){.name = j->t[i].name,
                                      .n_dims = j->t[i].n_dims,
                                      .ne = {j->t[i].ne[0], j->t[i].ne[1], 1, 1},
                                      .type = RX_TYPE_F32};
    rx_quant_model m = {
        .arch = "llama", .n_layer = sh->n_layer, .n_head = sh->n_head, .n_head_kv = sh->n_head_kv};
    rx_status s = rx_quantize_choose_types(&m, j->desc, j->n, p->ftype, j->type);
    for (size_t i = 0; i < j->n && s == RX_OK; i++)
        if (!rx_quantize_can_write(j->type[i]))
            s = rx_error(RX_ERR_UNSUPPORTED,
                         "synth: tensor '%s' needs %s, which reflex cannot write", j->t[i].name,
                         rx_type_name(j->type[i]));
    return s;
}

rx_status rx_synth_write(const char *out_path, const rx_synth_params *p)
{
    job j = {0};
    int64_t n_vocab = 0;
    rx_status s = check_shape(&p->shape);
    if (s == RX_OK && !rx_ftype_supported(p->ftype))
        s = rx_error(RX_ERR_UNSUPPORTED, "synth: type %s is not supported",
                     rx_ftype_name(p->ftype));
    if (s == RX_OK) s = open_vocab(p->vocab_path, &j.vocab, &n_vocab);
    if (s == RX_OK) s = plan(&j, p, n_vocab);
    if (s == RX_OK) s = rx_gguf_writer_create(&j.w);
    if (s == RX_OK) s = put_metadata(j.w, p, j.vocab);
    for (size_t i = 0; i < j.n && s == RX_OK; i++)
        s = rx_gguf_add_tensor(j.w, j.t[i].name, j.type[i], j.t[i].n_dims, j.t[i].ne, NULL);
    int n_threads = p->n_threads > 0 ? p->n_threads : rx_quantize__default_threads();
    if (s == RX_OK) s = rx_quantize__stream_create(n_threads, &j.stream);
    if (s == RX_OK) s = rx_quantize__out_open(&j.out, out_path);
    if (s == RX_OK) s = rx_gguf_writer_begin(j.w, j.out.f);
    for (size_t i = 0; i < j.n && s == RX_OK; i++) {
        synth_rows src = {.seed = p->seed, .tensor = i, .ones = j.t[i].n_dims == 1};
        s = rx_quantize__stream_tensor(j.stream, j.out.f, j.t[i].name, j.type[i], j.t[i].ne[0],
                                       j.t[i].ne[1], make_rows, &src, RX_GGUF_DEFAULT_ALIGNMENT);
        uint64_t bytes = rx_row_size(j.type[i], j.t[i].ne[0]) * (uint64_t)j.t[i].ne[1];
        if (s == RX_OK && p->progress)
            p->progress(p->progress_user, (int64_t)i + 1, (int64_t)j.n, j.t[i].name, j.type[i],
                        j.type[i], bytes, bytes);
    }
    if (s == RX_OK)
        s = rx_quantize__out_commit(&j.out);
    else if (j.out.f)
        rx_error_context(s, "%s: ", out_path);
    job_free(&j);
    return s;
}
