/* rx_quantize_file: llama-quantize (llama.cpp build 4748, no importance matrix) in C. The
 * per-tensor type rules are a port of llama.cpp's llama_tensor_get_type for the recipes named
 * in reflex/quantize.h (the IQ recipes are left out: they need an importance matrix); the
 * bytes come from the kernels' reference quantizers, which match ggml's _ref functions. */
#include "reflex/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/kernels/kernels.h"
#include "engine/quantize_internal.h"

#define QNT_VERSION 2 /* GGML_QNT_VERSION, general.quantization_version */

/* ---------------------------------------------------------------- recipes */

typedef struct {
    const char *name;
    rx_ftype ftype;
    rx_type base; /* llama.cpp's default_type */
    bool supported;
} ftype_info;

static const ftype_info ftypes[] = {
    {"F32", RX_FTYPE_ALL_F32, RX_TYPE_F32, true},
    {"F16", RX_FTYPE_F16, RX_TYPE_F16, true},
    {"BF16", RX_FTYPE_BF16, RX_TYPE_BF16, true},
    {"Q8_0", RX_FTYPE_Q8_0, RX_TYPE_Q8_0, true},
    {"Q4_0", RX_FTYPE_Q4_0, RX_TYPE_Q4_0, true},
    {"Q5_0", RX_FTYPE_Q5_0, RX_TYPE_Q5_0, true},
    {"Q4_K_M", RX_FTYPE_Q4_K_M, RX_TYPE_Q4_K, true},
    {"Q6_K", RX_FTYPE_Q6_K, RX_TYPE_Q6_K, true},
    /* known to llama-quantize; they pick types without a reflex quantizer (Q4_1, Q5_1, Q2_K,
     * Q3_K, Q5_K), so they are refused up front */
    {"Q4_1", RX_FTYPE_Q4_1, RX_TYPE_Q4_1, false},
    {"Q5_1", RX_FTYPE_Q5_1, RX_TYPE_Q5_1, false},
    {"Q2_K", RX_FTYPE_Q2_K, RX_TYPE_Q2_K, false},
    {"Q3_K_S", RX_FTYPE_Q3_K_S, RX_TYPE_Q3_K, false},
    {"Q3_K_M", RX_FTYPE_Q3_K_M, RX_TYPE_Q3_K, false},
    {"Q3_K_L", RX_FTYPE_Q3_K_L, RX_TYPE_Q3_K, false},
    {"Q4_K_S", RX_FTYPE_Q4_K_S, RX_TYPE_Q4_K, false},
    {"Q5_K_S", RX_FTYPE_Q5_K_S, RX_TYPE_Q5_K, false},
    {"Q5_K_M", RX_FTYPE_Q5_K_M, RX_TYPE_Q5_K, false},
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

static const ftype_info *ftype_find(rx_ftype ft)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == ft) return &ftypes[i];
    return NULL;
}

bool rx_ftype_from_name(const char *name, rx_ftype *out)
{
    /* llama-quantize's aliases */
    if (strcasecmp(name, "Q4_K") == 0) name = "Q4_K_M";
    if (strcasecmp(name, "Q5_K") == 0) name = "Q5_K_M";
    if (strcasecmp(name, "Q3_K") == 0) name = "Q3_K_M";
    for (size_t i = 0; i < N_FTYPES; i++)
        if (strcasecmp(ftypes[i].name, name) == 0) {
            *out = ftypes[i].ftype;
            return true;
        }
    return false;
}

const char *rx_ftype_name(rx_ftype ft)
{
    const ftype_info *f = ftype_find(ft);
    return f ? f->name : "?";
}

bool rx_ftype_supported(rx_ftype ft)
{
    const ftype_info *f = ftype_find(ft);
    return f && f->supported;
}

const char *rx_ftype_supported_names(void)
{
    return "F32 F16 BF16 Q8_0 Q4_0 Q5_0 Q4_K_M (alias Q4_K) Q6_K";
}

rx_type rx_ftype_default_type(rx_ftype ft)
{
    const ftype_info *f = ftype_find(ft);
    return f ? f->base : RX_TYPE_F32;
}

