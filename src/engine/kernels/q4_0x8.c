/* The q4_0x8 layout (see kernels.h): packing plain Q4_0 rows into it, and the plain-C kernel
 * that reads it in llama.cpp's repacked order (each block's exact integer sum, times
 * d_w * d_a, FMA-added block after block), the reference the SIMD versions must match. */
#include <math.h>
#include <string.h>

#include "core/fp16.h"
#include "engine/kernels/internal.h"

void rx_q4_0x8_pack(const void *restrict plain, void *restrict grouped, int64_t rows,
                    int64_t cols)
{
    const int64_t nb = cols / RX_QK;
    const rx_block_q4_0 *src = plain;
    unsigned char *dst = grouped;
    for (int64_t g = 0; g < rows / RX_REPACK_ROWS; g++) {
        for (int64_t i = 0; i < nb; i++, dst += RX_Q4_0X8_BLOCK) {
            for (int j = 0; j < RX_REPACK_ROWS; j++) {
                const rx_block_q4_0 *b = &src[(g * RX_REPACK_ROWS + j) * nb + i];
                memcpy(dst + 2 * j, &b->d, 2);
                for (int k = 0; k < 4; k++)
                    memcpy(dst + 16 + 32 * k + 4 * j, b->qs + 4 * k, 4);
            }
        }
    }
}

void rx_kernels__grouped_q4_0_ref(int64_t n, float *restrict s, int64_t ld_s,
                                  const void *restrict w, size_t ws, const void *restrict a,
                                  size_t as, int nr, int nt)
{
    const int64_t nb = n / RX_QK;
    for (int r = 0; r < nr; r++) {
        const unsigned char *group = (const unsigned char *)w + (size_t)(r / 8 * 8) * ws;
        const int j = r % 8;
        for (int t = 0; t < nt; t++) {
            const rx_block_q8_0 *y = (const rx_block_q8_0 *)((const char *)a + (size_t)t * as);
            float acc = 0;
            for (int64_t i = 0; i < nb; i++) {
                const unsigned char *b = group + i * RX_Q4_0X8_BLOCK;
                int sum = 0;
                for (int k = 0; k < 4; k++) {
                    for (int e = 0; e < 4; e++) {
                        const unsigned q = b[16 + 32 * k + 4 * j + e];
                        sum += ((int)(q & 0xF) - 8) * y[i].qs[4 * k + e];
                        sum += ((int)(q >> 4) - 8) * y[i].qs[16 + 4 * k + e];
                    }
                }
                uint16_t h;
                memcpy(&h, b + 2 * j, 2);
                float d = rx_fp16_to_f32(h) * rx_fp16_to_f32(y[i].d);
                acc = fmaf((float)sum, d, acc);
            }
            s[t * ld_s + r] = acc;
        }
    }
}
