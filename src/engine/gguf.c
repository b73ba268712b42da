/* GGUF reader: maps a file (or borrows a buffer) and validates every field before use.
 * Parsing runs over a cursor that knows how many bytes remain; counts are bounded by those
 * bytes before anything is allocated, so a hostile header cannot cause a huge allocation,
 * and every failure names the field and the byte offset where it was found. */
#include "reflex/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checked.h"
#include "engine/gguf_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF is read in host byte order");

#define MAX_NAME_LEN 63          /* ggml's GGML_MAX_NAME less the terminator */
#define MAX_ALIGNMENT (1u << 20) /* larger would only waste the file's bytes */

typedef struct {
    char *key;     /* owned, NUL-terminated */
    size_t key_at; /* file offset of the key's length field, for messages */
    rx_gguf_type type;
    rx_gguf_type arr_type; /* element type when type is ARRAY */
    uint64_t n;            /* element count when type is ARRAY */
    size_t value_at;       /* file offset of the scalar value or the first element */
    size_t *str_at;        /* owned: offsets of each string of a string array */
} gguf_kv;

struct rx_gguf {
    const uint8_t *data; /* the mapping or the borrowed buffer */
    size_t size;
    bool mapped;
    uint32_t version;
    uint32_t alignment;
    size_t data_offset;
    int64_t n_kv;
    gguf_kv *kv; /* owned, n_kv entries */
    int64_t n_tensors;
    rx_gguf_tensor *tensors; /* owned; names owned */
    struct tensor_pos *pos;  /* owned, n_tensors entries: where each info sits, for messages */
};

typedef struct tensor_pos {
    size_t name_at;   /* file offset of the tensor info (its name's length field) */
    size_t offset_at; /* file offset of its data-offset field */
} tensor_pos;

typedef struct {
    const uint8_t *base;
    size_t pos, size;
} cursor;

static const size_t scalar_size[RX_GGUF_TYPE_COUNT] = {
    [RX_GGUF_U8] = 1,  [RX_GGUF_I8] = 1,  [RX_GGUF_U16] = 2, [RX_GGUF_I16] = 2,
    [RX_GGUF_U32] = 4, [RX_GGUF_I32] = 4, [RX_GGUF_F32] = 4, [RX_GGUF_BOOL] = 1,
    [RX_GGUF_U64] = 8, [RX_GGUF_I64] = 8, [RX_GGUF_F64] = 8,
};

static const char *const type_names[RX_GGUF_TYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

static size_t remaining(const cursor *c)
{
    return c->size - c->pos;
}

/* Every message reads "gguf: [<owner> ]<field> at byte <n>: <what>", where owner names the
 * key or tensor being read (or is empty in the header). */
static rx_status need(const cursor *c, size_t n, const char *owner, const char *field)
{
    if (remaining(c) < n)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: %s%s at byte %zu: needs %zu bytes but the file ends after %zu",
                        owner, field, c->pos, n, remaining(c));
    return RX_OK;
}

static rx_status read_u32(cursor *c, const char *owner, const char *field, uint32_t *v)
{
    rx_status s = need(c, 4, owner, field);
    if (s != RX_OK) return s;
    memcpy(v, c->base + c->pos, 4);
    c->pos += 4;
    return RX_OK;
}

static rx_status read_u64(cursor *c, const char *owner, const char *field, uint64_t *v)
{
    rx_status s = need(c, 8, owner, field);
    if (s != RX_OK) return s;
    memcpy(v, c->base + c->pos, 8);
    c->pos += 8;
    return RX_OK;
}

/* A string: u64 length then bytes. Returns the offset of the bytes in *at. */
static rx_status read_str(cursor *c, const char *owner, const char *field, size_t *at,
                          uint64_t *len)
{
    size_t start = c->pos;
    rx_status s = read_u64(c, owner, field, len);
    if (s != RX_OK) return s;
    if (*len > remaining(c))
        return rx_error(RX_ERR_FORMAT,
                        "gguf: %s%s at byte %zu: string length %" PRIu64
                        " exceeds the %zu bytes left in the file",
                        owner, field, start, *len, remaining(c));
    *at = c->pos;
    c->pos += (size_t)*len;
    return RX_OK;
}

