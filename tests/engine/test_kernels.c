/* engine/kernels: every SIMD kernel against its plain-C twin on random data (odd sizes, one
 * and many blocks) -- bit for bit, since both follow llama.cpp's summation order --,
 * dequantize(quantize(x)) error per type, the activation quantizers, and ggml's vector exp. */
#include "rxtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/internal.h"
#include "engine/kernels/kernels.h"

/* Relative RMS error of dequantize(quantize(x)) for x ~ N(0,1), per type: a 4-bit grid over a
 * block's range gives ~0.1, 5 bits half that, 8 bits ~0.005; K types fit scales and mins. */
static const struct {
    rx_type type;
    double max_rel_rms;
} round_trip_bound[] = {
    {RX_TYPE_F32, 0},     {RX_TYPE_F16, 5e-4},  {RX_TYPE_BF16, 4e-3},
    {RX_TYPE_Q8_0, 8e-3}, {RX_TYPE_Q4_0, 0.13}, {RX_TYPE_Q5_0, 0.065},
    {RX_TYPE_Q4_K, 0.11}, {RX_TYPE_Q6_K, 0.03}, {RX_TYPE_Q8_K, 8e-3},
};

static const rx_type weight_types[] = {RX_TYPE_F32,  RX_TYPE_F16,  RX_TYPE_BF16, RX_TYPE_Q8_0,
                                       RX_TYPE_Q4_0, RX_TYPE_Q5_0, RX_TYPE_Q4_K, RX_TYPE_Q6_K};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static float gaussian(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static float *random_floats(int64_t n)
{
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = gaussian();
    return x;
}

/* Element counts to try for a type: one block, several, and an odd count for float types. */
static int sizes_for(rx_type t, int64_t out[4])
{
    int64_t bs = rx_type_get(t)->block_size;
    if (bs == 1) {
        out[0] = 1, out[1] = 7, out[2] = 45, out[3] = 1002; /* float tails: 1, 7, 13, 10 */
        return 4;
    }
    out[0] = bs, out[1] = 3 * bs, out[2] = 2048 > 8 * bs ? 2048 : 8 * bs;
    return 3;
}

static void test_round_trip(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref();
    for (size_t i = 0; i < sizeof round_trip_bound / sizeof round_trip_bound[0]; i++) {
        rx_type t = round_trip_bound[i].type;
        const int64_t n = 4096;
        float *x = random_floats(n), *back = malloc(n * sizeof *back);
        void *q = malloc(rx_row_size(t, n));
        ref->type[t].from_float(x, q, n);
        ref->type[t].to_float(q, back, n);
        double err = 0, norm = 0;
        for (int64_t k = 0; k < n; k++) {
            err += (double)(x[k] - back[k]) * (x[k] - back[k]);
            norm += (double)x[k] * x[k];
        }
        double rel = sqrt(err / norm);
        if (rel > round_trip_bound[i].max_rel_rms) {
            fail_msg("%s: round-trip rel rms %g > %g", rx_type_name(t), rel,
                     round_trip_bound[i].max_rel_rms);
        }
        /* the file quantizer must agree with the table's from_float for weight types */
        if (t != RX_TYPE_Q8_K && t != RX_TYPE_Q8_0) {
            void *q2 = malloc(rx_row_size(t, n));
            assert_int_equal(rx_quantize_rows(t, x, q2, 1, n), rx_row_size(t, n));
            assert_memory_equal(q, q2, rx_row_size(t, n));
            free(q2);
        }
        free(x), free(back), free(q);
    }
}

/* The activation quantizers of every set must produce the same bytes as ref's. */
static void test_activation_quantizers_match(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref(), *simd = rx_kernels_avx2();
    if (!simd) skip();
    const rx_type act[] = {RX_TYPE_F16, RX_TYPE_BF16, RX_TYPE_Q8_0, RX_TYPE_Q8_K};
    for (size_t i = 0; i < sizeof act / sizeof act[0]; i++) {
        const int64_t n = 2048;
        float *x = random_floats(n);
        x[5] = 0.5f * x[7]; /* ties and zero blocks exercise the rounding rules */
        for (int k = 256; k < 512; k++)
            x[k] = 0;
        size_t bytes = rx_row_size(act[i], n);
        void *a = malloc(bytes), *b = malloc(bytes);
        ref->type[act[i]].from_float(x, a, n);
        simd->type[act[i]].from_float(x, b, n);
        if (memcmp(a, b, bytes) != 0) fail_msg("%s: avx2 from_float differs", rx_type_name(act[i]));
        free(x), free(a), free(b);
    }
}

/* Q8_0 activations round half to even (llama.cpp's run-time path); files round away. */
static void test_q8_0_rounding(void **state)
{
    (void)state;
    float x[32] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f};
    uint8_t act[34], file[34];
    rx_kernels_ref()->type[RX_TYPE_Q8_0].from_float(x, act, 32);
    rx_quantize_rows(RX_TYPE_Q8_0, x, file, 1, 32);
    const int8_t *qa = (const int8_t *)act + 2, *qf = (const int8_t *)file + 2;
    assert_int_equal(qa[1], 0), assert_int_equal(qa[2], 2), assert_int_equal(qa[3], 2);
    assert_int_equal(qa[5], -2);
    assert_int_equal(qf[1], 1), assert_int_equal(qf[3], 3), assert_int_equal(qf[5], -3);
}

