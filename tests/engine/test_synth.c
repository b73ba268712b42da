/* engine/synth.c: a small random model at chosen dims loads with rx_model_load, has the asked
 * shapes and llama-quantize's types, weights that look N(0, 0.02), and the same bytes for the
 * same seed whatever the thread count. */
#include "rxtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reflex/gguf.h"
#include "reflex/model.h"
#include "reflex/synth.h"

static const char *tmp_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 512, "%s/%s", rxt_tmpdir(), name);
    return path;
}

static char vocab[512];

static rx_synth_params small(rx_ftype ft, uint64_t seed, int threads)
{
    snprintf(vocab, sizeof vocab, "%s", rxt_shared("vocab/ggml-vocab-llama-spm.gguf"));
    rx_synth_params p = {.shape = {.name = "custom",
                                   .n_embd = 64,
                                   .n_ff = 96,
                                   .n_layer = 2,
                                   .n_head = 4,
                                   .n_head_kv = 2,
                                   .n_ctx = 256,
                                   .rope_freq_base = 10000.0f},
                         .vocab_path = vocab,
                         .ftype = ft,
                         .seed = seed,
                         .n_threads = threads};
    return p;
}

static void synth(const char *out, const rx_synth_params *p)
{
    if (rx_synth_write(out, p) != RX_OK) fail_msg("%s", rx_last_error());
}

static void expect_tensor(const rx_gguf *g, const char *name, rx_type type, int64_t ne0,
                          int64_t ne1)
{
    const rx_gguf_tensor *t = rx_gguf_find_tensor(g, name);
    if (!t) fail_msg("no tensor %s", name);
    if (t->type != type)
        fail_msg("%s is %s, want %s", name, rx_type_name(t->type), rx_type_name(type));
    assert_int_equal(t->ne[0], ne0);
    assert_int_equal(t->ne[1], ne1);
}

static void check_model(const char *path, rx_type matrix, rx_type output)
{
    rx_model *m;
    if (rx_model_load(path, &m) != RX_OK) fail_msg("%s", rx_last_error());
    const rx_model_hparams *hp = rx_model_hparams_of(m);
    assert_int_equal(hp->n_embd, 64);
    assert_int_equal(hp->n_ff, 96);
    assert_int_equal(hp->n_layer, 2);
    assert_int_equal(hp->n_head, 4);
    assert_int_equal(hp->n_head_kv, 2);
    assert_int_equal(hp->n_ctx_train, 256);
    assert_int_equal(hp->n_vocab, 32000);
    const rx_gguf *g = rx_model_gguf(m);
    assert_int_equal(rx_gguf_n_tensors(g), 3 + 9 * 2);
    expect_tensor(g, "token_embd.weight", matrix, 64, 32000);
    expect_tensor(g, "output.weight", output, 64, 32000);
    expect_tensor(g, "output_norm.weight", RX_TYPE_F32, 64, 1);
    for (int l = 0; l < 2; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_k.weight", l);
        expect_tensor(g, name, matrix, 64, 32);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        expect_tensor(g, name, matrix, 96, 64);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        expect_tensor(g, name, RX_TYPE_F32, 64, 1);
    }
    /* it runs */
    rx_context *c;
    rx_context_params cp = rx_context_default_params();
    assert_int_equal(rx_context_create(m, &cp, &c), RX_OK);
    const int32_t tok[2] = {1, 15043}, pos[2] = {0, 1};
    rx_batch b = {2, tok, pos, NULL, NULL};
    assert_int_equal(rx_decode(c, &b), RX_OK);
    const float *logits = rx_logits(c, 0);
    for (int i = 0; i < 32000; i++)
        assert_true(isfinite(logits[i]));
    rx_context_free(c);
    rx_model_free(m);
}

