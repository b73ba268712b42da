/* Plain-C kernels of the 32-element block types Q4_0, Q5_0 and Q8_0: dequantization, the
 * deterministic quantizers that write model files (as llama.cpp's quantize_row_*_ref), the Q8_0
 * activation quantizer (as llama.cpp's AVX2 path rounds it), and the dot products with Q8_0 in
 * the order llama.cpp's AVX2 build sums them. */
#include "engine/kernels/internal.h"

#include <math.h>

#include "core/fp16.h"

void rx_kernels__q4_0_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const rx_block_q4_0 *b = x;
    for (int64_t i = 0; i < n / RX_QK; i++, y += RX_QK) {
        float d = rx_fp16_to_f32(b[i].d);
        for (int j = 0; j < RX_QK / 2; j++) {
            y[j] = (float)((b[i].qs[j] & 0xF) - 8) * d;
            y[j + RX_QK / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static inline uint32_t load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

void rx_kernels__q5_0_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const rx_block_q5_0 *b = x;
    for (int64_t i = 0; i < n / RX_QK; i++, y += RX_QK) {
        float d = rx_fp16_to_f32(b[i].d);
        uint32_t qh = load_u32(b[i].qh);
        for (int j = 0; j < RX_QK / 2; j++) {
            int lo = (b[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int hi = (b[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = (float)(lo - 16) * d;
            y[j + RX_QK / 2] = (float)(hi - 16) * d;
        }
    }
}

void rx_kernels__q8_0_to_float_ref(const void *restrict x, float *restrict y, int64_t n)
{
    const rx_block_q8_0 *b = x;
    for (int64_t i = 0; i < n / RX_QK; i++, y += RX_QK) {
        float d = rx_fp16_to_f32(b[i].d);
        for (int j = 0; j < RX_QK; j++)
            y[j] = (float)b[i].qs[j] * d;
    }
}

/* The value of largest magnitude in a block (the first one on ties), sign kept: the _0
 * quantizers map it to the most negative code, which wins one extra level of resolution. */
static float signed_absmax(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

void rx_kernels__q4_0_quantize_ref(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q4_0 *b = y;
    for (int64_t i = 0; i < n / RX_QK; i++, x += RX_QK) {
        float d = signed_absmax(x, RX_QK) / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = rx_f32_to_fp16(d);
        for (int j = 0; j < RX_QK / 2; j++) {
            /* +8.5 then truncation: round half up into 0..16, and 16 clamps to 15 */
            int lo = (int)(x[j] * id + 8.5f), hi = (int)(x[j + RX_QK / 2] * id + 8.5f);
            lo = lo < 15 ? lo : 15;
            hi = hi < 15 ? hi : 15;
            b[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

void rx_kernels__q5_0_quantize_ref(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q5_0 *b = y;
    for (int64_t i = 0; i < n / RX_QK; i++, x += RX_QK) {
        float d = signed_absmax(x, RX_QK) / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = rx_f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < RX_QK / 2; j++) {
            int lo = (int)(x[j] * id + 16.5f), hi = (int)(x[j + RX_QK / 2] * id + 16.5f);
            lo = lo < 31 ? lo : 31;
            hi = hi < 31 ? hi : 31;
            b[i].qs[j] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
            qh |= (uint32_t)(lo >> 4) << j;
            qh |= (uint32_t)(hi >> 4) << (j + RX_QK / 2);
        }
        memcpy(b[i].qh, &qh, 4);
    }
}

static float absmax(const float *x, int n)
{
    float amax = 0;
    for (int j = 0; j < n; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

/* For model files: scale by 1/d and round half away from zero, as quantize_row_q8_0_ref. */
void rx_kernels__q8_0_quantize_ref(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / RX_QK; i++, x += RX_QK) {
        float d = absmax(x, RX_QK) / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = rx_f32_to_fp16(d);
        for (int j = 0; j < RX_QK; j++)
            b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* For activations: scale by 127/amax and round half to even, as llama.cpp's AVX2 quantizer
 * does at run time; our outputs are compared with its log-probabilities. */
void rx_kernels__q8_0_from_float_ref(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q8_0 *b = y;
    for (int64_t i = 0; i < n / RX_QK; i++, x += RX_QK) {
        float amax = absmax(x, RX_QK);
        float id = amax != 0 ? 127.0f / amax : 0.0f;
        b[i].d = rx_f32_to_fp16(amax / 127.0f);
        for (int j = 0; j < RX_QK; j++)
            b[i].qs[j] = (int8_t)rx_kernels__nearest_int(x[j] * id);
    }
}

/* The _0 types' dot as ggml's AVX2 vec_dot and llamafile's tinyBLAS_Q0_AVX both sum it: per
 * block, lane l holds the integer products of elements 4l..4l+3, converted to float and
 * accumulated with FMA times d_x*d_y; the 8 lanes fold by hsum8 at the end. q holds the block's
 * weight codes already centred (q4_0: code - 8, q5_0: code - 16). */
static inline void accumulate_block(float acc[8], const int8_t q[RX_QK], const rx_block_q8_0 *y,
                                    float dx)
{
    const float d = dx * rx_fp16_to_f32(y->d);
    for (int l = 0; l < 8; l++) {
        int sum = 0;
        for (int k = 4 * l; k < 4 * l + 4; k++)
            sum += q[k] * y->qs[k];
        acc[l] = fmaf(d, (float)sum, acc[l]);
    }
}

void rx_kernels__dot_q4_0_q8_0_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y)
{
    const rx_block_q4_0 *a = x;
    const rx_block_q8_0 *b = y;
    float acc[8] = {0};
    int8_t q[RX_QK];
    for (int64_t i = 0; i < n / RX_QK; i++) {
        for (int j = 0; j < RX_QK / 2; j++) {
            q[j] = (int8_t)((a[i].qs[j] & 0xF) - 8);
            q[j + RX_QK / 2] = (int8_t)((a[i].qs[j] >> 4) - 8);
        }
        accumulate_block(acc, q, &b[i], rx_fp16_to_f32(a[i].d));
    }
    *s = rx_kernels__hsum8(acc);
}

void rx_kernels__dot_q5_0_q8_0_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y)
{
    const rx_block_q5_0 *a = x;
    const rx_block_q8_0 *b = y;
    float acc[8] = {0};
    int8_t q[RX_QK];
    for (int64_t i = 0; i < n / RX_QK; i++) {
        uint32_t qh = load_u32(a[i].qh);
        for (int j = 0; j < RX_QK / 2; j++) {
            q[j] = (int8_t)(((a[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16);
            q[j + RX_QK / 2] =
                (int8_t)(((a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16);
        }
        accumulate_block(acc, q, &b[i], rx_fp16_to_f32(a[i].d));
    }
    *s = rx_kernels__hsum8(acc);
}

void rx_kernels__dot_q8_0_q8_0_ref(int64_t n, float *restrict s, const void *restrict x,
                                   const void *restrict y)
{
    const rx_block_q8_0 *a = x;
    const rx_block_q8_0 *b = y;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / RX_QK; i++)
        accumulate_block(acc, a[i].qs, &b[i], rx_fp16_to_f32(a[i].d));
    *s = rx_kernels__hsum8(acc);
}

/* Q4_0 x Q8_0 as llama.cpp's repacked Q4_0_8x8 gemv/gemm sum it (ggml-cpu-aarch64.cpp, AVX2):
 * each block's 32 products summed exactly as integers, converted to float, and FMA-added times
 * d_w * d_a (one rounded product) into a single float per output, block after block. */
void rx_kernels__repack_q4_0_ref(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                 size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    for (int r = 0; r < nr; r++) {
        const rx_block_q4_0 *x = (const rx_block_q4_0 *)((const char *)w + (size_t)r * ws);
        for (int t = 0; t < nt; t++) {
            const rx_block_q8_0 *y = (const rx_block_q8_0 *)((const char *)a + (size_t)t * as);
            float acc = 0;
            for (int64_t i = 0; i < n / RX_QK; i++) {
                int sum = 0;
                for (int j = 0; j < RX_QK / 2; j++) {
                    sum += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j];
                    sum += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + RX_QK / 2];
                }
                float d = rx_fp16_to_f32(x[i].d) * rx_fp16_to_f32(y[i].d);
                acc = fmaf((float)sum, d, acc);
            }
            s[t * ld_s + r] = acc;
        }
    }
}
