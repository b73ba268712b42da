/* engine/quantize.c: llama-quantize's type rules (fallbacks, the Q4_K_M mix, output and tied
 * embeddings, tensor order), and rx_quantize_file against the files llama-quantize wrote:
 * every tensor's type, shape and bytes, then the whole file. Also the failure paths: no
 * output file is ever left behind. */
#include "rxtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reflex/gguf.h"
#include "reflex/quantize.h"

/* A path in the test's directory; a few live at once, so they rotate through four buffers. */
static const char *tmp_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 512, "%s/%s", rxt_tmpdir(), name);
    return path;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Every tensor of got matches want by name, type, shape and data bytes; same metadata keys. */
static void assert_same_model(const char *got_path, const char *want_path)
{
    rx_gguf *got, *want;
    assert_int_equal(rx_gguf_open(got_path, &got), RX_OK);
    assert_int_equal(rx_gguf_open(want_path, &want), RX_OK);
    assert_int_equal(rx_gguf_n_tensors(got), rx_gguf_n_tensors(want));
    assert_int_equal(rx_gguf_n_kv(got), rx_gguf_n_kv(want));
    for (int64_t i = 0; i < rx_gguf_n_kv(got); i++)
        assert_string_equal(rx_gguf_key(got, i), rx_gguf_key(want, i));
    for (int64_t i = 0; i < rx_gguf_n_tensors(want); i++) {
        const rx_gguf_tensor *w = rx_gguf_tensor_at(want, i), *g = rx_gguf_tensor_at(got, i);
        assert_string_equal(g->name, w->name);
        if (g->type != w->type)
            fail_msg("%s: %s, llama-quantize wrote %s", w->name, rx_type_name(g->type),
                     rx_type_name(w->type));
        assert_int_equal(g->n_dims, w->n_dims);
        assert_memory_equal(g->ne, w->ne, sizeof g->ne);
        assert_int_equal(g->nbytes, w->nbytes);
        if (memcmp(g->data, w->data, w->nbytes) != 0) fail_msg("%s: data differs", w->name);
    }
    rx_gguf_close(got);
    rx_gguf_close(want);
    size_t n_got, n_want;
    char *a = rxt_read_file(got_path, &n_got), *b = rxt_read_file(want_path, &n_want);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(n_got, n_want);
    assert_memory_equal(a, b, n_want); /* the whole file, header included */
    free(a);
    free(b);
}

static void quantize_and_compare(const char *in, const char *type, const char *want, int threads)
{
    rx_quantize_params p = rx_quantize_default_params();
    assert_true(rx_ftype_from_name(type, &p.ftype));
    p.n_threads = threads;
    const char *out = tmp_path("q.gguf");
    if (rx_quantize_file(rxt_shared(in), out, &p) != RX_OK) fail_msg("%s", rx_last_error());
    assert_false(exists(tmp_path("q.gguf.tmp")));
    assert_same_model(out, rxt_shared(want));
    unlink(out);
}

static void test_tiny_random_q8_0(void **state)
{
    (void)state;
    quantize_and_compare("models/tiny-random-F16.gguf", "Q8_0", "models/tiny-random-Q8_0.gguf", 2);
}

static void test_tiny_random_q4_0(void **state)
{
    (void)state;
    quantize_and_compare("models/tiny-random-F16.gguf", "Q4_0", "models/tiny-random-Q4_0.gguf", 1);
}

static void test_tiny_random_q4_k_m(void **state)
{
    (void)state;
    quantize_and_compare("models/tiny-random-F16.gguf", "Q4_K_M", "models/tiny-random-Q4_K_M.gguf",
                         3);
}

static void test_tiny_random_q6_k(void **state)
{
    (void)state;
    quantize_and_compare("models/tiny-random-F16.gguf", "Q6_K", "models/tiny-random-Q6_K.gguf", 2);
}

/* rows of 64 and 172: Q4_K -> Q5_0, Q6_K -> Q8_0, and -> F16 where 172 fits neither */
static void test_stories_fallbacks(void **state)
{
    (void)state;
    quantize_and_compare("models/stories260K.gguf", "Q4_K_M", "models/stories260K-Q4_K_M.gguf", 2);
    quantize_and_compare("models/stories260K.gguf", "F16", "models/stories260K-F16.gguf", 2);
}

/* --- the rules on made-up tensor lists --- */

typedef struct {
    char name[48];
} name_buf;

