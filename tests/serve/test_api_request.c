/* serve/api_request.c and api_inputs.c: every field accepted in each allowed shape, refused
 * with a 400 naming its JSON path when of the wrong type or out of range; malformed JSON,
 * duplicate keys, limits, defaults, null as absent, unknown fields ignored; sampler settings. */
#include "rxtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reflex/api.h"

#define MSG "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define CHAT(x) "{" MSG "," x "}"
#define COMP(x) "{\"prompt\":\"hi\"," x "}"
#define EMB(x) "{\"input\":\"hi\"," x "}"

static void assert_empty(const rx_api_request *r)
{
    assert_null(r->messages);
    assert_int_equal(r->n_messages, 0);
    assert_null(r->prompts);
    assert_int_equal(r->n_prompts, 0);
    assert_null(r->stop);
    assert_null(r->model);
    assert_null(r->user);
    assert_null(r->domain);
}

/* Parses a body that must be refused with a 400 naming param; returns the status. */
static rx_status refuse_len(rx_api_kind kind, const char *body, size_t len, const char *param)
{
    rx_api_request r;
    rx_api_error e;
    rx_status s = rx_api_parse(kind, body, len, &r, &e);
    if (s == RX_OK || e.http_status != 400 || strcmp(e.param, param) != 0 ||
        strcmp(e.type, "invalid_request_error") != 0) {
        print_error("body %.200s\n  status %d http %d param '%s' (want '%s'): %s\n", body, s,
                    e.http_status, e.param, param, e.message);
        fail();
    }
    /* the message names the field */
    if (*param && !strstr(e.message, param)) {
        print_error("message does not name %s: %s\n", param, e.message);
        fail();
    }
    assert_empty(&r);
    rx_api_request_free(&r);
    return s;
}

static rx_status refuse(rx_api_kind kind, const char *body, const char *param)
{
    return refuse_len(kind, body, strlen(body), param);
}

static rx_api_request accept(rx_api_kind kind, const char *body)
{
    rx_api_request r;
    rx_api_error e;
    rx_status s = rx_api_parse(kind, body, strlen(body), &r, &e);
    if (s != RX_OK) {
        print_error("body %.200s\n  refused: %d %s: %s\n", body, e.http_status, e.param, e.message);
        fail();
    }
    assert_int_equal(r.kind, kind);
    return r;
}

static void test_defaults(void **state)
{
    (void)state;
    rx_api_request r = accept(RX_API_CHAT, "{" MSG "}");
    assert_null(r.model);
    assert_int_equal(r.n_messages, 1);
    assert_string_equal(r.messages[0].role, "user");
    assert_string_equal(r.messages[0].content, "hi");
    assert_null(r.prompts);
    assert_int_equal(r.max_tokens, -1);
    assert_true(r.temperature == 1.0f && r.top_p == 1.0f);
    assert_int_equal(r.n, 1);
    assert_null(r.stop);
    assert_int_equal(r.n_stop, 0);
    assert_false(r.has_seed);
    assert_false(r.stream);
    assert_false(r.include_usage);
    assert_false(r.echo);
    assert_int_equal(r.logprobs, -1);
    assert_true(r.presence_penalty == 0 && r.frequency_penalty == 0);
    assert_null(r.user);
    assert_null(r.domain);
    assert_false(r.ignore_eos);
    assert_int_equal(r.top_k, 0);
    assert_true(r.min_p == 0 && r.repeat_penalty == 1.0f);
    rx_api_request_free(&r);
    rx_api_request_free(&r); /* free leaves an empty request */
    rx_api_request_free(NULL);
}

