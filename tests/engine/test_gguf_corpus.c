/* engine/gguf.c against malformed files: the test writes one valid GGUF with the writer, derives
 * bad variants from it (truncations at every byte, patched fields, hand-built files), and checks
 * that each is refused with RX_ERR_FORMAT (RX_ERR_UNSUPPORTED for the version) and a message
 * naming the field and its byte offset, both from memory and from a file path.
 * With RX_FUZZ_SEEDS=<dir> set it also writes seed files for fuzz/fuzz_gguf.c there. */
#include "rxtest.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/gguf.h"

/* --- the valid sample and where its fields sit --- */

typedef struct {
    uint8_t *buf; /* owned */
    size_t size;
} blob;

typedef struct {
    char key[64];
    size_t key_at, type_at, value_at; /* value_at: after the type (array: its element type) */
} kv_pos;

typedef struct {
    char name[64];
    size_t name_at, n_dims_at, dims_at, type_at, offset_at;
} tensor_pos;

typedef struct {
    uint64_t n_kv, n_t;
    kv_pos kv[32];
    tensor_pos t[16];
    size_t data_at, data_end; /* data section start; end of the last tensor's bytes */
} layout;

static uint8_t tensor_bytes[4096];

static void build_sample(rx_gguf_writer *w, uint32_t alignment)
{
    static const char *const tokens[] = {"<unk>", "a", "", "\xe2\x96\x81the", "bc"};
    rx_str toks[5];
    for (int i = 0; i < 5; i++)
        toks[i] = (rx_str){tokens[i], strlen(tokens[i])};
    const float scores[] = {0.0f, -1.5f, 2.25f, -0.0f, 1e30f};
    const int32_t types[] = {2, 1, 1, 1, 3};
    const uint8_t bools[] = {1, 0, 1};
    const uint64_t u64s[] = {0, UINT64_MAX, 42};
    assert_int_equal(rx_gguf_set_str(w, "general.architecture", "llama"), RX_OK);
    assert_int_equal(rx_gguf_set_str(w, "general.name", "corpus sample"), RX_OK);
    assert_int_equal(rx_gguf_set_u32(w, "general.alignment", alignment), RX_OK);
    assert_int_equal(rx_gguf_set_u32(w, "llama.context_length", 128), RX_OK);
    assert_int_equal(rx_gguf_set_i32(w, "test.i32", -7), RX_OK);
    assert_int_equal(rx_gguf_set_u64(w, "test.u64", 1ull << 40), RX_OK);
    assert_int_equal(rx_gguf_set_f32(w, "test.f32", 0.5f), RX_OK);
    assert_int_equal(rx_gguf_set_bool(w, "test.bool", true), RX_OK);
    assert_int_equal(rx_gguf_set_bool(w, "test.aaa", false), RX_OK);
    assert_int_equal(rx_gguf_set_bool(w, "test.bbb", true), RX_OK);
    assert_int_equal(rx_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 5), RX_OK);
    assert_int_equal(rx_gguf_set_arr(w, "tokenizer.ggml.scores", RX_GGUF_F32, scores, 5), RX_OK);
    assert_int_equal(rx_gguf_set_arr(w, "tokenizer.ggml.token_type", RX_GGUF_I32, types, 5), RX_OK);
    assert_int_equal(rx_gguf_set_arr(w, "test.bools", RX_GGUF_BOOL, bools, 3), RX_OK);
    assert_int_equal(rx_gguf_set_arr(w, "test.u64s", RX_GGUF_U64, u64s, 3), RX_OK);
    for (size_t i = 0; i < sizeof tensor_bytes; i++)
        tensor_bytes[i] = (uint8_t)(i * 7 + 3);
    const int64_t ne_a[] = {8, 4}, ne_b[] = {32, 2}, ne_c[] = {16, 2, 3}, ne_d[] = {8},
                  ne_e[] = {256}, ne_f[] = {2, 2, 2, 2};
    assert_int_equal(rx_gguf_add_tensor(w, "t.a", RX_TYPE_F32, 2, ne_a, tensor_bytes), RX_OK);
    assert_int_equal(rx_gguf_add_tensor(w, "t.b", RX_TYPE_Q8_0, 2, ne_b, tensor_bytes), RX_OK);
    assert_int_equal(
        rx_gguf_add_tensor(w, "blk.0.ffn_up.weight", RX_TYPE_F16, 3, ne_c, tensor_bytes), RX_OK);
    assert_int_equal(
        rx_gguf_add_tensor(w, "output_norm.weight", RX_TYPE_F32, 1, ne_d, tensor_bytes), RX_OK);
    assert_int_equal(rx_gguf_add_tensor(w, "t.q4k", RX_TYPE_Q4_K, 1, ne_e, tensor_bytes), RX_OK);
    assert_int_equal(rx_gguf_add_tensor(w, "t.i8x4", RX_TYPE_I8, 4, ne_f, tensor_bytes), RX_OK);
}

