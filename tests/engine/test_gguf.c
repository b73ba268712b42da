/* engine/gguf.c and engine/gguf_write.c: every value type through the writer and back, getter
 * conversions, alignment and padding, the streaming order rules, and every model and vocab file
 * in ../shared (known metadata, and a copy through the writer is byte-identical). */
#include "rxtest.h"

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/gguf.h"

/* --- a hand-built file holding one scalar and one array of every type --- */

typedef struct {
    uint8_t buf[4096];
    size_t n;
} bytes;

static void add(bytes *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->buf);
    memcpy(b->buf + b->n, p, n);
    b->n += n;
}

static void add_u32(bytes *b, uint32_t v)
{
    add(b, &v, 4);
}

static void add_u64(bytes *b, uint64_t v)
{
    add(b, &v, 8);
}

static void add_str(bytes *b, const char *s)
{
    add_u64(b, strlen(s));
    add(b, s, strlen(s));
}

static const size_t type_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* Element k of a test array of type t, as t's little-endian bytes in v. */
static void sample_value(rx_gguf_type t, int k, uint8_t v[8])
{
    const int64_t ints[] = {0, -1, 127, -128, 1000};
    const double reals[] = {0.1, -2.5, 1e300, -0.0, 3.0};
    memset(v, 0, 8);
    if (t == RX_GGUF_F32) {
        float f = (float)reals[k % 5];
        memcpy(v, &f, 4);
    } else if (t == RX_GGUF_F64) {
        memcpy(v, &reals[k % 5], 8);
    } else if (t == RX_GGUF_BOOL) {
        v[0] = (uint8_t)(k & 1);
    } else {
        memcpy(v, &ints[k % 5], type_size[t]);
    }
}

/* Keys "s.<type>" (scalar: element 1 of the sample) and "a.<type>" (array of 5), for every
 * scalar type, then a string and a string array. */
static void build_all_types(bytes *b)
{
    static const char *const names[] = {"u8",   "i8",  "u16", "i16", "u32", "i32", "f32",
                                        "bool", "str", "arr", "u64", "i64", "f64"};
    uint8_t v[8];
    b->n = 0;
    add(b, "GGUF", 4);
    add_u32(b, 3);
    add_u64(b, 0);
    add_u64(b, 2 * 11 + 3);
    for (uint32_t t = 0; t < RX_GGUF_TYPE_COUNT; t++) {
        char key[16];
        if (t == RX_GGUF_STRING || t == RX_GGUF_ARRAY) continue;
        snprintf(key, sizeof key, "s.%s", names[t]);
        add_str(b, key);
        add_u32(b, t);
        sample_value(t, 1, v);
        add(b, v, type_size[t]);
        snprintf(key, sizeof key, "a.%s", names[t]);
        add_str(b, key);
        add_u32(b, RX_GGUF_ARRAY);
        add_u32(b, t);
        add_u64(b, 5);
        for (int k = 0; k < 5; k++) {
            sample_value(t, k, v);
            add(b, v, type_size[t]);
        }
    }
    add_str(b, "s.str");
    add_u32(b, RX_GGUF_STRING);
    add_str(b, "h\xc3\xa9llo");
    add_str(b, "a.str");
    add_u32(b, RX_GGUF_ARRAY);
    add_u32(b, RX_GGUF_STRING);
    add_u64(b, 3);
    add_str(b, "x");
    add_str(b, "");
    add_str(b, "yz");
    add_str(b, "a.empty");
    add_u32(b, RX_GGUF_ARRAY);
    add_u32(b, RX_GGUF_U8);
    add_u64(b, 0);
}

