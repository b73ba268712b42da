/* Chunked, multithreaded tensor output for the model writers: rows come from a source
 * callback, are converted with the deterministic reference quantizers (rx_quantize_rows, the
 * bytes llama-quantize writes) and appended to a file that is renamed into place only when
 * complete. Memory stays at one chunk (about 16 MB of floats) whatever the model size. */
#include "engine/quantize_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/kernels/kernels.h"
#include "engine/threadpool.h"
#include "reflex/quantize.h"

/* Floats per chunk: big enough to keep every thread busy, small enough to stay in cache-ish
 * territory and keep resident memory flat. */
#define CHUNK_FLOATS (4 * 1024 * 1024)

struct rx_tensor_stream {
    rx_threadpool *tp; /* owned */
    int n_threads;
    float *f32;   /* owned: f32_cap floats */
    uint8_t *out; /* owned: out_cap bytes */
    size_t f32_cap, out_cap;
    int64_t *bad_row; /* owned: one per thread, -1 when the thread saw no bad row */
};

int rx_quantize__default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

rx_status rx_quantize__out_open(rx_out_file *o, const char *path)
{
    *o = (rx_out_file){0};
    size_t len = strlen(path);
    o->path = strdup(path);
    o->tmp_path = malloc(len + 5);
    if (!o->path || !o->tmp_path) {
        rx_quantize__out_abort(o);
        return rx_error(RX_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(o->tmp_path, path, len);
    memcpy(o->tmp_path + len, ".tmp", 5);
    o->f = fopen(o->tmp_path, "wb");
    if (!o->f) {
        rx_status s = rx_error(RX_ERR_IO, "%s: cannot create: %s", o->tmp_path, strerror(errno));
        rx_quantize__out_abort(o);
        return s;
    }
    return RX_OK;
}

static void out_free(rx_out_file *o)
{
    free(o->path);
    free(o->tmp_path);
    o->path = o->tmp_path = NULL;
}

void rx_quantize__out_abort(rx_out_file *o)
{
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp_path) unlink(o->tmp_path);
    out_free(o);
}

rx_status rx_quantize__out_commit(rx_out_file *o)
{
    rx_status s = RX_OK;
    int err = 0;
    if (fflush(o->f) != 0 || ferror(o->f)) err = errno ? errno : EIO;
    if (fclose(o->f) != 0 && !err) err = errno ? errno : EIO;
    o->f = NULL;
    if (err) {
        s = rx_error(RX_ERR_IO, "%s: write failed: %s", o->tmp_path, strerror(err));
    } else if (rename(o->tmp_path, o->path) != 0) {
        s = rx_error(RX_ERR_IO, "%s: cannot rename to %s: %s", o->tmp_path, o->path,
                     strerror(errno));
    }
    if (s != RX_OK) unlink(o->tmp_path);
    out_free(o);
    return s;
}

rx_status rx_quantize__stream_create(int n_threads, rx_tensor_stream **out)
{
    rx_tensor_stream *s = calloc(1, sizeof *s);
    if (!s) return rx_error(RX_ERR_NOMEM, "quantize: out of memory");
    s->n_threads = n_threads;
    s->bad_row = calloc((size_t)n_threads, sizeof *s->bad_row);
    rx_status st = s->bad_row ? rx_threadpool_create(n_threads, &s->tp)
                              : rx_error(RX_ERR_NOMEM, "quantize: out of memory");
    if (st != RX_OK) {
        rx_quantize__stream_destroy(s);
        return st;
    }
    *out = s;
    return RX_OK;
}

void rx_quantize__stream_destroy(rx_tensor_stream *s)
{
    if (!s) return;
    rx_threadpool_destroy(s->tp);
    free(s->f32);
    free(s->out);
    free(s->bad_row);
    free(s);
}

static rx_status put(FILE *f, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, f) != n)
        return rx_error(RX_ERR_IO, "write failed: %s", strerror(errno ? errno : EIO));
    return RX_OK;
}