static blob sample(uint32_t alignment)
{
    rx_gguf_writer *w;
    blob b;
    void *p;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    build_sample(w, alignment);
    assert_int_equal(rx_gguf_writer_to_memory(w, &p, &b.size), RX_OK);
    b.buf = p;
    rx_gguf_writer_destroy(w);
    return b;
}

static uint64_t get64(const blob *b, size_t at)
{
    uint64_t v;
    memcpy(&v, b->buf + at, 8);
    return v;
}

static uint32_t get32(const blob *b, size_t at)
{
    uint32_t v;
    memcpy(&v, b->buf + at, 4);
    return v;
}

static size_t value_size(const blob *b, uint32_t type, size_t at)
{
    static const size_t scalar[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == RX_GGUF_STRING) return 8 + (size_t)get64(b, at);
    if (type != RX_GGUF_ARRAY) return scalar[type];
    uint32_t et = get32(b, at);
    uint64_t n = get64(b, at + 4);
    size_t size = 12;
    for (uint64_t i = 0; i < n; i++)
        size += value_size(b, et, at + size);
    return size;
}

/* Walks a file this test wrote (so trusted) and records where each field sits. */
static layout walk(const blob *b, uint32_t alignment)
{
    layout L = {.n_t = get64(b, 8), .n_kv = get64(b, 16)};
    size_t pos = 24;
    assert_true(L.n_kv <= 32 && L.n_t <= 16);
    for (uint64_t i = 0; i < L.n_kv; i++) {
        kv_pos *k = &L.kv[i];
        size_t len = (size_t)get64(b, pos);
        k->key_at = pos;
        memcpy(k->key, b->buf + pos + 8, len < 63 ? len : 63);
        k->type_at = pos + 8 + len;
        k->value_at = k->type_at + 4;
        pos = k->value_at + value_size(b, get32(b, k->type_at), k->value_at);
    }
    for (uint64_t i = 0; i < L.n_t; i++) {
        tensor_pos *t = &L.t[i];
        size_t len = (size_t)get64(b, pos);
        t->name_at = pos;
        memcpy(t->name, b->buf + pos + 8, len);
        t->n_dims_at = pos + 8 + len;
        t->dims_at = t->n_dims_at + 4;
        t->type_at = t->dims_at + 8 * get32(b, t->n_dims_at);
        t->offset_at = t->type_at + 4;
        pos = t->offset_at + 8;
    }
    L.data_at = (pos + alignment - 1) / alignment * alignment;
    return L;
}

static const kv_pos *kv_named(const layout *L, const char *key)
{
    for (uint64_t i = 0; i < L->n_kv; i++)
        if (strcmp(L->kv[i].key, key) == 0) return &L->kv[i];
    fail_msg("no key %s in the sample", key);
    return NULL;
}

static const tensor_pos *tensor_named(const layout *L, const char *name)
{
    for (uint64_t i = 0; i < L->n_t; i++)
        if (strcmp(L->t[i].name, name) == 0) return &L->t[i];
    fail_msg("no tensor %s in the sample", name);
    return NULL;
}

static blob copy(const blob *b)
{
    blob c = {malloc(b->size), b->size};
    assert_non_null(c.buf);
    memcpy(c.buf, b->buf, b->size);
    return c;
}

static void put32(blob *b, size_t at, uint32_t v)
{
    memcpy(b->buf + at, &v, 4);
}

