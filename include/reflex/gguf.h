/* GGUF v2/v3 reader (mmap) and writer.
 *
 * Byte format (little-endian):
 *   "GGUF" u32 version  u64 n_tensors  u64 n_kv
 *   n_kv x      { string key, u32 type, value }        string = u64 len + bytes (no NUL)
 *                                                      array  = u32 elem_type, u64 n, n x value
 *   n_tensors x { string name, u32 n_dims, n_dims x u64 ne, u32 type, u64 offset }
 *   padding to `general.alignment` (default 32), then tensor data; each tensor's offset is
 *   relative to the start of the data section and a multiple of the alignment.
 *
 * The reader trusts nothing: every count, length, offset and size is checked against the
 * bytes that remain, with overflow-safe arithmetic, before it is used. A bad file fails with
 * RX_ERR_FORMAT and a message naming the field and its byte offset (rx_last_error()). */
#ifndef REFLEX_GGUF_H
#define REFLEX_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reflex/status.h"
#include "reflex/types.h"

typedef enum {
    RX_GGUF_U8 = 0,
    RX_GGUF_I8 = 1,
    RX_GGUF_U16 = 2,
    RX_GGUF_I16 = 3,
    RX_GGUF_U32 = 4,
    RX_GGUF_I32 = 5,
    RX_GGUF_F32 = 6,
    RX_GGUF_BOOL = 7,
    RX_GGUF_STRING = 8,
    RX_GGUF_ARRAY = 9,
    RX_GGUF_U64 = 10,
    RX_GGUF_I64 = 11,
    RX_GGUF_F64 = 12,
    RX_GGUF_TYPE_COUNT
} rx_gguf_type;

#define RX_GGUF_DEFAULT_ALIGNMENT 32
#define RX_GGUF_MAX_DIMS 4

/* A string inside the file: not NUL-terminated, borrowed from the reader. */
typedef struct {
    const char *ptr;
    uint64_t len;
} rx_str;

