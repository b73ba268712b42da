/* engine/matmul: every weight type against a naive double-precision product, with odd row
 * counts, 1..64 tokens, 1 and 2 threads, and both kernel sets. */
#include "rxtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels/internal.h"
#include "engine/matmul.h"

/* The matmul computes with dequantized weights and quantized activations; against a double
 * product of exactly those operands only float summation order remains. Bound the error by
 * this fraction of sum |w*a|. */
#define MATMUL_REL_TOL 3e-5

static uint64_t rng = 88172645463325252ull;

static float gaussian(void)
{
    double u, v;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    u = (double)(rng >> 11) / 9007199254740992.0 + 1e-12;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    v = (double)(rng >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static void check_one(const rx_kernel_set *ks, rx_threadpool *tp, rx_type type, int64_t rows,
                      int64_t cols, int64_t n_tokens)
{
    const rx_type_kernels *k = &ks->type[type];
    const rx_type_kernels *ak = &ks->type[k->vec_dot_type];
    size_t row_bytes = rx_row_size(type, cols);
    float *wf = malloc(sizeof(float) * rows * cols), *x = malloc(sizeof(float) * n_tokens * cols);
    for (int64_t i = 0; i < rows * cols; i++)
        wf[i] = gaussian();
    for (int64_t i = 0; i < n_tokens * cols; i++)
        x[i] = gaussian();
    void *w = malloc(row_bytes * rows);
    rx_quantize_rows(type, wf, w, rows, cols);
    for (int64_t r = 0; r < rows; r++)
        k->to_float((char *)w + r * row_bytes, wf + r * cols, cols);
    /* the activations as the matmul will see them */
    float *xa = malloc(sizeof(float) * n_tokens * cols);
    void *tmp = malloc(rx_row_size(k->vec_dot_type, cols));
    for (int64_t t = 0; t < n_tokens; t++) {
        ak->from_float(x + t * cols, tmp, cols);
        ak->to_float(tmp, xa + t * cols, cols);
    }
    size_t scratch_size = rx_matmul_scratch_size(ks, type, cols, n_tokens);
    void *scratch = malloc(scratch_size + 1);
    float *y = aligned_alloc(64, ((sizeof(float) * rows * n_tokens) + 63) & ~(size_t)63);
    rx_matrix m = {type, w, rows, cols, false};
    assert_int_equal(rx_matmul(ks, tp, &m, x, n_tokens, y, (char *)scratch + 1, scratch_size),
                     RX_OK);
    for (int64_t t = 0; t < n_tokens; t++) {
        for (int64_t r = 0; r < rows; r++) {
            double want = 0, mag = 0;
            for (int64_t c = 0; c < cols; c++) {
                double p = (double)wf[r * cols + c] * xa[t * cols + c];
                want += p, mag += fabs(p);
            }
            if (fabs(want - y[t * rows + r]) > MATMUL_REL_TOL * mag + 1e-30) {
                fail_msg("%s/%s %lldx%lld tokens %lld threads %d: y[%lld,%lld] %g want %g",
                         ks->name, rx_type_name(type), (long long)rows, (long long)cols,
                         (long long)n_tokens, rx_threadpool_size(tp), (long long)t, (long long)r,
                         y[t * rows + r], want);
            }
        }
    }
    free(wf), free(x), free(w), free(xa), free(tmp), free(scratch), free(y);
}

static void test_all_types(void **state)
{
    (void)state;
    static const rx_type types[] = {RX_TYPE_F32,  RX_TYPE_F16,  RX_TYPE_BF16, RX_TYPE_Q8_0,
                                    RX_TYPE_Q4_0, RX_TYPE_Q5_0, RX_TYPE_Q4_K, RX_TYPE_Q6_K};
    static const int64_t tokens[] = {1, 3, 17, 64};
    static const int64_t rows[] = {1, 5, 37, 70};
    const rx_kernel_set *sets[] = {rx_kernels_ref(), rx_kernels_avx2()};
    for (int n_threads = 1; n_threads <= 2; n_threads++) {
        rx_threadpool *tp;
        assert_int_equal(rx_threadpool_create(n_threads, &tp), RX_OK);
        for (int s = 0; s < 2; s++) {
            if (!sets[s]) continue;
            for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
                int64_t bs = rx_type_get(types[i])->block_size;
                int64_t cols = bs == 1 ? 99 : bs == 32 ? 96 : 512;
                for (int j = 0; j < 4; j++)
                    check_one(sets[s], tp, types[i], rows[j], cols, tokens[j]);
                check_one(sets[s], tp, types[i], 19, cols, 5);
            }
        }
        rx_threadpool_destroy(tp);
    }
}

/* Big enough that activation conversion goes parallel. */
static void test_parallel_conversion(void **state)
{
    (void)state;
    rx_threadpool *tp;
    assert_int_equal(rx_threadpool_create(2, &tp), RX_OK);
    check_one(rx_kernels_select(NULL), tp, RX_TYPE_Q4_0, 33, 1024, 40);
    check_one(rx_kernels_select(NULL), tp, RX_TYPE_Q6_K, 9, 1024, 40);
    rx_threadpool_destroy(tp);
}

/* y for rows x cols weights of type `type` (from a fixed pattern) and n_tokens activations. */
static float *run_matmul(const rx_kernel_set *ks, rx_type type, int64_t rows, int64_t cols,
                         int64_t n_tokens, void **w_out, void **act_out)
{
    float *wf = malloc(sizeof(float) * rows * cols), *x = malloc(sizeof(float) * n_tokens * cols);
    for (int64_t i = 0; i < rows * cols; i++)
        wf[i] = (float)sin(0.37 * (double)i);
    for (int64_t i = 0; i < n_tokens * cols; i++)
        x[i] = (float)cos(0.11 * (double)i + 0.5);
    void *w = malloc(rx_row_size(type, cols) * rows);
    rx_quantize_rows(type, wf, w, rows, cols);
    size_t scratch_size = rx_matmul_scratch_size(ks, type, cols, n_tokens);
    void *scratch = malloc(scratch_size + 1);
    float *y = aligned_alloc(64, ((sizeof(float) * rows * n_tokens) + 63) & ~(size_t)63);
    rx_matrix m = {type, w, rows, cols, false};
    assert_int_equal(rx_matmul(ks, NULL, &m, x, n_tokens, y, scratch, scratch_size), RX_OK);
    if (act_out) {
        rx_type vt = ks->type[type].vec_dot_type;
        *act_out = malloc(rx_row_size(vt, cols) * n_tokens);
        for (int64_t t = 0; t < n_tokens; t++)
            ks->type[vt].from_float(x + t * cols, (char *)*act_out + t * rx_row_size(vt, cols),
                                    cols);
    }
    if (w_out)
        *w_out = w;
    else
        free(w);
    free(wf), free(x), free(scratch);
    return y;
}

/* llama.cpp's choice of order: tinyBLAS for >= 2 tokens when float shapes suit it (cols % 8,
 * rows % 4), ggml's vec_dot otherwise; each result equals that kernel's, bit for bit. */
static void test_schedule_choice(void **state)
{
    (void)state;
    const rx_kernel_set *ref = rx_kernels_ref();
    static const struct {
        int64_t rows, cols, n_tokens;
        bool gemm;
    } cases[] = {
        {8, 64, 2, true},  {8, 64, 1, false}, {6, 64, 3, false},
        {8, 60, 3, false}, {12, 96, 5, true},
    };
    const rx_type types[] = {RX_TYPE_F32, RX_TYPE_F16, RX_TYPE_BF16};
    for (size_t ti = 0; ti < 3; ti++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const rx_type t = types[ti];
            const int64_t rows = cases[i].rows, cols = cases[i].cols;
            void *w, *a;
            float *y = run_matmul(ref, t, rows, cols, cases[i].n_tokens, &w, &a);
            const size_t wr = rx_row_size(t, cols),
                         ar = rx_row_size(ref->type[t].vec_dot_type, cols);
            for (int64_t k = 0; k < cases[i].n_tokens; k++) {
                for (int64_t r = 0; r < rows; r++) {
                    float want;
                    const char *wrow = (char *)w + r * wr, *arow = (char *)a + k * ar;
                    if (cases[i].gemm)
                        ref->type[t].gemm_tile(cols, &want, 1, wrow, 0, arow, 0, 1, 1);
                    else
                        ref->type[t].vec_dot(cols, &want, wrow, arow);
                    if (memcmp(&want, &y[k * rows + r], sizeof want) != 0)
                        fail_msg("%s case %zu [%lld,%lld]: %a, want %a", rx_type_name(t), i,
                                 (long long)k, (long long)r, y[k * rows + r], want);
                }
            }
            free(y), free(w), free(a);
        }
    }
}