/* A llama of n_layer layers, rows of `row` elements (n_ff = ff), with or without output. */
static size_t llama_descs(rx_tensor_desc *d, name_buf *names, int n_layer, int64_t row, int64_t ff,
                          bool with_output)
{
    static const char *const parts[] = {"attn_norm", "attn_q",   "attn_k", "attn_v",  "attn_output",
                                        "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
    size_t n = 0;
    for (int l = 0; l < n_layer; l++)
        for (size_t k = 0; k < 9; k++) {
            snprintf(names[n].name, sizeof names[n].name, "blk.%d.%s.weight", l, parts[k]);
            bool norm = strstr(parts[k], "norm") != NULL, down = strcmp(parts[k], "ffn_down") == 0;
            d[n] = (rx_tensor_desc){.name = names[n].name,
                                    .n_dims = norm ? 1 : 2,
                                    .ne = {down ? ff : row,
                                           norm   ? 1
                                           : down ? row
                                                  : ff,
                                           1, 1},
                                    .type = norm ? RX_TYPE_F32 : RX_TYPE_F16};
            n++;
        }
    d[n++] = (rx_tensor_desc){
        .name = "token_embd.weight", .n_dims = 2, .ne = {row, 1000, 1, 1}, .type = RX_TYPE_F16};
    d[n++] = (rx_tensor_desc){
        .name = "output_norm.weight", .n_dims = 1, .ne = {row, 1, 1, 1}, .type = RX_TYPE_F32};
    if (with_output)
        d[n++] = (rx_tensor_desc){
            .name = "output.weight", .n_dims = 2, .ne = {row, 1000, 1, 1}, .type = RX_TYPE_F16};
    return n;
}

static rx_type type_of(const rx_tensor_desc *d, const rx_type *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i].name, name) == 0) return t[i];
    fail_msg("no tensor %s", name);
    return RX_TYPE_COUNT;
}

static void test_q4_k_m_mix(void **state)
{
    (void)state;
    enum { L = 32 };
    rx_tensor_desc d[9 * L + 3];
    name_buf names[9 * L];
    rx_type t[9 * L + 3];
    size_t n = llama_descs(d, names, L, 4096, 11008, true);
    rx_quant_model m = {.arch = "llama", .n_layer = L, .n_head = 32, .n_head_kv = 32};
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_Q4_K_M, t), RX_OK);
    /* use_more_bits: the first and last eighth, and every third layer between */
    for (int l = 0; l < L; l++) {
        bool more = l < 4 || l >= 28 || (l - 4) % 3 == 2;
        char name[48];
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        assert_int_equal(type_of(d, t, n, name), more ? RX_TYPE_Q6_K : RX_TYPE_Q4_K);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        assert_int_equal(type_of(d, t, n, name), more ? RX_TYPE_Q6_K : RX_TYPE_Q4_K);
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", l);
        assert_int_equal(type_of(d, t, n, name), RX_TYPE_Q4_K);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        assert_int_equal(type_of(d, t, n, name), RX_TYPE_F32);
    }
    assert_int_equal(type_of(d, t, n, "output.weight"), RX_TYPE_Q6_K);
    assert_int_equal(type_of(d, t, n, "token_embd.weight"), RX_TYPE_Q4_K);
    /* Q8_0 keeps the output in Q8_0; F16 is not a quantized recipe, so no rules at all */
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_Q8_0, t), RX_OK);
    assert_int_equal(type_of(d, t, n, "output.weight"), RX_TYPE_Q8_0);
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_F16, t), RX_OK);
    assert_int_equal(type_of(d, t, n, "output.weight"), RX_TYPE_F16);
    assert_int_equal(type_of(d, t, n, "output_norm.weight"), RX_TYPE_F32);
    /* a 70B (80 layers, grouped KV): attn_v never below Q5_K */
    rx_tensor_desc d80[9 * 80 + 3];
    name_buf names80[9 * 80];
    rx_type t80[9 * 80 + 3];
    n = llama_descs(d80, names80, 80, 8192, 28672, true);
    m = (rx_quant_model){.arch = "llama", .n_layer = 80, .n_head = 64, .n_head_kv = 8};
    assert_int_equal(rx_quantize_choose_types(&m, d80, n, RX_FTYPE_Q4_K_M, t80), RX_OK);
    assert_int_equal(type_of(d80, t80, n, "blk.11.attn_v.weight"), RX_TYPE_Q5_K);
    assert_int_equal(type_of(d80, t80, n, "blk.12.attn_v.weight"), RX_TYPE_Q6_K);
}