static char *dup_str(const uint8_t *p, uint64_t len)
{
    char *s = malloc((size_t)len + 1);
    if (s) {
        memcpy(s, p, (size_t)len);
        s[len] = '\0';
    }
    return s;
}

static rx_status parse_header(cursor *c, rx_gguf *g, uint64_t *n_tensors, uint64_t *n_kv)
{
    rx_status s = need(c, 4, "", "magic");
    if (s != RX_OK) return s;
    if (memcmp(c->base, "GGUF", 4) != 0)
        return rx_error(RX_ERR_FORMAT, "gguf: magic at byte 0: expected \"GGUF\", not a GGUF file");
    c->pos = 4;
    size_t at = c->pos;
    if ((s = read_u32(c, "", "version", &g->version)) != RX_OK) return s;
    if (g->version < 2 || g->version > 3)
        return rx_error(RX_ERR_UNSUPPORTED,
                        "gguf: version at byte %zu: %u is not supported (2 or 3)", at, g->version);
    at = c->pos;
    if ((s = read_u64(c, "", "n_tensors", n_tensors)) != RX_OK) return s;
    size_t n_tensors_at = at;
    at = c->pos;
    if ((s = read_u64(c, "", "n_kv", n_kv)) != RX_OK) return s;
    /* The smallest pair is 14 bytes (key len, 1 key byte, type, 1 value byte) and the smallest
     * tensor info 33 (name len, 1 name byte, n_dims, 1 dim, type, offset). Bounding the counts
     * by the bytes left keeps the tables allocated below proportional to the file. */
    if (*n_kv > remaining(c) / 14)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: n_kv at byte %zu: %" PRIu64 " cannot fit in the %zu bytes left", at,
                        *n_kv, remaining(c));
    if (*n_tensors > (remaining(c) - *n_kv * 14) / 33)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: n_tensors at byte %zu: %" PRIu64
                        " cannot fit in the %zu bytes left after %" PRIu64 " keys",
                        n_tensors_at, *n_tensors, remaining(c), *n_kv);
    return RX_OK;
}

static rx_status parse_array(cursor *c, gguf_kv *kv, const char *owner)
{
    size_t at = c->pos;
    uint32_t t;
    rx_status s = read_u32(c, owner, "array element type", &t);
    if (s != RX_OK) return s;
    if (t >= RX_GGUF_TYPE_COUNT || t == RX_GGUF_ARRAY)
        return rx_error(RX_ERR_FORMAT, "gguf: %sarray element type at byte %zu: %u is %s", owner,
                        at, t, t == RX_GGUF_ARRAY ? "a nested array" : "not a type");
    kv->arr_type = (rx_gguf_type)t;
    at = c->pos;
    if ((s = read_u64(c, owner, "array length", &kv->n)) != RX_OK) return s;
    kv->value_at = c->pos;
    if (kv->arr_type != RX_GGUF_STRING) {
        uint64_t bytes;
        if (!rx_mul_u64(kv->n, scalar_size[kv->arr_type], &bytes) || bytes > remaining(c))
            return rx_error(RX_ERR_FORMAT,
                            "gguf: %sarray length at byte %zu: %" PRIu64
                            " x %s does not fit in the %zu bytes left",
                            owner, at, kv->n, type_names[kv->arr_type], remaining(c));
        if (kv->arr_type == RX_GGUF_BOOL)
            for (uint64_t i = 0; i < kv->n; i++)
                if (c->base[c->pos + i] > 1)
                    return rx_error(RX_ERR_FORMAT,
                                    "gguf: %sbool element %" PRIu64
                                    " at byte %zu: value %u is not 0 or 1",
                                    owner, i, c->pos + (size_t)i, c->base[c->pos + i]);
        c->pos += (size_t)bytes;
        return RX_OK;
    }
    if (kv->n > remaining(c) / 8)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: %sarray length at byte %zu: %" PRIu64
                        " strings cannot fit in the %zu bytes left",
                        owner, at, kv->n, remaining(c));
    kv->str_at = malloc((size_t)(kv->n ? kv->n : 1) * sizeof *kv->str_at);
    if (!kv->str_at) return rx_error(RX_ERR_NOMEM, "gguf: %sout of memory", owner);
    for (uint64_t i = 0; i < kv->n; i++) {
        size_t p;
        uint64_t len;
        kv->str_at[i] = c->pos;
        if ((s = read_str(c, owner, "array string", &p, &len)) != RX_OK) return s;
    }
    return RX_OK;
}