static void test_every_type_reads(void **state)
{
    (void)state;
    static bytes b;
    build_all_types(&b);
    rx_gguf *g;
    assert_int_equal(rx_gguf_open_memory(b.buf, b.n, &g), RX_OK);
    assert_int_equal(rx_gguf_n_kv(g), 25);
    uint64_t u;
    int64_t i;
    uint32_t u32;
    float f;
    bool flag;
    rx_str s;
    assert_int_equal(rx_gguf_get_i64(g, "s.i8", &i), RX_OK);
    assert_int_equal(i, -1);
    assert_int_equal(rx_gguf_get_u64(g, "s.u16", &u), RX_OK);
    assert_int_equal(u, 0xffff);
    assert_int_equal(rx_gguf_get_u64(g, "s.i32", &u), RX_ERR_FORMAT); /* -1 */
    assert_int_equal(rx_gguf_get_u32(g, "s.u64", &u32), RX_ERR_FORMAT);
    assert_non_null(strstr(rx_last_error(), "does not fit in 32 bits"));
    assert_int_equal(rx_gguf_get_i64(g, "s.u64", &i), RX_ERR_FORMAT);
    assert_int_equal(rx_gguf_get_i64(g, "s.i64", &i), RX_OK);
    assert_int_equal(i, -1);
    assert_int_equal(rx_gguf_get_f32(g, "s.f64", &f), RX_OK);
    assert_true(f == -2.5f);
    assert_int_equal(rx_gguf_get_f32(g, "s.u8", &f), RX_ERR_FORMAT);
    assert_non_null(strstr(rx_last_error(), "key 's.u8' at byte"));
    assert_int_equal(rx_gguf_get_bool(g, "s.bool", &flag), RX_OK);
    assert_true(flag);
    assert_int_equal(rx_gguf_get_u64(g, "s.bool", &u), RX_ERR_FORMAT);
    assert_int_equal(rx_gguf_get_str(g, "s.str", &s), RX_OK);
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.ptr, "h\xc3\xa9llo", 6);
    assert_int_equal(rx_gguf_get_str(g, "missing", &s), RX_ERR_NOT_FOUND);
    assert_int_equal(rx_gguf_get_u64(g, "a.u8", &u), RX_ERR_FORMAT);

    rx_gguf_type et;
    uint64_t n;
    assert_int_equal(rx_gguf_get_arr(g, "a.i16", &et, &n), RX_OK);
    assert_int_equal(et, RX_GGUF_I16);
    assert_int_equal(n, 5);
    int64_t k = rx_gguf_find_key(g, "a.i16");
    assert_int_equal(rx_gguf_arr_int(g, k, 3), -128);
    assert_int_equal(rx_gguf_arr_int(g, k, 4), 1000);
    k = rx_gguf_find_key(g, "a.f64");
    assert_true(rx_gguf_arr_f32(g, k, 0) == 0.1f);
    assert_true(isinf(rx_gguf_arr_f32(g, k, 2)));
    k = rx_gguf_find_key(g, "a.bool");
    assert_int_equal(rx_gguf_arr_int(g, k, 1), 1);
    k = rx_gguf_find_key(g, "a.str");
    assert_int_equal(rx_gguf_arr_str(g, k, 1).len, 0);
    assert_memory_equal(rx_gguf_arr_str(g, k, 2).ptr, "yz", 2);
    assert_int_equal(rx_gguf_get_arr(g, "a.empty", &et, &n), RX_OK);
    assert_int_equal(n, 0);

    char text[128];
    rx_gguf_kv_format(g, rx_gguf_find_key(g, "a.str"), text, sizeof text);
    assert_string_equal(text, "[string x 3] \"x\", \"\", \"yz\"");
    rx_gguf_kv_format(g, rx_gguf_find_key(g, "a.i8"), text, sizeof text);
    assert_string_equal(text, "[i8 x 5] 0, -1, 127, -128, ...");
    rx_gguf_kv_format(g, rx_gguf_find_key(g, "s.u64"), text, sizeof text);
    assert_string_equal(text, "18446744073709551615");
    rx_gguf_kv_format(g, rx_gguf_find_key(g, "a.str"), text, 6);
    assert_string_equal(text, "[stri");
    rx_gguf_close(g);
}

/* Issue: rx_gguf_copy_kv sent F64 values through float (1e300 became inf); a copy of every key
 * must now reproduce the file byte for byte. */