static double abs_dot(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)a[i] * b[i]);
    return s;
}

/* Weights (nr rows) and activations (nt rows) of length n, quantized by ref. */
typedef struct {
    void *w, *a;
    float *wf, *af; /* their dequantized values */
    size_t w_row, a_row;
} operands;

static operands make_operands(rx_type t, int64_t n, int nr, int nt)
{
    const rx_kernel_set *ref = rx_kernels_ref();
    rx_type vt = ref->type[t].vec_dot_type;
    operands o = {.w_row = rx_row_size(t, n), .a_row = rx_row_size(vt, n)};
    float *x = random_floats(n * (nr > nt ? nr : nt));
    o.w = malloc(o.w_row * nr), o.a = malloc(o.a_row * nt);
    o.wf = malloc(sizeof(float) * n * nr), o.af = malloc(sizeof(float) * n * nt);
    rx_quantize_rows(t, x, o.w, nr, n);
    for (int r = 0; r < nr; r++)
        ref->type[t].to_float((char *)o.w + r * o.w_row, o.wf + r * n, n);
    free(x);
    x = random_floats(n * nt);
    for (int k = 0; k < nt; k++) {
        ref->type[vt].from_float(x + k * n, (char *)o.a + k * o.a_row, n);
        ref->type[vt].to_float((char *)o.a + k * o.a_row, o.af + k * n, n);
    }
    free(x);
    return o;
}

static void free_operands(operands *o)
{
    free(o->w), free(o->a), free(o->wf), free(o->af);
}

static void test_vec_dot_matches_ref(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref(), *simd = rx_kernels_avx2();
    if (!simd) skip();
    for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++) {
        rx_type t = weight_types[i];
        int64_t sizes[4];
        int ns = sizes_for(t, sizes);
        for (int si = 0; si < ns; si++) {
            int64_t n = sizes[si];
            operands o = make_operands(t, n, 1, 1);
            float want, got;
            ref->type[t].vec_dot(n, &want, o.w, o.a);
            simd->type[t].vec_dot(n, &got, o.w, o.a);
            if (memcmp(&want, &got, sizeof want) != 0) {
                fail_msg("%s n=%lld: avx2 %a ref %a", rx_type_name(t), (long long)n, got, want);
            }
            free_operands(&o);
        }
    }
}

/* Every tile shape up to RX_TILE_ROWS x RX_TILE_TOKENS (and 5, 9, RX_TILE_MAX_TOKENS tokens
 * for wide tiles), in a strided y, against `want` for each (row, token): the same bits. */
