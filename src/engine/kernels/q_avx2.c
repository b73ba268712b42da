/* AVX2 kernels of the 32-element block types: Q4_0, Q5_0 and Q8_0 weights against Q8_0
 * activations (dot products and matmul tiles), and the Q8_0 activation quantizer.
 * Q4_0 and Q5_0 codes stay unsigned (0..15, 0..31) so maddubs applies directly; the offset
 * (8 or 16) times the activation block's sum is subtracted once per block and token. */
#include "engine/kernels/internal.h"
#include "engine/kernels/simd_avx2.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

#ifndef RX_PREFETCH_PANELS
#define RX_PREFETCH_PANELS 2
#endif

/* --- activation quantization ------------------------------------------------------------- */

/* 32 int32 lanes in four vectors to 32 int8 in element order (packs interleave the lanes). */
static inline __m256i pack_i32x32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* d = amax/127 and codes round(x * 127/amax), ties to even: llama.cpp's x86 run-time path. */
void rx_kernels__q8_0_from_float_avx2(const float *restrict x, void *restrict y, int64_t n)
{
    rx_block_q8_0 *b = y;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / RX_QK; i++, x += RX_QK) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        b[i].d = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(amax / 127.f), 0), 0);
        __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 r = _mm256_round_ps(_mm256_mul_ps(v[k], id),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q[k] = _mm256_cvtps_epi32(r);
        }
        _mm256_storeu_si256((__m256i *)b[i].qs, pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
    }
}

/* --- weight decoding ------------------------------------------------------------------------ */

static ALWAYS_INLINE __m256i q4_0_codes(const rx_block_q4_0 *b)
{
    return rx_nibbles_to_bytes(b->qs);
}

