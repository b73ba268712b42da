/* serve/chat_template.c: detection on realistic template texts, and each family rendered for
 * two conversations compared byte for byte: system + user + assistant + user, and the
 * six-message conversation of llama.cpp's test-chat-template (whose expected outputs for the
 * same families these match), which also shows where content is trimmed. */
#include "rxtest.h"

#include <stdlib.h>
#include <string.h>

#include "reflex/api.h"

#define M(r, c)                                                                                    \
    {                                                                                              \
        (char *)(r), (char *)(c)                                                                   \
    }

static const rx_api_message conv4[] = {
    M("system", "You are helpful."),
    M("user", "Hello"),
    M("assistant", "Hi there"),
    M("user", "How are you?"),
};

static const rx_api_message conv6[] = {
    M("system", "You are a helpful assistant"),
    M("user", "Hello"),
    M("assistant", "Hi there"),
    M("user", "Who are you"),
    M("assistant", "   I am an assistant   "),
    M("user", "Another question"),
};

static void expect_render(rx_chat_family f, const rx_api_message *m, size_t n, const char *want)
{
    char *got = rx_chat_render(f, m, n);
    assert_non_null(got);
    if (strcmp(got, want) != 0) {
        print_error("%s:\n got: %s\nwant: %s\n", rx_chat_family_name(f), got, want);
        free(got);
        fail();
    }
    free(got);
}

static void test_render_conv4(void **state)
{
    (void)state;
    expect_render(RX_CHAT_CHATML, conv4, 4,
                  "<|im_start|>system\nYou are helpful.<|im_end|>\n"
                  "<|im_start|>user\nHello<|im_end|>\n"
                  "<|im_start|>assistant\nHi there<|im_end|>\n"
                  "<|im_start|>user\nHow are you?<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render(RX_CHAT_LLAMA3, conv4, 4,
                  "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_render(RX_CHAT_PHI3, conv4, 4,
                  "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHello<|end|>\n"
                  "<|assistant|>\nHi there<|end|>\n<|user|>\nHow are you?<|end|>\n"
                  "<|assistant|>\n");
    expect_render(RX_CHAT_ZEPHYR, conv4, 4,
                  "<|system|>\nYou are helpful.<|endoftext|>\n<|user|>\nHello<|endoftext|>\n"
                  "<|assistant|>\nHi there<|endoftext|>\n<|user|>\nHow are you?<|endoftext|>\n"
                  "<|assistant|>\n");
    expect_render(RX_CHAT_GEMMA, conv4, 4,
                  "<start_of_turn>user\nYou are helpful.\n\nHello<end_of_turn>\n"
                  "<start_of_turn>model\nHi there<end_of_turn>\n"
                  "<start_of_turn>user\nHow are you?<end_of_turn>\n"
                  "<start_of_turn>model\n");
    expect_render(RX_CHAT_LLAMA2, conv4, 4,
                  "[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHello [/INST]Hi there</s>"
                  "[INST] How are you? [/INST]");
    expect_render(RX_CHAT_MISTRAL, conv4, 4,
                  "[INST] You are helpful.\nHello [/INST]Hi there</s>[INST] How are you? [/INST]");
    expect_render(RX_CHAT_PLAIN, conv4, 4,
                  "system: You are helpful.\nuser: Hello\nassistant: Hi there\n"
                  "user: How are you?\nassistant:");
}

/* llama.cpp's expected outputs (tests/test-chat-template.cpp) for the same families. */
static void test_render_like_llama_cpp(void **state)
{
    (void)state;
    expect_render(RX_CHAT_CHATML, conv6, 6,
                  "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n"
                  "Hello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\n"
                  "Who are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   "
                  "<|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render(RX_CHAT_MISTRAL, conv6, 6,
                  "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are "
                  "you [/INST]   I am an assistant   </s>[INST] Another question [/INST]");
    expect_render(RX_CHAT_LLAMA2, conv6, 6,
                  "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi "
                  "there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another "
                  "question [/INST]");
    expect_render(RX_CHAT_GEMMA, conv6, 6,
                  "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n"
                  "<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are "
                  "you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n"
                  "<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n");
    expect_render(RX_CHAT_LLAMA3, conv6, 6,
                  "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful "
                  "assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_render(RX_CHAT_PHI3, conv6, 6,
                  "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n"
                  "<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n"
                  "   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n"
                  "<|assistant|>\n");
    expect_render(RX_CHAT_ZEPHYR, conv6, 6,
                  "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello"
                  "<|endoftext|>\n<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are you"
                  "<|endoftext|>\n<|assistant|>\n   I am an assistant   <|endoftext|>\n<|user|>\n"
                  "Another question<|endoftext|>\n<|assistant|>\n");
}

