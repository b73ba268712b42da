/* What the model writers (quantize.c, synth.c, llama2c.c) share: an output file that appears
 * under its name only when complete, and a tensor streamer that produces rows chunk by chunk
 * on a thread pool, converts them to the target type and appends them, so that no writer
 * holds a whole tensor (or model) in memory. */
#ifndef RX_ENGINE_QUANTIZE_INTERNAL_H
#define RX_ENGINE_QUANTIZE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "reflex/status.h"
#include "reflex/types.h"

/* "<path>.tmp" while being written; renamed to path by commit, removed by abort. */
typedef struct {
    char *path;     /* owned copy */
    char *tmp_path; /* owned */
    FILE *f;        /* owned; NULL once closed */
} rx_out_file;

rx_status rx_quantize__out_open(rx_out_file *o, const char *path);
/* Flushes, closes and renames; on failure the temporary file is removed. Frees o's strings. */
rx_status rx_quantize__out_commit(rx_out_file *o);
/* Closes and removes the temporary file and frees o's strings; safe on a zeroed o. */
void rx_quantize__out_abort(rx_out_file *o);

/* Fills dst with rows [row0, row0 + nrows) of the tensor being written, as floats. Called on
 * several threads at once for disjoint ranges. Returns false when a row is unusable (NaN or
 * infinite), with its index in *bad_row. */
typedef bool (*rx_row_source_fn)(void *arg, int64_t row0, int64_t nrows, int64_t n_per_row,
                                 float *dst, int64_t *bad_row);

typedef struct rx_tensor_stream rx_tensor_stream;

/* n_threads >= 1. The scratch grows with the widest row written, to a few MB per chunk. */
rx_status rx_quantize__stream_create(int n_threads, rx_tensor_stream **out);
void rx_quantize__stream_destroy(rx_tensor_stream *s); /* accepts NULL */

/* Appends nrows rows of n_per_row elements, converted to type (rx_quantize_can_write), then
 * zeros up to a multiple of align: one tensor's slot in a GGUF data section. name is for
 * messages. A bad row fails with RX_ERR_FORMAT naming the tensor and row. */
rx_status rx_quantize__stream_tensor(rx_tensor_stream *s, FILE *f, const char *name, rx_type type,
                                     int64_t n_per_row, int64_t nrows, rx_row_source_fn src,
                                     void *arg, uint32_t align);

/* Appends n raw bytes and the zeros up to a multiple of align. */
rx_status rx_quantize__write_raw(FILE *f, const void *data, size_t n, uint32_t align);

/* Worker count for n_threads == 0: the online CPUs. */
int rx_quantize__default_threads(void);

#endif