static ALWAYS_INLINE __m256i q5_0_codes(const rx_block_q5_0 *b)
{
    __m256i high = _mm256_and_si256(rx_bits_to_bytes(b->qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(rx_nibbles_to_bytes(b->qs), high);
}

/* --- tiles ------------------------------------------------------------------------------- */

enum wtype { W_Q4_0, W_Q5_0, W_Q8_0 };

static ALWAYS_INLINE size_t block_bytes(enum wtype wt)
{
    return wt == W_Q4_0   ? sizeof(rx_block_q4_0)
           : wt == W_Q5_0 ? sizeof(rx_block_q5_0)
                          : sizeof(rx_block_q8_0);
}

/* Weight codes of block p as bytes: unsigned for Q4_0/Q5_0, their magnitudes for Q8_0 (whose
 * signs are moved onto the activations in the inner loop). */
static ALWAYS_INLINE __m256i weight_codes(enum wtype wt, const char *p)
{
    if (wt == W_Q4_0) return q4_0_codes((const rx_block_q4_0 *)p);
    if (wt == W_Q5_0) return q5_0_codes((const rx_block_q5_0 *)p);
    __m256i q = _mm256_loadu_si256((const __m256i *)((const rx_block_q8_0 *)p)->qs);
    return q;
}

static ALWAYS_INLINE int code_offset(enum wtype wt)
{
    return wt == W_Q4_0 ? 8 : wt == W_Q5_0 ? 16 : 0;
}

/* nr x nt dot products over nb blocks; the weight block is decoded once for all nt tokens and
 * each activation block (with its offset correction) once for all nr rows. */
static ALWAYS_INLINE void tile_q(int64_t nb, float *restrict s, int64_t ld_s,
                                 const char *restrict w, size_t ws, const char *restrict a,
                                 size_t as, const int nr, const int nt, enum wtype wt)
{
    __m256 acc[RX_TILE_ROWS][2];
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++)
            acc[r][t] = _mm256_setzero_ps();
    }
    const size_t bb = block_bytes(wt);
    /* The hardware prefetcher alone reaches a third of DRAM bandwidth here, so sweep the
     * panel RX_PREFETCH_PANELS ahead (the next rows, contiguous with these) at the pace this
     * one is consumed: nr blocks per iteration. Prefetching past the matrix end is harmless. */
    const char *ahead = w + (size_t)nr * ws * RX_PREFETCH_PANELS;
    for (int64_t i = 0; i < nb; i++) {
        const char *pf = ahead + (size_t)i * nr * bb;
#pragma GCC unroll 4
        for (size_t off = 0; off <= nr * bb; off += 64)
            _mm_prefetch(pf + off, _MM_HINT_T0);
        __m256i yq[2], corr[2];
        __m256 yd[2];
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++) {
            const rx_block_q8_0 *yb = (const rx_block_q8_0 *)(a + t * as) + i;
            yq[t] = _mm256_loadu_si256((const __m256i *)yb->qs);
            yd[t] = _mm256_set1_ps(rx_half_to_float(yb->d));
            if (code_offset(wt))
                corr[t] = rx_dot_u8s8(_mm256_set1_epi8((char)code_offset(wt)), yq[t]);
        }
#pragma GCC unroll 4
        for (int r = 0; r < nr; r++) {
            const char *wb = w + r * ws + (size_t)i * bb;
            __m256i u = weight_codes(wt, wb);
            uint16_t wh;
            memcpy(&wh, wb, 2); /* every block starts with its fp16 scale */
            __m256 wd = _mm256_set1_ps(rx_half_to_float(wh));
            __m256i mag = wt == W_Q8_0 ? _mm256_sign_epi8(u, u) : u;
#pragma GCC unroll 2
            for (int t = 0; t < nt; t++) {
                __m256i p;
                if (wt == W_Q8_0) {
                    p = rx_dot_u8s8(mag, _mm256_sign_epi8(yq[t], u));
                } else {
                    p = _mm256_sub_epi32(rx_dot_u8s8(u, yq[t]), corr[t]);
                }
                acc[r][t] =
                    _mm256_fmadd_ps(_mm256_mul_ps(wd, yd[t]), _mm256_cvtepi32_ps(p), acc[r][t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < nr; r++) {
#pragma GCC unroll 2
        for (int t = 0; t < nt; t++)
            s[t * ld_s + r] = rx_hsum_ps(acc[r][t]);
    }
}

/* tile_q's arithmetic for many tokens: each weight block of the nr rows is decoded once for
 * all nt tokens, whose accumulators live in memory. */
static ALWAYS_INLINE void tile_q_many(int64_t nb, float *restrict s, int64_t ld_s,
                                      const char *restrict w, size_t ws, const char *restrict a,
                                      size_t as, const int nr, int nt, enum wtype wt)
{
    __m256 acc[RX_TILE_MAX_TOKENS][RX_TILE_ROWS];
    for (int t = 0; t < nt; t++) {
#pragma GCC unroll 4
        for (int r = 0; r < nr; r++)
            acc[t][r] = _mm256_setzero_ps();
    }
    const size_t bb = block_bytes(wt);
    for (int64_t i = 0; i < nb; i++) {
        __m256i u[RX_TILE_ROWS], mag[RX_TILE_ROWS];
        __m256 wd[RX_TILE_ROWS];
#pragma GCC unroll 4
        for (int r = 0; r < nr; r++) {
            const char *wb = w + r * ws + (size_t)i * bb;
            uint16_t wh;
            memcpy(&wh, wb, 2);
            u[r] = weight_codes(wt, wb);
            mag[r] = wt == W_Q8_0 ? _mm256_sign_epi8(u[r], u[r]) : u[r];
            wd[r] = _mm256_set1_ps(rx_half_to_float(wh));
        }
        const char *yp = a + (size_t)i * sizeof(rx_block_q8_0);
        for (int t = 0; t < nt; t++, yp += as) {
            const rx_block_q8_0 *yb = (const rx_block_q8_0 *)yp;
            __m256i y = _mm256_loadu_si256((const __m256i *)yb->qs), corr;
            __m256 yd = _mm256_set1_ps(rx_half_to_float(yb->d));
            if (code_offset(wt)) corr = rx_dot_u8s8(_mm256_set1_epi8((char)code_offset(wt)), y);
#pragma GCC unroll 4
            for (int r = 0; r < nr; r++) {
                __m256i p = wt == W_Q8_0 ? rx_dot_u8s8(mag[r], _mm256_sign_epi8(y, u[r]))
                                         : _mm256_sub_epi32(rx_dot_u8s8(u[r], y), corr);
                acc[t][r] =
                    _mm256_fmadd_ps(_mm256_mul_ps(wd[r], yd), _mm256_cvtepi32_ps(p), acc[t][r]);
            }
        }
    }
    for (int t = 0; t < nt; t++) {
#pragma GCC unroll 4
        for (int r = 0; r < nr; r++)
            s[t * ld_s + r] = rx_hsum_ps(acc[t][r]);
    }
}

/* Walks an nr x nt request in 4x2 pieces (rows x tokens), or, past RX_TILE_TOKENS tokens,
 * in 4-row panels over all of them. */
static ALWAYS_INLINE void tile_walk(int64_t n, float *restrict s, int64_t ld_s,
                                    const void *restrict w, size_t ws, const void *restrict a,
                                    size_t as, int nr, int nt, enum wtype wt)
{
    const int64_t nb = n / RX_QK;
    const char *wc = w, *ac = a;
    if (nt > RX_TILE_TOKENS) {
        if (nr == RX_TILE_ROWS) {
            tile_q_many(nb, s, ld_s, wc, ws, ac, as, RX_TILE_ROWS, nt, wt);
        } else {
            for (int r = 0; r < nr; r++)
                tile_q_many(nb, s + r, ld_s, wc + r * ws, ws, ac, as, 1, nt, wt);
        }
        return;
    }
    for (int t = 0; t < nt; t += 2) {
        const char *at = ac + (size_t)t * as;
        float *st = s + t * ld_s;
        if (nr == 4 && nt - t >= 2) {
            tile_q(nb, st, ld_s, wc, ws, at, as, 4, 2, wt);
        } else if (nr == 4) {
            tile_q(nb, st, ld_s, wc, ws, at, as, 4, 1, wt);
        } else {
            for (int r = 0; r < nr; r++) {
                if (nt - t >= 2) {
                    tile_q(nb, st + r, ld_s, wc + r * ws, ws, at, as, 1, 2, wt);
                } else {
                    tile_q(nb, st + r, ld_s, wc + r * ws, ws, at, as, 1, 1, wt);
                }
            }
        }
    }
}

void rx_kernels__tile_q4_0_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, W_Q4_0);
}

void rx_kernels__tile_q5_0_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, W_Q5_0);
}

