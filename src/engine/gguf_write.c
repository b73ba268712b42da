/* GGUF writer: collects metadata and tensor descriptions, then streams header, tensor infos
 * and aligned tensor data. Values are serialised when set, so writing is a plain copy. */
#include "reflex/gguf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checked.h"
#include "engine/gguf_internal.h"

typedef struct {
    char *key; /* owned */
    uint32_t type;
    uint8_t *payload; /* owned: the value exactly as it appears after the type field */
    size_t payload_size;
} wkv;

typedef struct {
    char *name; /* owned */
    rx_type type;
    uint32_t n_dims;
    int64_t ne[RX_GGUF_MAX_DIMS];
    const void *data; /* borrowed until written */
    size_t nbytes;
    uint64_t offset;
} wtensor;

struct rx_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    uint32_t align;   /* of the data section, fixed by rx_gguf_writer_begin */
    bool streaming;   /* between begin and the last tensor's data: the layout is frozen */
    size_t next_data; /* index of the next tensor whose data is due */
};

static const size_t elem_size[RX_GGUF_TYPE_COUNT] = {
    [RX_GGUF_U8] = 1,  [RX_GGUF_I8] = 1,  [RX_GGUF_U16] = 2, [RX_GGUF_I16] = 2,
    [RX_GGUF_U32] = 4, [RX_GGUF_I32] = 4, [RX_GGUF_F32] = 4, [RX_GGUF_BOOL] = 1,
    [RX_GGUF_U64] = 8, [RX_GGUF_I64] = 8, [RX_GGUF_F64] = 8,
};

rx_status rx_gguf_writer_create(rx_gguf_writer **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? RX_OK : rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
}

void rx_gguf_writer_destroy(rx_gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].payload);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* general.alignment, if set, must be one the reader accepts. */
static rx_status file_alignment(const rx_gguf_writer *w, uint32_t *out)
{
    *out = RX_GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0) continue;
        uint32_t a = 0;
        if (w->kv[i].type == RX_GGUF_U32) memcpy(&a, w->kv[i].payload, 4);
        if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20))
            return rx_error(RX_ERR_INVALID_ARG,
                            "gguf writer: general.alignment must be a u32 power of two in [1, "
                            "2^20] (type %u, value %u)",
                            w->kv[i].type, a);
        *out = a;
    }
    return RX_OK;
}

/* Takes ownership of payload (even on failure). */
static rx_status set_kv(rx_gguf_writer *w, const char *key, uint32_t type, uint8_t *payload,
                        size_t size)
{
    size_t key_len = strlen(key);
    rx_status s = RX_OK;
    if (!payload)
        s = rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
    else if (w->streaming)
        s = rx_error(RX_ERR_INVALID_ARG, "gguf writer: key '%.80s' set after rx_gguf_writer_begin",
                     key);
    else if (key_len == 0 || key_len > 65535)
        s = rx_error(RX_ERR_INVALID_ARG, "gguf writer: key length %zu is not in [1, 65535]",
                     key_len);
    if (s != RX_OK) {
        free(payload);
        return s;
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].payload);
            w->kv[i] = (wkv){w->kv[i].key, type, payload, size};
            return RX_OK;
        }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(payload);
            return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
        }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(payload);
        return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
    }
    w->kv[w->n_kv++] = (wkv){k, type, payload, size};
    return RX_OK;
}

static rx_status set_scalar(rx_gguf_writer *w, const char *key, uint32_t type, const void *v)
{
    uint8_t *p = malloc(elem_size[type]);
    if (p) memcpy(p, v, elem_size[type]);
    return set_kv(w, key, type, p, elem_size[type]);
}

rx_status rx_gguf_set_u32(rx_gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, RX_GGUF_U32, &v);
}
rx_status rx_gguf_set_i32(rx_gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, RX_GGUF_I32, &v);
}
rx_status rx_gguf_set_u64(rx_gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, RX_GGUF_U64, &v);
}
rx_status rx_gguf_set_f32(rx_gguf_writer *w, const char *key, float v)
{
    return set_scalar(w, key, RX_GGUF_F32, &v);
}

rx_status rx_gguf_set_bool(rx_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, RX_GGUF_BOOL, &b);
}

static uint8_t *put_str(uint8_t *p, const char *s, uint64_t len)
{
    memcpy(p, &len, 8);
    memcpy(p + 8, s, (size_t)len);
    return p + 8 + len;
}

rx_status rx_gguf_set_str(rx_gguf_writer *w, const char *key, const char *v)
{
    uint64_t len = strlen(v);
    uint8_t *p = malloc((size_t)len + 8);
    if (p) put_str(p, v, len);
    return set_kv(w, key, RX_GGUF_STRING, p, (size_t)len + 8);
}

