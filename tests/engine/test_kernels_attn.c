/* engine/kernels/attn_*: the attention kernels (att_scores, att_values) of every set, bit for
 * bit against the scalar formulation the forward pass used before them (the type's tile or
 * vec_dot row by row for K·q; dequantized rows into 32 or 8 slot accumulators, then the fold,
 * for V·p), over head sizes, position counts, cache types, single tokens and batches. */
#include "rxtest.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "engine/kernels/internal.h"
#include "engine/kernels/kernels.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static double uniform(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* N(0,1) times 2^[-4,4): values across many exponents, so that sums round at every step. */
static float spread(void)
{
    double u = uniform() + 1e-12, v = uniform();
    double g = sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
    return (float)(g * exp2(8 * uniform() - 4));
}

/* --- the formulation forward.c had before the kernels, with the reference set ------------- */

static void old_scores(rx_type t, int64_t hd, int64_t n, float *s, const uint8_t *k,
                       size_t stride, const void *q, bool gemm)
{
    const rx_type_kernels *kk = &rx_kernels_ref()->type[t];
    const rx_tile_fn kq = gemm ? kk->gemm_tile : kk->tile;
    for (int64_t j = 0; j < n; j += RX_TILE_ROWS) {
        const int nr = (int)(n - j < RX_TILE_ROWS ? n - j : RX_TILE_ROWS);
        if (kq) {
            kq(hd, &s[j], 1, k + j * stride, stride, q, 0, nr, 1);
        } else {
            for (int r = 0; r < nr; r++)
                kk->vec_dot(hd, &s[j + r], k + (j + r) * stride, q);
        }
    }
}

static void fold_slots(float *out, const float *a, const float *zero, int64_t used, int slots,
                       int64_t hd)
{
    const float *slot[32];
    for (int s = 0; s < slots; s++)
        slot[s] = s < used ? a + s * hd : zero;
    for (int64_t i = 0; i < hd; i++) {
        float v[8];
        if (slots == 8) {
            for (int l = 0; l < 8; l++)
                v[l] = slot[l][i];
        } else {
            for (int l = 0; l < 8; l++)
                v[l] = (slot[l][i] + slot[16 + l][i]) + (slot[8 + l][i] + slot[24 + l][i]);
        }
        float t[4];
        for (int k = 0; k < 4; k++)
            t[k] = v[k] + v[k + 4];
        out[i] = slots == 8 ? (t[0] + t[2]) + (t[1] + t[3]) : (t[0] + t[1]) + (t[2] + t[3]);
    }
}

static void old_values(rx_type t, int64_t hd, int64_t n, float *out, const uint8_t *v,
                       size_t stride, const float *w, int slots)
{
    const rx_type_kernels *kk = &rx_kernels_ref()->type[t];
    float *vrow = malloc((size_t)(34 * hd) * sizeof *vrow), *zero = vrow + hd, *acc = zero + hd;
    const int64_t used = n < slots ? n : slots;
    memset(acc, 0, (size_t)(used * hd) * sizeof *acc);
    memset(zero, 0, (size_t)hd * sizeof *zero);
    for (int64_t j = 0; j < n; j++) {
        float *a = acc + (j % slots) * hd;
        kk->to_float(v + j * stride, vrow, hd);
        if (t == RX_TYPE_F32) {
            for (int64_t i = 0; i < hd; i++)
                a[i] = fmaf(vrow[i], w[j], a[i]);
        } else {
            const float wh = rx_fp16_to_f32(rx_f32_to_fp16(w[j]));
            for (int64_t i = 0; i < hd; i++)
                a[i] += vrow[i] * wh;
        }
    }
    fold_slots(out, acc, zero, used, slots, hd);
    free(vrow);
}

/* --- one case: a cache of n rows of three heads, the middle one attended -------------------- */

typedef struct {
    rx_type type;
    int64_t hd, n;
    size_t stride, head_off;
    uint8_t *k, *v, *q; /* cache rows and the query in vec_dot_type */
    float *w;
} attn_case;

static attn_case make_case(rx_type t, int64_t hd, int64_t n)
{
    const rx_kernel_set *ref = rx_kernels_ref();
    attn_case c = {.type = t, .hd = hd, .n = n};
    c.stride = rx_row_size(t, 3 * hd);
    c.head_off = rx_row_size(t, hd);
    c.k = malloc(c.stride * (size_t)n);
    c.v = malloc(c.stride * (size_t)n);
    float *row = malloc((size_t)(3 * hd) * sizeof *row);
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < 3 * hd; i++)
            row[i] = spread();
        ref->type[t].from_float(row, c.k + (size_t)j * c.stride, 3 * hd);
        for (int64_t i = 0; i < 3 * hd; i++)
            row[i] = spread();
        ref->type[t].from_float(row, c.v + (size_t)j * c.stride, 3 * hd);
    }
    const rx_type qt = ref->type[t].vec_dot_type;
    c.q = malloc(rx_row_size(qt, hd));
    for (int64_t i = 0; i < hd; i++)
        row[i] = spread();
    ref->type[qt].from_float(row, c.q, hd);
    c.w = malloc((size_t)n * sizeof *c.w);
    for (int64_t j = 0; j < n; j++)
        c.w[j] = spread();
    free(row);
    return c;
}