void rx_kernels__tile_q8_0_avx2(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                                size_t ws, const void *restrict a, size_t as, int nr, int nt)
{
    tile_walk(n, s, ld_s, w, ws, a, as, nr, nt, W_Q8_0);
}

/* --- single dot products: a 1x1 tile ------------------------------------------------------ */

void rx_kernels__dot_q4_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y)
{
    tile_q(n / RX_QK, s, 1, x, 0, y, 0, 1, 1, W_Q4_0);
}

void rx_kernels__dot_q5_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y)
{
    tile_q(n / RX_QK, s, 1, x, 0, y, 0, 1, 1, W_Q5_0);
}

void rx_kernels__dot_q8_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict x,
                                    const void *restrict y)
{
    tile_q(n / RX_QK, s, 1, x, 0, y, 0, 1, 1, W_Q8_0);
}

/* --- Q4_0 in llama.cpp's repacked (Q4_0_8x8) order ----------------------------------------- */

/* Eight rows at once, lane r = row r, as llama.cpp's interleaved layout computes them, without
 * interleaving the weights: per block and token, maddubs gives each row's products code * y in
 * pairs, horizontal adds and madd fold them (8 * y subtracted on the way to centre the codes)
 * until row r's block sum sits in int32 lane r; converted to float and FMA-added times
 * d_w * d_a into the token's accumulator. Integer sums are exact in any order (the int16 steps
 * hold at most 4 products, |sum| <= 4 * 15 * 127), so only the float steps need to follow
 * llama.cpp's, and they do. nr < 8 repeats the last row in the spare lanes and drops them. */