bool rx_quantize_can_write(rx_type t)
{
    switch (t) {
    case RX_TYPE_F32:
    case RX_TYPE_F16:
    case RX_TYPE_BF16:
    case RX_TYPE_Q4_0:
    case RX_TYPE_Q5_0:
    case RX_TYPE_Q8_0:
    case RX_TYPE_Q4_K:
    case RX_TYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

static bool is_quantized(rx_type t)
{
    const rx_type_info *info = rx_type_get((uint32_t)t);
    return info && info->block_size > 1;
}

/* ---------------------------------------------------------------- order */

static int layer_of(const char *name)
{
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) != 1) layer = -1;
    return layer;
}

/* Insertion sort: models have hundreds of tensors at most, and it needs no context pointer. */
void rx_quantize_order(const rx_tensor_desc *t, size_t n, size_t *order)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = i, cur = i;
        int lc = layer_of(t[cur].name);
        while (j > 0) {
            int lp = layer_of(t[order[j - 1]].name);
            if (lp < lc || (lp == lc && strcmp(t[order[j - 1]].name, t[cur].name) <= 0)) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = cur;
    }
}

/* ---------------------------------------------------------------- type rules */

typedef struct {
    const rx_quant_model *m;
    rx_ftype ft;
    bool has_output, falcon, is_70b;
    int n_attention_wv, i_attention_wv, i_ffn_down, n_layer;
} rules;

static bool contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

static bool use_more_bits(int i_layer, int n_layers)
{
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
           (i_layer - n_layers / 8) % 3 == 2;
}

/* ggml_n_dims: trailing dimensions of 1 do not count. */
static int n_dims_of(const rx_tensor_desc *t)
{
    for (int d = RX_GGUF_MAX_DIMS - 1; d >= 1; d--)
        if (t->ne[d] > 1) return d + 1;
    return 1;
}

/* llama_model_quantize_impl's test for tensors it converts at all. */
static bool is_candidate(const rx_tensor_desc *t)
{
    static const char *const never[] = {
        "_norm.weight",
        "ffn_gate_inp.weight",
        "ssm_conv1d.weight",
        "time_mix_first.weight",
        "time_mix_w1.weight",
        "time_mix_w2.weight",
        "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight",
        "attn_rel_b.weight",
    };
    if (!ends_with(t->name, "weight") || n_dims_of(t) < 2) return false;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (contains(t->name, never[i])) return false;
    return strcmp(t->name, "position_embd.weight") != 0 &&
           strcmp(t->name, "token_types.weight") != 0;
}

/* The output matrix (or a tied embedding standing in for it). */
static rx_type output_type(const rules *r, const rx_tensor_desc *t, rx_type type)
{
    if (r->falcon || t->ne[0] % rx_type_get((uint32_t)type)->block_size != 0) return RX_TYPE_Q8_0;
    return type != RX_TYPE_Q8_0 ? RX_TYPE_Q6_K : type;
}

static rx_type attn_v_type(rules *r, rx_type type)
{
    rx_ftype ft = r->ft;
    uint32_t n_gqa = r->m->n_head_kv ? r->m->n_head / r->m->n_head_kv : 1;
    if (ft == RX_FTYPE_Q2_K)
        type = n_gqa >= 4 ? RX_TYPE_Q4_K : RX_TYPE_Q3_K;
    else if (ft == RX_FTYPE_Q3_K_M)
        type = r->i_attention_wv < 2 ? RX_TYPE_Q5_K : RX_TYPE_Q4_K;
    else if (ft == RX_FTYPE_Q3_K_L)
        type = RX_TYPE_Q5_K;
    else if ((ft == RX_FTYPE_Q4_K_M || ft == RX_FTYPE_Q5_K_M) &&
             use_more_bits(r->i_attention_wv, r->n_attention_wv))
        type = RX_TYPE_Q6_K;
    else if (ft == RX_FTYPE_Q4_K_S && r->i_attention_wv < 4)
        type = RX_TYPE_Q5_K;
    /* 70B: 8 heads share each attn_v, so more bits there cost little */
    if (r->is_70b && (type == RX_TYPE_Q3_K || type == RX_TYPE_Q4_K)) type = RX_TYPE_Q5_K;
    r->i_attention_wv++;
    return type;
}