static void test_types_and_loading(void **state)
{
    (void)state;
    const char *out = tmp_path("synth.gguf");
    rx_synth_params p = small(RX_FTYPE_F16, 1, 2);
    synth(out, &p);
    check_model(out, RX_TYPE_F16, RX_TYPE_F16);
    p = small(RX_FTYPE_Q8_0, 1, 2);
    synth(out, &p);
    check_model(out, RX_TYPE_Q8_0, RX_TYPE_Q8_0);
    /* Q4_0: the output would be Q6_K, whose 256-blocks rows of 64 do not fit: Q8_0 */
    p = small(RX_FTYPE_Q4_0, 1, 2);
    synth(out, &p);
    check_model(out, RX_TYPE_Q4_0, RX_TYPE_Q8_0);
    assert_false(access(tmp_path("synth.gguf.tmp"), F_OK) == 0);
    unlink(out);
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    const char *a = tmp_path("a.gguf"), *b = tmp_path("b.gguf");
    rx_synth_params p = small(RX_FTYPE_Q8_0, 42, 1);
    synth(a, &p);
    p.n_threads = 3;
    synth(b, &p);
    size_t na, nb;
    char *x = rxt_read_file(a, &na), *y = rxt_read_file(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, na);
    free(y);
    p.seed = 43;
    synth(b, &p);
    y = rxt_read_file(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_not_equal(x, y, na);
    free(x);
    free(y);
    unlink(a);
    unlink(b);
}

/* F32 weights: mean about 0, standard deviation about 0.02; norms exactly 1. */
static void test_distribution(void **state)
{
    (void)state;
    const char *out = tmp_path("f32.gguf");
    rx_synth_params p = small(RX_FTYPE_ALL_F32, 7, 2);
    synth(out, &p);
    rx_gguf *g;
    assert_int_equal(rx_gguf_open(out, &g), RX_OK);
    const rx_gguf_tensor *t = rx_gguf_find_tensor(g, "token_embd.weight");
    assert_int_equal(t->type, RX_TYPE_F32);
    const float *w = t->data;
    size_t n = (size_t)(t->ne[0] * t->ne[1]);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        sum += w[i];
        sq += (double)w[i] * w[i];
    }
    double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean);
    assert_true(fabs(mean) < 1e-4);
    assert_true(fabs(sd - 0.02) < 2e-4);
    const float *norm = rx_gguf_find_tensor(g, "blk.1.attn_norm.weight")->data;
    for (int i = 0; i < 64; i++)
        assert_true(norm[i] == 1.0f);
    rx_gguf_close(g);
    unlink(out);
}

static void test_failures(void **state)
{
    (void)state;
    const char *out = tmp_path("bad.gguf");
    rx_synth_params p = small(RX_FTYPE_F16, 1, 1);
    p.shape.n_head = 5;
    assert_int_equal(rx_synth_write(out, &p), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "do not divide into heads"));
    p = small(RX_FTYPE_F16, 1, 1);
    p.vocab_path = "/nonexistent.gguf";
    assert_int_equal(rx_synth_write(out, &p), RX_ERR_IO);
    p.vocab_path = rxt_shared("models/stories260K.bin");
    assert_int_equal(rx_synth_write(out, &p), RX_ERR_FORMAT);
    /* Q8_0 with n_ff 100: ffn_down rows fit no block and Q8_0 has no fallback */
    p = small(RX_FTYPE_Q8_0, 1, 1);
    p.shape.n_ff = 100;
    assert_int_equal(rx_synth_write(out, &p), RX_ERR_UNSUPPORTED);
    assert_false(access(out, F_OK) == 0);
    assert_false(access(tmp_path("bad.gguf.tmp"), F_OK) == 0);
    rx_synth_shape sh;
    assert_true(rx_synth_shape_find("TinyLlama-1.1B", &sh));
    assert_int_equal(sh.n_embd, 2048);
    assert_int_equal(sh.n_ff, 5632);
    assert_int_equal(sh.n_layer, 22);
    assert_int_equal(sh.n_head_kv, 4);
    assert_false(rx_synth_shape_find("gpt-5", &sh));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_loading),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(rxt_tmpdir());
    return rc;
}
