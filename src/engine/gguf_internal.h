/* What the GGUF writer needs from the reader's private state, shared between gguf.c and
 * gguf_write.c only. */
#ifndef RX_ENGINE_GGUF_INTERNAL_H
#define RX_ENGINE_GGUF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "reflex/gguf.h"

/* The bytes of value i exactly as they sit in the file after its type field (for arrays: the
 * element type, the count and the elements). Borrowed from the reader; lets rx_gguf_copy_kv
 * copy any value bit for bit, F64 included, which the public getters cannot. */
void rx_gguf__value_bytes(const rx_gguf *g, int64_t i, const uint8_t **p, size_t *size);

#endif
