/* llama2.c checkpoint + tokenizer.bin -> llama GGUF, as llama.cpp's convert-llama2c-to-ggml
 * (build 4748) writes it: the weights are copied as they lie (llama2.c's row-major [out][in]
 * is GGUF's ne = {in, out}), Q and K are not permuted (llama2.c rotates adjacent pairs, which
 * is llama.cpp's "normal" rope for the llama architecture), and both files are validated
 * before anything is written. */
#include "reflex/llama2c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checked.h"
#include "engine/quantize_internal.h"
#include "reflex/gguf.h"

#define HEADER_BYTES 28
#define DEFAULT_N_CTX 128      /* convert-llama2c-to-ggml's params.n_ctx */
#define N_ROT_MAX 64           /* its params.n_rotmax */
#define AK42_MAGIC 0x616b3432u /* llama2.c's version 1/2 exports (export.py) */

/* llama_token_type values */
enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_BYTE = 6 };

static int32_t rd_i32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ------------------------------------------------------------------ header */

/* Float counts of each part of the checkpoint, overflow-checked. */
typedef struct {
    uint64_t embd, norm_l, attn_q, attn_kv, ffn, freq;
} sizes;

static bool sizes_of(const rx_llama2c_config *c, sizes *z)
{
    uint64_t dim = (uint64_t)c->dim, L = (uint64_t)c->n_layers, hid = (uint64_t)c->hidden_dim;
    uint64_t kv_dim = dim / (uint64_t)c->n_heads * (uint64_t)c->n_kv_heads;
    uint64_t head = dim / (uint64_t)c->n_heads;
    return rx_mul_u64((uint64_t)c->vocab_size, dim, &z->embd) && rx_mul_u64(L, dim, &z->norm_l) &&
           rx_mul_u64(z->norm_l, dim, &z->attn_q) && rx_mul_u64(z->norm_l, kv_dim, &z->attn_kv) &&
           rx_mul_u64(z->norm_l, hid, &z->ffn) && rx_mul_u64((uint64_t)c->seq_len, head, &z->freq);
}

static bool total_floats(const rx_llama2c_config *c, const sizes *z, uint64_t *n)
{
    /* embd, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis, [wcls] */
    const uint64_t parts[] = {z->embd,
                              z->norm_l,
                              z->attn_q,
                              z->attn_kv,
                              z->attn_kv,
                              z->attn_q,
                              z->norm_l,
                              z->ffn,
                              z->ffn,
                              z->ffn,
                              (uint64_t)c->dim,
                              z->freq,
                              c->shared_classifier ? 0 : z->embd};
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (!rx_add_u64(sum, parts[i], &sum)) return false;
    *n = sum;
    return true;
}

rx_status rx_llama2c_parse_header(const void *data, size_t size, rx_llama2c_config *out)
{
    const uint8_t *p = data;
    if (size < HEADER_BYTES)
        return rx_error(RX_ERR_FORMAT,
                        "llama2c: the file has %zu bytes, less than the %d-byte header", size,
                        HEADER_BYTES);
    uint32_t magic;
    memcpy(&magic, p, 4);
    if (magic == AK42_MAGIC)
        return rx_error(RX_ERR_UNSUPPORTED,
                        "llama2c: a version %d export (magic 0x616b3432); only the legacy format "
                        "(export.py --version 0) is supported",
                        rd_i32(p + 4));
    rx_llama2c_config c = {.dim = rd_i32(p),
                           .hidden_dim = rd_i32(p + 4),
                           .n_layers = rd_i32(p + 8),
                           .n_heads = rd_i32(p + 12),
                           .n_kv_heads = rd_i32(p + 16),
                           .vocab_size = rd_i32(p + 20),
                           .seq_len = rd_i32(p + 24)};
    static const char *const names[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                        "n_kv_heads", "vocab_size", "seq_len"};
    const int32_t vals[] = {c.dim,        c.hidden_dim, c.n_layers, c.n_heads,
                            c.n_kv_heads, c.vocab_size, c.seq_len};
    for (int i = 0; i < 7; i++) {
        int32_t v = i == 5 && vals[i] < 0 && vals[i] != INT32_MIN ? -vals[i] : vals[i];
        if (v <= 0)
            return rx_error(RX_ERR_FORMAT, "llama2c: header %s at byte %d is %d", names[i], 4 * i,
                            vals[i]);
    }
    c.shared_classifier = c.vocab_size > 0;
    if (c.vocab_size < 0) c.vocab_size = -c.vocab_size;
    if (c.vocab_size < 3)
        return rx_error(RX_ERR_FORMAT, "llama2c: vocab_size %d is too small (ids 0-2 are special)",
                        c.vocab_size);
    if (c.n_kv_heads > c.n_heads || c.n_heads % c.n_kv_heads != 0 || c.dim % c.n_heads != 0)
        return rx_error(RX_ERR_FORMAT,
                        "llama2c: dim %d, n_heads %d, n_kv_heads %d do not divide into heads",
                        c.dim, c.n_heads, c.n_kv_heads);
    sizes z;
    uint64_t n;
    if (!sizes_of(&c, &z) || !total_floats(&c, &z, &n) || !rx_mul_u64(n, 4, &c.weights_bytes) ||
        c.weights_bytes != size - HEADER_BYTES)
        return rx_error(RX_ERR_FORMAT,
                        "llama2c: the header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, "
                        "n_kv_heads %d, vocab_size %d, seq_len %d, %s classifier) does not match "
                        "the file size of %zu bytes",
                        c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size,
                        c.seq_len, c.shared_classifier ? "shared" : "separate", size);
    *out = c;
    return RX_OK;
}