static rx_status parse_kv(cursor *c, gguf_kv *kv, uint64_t index)
{
    char owner[96];
    size_t at = c->pos, p;
    uint64_t len;
    snprintf(owner, sizeof owner, "key %" PRIu64 " ", index);
    kv->key_at = at;
    rx_status s = read_str(c, owner, "name", &p, &len);
    if (s != RX_OK) return s;
    if (len == 0 || len > 65535)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: key %" PRIu64 " name at byte %zu: length %" PRIu64
                        " is not in [1, 65535]",
                        index, at, len);
    if (memchr(c->base + p, '\0', (size_t)len))
        return rx_error(RX_ERR_FORMAT, "gguf: key %" PRIu64 " name at byte %zu: holds a NUL byte",
                        index, at);
    if (!(kv->key = dup_str(c->base + p, len)))
        return rx_error(RX_ERR_NOMEM, "gguf: out of memory");
    snprintf(owner, sizeof owner, "key '%.80s' ", kv->key);
    uint32_t t;
    at = c->pos;
    if ((s = read_u32(c, owner, "value type", &t)) != RX_OK) return s;
    if (t >= RX_GGUF_TYPE_COUNT)
        return rx_error(RX_ERR_FORMAT, "gguf: %svalue type at byte %zu: %u is not a type", owner,
                        at, t);
    kv->type = (rx_gguf_type)t;
    if (kv->type == RX_GGUF_ARRAY) return parse_array(c, kv, owner);
    kv->value_at = c->pos;
    if (kv->type == RX_GGUF_STRING) return read_str(c, owner, "string value", &p, &len);
    if ((s = need(c, scalar_size[kv->type], owner, type_names[kv->type])) != RX_OK) return s;
    if (kv->type == RX_GGUF_BOOL && c->base[c->pos] > 1)
        return rx_error(RX_ERR_FORMAT, "gguf: %sbool at byte %zu: value %u is not 0 or 1", owner,
                        c->pos, c->base[c->pos]);
    c->pos += scalar_size[kv->type];
    return RX_OK;
}

static int cmp_name_ptr(const void *a, const void *b)
{
    return strcmp((*(const rx_gguf_tensor *const *)a)->name,
                  (*(const rx_gguf_tensor *const *)b)->name);
}