static void test_copy_kv_is_exact(void **state)
{
    (void)state;
    static bytes b;
    build_all_types(&b);
    rx_gguf *g;
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_open_memory(b.buf, b.n, &g), RX_OK);
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    for (int64_t i = 0; i < rx_gguf_n_kv(g); i++)
        assert_int_equal(rx_gguf_copy_kv(w, g, i), RX_OK);
    void *out;
    size_t size;
    assert_int_equal(rx_gguf_writer_to_memory(w, &out, &size), RX_OK);
    assert_int_equal(size, b.n);
    assert_memory_equal(out, b.buf, b.n);
    free(out);
    rx_gguf_writer_destroy(w);
    rx_gguf_close(g);
}

static void test_setters_round_trip(void **state)
{
    (void)state;
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    assert_int_equal(rx_gguf_set_u32(w, "u32", 4000000000u), RX_OK);
    assert_int_equal(rx_gguf_set_i32(w, "i32", -5), RX_OK);
    assert_int_equal(rx_gguf_set_u64(w, "u64", UINT64_MAX), RX_OK);
    assert_int_equal(rx_gguf_set_f32(w, "f32", 1.25f), RX_OK);
    assert_int_equal(rx_gguf_set_bool(w, "bool", false), RX_OK);
    assert_int_equal(rx_gguf_set_str(w, "str", "first"), RX_OK);
    assert_int_equal(rx_gguf_set_str(w, "str", "second"), RX_OK); /* replaces */
    const double d[] = {0.1, 1e300};
    assert_int_equal(rx_gguf_set_arr(w, "f64s", RX_GGUF_F64, d, 2), RX_OK);
    assert_int_equal(rx_gguf_set_arr(w, "none", RX_GGUF_I64, NULL, 0), RX_OK);
    assert_int_equal(rx_gguf_set_arr_str(w, "strs", NULL, 0), RX_OK);
    assert_int_equal(rx_gguf_set_arr(w, "bad", RX_GGUF_STRING, d, 1), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_set_arr(w, "bad", RX_GGUF_ARRAY, d, 1), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_set_u32(w, "", 1), RX_ERR_INVALID_ARG);
    void *buf;
    size_t size;
    assert_int_equal(rx_gguf_writer_to_memory(w, &buf, &size), RX_OK);
    rx_gguf *g;
    assert_int_equal(rx_gguf_open_memory(buf, size, &g), RX_OK);
    assert_int_equal(rx_gguf_n_kv(g), 9);
    assert_int_equal(rx_gguf_kv_type(g, rx_gguf_find_key(g, "u32")), RX_GGUF_U32);
    uint32_t u32;
    uint64_t u;
    int64_t i;
    float f;
    bool flag = true;
    rx_str s;
    assert_int_equal(rx_gguf_get_u32(g, "u32", &u32), RX_OK);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(rx_gguf_get_i64(g, "i32", &i), RX_OK);
    assert_int_equal(i, -5);
    assert_int_equal(rx_gguf_get_u64(g, "u64", &u), RX_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(rx_gguf_get_f32(g, "f32", &f), RX_OK);
    assert_true(f == 1.25f);
    assert_int_equal(rx_gguf_get_bool(g, "bool", &flag), RX_OK);
    assert_false(flag);
    assert_int_equal(rx_gguf_get_str(g, "str", &s), RX_OK);
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.ptr, "second", 6);
    rx_gguf_type et;
    assert_int_equal(rx_gguf_get_arr(g, "strs", &et, &u), RX_OK);
    assert_int_equal(et, RX_GGUF_STRING);
    assert_int_equal(u, 0);
    rx_gguf_close(g);
    free(buf);
    rx_gguf_writer_destroy(w);
}

/* --- tensors, alignment and padding --- */

static uint8_t payload[1 << 16];

static rx_gguf_writer *tensor_writer(int alignment)
{
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    if (alignment) assert_int_equal(rx_gguf_set_u32(w, "general.alignment", alignment), RX_OK);
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31 + 1);
    const int64_t a[] = {3}, b[] = {32, 3}, c[] = {256, 2}, d[] = {5, 1, 1, 2};
    assert_int_equal(rx_gguf_add_tensor(w, "a", RX_TYPE_F32, 1, a, payload), RX_OK);  /* 12 B */
    assert_int_equal(rx_gguf_add_tensor(w, "b", RX_TYPE_Q4_0, 2, b, payload), RX_OK); /* 54 */
    assert_int_equal(rx_gguf_add_tensor(w, "c", RX_TYPE_Q6_K, 2, c, payload), RX_OK); /* 420 */
    assert_int_equal(rx_gguf_add_tensor(w, "d", RX_TYPE_F16, 4, d, payload), RX_OK);  /* 20 */
    return w;
}

