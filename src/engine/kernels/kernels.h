/* Kernel function tables: per weight type, conversion to/from float and the dot product
 * against the type activations are converted to (vec_dot_type), as llama.cpp pairs them:
 *   F32 x F32, F16 x F16, BF16 x BF16, Q4_0/Q5_0/Q8_0 x Q8_0, Q4_K/Q6_K x Q8_K.
 * One set is plain C (`ref`, always built); SIMD sets live in <op>_<isa>.c files with the same
 * signatures and are chosen once at start-up by CPU detection (rx_kernels_select).
 *
 * Every kernel sums in the order llama.cpp's x86 AVX2 build does (ggml b4748), so both sets
 * give the same bits as it and as each other: small models turn a last-bit difference before
 * an fp16 or 8-bit rounding into visible log-probability changes. That build has two orders
 * for one product: ggml's vec_dot (one token at a time) and llamafile's tinyBLAS (batches);
 * `vec_dot`/`tile` follow the first and `gemm_tile` the second (see matmul.c for which wins).
 * For Q4_0 weights a third order replaces both: the repacked Q4_0_8x8 path (`repack_tile`). */
#ifndef RX_ENGINE_KERNELS_H
#define RX_ENGINE_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/types.h"

/* x: n elements of the type; y: n floats. */
typedef void (*rx_to_float_fn)(const void *restrict x, float *restrict y, int64_t n);
/* x: n floats; y: n elements of the type (n a multiple of the block size). */
typedef void (*rx_from_float_fn)(const float *restrict x, void *restrict y, int64_t n);
/* *s = dot(x, y) over n elements; x of the weight type, y of its vec_dot_type. */
typedef void (*rx_vec_dot_fn)(int64_t n, float *restrict s, const void *restrict x,
                              const void *restrict y);

/* Matmul micro-kernel: for r < nr and t < nt,
 *   s[t*ld_s + r] = dot(row r of w, row t of a)
 * where w rows (weight type) are w_stride bytes apart and a rows (vec_dot_type) a_stride bytes
 * apart, each n elements long. nr <= RX_TILE_ROWS and nt <= RX_TILE_TOKENS. Loading a weight
 * block once for several tokens, and an activation block once for several rows, is what makes
 * it faster than calling vec_dot nr*nt times. */
#define RX_TILE_ROWS 4
#define RX_TILE_TOKENS 4
typedef void (*rx_tile_fn)(int64_t n, float *restrict s, int64_t ld_s, const void *restrict w,
                           size_t w_stride, const void *restrict a, size_t a_stride, int nr,
                           int nt);

/* One activation row against nr weight rows (any count, w_stride bytes apart), in vec_dot's
 * order: s[r] = dot(row r of w, a). The single-token matmul: free of the tiles' four-row
 * panels, it can share one horizontal reduction among several rows. */
typedef void (*rx_gemv_fn)(int64_t n, float *restrict s, const void *restrict w,
                           size_t w_stride, const void *restrict a, int64_t nr);

/* Attention against one head's slice of n KV cache rows (row j at k or v + j * stride bytes,
 * hd elements each), in llama.cpp's orders (attn_ref.c says which):
 *   K·q: s[j] = dot(row j, q) for j < n, q in vec_dot_type; vec_dot's order, or tinyBLAS's
 *        when gemm (only where the type has a gemm_tile, and hd % 8 == 0);
 *   V·p: out[i] = sum over j of w[j] * row j[i], position j summed into accumulator j % slots
 *        (slots 8 or 32), the accumulators then folded as ggml folds them.
 * Speed comes from several positions per instruction, not from a different sum. */
typedef void (*rx_att_scores_fn)(int64_t hd, int64_t n, float *restrict s, const void *restrict k,
                                 size_t stride, const void *restrict q, bool gemm);
typedef void (*rx_att_values_fn)(int64_t hd, int64_t n, float *restrict out,
                                 const void *restrict v, size_t stride, const float *restrict w,
                                 int slots);

typedef struct {
    rx_type vec_dot_type;        /* what activations are converted to before vec_dot */
    rx_to_float_fn to_float;     /* NULL if the type cannot be read */
    rx_from_float_fn from_float; /* NULL if the type cannot be written */
    rx_vec_dot_fn vec_dot;       /* ggml's vec_dot order; NULL if the type cannot be multiplied */
    rx_tile_fn tile;             /* vec_dot's order, several at once; NULL: vec_dot is called */
    /* llamafile tinyBLAS's order, where it differs from vec_dot's (float types); n must be a
     * multiple of 8. NULL: the type has no such path, or its tinyBLAS sums like vec_dot. */
    rx_tile_fn gemm_tile;
    /* The order of llama.cpp's CPU_AARCH64 repacked path (Q4_0 as Q4_0_8x8 on AVX2), which it
     * takes for every product, one token or many, whenever the rows come in multiples of
     * RX_REPACK_ROWS: per output, each block's exact integer dot times (d_w * d_a), FMA-added
     * block after block into one float. nr <= RX_REPACK_TILE_ROWS here. NULL: no such path. */
    rx_tile_fn repack_tile;
    /* The type's tiles (tile, gemm_tile, repack_tile) take up to RX_TILE_MAX_TOKENS tokens per
     * call, not just RX_TILE_TOKENS: they decode each weight block once for all of them. */
    bool wide_tiles;
    /* The type's order (repack_tile's for Q4_0, vec_dot's for Q8_0) over weights stored in
     * its grouped layout (RX_Q4_0X8_BLOCK, RX_Q8_0X8_BLOCK below); nr a multiple of RX_REPACK_ROWS, at most RX_REPACK_TILE_ROWS; up to
     * RX_TILE_MAX_TOKENS tokens. ws is still the plain row size: a group of 8 rows takes the
     * bytes of 8 plain rows, so row r (a multiple of 8) starts where it would in the plain
     * layout. NULL: no such path. */
    rx_tile_fn grouped_tile;
    /* vec_dot's order for one token; NULL: the driver calls tile (or vec_dot) */
    rx_gemv_fn gemv;
    /* attention over a KV cache of this type; NULL: not a KV cache type */
    rx_att_scores_fn att_scores;
    rx_att_values_fn att_values;
} rx_type_kernels;