static void check_tile(rx_type t, const char *what, rx_tile_fn tile, int64_t n, const operands *o,
                       void (*want)(rx_type, int64_t, float *, const void *, const void *))
{
    static const int tokens[] = {1, 2, 3, 4, 5, 9, RX_TILE_MAX_TOKENS};
    const bool wide = rx_kernels_ref()->type[t].wide_tiles ||
                      (rx_kernels_avx2() && rx_kernels_avx2()->type[t].wide_tiles);
    for (int nr = 1; nr <= RX_TILE_ROWS; nr++) {
        for (size_t ti = 0; ti < sizeof tokens / sizeof tokens[0]; ti++) {
            const int nt = tokens[ti];
            if (nt > RX_TILE_TOKENS && !wide) break;
            const int64_t ld = 7;
            static float s[RX_TILE_MAX_TOKENS * 7];
            tile(n, s, ld, o->w, o->w_row, o->a, o->a_row, nr, nt);
            for (int r = 0; r < nr; r++) {
                for (int k = 0; k < nt; k++) {
                    float w;
                    want(t, n, &w, (char *)o->w + r * o->w_row, (char *)o->a + k * o->a_row);
                    if (memcmp(&w, &s[k * ld + r], sizeof w) != 0) {
                        fail_msg("%s %s n=%lld tile %dx%d [%d,%d]: %a vs %a", rx_type_name(t), what,
                                 (long long)n, nr, nt, r, k, s[k * ld + r], w);
                    }
                }
            }
        }
    }
}

static void ref_vec_dot(rx_type t, int64_t n, float *s, const void *w, const void *a)
{
    rx_kernels_ref()->type[t].vec_dot(n, s, w, a);
}

static void ref_gemm(rx_type t, int64_t n, float *s, const void *w, const void *a)
{
    rx_kernels_ref()->type[t].gemm_tile(n, s, 1, w, 0, a, 0, 1, 1);
}

/* Tiles sum like the set's vec_dot (ggml's single-token order), gemm tiles like tinyBLAS. */
static void test_tiles_match_ref(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref(), *simd = rx_kernels_avx2();
    if (!simd) skip();
    for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++) {
        rx_type t = weight_types[i];
        int64_t sizes[4];
        int ns = sizes_for(t, sizes);
        for (int si = 0; si < ns; si++) {
            int64_t n = sizes[si];
            operands o = make_operands(t, n, RX_TILE_ROWS, RX_TILE_MAX_TOKENS);
            if (simd->type[t].tile) check_tile(t, "tile", simd->type[t].tile, n, &o, ref_vec_dot);
            assert_true(!simd->type[t].gemm_tile == !ref->type[t].gemm_tile);
            if (simd->type[t].gemm_tile && n % 8 == 0) {
                check_tile(t, "gemm", simd->type[t].gemm_tile, n, &o, ref_gemm);
                check_tile(t, "ref gemm", ref->type[t].gemm_tile, n, &o, ref_gemm);
            }
            free_operands(&o);
        }
    }
}

/* gemv (the single-token matmul) sums each row as the reference vec_dot does, for any row
 * count: groups of eight, the rows left over, and the float tails past multiples of 32. */
static void test_gemv_matches_vec_dot(void **state)
{
    (void)state;
    const rx_kernel_set *sets[2] = {rx_kernels_ref(), rx_kernels_avx2()};
    static const int64_t sizes[] = {1, 7, 32, 45, 64, 172, 1002, 8192}; /* 8192: prefetching */
    enum { MAX_ROWS = 41 };
    for (int si = 0; si < 2; si++) {
        if (!sets[si]) continue;
        for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++) {
            rx_type t = weight_types[i];
            rx_gemv_fn gemv = sets[si]->type[t].gemv;
            if (!gemv) continue;
            for (size_t ni = 0; ni < sizeof sizes / sizeof sizes[0]; ni++) {
                const int64_t n = sizes[ni];
                if (n % rx_type_get(t)->block_size) continue;
                operands o = make_operands(t, n, MAX_ROWS, 1);
                for (int64_t nr = 1; nr <= MAX_ROWS; nr++) {
                    float s[MAX_ROWS + 1], w;
                    s[nr] = 12345.0f;
                    gemv(n, s, o.w, o.w_row, o.a, nr);
                    assert_true(s[nr] == 12345.0f);
                    for (int64_t r = 0; r < nr; r++) {
                        ref_vec_dot(t, n, &w, (char *)o.w + r * o.w_row, o.a);
                        if (memcmp(&w, &s[r], sizeof w) != 0) {
                            fail_msg("%s %s gemv n=%lld rows %lld [%lld]: %a vs %a",
                                     sets[si]->name, rx_type_name(t), (long long)n,
                                     (long long)nr, (long long)r, s[r], w);
                        }
                    }
                }
                free_operands(&o);
            }
        }
    }
}