static void free_case(attn_case *c)
{
    free(c->k);
    free(c->v);
    free(c->q);
    free(c->w);
}

static void check_bits(const char *what, const char *set, const attn_case *c, bool batched,
                       const float *want, const float *got, int64_t count)
{
    if (memcmp(want, got, (size_t)count * sizeof *got) == 0) return;
    for (int64_t i = 0; i < count; i++) {
        if (memcmp(&want[i], &got[i], sizeof *got) != 0) {
            print_error("%s (%s) %s hd %lld n %lld %s: [%lld] %a, want %a\n", what, set,
                        rx_type_name(c->type), (long long)c->hd, (long long)c->n,
                        batched ? "batched" : "single", (long long)i, got[i], want[i]);
            break;
        }
    }
    fail();
}

/* Both modes of the forward pass: single tokens (vec_dot, 32 slots) and batches (tinyBLAS
 * where it applies, 8 slots where hd % 4 == 0), each set against the old formulation. */
static void check_case(const attn_case *c)
{
    const rx_kernel_set *sets[2] = {rx_kernels_ref(), rx_kernels_avx2()};
    float *want = malloc((size_t)(c->n + c->hd) * sizeof *want);
    float *got = malloc((size_t)(c->n + c->hd) * sizeof *got);
    for (int batched = 0; batched < 2; batched++) {
        const rx_type_kernels *rk = &sets[0]->type[c->type];
        const bool gemm = batched && c->type != RX_TYPE_F32 && c->hd % 8 == 0 && rk->gemm_tile;
        const int slots = batched && c->hd % 4 == 0 ? 8 : 32;
        const uint8_t *k = c->k + c->head_off, *v = c->v + c->head_off;
        for (int si = 0; si < 2; si++) {
            if (!sets[si]) continue;
            const rx_type_kernels *kk = &sets[si]->type[c->type];
            assert_non_null(kk->att_scores);
            assert_non_null(kk->att_values);
            old_scores(c->type, c->hd, c->n, want, k, c->stride, c->q, gemm);
            memset(got, 0xff, (size_t)c->n * sizeof *got);
            kk->att_scores(c->hd, c->n, got, k, c->stride, c->q, gemm);
            check_bits("att_scores", sets[si]->name, c, batched, want, got, c->n);
            old_values(c->type, c->hd, c->n, want, v, c->stride, c->w, slots);
            memset(got, 0xff, (size_t)c->hd * sizeof *got);
            kk->att_values(c->hd, c->n, got, v, c->stride, c->w, slots);
            check_bits("att_values", sets[si]->name, c, batched, want, got, c->hd);
        }
    }
    free(want);
    free(got);
}

/* Every count up to 40 (partial and whole groups of 8 and 32), then around the larger powers
 * of two, up to 300. */
static const int64_t counts[] = {1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,
                                 14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,
                                 27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,
                                 40,  63,  64,  65,  95,  96,  97,  127, 128, 129, 200, 255, 256,
                                 257, 299, 300};

static void check_type(rx_type t, const int64_t *dims, size_t n_dims)
{
    for (size_t d = 0; d < n_dims; d++) {
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
            attn_case c = make_case(t, dims[d], counts[i]);
            check_case(&c);
            free_case(&c);
        }
    }
}

/* 8 and 16 take the eight-positions-per-vector path, 24 too with a non-constant size; 4 and
 * 12 fall back; 32 and up go through the tiles (40: a tail past the 32-wide loop). */
static const int64_t float_dims[] = {4, 8, 12, 16, 24, 32, 40, 64, 128};

static void test_f16_cache(void **state)
{
    (void)state;
    check_type(RX_TYPE_F16, float_dims, sizeof float_dims / sizeof float_dims[0]);
}

static void test_f32_cache(void **state)
{
    (void)state;
    check_type(RX_TYPE_F32, float_dims, sizeof float_dims / sizeof float_dims[0]);
}

static void test_q8_0_cache(void **state)
{
    (void)state;
    static const int64_t dims[] = {32, 64, 128};
    check_type(RX_TYPE_Q8_0, dims, sizeof dims / sizeof dims[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_cache),
        cmocka_unit_test(test_f32_cache),
        cmocka_unit_test(test_q8_0_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