static void put64(blob *b, size_t at, uint64_t v)
{
    memcpy(b->buf + at, &v, 8);
}

/* --- checking a refusal --- */

static int n_files;

static void assert_contains(const char *msg, const char *sub, const char *where)
{
    if (!strstr(msg, sub)) fail_msg("%s: message \"%s\" lacks \"%s\"", where, msg, sub);
}

/* The image must be refused with status want from memory and from a file, and every
 * message must hold each substring of subs (NULL-terminated) and " at byte ". */
static void refuse(const void *buf, size_t size, rx_status want, const char *const *subs)
{
    rx_gguf *g = (rx_gguf *)1;
    rx_status s = rx_gguf_open_memory(buf, size, &g);
    if (s != want)
        fail_msg("status %s, want %s (%s)", rx_status_str(s), rx_status_str(want), rx_last_error());
    assert_null(g);
    const char *msg = rx_last_error();
    assert_true(strncmp(msg, "gguf: ", 6) == 0);
    assert_contains(msg, " at byte ", "memory");
    for (const char *const *p = subs; *p; p++)
        assert_contains(msg, *p, "memory");
    if (size == 0) return; /* an empty file has its own message, checked below */

    char path[512];
    snprintf(path, sizeof path, "%s/bad-%03d.gguf", rxt_tmpdir(), n_files++);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    s = rx_gguf_open(path, &g);
    assert_int_equal(s, want);
    assert_null(g);
    msg = rx_last_error();
    assert_true(strncmp(msg, path, strlen(path)) == 0);
    assert_contains(msg, " at byte ", path);
    for (const char *const *p = subs; *p; p++)
        assert_contains(msg, *p, path);
    remove(path);
}

#define REFUSE(b, want, ...)                                                                       \
    do {                                                                                           \
        const char *const subs_[] = {__VA_ARGS__, NULL};                                           \
        refuse((b)->buf, (b)->size, want, subs_);                                                  \
    } while (0)

/* --- tests --- */

static void test_sample_opens(void **state)
{
    (void)state;
    blob b = sample(64);
    layout L = walk(&b, 64);
    rx_gguf *g;
    assert_int_equal(rx_gguf_open_memory(b.buf, b.size, &g), RX_OK);
    assert_int_equal(rx_gguf_n_kv(g), 15);
    assert_int_equal(rx_gguf_n_tensors(g), 6);
    assert_int_equal(rx_gguf_alignment(g), 64);
    assert_int_equal(rx_gguf_data_offset(g), L.data_at);
    const rx_gguf_tensor *t = rx_gguf_find_tensor(g, "t.q4k");
    assert_non_null(t);
    assert_int_equal(t->nbytes, 144);
    assert_int_equal(t->offset % 64, 0);
    assert_memory_equal(t->data, tensor_bytes, 144);
    rx_gguf_close(g);
    free(b.buf);
}

/* Every prefix shorter than the end of the last tensor's data is refused; longer ones (which
 * only lose trailing padding) are accepted. */
static void test_truncation_at_every_byte(void **state)
{
    (void)state;
    blob b = sample(32);
    layout L = walk(&b, 32);
    rx_gguf *g;
    assert_int_equal(rx_gguf_open_memory(b.buf, b.size, &g), RX_OK);
    size_t end = 0;
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        size_t e = rx_gguf_data_offset(g) + t->offset + t->nbytes;
        end = e > end ? e : end;
    }
    rx_gguf_close(g);
    assert_true(end > L.data_at && end <= b.size);
    for (size_t n = 0; n < end; n++) {
        uint8_t *p = malloc(n ? n : 1); /* exactly n bytes, so ASan sees any overread */
        memcpy(p, b.buf, n);
        const char *const none[] = {NULL};
        const char *const magic[] = {"magic", NULL};
        const char *const data[] = {"past the end of the file", NULL};
        refuse(p, n, RX_ERR_FORMAT, n < 4 ? magic : n >= L.data_at ? data : none);
        free(p);
    }
    for (size_t n = end; n <= b.size; n++) {
        assert_int_equal(rx_gguf_open_memory(b.buf, n, &g), RX_OK);
        rx_gguf_close(g);
    }
    free(b.buf);
}