static int cmp_offset_ptr(const void *a, const void *b)
{
    uint64_t x = (*(const rx_gguf_tensor *const *)a)->offset;
    uint64_t y = (*(const rx_gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

static int cmp_key_ptr(const void *a, const void *b)
{
    return strcmp((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

/* Sorting pointers finds duplicates in O(n log n), so a file with many keys cannot stall us. */
static rx_status check_duplicate_keys(const rx_gguf *g)
{
    if (g->n_kv < 2) return RX_OK;
    const gguf_kv **sorted = malloc((size_t)g->n_kv * sizeof *sorted);
    if (!sorted) return rx_error(RX_ERR_NOMEM, "gguf: out of memory");
    for (int64_t i = 0; i < g->n_kv; i++)
        sorted[i] = &g->kv[i];
    qsort(sorted, (size_t)g->n_kv, sizeof *sorted, cmp_key_ptr);
    rx_status s = RX_OK;
    for (int64_t i = 1; i < g->n_kv && s == RX_OK; i++) {
        const gguf_kv *a = sorted[i - 1], *b = sorted[i];
        if (strcmp(a->key, b->key) == 0) {
            size_t first = a->key_at < b->key_at ? a->key_at : b->key_at;
            size_t again = a->key_at < b->key_at ? b->key_at : a->key_at;
            s = rx_error(RX_ERR_FORMAT,
                         "gguf: key '%.80s' name at byte %zu: duplicates the key at byte %zu",
                         a->key, again, first);
        }
    }
    free(sorted);
    return s;
}

static rx_status read_alignment(rx_gguf *g)
{
    g->alignment = RX_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = rx_gguf_find_key(g, "general.alignment");
    if (i < 0) return RX_OK;
    const gguf_kv *kv = &g->kv[i];
    if (kv->type != RX_GGUF_U32)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: key 'general.alignment' value at byte %zu: type %s, expected u32",
                        kv->value_at, type_names[kv->type]);
    uint32_t a;
    memcpy(&a, g->data + kv->value_at, 4);
    if (a == 0 || (a & (a - 1)) != 0 || a > MAX_ALIGNMENT)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: key 'general.alignment' value at byte %zu: %u is not a power of "
                        "two in [1, %u]",
                        kv->value_at, a, MAX_ALIGNMENT);
    g->alignment = a;
    return RX_OK;
}

/* Element count and byte size of a tensor, with every product checked; at is the byte offset
 * of its first dimension. */
static rx_status tensor_size(rx_gguf_tensor *t, const rx_type_info *info, size_t at)
{
    uint64_t elems = 1;
    for (uint32_t d = 0; d < RX_GGUF_MAX_DIMS; d++)
        if (!rx_mul_u64(elems, (uint64_t)t->ne[d], &elems) || elems > INT64_MAX)
            return rx_error(RX_ERR_FORMAT,
                            "gguf: tensor '%s' dimensions at byte %zu: the element count "
                            "overflows 63 bits",
                            t->name, at);
    if ((uint64_t)t->ne[0] % info->block_size != 0)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: tensor '%s' dimensions at byte %zu: row length %" PRId64
                        " is not a multiple of the %s block size %u",
                        t->name, at, t->ne[0], info->name, info->block_size);
    uint64_t bytes = (uint64_t)t->ne[0] / info->block_size;
    bool ok = rx_mul_u64(bytes, info->type_size, &bytes); /* 2^62 F32s would wrap to 0 */
    for (uint32_t d = 0; d < RX_GGUF_MAX_DIMS; d++)
        if (!ok || (d > 0 && !rx_mul_u64(bytes, (uint64_t)t->ne[d], &bytes)) || bytes > SIZE_MAX)
            return rx_error(RX_ERR_FORMAT,
                            "gguf: tensor '%s' dimensions at byte %zu: the byte size overflows",
                            t->name, at);
    t->nbytes = (size_t)bytes;
    return RX_OK;
}

static rx_status parse_tensor_info(cursor *c, rx_gguf_tensor *t, tensor_pos *pos, uint64_t index)
{
    char owner[96];
    size_t at = c->pos, p;
    uint64_t len;
    snprintf(owner, sizeof owner, "tensor %" PRIu64 " ", index);
    pos->name_at = at;
    rx_status s = read_str(c, owner, "name", &p, &len);
    if (s != RX_OK) return s;
    if (len == 0 || len > MAX_NAME_LEN || memchr(c->base + p, '\0', (size_t)len))
        return rx_error(RX_ERR_FORMAT,
                        "gguf: tensor %" PRIu64 " name at byte %zu: length %" PRIu64
                        " is not in [1, %d] or holds a NUL byte",
                        index, at, len, MAX_NAME_LEN);
    if (!(t->name = dup_str(c->base + p, len)))
        return rx_error(RX_ERR_NOMEM, "gguf: out of memory");
    snprintf(owner, sizeof owner, "tensor '%s' ", t->name);
    at = c->pos;
    if ((s = read_u32(c, owner, "n_dims", &t->n_dims)) != RX_OK) return s;
    if (t->n_dims == 0 || t->n_dims > RX_GGUF_MAX_DIMS)
        return rx_error(RX_ERR_FORMAT, "gguf: %sn_dims at byte %zu: %u is not in [1, %d]", owner,
                        at, t->n_dims, RX_GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < RX_GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    size_t dims_at = c->pos;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        at = c->pos;
        if ((s = read_u64(c, owner, "dimension", &ne)) != RX_OK) return s;
        if (ne == 0 || ne > INT64_MAX)
            return rx_error(RX_ERR_FORMAT,
                            "gguf: %sdimension %u at byte %zu: %" PRIu64 " is not in [1, 2^63)",
                            owner, d, at, ne);
        t->ne[d] = (int64_t)ne;
    }
    uint32_t type;
    at = c->pos;
    if ((s = read_u32(c, owner, "type", &type)) != RX_OK) return s;
    const rx_type_info *info = rx_type_get(type);
    if (!info)
        return rx_error(RX_ERR_FORMAT, "gguf: %stype at byte %zu: %u is not a known type", owner,
                        at, type);
    t->type = (rx_type)type;
    if ((s = tensor_size(t, info, dims_at)) != RX_OK) return s;
    pos->offset_at = c->pos;
    return read_u64(c, owner, "offset", &t->offset);
}

/* Duplicate names and overlapping data, found by sorting pointers: O(n log n). */
static rx_status check_tensor_sets(const rx_gguf *g)
{
    const rx_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return rx_error(RX_ERR_NOMEM, "gguf: out of memory");
    for (int64_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    rx_status s = RX_OK;
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_name_ptr);
    for (int64_t i = 1; i < g->n_tensors && s == RX_OK; i++) {
        const tensor_pos *a = &g->pos[order[i - 1] - g->tensors];
        const tensor_pos *b = &g->pos[order[i] - g->tensors];
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            s = rx_error(RX_ERR_FORMAT,
                         "gguf: tensor '%s' name at byte %zu: duplicates the tensor at byte %zu",
                         order[i]->name, a->name_at > b->name_at ? a->name_at : b->name_at,
                         a->name_at > b->name_at ? b->name_at : a->name_at);
    }
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_offset_ptr);
    for (int64_t i = 1; i < g->n_tensors && s == RX_OK; i++) {
        const rx_gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->nbytes > b->offset)
            s = rx_error(RX_ERR_FORMAT,
                         "gguf: tensor '%s' offset at byte %zu: data at %" PRIu64
                         " overlaps tensor '%s' (offset %" PRIu64 ", %zu bytes)",
                         b->name, g->pos[b - g->tensors].offset_at, b->offset, a->name, a->offset,
                         a->nbytes);
    }
    free(order);
    return s;
}

/* Offsets: aligned, inside the data section, and no two tensors share a byte. */
static rx_status place_tensors(rx_gguf *g, size_t infos_end)
{
    uint64_t data_offset;
    if (!rx_align_u64(infos_end, g->alignment, &data_offset))
        return rx_error(RX_ERR_FORMAT, "gguf: data section at byte %zu: offset overflows",
                        infos_end);
    if (g->n_tensors == 0) {
        g->data_offset = data_offset > g->size ? g->size : (size_t)data_offset;
        return RX_OK;
    }
    if (data_offset > g->size)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: data section at byte %" PRIu64
                        ": starts past the end of the file (%zu bytes)",
                        data_offset, g->size);
    g->data_offset = (size_t)data_offset;
    size_t data_size = g->size - g->data_offset;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        rx_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return rx_error(RX_ERR_FORMAT,
                            "gguf: tensor '%s' offset at byte %zu: %" PRIu64
                            " is not a multiple of the alignment %u",
                            t->name, g->pos[i].offset_at, t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return rx_error(RX_ERR_FORMAT,
                            "gguf: tensor '%s' offset at byte %zu: %" PRIu64
                            " + %zu bytes runs past the end of the file "
                            "(the data section holds %zu bytes from byte %zu)",
                            t->name, g->pos[i].offset_at, t->offset, t->nbytes, data_size,
                            g->data_offset);
        t->data = g->data + g->data_offset + t->offset;
    }
    return check_tensor_sets(g);
}