static ALWAYS_INLINE __m256i block_sums8(const __m256i p[RX_REPACK_ROWS], __m256i y)
{
    const __m256i one = _mm256_set1_epi16(1);
    /* 8 * y in the layout of hadd(p[r], p[r + 1]): four products per int16 */
    __m256i off = _mm256_maddubs_epi16(_mm256_set1_epi8(8), y);
    off = _mm256_hadd_epi16(off, off);
    __m256i m[RX_REPACK_ROWS / 2];
#pragma GCC unroll 4
    for (int k = 0; k < RX_REPACK_ROWS / 2; k++)
        m[k] = _mm256_madd_epi16(_mm256_sub_epi16(_mm256_hadd_epi16(p[2 * k], p[2 * k + 1]), off),
                                 one);
    /* per 128-bit half: rows 0..3 (lo) and 4..7 (hi) over that half of the block */
    __m256i lo = _mm256_hadd_epi32(m[0], m[1]), hi = _mm256_hadd_epi32(m[2], m[3]);
    return _mm256_add_epi32(_mm256_blend_epi32(lo, hi, 0xF0),
                            _mm256_permute2x128_si256(lo, hi, 0x21));
}

static ALWAYS_INLINE uint16_t load_u16(const char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static ALWAYS_INLINE void repack_q4_0(int64_t nb, float *restrict s, int64_t ld_s,
                                      const char *restrict w, size_t ws, const char *restrict a,
                                      size_t as, const int nr, const int nt)
{
    const size_t bb = sizeof(rx_block_q4_0);
    const char *row[RX_REPACK_ROWS];
    for (int r = 0; r < RX_REPACK_ROWS; r++)
        row[r] = w + (size_t)(r < nr ? r : nr - 1) * ws;
    __m256 acc[RX_TILE_TOKENS];
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    /* low nibbles stay in the low 128 bits, high nibbles shift down in the high 128 */
    const __m256i shift = _mm256_setr_epi64x(0, 0, 4, 4), low4 = _mm256_set1_epi8(0xF);
    /* sweep the panel RX_PREFETCH_PANELS ahead at the pace this one is read, as tile_q does */
    const char *ahead = w + (size_t)nr * ws * RX_PREFETCH_PANELS;
    for (int64_t i = 0; i < nb; i++) {
        const char *pf = ahead + (size_t)i * nr * bb;
#pragma GCC unroll 4
        for (size_t off = 0; off <= nr * bb; off += 64)
            _mm_prefetch(pf + off, _MM_HINT_T0);
        const size_t o = (size_t)i * bb;
        __m256i u[RX_REPACK_ROWS];
#pragma GCC unroll 8
        for (int r = 0; r < RX_REPACK_ROWS; r++) {
            __m256i v = _mm256_broadcastsi128_si256(
                _mm_loadu_si128((const __m128i *)((const rx_block_q4_0 *)(row[r] + o))->qs));
            u[r] = _mm256_and_si256(_mm256_srlv_epi64(v, shift), low4);
        }
        __m128i h = _mm_setr_epi16((short)load_u16(row[0] + o), (short)load_u16(row[1] + o),
                                   (short)load_u16(row[2] + o), (short)load_u16(row[3] + o),
                                   (short)load_u16(row[4] + o), (short)load_u16(row[5] + o),
                                   (short)load_u16(row[6] + o), (short)load_u16(row[7] + o));
        __m256 wd = _mm256_cvtph_ps(h);
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            const rx_block_q8_0 *yb = (const rx_block_q8_0 *)(a + t * as) + i;
            __m256i y = _mm256_loadu_si256((const __m256i *)yb->qs), p[RX_REPACK_ROWS];
#pragma GCC unroll 8
            for (int r = 0; r < RX_REPACK_ROWS; r++)
                p[r] = _mm256_maddubs_epi16(u[r], y);
            __m256 sum = _mm256_cvtepi32_ps(block_sums8(p, y));
            __m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(rx_half_to_float(yb->d)));
            acc[t] = _mm256_fmadd_ps(sum, d, acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++) {
        if (nr == RX_REPACK_ROWS) {
            _mm256_storeu_ps(s + t * ld_s, acc[t]);
        } else {
            float v[RX_REPACK_ROWS];
            _mm256_storeu_ps(v, acc[t]);
            for (int r = 0; r < nr; r++)
                s[t * ld_s + r] = v[r];
        }
    }
}

/* Row r's block sum in int32 lane r, for activations given as 128 + y (unsigned bytes) and
 * codes as w = q - 8 (signed), the codes transposed so that int32 lane j of t[g][k] holds row
 * 4g + j's elements 4k..4k+3 in the low 128 bits and 16+4k..16+4k+3 in the high ones:
 * one in-lane dword broadcast of the activations serves eight rows, and no horizontal adds
 * are needed. sum((128 + y) * w) = sum(y * w) + 128 * sum(w); the caller subtracts the second
 * term. Exact: each int16 holds at most 8 products |(128 + y) * w| <= 255 * 8, so <= 32640. */
static ALWAYS_INLINE __m256i block_sums8_t(const __m256i t[2][4], __m256i yu)
{
    __m256i h[2];
#pragma GCC unroll 2
    for (int g = 0; g < 2; g++) {
        __m256i p0 = _mm256_maddubs_epi16(_mm256_shuffle_epi32(yu, 0x00), t[g][0]);
        __m256i p1 = _mm256_maddubs_epi16(_mm256_shuffle_epi32(yu, 0x55), t[g][1]);
        __m256i p2 = _mm256_maddubs_epi16(_mm256_shuffle_epi32(yu, 0xAA), t[g][2]);
        __m256i p3 = _mm256_maddubs_epi16(_mm256_shuffle_epi32(yu, 0xFF), t[g][3]);
        h[g] = _mm256_add_epi16(_mm256_add_epi16(p0, p1), _mm256_add_epi16(p2, p3));
    }
    /* rows 0..3 and 4..7 of the low halves plus those of the high halves */
    __m256i lo = _mm256_permute2x128_si256(h[0], h[1], 0x20);
    __m256i hi = _mm256_permute2x128_si256(h[0], h[1], 0x31);
    return _mm256_madd_epi16(_mm256_add_epi16(lo, hi), _mm256_set1_epi16(1));
}

/* Codes of one block of eight rows (row r at w + r * ws) as q - 8, transposed for
 * block_sums8_t, and 128 * sum(q - 8) per row in lane r. */
static ALWAYS_INLINE __m256i transposed_codes(const char *b, size_t ws, __m256i t[2][4])
{
    const __m256i shift = _mm256_setr_epi64x(0, 0, 4, 4), low4 = _mm256_set1_epi8(0xF);
    __m256i c[RX_REPACK_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < RX_REPACK_ROWS; r++) {
        __m256i v = _mm256_broadcastsi128_si256(
            _mm_loadu_si128((const __m128i *)((const rx_block_q4_0 *)(b + r * ws))->qs));
        c[r] = _mm256_sub_epi8(_mm256_and_si256(_mm256_srlv_epi64(v, shift), low4),
                               _mm256_set1_epi8(8));
    }
    /* a 4x4 transpose of dwords within each 128-bit half, per group of four rows */
#pragma GCC unroll 2
    for (int g = 0; g < 2; g++) {
        const __m256i *r = c + 4 * g;
        __m256i a01 = _mm256_unpacklo_epi32(r[0], r[1]), b01 = _mm256_unpackhi_epi32(r[0], r[1]);
        __m256i a23 = _mm256_unpacklo_epi32(r[2], r[3]), b23 = _mm256_unpackhi_epi32(r[2], r[3]);
        t[g][0] = _mm256_unpacklo_epi64(a01, a23);
        t[g][1] = _mm256_unpackhi_epi64(a01, a23);
        t[g][2] = _mm256_unpacklo_epi64(b01, b23);
        t[g][3] = _mm256_unpackhi_epi64(b01, b23);
    }
    return block_sums8_t(t, _mm256_set1_epi8((char)0x80));
}

static ALWAYS_INLINE __m256 row_scales8(const char *b, size_t ws)
{
    __m128i h = _mm_setr_epi16((short)load_u16(b), (short)load_u16(b + ws),
                               (short)load_u16(b + 2 * ws), (short)load_u16(b + 3 * ws),
                               (short)load_u16(b + 4 * ws), (short)load_u16(b + 5 * ws),
                               (short)load_u16(b + 6 * ws), (short)load_u16(b + 7 * ws));
    return _mm256_cvtph_ps(h);
}

/* More tokens than registers: each block of ng groups of eight rows is decoded and transposed
 * once for all nt tokens (see block_sums8_t), and each token's activations are set up once for
 * all groups; the accumulators live in memory. Each block's integer sum is exact, so the float
 * steps, and the results, are repack_q4_0's. */
static ALWAYS_INLINE void repack_q4_0_many(int64_t nb, float *restrict s, int64_t ld_s,
                                           const char *restrict w, size_t ws,
                                           const char *restrict a, size_t as, int nt, const int ng)
{
    const size_t bb = sizeof(rx_block_q4_0);
    __m256 acc[RX_TILE_MAX_TOKENS][2];
    for (int t = 0; t < nt; t++) {
#pragma GCC unroll 2
        for (int g = 0; g < ng; g++)
            acc[t][g] = _mm256_setzero_ps();
    }
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int64_t i = 0; i < nb; i++) {
        __m256i t[2][2][4], bias[2];
        __m256 wd[2];
#pragma GCC unroll 2
        for (int g = 0; g < ng; g++) {
            const char *b = w + (size_t)g * RX_REPACK_ROWS * ws + (size_t)i * bb;
            bias[g] = transposed_codes(b, ws, t[g]);
            wd[g] = row_scales8(b, ws);
        }
        const char *yp = a + (size_t)i * sizeof(rx_block_q8_0);
        for (int k = 0; k < nt; k++, yp += as) {
            const rx_block_q8_0 *yb = (const rx_block_q8_0 *)yp;
            __m256i yu = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)yb->qs), flip);
            __m256 yd = _mm256_set1_ps(rx_half_to_float(yb->d));
