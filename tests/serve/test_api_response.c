/* serve/api_response.c, api_logprobs.c, api_error.c, api_text.c: every response parsed back
 * with jansson and its fields checked, including both logprobs shapes, token pieces that are
 * fragments of UTF-8 (from the llama-spm vocabulary's byte tokens), invalid UTF-8 in text,
 * -inf log-probabilities and NaN embeddings. */
#include "rxtest.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/api.h"
#include "reflex/gguf.h"
#include "serve/api_internal.h"

static rx_tokenizer *tok;
static int32_t id_the, id_e2, id_eos; /* "▁the", "<0xE2>", EOS */

static int setup(void **state)
{
    (void)state;
    rx_gguf *g;
    if (rx_gguf_open(rxt_shared("vocab/ggml-vocab-llama-spm.gguf"), &g) != RX_OK) return -1;
    rx_status s = rx_tokenizer_load(g, &tok);
    rx_gguf_close(g);
    if (s != RX_OK) return -1;
    id_the = rx_token_find(tok, "\xe2\x96\x81the", 6);
    id_e2 = rx_token_find(tok, "<0xE2>", 6);
    id_eos = rx_token_eos(tok);
    return id_the >= 0 && id_e2 >= 0 && id_eos >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rx_tokenizer_free(tok);
    return 0;
}

/* Parses s (and frees it); fails the test if it is not JSON. */
static json_t *parse(char *s)
{
    assert_non_null(s);
    json_error_t je;
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!j) print_error("not JSON (%s): %s\n", je.text, s);
    assert_non_null(j);
    free(s);
    return j;
}

static const char *str_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static json_int_t int_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static double num_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static const rx_api_meta meta = {"chatcmpl-1", "tiny", 1700000000, 12, 5, 4};

static void check_head(const json_t *j, const char *object)
{
    assert_string_equal(str_at(j, "id"), "chatcmpl-1");
    assert_string_equal(str_at(j, "object"), object);
    assert_int_equal(int_at(j, "created"), 1700000000);
    assert_string_equal(str_at(j, "model"), "tiny");
}

static void check_usage(const json_t *j)
{
    const json_t *u = json_object_get(j, "usage");
    assert_int_equal(int_at(u, "prompt_tokens"), 12);
    assert_int_equal(int_at(u, "completion_tokens"), 5);
    assert_int_equal(int_at(u, "total_tokens"), 17);
    assert_int_equal(int_at(json_object_get(u, "prompt_tokens_details"), "cached_tokens"), 4);
}

/* " the" with two alternatives: the byte token <0xE2> (a UTF-8 fragment) and EOS (control:
 * rendered ""), the second with -inf. */
static rx_api_token sample_token(void)
{
    rx_api_token t = {0};
    t.id = id_the;
    t.info.id = id_the;
    t.info.logprob = -0.25f;
    t.info.n_top = 2;
    t.info.top[0].id = id_e2;
    t.info.top[0].logprob = -1.5f;
    t.info.top[1].id = id_eos;
    t.info.top[1].logprob = -INFINITY;
    return t;
}

static void check_bytes(const json_t *arr, const unsigned char *want, size_t n)
{
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_array_get(arr, i)), want[i]);
}

static void test_chat_response(void **state)
{
    (void)state;
    rx_api_choice c[2] = {{"Hello there", 11, "stop", NULL, 0}, {"x", 1, "length", NULL, 0}};
    json_t *j = parse(rx_api_response_json(RX_API_CHAT, &meta, c, 2, tok));
    check_head(j, "chat.completion");
    check_usage(j);
    const json_t *choices = json_object_get(j, "choices");
    assert_int_equal(json_array_size(choices), 2);
    const json_t *c0 = json_array_get(choices, 0);
    assert_int_equal(int_at(c0, "index"), 0);
    const json_t *msg = json_object_get(c0, "message");
    assert_string_equal(str_at(msg, "role"), "assistant");
    assert_string_equal(str_at(msg, "content"), "Hello there");
    assert_true(json_is_null(json_object_get(c0, "logprobs")));
    assert_string_equal(str_at(c0, "finish_reason"), "stop");
    assert_int_equal(int_at(json_array_get(choices, 1), "index"), 1);
    assert_string_equal(str_at(json_array_get(choices, 1), "finish_reason"), "length");
    json_decref(j);
}