static rx_status parse(rx_gguf *g)
{
    cursor c = {g->data, 0, g->size};
    uint64_t n_tensors, n_kv;
    rx_status s = parse_header(&c, g, &n_tensors, &n_kv);
    if (s != RX_OK) return s;
    g->kv = calloc((size_t)(n_kv ? n_kv : 1), sizeof *g->kv);
    g->tensors = calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *g->tensors);
    g->pos = calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *g->pos);
    if (!g->kv || !g->tensors || !g->pos) return rx_error(RX_ERR_NOMEM, "gguf: out of memory");
    for (uint64_t i = 0; i < n_kv; i++) {
        g->n_kv = (int64_t)i + 1; /* so close() frees what this entry owns */
        if ((s = parse_kv(&c, &g->kv[i], i)) != RX_OK) return s;
    }
    if ((s = check_duplicate_keys(g)) != RX_OK) return s;
    if ((s = read_alignment(g)) != RX_OK) return s;
    for (uint64_t i = 0; i < n_tensors; i++) {
        g->n_tensors = (int64_t)i + 1;
        if ((s = parse_tensor_info(&c, &g->tensors[i], &g->pos[i], i)) != RX_OK) return s;
    }
    return place_tensors(g, c.pos);
}

static rx_status open_common(rx_gguf *g, rx_gguf **out)
{
    rx_status s = parse(g);
    if (s != RX_OK) {
        rx_gguf_close(g);
        return s;
    }
    *out = g;
    return RX_OK;
}