rx_status rx_gguf_set_arr(rx_gguf_writer *w, const char *key, rx_gguf_type elem_type,
                          const void *data, uint64_t n)
{
    size_t bytes;
    if (elem_type >= RX_GGUF_TYPE_COUNT || !elem_size[elem_type])
        return rx_error(RX_ERR_INVALID_ARG, "gguf writer: key '%s': bad array element type %d", key,
                        (int)elem_type);
    if (!rx_mul_size((size_t)n, elem_size[elem_type], &bytes) || !rx_add_size(bytes, 12, &bytes))
        return rx_error(RX_ERR_RANGE, "gguf writer: key '%s': array too large", key);
    uint8_t *p = malloc(bytes);
    if (p) {
        uint32_t t = elem_type;
        memcpy(p, &t, 4);
        memcpy(p + 4, &n, 8);
        if (n) memcpy(p + 12, data, bytes - 12);
    }
    return set_kv(w, key, RX_GGUF_ARRAY, p, bytes);
}

rx_status rx_gguf_set_arr_str(rx_gguf_writer *w, const char *key, const rx_str *v, uint64_t n)
{
    size_t bytes = 12;
    for (uint64_t i = 0; i < n; i++)
        if (!rx_add_size(bytes, 8 + (size_t)v[i].len, &bytes))
            return rx_error(RX_ERR_RANGE, "gguf writer: key '%s': array too large", key);
    uint8_t *p = malloc(bytes);
    if (p) {
        uint32_t t = RX_GGUF_STRING;
        memcpy(p, &t, 4);
        memcpy(p + 4, &n, 8);
        uint8_t *q = p + 12;
        for (uint64_t i = 0; i < n; i++)
            q = put_str(q, v[i].ptr, v[i].len);
    }
    return set_kv(w, key, RX_GGUF_ARRAY, p, bytes);
}

rx_status rx_gguf_copy_kv(rx_gguf_writer *w, const rx_gguf *g, int64_t i)
{
    const uint8_t *src;
    size_t size;
    rx_gguf__value_bytes(g, i, &src, &size);
    uint8_t *p = malloc(size ? size : 1);
    if (p) memcpy(p, src, size);
    return set_kv(w, rx_gguf_key(g, i), rx_gguf_kv_type(g, i), p, size);
}

rx_status rx_gguf_add_tensor(rx_gguf_writer *w, const char *name, rx_type type, uint32_t n_dims,
                             const int64_t *ne, const void *data)
{
    const rx_type_info *info = rx_type_get((uint32_t)type);
    size_t name_len = strlen(name);
    if (w->streaming)
        return rx_error(RX_ERR_INVALID_ARG,
                        "gguf writer: tensor '%s' added after rx_gguf_writer_begin", name);
    if (!info || n_dims == 0 || n_dims > RX_GGUF_MAX_DIMS || name_len == 0 || name_len > 63)
        return rx_error(RX_ERR_INVALID_ARG,
                        "gguf writer: tensor '%s': type %d, %u dims or name length %zu is bad",
                        name, (int)type, n_dims, name_len);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s' added twice", name);
    wtensor t = {.type = type, .n_dims = n_dims, .data = data};
    for (uint32_t d = 0; d < RX_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] <= 0)
            return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s': dimension %u is %lld",
                            name, d, (long long)t.ne[d]);
    }
    if (t.ne[0] % info->block_size)
        return rx_error(RX_ERR_INVALID_ARG,
                        "gguf writer: tensor '%s': row length %lld is not a multiple of %u", name,
                        (long long)t.ne[0], info->block_size);
    /* the same checked products the reader applies, so every tensor added can be read back */
    uint64_t elems = 1, bytes = (uint64_t)t.ne[0] / info->block_size;
    bool ok = rx_mul_u64(bytes, info->type_size, &bytes);
    for (uint32_t d = 0; d < RX_GGUF_MAX_DIMS && ok; d++)
        ok = rx_mul_u64(elems, (uint64_t)t.ne[d], &elems) && elems <= INT64_MAX &&
             (d == 0 || rx_mul_u64(bytes, (uint64_t)t.ne[d], &bytes));
    if (!ok || bytes > SIZE_MAX)
        return rx_error(RX_ERR_RANGE, "gguf writer: tensor '%s' is too large", name);
    t.nbytes = (size_t)bytes;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = realloc(w->t, cap * sizeof *nt);
        if (!nt) return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
        w->t = nt;
        w->cap_t = cap;
    }
    if (!(t.name = strdup(name))) return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
    w->t[w->n_t++] = t;
    return RX_OK;
}

static rx_status put(FILE *f, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, f) != n)
        return rx_error(RX_ERR_IO, "gguf writer: write failed: %s", strerror(errno));
    return RX_OK;
}

/* Zeros from `written` up to the next multiple of align (no overflow: begin checked sizes). */
static rx_status pad(FILE *f, uint64_t written, uint32_t align)
{
    static const uint8_t zeros[256];
    uint64_t left = (align - written % align) % align;
    rx_status s = RX_OK;
    while (left && s == RX_OK) {
        size_t n = left > sizeof zeros ? sizeof zeros : (size_t)left;
        s = put(f, zeros, n);
        left -= n;
    }
    return s;
}

