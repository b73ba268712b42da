/* Micro-benchmark of rx_matmul at TinyLlama-1.1B shapes: weights GB/s for decode (1 token),
 * GFLOP/s for prefill (64 tokens), per type and thread count. Not part of ctest.
 * Build and run: bench/run.sh [filter]   (RX_KERNELS=ref|avx2 picks the kernel set)
 * A third argument runs exactly that many products per case on one weight copy instead of
 * timing, for instruction counts: valgrind --tool=callgrind --toggle-collect=rx_matmul ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/matmul.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Random rows quantized once; the bytes only need to be realistic, not meaningful. */
static void *make_weights(rx_type type, int64_t rows, int64_t cols)
{
    float *row = malloc(sizeof(float) * cols);
    size_t rb = rx_row_size(type, cols);
    char *w = aligned_alloc(64, (rb * rows + 63) & ~(size_t)63);
    unsigned s = 12345;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++)
            row[c] = ((s = s * 1103515245 + 12345) >> 8) / 8388608.0f - 1;
        rx_quantize_rows(type, row, w + r * rb, 1, cols);
    }
    free(row);
    return w;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : "";
    int max_threads = argc > 2 ? atoi(argv[2]) : 2;
    int fixed_iters = argc > 3 ? atoi(argv[3]) : 0;
    static const int64_t shapes[][2] = {
        {2048, 2048}, {256, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};
    static const rx_type types[] = {RX_TYPE_Q4_0, RX_TYPE_Q8_0, RX_TYPE_F16, RX_TYPE_Q4_K,
                                    RX_TYPE_Q6_K};
    const rx_kernel_set *ks = rx_kernels_select(NULL);
    if (!ks) return 1;
    printf("kernels %s\n%-5s %-11s %3s %4s %9s %9s\n", ks->name, "type", "shape", "thr", "tok",
           "ms", "GB/s|GF/s");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        if (*filter && strstr(filter, rx_type_name(types[ti])) == NULL) continue;
        for (int nth = 1; nth <= max_threads; nth++) {
            rx_threadpool *tp;
            rx_threadpool_create(nth, &tp);
            for (int n_tok = 1; n_tok <= 64; n_tok *= 64) {
                double tot_bytes = 0, tot_s = 0;
                for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
                    int64_t rows = shapes[si][0], cols = shapes[si][1];
                    /* enough copies to overflow the 32 MiB L3, rotated, so decode reads DRAM as a
                     * real model's 600 MB of weights would */
                    size_t bytes1 = rx_row_size(types[ti], cols) * rows;
                    int nc = (int)(96e6 / bytes1) + 1;
                    if (nc > 64) nc = 64;
                    if (fixed_iters > 0) nc = 1;
                    rx_matrix mc[64];
                    for (int c = 0; c < nc; c++)
                        mc[c] =
                            (rx_matrix){types[ti], make_weights(types[ti], rows, cols), rows, cols};
                    rx_matrix m = mc[0];
                    float *x = malloc(sizeof(float) * cols * n_tok),
                          *y = aligned_alloc(64, sizeof(float) * rows * n_tok);
                    for (int64_t i = 0; i < cols * n_tok; i++)
                        x[i] = (float)(i % 7) - 3;
                    size_t ss = rx_matmul_scratch_size(ks, m.type, cols, n_tok);
                    void *scratch = aligned_alloc(64, ss + 64);
                    rx_matmul(ks, tp, &m, x, n_tok, y, scratch, ss);
                    int iters = 0;
                    double t0 = now_s(), el;
                    do {
                        rx_matmul(ks, tp, &mc[iters % nc], x, n_tok, y, scratch, ss);
                        iters++;
                    } while (((el = now_s() - t0) < 0.3 && !fixed_iters) || iters < fixed_iters);
                    double per = el / iters, bytes = (double)rx_row_size(m.type, cols) * rows;
                    double rate =
                        n_tok == 1 ? bytes / per / 1e9 : 2.0 * rows * cols * n_tok / per / 1e9;
                    printf("%-5s %5lldx%-5lld %3d %4d %9.3f %9.2f\n", rx_type_name(m.type),
                           (long long)rows, (long long)cols, nth, n_tok, per * 1e3, rate);
                    tot_bytes += bytes, tot_s += per;
                    for (int c = 0; c < nc; c++)
                        free((void *)mc[c].data);
                    free(x), free(y), free(scratch);
                }
                if (n_tok == 1)
                    printf("%-5s all shapes  %3d    1 %9.3f %9.2f (weights GB/s)\n",
                           rx_type_name(types[ti]), nth, tot_s * 1e3, tot_bytes / tot_s / 1e9);
            }
            rx_threadpool_destroy(tp);
        }
    }
    return 0;
}
