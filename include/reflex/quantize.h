/* Model quantization as llama-quantize (llama.cpp build 4748, no importance matrix) does it:
 * the same per-tensor type choices, the same bytes, the same metadata and tensor order.
 *
 * A file type (rx_ftype, written as general.file_type) names a recipe: a default type for the
 * weight matrices plus llama.cpp's exceptions (1-D tensors stay as they are; the output matrix
 * gets Q6_K under the 4- and 5-bit types; the _M mixes give some attn_v/ffn_down layers more
 * bits; a tensor whose rows do not fit the chosen block falls back to a type whose blocks fit).
 *
 * Thread safety: every function may run concurrently with any other on different files;
 * rx_quantize_file runs its own worker threads. */
#ifndef REFLEX_QUANTIZE_H
#define REFLEX_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/gguf.h"
#include "reflex/status.h"
#include "reflex/types.h"

/* llama.cpp's llama_ftype numbers, as general.file_type stores them. */
typedef enum {
    RX_FTYPE_ALL_F32 = 0,
    RX_FTYPE_F16 = 1,
    RX_FTYPE_Q4_0 = 2,
    RX_FTYPE_Q4_1 = 3,
    RX_FTYPE_Q8_0 = 7,
    RX_FTYPE_Q5_0 = 8,
    RX_FTYPE_Q5_1 = 9,
    RX_FTYPE_Q2_K = 10,
    RX_FTYPE_Q3_K_S = 11,
    RX_FTYPE_Q3_K_M = 12,
    RX_FTYPE_Q3_K_L = 13,
    RX_FTYPE_Q4_K_S = 14,
    RX_FTYPE_Q4_K_M = 15,
    RX_FTYPE_Q5_K_S = 16,
    RX_FTYPE_Q5_K_M = 17,
    RX_FTYPE_Q6_K = 18,
    RX_FTYPE_BF16 = 32,
} rx_ftype;

/* Looks a recipe up by llama-quantize's name, case-insensitively ("Q4_K_M"; "Q4_K" is its
 * alias for Q4_K_M, as "Q5_K" is for Q5_K_M). False for an unknown name. A known name may
 * still be one reflex cannot write: see rx_ftype_supported. */
bool rx_ftype_from_name(const char *name, rx_ftype *out);
const char *rx_ftype_name(rx_ftype ft); /* "Q4_K_M"; "?" if unknown */
/* True when every type the recipe can pick for a llama model is one reflex writes. */
bool rx_ftype_supported(rx_ftype ft);
/* Space-separated names of the supported recipes, for help and error messages. */
const char *rx_ftype_supported_names(void);
/* The recipe's type for ordinary weight matrices (Q4_K for Q4_K_M). */
rx_type rx_ftype_default_type(rx_ftype ft);

/* True when rx_quantize_rows can write type t (F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q6_K). */
bool rx_quantize_can_write(rx_type t);

/* One tensor as the type chooser sees it. */
typedef struct {
    const char *name; /* borrowed */
    uint32_t n_dims;
    int64_t ne[RX_GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    rx_type type;                 /* current type */
} rx_tensor_desc;

/* The model facts llama.cpp's rules read. */
typedef struct {
    const char *arch; /* general.architecture; borrowed */
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
} rx_quant_model;

/* llama.cpp's tensor order in a quantized file: tensors outside "blk.N." first, then by layer
 * number; by name (strcmp) within each group. Writes a permutation of 0..n-1 to order. */
void rx_quantize_order(const rx_tensor_desc *t, size_t n, size_t *order);

/* The type llama-quantize gives each tensor under recipe ft (out[i] for t[i]); tensors it
 * leaves alone keep their type. Visits tensors in rx_quantize_order, as the _M mixes count
 * layers in that order. May name types reflex cannot write (check rx_quantize_can_write).
 * RX_ERR_NOMEM if the scratch order cannot be allocated. */
rx_status rx_quantize_choose_types(const rx_quant_model *m, const rx_tensor_desc *t, size_t n,
                                   rx_ftype ft, rx_type *out);

/* Called after each tensor is written: index (1-based) of n, its name, old and new type,
 * and byte counts. */
typedef void (*rx_quantize_progress_fn)(void *user, int64_t i, int64_t n, const char *name,
                                        rx_type from, rx_type to, uint64_t bytes_from,
                                        uint64_t bytes_to);

typedef struct {
    rx_ftype ftype;
    int n_threads;                    /* 0: one per online CPU */
    bool allow_requantize;            /* quantized input tensors may be converted again (lossy) */
    rx_quantize_progress_fn progress; /* NULL: silent */
    void *progress_user;
} rx_quantize_params;

/* Defaults: Q8_0, all CPUs, no requantization, no progress. */
rx_quantize_params rx_quantize_default_params(void);

/* Quantizes the llama (or qwen2) GGUF at in_path into out_path. The output is written to
 * "<out_path>.tmp" and renamed over out_path only when complete; on any failure no file is
 * left behind. Errors: RX_ERR_IO/RX_ERR_FORMAT (unreadable input, write failure),
 * RX_ERR_UNSUPPORTED (architecture, a type reflex cannot read or write, quantized input
 * without allow_requantize), RX_ERR_FORMAT for a NaN/Inf weight; the message names the file
 * and tensor. */
rx_status rx_quantize_file(const char *in_path, const char *out_path, const rx_quantize_params *p);

#endif
