/* engine/model.c, context.c, forward.c: loading every shared model, refusing inconsistent
 * llama.* hyper-parameters, checking batches, and KV-cache behaviour (rewind, sequences). */
#include "rxtest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reflex/gguf.h"
#include "reflex/model.h"

static const char *models[] = {
    "stories260K.gguf",   "stories260K-F16.gguf",  "stories260K-Q4_K_M.gguf",
    "tiny-random-F16.gguf", "tiny-random-Q8_0.gguf", "tiny-random-Q4_0.gguf",
    "tiny-random-Q4_K_M.gguf", "tiny-random-Q6_K.gguf",
};

static void test_every_model_loads(void **state)
{
    (void)state;
    char path[512];
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        snprintf(path, sizeof path, "%s", rxt_shared("models/"));
        strncat(path, models[i], sizeof path - strlen(path) - 1);
        rx_model *m;
        rx_status s = rx_model_load(path, &m);
        if (s != RX_OK) fail_msg("%s: %s", models[i], rx_last_error());
        const rx_model_hparams *hp = rx_model_hparams_of(m);
        assert_string_equal(hp->arch, "llama");
        assert_true(hp->n_vocab == 512 || hp->n_vocab == 32000);
        rx_context *c;
        rx_context_params p = rx_context_default_params();
        p.n_ctx = 64;
        assert_int_equal(rx_context_create(m, &p, &c), RX_OK);
        rx_context_free(c);
        rx_model_free(m);
    }
}

/* Rewrites stories260K.gguf with one metadata key replaced (or removed) and expects the
 * loader to refuse it with a message naming that key. */
static void expect_refused(const char *key, int kind, double value, const char *want)
{
    rx_gguf *g;
    assert_int_equal(rx_gguf_open(rxt_shared("models/stories260K.gguf"), &g), RX_OK);
    rx_gguf_writer *w;
    assert_int_equal(rx_gguf_writer_create(&w), RX_OK);
    for (int64_t i = 0; i < rx_gguf_n_kv(g); i++)
        if (strcmp(rx_gguf_key(g, i), key) != 0) rx_gguf_copy_kv(w, g, i);
    if (kind == 1) rx_gguf_set_u32(w, key, (uint32_t)value);
    if (kind == 2) rx_gguf_set_f32(w, key, (float)value);
    if (kind == 3) rx_gguf_set_str(w, key, "gpt-neox");
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        rx_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bad.gguf", rxt_tmpdir());
    assert_int_equal(rx_gguf_writer_write_file(w, path), RX_OK);
    rx_gguf_writer_destroy(w);
    rx_gguf_close(g);
    rx_model *m = NULL;
    rx_status s = rx_model_load(path, &m);
    assert_int_not_equal(s, RX_OK);
    assert_null(m);
    if (!strstr(rx_last_error(), want)) fail_msg("%s: message '%s' lacks '%s'", key, rx_last_error(), want);
}

static void test_inconsistent_hparams(void **state)
{
    (void)state;
    expect_refused("llama.attention.head_count", 1, 7, "head_count");     /* 64 % 7 */
    expect_refused("llama.attention.head_count_kv", 1, 3, "head_count_kv"); /* 8 % 3 */
    expect_refused("llama.attention.head_count", 1, 0, "head_count");
    expect_refused("llama.embedding_length", 1, 128, "token_embd.weight");  /* shapes disagree */
    expect_refused("llama.feed_forward_length", 1, 100, "ffn_gate");
    expect_refused("llama.block_count", 1, 6, "blk.5");                     /* missing layer */
    expect_refused("llama.block_count", 1, 0, "block_count");
    expect_refused("llama.block_count", 1, 4000000000.0, "block_count");
    expect_refused("llama.rope.dimension_count", 1, 9, "rope.dimension_count");
    expect_refused("llama.rope.dimension_count", 1, 64, "rope.dimension_count");
    expect_refused("llama.attention.layer_norm_rms_epsilon", 2, -1.0, "epsilon");
    expect_refused("llama.context_length", 1, 0, "context_length");
    expect_refused("llama.embedding_length", 0, 0, "embedding_length");     /* missing */
    expect_refused("general.architecture", 3, 0, "not supported");
    expect_refused("llama.vocab_size", 1, 511, "vocab_size");
}

static rx_context *make_ctx(rx_model **m, const char *name, uint32_t n_seq)
{
    assert_int_equal(rx_model_load(rxt_shared(name), m), RX_OK);
    rx_context_params p = rx_context_default_params();
    p.n_ctx = 32;
    p.n_seq = n_seq;
    p.n_batch = 16;
    p.n_outputs = 16;
    rx_context *c;
    assert_int_equal(rx_context_create(*m, &p, &c), RX_OK);
    return c;
}

