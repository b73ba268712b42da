/* Correctness against llama.cpp (../shared/ref, method in ref/README.md): for every reference
 * line, teacher-forced log-probabilities of the reference top-5 at every generated position
 * within the tolerance, and for the trained stories260K models the greedy tokens
 * identical. Tolerances: 1e-3 (F32, F16), 5e-3 (quantized stories260K), 2e-2 (tiny-random). */
#include "rxtest.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/model.h"
#include "reflex/sampler.h"

typedef struct {
    const char *name;
    double tolerance;
    bool greedy_exact;
} ref_case;

static const ref_case cases[] = {
    {"stories260K", 1e-3, true},         {"stories260K-F16", 1e-3, true},
    {"stories260K-Q4_K_M", 5e-3, true},  {"tiny-random-F16", 2e-2, false},
    {"tiny-random-Q8_0", 2e-2, false},   {"tiny-random-Q4_0", 2e-2, false},
    {"tiny-random-Q4_K_M", 2e-2, false}, {"tiny-random-Q6_K", 2e-2, false},
};

#define MAX_TOKENS 256

/* A defect in the reference data, not in the engine: from step 26 on, line 10 of
 * tiny-random-Q6_K.jsonl is not reproduced by the llama.cpp build that wrote it (b4748 built
 * for AVX2, prompt batched then token by token, measured at 0.3025 off in every mode), and
 * reflex is off by the same 0.3025. Those steps are reported, not scored; the test insists
 * the defect is still there, so the exemption goes away with it. */
typedef struct {
    const char *model;
    int line, from_step;
} ref_defect;

static const ref_defect defects[] = {{"tiny-random-Q6_K", 10, 26}};

static int defect_from(const char *model, int line)
{
    for (size_t i = 0; i < sizeof defects / sizeof defects[0]; i++)
        if (strcmp(defects[i].model, model) == 0 && defects[i].line == line)
            return defects[i].from_step;
    return -1;
}

typedef struct {
    int32_t tok[MAX_TOKENS];
    int n_prompt, n_gen;
} ref_line;

static void read_line(json_t *j, ref_line *r)
{
    json_t *pt = json_object_get(j, "prompt_tokens"), *tk = json_object_get(j, "tokens");
    r->n_prompt = (int)json_array_size(pt);
    r->n_gen = (int)json_array_size(tk);
    assert_true(r->n_prompt + r->n_gen <= MAX_TOKENS);
    for (int i = 0; i < r->n_prompt; i++)
        r->tok[i] = (int32_t)json_integer_value(json_array_get(pt, i));
    for (int i = 0; i < r->n_gen; i++)
        r->tok[r->n_prompt + i] = (int32_t)json_integer_value(json_array_get(tk, i));
}

/* Feeds the prompt as one batch, then each reference token alone (how the reference was made:
 * llama.cpp's schedules differ between batches and single tokens), and compares every top-5
 * log-probability. */
static double teacher_forced_error(rx_context *c, const ref_line *r, json_t *steps, int32_t n_vocab,
                                   int skip_from, double *skipped_worst)
{
    int32_t pos[MAX_TOKENS];
    for (int i = 0; i < r->n_prompt + r->n_gen; i++)
        pos[i] = i;
    rx_seq_clear(c, 0);
    rx_batch b = {r->n_prompt, r->tok, pos, NULL, NULL};
    assert_int_equal(rx_decode(c, &b), RX_OK);
    double worst = 0.0;
    for (int s = 0; s < r->n_gen; s++) {
        if (s > 0) {
            const int i = r->n_prompt + s - 1;
            rx_batch one = {1, &r->tok[i], &pos[i], NULL, NULL};
            assert_int_equal(rx_decode(c, &one), RX_OK);
        }
        json_t *top = json_object_get(json_array_get(steps, (size_t)s), "top");
        for (size_t k = 0; k < json_array_size(top); k++) {
            json_t *pair = json_array_get(top, k);
            int32_t id = (int32_t)json_integer_value(json_array_get(pair, 0));
            double want_lp = json_real_value(json_array_get(pair, 1));
            rx_sample_info info;
            rx_logprobs(rx_logits(c, 0), n_vocab, id, 0, &info);
            double e = fabs((double)info.logprob - want_lp);
            if (skip_from >= 0 && s >= skip_from) {
                if (e > *skipped_worst) *skipped_worst = e;
            } else if (e > worst) {
                worst = e;
            }
        }
    }
    return worst;
}