static void test_tied_embedding_and_fallbacks(void **state)
{
    (void)state;
    rx_tensor_desc d[9 * 2 + 3];
    name_buf names[9 * 2];
    rx_type t[9 * 2 + 3];
    /* no output.weight: the embedding is the output and gets its type */
    size_t n = llama_descs(d, names, 2, 256, 768, false);
    rx_quant_model m = {.arch = "llama", .n_layer = 2, .n_head = 8, .n_head_kv = 8};
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_Q4_0, t), RX_OK);
    assert_int_equal(type_of(d, t, n, "token_embd.weight"), RX_TYPE_Q6_K);
    assert_int_equal(type_of(d, t, n, "blk.0.attn_q.weight"), RX_TYPE_Q4_0);
    /* rows of 96: Q4_K -> Q5_0, Q6_K -> Q8_0, output (96 % 256) -> Q8_0 */
    n = llama_descs(d, names, 2, 96, 160, true);
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_Q4_K_M, t), RX_OK);
    assert_int_equal(type_of(d, t, n, "blk.0.attn_q.weight"), RX_TYPE_Q5_0);
    assert_int_equal(type_of(d, t, n, "blk.1.attn_v.weight"), RX_TYPE_Q8_0);
    assert_int_equal(type_of(d, t, n, "blk.0.ffn_down.weight"), RX_TYPE_Q5_0);
    assert_int_equal(type_of(d, t, n, "output.weight"), RX_TYPE_Q8_0);
    /* ffn_down rows of 100 fit no 32-block: F16 after the fallback, an error where there is
     * none (Q8_0), as llama.cpp throws "Unsupported tensor size encountered" */
    n = llama_descs(d, names, 2, 256, 100, true);
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_Q4_K_M, t), RX_OK);
    assert_int_equal(type_of(d, t, n, "blk.0.ffn_down.weight"), RX_TYPE_F16);
    assert_int_equal(type_of(d, t, n, "blk.0.ffn_up.weight"), RX_TYPE_Q4_K);
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_Q8_0, t), RX_ERR_UNSUPPORTED);
    assert_non_null(strstr(rx_last_error(), "rows of 100"));
    /* an output row that fits no block at all: llama.cpp gives up too */
    n = llama_descs(d, names, 2, 100, 256, true);
    assert_int_equal(rx_quantize_choose_types(&m, d, n, RX_FTYPE_Q4_K_M, t), RX_ERR_UNSUPPORTED);
}