static void test_bad_batches_leave_cache_alone(void **state)
{
    (void)state;
    rx_model *m;
    rx_context *c = make_ctx(&m, "models/stories260K.gguf", 2);
    int32_t tok[4] = {1, 403, 407, 261}, pos[4] = {0, 1, 2, 3}, seq[4] = {0, 0, 0, 0};
    rx_batch ok = {4, tok, pos, seq, NULL};
    assert_int_equal(rx_decode(c, &ok), RX_OK);
    assert_int_equal(rx_seq_len(c, 0), 4);

    int32_t bad_tok[1] = {512}, p4[1] = {4}, s0[1] = {0}, s9[1] = {9}, p9[1] = {9}, p99[1] = {99};
    rx_batch b1 = {1, bad_tok, p4, s0, NULL};
    assert_int_equal(rx_decode(c, &b1), RX_ERR_RANGE);
    rx_batch b2 = {1, tok, p4, s9, NULL};
    assert_int_equal(rx_decode(c, &b2), RX_ERR_RANGE);
    rx_batch b3 = {1, tok, p9, s0, NULL}; /* gap: next position is 4 */
    assert_int_equal(rx_decode(c, &b3), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "gap"));
    rx_batch b4 = {1, tok, p99, s0, NULL}; /* past the context */
    assert_int_equal(rx_decode(c, &b4), RX_ERR_RANGE);
    rx_batch b5 = {0, tok, pos, seq, NULL};
    assert_int_equal(rx_decode(c, &b5), RX_ERR_RANGE);
    rx_batch b6 = {17, tok, pos, seq, NULL}; /* larger than n_batch */
    assert_int_equal(rx_decode(c, &b6), RX_ERR_RANGE);
    assert_int_equal(rx_seq_len(c, 0), 4);
    rx_context_free(c);
    rx_model_free(m);
}

/* Decoding a prompt in one batch, token by token, or interleaved with another sequence gives
 * the same logits up to summation order (batches and single tokens sum in different orders, as
 * in llama.cpp, which this tiny model amplifies to ~1e-4); rewinding to an earlier position
 * recomputes from there. */
static void test_batching_is_consistent(void **state)
{
    (void)state;
    rx_model *m;
    rx_context *c = make_ctx(&m, "models/stories260K.gguf", 2);
    const int n = 6;
    int32_t tok[6] = {1, 403, 407, 261, 378, 432}, pos[6] = {0, 1, 2, 3, 4, 5};
    float whole[512], step[512];
    rx_batch all = {n, tok, pos, NULL, NULL};
    assert_int_equal(rx_decode(c, &all), RX_OK);
    memcpy(whole, rx_logits(c, 0), sizeof whole);

    int32_t seq1 = 1;
    for (int i = 0; i < n; i++) {
        /* interleave sequence 1 token-by-token with a rewind of sequence 0 to position 5 */
        int32_t t2[2] = {tok[i], tok[5]}, p2[2] = {pos[i], 5}, s2[2] = {seq1, 0};
        int8_t want[2] = {1, 1};
        rx_batch b = {i == n - 1 ? 2 : 1, t2, p2, s2, want};
        assert_int_equal(rx_decode(c, &b), RX_OK);
    }
    memcpy(step, rx_logits(c, 0), sizeof step);
    for (int v = 0; v < 512; v++) assert_float_equal(whole[v], step[v], 1e-3);
    memcpy(step, rx_logits(c, 1), sizeof step); /* sequence 0 rewound to 5 and re-decoded */
    for (int v = 0; v < 512; v++) assert_float_equal(whole[v], step[v], 1e-3);
    assert_null(rx_logits(c, 2));
    rx_seq_clear(c, 1);
    assert_int_equal(rx_seq_len(c, 1), 0);
    rx_context_free(c);
    rx_model_free(m);
}

static void test_context_params(void **state)
{
    (void)state;
    rx_model *m;
    assert_int_equal(rx_model_load(rxt_shared("models/stories260K.gguf"), &m), RX_OK);
    rx_context *c;
    rx_context_params p = rx_context_default_params();
    p.kv_type = RX_TYPE_Q8_0; /* head size 8 cannot hold Q8_0 blocks */
    assert_int_equal(rx_context_create(m, &p, &c), RX_ERR_UNSUPPORTED);
    p = rx_context_default_params();
    p.kv_type = RX_TYPE_Q4_0;
    assert_int_equal(rx_context_create(m, &p, &c), RX_ERR_UNSUPPORTED);
    p = rx_context_default_params();
    p.n_ctx = 1u << 30;
    assert_int_equal(rx_context_create(m, &p, &c), RX_ERR_RANGE);
    rx_model_free(m);
    assert_int_not_equal(rx_model_load(rxt_shared("models/stories260K.bin"), &m), RX_OK);
    assert_int_not_equal(rx_model_load("/nonexistent.gguf", &m), RX_OK);
    assert_non_null(strstr(rx_last_error(), "/nonexistent.gguf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_model_loads),
        cmocka_unit_test(test_inconsistent_hparams),
        cmocka_unit_test(test_bad_batches_leave_cache_alone),
        cmocka_unit_test(test_batching_is_consistent),
        cmocka_unit_test(test_context_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
