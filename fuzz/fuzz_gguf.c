/* libFuzzer target for the GGUF reader (and, through a round trip, the writer).
 * Feeds the input to rx_gguf_open_memory; when it is accepted, reads every key through every
 * getter and rx_gguf_kv_format, touches each tensor's first and last byte, then copies the
 * whole file through the writer and checks that the copy reads back the same. Any crash,
 * sanitizer report or abort() here is a finding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/gguf.h"

static volatile uint64_t sink; /* keeps the reads below from being optimised away */

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_gguf: invariant broken: %s\n", what);
        abort();
    }
}

static void touch_str(rx_str s)
{
    if (s.len) sink += (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1];
}

static void touch_array(const rx_gguf *g, int64_t i, const char *key)
{
    rx_gguf_type et;
    uint64_t n;
    check(rx_gguf_get_arr(g, key, &et, &n) == RX_OK, "get_arr on an array");
    check(et < RX_GGUF_TYPE_COUNT && et != RX_GGUF_ARRAY, "array element type");
    for (uint64_t k = 0; k < n; k++) {
        if (et == RX_GGUF_STRING) {
            touch_str(rx_gguf_arr_str(g, i, k));
        } else {
            float f = rx_gguf_arr_f32(g, i, k);
            uint32_t bits;
            memcpy(&bits, &f, 4);
            sink += bits + (uint64_t)rx_gguf_arr_int(g, i, k);
        }
    }
}

static void touch_kv(const rx_gguf *g, int64_t i)
{
    const char *key = rx_gguf_key(g, i);
    char buf[256], tiny[2];
    check(key && key[0], "key is a non-empty string");
    check(rx_gguf_find_key(g, key) == i, "find_key finds the key's own index");
    rx_gguf_kv_format(g, i, buf, sizeof buf);
    check(strlen(buf) < sizeof buf, "kv_format terminates");
    rx_gguf_kv_format(g, i, tiny, sizeof tiny);
    rx_gguf_kv_format(g, i, tiny, 0);
    uint64_t u;
    uint32_t u32;
    int64_t i64;
    float f;
    bool b;
    rx_str s;
    rx_gguf_type et;
    uint64_t n;
    if (rx_gguf_get_u64(g, key, &u) == RX_OK) sink += u;
    if (rx_gguf_get_u32(g, key, &u32) == RX_OK) sink += u32;
    if (rx_gguf_get_i64(g, key, &i64) == RX_OK) sink += (uint64_t)i64;
    if (rx_gguf_get_f32(g, key, &f) == RX_OK) sink += f != f;
    if (rx_gguf_get_bool(g, key, &b) == RX_OK) sink += b;
    if (rx_gguf_get_str(g, key, &s) == RX_OK) touch_str(s);
    if (rx_gguf_kv_type(g, i) == RX_GGUF_ARRAY)
        touch_array(g, i, key);
    else
        check(rx_gguf_get_arr(g, key, &et, &n) != RX_OK, "get_arr refuses a scalar");
}

static void touch_tensors(const rx_gguf *g)
{
    size_t data_offset = rx_gguf_data_offset(g), size = rx_gguf_file_size(g);
    check(data_offset <= size, "data section inside the file");
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        check(rx_gguf_find_tensor(g, t->name) == t, "find_tensor finds the tensor itself");
        check(t->n_dims >= 1 && t->n_dims <= RX_GGUF_MAX_DIMS, "n_dims in range");
        check(t->nbytes > 0 && t->offset % rx_gguf_alignment(g) == 0, "size and alignment");
        check(t->nbytes / (size_t)(t->ne[1] * t->ne[2] * t->ne[3]) ==
                  rx_row_size(t->type, t->ne[0]),
              "nbytes is rows x row size");
        const uint8_t *p = t->data;
        sink += p[0] + p[t->nbytes - 1];
    }
    sink += rx_gguf_version(g) + rx_gguf_alignment(g);
}

/* Copies every key and tensor through the writer; the copy must read back the same. */
static void round_trip(const rx_gguf *g)
{
    rx_gguf_writer *w;
    check(rx_gguf_writer_create(&w) == RX_OK, "writer_create");
    for (int64_t i = 0; i < rx_gguf_n_kv(g); i++)
        check(rx_gguf_copy_kv(w, g, i) == RX_OK, "copy_kv accepts what the reader accepted");
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i);
        check(rx_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data) == RX_OK,
              "add_tensor accepts what the reader accepted");
    }
    void *buf;
    size_t size;
    check(rx_gguf_writer_to_memory(w, &buf, &size) == RX_OK, "writer_to_memory");
    rx_gguf *h;
    check(rx_gguf_open_memory(buf, size, &h) == RX_OK, "the reader reads the writer's copy");
    check(rx_gguf_n_kv(h) == rx_gguf_n_kv(g) && rx_gguf_n_tensors(h) == rx_gguf_n_tensors(g),
          "same counts");
    for (int64_t i = 0; i < rx_gguf_n_kv(g); i++) {
        char a[512], b[512];
        check(strcmp(rx_gguf_key(g, i), rx_gguf_key(h, i)) == 0, "same key order");
        rx_gguf_kv_format(g, i, a, sizeof a);
        rx_gguf_kv_format(h, i, b, sizeof b);
        check(strcmp(a, b) == 0, "same values");
    }
    for (int64_t i = 0; i < rx_gguf_n_tensors(g); i++) {
        const rx_gguf_tensor *t = rx_gguf_tensor_at(g, i), *u = rx_gguf_tensor_at(h, i);
        check(strcmp(t->name, u->name) == 0 && t->type == u->type && t->nbytes == u->nbytes &&
                  memcmp(t->ne, u->ne, sizeof t->ne) == 0 &&
                  memcmp(t->data, u->data, t->nbytes) == 0,
              "same tensors");
    }
    rx_gguf_close(h);
    free(buf);
    rx_gguf_writer_destroy(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rx_gguf *g;
    rx_status s = rx_gguf_open_memory(data, size, &g);
    if (s != RX_OK) {
        check(g == NULL, "no reader on failure");
        check(s == RX_ERR_FORMAT || s == RX_ERR_UNSUPPORTED, "a bad file is a format error");
        check(strstr(rx_last_error(), "gguf: ") == rx_last_error(), "message starts with gguf:");
        check(strstr(rx_last_error(), " at byte ") != NULL, "message names a byte offset");
        return 0;
    }
    for (int64_t i = 0; i < rx_gguf_n_kv(g); i++)
        touch_kv(g, i);
    touch_tensors(g);
    round_trip(g);
    rx_gguf_close(g);
    return 0;
}