/* Q4_0 as llama.cpp's AVX2 build multiplies it: through the repacked Q4_0_8x8 path for any
 * number of tokens when rows % 8 == 0, through ggml's vec_dot otherwise (llamafile's
 * tinyBLAS_Q0 sums like vec_dot). Each result equals that kernel's, bit for bit, in both sets. */
static void test_q4_0_schedule_choice(void **state)
{
    (void)state;
    static const struct {
        int64_t rows, cols, n_tokens;
        bool repack;
    } cases[] = {
        {8, 64, 1, true},   {16, 96, 5, true}, {24, 64, 4, true},  {40, 160, 9, true},
        {12, 64, 2, false}, {4, 64, 1, false}, {37, 96, 6, false},
    };
    const rx_kernel_set *sets[] = {rx_kernels_ref(), rx_kernels_avx2()};
    const rx_type t = RX_TYPE_Q4_0;
    for (int si = 0; si < 2; si++) {
        const rx_kernel_set *ks = sets[si];
        if (!ks) continue;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const int64_t rows = cases[i].rows, cols = cases[i].cols;
            void *w, *a;
            float *y = run_matmul(ks, t, rows, cols, cases[i].n_tokens, &w, &a);
            const size_t wr = rx_row_size(t, cols), ar = rx_row_size(RX_TYPE_Q8_0, cols);
            for (int64_t k = 0; k < cases[i].n_tokens; k++) {
                for (int64_t r = 0; r < rows; r++) {
                    float want;
                    const char *wrow = (char *)w + r * wr, *arow = (char *)a + k * ar;
                    if (cases[i].repack)
                        rx_kernels_ref()->type[t].repack_tile(cols, &want, 1, wrow, 0, arow, 0, 1,
                                                              1);
                    else
                        rx_kernels_ref()->type[t].vec_dot(cols, &want, wrow, arow);
                    if (memcmp(&want, &y[k * rows + r], sizeof want) != 0)
                        fail_msg("%s case %zu [%lld,%lld]: %a, want %a", ks->name, i, (long long)k,
                                 (long long)r, y[k * rows + r], want);
                }
            }
            free(y), free(w), free(a);
        }
    }
}