/* Decodes the prompt, then one greedy token at a time; returns how many match the reference. */
static int greedy_matches(rx_context *c, const ref_line *r, rx_sampler *greedy)
{
    int32_t pos[MAX_TOKENS];
    for (int i = 0; i < r->n_prompt; i++)
        pos[i] = i;
    rx_seq_clear(c, 0);
    rx_batch b = {r->n_prompt, r->tok, pos, NULL, NULL};
    assert_int_equal(rx_decode(c, &b), RX_OK);
    for (int s = 0; s < r->n_gen; s++) {
        int32_t next = rx_sampler_sample(greedy, rx_logits(c, 0), NULL), p = r->n_prompt + s;
        if (next != r->tok[r->n_prompt + s]) return s;
        rx_batch one = {1, &next, &p, NULL, NULL};
        assert_int_equal(rx_decode(c, &one), RX_OK);
    }
    return r->n_gen;
}

static void run_case(const ref_case *rc, const char *kernels)
{
    char path[512], ref[512];
    snprintf(path, sizeof path, "%s", rxt_shared("models/"));
    snprintf(path + strlen(path), sizeof path - strlen(path), "%s.gguf", rc->name);
    snprintf(ref, sizeof ref, "%s", rxt_shared("ref/"));
    snprintf(ref + strlen(ref), sizeof ref - strlen(ref), "%s.jsonl", rc->name);
    rx_model *m;
    if (rx_model_load(path, &m) != RX_OK) fail_msg("%s", rx_last_error());
    const int32_t n_vocab = (int32_t)rx_model_hparams_of(m)->n_vocab;
    rx_context_params p = rx_context_default_params();
    p.n_ctx = MAX_TOKENS;
    p.n_outputs = MAX_TOKENS;
    p.n_threads = 2;
    p.kernels = kernels;
    rx_context *c;
    assert_int_equal(rx_context_create(m, &p, &c), RX_OK);
    rx_sampler_params sp = rx_sampler_default_params();
    sp.temperature = 0.0f;
    rx_sampler *greedy;
    assert_int_equal(rx_sampler_create(&sp, n_vocab, &greedy), RX_OK);

    FILE *f = fopen(ref, "r");
    assert_non_null(f);
    static char line[1 << 20];
    int n_lines = 0, failures = 0;
    double worst = 0.0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        ref_line r;
        read_line(j, &r);
        const int skip = defect_from(rc->name, n_lines);
        double defect_err = 0.0;
        double err = teacher_forced_error(c, &r, json_object_get(j, "steps"), n_vocab, skip,
                                          &defect_err);
        if (skip >= 0) {
            print_message("%s line %d: steps %d+ are a reference defect (error %.4f, not scored)\n",
                          rc->name, n_lines, skip, defect_err);
            if (defect_err <= rc->tolerance) {
                print_error("%s line %d: the reference defect is gone; drop the exemption\n",
                            rc->name, n_lines);
                failures++;
            }
        }
        if (err > worst) worst = err;
        if (err > rc->tolerance) {
            print_error("%s [%s] line %d: worst top-5 logprob error %.6f > %.0e\n", rc->name,
                        rx_context_kernels(c), n_lines, err, rc->tolerance);
            failures++;
        }
        if (rc->greedy_exact) {
            int ok = greedy_matches(c, &r, greedy);
            if (ok != r.n_gen) {
                print_error("%s [%s] line %d: greedy diverges at token %d of %d\n", rc->name,
                            rx_context_kernels(c), n_lines, ok, r.n_gen);
                failures++;
            }
        }
        json_decref(j);
        n_lines++;
    }
    fclose(f);
    print_message("%s [%s]: worst top-5 logprob error %.2e (tolerance %.0e)\n", rc->name,
                  rx_context_kernels(c), worst, rc->tolerance);
    assert_int_equal(n_lines, 12);
    rx_sampler_free(greedy);
    rx_context_free(c);
    rx_model_free(m);
    assert_int_equal(failures, 0);
}

static void test_ref(void **state)
{
    const ref_case *rc = *state;
    run_case(rc, NULL);
}

static void test_ref_plain_kernels(void **state)
{
    const ref_case *rc = *state;
    run_case(rc, "ref");
}

int main(void)
{
    struct CMUnitTest tests[2 * sizeof cases / sizeof cases[0]];
    size_t n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tests[n++] = (struct CMUnitTest){cases[i].name, test_ref, NULL, NULL, (void *)&cases[i]};
        tests[n++] = (struct CMUnitTest){cases[i].name, test_ref_plain_kernels, NULL, NULL,
                                         (void *)&cases[i]};
    }
    return _cmocka_run_group_tests("ref", tests, n, NULL, NULL);
}