static void test_every_field(void **state)
{
    (void)state;
    rx_api_request r = accept(
        RX_API_CHAT,
        CHAT("\"model\":\"m1\",\"max_tokens\":7,\"temperature\":0.5,\"top_p\":0.9,\"n\":3,"
             "\"stop\":[\"a\",\"bc\"],\"seed\":42,\"stream\":true,"
             "\"stream_options\":{\"include_usage\":true},\"logprobs\":true,\"top_logprobs\":5,"
             "\"presence_penalty\":-1.5,\"frequency_penalty\":2,\"user\":\"u\",\"top_k\":40,"
             "\"min_p\":0.05,\"repeat_penalty\":1.1,"
             "\"reflex\":{\"domain\":\"med\",\"ignore_eos\":true}"));
    assert_string_equal(r.model, "m1");
    assert_int_equal(r.max_tokens, 7);
    assert_true(r.temperature == 0.5f && r.top_p == 0.9f);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.n_stop, 2);
    assert_string_equal(r.stop[0], "a");
    assert_string_equal(r.stop[1], "bc");
    assert_true(r.has_seed);
    assert_int_equal(r.seed, 42);
    assert_true(r.stream && r.include_usage);
    assert_int_equal(r.logprobs, 5);
    assert_true(r.presence_penalty == -1.5f && r.frequency_penalty == 2.0f);
    assert_string_equal(r.user, "u");
    assert_int_equal(r.top_k, 40);
    assert_true(r.min_p == 0.05f && r.repeat_penalty == 1.1f);
    assert_string_equal(r.domain, "med");
    assert_true(r.ignore_eos);
    rx_api_request_free(&r);

    r = accept(RX_API_COMPLETION, COMP("\"logprobs\":3,\"echo\":true,\"stop\":\"\\n\","
                                       "\"max_completion_tokens\":9,\"max_tokens\":4"));
    assert_int_equal(r.logprobs, 3);
    assert_true(r.echo);
    assert_int_equal(r.n_stop, 1);
    assert_string_equal(r.stop[0], "\n");
    assert_int_equal(r.max_tokens, 9); /* max_completion_tokens wins */
    rx_api_request_free(&r);

    r = accept(RX_API_COMPLETION, COMP("\"logprobs\":0,\"seed\":-1,\"temperature\":0,"
                                       "\"top_p\":1,\"n\":16,\"stop\":[\"a\",\"b\",\"c\",\"d\"]"));
    assert_int_equal(r.logprobs, 0);
    assert_int_equal(r.seed, UINT64_MAX); /* negative seeds wrap */
    assert_true(r.temperature == 0.0f);
    assert_int_equal(r.n, 16);
    assert_int_equal(r.n_stop, 4);
    rx_api_request_free(&r);

    r = accept(RX_API_CHAT, CHAT("\"logprobs\":true,\"stop\":[]"));
    assert_int_equal(r.logprobs, 0);
    assert_int_equal(r.n_stop, 0);
    rx_api_request_free(&r);
    r = accept(RX_API_CHAT, CHAT("\"logprobs\":false,\"stream\":false,\"top_k\":0,"
                                 "\"temperature\":2,\"min_p\":1,\"repeat_penalty\":100"));
    assert_int_equal(r.logprobs, -1);
    rx_api_request_free(&r);
}

static void test_null_is_absent(void **state)
{
    (void)state;
    rx_api_request r = accept(
        RX_API_CHAT,
        CHAT("\"model\":null,\"max_tokens\":null,\"max_completion_tokens\":null,"
             "\"temperature\":null,\"top_p\":null,\"n\":null,\"stop\":null,\"seed\":null,"
             "\"stream\":null,\"stream_options\":null,\"logprobs\":null,\"top_logprobs\":null,"
             "\"presence_penalty\":null,\"frequency_penalty\":null,\"user\":null,"
             "\"top_k\":null,\"min_p\":null,\"repeat_penalty\":null,\"reflex\":null"));
    assert_null(r.model);
    assert_int_equal(r.max_tokens, -1);
    assert_true(r.temperature == 1.0f);
    assert_int_equal(r.logprobs, -1);
    assert_false(r.has_seed);
    rx_api_request_free(&r);
    r = accept(RX_API_CHAT, CHAT("\"reflex\":{\"domain\":null,\"ignore_eos\":null},"
                                 "\"stream\":true,\"stream_options\":{\"include_usage\":null}"));
    assert_null(r.domain);
    assert_false(r.include_usage);
    rx_api_request_free(&r);
    r = accept(RX_API_COMPLETION, COMP("\"logprobs\":null,\"echo\":null"));
    assert_int_equal(r.logprobs, -1);
    rx_api_request_free(&r);
}