static void check_layout(const void *buf, size_t size, uint32_t alignment)
{
    rx_gguf *g;
    assert_int_equal(rx_gguf_open_memory(buf, size, &g), RX_OK);
    assert_int_equal(rx_gguf_alignment(g), alignment);
    assert_int_equal(rx_gguf_data_offset(g) % alignment, 0);
    const size_t want_bytes[] = {12, 54, 420, 20};
    uint64_t expect_offset = 0;
    for (int64_t i = 0; i < 4; i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        assert_int_equal(t->nbytes, want_bytes[i]);
        assert_int_equal(t->offset, expect_offset);
        assert_memory_equal(t->data, payload, t->nbytes);
        const uint8_t *pad = (const uint8_t *)t->data + t->nbytes;
        expect_offset = (t->offset + t->nbytes + alignment - 1) / alignment * alignment;
        for (uint64_t p = t->offset + t->nbytes; p < expect_offset; p++)
            assert_int_equal(*pad++, 0);
    }
    assert_int_equal(size, rx_gguf_data_offset(g) + expect_offset); /* last tensor padded */
    assert_int_equal(rx_gguf_tensor_at(g, 3)->ne[3], 2);
    assert_int_equal(rx_gguf_tensor_at(g, 3)->n_dims, 4);
    rx_gguf_close(g);
}

static void test_tensor_alignment(void **state)
{
    (void)state;
    const int alignments[] = {0, 1, 8, 64, 4096};
    for (size_t i = 0; i < 5; i++) {
        rx_gguf_writer *w = tensor_writer(alignments[i]);
        void *buf;
        size_t size;
        assert_int_equal(rx_gguf_writer_to_memory(w, &buf, &size), RX_OK);
        check_layout(buf, size, alignments[i] ? (uint32_t)alignments[i] : 32);
        free(buf);
        rx_gguf_writer_destroy(w);
    }
    rx_gguf_writer *w;
    void *buf;
    size_t size;
    const uint32_t bad[] = {0, 3, 1u << 21};
    for (size_t i = 0; i < 3; i++) {
        w = tensor_writer(0);
        assert_int_equal(rx_gguf_set_u32(w, "general.alignment", bad[i]), RX_OK);
        assert_int_equal(rx_gguf_writer_to_memory(w, &buf, &size), RX_ERR_INVALID_ARG);
        assert_non_null(strstr(rx_last_error(), "general.alignment"));
        rx_gguf_writer_destroy(w);
    }
    w = tensor_writer(0);
    assert_int_equal(rx_gguf_set_u64(w, "general.alignment", 64), RX_OK);
    assert_int_equal(rx_gguf_writer_to_memory(w, &buf, &size), RX_ERR_INVALID_ARG);
    rx_gguf_writer_destroy(w);
}

static void test_add_tensor_errors(void **state)
{
    (void)state;
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    const int64_t ok[] = {32, 2}, zero[] = {32, 0}, odd[] = {33}, huge[] = {1ll << 62};
    char long_name[65];
    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    assert_int_equal(rx_gguf_add_tensor(w, "t", RX_TYPE_Q8_0, 2, ok, NULL), RX_OK);
    assert_int_equal(rx_gguf_add_tensor(w, "t", RX_TYPE_Q8_0, 2, ok, NULL), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_add_tensor(w, "u", RX_TYPE_Q8_0, 2, zero, NULL), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_add_tensor(w, "u", RX_TYPE_Q8_0, 1, odd, NULL), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_add_tensor(w, "u", RX_TYPE_F32, 1, huge, NULL), RX_ERR_RANGE);
    assert_int_equal(rx_gguf_add_tensor(w, "u", (rx_type)4, 1, ok, NULL), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_add_tensor(w, "u", RX_TYPE_F32, 0, ok, NULL), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_add_tensor(w, "u", RX_TYPE_F32, 5, ok, NULL), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_add_tensor(w, "", RX_TYPE_F32, 1, ok, NULL), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_add_tensor(w, long_name, RX_TYPE_F32, 1, ok, NULL),
                     RX_ERR_INVALID_ARG);
    long_name[63] = '\0';
    assert_int_equal(rx_gguf_add_tensor(w, long_name, RX_TYPE_F32, 1, ok, payload), RX_OK);
    void *buf;
    size_t size;
    /* "t" has no data: the whole-file writers refuse before writing anything */
    assert_int_equal(rx_gguf_writer_to_memory(w, &buf, &size), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "'t' has no data"));
    char path[512];
    snprintf(path, sizeof path, "%s/nodata.gguf", rxt_tmpdir());
    assert_int_equal(rx_gguf_writer_write_file(w, path), RX_ERR_INVALID_ARG);
    assert_null(fopen(path, "rb")); /* removed on failure */
    rx_gguf_writer_destroy(w);
    rx_gguf_writer_destroy(NULL);
}