static void test_chat_logprobs(void **state)
{
    (void)state;
    rx_api_token t[2] = {sample_token(), {0}};
    t[1].id = id_e2; /* a lone lead byte: the token text must still be valid */
    t[1].info.logprob = -3.0f;
    rx_api_choice c = {" the\xe2", 5, "stop", t, 2};
    json_t *j = parse(rx_api_response_json(RX_API_CHAT, &meta, &c, 1, tok));
    const json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_string_equal(str_at(json_object_get(c0, "message"), "content"), " the\xef\xbf\xbd");
    const json_t *content = json_object_get(json_object_get(c0, "logprobs"), "content");
    assert_int_equal(json_array_size(content), 2);

    const json_t *e0 = json_array_get(content, 0);
    assert_string_equal(str_at(e0, "token"), " the");
    assert_true(num_at(e0, "logprob") == -0.25);
    check_bytes(json_object_get(e0, "bytes"), (const unsigned char *)" the", 4);
    const json_t *top = json_object_get(e0, "top_logprobs");
    assert_int_equal(json_array_size(top), 2);
    const json_t *alt = json_array_get(top, 0);
    assert_string_equal(str_at(alt, "token"), "\xef\xbf\xbd"); /* U+FFFD for the lone 0xE2 */
    assert_true(num_at(alt, "logprob") == -1.5);
    check_bytes(json_object_get(alt, "bytes"), (const unsigned char *)"\xe2", 1);
    alt = json_array_get(top, 1);
    assert_string_equal(str_at(alt, "token"), ""); /* EOS is a control token */
    assert_true(num_at(alt, "logprob") == -9999.0);
    check_bytes(json_object_get(alt, "bytes"), NULL, 0);

    const json_t *e1 = json_array_get(content, 1);
    assert_string_equal(str_at(e1, "token"), "\xef\xbf\xbd");
    check_bytes(json_object_get(e1, "bytes"), (const unsigned char *)"\xe2", 1);
    assert_int_equal(json_array_size(json_object_get(e1, "top_logprobs")), 0);
    json_decref(j);
}

static void test_completion_response(void **state)
{
    (void)state;
    rx_api_token t[2] = {sample_token(), sample_token()};
    t[1].id = id_e2;
    t[1].info.logprob = NAN;
    t[1].info.n_top = 99; /* out of range: clamped, never read past top[] */
    rx_api_choice c[2] = {{" the\xe2", 5, "length", t, 2}, {"plain", 5, NULL, NULL, 0}};
    json_t *j = parse(rx_api_response_json(RX_API_COMPLETION, &meta, c, 2, tok));
    check_head(j, "text_completion");
    check_usage(j);
    const json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_string_equal(str_at(c0, "text"), " the\xef\xbf\xbd");
    assert_string_equal(str_at(c0, "finish_reason"), "length");
    const json_t *lp = json_object_get(c0, "logprobs");
    const json_t *tokens = json_object_get(lp, "tokens");
    assert_int_equal(json_array_size(tokens), 2);
    assert_string_equal(json_string_value(json_array_get(tokens, 0)), " the");
    assert_string_equal(json_string_value(json_array_get(tokens, 1)), "\xef\xbf\xbd");
    const json_t *tl = json_object_get(lp, "token_logprobs");
    assert_true(json_number_value(json_array_get(tl, 0)) == -0.25);
    assert_true(json_number_value(json_array_get(tl, 1)) == -9999.0); /* NaN */
    const json_t *offs = json_object_get(lp, "text_offset");
    assert_int_equal(json_integer_value(json_array_get(offs, 0)), 0);
    assert_int_equal(json_integer_value(json_array_get(offs, 1)), 4);
    const json_t *top0 = json_array_get(json_object_get(lp, "top_logprobs"), 0);
    assert_true(json_is_object(top0));
    assert_int_equal(json_object_size(top0), 2);
    assert_true(num_at(top0, "\xef\xbf\xbd") == -1.5);
    assert_true(num_at(top0, "") == -9999.0);
    const json_t *c1 = json_array_get(json_object_get(j, "choices"), 1);
    assert_true(json_is_null(json_object_get(c1, "logprobs")));
    assert_true(json_is_null(json_object_get(c1, "finish_reason")));
    json_decref(j);
}

