/* Matrix times activations, the engine's hot loop:
 *   y[t*rows + r] = dot(W row r, x row t)   for t < n_tokens, r < rows
 * W is rows x cols of any type with a vec_dot in the kernel set, stored row-major in ggml
 * layout (each row cols elements in blocks); x is n_tokens x cols floats, y n_tokens x rows.
 * The activations are first converted to the weight type's vec_dot_type (in parallel) into a
 * caller-provided scratch buffer, so the token loop never allocates; then each pool thread
 * takes a contiguous band of rows and computes it for every token with the kernel set's tile
 * micro-kernel (a block of rows reused across tokens while it is hot in cache). Each output
 * sums in the order llama.cpp's AVX2 build would use for this shape and number of tokens
 * (tinyBLAS, vec_dot, or for Q4_0 its repacked Q4_0_8x8 path; see kernels.h), so results
 * match it bit for bit. */
#ifndef RX_ENGINE_MATMUL_H
#define RX_ENGINE_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/kernels/kernels.h"
#include "engine/threadpool.h"
#include "reflex/status.h"

typedef struct {
    rx_type type;     /* weight type */
    const void *data; /* borrowed: rows * rx_row_size(type, cols) bytes */
    int64_t rows;
    int64_t cols; /* a multiple of the type's block size */
    bool grouped; /* stored in its type's grouped layout (kernels.h: RX_Q4_0X8_BLOCK, RX_Q8_0X8_BLOCK) */
} rx_matrix;

/* Bytes of scratch rx_matmul needs for n_tokens activation rows of length cols against weights
 * of type wtype (0 when activations are used as they are, e.g. F32 weights). Includes slack
 * for 64-byte alignment, so any pointer works as scratch. */
size_t rx_matmul_scratch_size(const rx_kernel_set *ks, rx_type wtype, int64_t cols,
                              int64_t n_tokens);

/* Computes y (n_tokens x w->rows floats; 64-byte aligned avoids threads sharing cache lines)
 * from w and x (n_tokens x w->cols floats) using kernel set ks on pool tp (NULL: the calling
 * thread alone). scratch must hold rx_matmul_scratch_size bytes and is overwritten.
 * Errors: RX_ERR_UNSUPPORTED when ks cannot multiply w->type; RX_ERR_INVALID_ARG for a bad
 * shape or too small a scratch. Not reentrant on one pool (see rx_threadpool_run); distinct
 * pools may run matmuls concurrently. */
rx_status rx_matmul(const rx_kernel_set *ks, rx_threadpool *tp, const rx_matrix *w, const float *x,
                    int64_t n_tokens, float *y, void *scratch, size_t scratch_size);

#endif
