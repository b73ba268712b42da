/* Deterministic Q4_K and Q6_K quantizers for writing model files, reproducing llama.cpp's
 * quantize_row_q4_K_ref / quantize_row_q6_K_ref (what llama-quantize runs without an
 * importance matrix) bit for bit. The float expressions keep ggml's order of operations on
 * purpose: reassociating any of them changes which scale wins a search and so the bytes. */
#include "engine/kernels/internal.h"

#include <math.h>

#include "core/fp16.h"

#define GROUP_MAX_EPS 1e-15f

static inline int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Weighted error of codes L for the affine map x ~ scale*L + min. */
static float affine_error(int n, const float *x, const float *w, const uint8_t *L, float scale,
                          float min)
{
    float err = 0;
    for (int i = 0; i < n; i++) {
        float diff = scale * L[i] + min - x[i];
        err += w[i] * (diff * diff);
    }
    return err;
}

/* Codes L in [0, nmax] and (scale, min) for x ~ scale*L - the_min, minimising the weighted
 * squared error. It starts from the plain min/max fit, then tries nstep+1 slightly stretched
 * grids (rmin + rdelta*is extra levels), solving the 2x2 least-squares problem for each and
 * keeping the best. The min is never positive (so the_min >= 0). */
static float fit_affine(int n, int nmax, const float *restrict x, const float *restrict w,
                        uint8_t *restrict L, float *restrict the_min, uint8_t *restrict Laux,
                        float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0];
    float sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clamp_int(rx_kernels__nearest_int(iscale * (x[i] - min)), 0, nmax);
    }
    float best_error = affine_error(n, x, w, L, scale, min);
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(rx_kernels__nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D <= 0) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = affine_error(n, x, w, Laux, this_scale, this_min);
        if (err < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

/* Symmetric codes L in [0, 2*nmax) (value l - nmax) and a scale for x ~ scale*(L - nmax),
 * weighting each element by x^2: maps the signed absolute maximum to -nmax, then tries 18
 * nearby grids and keeps the one with the best weighted least-squares fit. */
static float fit_symmetric(int n, int nmax, const float *restrict x, int8_t *restrict L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(rx_kernels__nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(rx_kernels__nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = clamp_int(rx_kernels__nearest_int(iscale * x[i]), -nmax, nmax - 1);
                L[i] = (int8_t)(l + nmax);
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Packs 6-bit scale ls and min lm of sub-block j into the 12-byte q4_K scale area. */
static void pack_scale_min(uint8_t *s, int j, uint8_t ls, uint8_t lm)
{
    if (j < 4) {
        s[j] = ls;
        s[j + 4] = lm;
    } else {
        s[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        s[j - 4] |= (uint8_t)((ls >> 4) << 6);
        s[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

static void quantize_q4_K_block(const float *restrict x, rx_block_q4_K *restrict y)
{
    uint8_t L[RX_QK_K], Laux[32];
    float w[32], mins[RX_QK_K / 32], scales[RX_QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < RX_QK_K / 32; j++) {
        const float *xj = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += xj[l] * xj[l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            w[l] = av_x + fabsf(xj[l]);
        scales[j] = fit_affine(32, 15, xj, w, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(y->scales, 0, sizeof y->scales);
    for (int j = 0; j < RX_QK_K / 32; j++) {
        /* ggml stores the rounded value in a uint8_t before clamping; keep that wrap */
        uint8_t ls = (uint8_t)rx_kernels__nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)rx_kernels__nearest_int(inv_min * mins[j]);
        pack_scale_min(y->scales, j, ls < 63 ? ls : 63, lm < 63 ? lm : 63);
    }
    y->d = rx_f32_to_fp16(max_scale / 63.f);
    y->dmin = rx_f32_to_fp16(max_min / 63.f);

    /* requantize against the scales as stored, so rounding of d/dmin is accounted for */
    for (int j = 0; j < RX_QK_K / 32; j++) {
        uint8_t sc, m;
        rx_q4k_scale_min(j, y->scales, &sc, &m);
        float d = rx_fp16_to_f32(y->d) * sc;
        if (!d) continue;
        float dm = rx_fp16_to_f32(y->dmin) * m;
        for (int l = 0; l < 32; l++) {
            int q = rx_kernels__nearest_int((x[32 * j + l] + dm) / d);
            L[32 * j + l] = (uint8_t)clamp_int(q, 0, 15);
        }
    }
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            y->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
        }
    }
}

void rx_kernels__q4_K_quantize_ref(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q4_K *b = y;
    for (int64_t i = 0; i < n / RX_QK_K; i++)
        quantize_q4_K_block(x + i * RX_QK_K, &b[i]);
}

static void pack_q6_K(const int8_t *restrict L, rx_block_q6_K *restrict y)
{
    for (int h = 0; h < 2; h++) {
        const int8_t *Lh = L + 128 * h;
        uint8_t *ql = y->ql + 64 * h, *qh = y->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
            qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                              ((Lh[l + 96] >> 4) << 6));
        }
    }
}

static void quantize_q6_K_block(const float *restrict x, rx_block_q6_K *restrict y)
{
    int8_t L[RX_QK_K];
    float scales[RX_QK_K / 16];
    float max_scale = 0, max_abs_scale = 0;
    for (int g = 0; g < RX_QK_K / 16; g++) {
        scales[g] = fit_symmetric(16, 32, x + 16 * g, L + 16 * g);
        if (fabsf(scales[g]) > max_abs_scale) {
            max_abs_scale = fabsf(scales[g]);
            max_scale = scales[g];
        }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    y->d = rx_f32_to_fp16(1 / iscale);
    for (int g = 0; g < RX_QK_K / 16; g++) {
        int v = rx_kernels__nearest_int(iscale * scales[g]);
        y->scales[g] = (int8_t)(v < 127 ? v : 127);
    }
    for (int g = 0; g < RX_QK_K / 16; g++) {
        float d = rx_fp16_to_f32(y->d) * y->scales[g];
        if (!d) continue;
        for (int l = 0; l < 16; l++) {
            int q = rx_kernels__nearest_int(x[16 * g + l] / d);
            L[16 * g + l] = (int8_t)(clamp_int(q, -32, 31) + 32);
        }
    }
    pack_q6_K(L, y);
}

void rx_kernels__q6_K_quantize_ref(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q6_K *b = y;
    for (int64_t i = 0; i < n / RX_QK_K; i++)
        quantize_q6_K_block(x + i * RX_QK_K, &b[i]);
}