/* Two alternatives with the same text keep the likelier one. */
static void test_completion_top_duplicates(void **state)
{
    (void)state;
    rx_api_token t = sample_token();
    t.info.n_top = 3;
    t.info.top[0].id = id_e2;
    t.info.top[0].logprob = -1.0f;
    t.info.top[1].id = rx_token_find(tok, "<0xE3>", 6); /* also renders as U+FFFD */
    t.info.top[1].logprob = -2.0f;
    t.info.top[2].id = -5; /* out of range: "" */
    t.info.top[2].logprob = -3.0f;
    assert_true(t.info.top[1].id >= 0);
    rx_api_choice c = {"x", 1, "stop", &t, 1};
    json_t *j = parse(rx_api_response_json(RX_API_COMPLETION, &meta, &c, 1, tok));
    const json_t *lp =
        json_object_get(json_array_get(json_object_get(j, "choices"), 0), "logprobs");
    const json_t *top0 = json_array_get(json_object_get(lp, "top_logprobs"), 0);
    assert_int_equal(json_object_size(top0), 2);
    assert_true(num_at(top0, "\xef\xbf\xbd") == -1.0);
    assert_true(num_at(top0, "") == -3.0);
    json_decref(j);
}

static void test_invalid_utf8_text(void **state)
{
    (void)state;
    /* truncated 3-byte, overlong, surrogate, above U+10FFFF, stray continuation, NUL, and a
     * valid 4-byte character kept */
    static const char raw[] = "a\xe2\x82"
                              "b\xc0\xaf"
                              "c\xed\xa0\x80"
                              "d\xf4\x90\x80\x80"
                              "e\x80"
                              "f\0g\xf0\x9f\x98\x80";
    rx_api_choice c = {raw, sizeof raw - 1, "stop", NULL, 0};
    json_t *j = parse(rx_api_response_json(RX_API_COMPLETION, &meta, &c, 1, NULL));
    const json_t *text = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "text");
#define R "\xef\xbf\xbd"
    static const char want[] = "a" R R "b" R R "c" R R R "d" R R R R "e" R "f\0g\xf0\x9f\x98\x80";
#undef R
    assert_int_equal(json_string_length(text), sizeof want - 1);
    assert_memory_equal(json_string_value(text), want, sizeof want - 1);
    json_decref(j);

    size_t n;
    char *s = rx_api__utf8_sanitize(NULL, 0, &n);
    assert_non_null(s);
    assert_int_equal(n, 0);
    free(s);
}

static void test_chat_chunks(void **state)
{
    (void)state;
    json_t *j = parse(rx_api_chunk_json(RX_API_CHAT, &meta, 0, true, "", 0, NULL, 0, NULL, tok));
    check_head(j, "chat.completion.chunk");
    assert_null(json_object_get(j, "usage"));
    const json_t *choices = json_object_get(j, "choices");
    assert_int_equal(json_array_size(choices), 1);
    const json_t *c0 = json_array_get(choices, 0);
    assert_int_equal(int_at(c0, "index"), 0);
    const json_t *delta = json_object_get(c0, "delta");
    assert_string_equal(str_at(delta, "role"), "assistant");
    assert_string_equal(str_at(delta, "content"), "");
    assert_true(json_is_null(json_object_get(c0, "logprobs")));
    assert_true(json_is_null(json_object_get(c0, "finish_reason")));
    json_decref(j);

    rx_api_token t = sample_token();
    j = parse(rx_api_chunk_json(RX_API_CHAT, &meta, 3, false, " the", 4, &t, 1, NULL, tok));
    c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_int_equal(int_at(c0, "index"), 3);
    delta = json_object_get(c0, "delta");
    assert_null(json_object_get(delta, "role"));
    assert_string_equal(str_at(delta, "content"), " the");
    const json_t *content = json_object_get(json_object_get(c0, "logprobs"), "content");
    assert_string_equal(str_at(json_array_get(content, 0), "token"), " the");
    json_decref(j);

    j = parse(rx_api_chunk_json(RX_API_CHAT, &meta, 0, false, NULL, 0, NULL, 0, "stop", tok));
    c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_int_equal(json_object_size(json_object_get(c0, "delta")), 0);
    assert_string_equal(str_at(c0, "finish_reason"), "stop");
    json_decref(j);
}