/* ------------------------------------------------------------------ vocabulary */

typedef struct {
    char *text; /* owned; escaped as llama.cpp stores it */
    size_t len;
    float score;
    int32_t type;
} token;

rx_status rx_llama2c_check_vocab(const void *data, size_t size, int32_t n_vocab)
{
    size_t off = 4;
    if (size < 4) return rx_error(RX_ERR_FORMAT, "tokenizer: %zu bytes, no max_token_length", size);
    for (int32_t i = 0; i < n_vocab; i++) {
        uint32_t len;
        if (size - off < 8)
            return rx_error(RX_ERR_FORMAT,
                            "tokenizer: token %d at byte %zu: the file ends (%d tokens needed)", i,
                            off, n_vocab);
        memcpy(&len, (const uint8_t *)data + off + 4, 4);
        off += 8;
        if (len > size - off)
            return rx_error(
                RX_ERR_FORMAT,
                "tokenizer: token %d at byte %zu: length %u runs past the end of the file", i,
                off - 4, len);
        off += len;
    }
    return RX_OK;
}

/* sscanf(text, "<0x%02hhX>", &b) == 1 as llama.cpp tests it: "<0x", then (after optional
 * white space) an optional sign and at least one hex digit within two characters. */
static bool looks_like_byte(const char *s, size_t len)
{
    if (len < 4 || memcmp(s, "<0x", 3) != 0) return false;
    size_t i = 3;
    while (i < len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    size_t width = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        i++;
        width++;
    }
    if (i >= len || width >= 2) return false;
    char ch = s[i];
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* ' ' becomes U+2581; the text ends at a NUL as llama.cpp passes it on as a C string. */
static char *escape_spaces(const char *s, size_t len, size_t *out_len)
{
    size_t n = 0;
    while (n < len && s[n] != '\0')
        n++;
    char *e = malloc(3 * n + 1), *q = e;
    if (!e) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(q, "\xe2\x96\x81", 3);
            q += 3;
        } else {
            *q++ = s[i];
        }
    }
    *q = '\0';
    *out_len = (size_t)(q - e);
    return e;
}

static void free_vocab(token *t, int32_t n)
{
    for (int32_t i = 0; t && i < n; i++)
        free(t[i].text);
    free(t);
}

/* The data must have passed rx_llama2c_check_vocab. */
static rx_status load_vocab(const uint8_t *data, int32_t n, token **out)
{
    static const char *const special[3] = {"<unk>", "<s>", "</s>"};
    token *t = calloc((size_t)n, sizeof *t);
    if (!t) return rx_error(RX_ERR_NOMEM, "tokenizer: out of memory");
    size_t off = 4;
    for (int32_t i = 0; i < n; i++) {
        uint32_t len;
        memcpy(&t[i].score, data + off, 4);
        memcpy(&len, data + off + 4, 4);
        const char *text = (const char *)data + off + 8;
        off += 8 + (size_t)len;
        if (i < 3) {
            text = special[i];
            len = (uint32_t)strlen(text);
            t[i].type = i == 0 ? TOKEN_UNKNOWN : TOKEN_CONTROL;
        } else if (len == 0) {
            t[i].type = TOKEN_CONTROL;
        } else {
            t[i].type = looks_like_byte(text, len) ? TOKEN_BYTE : TOKEN_NORMAL;
        }
        if (!(t[i].text = escape_spaces(text, len, &t[i].len))) {
            free_vocab(t, n);
            return rx_error(RX_ERR_NOMEM, "tokenizer: out of memory");
        }
    }
    *out = t;
    return RX_OK;
}

