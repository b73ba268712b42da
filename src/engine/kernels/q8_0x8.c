/* The q8_0x8 layout (see kernels.h): packing plain Q8_0 rows into it, and the plain-C kernel
 * that reads it in vec_dot's order (per block, lane l of a row's 8 float accumulators takes the
 * integer products of elements 4l..4l+3 times d_w * d_a by FMA; hsum8 folds them at the end),
 * the reference the SIMD versions must match. */
#include <math.h>
#include <string.h>

#include "core/fp16.h"
#include "engine/kernels/internal.h"

void rx_q8_0x8_pack(const void *restrict plain, void *restrict grouped, int64_t rows,
                    int64_t cols)
{
    const int64_t nb = cols / RX_QK;
    const rx_block_q8_0 *src = plain;
    unsigned char *dst = grouped;
    for (int64_t g = 0; g < rows / RX_REPACK_ROWS; g++) {
        for (int64_t i = 0; i < nb; i++, dst += RX_Q8_0X8_BLOCK) {
            for (int j = 0; j < RX_REPACK_ROWS; j++) {
                const rx_block_q8_0 *b = &src[(g * RX_REPACK_ROWS + j) * nb + i];
                memcpy(dst + 2 * j, &b->d, 2);
                for (int k = 0; k < 8; k++)
                    for (int e = 0; e < 4; e++)
                        dst[16 + 32 * k + 4 * j + e] = (unsigned char)(b->qs[4 * k + e] ^ 0x80);
            }
        }
    }
}

void rx_kernels__grouped_q8_0_ref(int64_t n, float *restrict s, int64_t ld_s,
                                  const void *restrict w, size_t ws, const void *restrict a,
                                  size_t as, int nr, int nt)
{
    const int64_t nb = n / RX_QK;
    for (int r = 0; r < nr; r++) {
        const unsigned char *group = (const unsigned char *)w + (size_t)(r / 8 * 8) * ws;
        const int j = r % 8;
        for (int t = 0; t < nt; t++) {
            const rx_block_q8_0 *y = (const rx_block_q8_0 *)((const char *)a + (size_t)t * as);
            float acc[8] = {0};
            for (int64_t i = 0; i < nb; i++) {
                const unsigned char *b = group + i * RX_Q8_0X8_BLOCK;
                uint16_t h;
                memcpy(&h, b + 2 * j, 2);
                const float d = rx_fp16_to_f32(h) * rx_fp16_to_f32(y[i].d);
                for (int k = 0; k < 8; k++) {
                    int sum = 0;
                    for (int e = 0; e < 4; e++)
                        sum += ((int)b[16 + 32 * k + 4 * j + e] - 128) * y[i].qs[4 * k + e];
                    acc[k] = fmaf(d, (float)sum, acc[k]);
                }
            }
            s[t * ld_s + r] = rx_kernels__hsum8(acc);
        }
    }
}
