/* engine/llama2c.c: stories260K.bin + tok512.bin convert to exactly the bytes of llama.cpp's
 * stories260K.gguf and give the same logits; hostile headers and tokenizers get one message
 * and never a crash or an output file. */
#include "rxtest.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reflex/gguf.h"
#include "reflex/llama2c.h"
#include "reflex/model.h"

#include "../../fuzz/fuzz_llama2c.c"

static const char *tmp_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 512, "%s/%s", rxt_tmpdir(), name);
    return path;
}

/* rxt_shared's buffer is reused by the next call: keep copies when two paths live at once. */
static char model_bin[512], tok_bin[512];

static void keep_paths(void)
{
    snprintf(model_bin, sizeof model_bin, "%s", rxt_shared("models/stories260K.bin"));
    snprintf(tok_bin, sizeof tok_bin, "%s", rxt_shared("models/tok512.bin"));
}

static void test_stories_byte_identical(void **state)
{
    (void)state;
    const char *out = tmp_path("stories.gguf");
    rx_llama2c_params p = {0};
    keep_paths();
    if (rx_llama2c_convert(model_bin, tok_bin, out, &p) != RX_OK) fail_msg("%s", rx_last_error());
    size_t n_got, n_want;
    char *got = rxt_read_file(out, &n_got);
    char *want = rxt_read_file(rxt_shared("models/stories260K.gguf"), &n_want);
    assert_non_null(got);
    assert_non_null(want);
    assert_int_equal(n_got, n_want);
    assert_memory_equal(got, want, n_want);
    free(got);
    free(want);

    /* and it runs: the same logits as llama.cpp's conversion for a short prompt */
    rx_model *m[2];
    rx_context *c[2];
    const int32_t tok[4] = {1, 403, 407, 261}, pos[4] = {0, 1, 2, 3};
    const float *logits[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(rx_model_load(k ? out : rxt_shared("models/stories260K.gguf"), &m[k]),
                         RX_OK);
        rx_context_params cp = rx_context_default_params();
        assert_int_equal(rx_context_create(m[k], &cp, &c[k]), RX_OK);
        rx_batch b = {4, tok, pos, NULL, NULL};
        assert_int_equal(rx_decode(c[k], &b), RX_OK);
        logits[k] = rx_logits(c[k], 0);
        assert_non_null(logits[k]);
    }
    assert_memory_equal(logits[0], logits[1], 512 * sizeof(float));
    for (int k = 0; k < 2; k++) {
        rx_context_free(c[k]);
        rx_model_free(m[k]);
    }
    unlink(out);
}

/* --- headers --- */

typedef struct {
    int32_t v[7];
} header;

static const header stories = {{64, 172, 5, 8, 4, 512, 512}};

/* Weight bytes of a header as the converter should expect them. */
static size_t weights_of(const header *h)
{
    size_t dim = (size_t)h->v[0], hid = (size_t)h->v[1], L = (size_t)h->v[2];
    size_t heads = (size_t)h->v[3], kv = (size_t)h->v[4], seq = (size_t)h->v[6];
    size_t vocab = (size_t)(h->v[5] < 0 ? -h->v[5] : h->v[5]), kv_dim = dim / heads * kv;
    size_t n = vocab * dim + 2 * L * dim + 2 * L * dim * dim + 2 * L * dim * kv_dim +
               3 * L * dim * hid + dim + seq * (dim / heads) + (h->v[5] < 0 ? vocab * dim : 0);
    return 4 * n;
}

/* Parses a header as if the file were `size` bytes long (the weights are never read). */
static rx_status parse(const header *h, size_t size, rx_llama2c_config *c)
{
    static uint8_t buf[28];
    memcpy(buf, h->v, 28);
    (void)size;
    /* the parser only reads the first 28 bytes, so a short buffer with a claimed size is fine
     * for sizes >= 28; smaller sizes are passed as they are */
    return rx_llama2c_parse_header(buf, size, c);
}

static void expect_bad(const header *h, size_t size, rx_status want, const char *msg)
{
    rx_llama2c_config c;
    rx_status s = parse(h, size, &c);
    if (s != want) fail_msg("status %s, want %s", rx_status_str(s), rx_status_str(want));
    if (!strstr(rx_last_error(), msg)) fail_msg("message '%s' lacks '%s'", rx_last_error(), msg);
}

