/* GGUF writer: collects metadata and tensor descriptions, then streams header, tensor infos
 * and aligned tensor data. Values are serialised when set, so writing is a plain copy. */
#include "reflex/gguf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checked.h"

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
    uint64_t data_size; /* bytes of the data section so far, padded */
    int64_t next_data;  /* index of the next tensor whose data is due */
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

static uint32_t alignment(const rx_gguf_writer *w)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, "general.alignment") == 0 && w->kv[i].type == RX_GGUF_U32) {
            uint32_t a;
            memcpy(&a, w->kv[i].payload, 4);
            if (a && (a & (a - 1)) == 0) return a;
        }
    return RX_GGUF_DEFAULT_ALIGNMENT;
}

/* Takes ownership of payload (even on failure). */
static rx_status set_kv(rx_gguf_writer *w, const char *key, uint32_t type, uint8_t *payload,
                        size_t size)
{
    if (!payload) return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
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
    const char *key = rx_gguf_key(g, i);
    rx_gguf_type t = rx_gguf_kv_type(g, i);
    if (t == RX_GGUF_STRING) {
        rx_str s;
        rx_gguf_get_str(g, key, &s);
        uint8_t *p = malloc((size_t)s.len + 8);
        if (p) put_str(p, s.ptr, s.len);
        return set_kv(w, key, RX_GGUF_STRING, p, (size_t)s.len + 8);
    }
    if (t != RX_GGUF_ARRAY) {
        union {
            uint64_t u;
            int64_t i;
            double d;
            float f;
            bool b;
        } v;
        switch (t) {
        case RX_GGUF_F32:
            rx_gguf_get_f32(g, key, &v.f);
            return set_scalar(w, key, t, &v.f);
        case RX_GGUF_F64: {
            float f;
            rx_gguf_get_f32(g, key, &f);
            v.d = f;
            return set_scalar(w, key, t, &v.d);
        }
        case RX_GGUF_BOOL:
            rx_gguf_get_bool(g, key, &v.b);
            return rx_gguf_set_bool(w, key, v.b);
        case RX_GGUF_U8:
        case RX_GGUF_U16:
        case RX_GGUF_U32:
        case RX_GGUF_U64:
            rx_gguf_get_u64(g, key, &v.u);
            return set_scalar(w, key, t, &v.u); /* little-endian: low bytes first */
        default:
            rx_gguf_get_i64(g, key, &v.i);
            return set_scalar(w, key, t, &v.i);
        }
    }
    rx_gguf_type et;
    uint64_t n;
    rx_gguf_get_arr(g, key, &et, &n);
    if (et == RX_GGUF_STRING) {
        rx_str *v = malloc((size_t)(n ? n : 1) * sizeof *v);
        if (!v) return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
        for (uint64_t k = 0; k < n; k++)
            v[k] = rx_gguf_arr_str(g, i, k);
        rx_status s = rx_gguf_set_arr_str(w, key, v, n);
        free(v);
        return s;
    }
    size_t es = elem_size[et];
    uint8_t *buf = malloc((size_t)(n ? n : 1) * es);
    if (!buf) return rx_error(RX_ERR_NOMEM, "gguf writer: out of memory");
    for (uint64_t k = 0; k < n; k++) {
        if (et == RX_GGUF_F32) {
            float f = rx_gguf_arr_f32(g, i, k);
            memcpy(buf + k * es, &f, 4);
        } else if (et == RX_GGUF_F64) {
            double d = rx_gguf_arr_f32(g, i, k);
            memcpy(buf + k * es, &d, 8);
        } else {
            int64_t x = rx_gguf_arr_int(g, i, k);
            memcpy(buf + k * es, &x, es);
        }
    }
    rx_status s = rx_gguf_set_arr(w, key, et, buf, n);
    free(buf);
    return s;
}

rx_status rx_gguf_add_tensor(rx_gguf_writer *w, const char *name, rx_type type, uint32_t n_dims,
                             const int64_t *ne, const void *data)
{
    const rx_type_info *info = rx_type_get((uint32_t)type);
    if (!info || n_dims == 0 || n_dims > RX_GGUF_MAX_DIMS || strlen(name) == 0 || strlen(name) > 63)
        return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s': bad type, dims or name",
                        name);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s' added twice", name);
    wtensor t = {.type = type, .n_dims = n_dims, .data = data};
    uint64_t bytes = 1;
    for (uint32_t d = 0; d < RX_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] <= 0)
            return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s': bad dimension", name);
        if (d > 0 && !rx_mul_u64(bytes, (uint64_t)t.ne[d], &bytes))
            return rx_error(RX_ERR_RANGE, "gguf writer: tensor '%s' is too large", name);
    }
    if (t.ne[0] % info->block_size)
        return rx_error(RX_ERR_INVALID_ARG,
                        "gguf writer: tensor '%s': row length %lld is not a multiple of %u", name,
                        (long long)t.ne[0], info->block_size);
    if (!rx_mul_u64(bytes, rx_row_size(type, t.ne[0]), &bytes) || bytes > SIZE_MAX)
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

