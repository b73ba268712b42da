/* The tensor type table: geometry of every ggml type id, so a reader can size any tensor
 * even when the engine cannot compute with its type. */
#include "reflex/types.h"

#include <strings.h>

static const rx_type_info type_table[RX_TYPE_COUNT] = {
    [RX_TYPE_F32] = {"F32", 1, 4},           [RX_TYPE_F16] = {"F16", 1, 2},
    [RX_TYPE_Q4_0] = {"Q4_0", 32, 18},       [RX_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [RX_TYPE_Q5_0] = {"Q5_0", 32, 22},       [RX_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [RX_TYPE_Q8_0] = {"Q8_0", 32, 34},       [RX_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [RX_TYPE_Q2_K] = {"Q2_K", 256, 84},      [RX_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [RX_TYPE_Q4_K] = {"Q4_K", 256, 144},     [RX_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [RX_TYPE_Q6_K] = {"Q6_K", 256, 210},     [RX_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [RX_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66}, [RX_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [RX_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98}, [RX_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [RX_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},   [RX_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [RX_TYPE_IQ2_S] = {"IQ2_S", 256, 82},    [RX_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [RX_TYPE_I8] = {"I8", 1, 1},             [RX_TYPE_I16] = {"I16", 1, 2},
    [RX_TYPE_I32] = {"I32", 1, 4},           [RX_TYPE_I64] = {"I64", 1, 8},
    [RX_TYPE_F64] = {"F64", 1, 8},           [RX_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [RX_TYPE_BF16] = {"BF16", 1, 2},         [RX_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [RX_TYPE_TQ2_0] = {"TQ2_0", 256, 66},
};

const rx_type_info *rx_type_get(uint32_t t)
{
    if (t >= RX_TYPE_COUNT || type_table[t].name == NULL) return NULL;
    return &type_table[t];
}

const char *rx_type_name(uint32_t t)
{
    const rx_type_info *info = rx_type_get(t);
    return info ? info->name : "?";
}

bool rx_type_from_name(const char *name, rx_type *out)
{
    for (uint32_t t = 0; t < RX_TYPE_COUNT; t++) {
        if (type_table[t].name && strcasecmp(type_table[t].name, name) == 0) {
            *out = (rx_type)t;
            return true;
        }
    }
    return false;
}

size_t rx_row_size(rx_type t, int64_t n)
{
    const rx_type_info *info = rx_type_get((uint32_t)t);
    return (size_t)(n / info->block_size) * info->type_size;
}
