/* The matmul driver: activation conversion split by blocks across threads, then rows split
 * in contiguous bands, each band walked panel by panel (RX_TILE_ROWS rows) over token groups
 * so a weight panel is read from memory once and reused from L1 for all tokens. */
#include "engine/matmul.h"

#include <stdbool.h>
#include <stdint.h>

/* Tokens per pass over a row band: their converted activations (~2 KiB per token for
 * 2048-wide rows in Q8_0) stay in L2 while every panel of the band streams past. At most
 * RX_TILE_MAX_TOKENS: a wide tile takes them all at once. */
#define TOKEN_BLOCK 64
_Static_assert(TOKEN_BLOCK <= RX_TILE_MAX_TOKENS, "a wide tile takes a whole token block");
/* Rows per band are a multiple of this: 16 floats = one cache line of y per token. */
#define ROW_ALIGN 16
/* Below this many activation elements, converting on one thread beats waking the others. */
#define PARALLEL_CONVERT_MIN 32768

typedef struct {
    const rx_type_kernels *k; /* the weight type's kernels */
    rx_tile_fn tile;          /* the schedule chosen for this product; NULL: k->vec_dot */
    rx_gemv_fn gemv;          /* one token in vec_dot's order: replaces the panels; or NULL */
    int panel_rows;           /* rows per tile call: RX_TILE_ROWS, or RX_REPACK_TILE_ROWS */
    rx_from_float_fn convert; /* float -> vec_dot_type; NULL when x is used directly */
    int64_t act_block_elems;  /* block size of the vec_dot_type */
    size_t act_block_bytes;
    const rx_matrix *w;
    size_t w_row_bytes;
    const float *x;
    int64_t n_tokens;
    float *y;
    const char *act; /* activations in vec_dot_type, n_tokens rows (x or scratch) */
    char *act_out;   /* scratch the conversion writes; unused when x serves as is */
    size_t act_row_bytes;
} job;

static const rx_type_kernels *kernels_for(const rx_kernel_set *ks, rx_type t)
{
    if (!ks || (unsigned)t >= RX_TYPE_COUNT || !ks->type[t].vec_dot) return NULL;
    return &ks->type[t];
}

size_t rx_matmul_scratch_size(const rx_kernel_set *ks, rx_type wtype, int64_t cols,
                              int64_t n_tokens)
{
    const rx_type_kernels *k = kernels_for(ks, wtype);
    if (!k || k->vec_dot_type == RX_TYPE_F32 || cols < 0 || n_tokens < 0) return 0;
    return rx_row_size(k->vec_dot_type, cols) * (size_t)n_tokens + 64;
}