static rx_type ffn_down_type(rules *r, rx_type type)
{
    rx_ftype ft = r->ft;
    int i = r->i_ffn_down, n = r->n_layer;
    if (ft == RX_FTYPE_Q2_K)
        type = RX_TYPE_Q3_K;
    else if (ft == RX_FTYPE_Q3_K_M)
        type = i < n / 16                          ? RX_TYPE_Q5_K
               : !r->falcon || use_more_bits(i, n) ? RX_TYPE_Q4_K
                                                   : RX_TYPE_Q3_K;
    else if (ft == RX_FTYPE_Q3_K_L)
        type = r->falcon ? RX_TYPE_Q4_K : RX_TYPE_Q5_K;
    else if (ft == RX_FTYPE_Q4_K_M) {
        if (r->falcon)
            type = i < n / 16 ? RX_TYPE_Q6_K : use_more_bits(i, n) ? RX_TYPE_Q5_K : RX_TYPE_Q4_K;
        else if (use_more_bits(i, n))
            type = RX_TYPE_Q6_K;
    } else if (ft == RX_FTYPE_Q5_K_M && use_more_bits(i, n))
        type = RX_TYPE_Q6_K;
    else if (ft == RX_FTYPE_Q4_K_S && !r->falcon && i < n / 8)
        type = RX_TYPE_Q5_K;
    r->i_ffn_down++;
    return type;
}

static rx_type attn_output_type(const rules *r, rx_type type)
{
    rx_ftype ft = r->ft;
    if (r->falcon) return ft == RX_FTYPE_Q3_K_L ? RX_TYPE_Q4_K : type;
    if (ft == RX_FTYPE_Q2_K) return RX_TYPE_Q3_K;
    if (ft == RX_FTYPE_Q3_K_M) return RX_TYPE_Q4_K;
    if (ft == RX_FTYPE_Q3_K_L) return RX_TYPE_Q5_K;
    return type;
}

static rx_type attn_qkv_type(const rules *r, rx_type type)
{
    rx_ftype ft = r->ft;
    if (ft == RX_FTYPE_Q3_K_M || ft == RX_FTYPE_Q3_K_L) return RX_TYPE_Q4_K;
    if (ft == RX_FTYPE_Q4_K_M) return RX_TYPE_Q5_K;
    if (ft == RX_FTYPE_Q5_K_M) return RX_TYPE_Q6_K;
    return type;
}

/* llama_tensor_get_type, then the fallback for rows that do not fit the chosen blocks.
 * RX_TYPE_COUNT when llama.cpp would give up ("Unsupported tensor size encountered"). */
static rx_type tensor_type(rules *r, const rx_tensor_desc *t, rx_type type)
{
    const char *name = t->name;
    if (strcmp(name, "output.weight") == 0 ||
        (!r->has_output && strcmp(name, "token_embd.weight") == 0))
        type = output_type(r, t, type);
    else if (strcmp(name, "token_embd.weight") == 0)
        ; /* only the IQ and TQ recipes change the embedding */
    else if (contains(name, "attn_v.weight"))
        type = attn_v_type(r, type);
    else if (contains(name, "attn_k.weight") || contains(name, "attn_q.weight"))
        ; /* only IQ3 recipes and 8-expert models change these */
    else if (contains(name, "ffn_down"))
        type = ffn_down_type(r, type);
    else if (contains(name, "attn_output.weight"))
        type = attn_output_type(r, type);
    else if (contains(name, "attn_qkv.weight"))
        type = attn_qkv_type(r, type);
    /* ffn_gate / ffn_up only matter to the IQ3_XS recipe */

    if (t->ne[0] % rx_type_get((uint32_t)type)->block_size == 0) return type;
    switch (type) {
    case RX_TYPE_Q2_K:
    case RX_TYPE_Q3_K:
        type = RX_TYPE_IQ4_NL;
        break;
    case RX_TYPE_Q4_K:
        type = RX_TYPE_Q5_0;
        break;
    case RX_TYPE_Q5_K:
        type = RX_TYPE_Q5_1;
        break;
    case RX_TYPE_Q6_K:
        type = RX_TYPE_Q8_0;
        break;
    default:
        return RX_TYPE_COUNT;
    }
    if (t->ne[0] % rx_type_get((uint32_t)type)->block_size != 0) type = RX_TYPE_F16;
    return type;
}

