/* engine/sampler.c: each stage of the chain, determinism per seed, logprobs, bad parameters. */
#include "rxtest.h"

#include <math.h>
#include <string.h>

#include "reflex/sampler.h"

#define V 64

static void make_logits(float *l, uint32_t seed)
{
    for (int i = 0; i < V; i++) {
        seed = seed * 1664525u + 1013904223u;
        l[i] = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
}

static int argmax(const float *l)
{
    int b = 0;
    for (int i = 1; i < V; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static rx_sampler *make(rx_sampler_params p)
{
    rx_sampler *s;
    assert_int_equal(rx_sampler_create(&p, V, &s), RX_OK);
    return s;
}

static void test_greedy(void **state)
{
    (void)state;
    rx_sampler_params p = rx_sampler_default_params();
    p.temperature = 0.0f;
    rx_sampler *s = make(p);
    float l[V];
    for (uint32_t k = 0; k < 20; k++) {
        make_logits(l, k);
        assert_int_equal(rx_sampler_sample(s, l, NULL), argmax(l));
    }
    rx_sampler_free(s);
}

/* Filters that keep only the most likely token must reduce sampling to greedy. */
static void test_filters_that_keep_one(void **state)
{
    (void)state;
    float l[V];
    rx_sampler_params variants[3];
    for (int v = 0; v < 3; v++) {
        variants[v] = rx_sampler_default_params();
        variants[v].temperature = 5.0f;
        variants[v].top_k = 0;
        variants[v].top_p = 1.0f;
        variants[v].min_p = 0.0f;
    }
    variants[0].top_k = 1;
    variants[1].top_p = 1e-6f;
    variants[2].min_p = 1.0f;
    for (int v = 0; v < 3; v++) {
        rx_sampler *s = make(variants[v]);
        for (uint32_t k = 0; k < 50; k++) {
            make_logits(l, k + 100);
            assert_int_equal(rx_sampler_sample(s, l, NULL), argmax(l));
        }
        rx_sampler_free(s);
    }
}

static void test_same_seed_same_tokens(void **state)
{
    (void)state;
    rx_sampler_params p = rx_sampler_default_params();
    p.temperature = 1.5f;
    p.top_k = 0;
    p.min_p = 0.0f;
    p.seed = 42;
    rx_sampler *a = make(p), *b = make(p);
    p.seed = 43;
    rx_sampler *c = make(p);
    float l[V];
    int differ = 0, distinct[V] = {0};
    for (uint32_t k = 0; k < 200; k++) {
        make_logits(l, k % 3);
        int x = rx_sampler_sample(a, l, NULL), y = rx_sampler_sample(b, l, NULL);
        assert_int_equal(x, y);
        differ += x != rx_sampler_sample(c, l, NULL);
        distinct[x] = 1;
    }
    int n_distinct = 0;
    for (int i = 0; i < V; i++) n_distinct += distinct[i];
    assert_true(differ > 0);      /* another seed, another stream */
    assert_true(n_distinct > 5);  /* and it really samples */
    rx_sampler_reset(a);
    rx_sampler_reset(b);
    make_logits(l, 0);
    assert_int_equal(rx_sampler_sample(a, l, NULL), rx_sampler_sample(b, l, NULL));
    rx_sampler_free(a);
    rx_sampler_free(b);
    rx_sampler_free(c);
}

/* top-k = 3 never picks outside the three largest logits. */
static void test_top_k_bounds(void **state)
{
    (void)state;
    rx_sampler_params p = rx_sampler_default_params();
    p.temperature = 10.0f;
    p.top_k = 3;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    rx_sampler *s = make(p);
    float l[V];
    make_logits(l, 7);
    float sorted[V];
    memcpy(sorted, l, sizeof l);
    for (int i = 0; i < V; i++)
        for (int j = i + 1; j < V; j++)
            if (sorted[j] > sorted[i]) {
                float t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    for (int k = 0; k < 300; k++) assert_true(l[rx_sampler_sample(s, l, NULL)] >= sorted[2]);
    rx_sampler_free(s);
}

/* A repeated token loses to the runner-up once the penalty is large enough. */
static void test_penalties(void **state)
{
    (void)state;
    float l[V] = {0};
    l[5] = 2.0f;
    l[9] = 1.5f;
    rx_sampler_params p = rx_sampler_default_params();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.5f;
    rx_sampler *s = make(p);
    rx_sampler_accept(s, 5);
    assert_int_equal(rx_sampler_sample(s, l, NULL), 9); /* 2.0 / 1.5 < 1.5 */
    rx_sampler_free(s);
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.3f;
    s = make(p);
    rx_sampler_accept(s, 5);
    assert_int_equal(rx_sampler_sample(s, l, NULL), 5); /* 2.0 - 0.3 > 1.5 */
    rx_sampler_accept(s, 5);                             /* history now holds 5 three times */
    assert_int_equal(rx_sampler_sample(s, l, NULL), 9); /* 2.0 - 0.9 < 1.5 */
    rx_sampler_free(s);
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.6f;
    s = make(p);
    rx_sampler_accept(s, 5);
    assert_int_equal(rx_sampler_sample(s, l, NULL), 9);
    rx_sampler_free(s);
}

static void test_logprobs(void **state)
{
    (void)state;
    float l[V];
    make_logits(l, 3);
    rx_sample_info info;
    rx_logprobs(l, V, 11, 5, &info);
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)l[i]);
    assert_float_equal(info.logprob, (float)(l[11] - log(sum)), 1e-5);
    assert_int_equal(info.n_top, 5);
    assert_int_equal(info.top[0].id, argmax(l));
    for (int i = 1; i < 5; i++) assert_true(info.top[i - 1].logprob >= info.top[i].logprob);
    rx_sampler_params p = rx_sampler_default_params();
    p.temperature = 0.0f;
    p.n_top_logprobs = 3;
    rx_sampler *s = make(p);
    int id = rx_sampler_sample(s, l, &info);
    assert_int_equal(info.id, id);
    assert_int_equal(info.top[0].id, id);
    assert_float_equal(info.top[0].logprob, info.logprob, 1e-6);
    rx_sampler_free(s);
}

static void test_bad_params(void **state)
{
    (void)state;
    rx_sampler *s;
    rx_sampler_params p = rx_sampler_default_params();
    p.temperature = NAN;
    assert_int_equal(rx_sampler_create(&p, V, &s), RX_ERR_INVALID_ARG);
    p = rx_sampler_default_params();
    p.top_p = -0.5f;
    assert_int_equal(rx_sampler_create(&p, V, &s), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "top_p"));
    p = rx_sampler_default_params();
    p.n_top_logprobs = 99;
    assert_int_equal(rx_sampler_create(&p, V, &s), RX_ERR_INVALID_ARG);
    p = rx_sampler_default_params();
    p.repeat_penalty = 0.0f;
    assert_int_equal(rx_sampler_create(&p, V, &s), RX_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),          cmocka_unit_test(test_filters_that_keep_one),
        cmocka_unit_test(test_same_seed_same_tokens), cmocka_unit_test(test_top_k_bounds),
        cmocka_unit_test(test_penalties),       cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