static void test_header(void **state)
{
    (void)state;
    blob b = sample(32);
    blob c = copy(&b);
    memcpy(c.buf, "GGUG", 4);
    REFUSE(&c, RX_ERR_FORMAT, "magic at byte 0");
    memcpy(c.buf, "GGUF", 4);
    const uint32_t versions[] = {0, 1, 4, 0x03000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        put32(&c, 4, versions[i]);
        REFUSE(&c, RX_ERR_UNSUPPORTED, "version at byte 4", "is not supported");
    }
    put32(&c, 4, 3);
    /* huge counts fail at the header, before any table is allocated */
    const uint64_t huge[] = {UINT64_MAX, 1ull << 63, 1ull << 40, (b.size - 24) / 14 + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        put64(&c, 16, huge[i]);
        REFUSE(&c, RX_ERR_FORMAT, "n_kv at byte 16", "cannot fit");
        put64(&c, 16, get64(&b, 16));
        put64(&c, 8, huge[i]);
        REFUSE(&c, RX_ERR_FORMAT, "n_tensors at byte 8", "cannot fit");
        put64(&c, 8, get64(&b, 8));
    }
    free(c.buf);
    free(b.buf);
}

static void test_strings_and_arrays(void **state)
{
    (void)state;
    blob b = sample(32);
    layout L = walk(&b, 32);
    blob c = copy(&b);
    char want[128];

    const uint64_t lens[] = {UINT64_MAX, 1ull << 63, b.size};
    for (size_t i = 0; i < 3; i++) {
        put64(&c, L.kv[0].key_at, lens[i]);
        REFUSE(&c, RX_ERR_FORMAT, "key 0 name at byte 24", "string length");
        put64(&c, L.kv[0].key_at, get64(&b, L.kv[0].key_at));

        const kv_pos *k = kv_named(&L, "general.name");
        put64(&c, k->value_at, lens[i]);
        snprintf(want, sizeof want, "key 'general.name' string value at byte %zu", k->value_at);
        REFUSE(&c, RX_ERR_FORMAT, want, "exceeds");
        put64(&c, k->value_at, get64(&b, k->value_at));

        k = kv_named(&L, "tokenizer.ggml.tokens");
        size_t second = k->value_at + 12 + 8 + get64(&b, k->value_at + 12);
        put64(&c, second, lens[i]);
        snprintf(want, sizeof want, "array string at byte %zu", second);
        REFUSE(&c, RX_ERR_FORMAT, "key 'tokenizer.ggml.tokens'", want, "exceeds");
        put64(&c, second, get64(&b, second));
    }

    /* counts whose byte size is past the file or overflows 64 bits (2^61 + 1 u64s) */
    const kv_pos *k = kv_named(&L, "test.u64s");
    const uint64_t counts[] = {UINT64_MAX, (1ull << 61) + 1, 1ull << 60, b.size};
    for (size_t i = 0; i < 4; i++) {
        put64(&c, k->value_at + 4, counts[i]);
        snprintf(want, sizeof want, "key 'test.u64s' array length at byte %zu", k->value_at + 4);
        REFUSE(&c, RX_ERR_FORMAT, want, "does not fit");
    }
    put64(&c, k->value_at + 4, 3);
    k = kv_named(&L, "tokenizer.ggml.tokens");
    put64(&c, k->value_at + 4, UINT64_MAX / 2);
    REFUSE(&c, RX_ERR_FORMAT, "key 'tokenizer.ggml.tokens' array length", "strings cannot fit");
    put64(&c, k->value_at + 4, 6); /* one more string than there are: the rest misparses */
    REFUSE(&c, RX_ERR_FORMAT, "gguf: ");
    put64(&c, k->value_at + 4, 5);

    put32(&c, k->value_at, RX_GGUF_ARRAY);
    REFUSE(&c, RX_ERR_FORMAT, "array element type at byte", "nested array");
    const uint32_t bad_types[] = {RX_GGUF_TYPE_COUNT, 100, UINT32_MAX};
    for (size_t i = 0; i < 3; i++) {
        put32(&c, k->value_at, bad_types[i]);
        REFUSE(&c, RX_ERR_FORMAT, "array element type at byte", "not a type");
        put32(&c, k->type_at, bad_types[i]);
        snprintf(want, sizeof want, "key 'tokenizer.ggml.tokens' value type at byte %zu",
                 k->type_at);
        REFUSE(&c, RX_ERR_FORMAT, want, "not a type");
        memcpy(c.buf, b.buf, b.size);
    }

    k = kv_named(&L, "test.bool");
    c.buf[k->value_at] = 2;
    snprintf(want, sizeof want, "key 'test.bool' bool at byte %zu", k->value_at);
    REFUSE(&c, RX_ERR_FORMAT, want, "not 0 or 1");
    c.buf[k->value_at] = 1;
    k = kv_named(&L, "test.bools");
    c.buf[k->value_at + 12 + 1] = 0xff;
    snprintf(want, sizeof want, "key 'test.bools' bool element 1 at byte %zu", k->value_at + 13);
    REFUSE(&c, RX_ERR_FORMAT, want);
    free(c.buf);
    free(b.buf);
}