typedef struct {
    const char *name;  /* NUL-terminated, owned by the reader */
    rx_type type;
    uint32_t n_dims;
    int64_t ne[RX_GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    uint64_t offset;   /* from the start of the data section */
    size_t nbytes;
    const void *data;  /* into the mapping; valid until rx_gguf_close */
} rx_gguf_tensor;

typedef struct rx_gguf rx_gguf;

/* Maps and validates the file at path. On success *out is owned by the caller. */
rx_status rx_gguf_open(const char *path, rx_gguf **out);

/* Validates a GGUF image in memory; data is borrowed and must outlive the reader. */
rx_status rx_gguf_open_memory(const void *data, size_t size, rx_gguf **out);

/* Unmaps and frees; accepts NULL. */
void rx_gguf_close(rx_gguf *g);

uint32_t rx_gguf_version(const rx_gguf *g);
uint32_t rx_gguf_alignment(const rx_gguf *g);
size_t rx_gguf_file_size(const rx_gguf *g);
size_t rx_gguf_data_offset(const rx_gguf *g); /* byte offset of the data section */

/* --- key/value metadata --- */
int64_t rx_gguf_n_kv(const rx_gguf *g);
int64_t rx_gguf_find_key(const rx_gguf *g, const char *key); /* index, or -1 */
const char *rx_gguf_key(const rx_gguf *g, int64_t i);
rx_gguf_type rx_gguf_kv_type(const rx_gguf *g, int64_t i);

/* Scalar getters by key. Integers convert between widths when the value fits; floats accept
 * F32/F64. They return RX_ERR_NOT_FOUND if the key is absent and RX_ERR_FORMAT (with a message
 * naming the key) if its type does not convert. */
rx_status rx_gguf_get_u64(const rx_gguf *g, const char *key, uint64_t *out);
rx_status rx_gguf_get_u32(const rx_gguf *g, const char *key, uint32_t *out);
rx_status rx_gguf_get_i64(const rx_gguf *g, const char *key, int64_t *out);
rx_status rx_gguf_get_f32(const rx_gguf *g, const char *key, float *out);
rx_status rx_gguf_get_bool(const rx_gguf *g, const char *key, bool *out);
rx_status rx_gguf_get_str(const rx_gguf *g, const char *key, rx_str *out);

/* Arrays by key: element type and count, then elements by index (index < count). */
rx_status rx_gguf_get_arr(const rx_gguf *g, const char *key, rx_gguf_type *elem_type,
                          uint64_t *n);
rx_str rx_gguf_arr_str(const rx_gguf *g, int64_t kv_index, uint64_t i);
float rx_gguf_arr_f32(const rx_gguf *g, int64_t kv_index, uint64_t i);
int64_t rx_gguf_arr_int(const rx_gguf *g, int64_t kv_index, uint64_t i); /* any integer type */

/* Renders value i as text for display (strings quoted, arrays summarised). */
void rx_gguf_kv_format(const rx_gguf *g, int64_t i, char *buf, size_t size);

/* --- tensors --- */
int64_t rx_gguf_n_tensors(const rx_gguf *g);
const rx_gguf_tensor *rx_gguf_tensor_at(const rx_gguf *g, int64_t i);
const rx_gguf_tensor *rx_gguf_find_tensor(const rx_gguf *g, const char *name); /* or NULL */

/* --- writer ---
 * Collects metadata and tensor descriptions, then writes header, tensor infos, and data in
 * order. Keys, strings and arrays are copied; tensor data pointers are borrowed until the
 * tensor's data is written. Not thread-safe. */
typedef struct rx_gguf_writer rx_gguf_writer;

rx_status rx_gguf_writer_create(rx_gguf_writer **out);
void rx_gguf_writer_destroy(rx_gguf_writer *w); /* accepts NULL */

/* Setting a key twice replaces its value. */
rx_status rx_gguf_set_u32(rx_gguf_writer *w, const char *key, uint32_t v);
rx_status rx_gguf_set_i32(rx_gguf_writer *w, const char *key, int32_t v);
rx_status rx_gguf_set_u64(rx_gguf_writer *w, const char *key, uint64_t v);
rx_status rx_gguf_set_f32(rx_gguf_writer *w, const char *key, float v);
rx_status rx_gguf_set_bool(rx_gguf_writer *w, const char *key, bool v);
rx_status rx_gguf_set_str(rx_gguf_writer *w, const char *key, const char *v);
/* Numeric array: n elements of elem_type, packed little-endian at data (copied). */
rx_status rx_gguf_set_arr(rx_gguf_writer *w, const char *key, rx_gguf_type elem_type,
                          const void *data, uint64_t n);
rx_status rx_gguf_set_arr_str(rx_gguf_writer *w, const char *key, const rx_str *v, uint64_t n);
/* Copies key i of a reader (any type, arrays included) into the writer. */
rx_status rx_gguf_copy_kv(rx_gguf_writer *w, const rx_gguf *g, int64_t i);

/* Adds a tensor; data may be NULL when it will be given to rx_gguf_writer_write_data. */
rx_status rx_gguf_add_tensor(rx_gguf_writer *w, const char *name, rx_type type, uint32_t n_dims,
                             const int64_t *ne, const void *data);

/* Writes the whole file; every tensor must have data. */
rx_status rx_gguf_writer_write_file(rx_gguf_writer *w, const char *path);

/* Streaming: write header + infos, then each tensor's data in the order added. */
rx_status rx_gguf_writer_begin(rx_gguf_writer *w, FILE *f);
rx_status rx_gguf_writer_write_data(rx_gguf_writer *w, FILE *f, int64_t tensor_index,
                                    const void *data);

/* The whole file as one malloc'd buffer (for tests and fuzz seeds); caller frees *buf. */
rx_status rx_gguf_writer_to_memory(rx_gguf_writer *w, void **buf, size_t *size);

#endif