static void test_unknown_fields_ignored(void **state)
{
    (void)state;
    rx_api_request r = accept(
        RX_API_CHAT, "{\"tools\":[{\"type\":\"function\"}],\"response_format\":{\"type\":\"x\"},"
                     "\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"name\":\"bob\"}],"
                     "\"echo\":\"not a chat field\",\"logit_bias\":{\"1\":2},"
                     "\"reflex\":{\"slo_ms\":50,\"rag\":true},\"x\":[[[[{}]]]]}");
    assert_int_equal(r.n_messages, 1);
    rx_api_request_free(&r);
    /* sampling fields mean nothing to embeddings, so they are not checked there */
    r = accept(RX_API_EMBEDDING, EMB("\"temperature\":\"hot\",\"n\":99,\"dimensions\":8"));
    assert_int_equal(r.n_prompts, 1);
    rx_api_request_free(&r);
    /* top_logprobs is not a completions field */
    r = accept(RX_API_COMPLETION, COMP("\"top_logprobs\":99"));
    rx_api_request_free(&r);
}

static void test_messages(void **state)
{
    (void)state;
    rx_api_request r = accept(
        RX_API_CHAT,
        "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
        "{\"role\":\"developer\",\"content\":\"d\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"text\",\"text\":\"\\u00e9b\"}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
        "{\"role\":\"assistant\"},{\"role\":\"tool\",\"content\":\"t\",\"tool_call_id\":\"1\"},"
        "{\"role\":\"user\",\"content\":\"\"}]}");
    assert_int_equal(r.n_messages, 7);
    assert_string_equal(r.messages[0].role, "system");
    assert_string_equal(r.messages[1].role, "developer");
    assert_string_equal(r.messages[2].content, "a\xc3\xa9"
                                               "b");
    assert_string_equal(r.messages[3].role, "assistant");
    assert_string_equal(r.messages[3].content, "");
    assert_string_equal(r.messages[4].content, "");
    assert_string_equal(r.messages[5].role, "tool");
    assert_string_equal(r.messages[6].content, "");
    rx_api_request_free(&r);

    refuse(RX_API_CHAT, "{}", "messages");
    refuse(RX_API_CHAT, "{\"messages\":null}", "messages");
    refuse(RX_API_CHAT, "{\"messages\":\"hi\"}", "messages");
    refuse(RX_API_CHAT, "{\"messages\":{}}", "messages");
    refuse(RX_API_CHAT, "{\"messages\":[]}", "messages");
    refuse(RX_API_CHAT, "{\"messages\":[1]}", "messages[0]");
    refuse(RX_API_CHAT, "{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":5,\"content\":\"x\"}]}", "messages[0].role");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}",
           "messages[0].role");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"User\",\"content\":\"x\"}]}",
           "messages[0].role");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"system\",\"content\":null}]}",
           "messages[0].content");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
           "messages[0].content");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":{}}]}",
           "messages[0].content");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
           "messages[0].content");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
           "messages[0].content[0]");
    refuse(RX_API_CHAT,
           "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
           "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}}]}]}",
           "messages[0].content[1].type");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"a\"}]}]}",
           "messages[0].content[0].type");
    refuse(RX_API_CHAT,
           "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":1,\"text\":\"a\"}]}]}",
           "messages[0].content[0].type");
    refuse(RX_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
           "messages[0].content[0].text");
    refuse(RX_API_CHAT,
           "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":[]}]}]}",
           "messages[0].content[0].text");
    refuse(RX_API_CHAT,
           "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
           "false}]}",
           "messages[1].content");
    /* an image in a later message, after good ones */
    refuse(RX_API_CHAT,
           "{\"messages\":[{\"role\":\"system\",\"content\":\"a\"},{\"role\":\"user\","
           "\"content\":[{\"type\":\"input_audio\"}]}]}",
           "messages[1].content[0].type");
}