/* Both kernel sets give the same bits for every type and both schedules. */
static void test_sets_agree(void **state)
{
    (void)state;
    const rx_kernel_set *simd = rx_kernels_avx2();
    if (!simd) skip();
    static const rx_type types[] = {RX_TYPE_F32,  RX_TYPE_F16,  RX_TYPE_BF16, RX_TYPE_Q8_0,
                                    RX_TYPE_Q4_0, RX_TYPE_Q5_0, RX_TYPE_Q4_K, RX_TYPE_Q6_K};
    static const int64_t shapes[][3] = {{8, 1, 1}, {16, 1, 5}, {37, 1, 3}, {12, 2, 1}, {40, 3, 7}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const int64_t bs = rx_type_get(types[i])->block_size;
        for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++) {
            const int64_t cols =
                bs == 1 ? 96 + 4 * shapes[j][1] : (bs == 32 ? 64 : 256) * shapes[j][1];
            float *a = run_matmul(rx_kernels_ref(), types[i], shapes[j][0], cols, shapes[j][2],
                                  NULL, NULL);
            float *b = run_matmul(simd, types[i], shapes[j][0], cols, shapes[j][2], NULL, NULL);
            if (memcmp(a, b, sizeof(float) * shapes[j][0] * shapes[j][2]) != 0)
                fail_msg("%s %lldx%lld x %lld tokens: avx2 and ref differ", rx_type_name(types[i]),
                         (long long)shapes[j][0], (long long)cols, (long long)shapes[j][2]);
            free(a), free(b);
        }
    }
}