rx_status rx_gguf_open_memory(const void *data, size_t size, rx_gguf **out)
{
    *out = NULL;
    rx_gguf *g = calloc(1, sizeof *g);
    if (!g) return rx_error(RX_ERR_NOMEM, "gguf: out of memory");
    g->data = data;
    g->size = size;
    return open_common(g, out);
}

rx_status rx_gguf_open(const char *path, rx_gguf **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rx_error(RX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rx_error(RX_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return rx_error(RX_ERR_FORMAT, "%s: gguf: magic at byte 0: the file is empty", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED)
        return rx_error(RX_ERR_IO, "%s: cannot map: %s", path, strerror(map_errno));
    rx_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        munmap(map, (size_t)st.st_size);
        return rx_error(RX_ERR_NOMEM, "gguf: out of memory");
    }
    g->data = map;
    g->size = (size_t)st.st_size;
    g->mapped = true;
    rx_status s = open_common(g, out);
    if (s != RX_OK) rx_error_context(s, "%s: ", path);
    return s;
}

void rx_gguf_close(rx_gguf *g)
{
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str_at);
    }
    for (int64_t i = 0; i < g->n_tensors; i++)
        free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->pos);
    if (g->mapped) munmap((void *)g->data, g->size);
    free(g);
}

uint32_t rx_gguf_version(const rx_gguf *g)
{
    return g->version;
}
uint32_t rx_gguf_alignment(const rx_gguf *g)
{
    return g->alignment;
}
size_t rx_gguf_file_size(const rx_gguf *g)
{
    return g->size;
}
size_t rx_gguf_data_offset(const rx_gguf *g)
{
    return g->data_offset;
}
int64_t rx_gguf_n_kv(const rx_gguf *g)
{
    return g->n_kv;
}
const char *rx_gguf_key(const rx_gguf *g, int64_t i)
{
    return g->kv[i].key;
}
rx_gguf_type rx_gguf_kv_type(const rx_gguf *g, int64_t i)
{
    return g->kv[i].type;
}
int64_t rx_gguf_n_tensors(const rx_gguf *g)
{
    return g->n_tensors;
}
const rx_gguf_tensor *rx_gguf_tensor_at(const rx_gguf *g, int64_t i)
{
    return &g->tensors[i];
}

int64_t rx_gguf_find_key(const rx_gguf *g, const char *key)
{
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return i;
    return -1;
}

const rx_gguf_tensor *rx_gguf_find_tensor(const rx_gguf *g, const char *name)
{
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

/* Reads one scalar of type t at p as a signed or unsigned 64-bit integer. */
static bool load_int(rx_gguf_type t, const uint8_t *p, int64_t *i, uint64_t *u, bool *is_signed)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
    } v;
    if (t >= RX_GGUF_TYPE_COUNT || !scalar_size[t] || t == RX_GGUF_F32 || t == RX_GGUF_F64 ||
        t == RX_GGUF_BOOL)
        return false;
    memcpy(&v, p, scalar_size[t]);
    *is_signed = true;
    switch (t) {
    case RX_GGUF_U8:
        *u = v.u8;
        *is_signed = false;
        break;
    case RX_GGUF_U16:
        *u = v.u16;
        *is_signed = false;
        break;
    case RX_GGUF_U32:
        *u = v.u32;
        *is_signed = false;
        break;
    case RX_GGUF_U64:
        *u = v.u64;
        *is_signed = false;
        break;
    case RX_GGUF_I8:
        *i = v.i8;
        break;
    case RX_GGUF_I16:
        *i = v.i16;
        break;
    case RX_GGUF_I32:
        *i = v.i32;
        break;
    default:
        *i = v.i64;
        break;
    }
    return true;
}

static rx_str str_at(const rx_gguf *g, size_t at)
{
    rx_str r;
    memcpy(&r.len, g->data + at, 8);
    r.ptr = (const char *)g->data + at + 8;
    return r;
}