static rx_status pad(FILE *f, uint64_t written, uint32_t align)
{
    static const uint8_t zeros[64];
    uint64_t left = (align - written % align) % align;
    rx_status s = RX_OK;
    while (left && s == RX_OK) {
        size_t n = left > sizeof zeros ? sizeof zeros : (size_t)left;
        s = put(f, zeros, n);
        left -= n;
    }
    return s;
}

rx_status rx_quantize__write_raw(FILE *f, const void *data, size_t n, uint32_t align)
{
    rx_status s = put(f, data, n);
    return s == RX_OK ? pad(f, n, align) : s;
}

typedef struct {
    rx_tensor_stream *s;
    rx_type type;
    int64_t n_per_row, row0, nrows;
    size_t row_bytes;
    rx_row_source_fn src;
    void *arg;
} chunk_job;

/* Thread ith fills and converts its share of the chunk's rows. */
static void chunk_task(void *arg, int ith, int nth)
{
    const chunk_job *j = arg;
    int64_t per = (j->nrows + nth - 1) / nth;
    int64_t r0 = (int64_t)ith * per, r1 = r0 + per < j->nrows ? r0 + per : j->nrows;
    j->s->bad_row[ith] = -1;
    if (r0 >= r1) return;
    float *x = j->s->f32 + r0 * j->n_per_row;
    int64_t bad = -1;
    if (!j->src(j->arg, j->row0 + r0, r1 - r0, j->n_per_row, x, &bad)) {
        j->s->bad_row[ith] = bad < 0 ? j->row0 + r0 : bad;
        return;
    }
    rx_quantize_rows(j->type, x, j->s->out + (size_t)r0 * j->row_bytes, r1 - r0, j->n_per_row);
}

static rx_status reserve(rx_tensor_stream *s, size_t floats, size_t bytes)
{
    if (floats > s->f32_cap) {
        free(s->f32);
        s->f32 = malloc(floats * sizeof *s->f32);
        s->f32_cap = s->f32 ? floats : 0;
    }
    if (bytes > s->out_cap) {
        free(s->out);
        s->out = malloc(bytes);
        s->out_cap = s->out ? bytes : 0;
    }
    if (!s->f32 || !s->out) return rx_error(RX_ERR_NOMEM, "quantize: out of memory");
    return RX_OK;
}

rx_status rx_quantize__stream_tensor(rx_tensor_stream *s, FILE *f, const char *name, rx_type type,
                                     int64_t n_per_row, int64_t nrows, rx_row_source_fn src,
                                     void *arg, uint32_t align)
{
    const rx_type_info *info = rx_type_get((uint32_t)type);
    if (!rx_quantize_can_write(type) || n_per_row <= 0 || nrows < 0 || n_per_row % info->block_size)
        return rx_error(RX_ERR_INVALID_ARG, "tensor '%s': cannot write rows of %lld as %s", name,
                        (long long)n_per_row, rx_type_name(type));
    int64_t chunk_rows = CHUNK_FLOATS / n_per_row;
    if (chunk_rows < 1) chunk_rows = 1;
    if (chunk_rows > nrows) chunk_rows = nrows > 0 ? nrows : 1;
    chunk_job j = {.s = s,
                   .type = type,
                   .n_per_row = n_per_row,
                   .src = src,
                   .arg = arg,
                   .row_bytes = rx_row_size(type, n_per_row)};
    rx_status st = reserve(s, (size_t)(chunk_rows * n_per_row), (size_t)chunk_rows * j.row_bytes);
    uint64_t written = 0;
    for (int64_t r = 0; r < nrows && st == RX_OK; r += chunk_rows) {
        j.row0 = r;
        j.nrows = nrows - r < chunk_rows ? nrows - r : chunk_rows;
        rx_threadpool_run(s->tp, chunk_task, &j);
        for (int t = 0; t < s->n_threads; t++)
            if (s->bad_row[t] >= 0)
                return rx_error(RX_ERR_FORMAT, "tensor '%s' row %lld holds a NaN or infinity", name,
                                (long long)s->bad_row[t]);
        st = put(f, s->out, (size_t)j.nrows * j.row_bytes);
        written += (uint64_t)j.nrows * j.row_bytes;
    }
    if (st == RX_OK) st = pad(f, written, align);
    return st;
}
