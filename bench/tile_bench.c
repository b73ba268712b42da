/* Micro-benchmark of the _0 matmul tiles on one cache-resident TinyLlama-wide panel (8 rows x
 * 2048 columns, 64 tokens): TSC ticks per output element-block (32 products), best of 300
 * calls, for the schedules matmul.c picks now and the vec_dot-order 4x2 tiles it used before.
 * Build (AVX2 machine, after make):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/tile_bench.c build/libreflex.a \
 *      -lpthread -lm -o build/tile_bench && build/tile_bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "engine/kernels/internal.h"

#define COLS 2048
#define ROWS 8
#define TOKENS 64

typedef void (*call_fn)(const char *w, size_t ws, const char *a, size_t as, float *s);

static const rx_kernel_set *set; /* looked up once: CPU detection is slow in a VM */

static const rx_type_kernels *avx2(rx_type t)
{
    return &set->type[t];
}

/* before: RX_TILE_TOKENS-token calls of 4-row tiles */
static void old_q4(const char *w, size_t ws, const char *a, size_t as, float *s)
{
    for (int t = 0; t < TOKENS; t += RX_TILE_TOKENS)
        for (int r = 0; r < ROWS; r += RX_TILE_ROWS)
            avx2(RX_TYPE_Q4_0)
                ->tile(COLS, s + t * ROWS + r, ROWS, w + r * ws, ws, a + t * as, as, RX_TILE_ROWS,
                       RX_TILE_TOKENS);
}
static void old_q8(const char *w, size_t ws, const char *a, size_t as, float *s)
{
    for (int t = 0; t < TOKENS; t += RX_TILE_TOKENS)
        for (int r = 0; r < ROWS; r += RX_TILE_ROWS)
            avx2(RX_TYPE_Q8_0)
                ->tile(COLS, s + t * ROWS + r, ROWS, w + r * ws, ws, a + t * as, as, RX_TILE_ROWS,
                       RX_TILE_TOKENS);
}
static void old_q4_1tok(const char *w, size_t ws, const char *a, size_t as, float *s)
{
    for (int r = 0; r < ROWS; r += RX_TILE_ROWS)
        avx2(RX_TYPE_Q4_0)->tile(COLS, s + r, ROWS, w + r * ws, ws, a, as, RX_TILE_ROWS, 1);
}
/* after: the whole token block per call */
static void new_q4(const char *w, size_t ws, const char *a, size_t as, float *s)
{
    avx2(RX_TYPE_Q4_0)->repack_tile(COLS, s, ROWS, w, ws, a, as, ROWS, TOKENS);
}
static void new_q8(const char *w, size_t ws, const char *a, size_t as, float *s)
{
    for (int r = 0; r < ROWS; r += RX_TILE_ROWS)
        avx2(RX_TYPE_Q8_0)->tile(COLS, s + r, ROWS, w + r * ws, ws, a, as, RX_TILE_ROWS, TOKENS);
}
static void new_q4_1tok(const char *w, size_t ws, const char *a, size_t as, float *s)
{
    avx2(RX_TYPE_Q4_0)->repack_tile(COLS, s, ROWS, w, ws, a, as, ROWS, 1);
}

static double ticks(call_fn f, const char *w, size_t ws, const char *a, size_t as, int tokens)
{
    static float s[TOKENS * ROWS];
    unsigned long long best = ~0ull;
    for (int rep = 0; rep < 300; rep++) {
        unsigned long long t0 = __rdtsc();
        f(w, ws, a, as, s);
        t0 = __rdtsc() - t0;
        if (t0 < best) best = t0;
    }
    return (double)best / ((double)ROWS * tokens * (COLS / 32));
}

int main(void)
{
    if (!(set = rx_kernels_avx2())) return 1;
    static float x[TOKENS > ROWS ? TOKENS * COLS : ROWS * COLS];
    unsigned seed = 12345;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = ((seed = seed * 1103515245 + 12345) >> 8) / 8388608.0f - 1;
    size_t q4 = rx_row_size(RX_TYPE_Q4_0, COLS), q8 = rx_row_size(RX_TYPE_Q8_0, COLS);
    char *w4 = malloc(q4 * ROWS), *w8 = malloc(q8 * ROWS), *a = malloc(q8 * TOKENS);
    rx_quantize_rows(RX_TYPE_Q4_0, x, w4, ROWS, COLS);
    rx_quantize_rows(RX_TYPE_Q8_0, x, w8, ROWS, COLS);
    for (int t = 0; t < TOKENS; t++)
        avx2(RX_TYPE_Q8_0)->from_float(x + t * COLS, a + t * q8, COLS);
    printf("ticks per output-block    before   after\n");
    printf("Q4_0 8 rows x 64 tokens   %6.2f  %6.2f\n", ticks(old_q4, w4, q4, a, q8, TOKENS),
           ticks(new_q4, w4, q4, a, q8, TOKENS));
    printf("Q4_0 8 rows x 1 token     %6.2f  %6.2f\n", ticks(old_q4_1tok, w4, q4, a, q8, 1),
           ticks(new_q4_1tok, w4, q4, a, q8, 1));
    printf("Q8_0 8 rows x 64 tokens   %6.2f  %6.2f\n", ticks(old_q8, w8, q8, a, q8, TOKENS),
           ticks(new_q8, w8, q8, a, q8, TOKENS));
    free(w4), free(w8), free(a);
    return 0;
}