#pragma GCC unroll 2
            for (int g = 0; g < ng; g++) {
                __m256 sum = _mm256_cvtepi32_ps(_mm256_sub_epi32(block_sums8_t(t[g], yu), bias[g]));
                acc[k][g] = _mm256_fmadd_ps(sum, _mm256_mul_ps(wd[g], yd), acc[k][g]);
            }
        }
    }
    for (int t = 0; t < nt; t++) {
#pragma GCC unroll 2
        for (int g = 0; g < ng; g++)
            _mm256_storeu_ps(s + t * ld_s + g * RX_REPACK_ROWS, acc[t][g]);
    }
}

/* nr <= RX_REPACK_ROWS rows against up to RX_TILE_TOKENS tokens, in registers */
static void repack_few(int64_t nb, float *restrict s, int64_t ld_s, const char *restrict w,
                       size_t ws, const char *restrict a, size_t as, int nr, int nt)
{
    if (nr < RX_REPACK_ROWS) {
        for (int t = 0; t < nt; t++)
            repack_q4_0(nb, s + t * ld_s, ld_s, w, ws, a + t * as, as, nr, 1);
        return;
    }
    switch (nt) {
    case 4:
        repack_q4_0(nb, s, ld_s, w, ws, a, as, RX_REPACK_ROWS, 4);
        return;
    case 3:
        repack_q4_0(nb, s, ld_s, w, ws, a, as, RX_REPACK_ROWS, 3);
        return;
    case 2:
        repack_q4_0(nb, s, ld_s, w, ws, a, as, RX_REPACK_ROWS, 2);
        return;
    default:
        repack_q4_0(nb, s, ld_s, w, ws, a, as, RX_REPACK_ROWS, 1);
        return;
    }
}