void rx_gguf__value_bytes(const rx_gguf *g, int64_t i, const uint8_t **p, size_t *size)
{
    const gguf_kv *kv = &g->kv[i];
    size_t start = kv->value_at, end;
    if (kv->type == RX_GGUF_STRING) {
        end = start + 8 + (size_t)str_at(g, start).len;
    } else if (kv->type != RX_GGUF_ARRAY) {
        end = start + scalar_size[kv->type];
    } else {
        start -= 12; /* element type and count precede the first element */
        if (kv->arr_type != RX_GGUF_STRING)
            end = kv->value_at + (size_t)kv->n * scalar_size[kv->arr_type];
        else if (kv->n == 0)
            end = kv->value_at;
        else
            end = kv->str_at[kv->n - 1] + 8 + (size_t)str_at(g, kv->str_at[kv->n - 1]).len;
    }
    *p = g->data + start;
    *size = end - start;
}

static rx_status find_typed(const rx_gguf *g, const char *key, const gguf_kv **kv)
{
    int64_t i = rx_gguf_find_key(g, key);
    if (i < 0) return rx_error(RX_ERR_NOT_FOUND, "gguf: key '%s' is missing", key);
    *kv = &g->kv[i];
    return RX_OK;
}

static rx_status wrong_type(const gguf_kv *kv, const char *want)
{
    return rx_error(RX_ERR_FORMAT, "gguf: key '%s' at byte %zu: has type %s, expected %s", kv->key,
                    kv->value_at, type_names[kv->type], want);
}

rx_status rx_gguf_get_u64(const rx_gguf *g, const char *key, uint64_t *out)
{
    const gguf_kv *kv;
    rx_status s = find_typed(g, key, &kv);
    if (s != RX_OK) return s;
    int64_t i;
    uint64_t u;
    bool is_signed;
    if (!load_int(kv->type, g->data + kv->value_at, &i, &u, &is_signed))
        return wrong_type(kv, "an unsigned integer");
    if (is_signed && i < 0)
        return rx_error(RX_ERR_FORMAT, "gguf: key '%s' at byte %zu: %" PRId64 " is negative", key,
                        kv->value_at, i);
    *out = is_signed ? (uint64_t)i : u;
    return RX_OK;
}

rx_status rx_gguf_get_u32(const rx_gguf *g, const char *key, uint32_t *out)
{
    uint64_t v;
    rx_status s = rx_gguf_get_u64(g, key, &v);
    if (s != RX_OK) return s;
    if (v > UINT32_MAX)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: key '%s' at byte %zu: %" PRIu64 " does not fit in 32 bits", key,
                        g->kv[rx_gguf_find_key(g, key)].value_at, v);
    *out = (uint32_t)v;
    return RX_OK;
}

rx_status rx_gguf_get_i64(const rx_gguf *g, const char *key, int64_t *out)
{
    const gguf_kv *kv;
    rx_status s = find_typed(g, key, &kv);
    if (s != RX_OK) return s;
    int64_t i;
    uint64_t u;
    bool is_signed;
    if (!load_int(kv->type, g->data + kv->value_at, &i, &u, &is_signed))
        return wrong_type(kv, "an integer");
    if (!is_signed && u > INT64_MAX)
        return rx_error(RX_ERR_FORMAT,
                        "gguf: key '%s' at byte %zu: %" PRIu64 " does not fit in 63 bits", key,
                        kv->value_at, u);
    *out = is_signed ? i : (int64_t)u;
    return RX_OK;
}

rx_status rx_gguf_get_f32(const rx_gguf *g, const char *key, float *out)
{
    const gguf_kv *kv;
    rx_status s = find_typed(g, key, &kv);
    if (s != RX_OK) return s;
    if (kv->type == RX_GGUF_F32) {
        memcpy(out, g->data + kv->value_at, 4);
    } else if (kv->type == RX_GGUF_F64) {
        double d;
        memcpy(&d, g->data + kv->value_at, 8);
        *out = (float)d;
    } else {
        return wrong_type(kv, "f32");
    }
    return RX_OK;
}

rx_status rx_gguf_get_bool(const rx_gguf *g, const char *key, bool *out)
{
    const gguf_kv *kv;
    rx_status s = find_typed(g, key, &kv);
    if (s != RX_OK) return s;
    if (kv->type != RX_GGUF_BOOL) return wrong_type(kv, "bool");
    *out = g->data[kv->value_at] != 0;
    return RX_OK;
}