/* ------------------------------------------------------------------ conversion */

typedef struct {
    const uint8_t *data; /* mapping, or NULL */
    size_t size;
} mapped;

static rx_status map_file(const char *path, mapped *m)
{
    *m = (mapped){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rx_error(RX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rx_error(RX_ERR_IO, "%s: not a regular file", path);
    }
    m->size = (size_t)st.st_size;
    if (m->size == 0) {
        close(fd);
        return rx_error(RX_ERR_FORMAT, "%s: the file is empty", path);
    }
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) return rx_error(RX_ERR_IO, "%s: cannot map: %s", path, strerror(err));
    m->data = p;
    return RX_OK;
}

static void unmap_file(mapped *m)
{
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
}

static rx_status put_metadata(rx_gguf_writer *w, const rx_llama2c_config *c, const token *v,
                              uint32_t n_ctx)
{
    rx_str *texts = malloc((size_t)c->vocab_size * sizeof *texts);
    float *scores = malloc((size_t)c->vocab_size * sizeof *scores);
    int32_t *types = malloc((size_t)c->vocab_size * sizeof *types);
    rx_status s = texts && scores && types ? RX_OK : rx_error(RX_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; s == RX_OK && i < c->vocab_size; i++) {
        texts[i] = (rx_str){v[i].text, v[i].len};
        scores[i] = v[i].score;
        types[i] = v[i].type;
    }
    uint32_t n_embd = (uint32_t)c->dim, head = n_embd / (uint32_t)c->n_heads;
    /* the keys and order of convert-llama2c-to-ggml's save_as_llama_model */
    if (s == RX_OK)
        s = rx_gguf_set_arr_str(w, "tokenizer.ggml.tokens", texts, (uint64_t)c->vocab_size);
    if (s == RX_OK)
        s = rx_gguf_set_arr(w, "tokenizer.ggml.scores", RX_GGUF_F32, scores,
                            (uint64_t)c->vocab_size);
    if (s == RX_OK)
        s = rx_gguf_set_arr(w, "tokenizer.ggml.token_type", RX_GGUF_I32, types,
                            (uint64_t)c->vocab_size);
    if (s == RX_OK) s = rx_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    if (s == RX_OK) s = rx_gguf_set_str(w, "general.architecture", "llama");
    if (s == RX_OK) s = rx_gguf_set_str(w, "general.name", "llama");
    if (s == RX_OK) s = rx_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "tokenizer.ggml.seperator_token_id", UINT32_MAX);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "tokenizer.ggml.padding_token_id", UINT32_MAX);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.context_length", n_ctx);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.embedding_length", n_embd);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    if (s == RX_OK)
        s = rx_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    if (s == RX_OK) s = rx_gguf_set_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    if (s == RX_OK)
        s = rx_gguf_set_u32(w, "llama.rope.dimension_count", head < N_ROT_MAX ? head : N_ROT_MAX);
    if (s == RX_OK) s = rx_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    free(texts);
    free(scores);
    free(types);
    return s;
}

typedef struct {
    char name[64];
    uint32_t n_dims;
    int64_t ne[2];
    const float *data; /* into the checkpoint mapping */
} out_tensor;