void rx_kernels__repack_q4_0_avx2(int64_t n, float *restrict s, int64_t ld_s,
                                  const void *restrict w, size_t ws, const void *restrict a,
                                  size_t as, int nr, int nt)
{
    const int64_t nb = n / RX_QK;
    const char *wc = w, *ac = a;
    if (nt > RX_TILE_TOKENS && nr == 2 * RX_REPACK_ROWS) {
        repack_q4_0_many(nb, s, ld_s, wc, ws, ac, as, nt, 2);
        return;
    }
    for (int r = 0; r < nr; r += RX_REPACK_ROWS) {
        const int rows = nr - r < RX_REPACK_ROWS ? nr - r : RX_REPACK_ROWS;
        const char *wr = wc + (size_t)r * ws;
        if (nt > RX_TILE_TOKENS && rows == RX_REPACK_ROWS) {
            repack_q4_0_many(nb, s + r, ld_s, wr, ws, ac, as, nt, 1);
            continue;
        }
        for (int t = 0; t < nt; t += RX_TILE_TOKENS) {
            const int k = nt - t < RX_TILE_TOKENS ? nt - t : RX_TILE_TOKENS;
            repack_few(nb, s + t * ld_s + r, ld_s, wr, ws, ac + (size_t)t * as, as, rows, k);
        }
    }
}
