/* Micro-benchmark of the _0 matmul tiles on one cache-resident TinyLlama-wide panel (16 rows x
 * 2048 columns, 64 tokens and 1 token): TSC ticks per output element-block (32 products), best
 * of 300 calls, for the plain-layout schedules and the grouped layouts (q4_0x8, q8_0x8) the
 * model stores its matrices in. Build (AVX2 machine, after make):
 *   cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/tile_bench.c build/libreflex.a \
 *      -lpthread -lm -o build/tile_bench && build/tile_bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "engine/kernels/internal.h"

#define COLS 2048
#define ROWS 16
#define TOKENS 64

static const rx_kernel_set *set; /* looked up once: CPU detection is slow in a VM */

/* plain layout: the tile matmul.c picks for the type (4-row tiles for Q8_0, 8-row repack for
 * Q4_0), over the whole panel */
static void plain(rx_type type, const char *w, size_t ws, const char *a, size_t as, float *s,
                  int nt)
{
    const rx_type_kernels *k = &set->type[type];
    if (k->repack_tile) {
        k->repack_tile(COLS, s, ROWS, w, ws, a, as, ROWS, nt);
        return;
    }
    for (int r = 0; r < ROWS; r += RX_TILE_ROWS)
        k->tile(COLS, s + r, ROWS, w + r * ws, ws, a, as, RX_TILE_ROWS, nt);
}

static void grouped(rx_type type, const char *w, size_t ws, const char *a, size_t as, float *s,
                    int nt)
{
    set->type[type].grouped_tile(COLS, s, ROWS, w, ws, a, as, ROWS, nt);
}

typedef void (*call_fn)(rx_type, const char *, size_t, const char *, size_t, float *, int);

static double ticks(call_fn f, rx_type type, const char *w, size_t ws, const char *a, size_t as,
                    int nt)
{
    static float s[TOKENS * ROWS];
    unsigned long long best = ~0ull;
    for (int rep = 0; rep < 300; rep++) {
        unsigned long long t0 = __rdtsc();
        f(type, w, ws, a, as, s, nt);
        t0 = __rdtsc() - t0;
        if (t0 < best) best = t0;
    }
    return (double)best / ((double)ROWS * nt * (COLS / 32));
}

int main(void)
{
    if (!(set = rx_kernels_avx2())) return 1;
    static float x[TOKENS * COLS];
    unsigned seed = 12345;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = ((seed = seed * 1103515245 + 12345) >> 8) / 8388608.0f - 1;
    const size_t q4 = rx_row_size(RX_TYPE_Q4_0, COLS), q8 = rx_row_size(RX_TYPE_Q8_0, COLS);
    char *w4 = malloc(q4 * ROWS), *g4 = malloc(q4 * ROWS), *w8 = malloc(q8 * ROWS);
    char *g8 = malloc(q8 * ROWS), *a = malloc(q8 * TOKENS);
    rx_quantize_rows(RX_TYPE_Q4_0, x, w4, ROWS, COLS);
    rx_quantize_rows(RX_TYPE_Q8_0, x, w8, ROWS, COLS);
    rx_q4_0x8_pack(w4, g4, ROWS, COLS);
    rx_q8_0x8_pack(w8, g8, ROWS, COLS);
    for (int t = 0; t < TOKENS; t++)
        set->type[RX_TYPE_Q8_0].from_float(x + t * COLS, a + t * q8, COLS);
    printf("kernel set %s; ticks per output-block   plain  grouped\n", set->name);
    static const int nts[] = {TOKENS, 1};
    for (int i = 0; i < 2; i++) {
        printf("Q4_0 %d rows x %2d tokens               %6.2f  %6.2f\n", ROWS, nts[i],
               ticks(plain, RX_TYPE_Q4_0, w4, q4, a, q8, nts[i]),
               ticks(grouped, RX_TYPE_Q4_0, g4, q4, a, q8, nts[i]));
        printf("Q8_0 %d rows x %2d tokens               %6.2f  %6.2f\n", ROWS, nts[i],
               ticks(plain, RX_TYPE_Q8_0, w8, q8, a, q8, nts[i]),
               ticks(grouped, RX_TYPE_Q8_0, g8, q8, a, q8, nts[i]));
    }
    free(w4), free(g4), free(w8), free(g8), free(a);
    return 0;
}