/* The two float orders differ (that is why both exist), yet both are dot products. */
static void test_gemm_order_is_a_dot(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref();
    const rx_type float_types[] = {RX_TYPE_F32, RX_TYPE_F16, RX_TYPE_BF16};
    for (size_t i = 0; i < 3; i++) {
        const int64_t n = 1024;
        operands o = make_operands(float_types[i], n, 1, 1);
        double want = 0;
        for (int64_t k = 0; k < n; k++)
            want += (double)o.wf[k] * o.af[k];
        float got;
        ref->type[float_types[i]].gemm_tile(n, &got, 1, o.w, 0, o.a, 0, 1, 1);
        if (fabs(want - got) > 1e-5 * abs_dot(o.wf, o.af, n))
            fail_msg("%s: gemm %g vs %g", rx_type_name(float_types[i]), got, want);
        free_operands(&o);
    }
}

static void ref_repack(rx_type t, int64_t n, float *s, const void *w, const void *a)
{
    rx_kernels_ref()->type[t].repack_tile(n, s, 1, w, 0, a, 0, 1, 1);
}

/* Every repacked-order shape (1..RX_REPACK_TILE_ROWS rows x 1..5, 9 and RX_TILE_MAX_TOKENS tokens,
 * strided y) against the ref, one product at a time: the same bits. */
static void check_repack(rx_type t, rx_tile_fn tile, int64_t n, const operands *o)
{
    static const int tokens[] = {1, 2, 3, 4, 5, 9, RX_TILE_MAX_TOKENS};
    for (int nr = 1; nr <= RX_REPACK_TILE_ROWS; nr++) {
        for (size_t ti = 0; ti < sizeof tokens / sizeof tokens[0]; ti++) {
            const int nt = tokens[ti];
            const int64_t ld = RX_REPACK_TILE_ROWS + 3;
            static float s[RX_TILE_MAX_TOKENS * (RX_REPACK_TILE_ROWS + 3)];
            tile(n, s, ld, o->w, o->w_row, o->a, o->a_row, nr, nt);
            for (int r = 0; r < nr; r++) {
                for (int k = 0; k < nt; k++) {
                    float w;
                    ref_repack(t, n, &w, (char *)o->w + r * o->w_row, (char *)o->a + k * o->a_row);
                    if (memcmp(&w, &s[k * ld + r], sizeof w) != 0) {
                        fail_msg("%s repack n=%lld tile %dx%d [%d,%d]: %a vs %a", rx_type_name(t),
                                 (long long)n, nr, nt, r, k, s[k * ld + r], w);
                    }
                }
            }
        }
    }
}

/* The repacked Q4_0 order (llama.cpp's Q4_0_8x8 path): AVX2 equals ref bit for bit, on random
 * data and on the largest block sums there are (codes 0 against activations -127, all 32 of
 * them, which a 16-bit sum only just holds), and it is a dot product. */
static void test_repack_matches_ref(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref(), *simd = rx_kernels_avx2();
    const rx_type t = RX_TYPE_Q4_0;
    assert_non_null(ref->type[t].repack_tile);
    const int64_t sizes[] = {32, 96, 2048, 5632};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int64_t n = sizes[si];
        operands o = make_operands(t, n, RX_REPACK_TILE_ROWS, RX_TILE_MAX_TOKENS);
        if (n == 96) {
            for (int r = 0; r < RX_REPACK_TILE_ROWS; r++) {
                rx_block_q4_0 *b = (rx_block_q4_0 *)((char *)o.w + r * o.w_row);
                memset(b[1].qs, r % 2 ? 0x00 : 0xFF, sizeof b[1].qs); /* -8 or +7 throughout */
            }
            for (int k = 0; k < RX_TILE_MAX_TOKENS; k++) {
                rx_block_q8_0 *b = (rx_block_q8_0 *)((char *)o.a + k * o.a_row);
                memset(b[1].qs, k % 2 ? 0x81 : 0x7F, sizeof b[1].qs); /* -127 or +127 */
            }
        }
        if (simd) {
            assert_non_null(simd->type[t].repack_tile);
            check_repack(t, simd->type[t].repack_tile, n, &o);
        }
        check_repack(t, ref->type[t].repack_tile, n, &o);
        if (n == 2048) {
            float wf[2048], got;
            memcpy(wf, o.wf, sizeof wf);
            double want = 0;
            for (int64_t k = 0; k < n; k++)
                want += (double)wf[k] * o.af[k];
            ref_repack(t, n, &got, o.w, o.a);
            if (fabs(want - got) > 1e-5 * abs_dot(wf, o.af, n))
                fail_msg("repack %g vs %g", got, want);
        }
        free_operands(&o);
    }
}