static rx_status pad(FILE *f, uint64_t written, uint32_t align)
{
    static const uint8_t zeros[256];
    uint64_t target;
    if (!rx_align_u64(written, align, &target))
        return rx_error(RX_ERR_RANGE, "gguf writer: file offset overflows");
    rx_status s = RX_OK;
    for (uint64_t left = target - written; left && s == RX_OK;) {
        size_t n = left > sizeof zeros ? sizeof zeros : (size_t)left;
        s = put(f, zeros, n);
        left -= n;
    }
    return s;
}

rx_status rx_gguf_writer_begin(rx_gguf_writer *w, FILE *f)
{
    uint32_t align = alignment(w), version = 3;
    uint64_t n_t = w->n_t, n_kv = w->n_kv, written = 24, off = 0;
    rx_status s = put(f, "GGUF", 4);
    if (s == RX_OK) s = put(f, &version, 4);
    if (s == RX_OK) s = put(f, &n_t, 8);
    if (s == RX_OK) s = put(f, &n_kv, 8);
    for (size_t i = 0; i < w->n_kv && s == RX_OK; i++) {
        uint64_t len = strlen(w->kv[i].key);
        s = put(f, &len, 8);
        if (s == RX_OK) s = put(f, w->kv[i].key, (size_t)len);
        if (s == RX_OK) s = put(f, &w->kv[i].type, 4);
        if (s == RX_OK) s = put(f, w->kv[i].payload, w->kv[i].payload_size);
        written += 8 + len + 4 + w->kv[i].payload_size;
    }
    for (size_t i = 0; i < w->n_t && s == RX_OK; i++) {
        wtensor *t = &w->t[i];
        uint64_t len = strlen(t->name);
        uint32_t type = t->type;
        t->offset = off;
        s = put(f, &len, 8);
        if (s == RX_OK) s = put(f, t->name, (size_t)len);
        if (s == RX_OK) s = put(f, &t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims && s == RX_OK; d++)
            s = put(f, &t->ne[d], 8);
        if (s == RX_OK) s = put(f, &type, 4);
        if (s == RX_OK) s = put(f, &t->offset, 8);
        written += 8 + len + 4 + 8ull * t->n_dims + 4 + 8;
        rx_align_u64(off + t->nbytes, align, &off);
    }
    if (s == RX_OK && w->n_t) s = pad(f, written, align);
    w->next_data = 0;
    return s;
}

rx_status rx_gguf_writer_write_data(rx_gguf_writer *w, FILE *f, int64_t tensor_index,
                                    const void *data)
{
    if (tensor_index != w->next_data || (size_t)tensor_index >= w->n_t)
        return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor %lld written out of order",
                        (long long)tensor_index);
    const wtensor *t = &w->t[tensor_index];
    rx_status s = put(f, data, t->nbytes);
    if (s == RX_OK && (size_t)tensor_index + 1 < w->n_t)
        s = pad(f, t->offset + t->nbytes, alignment(w));
    if (s == RX_OK) w->next_data++;
    return s;
}

static rx_status write_all(rx_gguf_writer *w, FILE *f)
{
    rx_status s = rx_gguf_writer_begin(w, f);
    for (size_t i = 0; i < w->n_t && s == RX_OK; i++) {
        if (!w->t[i].data)
            return rx_error(RX_ERR_INVALID_ARG, "gguf writer: tensor '%s' has no data",
                            w->t[i].name);
        s = rx_gguf_writer_write_data(w, f, (int64_t)i, w->t[i].data);
    }
    return s;
}

rx_status rx_gguf_writer_write_file(rx_gguf_writer *w, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) return rx_error(RX_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    rx_status s = write_all(w, f);
    if (fclose(f) != 0 && s == RX_OK)
        s = rx_error(RX_ERR_IO, "%s: write failed: %s", path, strerror(errno));
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
    fclose(f);
    if (s != RX_OK) {
        free(p);
        return s;
    }
    *buf = p;
    *size = n;
    return RX_OK;
}