typedef void (*pack_fn)(const void *restrict, void *restrict, int64_t, int64_t);

/* A type in its grouped layout (the model's copy) gives the plain layout's results bit for
 * bit: every kernel set, one and two threads, row counts that split into 8-row groups unevenly
 * across threads, and token counts on both sides of every tile size. Then the grouped kernels
 * against each other, AVX2 included where the table holds the VNNI one. */
static void check_grouped(rx_type type, pack_fn pack, rx_tile_fn ref, rx_tile_fn avx2,
                          rx_tile_fn vnni, rx_tile_fn avx512)
{
    static const int64_t rows[] = {8, 24, 40, 264};
    static const int64_t tokens[] = {1, 2, 3, 4, 5, 17, 64, 70};
    const rx_kernel_set *sets[] = {rx_kernels_ref(), rx_kernels_avx2()};
    for (int n_threads = 1; n_threads <= 2; n_threads++) {
        rx_threadpool *tp;
        assert_int_equal(rx_threadpool_create(n_threads, &tp), RX_OK);
        for (int si = 0; si < 2; si++) {
            const rx_kernel_set *ks = sets[si];
            if (!ks) continue;
            for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++) {
                const int64_t nr = rows[ri], cols = ri % 2 ? 2048 : 96;
                const size_t wbytes = rx_row_size(type, cols) * (size_t)nr;
                float *wf = malloc(sizeof(float) * nr * cols);
                for (int64_t i = 0; i < nr * cols; i++)
                    wf[i] = gaussian();
                void *plain = malloc(wbytes), *grouped = malloc(wbytes);
                rx_quantize_rows(type, wf, plain, nr, cols);
                pack(plain, grouped, nr, cols);
                for (size_t ti = 0; ti < sizeof tokens / sizeof *tokens; ti++) {
                    const int64_t nt = tokens[ti];
                    float *x = malloc(sizeof(float) * nt * cols);
                    for (int64_t i = 0; i < nt * cols; i++)
                        x[i] = gaussian();
                    size_t ss = rx_matmul_scratch_size(ks, type, cols, nt);
                    void *scratch = malloc(ss);
                    float *y0 = malloc(sizeof(float) * nr * nt), *y1 = malloc(sizeof(float) * nr * nt);
                    rx_matrix a = {type, plain, nr, cols, false};
                    rx_matrix b = {type, grouped, nr, cols, true};
                    assert_int_equal(rx_matmul(ks, tp, &a, x, nt, y0, scratch, ss), RX_OK);
                    assert_int_equal(rx_matmul(ks, tp, &b, x, nt, y1, scratch, ss), RX_OK);
                    if (memcmp(y0, y1, sizeof(float) * nr * nt) != 0)
                        fail_msg("%s grouped %s %lldx%lld x %lld tokens, %d threads differs",
                                 ks->name, rx_type_name(type), (long long)nr, (long long)cols,
                                 (long long)nt, n_threads);
                    free(x), free(scratch), free(y0), free(y1);
                }
                free(wf), free(plain), free(grouped);
            }
        }
        rx_threadpool_destroy(tp);
    }
    if (!avx2) return;
    const int64_t cols = 256, nr = 16;
    float *wf = malloc(sizeof(float) * nr * cols), *x = malloc(sizeof(float) * 64 * cols);
    for (int64_t i = 0; i < nr * cols; i++)
        wf[i] = gaussian();
    for (int64_t i = 0; i < 64 * cols; i++)
        x[i] = gaussian();
    const size_t ws = rx_row_size(type, cols), as = rx_row_size(RX_TYPE_Q8_0, cols);
    void *plain = malloc(ws * nr), *grouped = malloc(ws * nr), *act = malloc(as * 64);
    rx_quantize_rows(type, wf, plain, nr, cols);
    pack(plain, grouped, nr, cols);
    rx_quantize_rows(RX_TYPE_Q8_0, x, act, 64, cols);
    for (int nt = 1; nt <= 64; nt += nt < 5 ? 1 : 29) {
        for (int rr = 8; rr <= 16; rr += 8) {
            float y0[16 * 64], y1[16 * 64], y2[16 * 64], y3[16 * 64];
            ref(cols, y0, 16, grouped, ws, act, as, rr, nt);
            avx2(cols, y1, 16, grouped, ws, act, as, rr, nt);
            (vnni ? vnni : avx2)(cols, y2, 16, grouped, ws, act, as, rr, nt);
            (avx512 ? avx512 : avx2)(cols, y3, 16, grouped, ws, act, as, rr, nt);
            for (int t = 0; t < nt; t++)
                for (int r = 0; r < rr; r++)
                    if (y0[t * 16 + r] != y1[t * 16 + r] || y0[t * 16 + r] != y2[t * 16 + r] ||
                        y0[t * 16 + r] != y3[t * 16 + r])
                        fail_msg("grouped %s kernels differ at %d rows %d tokens [%d,%d]",
                                 rx_type_name(type), rr, nt, t, r);
        }
    }
    free(wf), free(x), free(plain), free(grouped), free(act);
}

