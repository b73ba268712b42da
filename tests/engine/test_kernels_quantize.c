/* engine/kernels rx_quantize_rows: byte identity with llama-quantize. Each tensor that
 * ../shared/models/tiny-random-<TYPE>.gguf stores quantized is re-quantized from the F16 file
 * and compared byte for byte. A small test-only GGUF walker stands in for the engine's reader. */
#include "rxtest.h"

#include <stdlib.h>
#include <string.h>

#include "core/fp16.h"
#include "engine/kernels/kernels.h"

typedef struct {
    const uint8_t *p, *end;
} cursor;

static uint64_t take(cursor *c, size_t n)
{
    assert_true((size_t)(c->end - c->p) >= n);
    uint64_t v = 0;
    memcpy(&v, c->p, n);
    c->p += n;
    return v;
}

static void skip_value(cursor *c, uint32_t type)
{
    static const size_t scalar[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    assert_true(type <= 12);
    if (type == 8) {
        c->p += take(c, 8);
    } else if (type == 9) {
        uint32_t et = (uint32_t)take(c, 4);
        uint64_t n = take(c, 8);
        for (uint64_t i = 0; i < n; i++)
            skip_value(c, et);
    } else {
        c->p += scalar[type];
    }
}

typedef struct {
    char name[96];
    uint32_t type;
    int64_t ne0, nrows;
    const uint8_t *data;
} tensor;

typedef struct {
    char *file;
    tensor t[512];
    int n;
} model;

static void load(model *m, const char *rel)
{
    size_t size;
    m->file = rxt_read_file(rxt_shared(rel), &size);
    if (!m->file) skip();
    cursor c = {(const uint8_t *)m->file, (const uint8_t *)m->file + size};
    assert_int_equal(take(&c, 4), 0x46554747); /* "GGUF" */
    take(&c, 4);
    uint64_t n_tensors = take(&c, 8), n_kv = take(&c, 8);
    uint64_t align = 32;
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t klen = take(&c, 8);
        const char *key = (const char *)c.p;
        c.p += klen;
        uint32_t type = (uint32_t)take(&c, 4);
        if (klen == 17 && memcmp(key, "general.alignment", 17) == 0 && type == 4) {
            align = take(&c, 4);
        } else {
            skip_value(&c, type);
        }
    }
    assert_true(n_tensors <= 512);
    uint64_t offsets[512];
    for (uint64_t i = 0; i < n_tensors; i++) {
        tensor *t = &m->t[i];
        uint64_t len = take(&c, 8);
        assert_true(len < sizeof t->name);
        memcpy(t->name, c.p, len), t->name[len] = 0, c.p += len;
        uint32_t nd = (uint32_t)take(&c, 4);
        t->nrows = 1;
        for (uint32_t d = 0; d < nd; d++) {
            int64_t ne = (int64_t)take(&c, 8);
            if (d == 0)
                t->ne0 = ne;
            else
                t->nrows *= ne;
        }
        t->type = (uint32_t)take(&c, 4);
        offsets[i] = take(&c, 8);
    }
    size_t base = ((size_t)(c.p - (const uint8_t *)m->file) + align - 1) / align * align;
    for (uint64_t i = 0; i < n_tensors; i++)
        m->t[i].data = (const uint8_t *)m->file + base + offsets[i];
    m->n = (int)n_tensors;
}

static const tensor *find(const model *m, const char *name)
{
    for (int i = 0; i < m->n; i++) {
        if (strcmp(m->t[i].name, name) == 0) return &m->t[i];
    }
    return NULL;
}

/* Re-quantizes every tensor of `quantized` whose type is in `types` from the F16 model. */
static void check_file(const char *rel, const rx_type *types, int n_types)
{
    model f16, q;
    load(&f16, "models/tiny-random-F16.gguf");
    load(&q, rel);
    int checked[RX_TYPE_COUNT] = {0};
    for (int i = 0; i < q.n; i++) {
        const tensor *tq = &q.t[i], *src = find(&f16, tq->name);
        int wanted = 0;
        for (int k = 0; k < n_types; k++)
            wanted |= tq->type == (uint32_t)types[k];
        if (!wanted || !src || src->type != RX_TYPE_F16) continue;
        int64_t n = src->ne0 * src->nrows;
        float *x = malloc(sizeof(float) * n);
        for (int64_t k = 0; k < n; k++) {
            uint16_t h;
            memcpy(&h, src->data + 2 * k, 2);
            x[k] = rx_fp16_to_f32(h);
        }
        size_t bytes = rx_row_size(tq->type, src->ne0) * (size_t)src->nrows;
        uint8_t *out = malloc(bytes);
        assert_int_equal(rx_quantize_rows(tq->type, x, out, src->nrows, src->ne0), bytes);
        if (memcmp(out, tq->data, bytes) != 0) {
            size_t k = 0;
            while (out[k] == tq->data[k])
                k++;
            fail_msg("%s: %s (%s) differs at byte %zu of %zu", rel, tq->name,
                     rx_type_name(tq->type), k, bytes);
        }
        checked[tq->type]++;
        free(x), free(out);
    }
    for (int k = 0; k < n_types; k++) {
        if (!checked[types[k]]) fail_msg("%s: no %s tensor compared", rel, rx_type_name(types[k]));
    }
    free(f16.file), free(q.file);
}

static void test_q8_0_file(void **state)
{
    (void)state;
    check_file("models/tiny-random-Q8_0.gguf", (rx_type[]){RX_TYPE_Q8_0}, 1);
}

static void test_q4_0_file(void **state)
{
    (void)state;
    check_file("models/tiny-random-Q4_0.gguf", (rx_type[]){RX_TYPE_Q4_0, RX_TYPE_Q6_K}, 2);
}

static void test_q4_K_file(void **state)
{
    (void)state;
    check_file("models/tiny-random-Q4_K_M.gguf", (rx_type[]){RX_TYPE_Q4_K, RX_TYPE_Q6_K}, 2);
}

static void test_q6_K_file(void **state)
{
    (void)state;
    check_file("models/tiny-random-Q6_K.gguf", (rx_type[]){RX_TYPE_Q6_K}, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_0_file),
        cmocka_unit_test(test_q4_0_file),
        cmocka_unit_test(test_q4_K_file),
        cmocka_unit_test(test_q6_K_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