/* ggml's vector exp: within 2 ulp of exp, 0 and inf at the ends; silu and softmax
 * identical in both sets (silu's expf tail, softmax's padded last group included). */
static void test_activations(void **state)
{
    (void)state;
    for (float x = -87.0f; x < 88.0f; x += 0.0137f) { /* normal results */
        double e = exp((double)x), got = rx_kernels__expf_ggml(x);
        if (fabs(got - e) > 2.5 * e * 0x1p-23) fail_msg("expf_ggml(%a) = %a vs %a", x, got, e);
    }
    assert_true(rx_kernels__expf_ggml(-INFINITY) == 0.0f);
    assert_true(rx_kernels__expf_ggml(-200.0f) == 0.0f);
    assert_true(isinf(rx_kernels__expf_ggml(100.0f)));
    const rx_kernel_set *ref = rx_kernels_ref(), *simd = rx_kernels_avx2();
    if (!simd) skip();
    const int64_t n = 1003; /* a scalar tail too */
    float *x = random_floats(n), a[1003], b[1003];
    for (int64_t i = 0; i < n; i++)
        x[i] *= i % 5 == 0 ? 40.0f : 4.0f; /* some past exp's range reduction limits */
    x[10] = -INFINITY;
    ref->silu(n, a, x), simd->silu(n, b, x);
    assert_memory_equal(a, b, sizeof a);
    /* softmax: every length up to 40 (partial last groups), and the long row */
    for (int64_t len = 1; len <= n; len = len < 40 ? len + 1 : n) {
        memcpy(a, x, (size_t)len * sizeof *a);
        memcpy(b, x, (size_t)len * sizeof *b);
        ref->softmax(a, len, 0.35f), simd->softmax(b, len, 0.35f);
        assert_memory_equal(a, b, (size_t)len * sizeof *a);
        if (len == n) break;
    }
    free(x);
}

/* ref vec_dot agrees with a double-precision dot of the dequantized operands. */
static void test_ref_dot_exactness(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref();
    for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++) {
        rx_type t = weight_types[i];
        const int64_t n = 1024;
        operands o = make_operands(t, n, 1, 1);
        double want = 0;
        for (int64_t k = 0; k < n; k++)
            want += (double)o.wf[k] * o.af[k];
        float got;
        ref->type[t].vec_dot(n, &got, o.w, o.a);
        double tol = 1e-5 * abs_dot(o.wf, o.af, n);
        if (fabs(want - got) > tol) fail_msg("%s: ref dot %g vs %g", rx_type_name(t), got, want);
        free_operands(&o);
    }
}

static void test_select(void **state)
{
    (void)state;
    assert_ptr_equal(rx_kernels_select("ref"), rx_kernels_ref());
    assert_string_equal(rx_kernels_select("ref")->name, "ref");
    assert_null(rx_kernels_select("neon-nope"));
    assert_ptr_equal(rx_kernels_select("avx2"), rx_kernels_avx2());
    const rx_kernel_set *best = rx_kernels_select(NULL);
    assert_non_null(best);
#ifdef RX_FORCE_REF
    assert_null(rx_kernels_avx2());
#endif
    assert_int_equal(rx_quantize_rows(RX_TYPE_Q2_K, NULL, NULL, 1, 256), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_activation_quantizers_match),
        cmocka_unit_test(test_q8_0_rounding),
        cmocka_unit_test(test_ref_dot_exactness),
        cmocka_unit_test(test_vec_dot_matches_ref),
        cmocka_unit_test(test_tiles_match_ref),
        cmocka_unit_test(test_gemv_matches_vec_dot),
        cmocka_unit_test(test_gemm_order_is_a_dot),
        cmocka_unit_test(test_repack_matches_ref),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