rx_status rx_quantize_choose_types(const rx_quant_model *m, const rx_tensor_desc *t, size_t n,
                                   rx_ftype ft, rx_type *out)
{
    const ftype_info *fi = ftype_find(ft);
    if (!fi) return rx_error(RX_ERR_INVALID_ARG, "quantize: unknown file type %d", (int)ft);
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return rx_error(RX_ERR_NOMEM, "quantize: out of memory");
    rx_quantize_order(t, n, order);
    rules r = {.m = m, .ft = ft, .n_layer = (int)m->n_layer};
    r.falcon = strcmp(m->arch, "falcon") == 0;
    /* llama.cpp's LLM_TYPE_70B: a llama with 80 layers and grouped KV heads */
    r.is_70b = strcmp(m->arch, "llama") == 0 && m->n_layer == 80 && m->n_head != m->n_head_kv;
    for (size_t i = 0; i < n; i++) {
        if (contains(t[i].name, "attn_v.weight") || contains(t[i].name, "attn_qkv.weight") ||
            contains(t[i].name, "attn_kv_b.weight"))
            r.n_attention_wv++;
        else if (strcmp(t[i].name, "output.weight") == 0)
            r.has_output = true;
    }
    rx_status s = RX_OK;
    for (size_t k = 0; k < n && s == RX_OK; k++) {
        const rx_tensor_desc *d = &t[order[k]];
        rx_type type = d->type;
        if (is_candidate(d)) {
            type = fi->base;
            if (is_quantized(fi->base)) type = tensor_type(&r, d, type);
            if (type == RX_TYPE_COUNT)
                s = rx_error(RX_ERR_UNSUPPORTED,
                             "tensor '%s': rows of %lld do not fit %s blocks and have no fallback",
                             d->name, (long long)d->ne[0], rx_type_name(fi->base));
        }
        out[order[k]] = type;
    }
    free(order);
    return s;
}

/* ---------------------------------------------------------------- the file */

rx_quantize_params rx_quantize_default_params(void)
{
    return (rx_quantize_params){.ftype = RX_FTYPE_Q8_0};
}

typedef struct {
    const rx_gguf_tensor *t;
    rx_to_float_fn to_float; /* NULL for F32 */
    size_t row_bytes;        /* of the input */
} input_rows;

static bool all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] - x[i] == 0.0f)) return false; /* NaN and +-Inf give NaN */
    return true;
}

static bool read_rows(void *arg, int64_t row0, int64_t nrows, int64_t n_per_row, float *dst,
                      int64_t *bad_row)
{
    const input_rows *in = arg;
    const uint8_t *src = (const uint8_t *)in->t->data + (size_t)row0 * in->row_bytes;
    for (int64_t r = 0; r < nrows; r++) {
        float *y = dst + r * n_per_row;
        if (in->to_float)
            in->to_float(src + (size_t)r * in->row_bytes, y, n_per_row);
        else
            memcpy(y, src + (size_t)r * in->row_bytes, (size_t)n_per_row * sizeof *y);
        if (!all_finite(y, n_per_row)) {
            *bad_row = row0 + r;
            return false;
        }
    }
    return true;
}

typedef struct {
    rx_gguf *in;
    rx_tensor_desc *desc; /* n, in input order */
    rx_type *type;        /* n: the output type of each */
    size_t *order;        /* n: output order */
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
    free(j->desc);
    free(j->type);
    free(j->order);
    rx_gguf_close(j->in);
}