static void test_order_and_names(void **state)
{
    (void)state;
    rx_tensor_desc d[] = {{.name = "blk.10.attn_q.weight"}, {.name = "token_embd.weight"},
                          {.name = "blk.2.ffn_up.weight"},  {.name = "blk.2.attn_k.weight"},
                          {.name = "output.weight"},        {.name = "output_norm.weight"}};
    size_t order[6];
    rx_quantize_order(d, 6, order);
    const char *want[] = {"output.weight",       "output_norm.weight",  "token_embd.weight",
                          "blk.2.attn_k.weight", "blk.2.ffn_up.weight", "blk.10.attn_q.weight"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(d[order[i]].name, want[i]);
    rx_ftype ft;
    assert_true(rx_ftype_from_name("q4_k", &ft));
    assert_int_equal(ft, RX_FTYPE_Q4_K_M);
    assert_true(rx_ftype_from_name("Q5_K_M", &ft));
    assert_false(rx_ftype_supported(ft));
    assert_false(rx_ftype_from_name("Q9_0", &ft));
    assert_string_equal(rx_ftype_name(RX_FTYPE_Q6_K), "Q6_K");
}

/* --- failures: one message, nothing left on disk --- */

static void expect_failure(const char *in, rx_ftype ft, bool requant, rx_status want,
                           const char *msg)
{
    rx_quantize_params p = rx_quantize_default_params();
    p.ftype = ft;
    p.n_threads = 2;
    p.allow_requantize = requant;
    const char *out = tmp_path("fail.gguf");
    rx_status s = rx_quantize_file(in, out, &p);
    if (s != want)
        fail_msg("status %s, want %s: %s", rx_status_str(s), rx_status_str(want), rx_last_error());
    if (!strstr(rx_last_error(), msg)) fail_msg("message '%s' lacks '%s'", rx_last_error(), msg);
    assert_false(exists(out));
    assert_false(exists(tmp_path("fail.gguf.tmp")));
}

/* A tiny F32 llama whose attn_q holds a NaN in row 3. */
static void write_nan_model(const char *path)
{
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    rx_gguf_set_str(w, "general.architecture", "llama");
    rx_gguf_set_u32(w, "llama.block_count", 1);
    rx_gguf_set_u32(w, "llama.attention.head_count", 1);
    static float q[32 * 8], norm[32];
    for (int i = 0; i < 32 * 8; i++)
        q[i] = 0.01f * (float)i;
    for (int i = 0; i < 32; i++)
        norm[i] = 1.0f;
    q[3 * 32 + 5] = NAN;
    const int64_t ne_q[2] = {32, 8}, ne_n[1] = {32};
    assert_int_equal(rx_gguf_add_tensor(w, "blk.0.attn_norm.weight", RX_TYPE_F32, 1, ne_n, norm),
                     RX_OK);
    assert_int_equal(rx_gguf_add_tensor(w, "blk.0.attn_q.weight", RX_TYPE_F32, 2, ne_q, q), RX_OK);
    assert_int_equal(rx_gguf_writer_write_file(w, path), RX_OK);
    rx_gguf_writer_destroy(w);
}

static void test_failures_leave_nothing(void **state)
{
    (void)state;
    expect_failure("/nonexistent.gguf", RX_FTYPE_Q8_0, false, RX_ERR_IO, "/nonexistent.gguf");
    expect_failure(rxt_shared("vocab/ggml-vocab-bert-bge.gguf"), RX_FTYPE_Q8_0, false,
                   RX_ERR_UNSUPPORTED, "architecture 'bert' is not supported");
    expect_failure(rxt_shared("models/tiny-random-Q8_0.gguf"), RX_FTYPE_Q4_0, false,
                   RX_ERR_UNSUPPORTED, "requantizing needs --allow-requantize");
    expect_failure(rxt_shared("models/tiny-random-F16.gguf"), RX_FTYPE_Q5_K_M, false,
                   RX_ERR_UNSUPPORTED, "not supported");
    const char *nan_model = tmp_path("nan.gguf");
    write_nan_model(nan_model);
    expect_failure(nan_model, RX_FTYPE_Q8_0, false, RX_ERR_FORMAT,
                   "tensor 'blk.0.attn_q.weight' row 3 holds a NaN");
    unlink(nan_model);
    /* rows of 172 fit no Q8_0 block, and Q8_0 has no fallback (llama-quantize fails too) */
    expect_failure(rxt_shared("models/stories260K.gguf"), RX_FTYPE_Q8_0, false, RX_ERR_UNSUPPORTED,
                   "'blk.0.ffn_down.weight': rows of 172 do not fit Q8_0");
    /* an output directory that does not exist */
    rx_quantize_params p = rx_quantize_default_params();
    p.ftype = RX_FTYPE_F16;
    assert_int_equal(
        rx_quantize_file(rxt_shared("models/stories260K.gguf"), "/nonexistent-dir/x.gguf", &p),
        RX_ERR_IO);
    assert_non_null(strstr(rx_last_error(), "/nonexistent-dir/x.gguf.tmp: cannot create"));
}

/* Requantizing is allowed when asked: Q8_0 -> Q4_0 reads Q8_0 back to floats first. */
static void test_requantize(void **state)
{
    (void)state;
    rx_quantize_params p = rx_quantize_default_params();
    p.ftype = RX_FTYPE_Q4_0;
    p.allow_requantize = true;
    const char *out = tmp_path("rq.gguf");
    assert_int_equal(rx_quantize_file(rxt_shared("models/tiny-random-Q8_0.gguf"), out, &p), RX_OK);
    rx_gguf *g;
    assert_int_equal(rx_gguf_open(out, &g), RX_OK);
    assert_int_equal(rx_gguf_find_tensor(g, "blk.0.attn_q.weight")->type, RX_TYPE_Q4_0);
    assert_int_equal(rx_gguf_find_tensor(g, "output.weight")->type, RX_TYPE_Q6_K);
    uint32_t ft;
    assert_int_equal(rx_gguf_get_u32(g, "general.file_type", &ft), RX_OK);
    assert_int_equal(ft, RX_FTYPE_Q4_0);
    rx_gguf_close(g);
    unlink(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_random_q8_0),
        cmocka_unit_test(test_tiny_random_q4_0),
        cmocka_unit_test(test_tiny_random_q4_k_m),
        cmocka_unit_test(test_tiny_random_q6_k),
        cmocka_unit_test(test_stories_fallbacks),
        cmocka_unit_test(test_q4_k_m_mix),
        cmocka_unit_test(test_tied_embedding_and_fallbacks),
        cmocka_unit_test(test_order_and_names),
        cmocka_unit_test(test_failures_leave_nothing),
        cmocka_unit_test(test_requantize),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(rxt_tmpdir());
    return rc;
}