static void test_keys(void **state)
{
    (void)state;
    blob b = sample(32);
    layout L = walk(&b, 32);
    blob c = copy(&b);
    char want[128];
    const kv_pos *a = kv_named(&L, "test.aaa"), *k = kv_named(&L, "test.bbb");
    memcpy(c.buf + k->key_at + 8, "test.aaa", 8);
    snprintf(want, sizeof want, "key 'test.aaa' name at byte %zu: duplicates the key at byte %zu",
             k->key_at, a->key_at);
    REFUSE(&c, RX_ERR_FORMAT, want);
    c.buf[k->key_at + 8 + 4] = '\0';
    REFUSE(&c, RX_ERR_FORMAT, "name at byte", "NUL");
    memcpy(c.buf, b.buf, b.size);
    put64(&c, k->key_at, 0);
    REFUSE(&c, RX_ERR_FORMAT, "name at byte", "not in [1, 65535]");
    free(c.buf);

    /* a key of 65536 bytes needs a file that big */
    size_t size = 24 + 8 + 65536 + 4 + 1;
    uint8_t *p = calloc(1, size);
    const uint32_t version = 3, type = RX_GGUF_U8;
    const uint64_t n_t = 0, n_kv = 1, len = 65536;
    memcpy(p, "GGUF", 4);
    memcpy(p + 4, &version, 4);
    memcpy(p + 8, &n_t, 8);
    memcpy(p + 16, &n_kv, 8);
    memcpy(p + 24, &len, 8);
    memset(p + 32, 'k', 65536);
    memcpy(p + 32 + 65536, &type, 4);
    const char *const subs[] = {"key 0 name at byte 24", "length 65536", NULL};
    refuse(p, size, RX_ERR_FORMAT, subs);
    free(p);
    free(b.buf);
}

static void test_alignment_key(void **state)
{
    (void)state;
    blob b = sample(64);
    layout L = walk(&b, 64);
    blob c = copy(&b);
    const kv_pos *k = kv_named(&L, "general.alignment");
    const uint32_t bad[] = {0, 3, 48, 1u << 21, UINT32_MAX};
    for (size_t i = 0; i < 5; i++) {
        put32(&c, k->value_at, bad[i]);
        REFUSE(&c, RX_ERR_FORMAT, "general.alignment", "at byte", "not a power of two");
    }
    put32(&c, k->value_at, 64);
    put32(&c, k->type_at, RX_GGUF_I32);
    REFUSE(&c, RX_ERR_FORMAT, "general.alignment", "type i32, expected u32");
    put32(&c, k->type_at, RX_GGUF_F32);
    REFUSE(&c, RX_ERR_FORMAT, "general.alignment", "type f32, expected u32");
    free(c.buf);
    free(b.buf);
}