rx_status rx_gguf_get_str(const rx_gguf *g, const char *key, rx_str *out)
{
    const gguf_kv *kv;
    rx_status s = find_typed(g, key, &kv);
    if (s != RX_OK) return s;
    if (kv->type != RX_GGUF_STRING) return wrong_type(kv, "string");
    *out = str_at(g, kv->value_at);
    return RX_OK;
}

rx_status rx_gguf_get_arr(const rx_gguf *g, const char *key, rx_gguf_type *elem_type, uint64_t *n)
{
    const gguf_kv *kv;
    rx_status s = find_typed(g, key, &kv);
    if (s != RX_OK) return s;
    if (kv->type != RX_GGUF_ARRAY) return wrong_type(kv, "array");
    *elem_type = kv->arr_type;
    *n = kv->n;
    return RX_OK;
}

rx_str rx_gguf_arr_str(const rx_gguf *g, int64_t kv_index, uint64_t i)
{
    return str_at(g, g->kv[kv_index].str_at[i]);
}

float rx_gguf_arr_f32(const rx_gguf *g, int64_t kv_index, uint64_t i)
{
    const gguf_kv *kv = &g->kv[kv_index];
    const uint8_t *p = g->data + kv->value_at + i * scalar_size[kv->arr_type];
    if (kv->arr_type == RX_GGUF_F64) {
        double d;
        memcpy(&d, p, 8);
        return (float)d;
    }
    if (kv->arr_type == RX_GGUF_F32) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    return (float)rx_gguf_arr_int(g, kv_index, i);
}

int64_t rx_gguf_arr_int(const rx_gguf *g, int64_t kv_index, uint64_t i)
{
    const gguf_kv *kv = &g->kv[kv_index];
    int64_t v = 0;
    uint64_t u = 0;
    bool is_signed = false;
    if (kv->arr_type == RX_GGUF_BOOL) return g->data[kv->value_at + i];
    if (!load_int(kv->arr_type, g->data + kv->value_at + i * scalar_size[kv->arr_type], &v, &u,
                  &is_signed))
        return 0;
    return is_signed ? v : (int64_t)u;
}

static void format_scalar(const rx_gguf *g, rx_gguf_type t, const uint8_t *p, char *buf,
                          size_t size)
{
    int64_t i;
    uint64_t u;
    bool is_signed;
    if (t == RX_GGUF_F32) {
        float f;
        memcpy(&f, p, 4);
        snprintf(buf, size, "%g", f);
    } else if (t == RX_GGUF_F64) {
        double d;
        memcpy(&d, p, 8);
        snprintf(buf, size, "%g", d);
    } else if (t == RX_GGUF_BOOL) {
        snprintf(buf, size, "%s", *p ? "true" : "false");
    } else if (t == RX_GGUF_STRING) {
        rx_str s = str_at(g, (size_t)(p - g->data));
        int shown = s.len > 60 ? 60 : (int)s.len;
        snprintf(buf, size, "\"%.*s%s\"", shown, s.ptr, s.len > 60 ? "..." : "");
    } else if (load_int(t, p, &i, &u, &is_signed)) {
        if (is_signed)
            snprintf(buf, size, "%" PRId64, i);
        else
            snprintf(buf, size, "%" PRIu64, u);
    }
}

void rx_gguf_kv_format(const rx_gguf *g, int64_t i, char *buf, size_t size)
{
    const gguf_kv *kv = &g->kv[i];
    if (size == 0) return;
    buf[0] = '\0';
    if (kv->type != RX_GGUF_ARRAY) {
        format_scalar(g, kv->type, g->data + kv->value_at, buf, size);
        return;
    }
    int n = snprintf(buf, size, "[%s x %" PRIu64 "]", type_names[kv->arr_type], kv->n);
    for (uint64_t k = 0; k < kv->n && k < 4 && n > 0 && (size_t)n < size; k++) {
        char item[96];
        const uint8_t *p = kv->arr_type == RX_GGUF_STRING
                               ? g->data + kv->str_at[k]
                               : g->data + kv->value_at + k * scalar_size[kv->arr_type];
        format_scalar(g, kv->arr_type, p, item, sizeof item);
        n += snprintf(buf + n, size - (size_t)n, "%s%s", k ? ", " : " ", item);
    }
    if (kv->n > 4 && n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, ", ...");
}