/* A chat body with n copies of one message. */
static char *many_messages(size_t n)
{
    const char *m = "{\"role\":\"user\",\"content\":\"x\"},";
    size_t cap = 64 + n * strlen(m);
    char *b = malloc(cap);
    assert_non_null(b);
    size_t o = (size_t)sprintf(b, "{\"messages\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(b + o, "%s", m);
    sprintf(b + o - 1, "]}");
    return b;
}

/* {"prompt":["p0",...]} with n prompts, into body (1 KB is plenty for n <= 20). */
static void prompts_body(char *body, int n)
{
    size_t o = (size_t)sprintf(body, "{\"prompt\":[");
    for (int i = 0; i < n; i++)
        o += (size_t)sprintf(body + o, "\"p%d\",", i);
    sprintf(body + o - 1, "]}");
}

static void test_limits(void **state)
{
    (void)state;
    char *b = many_messages(4096);
    rx_api_request r = accept(RX_API_CHAT, b);
    assert_int_equal(r.n_messages, 4096);
    rx_api_request_free(&r);
    free(b);
    b = many_messages(4097);
    refuse(RX_API_CHAT, b, "messages");
    free(b);

    char body[1024];
    prompts_body(body, 17);
    refuse(RX_API_COMPLETION, body, "prompt");
    prompts_body(body, 16);
    r = accept(RX_API_COMPLETION, body);
    assert_int_equal(r.n_prompts, 16);
    rx_api_request_free(&r);

    /* a body over the size limit is a 413, refused before it is read */
    rx_api_error e;
    assert_int_not_equal(rx_api_parse(RX_API_CHAT, "{}", (size_t)65 << 20, &r, &e), RX_OK);
    assert_int_equal(e.http_status, 413);
    assert_empty(&r);
}

static void test_prompt_shapes(void **state)
{
    (void)state;
    rx_api_request r = accept(RX_API_COMPLETION, "{\"prompt\":\"once\"}");
    assert_int_equal(r.n_prompts, 1);
    assert_string_equal(r.prompts[0].text, "once");
    assert_null(r.prompts[0].ids);
    rx_api_request_free(&r);

    r = accept(RX_API_COMPLETION, "{\"prompt\":[\"a\",\"b\",\"\"]}");
    assert_int_equal(r.n_prompts, 3);
    assert_string_equal(r.prompts[1].text, "b");
    assert_string_equal(r.prompts[2].text, "");
    rx_api_request_free(&r);

    r = accept(RX_API_COMPLETION, "{\"prompt\":[1,2,2147483647]}");
    assert_int_equal(r.n_prompts, 1);
    assert_null(r.prompts[0].text);
    assert_int_equal(r.prompts[0].n_ids, 3);
    assert_int_equal(r.prompts[0].ids[2], 2147483647);
    rx_api_request_free(&r);

    r = accept(RX_API_COMPLETION, "{\"prompt\":[[0,5],[7]]}");
    assert_int_equal(r.n_prompts, 2);
    assert_int_equal(r.prompts[0].n_ids, 2);
    assert_int_equal(r.prompts[0].ids[1], 5);
    assert_int_equal(r.prompts[1].n_ids, 1);
    assert_int_equal(r.prompts[1].ids[0], 7);
    rx_api_request_free(&r);

    r = accept(RX_API_COMPLETION, "{\"prompt\":\"\"}"); /* generation from BOS */
    assert_string_equal(r.prompts[0].text, "");
    rx_api_request_free(&r);

    refuse(RX_API_COMPLETION, "{}", "prompt");
    refuse(RX_API_COMPLETION, "{\"prompt\":null}", "prompt");
    refuse(RX_API_COMPLETION, "{\"prompt\":5}", "prompt");
    refuse(RX_API_COMPLETION, "{\"prompt\":{}}", "prompt");
    refuse(RX_API_COMPLETION, "{\"prompt\":[]}", "prompt");
    refuse(RX_API_COMPLETION, "{\"prompt\":[[]]}", "prompt[0]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[[1],[]]}", "prompt[1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[1,\"a\"]}", "prompt[1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[\"a\",1]}", "prompt[1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[[1],\"a\"]}", "prompt[1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[\"a\",[1]]}", "prompt[1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[[1,-1]]}", "prompt[0][1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[[1,1.5]]}", "prompt[0][1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[-1]}", "prompt[0]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[3,2147483648]}", "prompt[1]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[true]}", "prompt[0]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[null]}", "prompt[0]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[1.5]}", "prompt[0]");
    refuse(RX_API_COMPLETION, "{\"prompt\":[[[1]]]}", "prompt[0][0]");

    /* embeddings: the same shapes under "input", but no empty text */
    r = accept(RX_API_EMBEDDING, "{\"input\":[\"a\",\"b\"],\"model\":\"e\","
                                 "\"encoding_format\":\"float\"}");
    assert_int_equal(r.n_prompts, 2);
    assert_string_equal(r.model, "e");
    rx_api_request_free(&r);
    r = accept(RX_API_EMBEDDING, "{\"input\":[[1,2]],\"encoding_format\":\"base64\","
                                 "\"reflex\":{\"domain\":\"hr\"}}");
    assert_int_equal(r.prompts[0].n_ids, 2);
    assert_string_equal(r.domain, "hr");
    rx_api_request_free(&r);
    refuse(RX_API_EMBEDDING, "{}", "input");
    refuse(RX_API_EMBEDDING, "{\"input\":\"\"}", "input");
    refuse(RX_API_EMBEDDING, "{\"input\":[\"a\",\"\"]}", "input[1]");
    refuse(RX_API_EMBEDDING, "{\"input\":[]}", "input");
    refuse(RX_API_EMBEDDING, EMB("\"encoding_format\":\"int8\""), "encoding_format");
    refuse(RX_API_EMBEDDING, EMB("\"encoding_format\":1"), "encoding_format");
    refuse(RX_API_EMBEDDING, EMB("\"model\":[]"), "model");
    refuse(RX_API_EMBEDDING, EMB("\"user\":1"), "user");
    /* a chat body is not a completion: "messages" means nothing there */
    refuse(RX_API_COMPLETION, "{" MSG "}", "prompt");
    refuse(RX_API_CHAT, "{\"prompt\":\"x\"}", "messages");
}

typedef struct {
    const char *body;
    const char *param;
} bad_case;

/* Each field with a wrong type and each bound crossed, in chat and completion bodies. */
static void test_field_refusals(void **state)
{
    (void)state;
    static const bad_case both[] = {
        {"\"model\":5", "model"},
        {"\"model\":{}", "model"},
        {"\"max_tokens\":0", "max_tokens"},
        {"\"max_tokens\":-3", "max_tokens"},
        {"\"max_tokens\":\"5\"", "max_tokens"},
        {"\"max_tokens\":1.5", "max_tokens"},
        {"\"max_tokens\":5.0", "max_tokens"},
        {"\"max_tokens\":2147483648", "max_tokens"},
        {"\"max_completion_tokens\":0", "max_completion_tokens"},
        {"\"max_completion_tokens\":true", "max_completion_tokens"},
        {"\"temperature\":-0.1", "temperature"},
        {"\"temperature\":2.01", "temperature"},
        {"\"temperature\":1e300", "temperature"},
        {"\"temperature\":\"1\"", "temperature"},
        {"\"temperature\":true", "temperature"},
        {"\"top_p\":0", "top_p"},
        {"\"top_p\":-1", "top_p"},
        {"\"top_p\":1.01", "top_p"},
        {"\"top_p\":[]", "top_p"},
        {"\"n\":0", "n"},
        {"\"n\":17", "n"},
        {"\"n\":1.0", "n"},
        {"\"n\":\"2\"", "n"},
        {"\"stop\":\"\"", "stop"},
        {"\"stop\":5", "stop"},
        {"\"stop\":{}", "stop"},
        {"\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop"},
        {"\"stop\":[1]", "stop[0]"},
        {"\"stop\":[\"a\",\"\"]", "stop[1]"},
        {"\"stop\":[\"a\",null]", "stop[1]"},
        {"\"seed\":1.5", "seed"},
        {"\"seed\":\"1\"", "seed"},
        {"\"stream\":\"true\"", "stream"},
        {"\"stream\":1", "stream"},
        {"\"stream_options\":{\"include_usage\":true}", "stream_options"},
        {"\"stream\":false,\"stream_options\":{}", "stream_options"},
        {"\"stream\":true,\"stream_options\":[]", "stream_options"},
        {"\"stream\":true,\"stream_options\":{\"include_usage\":\"yes\"}",
         "stream_options.include_usage"},
        {"\"presence_penalty\":2.5", "presence_penalty"},
        {"\"presence_penalty\":-2.01", "presence_penalty"},
        {"\"presence_penalty\":\"0\"", "presence_penalty"},
        {"\"frequency_penalty\":3", "frequency_penalty"},
        {"\"frequency_penalty\":-3", "frequency_penalty"},
        {"\"user\":5", "user"},
        {"\"top_k\":-1", "top_k"},
        {"\"top_k\":1.5", "top_k"},
        {"\"top_k\":2147483648", "top_k"},
        {"\"min_p\":1.5", "min_p"},
        {"\"min_p\":-0.1", "min_p"},
        {"\"min_p\":\"0\"", "min_p"},
        {"\"repeat_penalty\":0", "repeat_penalty"},
        {"\"repeat_penalty\":-1", "repeat_penalty"},
        {"\"repeat_penalty\":101", "repeat_penalty"},
        {"\"repeat_penalty\":false", "repeat_penalty"},
        {"\"reflex\":\"x\"", "reflex"},
        {"\"reflex\":[]", "reflex"},
        {"\"reflex\":{\"domain\":5}", "reflex.domain"},
        {"\"reflex\":{\"ignore_eos\":\"y\"}", "reflex.ignore_eos"},
    };
    char body[512];
    for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
        snprintf(body, sizeof body, CHAT("%s"), both[i].body);
        assert_int_equal(refuse(RX_API_CHAT, body, both[i].param), RX_ERR_INVALID_ARG);
        snprintf(body, sizeof body, COMP("%s"), both[i].body);
        assert_int_equal(refuse(RX_API_COMPLETION, body, both[i].param), RX_ERR_INVALID_ARG);
    }
    static const bad_case chat[] = {
        {"\"logprobs\":1", "logprobs"},
        {"\"logprobs\":\"true\"", "logprobs"},
        {"\"logprobs\":true,\"top_logprobs\":21", "top_logprobs"},
        {"\"logprobs\":true,\"top_logprobs\":-1", "top_logprobs"},
        {"\"logprobs\":true,\"top_logprobs\":1.5", "top_logprobs"},
        {"\"top_logprobs\":3", "top_logprobs"},
        {"\"logprobs\":false,\"top_logprobs\":2", "top_logprobs"},
    };
    for (size_t i = 0; i < sizeof chat / sizeof chat[0]; i++) {
        snprintf(body, sizeof body, CHAT("%s"), chat[i].body);
        refuse(RX_API_CHAT, body, chat[i].param);
    }
    static const bad_case comp[] = {
        {"\"logprobs\":true", "logprobs"}, {"\"logprobs\":6", "logprobs"},
        {"\"logprobs\":-1", "logprobs"},   {"\"logprobs\":2.5", "logprobs"},
        {"\"echo\":\"yes\"", "echo"},      {"\"echo\":1", "echo"},
    };
    for (size_t i = 0; i < sizeof comp / sizeof comp[0]; i++) {
        snprintf(body, sizeof body, COMP("%s"), comp[i].body);
        refuse(RX_API_COMPLETION, body, comp[i].param);
    }
}