/* Rows llama.cpp interleaves per repacked block (block_q4_0x8). */
#define RX_REPACK_ROWS 8
/* Most rows per repack_tile call: two groups, which share each token's activation setup. */
#define RX_REPACK_TILE_ROWS (2 * RX_REPACK_ROWS)
/* Q4_0 grouped by 8 rows ("q4_0x8"), the layout the model stores Q4_0 matrices in when their
 * rows come in eights: block i of rows 8g..8g+7 is RX_Q4_0X8_BLOCK bytes at
 * group_start + i * RX_Q4_0X8_BLOCK, first the 8 rows' fp16 scales in row order, then for
 * k = 0..3 32 bytes whose bytes 4j..4j+3 are row j's qs[4k..4k+3]. So one 32-bit broadcast of
 * activation elements 4k..4k+3 (low nibbles) or 16+4k.. (high nibbles) meets all 8 rows'
 * matching codes in one vector, and each row's block sum lands in its own 32-bit lane with no
 * horizontal adds. Same numbers, so the same results, as the plain layout. */
#define RX_Q4_0X8_BLOCK (RX_REPACK_ROWS * 18)
/* Rewrites rows x cols Q4_0 (rows a multiple of 8) from the plain layout into q4_0x8. */
void rx_q4_0x8_pack(const void *restrict plain, void *restrict grouped, int64_t rows,
                    int64_t cols);

/* Q8_0 grouped by 8 rows ("q8_0x8"): block i of rows 8g..8g+7 is RX_Q8_0X8_BLOCK bytes at
 * group_start + i * RX_Q8_0X8_BLOCK, first the 8 rows' fp16 scales in row order, then for
 * k = 0..7 32 bytes whose bytes 4j..4j+3 are row j's qs[4k..4k+3] + 128 (XOR 0x80: unsigned,
 * as vpdpbusd's first operand must be). One 32-bit broadcast of activations 4k..4k+3 meets all
 * 8 rows' matching codes, and row j's four products land in lane j: lane j of the k-th
 * accumulator is row j's vec_dot lane k. */
#define RX_Q8_0X8_BLOCK (RX_REPACK_ROWS * 34)
/* Rewrites rows x cols Q8_0 (rows a multiple of 8) from the plain layout into q8_0x8. */
void rx_q8_0x8_pack(const void *restrict plain, void *restrict grouped, int64_t rows,
                    int64_t cols);

/* Most tokens per tile call where wide_tiles is set. */
#define RX_TILE_MAX_TOKENS 64

/* y[i] = x[i] / (1 + exp(-x[i])) as ggml_vec_silu_f32: groups of 8 through ggml's vector exp,
 * the rest through expf. y may equal x. */
typedef void (*rx_silu_fn)(int64_t n, float *y, const float *x);
/* x = softmax(x * scale) over n elements as ggml_soft_max_ext computes it over a row whose
 * cells past n are masked: x * scale, its max, then exp(x - max) in groups of 8 from element 0
 * through ggml's vector exp (the last group padded with exact zeros), each group's sum added
 * in double, and every element times (float)(1 / sum). */
typedef void (*rx_softmax_fn)(float *x, int64_t n, float scale);

typedef struct {
    const char *name; /* "ref", "avx2" */
    rx_type_kernels type[RX_TYPE_COUNT];
    rx_silu_fn silu;
    rx_softmax_fn softmax;
} rx_kernel_set;

/* The plain-C set; always available. */
const rx_kernel_set *rx_kernels_ref(void);
/* The AVX2+FMA+F16C set, or NULL when not built in or the CPU lacks the features. */
const rx_kernel_set *rx_kernels_avx2(void);
/* The best set for this CPU; `force` ("ref", "avx2" or NULL for automatic, also read from the
 * environment variable RX_KERNELS when NULL) overrides. NULL if the forced set is unavailable. */
const rx_kernel_set *rx_kernels_select(const char *force);

/* Deterministic reference quantization of nrows rows of n_per_row floats, as llama.cpp's
 * `quantize_row_<type>_ref` does it (so files written with it are byte-identical to
 * llama-quantize's without an importance matrix). Supports F32, F16, BF16, Q4_0, Q5_0, Q8_0,
 * Q4_K and Q6_K; returns bytes written, or 0 for any other type. Thread-safe. */
size_t rx_quantize_rows(rx_type type, const float *src, void *dst, int64_t nrows,
                        int64_t n_per_row);

#endif