/* [*lo, *hi) of n items for thread ith of nth, inner boundaries multiples of align. */
static void split(int64_t n, int64_t align, int ith, int nth, int64_t *lo, int64_t *hi)
{
    int64_t units = (n + align - 1) / align;
    int64_t a = units * ith / nth * align, b = units * (ith + 1) / nth * align;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

static void convert_range(const job *j, int64_t lo, int64_t hi)
{
    /* blocks never straddle rows (cols is a multiple of the block size), so the converted rows
     * form one contiguous array of blocks, as the float rows form one array of elements */
    if (lo >= hi) return;
    j->convert(j->x + lo * j->act_block_elems, j->act_out + (size_t)lo * j->act_block_bytes,
               (hi - lo) * j->act_block_elems);
}

static void convert_task(void *arg, int ith, int nth)
{
    const job *j = arg;
    int64_t lo, hi;
    split(j->n_tokens * j->w->cols / j->act_block_elems, 1, ith, nth, &lo, &hi);
    convert_range(j, lo, hi);
}

/* One panel of nr rows against tokens [t0, t1). */
static void panel(const job *j, int64_t r, int nr, int64_t t0, int64_t t1)
{
    const int64_t rows = j->w->rows, cols = j->w->cols;
    const char *wr = (const char *)j->w->data + (size_t)r * j->w_row_bytes;
    /* wide tiles take the whole token group and decode each weight block once for it */
    const int64_t step = j->k->wide_tiles ? RX_TILE_MAX_TOKENS : RX_TILE_TOKENS;
    for (int64_t t = t0; t < t1; t += step) {
        int nt = (int)(t1 - t < step ? t1 - t : step);
        const char *at = j->act + (size_t)t * j->act_row_bytes;
        float *yt = j->y + t * rows + r;
        if (j->tile) {
            j->tile(cols, yt, rows, wr, j->w_row_bytes, at, j->act_row_bytes, nr, nt);
            continue;
        }
        for (int tt = 0; tt < nt; tt++) {
            for (int rr = 0; rr < nr; rr++) {
                j->k->vec_dot(cols, yt + tt * rows + rr, wr + (size_t)rr * j->w_row_bytes,
                              at + (size_t)tt * j->act_row_bytes);
            }
        }
    }
}

static void dot_task(void *arg, int ith, int nth)
{
    const job *j = arg;
    int64_t lo, hi;
    split(j->w->rows, ROW_ALIGN, ith, nth, &lo, &hi);
    if (j->gemv) {
        j->gemv(j->w->cols, j->y + lo, (const char *)j->w->data + (size_t)lo * j->w_row_bytes,
                j->w_row_bytes, j->act, hi - lo);
        return;
    }
    for (int64_t t0 = 0; t0 < j->n_tokens; t0 += TOKEN_BLOCK) {
        int64_t t1 = t0 + TOKEN_BLOCK < j->n_tokens ? t0 + TOKEN_BLOCK : j->n_tokens;
        for (int64_t r = lo; r < hi; r += j->panel_rows) {
            int nr = (int)(hi - r < j->panel_rows ? hi - r : j->panel_rows);
            panel(j, r, nr, t0, t1);
        }
    }
}

/* llama.cpp's x86 build (b4748) first offers a weight to its CPU_AARCH64 buffer, which on AVX2
 * repacks Q4_0 matrices whose rows come in eights to Q4_0_8x8 and multiplies them there for
 * every batch size (gemm for groups of 4 tokens, gemv for the rest; both sum alike). Otherwise
 * it tries llamafile's tinyBLAS first, for batches of two tokens or more; it takes float types
 * only when its 8-lane kernels need no tails (cols % 8 == 0) and the rows come in fours, and
 * everything else falls back to ggml's vec_dot. The three sum in different orders, so the same
 * choice keeps our results bit-identical to its. */
static rx_tile_fn choose_schedule(const rx_type_kernels *k, const rx_matrix *w, int64_t n_tokens)
{
    if (w->grouped) return k->grouped_tile; /* the same order, over the grouped layout */
    if (k->repack_tile && w->rows % RX_REPACK_ROWS == 0) return k->repack_tile;
    if (n_tokens >= 2 && k->gemm_tile) {
        bool float_type = k->vec_dot_type == RX_TYPE_F32 || k->vec_dot_type == RX_TYPE_F16 ||
                          k->vec_dot_type == RX_TYPE_BF16;
        if (!float_type || (w->cols % 8 == 0 && w->rows % 4 == 0)) return k->gemm_tile;
    }
    return k->tile;
}

rx_status rx_matmul(const rx_kernel_set *ks, rx_threadpool *tp, const rx_matrix *w, const float *x,
                    int64_t n_tokens, float *y, void *scratch, size_t scratch_size)
{
    const rx_type_kernels *k = kernels_for(ks, w->type);
    if (!k) return rx_error(RX_ERR_UNSUPPORTED, "matmul: no kernel for %s", rx_type_name(w->type));
    const rx_type_info *act = rx_type_get(k->vec_dot_type);
    const rx_type_info *wt = rx_type_get(w->type);
    if (w->rows < 0 || w->cols <= 0 || n_tokens < 0 || w->cols % wt->block_size ||
        w->cols % act->block_size) {
        return rx_error(RX_ERR_INVALID_ARG, "matmul: bad shape %lldx%lld (%s) x %lld tokens",
                        (long long)w->rows, (long long)w->cols, wt->name, (long long)n_tokens);
    }
    job j = {
        .k = k,
        .tile = choose_schedule(k, w, n_tokens),
        .panel_rows = RX_TILE_ROWS,
        .act_block_elems = act->block_size,
        .act_block_bytes = act->type_size,
        .w = w,
        .w_row_bytes = rx_row_size(w->type, w->cols),
        .x = x,
        .n_tokens = n_tokens,
        .y = y,
        .act = (const char *)x,
        .act_row_bytes = rx_row_size(k->vec_dot_type, w->cols),
    };
    if (w->grouped && (w->rows % RX_REPACK_ROWS || !j.tile))
        return rx_error(RX_ERR_UNSUPPORTED, "matmul: no kernel for grouped %s %lld rows",
                        wt->name, (long long)w->rows);
    if (j.tile && (j.tile == k->repack_tile || j.tile == k->grouped_tile))
        j.panel_rows = RX_REPACK_TILE_ROWS;
    if (n_tokens == 1 && j.tile == k->tile) j.gemv = k->gemv; /* the same order as tile's */
    if (k->vec_dot_type != RX_TYPE_F32) {
        if (scratch_size < rx_matmul_scratch_size(ks, w->type, w->cols, n_tokens)) {
            return rx_error(RX_ERR_INVALID_ARG, "matmul: scratch of %zu bytes, need %zu",
                            scratch_size, rx_matmul_scratch_size(ks, w->type, w->cols, n_tokens));
        }
        j.convert = ks->type[k->vec_dot_type].from_float;
        if (!j.convert)
            return rx_error(RX_ERR_UNSUPPORTED, "matmul: cannot convert to %s", act->name);
        j.act_out = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        j.act = j.act_out;
        if (n_tokens * w->cols >= PARALLEL_CONVERT_MIN && rx_threadpool_size(tp) > 1) {
            rx_threadpool_run(tp, convert_task, &j);
        } else {
            convert_range(&j, 0, n_tokens * w->cols / j.act_block_elems);
        }
    }
    if (n_tokens > 0 && w->rows > 0) rx_threadpool_run(tp, dot_task, &j);
    return RX_OK;
}