static void test_completion_chunks(void **state)
{
    (void)state;
    rx_api_token t = sample_token();
    json_t *j =
        parse(rx_api_chunk_json(RX_API_COMPLETION, &meta, 1, true, " the", 4, &t, 1, NULL, tok));
    check_head(j, "text_completion");
    const json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_int_equal(int_at(c0, "index"), 1);
    assert_string_equal(str_at(c0, "text"), " the");
    assert_null(json_object_get(c0, "delta"));
    const json_t *lp = json_object_get(c0, "logprobs");
    assert_string_equal(json_string_value(json_array_get(json_object_get(lp, "tokens"), 0)),
                        " the");
    json_decref(j);
    j = parse(
        rx_api_chunk_json(RX_API_COMPLETION, &meta, 0, false, NULL, 0, NULL, 0, "length", NULL));
    c0 = json_array_get(json_object_get(j, "choices"), 0);
    assert_string_equal(str_at(c0, "text"), "");
    assert_string_equal(str_at(c0, "finish_reason"), "length");
    json_decref(j);
}

static void test_usage_chunk(void **state)
{
    (void)state;
    json_t *j = parse(rx_api_usage_chunk_json(RX_API_CHAT, &meta));
    check_head(j, "chat.completion.chunk");
    assert_int_equal(json_array_size(json_object_get(j, "choices")), 0);
    assert_true(json_is_array(json_object_get(j, "choices")));
    check_usage(j);
    json_decref(j);
    j = parse(rx_api_usage_chunk_json(RX_API_COMPLETION, &meta));
    check_head(j, "text_completion");
    check_usage(j);
    json_decref(j);
}

static void test_embeddings(void **state)
{
    (void)state;
    const float a[3] = {0.1f, -2.5f, 1e-30f}, b[3] = {NAN, INFINITY, 3.0f};
    const float *vecs[2] = {a, b};
    json_t *j = parse(rx_api_embeddings_json(&meta, vecs, 2, 3));
    assert_string_equal(str_at(j, "object"), "list");
    assert_string_equal(str_at(j, "model"), "tiny");
    const json_t *u = json_object_get(j, "usage");
    assert_int_equal(int_at(u, "prompt_tokens"), 12);
    assert_int_equal(int_at(u, "total_tokens"), 12);
    const json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 2);
    for (size_t i = 0; i < 2; i++) {
        const json_t *d = json_array_get(data, i);
        assert_string_equal(str_at(d, "object"), "embedding");
        assert_int_equal(int_at(d, "index"), (json_int_t)i);
        const json_t *e = json_object_get(d, "embedding");
        assert_int_equal(json_array_size(e), 3);
        for (size_t k = 0; k < 3; k++) {
            float got = (float)json_number_value(json_array_get(e, k));
            float want = isfinite(vecs[i][k]) ? vecs[i][k] : 0.0f;
            assert_true(got == want); /* 9 digits bring every float back exactly */
        }
    }
    json_decref(j);
    j = parse(rx_api_embeddings_json(NULL, NULL, 0, 8));
    assert_int_equal(json_array_size(json_object_get(j, "data")), 0);
    assert_string_equal(str_at(j, "model"), "");
    json_decref(j);
}