/* The facts the rules need; llama and qwen2 only (what reflex runs). */
static rx_status read_model(const rx_gguf *g, const char *path, char *arch, size_t arch_size,
                            rx_quant_model *m)
{
    rx_str a;
    char key[96];
    uint64_t v;
    if (rx_gguf_get_str(g, "general.architecture", &a) != RX_OK)
        return rx_error(RX_ERR_UNSUPPORTED, "%s: no general.architecture: not a model", path);
    if (a.len >= arch_size || memchr(a.ptr, '\0', a.len) ||
        !((a.len == 5 && memcmp(a.ptr, "llama", 5) == 0) ||
          (a.len == 5 && memcmp(a.ptr, "qwen2", 5) == 0)))
        return rx_error(RX_ERR_UNSUPPORTED,
                        "%s: architecture '%.*s' is not supported (llama, qwen2)", path,
                        (int)(a.len > 32 ? 32 : a.len), a.ptr);
    memcpy(arch, a.ptr, a.len);
    arch[a.len] = '\0';
    *m = (rx_quant_model){.arch = arch};
    snprintf(key, sizeof key, "%s.block_count", arch);
    if (rx_gguf_get_u64(g, key, &v) != RX_OK || v == 0 || v > 4096)
        return rx_error(RX_ERR_FORMAT, "%s: %s missing or out of range", path, key);
    m->n_layer = (uint32_t)v;
    snprintf(key, sizeof key, "%s.attention.head_count", arch);
    if (rx_gguf_get_u64(g, key, &v) != RX_OK || v == 0 || v > 65536)
        return rx_error(RX_ERR_FORMAT, "%s: %s missing or out of range", path, key);
    m->n_head = m->n_head_kv = (uint32_t)v;
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    if (rx_gguf_get_u64(g, key, &v) == RX_OK && v > 0 && v <= m->n_head) m->n_head_kv = (uint32_t)v;
    snprintf(key, sizeof key, "%s.expert_count", arch);
    if (rx_gguf_get_u64(g, key, &v) == RX_OK && v > 1)
        return rx_error(RX_ERR_UNSUPPORTED, "%s: mixture-of-experts models are not supported",
                        path);
    return RX_OK;
}

/* Types chosen, and every conversion checked, before a byte is written. */
static rx_status plan(job *j, const char *in_path, const rx_quantize_params *p)
{
    char arch[16];
    rx_quant_model m;
    rx_status s = read_model(j->in, in_path, arch, sizeof arch, &m);
    if (s != RX_OK) return s;
    j->n = (size_t)rx_gguf_n_tensors(j->in);
    j->desc = calloc(j->n ? j->n : 1, sizeof *j->desc);
    j->type = calloc(j->n ? j->n : 1, sizeof *j->type);
    j->order = calloc(j->n ? j->n : 1, sizeof *j->order);
    if (!j->desc || !j->type || !j->order) return rx_error(RX_ERR_NOMEM, "quantize: out of memory");
    for (size_t i = 0; i < j->n; i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(j->in, (int64_t)i);
        j->desc[i] = (rx_tensor_desc){.name = t->name, .n_dims = t->n_dims, .type = t->type};
        memcpy(j->desc[i].ne, t->ne, sizeof t->ne);
    }
    rx_quantize_order(j->desc, j->n, j->order);
    s = rx_quantize_choose_types(&m, j->desc, j->n, p->ftype, j->type);
    if (s != RX_OK) return rx_error_context(s, "%s: ", in_path);
    for (size_t i = 0; i < j->n; i++) {
        const rx_tensor_desc *d = &j->desc[i];
        if (j->type[i] == d->type) continue;
        if (!rx_quantize_can_write(j->type[i]))
            return rx_error(RX_ERR_UNSUPPORTED,
                            "%s: tensor '%s' needs %s, which reflex cannot write", in_path, d->name,
                            rx_type_name(j->type[i]));
        if (is_quantized(d->type) && !p->allow_requantize)
            return rx_error(RX_ERR_UNSUPPORTED,
                            "%s: tensor '%s' is already %s; requantizing needs --allow-requantize",
                            in_path, d->name, rx_type_name(d->type));
        if (d->type != RX_TYPE_F32 && !rx_kernels_ref()->type[d->type].to_float)
            return rx_error(RX_ERR_UNSUPPORTED, "%s: tensor '%s': cannot read %s", in_path, d->name,
                            rx_type_name(d->type));
    }
    return RX_OK;
}

/* Metadata as llama.cpp copies it: every key in order, minus the split keys, with
 * quantization_version and file_type removed and appended (gguf_set_val_u32 semantics). */