static void test_headers(void **state)
{
    (void)state;
    rx_llama2c_config c;
    assert_int_equal(parse(&stories, 28 + weights_of(&stories), &c), RX_OK);
    assert_int_equal(c.shared_classifier, 1);
    assert_int_equal(c.weights_bytes, 1056512);
    header sep = stories;
    sep.v[5] = -512; /* a separate classifier follows freq_cis */
    assert_int_equal(parse(&sep, 28 + weights_of(&sep), &c), RX_OK);
    assert_int_equal(c.shared_classifier, 0);
    assert_int_equal(c.vocab_size, 512);

    expect_bad(&stories, 27, RX_ERR_FORMAT, "less than the 28-byte header");
    expect_bad(&stories, 28 + weights_of(&stories) - 4, RX_ERR_FORMAT,
               "does not match the file size");
    expect_bad(&stories, 28 + weights_of(&stories) + 4, RX_ERR_FORMAT,
               "does not match the file size");
    expect_bad(&sep, 28 + weights_of(&stories), RX_ERR_FORMAT, "separate classifier");
    const char *names[] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                           "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++) {
        header h = stories;
        char msg[64];
        h.v[i] = 0;
        snprintf(msg, sizeof msg, "header %s at byte %d is 0", names[i], 4 * i);
        expect_bad(&h, 1 << 20, RX_ERR_FORMAT, msg);
        h.v[i] = INT32_MIN;
        expect_bad(&h, 1 << 20, RX_ERR_FORMAT, names[i]);
    }
    header h = stories;
    h.v[4] = 16; /* more KV heads than heads */
    expect_bad(&h, 1 << 20, RX_ERR_FORMAT, "do not divide into heads");
    h = stories;
    h.v[4] = 3;
    expect_bad(&h, 1 << 20, RX_ERR_FORMAT, "do not divide into heads");
    h = stories;
    h.v[3] = 7;
    h.v[4] = 7;
    expect_bad(&h, 1 << 20, RX_ERR_FORMAT, "do not divide into heads");
    h = stories;
    h.v[5] = 2;
    expect_bad(&h, 1 << 20, RX_ERR_FORMAT, "too small");
    /* every size the largest an i32 allows: the products overflow 64 bits, caught */
    header huge = {{INT32_MAX, INT32_MAX, INT32_MAX, 1, 1, INT32_MAX, INT32_MAX}};
    expect_bad(&huge, SIZE_MAX, RX_ERR_FORMAT, "does not match the file size");
    header ak42 = {{0x616b3432, 2, 0, 0, 0, 0, 0}};
    expect_bad(&ak42, 1 << 20, RX_ERR_UNSUPPORTED, "version 2 export");
}

/* --- tokenizers --- */

static void test_vocab(void **state)
{
    (void)state;
    size_t size;
    char *tok = rxt_read_file(rxt_shared("models/tok512.bin"), &size);
    assert_non_null(tok);
    assert_int_equal(rx_llama2c_check_vocab(tok, size, 512), RX_OK);
    assert_int_equal(rx_llama2c_check_vocab(tok, size, 513), RX_ERR_FORMAT);
    assert_non_null(strstr(rx_last_error(), "token 512 at byte 6227: the file ends"));
    for (size_t cut = 0; cut < size; cut += 97) {
        rx_status s = rx_llama2c_check_vocab(tok, cut, 512);
        assert_int_equal(s, RX_ERR_FORMAT);
    }
    uint32_t huge = UINT32_MAX; /* the first token's length */
    memcpy(tok + 8, &huge, 4);
    assert_int_equal(rx_llama2c_check_vocab(tok, size, 512), RX_ERR_FORMAT);
    assert_non_null(strstr(rx_last_error(), "token 0 at byte 8: length 4294967295 runs past"));
    free(tok);
}

/* Whole files: a truncated checkpoint, a short tokenizer, a directory; nothing is written. */
static void test_convert_failures(void **state)
{
    (void)state;
    size_t size;
    char *bin = rxt_read_file(rxt_shared("models/stories260K.bin"), &size);
    assert_non_null(bin);
    const char *cut = tmp_path("cut.bin"), *out = tmp_path("out.gguf");
    FILE *f = fopen(cut, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bin, 1, size - 100, f), size - 100);
    fclose(f);
    free(bin);
    rx_llama2c_params p = {0};
    keep_paths();
    struct {
        const char *model, *tok, *msg;
    } cases[] = {
        {cut, tok_bin, "cut.bin: llama2c: the header"},
        {model_bin, cut, "cut.bin: tokenizer: token"},
        {"/nonexistent.bin", tok_bin, "/nonexistent.bin: cannot open"},
        {rxt_tmpdir(), tok_bin, "not a regular file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_not_equal(rx_llama2c_convert(cases[i].model, cases[i].tok, out, &p), RX_OK);
        if (!strstr(rx_last_error(), cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, rx_last_error(), cases[i].msg);
        assert_int_not_equal(access(out, F_OK), 0);
    }
    unlink(cut);
}

/* The fuzz driver's invariants over truncations and byte changes of the real files' heads. */
static void test_fuzz_driver_on_mutations(void **state)
{
    (void)state;
    const char *files[2] = {"models/stories260K.bin", "models/tok512.bin"};
    for (int k = 0; k < 2; k++) {
        size_t size;
        char *seed = rxt_read_file(rxt_shared(files[k]), &size);
        assert_non_null(seed);
        size_t n = size < 400 ? size : 400;
        uint8_t *buf = malloc(n + 1);
        assert_non_null(buf);
        buf[0] = (uint8_t)k;
        for (size_t len = 0; len <= n; len++) {
            memcpy(buf + 1, seed, len);
            LLVMFuzzerTestOneInput(buf, len + 1);
        }
        for (size_t i = 0; i < n; i++) {
            memcpy(buf + 1, seed, n);
            buf[1 + i] ^= 0xff;
            LLVMFuzzerTestOneInput(buf, n + 1);
        }
        free(buf);
        free(seed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_byte_identical),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_convert_failures),
        cmocka_unit_test(test_fuzz_driver_on_mutations),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(rxt_tmpdir());
    return rc;
}