static void test_tensor_infos(void **state)
{
    (void)state;
    blob b = sample(32);
    layout L = walk(&b, 32);
    blob c = copy(&b);
    char want[160];
    const tensor_pos *t = tensor_named(&L, "t.b"), *t2 = tensor_named(&L, "t.a");

    const uint32_t bad_types[] = {4, 5, 31, 32, 33, RX_TYPE_COUNT, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        put32(&c, t->type_at, bad_types[i]);
        snprintf(want, sizeof want, "tensor 't.b' type at byte %zu: %u is not a known type",
                 t->type_at, bad_types[i]);
        REFUSE(&c, RX_ERR_FORMAT, want);
    }
    put32(&c, t->type_at, RX_TYPE_Q8_0);

    put32(&c, t->n_dims_at, 0);
    REFUSE(&c, RX_ERR_FORMAT, "tensor 't.b' n_dims at byte", "0 is not in [1, 4]");
    put32(&c, t->n_dims_at, 5);
    REFUSE(&c, RX_ERR_FORMAT, "tensor 't.b' n_dims at byte", "5 is not in [1, 4]");
    put32(&c, t->n_dims_at, 2);

    put64(&c, t->dims_at + 8, 0);
    snprintf(want, sizeof want, "tensor 't.b' dimension 1 at byte %zu", t->dims_at + 8);
    REFUSE(&c, RX_ERR_FORMAT, want, "0 is not in [1, 2^63)");
    put64(&c, t->dims_at + 8, 1ull << 63);
    REFUSE(&c, RX_ERR_FORMAT, want);
    put64(&c, t->dims_at + 8, 1ull << 32);
    put64(&c, t->dims_at, 1ull << 32);
    REFUSE(&c, RX_ERR_FORMAT, "tensor 't.b' dimensions at byte", "element count overflows");
    put64(&c, t->dims_at, 33);
    put64(&c, t->dims_at + 8, 2);
    REFUSE(&c, RX_ERR_FORMAT, "tensor 't.b' dimensions at byte",
           "row length 33 is not a multiple of the Q8_0 block size 32");
    memcpy(c.buf, b.buf, b.size);

    /* names: too long, empty, duplicated */
    put64(&c, t->name_at, 64);
    snprintf(want, sizeof want, "name at byte %zu: length 64 is not in [1, 63]", t->name_at);
    REFUSE(&c, RX_ERR_FORMAT, want);
    put64(&c, t->name_at, 0);
    REFUSE(&c, RX_ERR_FORMAT, "name at byte", "length 0");
    put64(&c, t->name_at, 3);
    memcpy(c.buf + t->name_at + 8, "t.a", 3);
    snprintf(want, sizeof want, "tensor 't.a' name at byte %zu: duplicates the tensor at byte %zu",
             t->name_at, t2->name_at);
    REFUSE(&c, RX_ERR_FORMAT, want);
    free(c.buf);
    free(b.buf);
}

/* Issue: a row of 2^62 F32 elements has 2^64 bytes, which wrapped to 0 in the byte-size
 * product; the reader accepted a zero-byte tensor that claims 2^62 elements. */
static void test_tensor_bytes_wrap(void **state)
{
    (void)state;
    blob b = sample(32);
    layout L = walk(&b, 32);
    blob c = copy(&b);
    const tensor_pos *t = tensor_named(&L, "output_norm.weight");
    put64(&c, t->dims_at, 1ull << 62);
    REFUSE(&c, RX_ERR_FORMAT, "tensor 'output_norm.weight' dimensions at byte",
           "byte size overflows");
    put32(&c, t->type_at, RX_TYPE_F64);
    put64(&c, t->dims_at, (1ull << 61) + 0);
    REFUSE(&c, RX_ERR_FORMAT, "byte size overflows");
    free(c.buf);
    free(b.buf);
}