static rx_status build_header(job *j, rx_ftype ft)
{
    rx_status s = rx_gguf_writer_create(&j->w);
    for (int64_t i = 0; i < rx_gguf_n_kv(j->in) && s == RX_OK; i++) {
        const char *key = rx_gguf_key(j->in, i);
        if (strcmp(key, "general.quantization_version") == 0 ||
            strcmp(key, "general.file_type") == 0 || strcmp(key, "split.no") == 0 ||
            strcmp(key, "split.count") == 0 || strcmp(key, "split.tensors.count") == 0)
            continue;
        s = rx_gguf_copy_kv(j->w, j->in, i);
    }
    if (s == RX_OK) s = rx_gguf_set_u32(j->w, "general.quantization_version", QNT_VERSION);
    if (s == RX_OK) s = rx_gguf_set_u32(j->w, "general.file_type", (uint32_t)ft);
    for (size_t k = 0; k < j->n && s == RX_OK; k++) {
        const rx_tensor_desc *d = &j->desc[j->order[k]];
        s = rx_gguf_add_tensor(j->w, d->name, j->type[j->order[k]], d->n_dims, d->ne, NULL);
    }
    return s;
}

static uint32_t out_alignment(const rx_gguf *g)
{
    uint32_t a;
    return rx_gguf_get_u32(g, "general.alignment", &a) == RX_OK && a ? a
                                                                     : RX_GGUF_DEFAULT_ALIGNMENT;
}

static rx_status write_tensor(job *j, size_t i, uint32_t align)
{
    const rx_gguf_tensor *t = rx_gguf_tensor_at(j->in, (int64_t)i);
    if (j->type[i] == t->type) return rx_quantize__write_raw(j->out.f, t->data, t->nbytes, align);
    input_rows in = {.t = t, .row_bytes = rx_row_size(t->type, t->ne[0])};
    if (t->type != RX_TYPE_F32) in.to_float = rx_kernels_ref()->type[t->type].to_float;
    int64_t nrows = t->ne[1] * t->ne[2] * t->ne[3];
    return rx_quantize__stream_tensor(j->stream, j->out.f, t->name, j->type[i], t->ne[0], nrows,
                                      read_rows, &in, align);
}

rx_status rx_quantize_file(const char *in_path, const char *out_path, const rx_quantize_params *p)
{
    job j = {0};
    if (!rx_ftype_supported(p->ftype))
        return rx_error(RX_ERR_UNSUPPORTED, "quantize: type %s is not supported (%s)",
                        rx_ftype_name(p->ftype), rx_ftype_supported_names());
    rx_status s = rx_gguf_open(in_path, &j.in);
    if (s == RX_OK) s = plan(&j, in_path, p);
    if (s == RX_OK) s = build_header(&j, p->ftype);
    int n_threads = p->n_threads > 0 ? p->n_threads : rx_quantize__default_threads();
    if (s == RX_OK) s = rx_quantize__stream_create(n_threads, &j.stream);
    if (s == RX_OK) s = rx_quantize__out_open(&j.out, out_path);
    if (s == RX_OK) s = rx_gguf_writer_begin(j.w, j.out.f);
    uint32_t align = s == RX_OK ? out_alignment(j.in) : RX_GGUF_DEFAULT_ALIGNMENT;
    for (size_t k = 0; k < j.n && s == RX_OK; k++) {
        size_t i = j.order[k];
        const rx_gguf_tensor *t = rx_gguf_tensor_at(j.in, (int64_t)i);
        s = write_tensor(&j, i, align);
        if (s == RX_OK && p->progress)
            p->progress(p->progress_user, (int64_t)k + 1, (int64_t)j.n, t->name, t->type, j.type[i],
                        t->nbytes,
                        rx_row_size(j.type[i], t->ne[0]) *
                            (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]));
    }
    if (s == RX_OK) {
        s = rx_quantize__out_commit(&j.out);
    } else if (j.out.f) { /* a failed write names the output, a bad weight the input */
        rx_error_context(s, "%s: ", s == RX_ERR_IO ? out_path : in_path);
    }
    job_free(&j);
    return s;
}