static void test_streaming_order(void **state)
{
    (void)state;
    rx_gguf_writer *w = tensor_writer(0);
    char path[512];
    snprintf(path, sizeof path, "%s/stream.gguf", rxt_tmpdir());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(rx_gguf_writer_write_data(w, f, 0, payload), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "before rx_gguf_writer_begin"));
    assert_int_equal(rx_gguf_writer_begin(w, f), RX_OK);
    assert_int_equal(rx_gguf_writer_write_data(w, f, 1, payload), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "out of order"));
    assert_int_equal(rx_gguf_writer_write_data(w, f, -1, payload), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_writer_write_data(w, f, 0, NULL), RX_ERR_INVALID_ARG);
    const int64_t ne[] = {4};
    assert_int_equal(rx_gguf_add_tensor(w, "late", RX_TYPE_F32, 1, ne, payload),
                     RX_ERR_INVALID_ARG);
    assert_int_equal(rx_gguf_set_u32(w, "late", 1), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "after rx_gguf_writer_begin"));
    for (int64_t i = 0; i < 4; i++)
        assert_int_equal(rx_gguf_writer_write_data(w, f, i, payload), RX_OK);
    assert_int_equal(rx_gguf_writer_write_data(w, f, 4, payload), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "after the last tensor"));
    assert_int_equal(fclose(f), 0);
    size_t size;
    char *buf = rxt_read_file(path, &size);
    assert_non_null(buf);
    check_layout(buf, size, 32);
    free(buf);
    /* after the stream the writer takes changes again */
    assert_int_equal(rx_gguf_set_u32(w, "late", 1), RX_OK);
    rx_gguf_writer_destroy(w);
    remove(path);
}

/* --- the shared models and vocabularies --- */

typedef struct {
    const char *file;
    int64_t n_kv, n_tensors;
    const char *tensor; /* one tensor to check, or NULL */
    rx_type type;
    int64_t ne0, ne1;
} model_facts;

static const model_facts facts[] = {
    {"models/stories260K.gguf", 19, 48, "token_embd.weight", RX_TYPE_F32, 64, 512},
    {"models/stories260K-F16.gguf", 21, 48, "token_embd.weight", RX_TYPE_F16, 64, 512},
    {"models/stories260K-Q4_K_M.gguf", 21, 48, "token_embd.weight", RX_TYPE_Q5_0, 64, 512},
    {"models/tiny-random-F16.gguf", 22, 39, "token_embd.weight", RX_TYPE_F16, 256, 32000},
    {"models/tiny-random-Q4_0.gguf", 23, 39, "token_embd.weight", RX_TYPE_Q4_0, 256, 32000},
    {"models/tiny-random-Q4_K_M.gguf", 23, 39, "token_embd.weight", RX_TYPE_Q4_K, 256, 32000},
    {"models/tiny-random-Q6_K.gguf", 23, 39, "output.weight", RX_TYPE_Q6_K, 256, 32000},
    {"models/tiny-random-Q8_0.gguf", 23, 39, "token_embd.weight", RX_TYPE_Q8_0, 256, 32000},
    {"vocab/ggml-vocab-llama-spm.gguf", 22, 0, NULL, 0, 0, 0},
    {"vocab/ggml-vocab-gpt-2.gguf", 16, 0, NULL, 0, 0, 0},
};