static void test_messages_quote_values(void **state)
{
    (void)state;
    rx_api_request r;
    rx_api_error e;
    const char *b = CHAT("\"temperature\":3");
    assert_int_equal(rx_api_parse(RX_API_CHAT, b, strlen(b), &r, &e), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "<= 2"));
    assert_non_null(strstr(e.message, "got 3"));
    b = CHAT("\"n\":40");
    assert_int_equal(rx_api_parse(RX_API_CHAT, b, strlen(b), &r, &e), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "<= 16"));
    assert_non_null(strstr(e.message, "got 40"));
    b = "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}";
    assert_int_equal(rx_api_parse(RX_API_CHAT, b, strlen(b), &r, &e), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "'wizard'"));
    b = CHAT("\"max_tokens\":\"5\"");
    assert_int_equal(rx_api_parse(RX_API_CHAT, b, strlen(b), &r, &e), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "expected an integer, but got a string"));
    /* no error struct: still refused, nothing leaks */
    assert_int_equal(rx_api_parse(RX_API_CHAT, b, strlen(b), &r, NULL), RX_ERR_INVALID_ARG);
    assert_empty(&r);
}

static void test_malformed_json(void **state)
{
    (void)state;
    static const char *bodies[] = {
        "",
        "{",
        "{\"messages\":[}",
        "nul",
        "{\"a\":1}x",
        "{\"a\":1}{}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":\"\\u0000\"}",          /* NUL inside a string */
        "{\"a\":\"\xff\"}",             /* invalid UTF-8 */
        "{\"a\":\"\xc0\xaf\"}",         /* overlong */
        "{\"a\":\"\\ud800\"}",          /* lone surrogate */
        "{\"a\":1e999}",                /* real overflow */
        "{\"a\":99999999999999999999}", /* integer overflow */
        "{\"n\":1,\"n\":2}",
        "{\"messages\":[{\"role\":\"user\",\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"reflex\":{\"domain\":\"a\",\"domain\":\"b\"}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        rx_api_request r;
        rx_api_error e;
        rx_status s = rx_api_parse(RX_API_CHAT, bodies[i], strlen(bodies[i]), &r, &e);
        if (s != RX_ERR_FORMAT || e.http_status != 400 || e.param[0] ||
            !strstr(e.message, "line") || !strstr(e.message, "column")) {
            print_error("body %zu '%s': %d %d '%s' %s\n", i, bodies[i], s, e.http_status, e.param,
                        e.message);
            fail();
        }
        assert_empty(&r);
    }
    /* the duplicate is named with its position */
    rx_api_request r;
    rx_api_error e;
    const char *b = "{\"n\":1,\n \"n\":2}";
    assert_int_equal(rx_api_parse(RX_API_CHAT, b, strlen(b), &r, &e), RX_ERR_FORMAT);
    assert_non_null(strstr(e.message, "duplicate"));
    assert_non_null(strstr(e.message, "line 2"));
    /* a body that holds a NUL byte is cut by nothing: JSON refuses the byte */
    assert_int_equal(rx_api_parse(RX_API_CHAT, "{}\0{}", 5, &r, &e), RX_ERR_FORMAT);
    assert_int_equal(rx_api_parse(RX_API_CHAT, NULL, 0, &r, &e), RX_ERR_FORMAT);
    assert_int_equal(rx_api_parse(RX_API_CHAT, NULL, 5, &r, &e), RX_ERR_FORMAT);
    /* a kind the API does not have is the caller's mistake: a 500 */
    assert_int_equal(rx_api_parse((rx_api_kind)7, "{}", 2, &r, &e), RX_ERR_INVALID_ARG);
    assert_int_equal(e.http_status, 500);
}