#ifdef RX_FORCE_REF
#define AVX2_OR_NULL(f) NULL
#define VNNI_OR_NULL(f) NULL
#define AVX512_OR_NULL(f) NULL
#else
#define AVX2_OR_NULL(f) (rx_kernels_avx2() ? (f) : NULL)
#define VNNI_OR_NULL(f) (rx_kernels_avx2() && rx_kernels__cpu_has_avx_vnni() ? (f) : NULL)
#define AVX512_OR_NULL(f) (rx_kernels_avx2() && rx_kernels__cpu_has_avx512_vnni() ? (f) : NULL)
#endif

static void test_grouped_q4_0(void **state)
{
    (void)state;
    check_grouped(RX_TYPE_Q4_0, rx_q4_0x8_pack, rx_kernels__grouped_q4_0_ref,
                  AVX2_OR_NULL(rx_kernels__grouped_q4_0_avx2),
                  VNNI_OR_NULL(rx_kernels__grouped_q4_0_vnni), NULL);
}

static void test_grouped_q8_0(void **state)
{
    (void)state;
    check_grouped(RX_TYPE_Q8_0, rx_q8_0x8_pack, rx_kernels__grouped_q8_0_ref,
                  AVX2_OR_NULL(rx_kernels__grouped_q8_0_avx2),
                  VNNI_OR_NULL(rx_kernels__grouped_q8_0_vnni),
                  AVX512_OR_NULL(rx_kernels__grouped_q8_0_avx512));
}

static void test_errors(void **state)
{
    (void)state;
    const rx_kernel_set *ks = rx_kernels_ref();
    float x[64] = {0}, y[4];
    uint8_t w[4 * 34] = {0}, scratch[256];
    rx_matrix bad_type = {RX_TYPE_Q2_K, w, 1, 256, false};
    assert_int_equal(rx_matmul(ks, NULL, &bad_type, x, 1, y, scratch, sizeof scratch),
                     RX_ERR_UNSUPPORTED);
    rx_matrix bad_cols = {RX_TYPE_Q8_0, w, 1, 33, false};
    assert_int_equal(rx_matmul(ks, NULL, &bad_cols, x, 1, y, scratch, sizeof scratch),
                     RX_ERR_INVALID_ARG);
    rx_matrix ok = {RX_TYPE_Q8_0, w, 4, 32, false};
    assert_int_equal(rx_matmul(ks, NULL, &ok, x, 1, y, scratch, 8), RX_ERR_INVALID_ARG);
    assert_int_equal(rx_matmul(ks, NULL, &ok, x, 1, y, scratch, sizeof scratch), RX_OK);
    assert_int_equal(rx_matmul_scratch_size(ks, RX_TYPE_F32, 64, 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_types),       cmocka_unit_test(test_parallel_conversion),
        cmocka_unit_test(test_schedule_choice), cmocka_unit_test(test_q4_0_schedule_choice),
        cmocka_unit_test(test_sets_agree),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_grouped_q4_0),
        cmocka_unit_test(test_grouped_q8_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