static void test_tensor_offsets(void **state)
{
    (void)state;
    blob b = sample(32);
    layout L = walk(&b, 32);
    blob c = copy(&b);
    char want[160];
    const tensor_pos *t = tensor_named(&L, "t.q4k"), *first = tensor_named(&L, "t.a");
    uint64_t off = get64(&b, t->offset_at);
    put64(&c, t->offset_at, off + 1);
    snprintf(want, sizeof want, "tensor 't.q4k' offset at byte %zu: %llu is not a multiple",
             t->offset_at, (unsigned long long)off + 1);
    REFUSE(&c, RX_ERR_FORMAT, want);
    put64(&c, t->offset_at, off + 16);
    REFUSE(&c, RX_ERR_FORMAT, "is not a multiple of the alignment 32");
    const uint64_t past[] = {b.size - L.data_at + 32 - (b.size - L.data_at) % 32, 1ull << 40,
                             UINT64_MAX - 31};
    for (size_t i = 0; i < 3; i++) {
        put64(&c, t->offset_at, past[i]);
        snprintf(want, sizeof want, "tensor 't.q4k' offset at byte %zu", t->offset_at);
        REFUSE(&c, RX_ERR_FORMAT, want, "runs past the end of the file");
    }
    /* data that starts inside the data section but runs past its end */
    put64(&c, t->offset_at, (b.size - L.data_at - 64) / 32 * 32);
    REFUSE(&c, RX_ERR_FORMAT, "runs past the end of the file");
    put64(&c, t->offset_at, get64(&b, first->offset_at));
    REFUSE(&c, RX_ERR_FORMAT, "offset at byte", "overlaps tensor");
    put64(&c, t->offset_at, get64(&b, first->offset_at) + 32); /* t.a is 128 bytes */
    REFUSE(&c, RX_ERR_FORMAT, "offset at byte", "overlaps tensor 't.a'");
    free(c.buf);
    free(b.buf);
}

static void test_path_errors(void **state)
{
    (void)state;
    rx_gguf *g = (rx_gguf *)1;
    char path[512];
    snprintf(path, sizeof path, "%s/missing.gguf", rxt_tmpdir());
    assert_int_equal(rx_gguf_open(path, &g), RX_ERR_IO);
    assert_null(g);
    assert_contains(rx_last_error(), path, "missing");
    assert_int_equal(rx_gguf_open(rxt_tmpdir(), &g), RX_ERR_IO);
    assert_contains(rx_last_error(), "not a regular file", "directory");
    snprintf(path, sizeof path, "%s/empty.gguf", rxt_tmpdir());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(rx_gguf_open(path, &g), RX_ERR_FORMAT);
    assert_contains(rx_last_error(), "magic at byte 0", "empty");
    remove(path);
}

/* RX_FUZZ_SEEDS=<dir>: a few small valid files for fuzz/corpus/gguf. */
static void test_write_seeds(void **state)
{
    (void)state;
    const char *dir = getenv("RX_FUZZ_SEEDS");
    if (!dir) skip();
    char path[512];
    blob b = sample(32);
    snprintf(path, sizeof path, "%s/sample-align32", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(b.buf, 1, b.size, f);
    fclose(f);
    free(b.buf);
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    assert_int_equal(rx_gguf_set_str(w, "general.architecture", "llama"), RX_OK);
    assert_int_equal(rx_gguf_set_u32(w, "llama.block_count", 1), RX_OK);
    snprintf(path, sizeof path, "%s/metadata-only", dir);
    assert_int_equal(rx_gguf_writer_write_file(w, path), RX_OK);
    const int64_t ne[] = {4, 2};
    assert_int_equal(rx_gguf_set_u32(w, "general.alignment", 8), RX_OK);
    assert_int_equal(rx_gguf_add_tensor(w, "w", RX_TYPE_F16, 2, ne, tensor_bytes), RX_OK);
    assert_int_equal(rx_gguf_add_tensor(w, "b", RX_TYPE_F32, 1, ne, tensor_bytes), RX_OK);
    snprintf(path, sizeof path, "%s/two-tensors-align8", dir);
    assert_int_equal(rx_gguf_writer_write_file(w, path), RX_OK);
    rx_gguf_writer_destroy(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_opens),   cmocka_unit_test(test_truncation_at_every_byte),
        cmocka_unit_test(test_header),         cmocka_unit_test(test_strings_and_arrays),
        cmocka_unit_test(test_keys),           cmocka_unit_test(test_alignment_key),
        cmocka_unit_test(test_tensor_infos),   cmocka_unit_test(test_tensor_bytes_wrap),
        cmocka_unit_test(test_tensor_offsets), cmocka_unit_test(test_path_errors),
        cmocka_unit_test(test_write_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