static void test_not_an_object(void **state)
{
    (void)state;
    static const char *bodies[] = {"[]", "[{}]", "\"x\"", "1", "null", "true"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        rx_api_request r;
        rx_api_error e;
        assert_int_equal(rx_api_parse(RX_API_COMPLETION, bodies[i], strlen(bodies[i]), &r, &e),
                         RX_ERR_FORMAT);
        assert_int_equal(e.http_status, 400);
        assert_non_null(strstr(e.message, "JSON object"));
    }
}

static void test_sampler_params(void **state)
{
    (void)state;
    rx_api_request r = accept(RX_API_CHAT, "{" MSG "}");
    rx_sampler_params p = rx_api_sampler_params(&r);
    assert_true(p.temperature == 1.0f && p.top_p == 1.0f);
    assert_int_equal(p.top_k, 0);
    assert_true(p.min_p == 0.0f && p.repeat_penalty == 1.0f);
    assert_true(p.frequency_penalty == 0.0f && p.presence_penalty == 0.0f);
    assert_int_equal(p.penalty_last_n, 64);
    assert_int_equal(p.n_top_logprobs, 0);
    /* no seed: a fresh one each time */
    rx_sampler_params q = rx_api_sampler_params(&r);
    assert_true(p.seed != q.seed);
    rx_api_request_free(&r);

    r = accept(RX_API_CHAT, CHAT("\"temperature\":0.2,\"top_p\":0.5,\"top_k\":7,\"min_p\":0.1,"
                                 "\"repeat_penalty\":1.3,\"presence_penalty\":0.5,"
                                 "\"frequency_penalty\":-0.5,\"seed\":99,\"logprobs\":true,"
                                 "\"top_logprobs\":20"));
    p = rx_api_sampler_params(&r);
    assert_true(p.temperature == 0.2f && p.top_p == 0.5f && p.min_p == 0.1f);
    assert_int_equal(p.top_k, 7);
    assert_true(p.repeat_penalty == 1.3f);
    assert_true(p.presence_penalty == 0.5f && p.frequency_penalty == -0.5f);
    assert_int_equal(p.seed, 99);
    assert_int_equal(p.n_top_logprobs, 20);
    assert_int_equal(rx_api_sampler_params(&r).seed, 99);
    rx_api_request_free(&r);

    r = accept(RX_API_COMPLETION, COMP("\"logprobs\":5"));
    assert_int_equal(rx_api_sampler_params(&r).n_top_logprobs, 5);
    rx_api_request_free(&r);
}