static void test_models(void **state)
{
    (void)state;
    const char *ids[2] = {"tinyllama", "bad\xff"};
    json_t *j = parse(rx_api_models_json(ids, 2, 1234));
    assert_string_equal(str_at(j, "object"), "list");
    const json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 2);
    const json_t *m = json_array_get(data, 0);
    assert_string_equal(str_at(m, "id"), "tinyllama");
    assert_string_equal(str_at(m, "object"), "model");
    assert_int_equal(int_at(m, "created"), 1234);
    assert_string_equal(str_at(m, "owned_by"), "reflex");
    assert_string_equal(str_at(json_array_get(data, 1), "id"), "bad\xef\xbf\xbd");
    json_decref(j);
    j = parse(rx_api_models_json(NULL, 0, 0));
    assert_int_equal(json_array_size(json_object_get(j, "data")), 0);
    json_decref(j);
}

static void test_error_json(void **state)
{
    (void)state;
    rx_api_request r;
    rx_api_error e;
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":0}";
    assert_int_equal(rx_api_parse(RX_API_CHAT, body, strlen(body), &r, &e), RX_ERR_INVALID_ARG);
    json_t *j = parse(rx_api_error_json(&e));
    const json_t *err = json_object_get(j, "error");
    assert_int_equal(json_object_size(j), 1);
    assert_non_null(strstr(str_at(err, "message"), "'n'"));
    assert_string_equal(str_at(err, "type"), "invalid_request_error");
    assert_string_equal(str_at(err, "param"), "n");
    assert_true(json_is_null(json_object_get(err, "code")));
    json_decref(j);

    /* jansson quotes the bad bytes of a malformed body: the message is sanitized */
    assert_int_equal(rx_api_parse(RX_API_CHAT, "{\"a\":\xff}", 7, &r, &e), RX_ERR_FORMAT);
    j = parse(rx_api_error_json(&e));
    err = json_object_get(j, "error");
    assert_non_null(strstr(str_at(err, "message"), "line 1"));
    assert_true(json_is_null(json_object_get(err, "param")));
    json_decref(j);

    rx_api_set_error(&e, 503, "server_error", NULL, "overloaded", "busy \xc3");
    j = parse(rx_api_error_json(&e));
    err = json_object_get(j, "error");
    assert_string_equal(str_at(err, "message"), "busy \xef\xbf\xbd");
    assert_string_equal(str_at(err, "code"), "overloaded");
    json_decref(j);

    j = parse(rx_api_error_json(NULL));
    assert_string_equal(str_at(json_object_get(j, "error"), "type"), "server_error");
    json_decref(j);
}

static void test_defensive(void **state)
{
    (void)state;
    assert_null(rx_api_response_json(RX_API_EMBEDDING, &meta, NULL, 0, NULL));
    assert_null(rx_api_chunk_json((rx_api_kind)0, &meta, 0, true, "", 0, NULL, 0, NULL, NULL));
    assert_null(rx_api_usage_chunk_json(RX_API_EMBEDDING, &meta));
    json_t *j = parse(rx_api_response_json(RX_API_CHAT, NULL, NULL, 5, NULL));
    assert_string_equal(str_at(j, "id"), "");
    assert_int_equal(json_array_size(json_object_get(j, "choices")), 0);
    json_decref(j);
    /* NULL text with a length: treated as empty, never read */
    rx_api_choice c = {NULL, 10, NULL, NULL, 0};
    j = parse(rx_api_response_json(RX_API_CHAT, &meta, &c, 1, NULL));
    const json_t *msg =
        json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
    assert_string_equal(str_at(msg, "content"), "");
    json_decref(j);
    /* logprobs without a tokenizer: empty token texts */
    rx_api_token t = sample_token();
    j = parse(rx_api_chunk_json(RX_API_CHAT, &meta, 0, false, "a", 1, &t, 1, NULL, NULL));
    const json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    const json_t *e0 =
        json_array_get(json_object_get(json_object_get(c0, "logprobs"), "content"), 0);
    assert_string_equal(str_at(e0, "token"), "");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_response),
        cmocka_unit_test(test_chat_logprobs),
        cmocka_unit_test(test_completion_response),
        cmocka_unit_test(test_completion_top_duplicates),
        cmocka_unit_test(test_invalid_utf8_text),
        cmocka_unit_test(test_chat_chunks),
        cmocka_unit_test(test_completion_chunks),
        cmocka_unit_test(test_usage_chunk),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_defensive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