static void test_render_edges(void **state)
{
    (void)state;
    /* developer is the newer name of system */
    static const rx_api_message dev[] = {M("developer", " Be brief. "), M("user", "Hi")};
    expect_render(RX_CHAT_CHATML, dev, 2,
                  "<|im_start|>system\n Be brief. <|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render(RX_CHAT_GEMMA, dev, 2,
                  "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
    expect_render(RX_CHAT_LLAMA2, dev, 2, "[INST] <<SYS>>\n Be brief. \n<</SYS>>\n\nHi [/INST]");
    expect_render(RX_CHAT_PLAIN, dev, 2, "system:  Be brief. \nuser: Hi\nassistant:");

    /* gemma: several system texts, trimmed and joined, go to the next user turn; a model turn
     * does not take them */
    static const rx_api_message g[] = {M("system", "A "), M("assistant", "x"), M("system", " B"),
                                       M("user", "u")};
    expect_render(RX_CHAT_GEMMA, g, 4,
                  "<start_of_turn>model\nx<end_of_turn>\n<start_of_turn>user\nAB\n\nu"
                  "<end_of_turn>\n<start_of_turn>model\n");

    /* llama2 after an assistant turn: llama.cpp leaves the turn closed */
    static const rx_api_message a[] = {M("user", "q"), M("assistant", "a")};
    expect_render(RX_CHAT_LLAMA2, a, 2, "[INST] q [/INST]a</s>");
    /* tool results: chatml names the role; llama2 has none and treats it as a reply */
    static const rx_api_message t[] = {M("user", "q"), M("tool", "42")};
    expect_render(RX_CHAT_CHATML, t, 2,
                  "<|im_start|>user\nq<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render(RX_CHAT_MISTRAL, t, 2, "[INST] q [/INST]42</s>");

    /* no messages, and half-filled ones */
    expect_render(RX_CHAT_CHATML, NULL, 0, "<|im_start|>assistant\n");
    expect_render(RX_CHAT_PLAIN, NULL, 3, "assistant:");
    expect_render(RX_CHAT_LLAMA2, NULL, 0, "[INST] ");
    static const rx_api_message holes[] = {M(NULL, NULL)};
    expect_render(RX_CHAT_LLAMA3, holes, 1,
                  "<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
    /* an out-of-range family renders plain */
    expect_render((rx_chat_family)99, conv4, 1, "system: You are helpful.\nassistant:");
    /* content is copied byte for byte, invalid UTF-8 and all */
    static const rx_api_message raw[] = {M("user", "\xff\xfe")};
    expect_render(RX_CHAT_CHATML, raw, 1,
                  "<|im_start|>user\n\xff\xfe<|im_end|>\n<|im_start|>assistant\n");
}

typedef struct {
    const char *what;
    const char *tmpl;
    rx_chat_family want;
} detect_case;

static void test_detect(void **state)
{
    (void)state;
    static const detect_case cases[] = {
        {"none", NULL, RX_CHAT_PLAIN},
        {"empty", "", RX_CHAT_PLAIN},
        {"unknown", "{% for m in messages %}{{ m['content'] }}{% endfor %}", RX_CHAT_PLAIN},
        {"vicuna", "{{ 'USER: ' + message['content'] + '\\nASSISTANT: ' }}", RX_CHAT_PLAIN},
        {"OpenHermes chatml",
         "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
         "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt "
         "%}{{ '<|im_start|>assistant\\n' }}{% endif %}",
         RX_CHAT_CHATML},
        {"Qwen2.5 chatml with tools",
         "{%- if tools %}{{- '<|im_start|>system\\n' }}{{- \"\\n\\n# Tools\\n\\n<tools>\" }}"
         "{%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' "
         "+ message.content + '<|im_end|>' + '\\n' }}{%- endfor %}",
         RX_CHAT_CHATML},
        {"Llama-2-chat",
         "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
         "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages "
         "%}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if "
         "loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
         "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content "
         "= message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + "
         "'[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' "
         "%}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
         RX_CHAT_LLAMA2},
        {"Mistral-7B-Instruct-v0.2",
         "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
         "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
         "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ "
         "'[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' "
         "%}{{ message['content'] + eos_token}}{% endif %}{% endfor %}",
         RX_CHAT_MISTRAL},
        {"Mistral v0.3 with tools",
         "{{- bos_token }}{%- for message in loop_messages %}{%- if message[\"role\"] == "
         "\"user\" %}{{- \"[AVAILABLE_TOOLS] [\" }}{{- \"[INST] \" + message[\"content\"] + "
         "\"[/INST]\" }}{%- endif %}{%- endfor %}",
         RX_CHAT_MISTRAL},
        {"Llama-3-Instruct",
         "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
         "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ "
         "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = "
         "bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt "
         "%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
         RX_CHAT_LLAMA3},
        {"Llama-3.1 tool header",
         "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Environment: "
         "ipython\\n\" }}{{- \"<|eot_id|>\" }}{{- '<|python_tag|>' }}",
         RX_CHAT_LLAMA3},
        {"Phi-3-mini",
         "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}"
         "{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + "
         "'\\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + "
         "'\\n'}}{% endif %}{% endfor %}",
         RX_CHAT_PHI3},
        {"Phi-3-small (role spliced in)",
         "{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + "
         "message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ "
         "'<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}",
         RX_CHAT_PHI3},
        {"zephyr-7b-beta",
         "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
         "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ "
         "'<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == "
         "'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif "
         "%}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif "
         "%}\n{% endfor %}",
         RX_CHAT_ZEPHYR},
        {"zephyr with a literal end of text",
         "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + "
         "message['content'] + '<|endoftext|>' + '\\n'}}{% endfor %}{% if add_generation_prompt "
         "%}{{ '<|assistant|>\\n' }}{% endif %}",
         RX_CHAT_ZEPHYR},
        {"gemma-7b-it",
         "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System "
         "role not supported') }}{% endif %}{% for message in messages %}{% if "
         "(message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = "
         "message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] "
         "| trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt "
         "%}{{'<start_of_turn>model\\n'}}{% endif %}",
         RX_CHAT_GEMMA},
        /* two families' markers: llama.cpp's order decides (ChatML first) */
        {"chatml mentioning [INST]", "<|im_start|>{{ '[INST]' }}", RX_CHAT_CHATML},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rx_chat_family got = rx_chat_detect(cases[i].tmpl);
        if (got != cases[i].want) {
            print_error("%s: got %s, want %s\n", cases[i].what, rx_chat_family_name(got),
                        rx_chat_family_name(cases[i].want));
            fail();
        }
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(rx_chat_family_name(RX_CHAT_PLAIN), "plain");
    assert_string_equal(rx_chat_family_name(RX_CHAT_LLAMA2), "llama2");
    assert_string_equal(rx_chat_family_name(RX_CHAT_LLAMA3), "llama3");
    assert_string_equal(rx_chat_family_name(RX_CHAT_CHATML), "chatml");
    assert_string_equal(rx_chat_family_name(RX_CHAT_ZEPHYR), "zephyr");
    assert_string_equal(rx_chat_family_name(RX_CHAT_PHI3), "phi3");
    assert_string_equal(rx_chat_family_name(RX_CHAT_GEMMA), "gemma");
    assert_string_equal(rx_chat_family_name(RX_CHAT_MISTRAL), "mistral");
    assert_string_equal(rx_chat_family_name((rx_chat_family)42), "unknown");
}

/* What a parsed request renders to: the parser's output feeds the renderer directly. */
static void test_parse_then_render(void **state)
{
    (void)state;
    const char *body = "{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\","
                       "\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\","
                       "\"text\":\"b\"}]},{\"role\":\"assistant\",\"content\":null},"
                       "{\"role\":\"user\",\"content\":\"c\"}]}";
    rx_api_request r;
    rx_api_error e;
    assert_int_equal(rx_api_parse(RX_API_CHAT, body, strlen(body), &r, &e), RX_OK);
    expect_render(RX_CHAT_CHATML, r.messages, r.n_messages,
                  "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nab<|im_end|>\n"
                  "<|im_start|>assistant\n<|im_end|>\n<|im_start|>user\nc<|im_end|>\n"
                  "<|im_start|>assistant\n");
    rx_api_request_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_conv4), cmocka_unit_test(test_render_like_llama_cpp),
        cmocka_unit_test(test_render_edges), cmocka_unit_test(test_detect),
        cmocka_unit_test(test_names),        cmocka_unit_test(test_parse_then_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