/* Lays out the data section: each tensor at the next multiple of the alignment. */
static rx_status place(rx_gguf_writer *w)
{
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        if (!rx_add_u64(off, w->t[i].nbytes, &off) || !rx_align_u64(off, w->align, &off))
            return rx_error(RX_ERR_RANGE, "gguf writer: the data section overflows at '%s'",
                            w->t[i].name);
    }
    return RX_OK;
}

static rx_status put_kv(FILE *f, const wkv *kv)
{
    uint64_t len = strlen(kv->key);
    rx_status s = put(f, &len, 8);
    if (s == RX_OK) s = put(f, kv->key, (size_t)len);
    if (s == RX_OK) s = put(f, &kv->type, 4);
    if (s == RX_OK) s = put(f, kv->payload, kv->payload_size);
    return s;
}

static rx_status put_tensor_info(FILE *f, const wtensor *t)
{
    uint64_t len = strlen(t->name);
    uint32_t type = t->type;
    rx_status s = put(f, &len, 8);
    if (s == RX_OK) s = put(f, t->name, (size_t)len);
    if (s == RX_OK) s = put(f, &t->n_dims, 4);
    for (uint32_t d = 0; d < t->n_dims && s == RX_OK; d++)
        s = put(f, &t->ne[d], 8);
    if (s == RX_OK) s = put(f, &type, 4);
    if (s == RX_OK) s = put(f, &t->offset, 8);
    return s;
}

/* A file without tensors ends after its metadata, unpadded, as llama.cpp's vocab files do. */
rx_status rx_gguf_writer_begin(rx_gguf_writer *w, FILE *f)
{
    w->streaming = false;
    rx_status s = file_alignment(w, &w->align);
    if (s == RX_OK) s = place(w);
    if (s != RX_OK) return s;
    uint32_t version = 3;
    uint64_t n_t = w->n_t, n_kv = w->n_kv;
    uint64_t written = 24; /* counted rather than asked of f, which may be a pipe */
    s = put(f, "GGUF", 4);
    if (s == RX_OK) s = put(f, &version, 4);
    if (s == RX_OK) s = put(f, &n_t, 8);
    if (s == RX_OK) s = put(f, &n_kv, 8);
    for (size_t i = 0; i < w->n_kv && s == RX_OK; i++) {
        s = put_kv(f, &w->kv[i]);
        written += 8 + strlen(w->kv[i].key) + 4 + w->kv[i].payload_size;
    }
    for (size_t i = 0; i < w->n_t && s == RX_OK; i++) {
        s = put_tensor_info(f, &w->t[i]);
        written += 8 + strlen(w->t[i].name) + 4 + 8ull * w->t[i].n_dims + 4 + 8;
    }
    if (s == RX_OK && w->n_t) s = pad(f, written, w->align);
    if (s != RX_OK) return s;
    w->next_data = 0;
    w->streaming = w->n_t > 0;
    return RX_OK;
}

/* Every tensor is padded to the alignment, the last one too, as llama.cpp writes them. */
rx_status rx_gguf_writer_write_data(rx_gguf_writer *w, FILE *f, int64_t tensor_index,
                                    const void *data)
{
    if (!w->streaming)
        return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor %lld written %s",
                        (long long)tensor_index,
                        w->next_data ? "after the last tensor" : "before rx_gguf_writer_begin");
    if (tensor_index < 0 || (size_t)tensor_index != w->next_data)
        return rx_error(RX_ERR_INVALID_ARG,
                        "gguf writer: tensor %lld written out of order (tensor %zu is due)",
                        (long long)tensor_index, w->next_data);
    const wtensor *t = &w->t[tensor_index];
    if (!data) return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s' has no data", t->name);
    rx_status s = put(f, data, t->nbytes);
    if (s == RX_OK) s = pad(f, t->nbytes, w->align);
    if (s != RX_OK) return s;
    if (++w->next_data == w->n_t) w->streaming = false;
    return RX_OK;
}

static rx_status write_all(rx_gguf_writer *w, FILE *f)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (!w->t[i].data)
            return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s' has no data",
                            w->t[i].name);
    rx_status s = rx_gguf_writer_begin(w, f);
    for (size_t i = 0; i < w->n_t && s == RX_OK; i++)
        s = rx_gguf_writer_write_data(w, f, (int64_t)i, w->t[i].data);
    return s;
}

rx_status rx_gguf_writer_write_file(rx_gguf_writer *w, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) return rx_error(RX_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    rx_status s = write_all(w, f);
    if (fclose(f) != 0 && s == RX_OK)
        s = rx_error(RX_ERR_IO, "gguf writer: write failed: %s", strerror(errno));
    if (s != RX_OK) {
        unlink(path);
        rx_error_context(s, "%s: ", path);
    }
    return s;
}

rx_status rx_gguf_writer_to_memory(rx_gguf_writer *w, void **buf, size_t *size)
{
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f) return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
    rx_status s = write_all(w, f);
    if (fclose(f) != 0 && s == RX_OK) s = rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
    if (s != RX_OK) {
        free(p);
        return s;
    }
    *buf = p;
    *size = n;
    return RX_OK;
}