/* Whatever the parser accepts, the sampler must accept too, or a valid request would fail
 * later as a 500: the extremes of every range go through rx_sampler_create. */
static void test_sampler_accepts_extremes(void **state)
{
    (void)state;
    static const char *bodies[] = {
        CHAT("\"temperature\":0,\"top_p\":1e-30,\"top_k\":0,\"min_p\":0,"
             "\"repeat_penalty\":1e-30,\"presence_penalty\":-2,\"frequency_penalty\":-2,"
             "\"logprobs\":true,\"top_logprobs\":0"),
        CHAT("\"temperature\":2,\"top_p\":1,\"top_k\":2147483647,\"min_p\":1,"
             "\"repeat_penalty\":100,\"presence_penalty\":2,\"frequency_penalty\":2,"
             "\"logprobs\":true,\"top_logprobs\":20,\"seed\":-9223372036854775808"),
        COMP("\"logprobs\":5"),
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        rx_api_request r = accept(i < 2 ? RX_API_CHAT : RX_API_COMPLETION, bodies[i]);
        rx_sampler_params p = rx_api_sampler_params(&r);
        rx_sampler *s;
        if (rx_sampler_create(&p, 32000, &s) != RX_OK) {
            print_error("body %zu: %s\n", i, rx_last_error());
            fail();
        }
        rx_sampler_free(s);
        rx_api_request_free(&r);
    }
}

static void test_set_error(void **state)
{
    (void)state;
    rx_api_error e;
    rx_api_set_error(&e, 429, "rate_limit_error", NULL, "queue_full", "queue %d/%d", 9, 9);
    assert_int_equal(e.http_status, 429);
    assert_string_equal(e.type, "rate_limit_error");
    assert_string_equal(e.param, "");
    assert_string_equal(e.code, "queue_full");
    assert_string_equal(e.message, "queue 9/9");
    char longp[200];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    rx_api_set_error(&e, 400, "invalid_request_error", longp, longp, "%s", longp);
    assert_int_equal(strlen(e.param), sizeof e.param - 1);
    assert_int_equal(strlen(e.code), sizeof e.code - 1);
    rx_api_set_error(NULL, 400, NULL, NULL, NULL, "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_null_is_absent),
        cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_prompt_shapes),
        cmocka_unit_test(test_field_refusals),
        cmocka_unit_test(test_messages_quote_values),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_sampler_params),
        cmocka_unit_test(test_sampler_accepts_extremes),
        cmocka_unit_test(test_set_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