/* The tensors in convert-llama2c-to-ggml's order, pointing into the checkpoint. */
static size_t layout(const rx_llama2c_config *c, const float *w, out_tensor *t)
{
    sizes z;
    sizes_of(c, &z); /* checked by rx_llama2c_parse_header */
    int64_t dim = c->dim, hid = c->hidden_dim, L = c->n_layers, vocab = c->vocab_size;
    int64_t kv_dim = dim / c->n_heads * c->n_kv_heads;
    const float *embd = w, *rms_att = embd + z.embd, *wq = rms_att + z.norm_l;
    const float *wk = wq + z.attn_q, *wv = wk + z.attn_kv, *wo = wv + z.attn_kv;
    const float *rms_ffn = wo + z.attn_q, *w1 = rms_ffn + z.norm_l, *w2 = w1 + z.ffn;
    const float *w3 = w2 + z.ffn, *rms_final = w3 + z.ffn, *wcls = rms_final + dim + z.freq;
    size_t n = 0;
    t[n++] = (out_tensor){"token_embd.weight", 2, {dim, vocab}, embd};
    t[n++] = (out_tensor){"output_norm.weight", 1, {dim, 1}, rms_final};
    t[n++] = (out_tensor){"output.weight", 2, {dim, vocab}, c->shared_classifier ? embd : wcls};
    for (int64_t l = 0; l < L; l++) {
        const struct {
            const char *fmt;
            uint32_t n_dims;
            int64_t ne0, ne1;
            const float *base;
        } parts[] = {
            {"blk.%lld.attn_q.weight", 2, dim, dim, wq},
            {"blk.%lld.attn_k.weight", 2, dim, kv_dim, wk},
            {"blk.%lld.attn_v.weight", 2, dim, kv_dim, wv},
            {"blk.%lld.attn_output.weight", 2, dim, dim, wo},
            {"blk.%lld.attn_norm.weight", 1, dim, 1, rms_att},
            {"blk.%lld.ffn_gate.weight", 2, dim, hid, w1},
            {"blk.%lld.ffn_down.weight", 2, hid, dim, w2},
            {"blk.%lld.ffn_up.weight", 2, dim, hid, w3},
            {"blk.%lld.ffn_norm.weight", 1, dim, 1, rms_ffn},
        };
        for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
            out_tensor *o = &t[n++];
            snprintf(o->name, sizeof o->name, parts[k].fmt, (long long)l);
            o->n_dims = parts[k].n_dims;
            o->ne[0] = parts[k].ne0;
            o->ne[1] = parts[k].ne1;
            o->data = parts[k].base + l * parts[k].ne0 * parts[k].ne1;
        }
    }
    return n;
}

static rx_status write_model(const rx_llama2c_config *c, const mapped *model, const token *vocab,
                             const char *out_path, const rx_llama2c_params *p)
{
    size_t cap = 3 + 9 * (size_t)c->n_layers, n;
    out_tensor *t = malloc(cap * sizeof *t);
    rx_gguf_writer *w = NULL;
    rx_out_file out = {0};
    rx_status s = t ? rx_gguf_writer_create(&w) : rx_error(RX_ERR_NOMEM, "out of memory");
    if (s == RX_OK) s = put_metadata(w, c, vocab, p->n_ctx ? p->n_ctx : DEFAULT_N_CTX);
    n = s == RX_OK ? layout(c, (const float *)(model->data + HEADER_BYTES), t) : 0;
    for (size_t i = 0; i < n && s == RX_OK; i++)
        s = rx_gguf_add_tensor(w, t[i].name, RX_TYPE_F32, t[i].n_dims, t[i].ne, NULL);
    if (s == RX_OK) s = rx_quantize__out_open(&out, out_path);
    if (s == RX_OK) s = rx_gguf_writer_begin(w, out.f);
    for (size_t i = 0; i < n && s == RX_OK; i++) {
        uint64_t bytes = 4 * (uint64_t)t[i].ne[0] * (uint64_t)t[i].ne[1];
        s = rx_gguf_writer_write_data(w, out.f, (int64_t)i, t[i].data);
        if (s == RX_OK && p->progress)
            p->progress(p->progress_user, (int64_t)i + 1, (int64_t)n, t[i].name, RX_TYPE_F32,
                        RX_TYPE_F32, bytes, bytes);
    }
    if (s == RX_OK) {
        s = rx_quantize__out_commit(&out);
    } else if (out.f) {
        rx_error_context(s, "%s: ", out_path);
        rx_quantize__out_abort(&out);
    }
    rx_gguf_writer_destroy(w);
    free(t);
    return s;
}

rx_status rx_llama2c_convert(const char *model_path, const char *tokenizer_path,
                             const char *out_path, const rx_llama2c_params *p)
{
    mapped model = {0}, tok = {0};
    rx_llama2c_config c;
    token *vocab = NULL;
    rx_status s = map_file(model_path, &model);
    if (s == RX_OK && (s = rx_llama2c_parse_header(model.data, model.size, &c)) != RX_OK)
        rx_error_context(s, "%s: ", model_path);
    if (s == RX_OK) s = map_file(tokenizer_path, &tok);
    if (s == RX_OK && (s = rx_llama2c_check_vocab(tok.data, tok.size, c.vocab_size)) != RX_OK)
        rx_error_context(s, "%s: ", tokenizer_path);
    if (s == RX_OK) s = load_vocab(tok.data, c.vocab_size, &vocab);
    if (s == RX_OK) s = write_model(&c, &model, vocab, out_path, p);
    if (vocab) free_vocab(vocab, c.vocab_size);
    unmap_file(&tok);
    unmap_file(&model);
    return s;
}
