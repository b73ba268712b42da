/* Tensor element types, numbered as GGUF/ggml number them, with their block geometry.
 * A quantized type stores `block_size` elements in `type_size` bytes; a row's length must be
 * a multiple of block_size. */
#ifndef REFLEX_TYPES_H
#define REFLEX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    RX_TYPE_F32 = 0,
    RX_TYPE_F16 = 1,
    RX_TYPE_Q4_0 = 2,
    RX_TYPE_Q4_1 = 3,
    RX_TYPE_Q5_0 = 6,
    RX_TYPE_Q5_1 = 7,
    RX_TYPE_Q8_0 = 8,
    RX_TYPE_Q8_1 = 9,
    RX_TYPE_Q2_K = 10,
    RX_TYPE_Q3_K = 11,
    RX_TYPE_Q4_K = 12,
    RX_TYPE_Q5_K = 13,
    RX_TYPE_Q6_K = 14,
    RX_TYPE_Q8_K = 15,
    RX_TYPE_IQ2_XXS = 16,
    RX_TYPE_IQ2_XS = 17,
    RX_TYPE_IQ3_XXS = 18,
    RX_TYPE_IQ1_S = 19,
    RX_TYPE_IQ4_NL = 20,
    RX_TYPE_IQ3_S = 21,
    RX_TYPE_IQ2_S = 22,
    RX_TYPE_IQ4_XS = 23,
    RX_TYPE_I8 = 24,
    RX_TYPE_I16 = 25,
    RX_TYPE_I32 = 26,
    RX_TYPE_I64 = 27,
    RX_TYPE_F64 = 28,
    RX_TYPE_IQ1_M = 29,
    RX_TYPE_BF16 = 30,
    RX_TYPE_TQ1_0 = 34,
    RX_TYPE_TQ2_0 = 35,
    RX_TYPE_COUNT = 36
} rx_type;

typedef struct {
    const char *name;  /* "Q4_0"; NULL for ids that name no type */
    uint32_t block_size; /* elements per block */
    uint32_t type_size;  /* bytes per block */
} rx_type_info;

/* Geometry of type t, or NULL when t is not a known type id. */
const rx_type_info *rx_type_get(uint32_t t);

/* Name of t ("Q8_0"), or "?" when unknown. */
const char *rx_type_name(uint32_t t);

/* Looks up a type by name, case-insensitively; false if none matches. */
bool rx_type_from_name(const char *name, rx_type *out);

/* Bytes of one row of n elements (n must be a multiple of the block size). */
size_t rx_row_size(rx_type t, int64_t n);

#endif