static void test_shared_models(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        const model_facts *m = &facts[i];
        rx_gguf *g;
        if (rx_gguf_open(rxt_shared(m->file), &g) != RX_OK)
            fail_msg("%s: %s", m->file, rx_last_error());
        assert_int_equal(rx_gguf_n_kv(g), m->n_kv);
        assert_int_equal(rx_gguf_n_tensors(g), m->n_tensors);
        if (m->tensor) {
            const rx_gguf_tensor *t = rx_gguf_find_tensor(g, m->tensor);
            assert_non_null(t);
            assert_int_equal(t->type, m->type);
            assert_int_equal(t->n_dims, 2);
            assert_int_equal(t->ne[0], m->ne0);
            assert_int_equal(t->ne[1], m->ne1);
            uint32_t embd;
            assert_int_equal(rx_gguf_get_u32(g, "llama.embedding_length", &embd), RX_OK);
            assert_int_equal(embd, m->ne0);
        }
        rx_gguf_type et;
        uint64_t n;
        assert_int_equal(rx_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), RX_OK);
        assert_int_equal(et, RX_GGUF_STRING);
        assert_true(n >= 512);
        rx_gguf_close(g);
    }
    rx_gguf *g;
    assert_int_equal(rx_gguf_open(rxt_shared("models/stories260K.gguf"), &g), RX_OK);
    uint32_t v;
    float eps;
    assert_int_equal(rx_gguf_get_u32(g, "llama.block_count", &v), RX_OK);
    assert_int_equal(v, 5);
    assert_int_equal(rx_gguf_get_u32(g, "llama.attention.head_count_kv", &v), RX_OK);
    assert_int_equal(v, 4);
    assert_int_equal(rx_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps), RX_OK);
    assert_true(eps == 1e-5f);
    rx_gguf_close(g);
}

/* Copies every key and tensor of f into a writer and returns the bytes it writes. */
static void *rewrite(const rx_gguf *g, size_t *size)
{
    rx_gguf_writer *w;
    void *buf;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    for (int64_t i = 0; i < rx_gguf_n_kv(g); i++)
        assert_int_equal(rx_gguf_copy_kv(w, g, i), RX_OK);
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        assert_int_equal(rx_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data), RX_OK);
    }
    assert_int_equal(rx_gguf_writer_to_memory(w, &buf, size), RX_OK);
    rx_gguf_writer_destroy(w);
    return buf;
}

/* Every .gguf in ../shared opens, and the writer reproduces it byte for byte. */
static void test_shared_rewrite_identical(void **state)
{
    (void)state;
    const char *const patterns[] = {"models/*.gguf", "vocab/*.gguf"};
    int files = 0;
    for (int p = 0; p < 2; p++) {
        glob_t gl;
        char pattern[4096];
        snprintf(pattern, sizeof pattern, "%s", rxt_shared(patterns[p]));
        assert_int_equal(glob(pattern, 0, NULL, &gl), 0);
        for (size_t i = 0; i < gl.gl_pathc; i++, files++) {
            const char *path = gl.gl_pathv[i];
            rx_gguf *g;
            if (rx_gguf_open(path, &g) != RX_OK) fail_msg("%s", rx_last_error());
            size_t size, orig_size;
            void *copy = rewrite(g, &size);
            char *orig = rxt_read_file(path, &orig_size);
            assert_non_null(orig);
            if (size != orig_size || memcmp(copy, orig, size) != 0)
                fail_msg("%s: the rewrite differs (%zu bytes, the original %zu)", path, size,
                         orig_size);
            free(orig);
            free(copy);
            rx_gguf_close(g);
        }
        globfree(&gl);
    }
    assert_int_equal(files, 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_reads),   cmocka_unit_test(test_copy_kv_is_exact),
        cmocka_unit_test(test_setters_round_trip), cmocka_unit_test(test_tensor_alignment),
        cmocka_unit_test(test_add_tensor_errors),  cmocka_unit_test(test_streaming_order),
        cmocka_unit_test(test_shared_models),      cmocka_unit_test(test_shared_rewrite_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
