/* Kernel function tables: per weight type, conversion to/from float and the dot product
 * against the type activations are converted to (vec_dot_type), as llama.cpp pairs them:
 *   F32 x F32, F16 x F16, BF16 x BF16, Q4_0/Q5_0/Q8_0 x Q8_0, Q4_K/Q6_K x Q8_K.
 * One set is plain C (`ref`, always built); SIMD sets live in <op>_<isa>.c files with the same
 * signatures and are chosen once at start-up by CPU detection (rx_kernels_select). */
#ifndef RX_ENGINE_KERNELS_H
#define RX_ENGINE_KERNELS_H

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

typedef struct {
    rx_type vec_dot_type;        /* what activations are converted to before vec_dot */
    rx_to_float_fn to_float;     /* NULL if the type cannot be read */
    rx_from_float_fn from_float; /* NULL if the type cannot be written */
    rx_vec_dot_fn vec_dot;       /* NULL if the type cannot be multiplied */
    rx_tile_fn tile;             /* NULL: the matmul falls back to vec_dot */
} rx_type_kernels;

typedef struct {
    const char *name; /* "ref", "avx2" */
    rx_type_kernels type[RX_TYPE_COUNT];
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
