/* Chat templates without a Jinja engine: the family of a GGUF's tokenizer.chat_template is
 * recognised by its markers, and each family's prompt is written the way llama.cpp's
 * llama_chat_apply_template writes it (llama-chat.cpp, the heuristic path), so a prompt here
 * tokenizes to what llama-server would feed the same model. No BOS is written: the tokenizer
 * adds it (rx_tokenize with add_special), as for llama-server.
 *
 * Formats, per message ({r} role, {c} content, trim = ASCII whitespace at both ends):
 *   plain    "{r}: {c}\n" ... then "assistant:"
 *   chatml   "<|im_start|>{r}\n{c}<|im_end|>\n" ... then "<|im_start|>assistant\n"
 *   llama3   "<|start_header_id|>{r}<|end_header_id|>\n\n{trim c}<|eot_id|>" ... then
 *            "<|start_header_id|>assistant<|end_header_id|>\n\n"
 *   phi3     "<|{r}|>\n{c}<|end|>\n" ... then "<|assistant|>\n"
 *   zephyr   "<|{r}|>\n{c}<|endoftext|>\n" ... then "<|assistant|>\n"
 *   gemma    "<start_of_turn>{r, assistant -> model}\n{trim c}<end_of_turn>\n" ... then
 *            "<start_of_turn>model\n"; system texts (trimmed, concatenated) open the next
 *            non-model turn followed by "\n\n", as gemma has no system role
 *   llama2   llama.cpp's "llama2-sys": "[INST] " first; system "<<SYS>>\n{c}\n<</SYS>>\n\n",
 *            user "{c} [/INST]", assistant (and any other role) "{c}</s>", after which the next
 *            message opens with "[INST] "; the open assistant turn is the "[/INST]" itself
 *   mistral  llama.cpp's "llama2" (an [INST] template without <<SYS>>, as Mistral-7B-Instruct
 *            v0.1/v0.2 have): as llama2, but a system message is written as "{c}\n"
 * The OpenAI role "developer" (the newer name for system instructions) is rendered as
 * "system" in every family. */
#include <stdlib.h>
#include <string.h>

#include "serve/api_internal.h"

rx_chat_family rx_chat_detect(const char *t)
{
    if (!t || !*t) return RX_CHAT_PLAIN;
    /* Checked in llama.cpp's order, so a template carrying markers of two families (a ChatML
     * template that mentions [INST], say) lands where llama.cpp puts it. */
    if (strstr(t, "<|im_start|>")) return RX_CHAT_CHATML;
    if (strstr(t, "[INST]")) return strstr(t, "<<SYS>>") ? RX_CHAT_LLAMA2 : RX_CHAT_MISTRAL;
    /* <|user|> / <|assistant|> turns: phi3 closes them with <|end|>, zephyr with an end of
     * text (eos_token or a literal); a template may splice the role in ('<|' + role + '|>'),
     * so either literal is enough */
    bool turns = strstr(t, "<|user|>") || strstr(t, "<|assistant|>");
    if (turns && strstr(t, "<|end|>")) return RX_CHAT_PHI3;
    if (turns) return RX_CHAT_ZEPHYR;
    if (strstr(t, "<start_of_turn>")) return RX_CHAT_GEMMA;
    if (strstr(t, "<|start_header_id|>")) return RX_CHAT_LLAMA3;
    return RX_CHAT_PLAIN;
}

const char *rx_chat_family_name(rx_chat_family f)
{
    switch (f) {
    case RX_CHAT_PLAIN:
        return "plain";
    case RX_CHAT_LLAMA2:
        return "llama2";
    case RX_CHAT_LLAMA3:
        return "llama3";
    case RX_CHAT_CHATML:
        return "chatml";
    case RX_CHAT_ZEPHYR:
        return "zephyr";
    case RX_CHAT_PHI3:
        return "phi3";
    case RX_CHAT_GEMMA:
        return "gemma";
    case RX_CHAT_MISTRAL:
        return "mistral";
    }
    return "unknown";
}

/* One message with defaults for missing fields, so a caller's half-filled struct renders
 * instead of crashing. */
typedef struct {
    const char *role;
    const char *content;
    size_t len;
} msg_view;

static msg_view view(const rx_api_message *m)
{
    msg_view v = {m->role ? m->role : "user", m->content ? m->content : "", 0};
    if (strcmp(v.role, "developer") == 0) v.role = "system";
    v.len = strlen(v.content);
    return v;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Appends content with leading and trailing whitespace removed (llama.cpp's trim()). */
static void append_trimmed(rx_api_strbuf *sb, const char *s, size_t len)
{
    size_t a = 0, b = len;
    while (a < b && is_space(s[a]))
        a++;
    while (b > a && is_space(s[b - 1]))
        b--;
    rx_api__sb_append(sb, s + a, b - a);
}

/* Families that wrap each message in a header and a footer around the role. */
static void render_wrapped(rx_api_strbuf *sb, const rx_api_message *msgs, size_t n,
                           const char *open, const char *mid, const char *close, bool trim,
                           const char *gen)
{
    for (size_t i = 0; i < n; i++) {
        msg_view m = view(&msgs[i]);
        rx_api__sb_puts(sb, open);
        rx_api__sb_puts(sb, m.role);
        rx_api__sb_puts(sb, mid);
        if (trim)
            append_trimmed(sb, m.content, m.len);
        else
            rx_api__sb_append(sb, m.content, m.len);
        rx_api__sb_puts(sb, close);
    }
    rx_api__sb_puts(sb, gen);
}

static void render_gemma(rx_api_strbuf *sb, const rx_api_message *msgs, size_t n)
{
    rx_api_strbuf sys = RX_API_STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        msg_view m = view(&msgs[i]);
        if (strcmp(m.role, "system") == 0) {
            append_trimmed(&sys, m.content, m.len);
            continue;
        }
        bool model = strcmp(m.role, "assistant") == 0;
        rx_api__sb_puts(sb, "<start_of_turn>");
        rx_api__sb_puts(sb, model ? "model" : m.role);
        rx_api__sb_puts(sb, "\n");
        if (!model && sys.len) {
            rx_api__sb_append(sb, sys.buf, sys.len);
            rx_api__sb_puts(sb, "\n\n");
            sys.len = 0;
        }
        append_trimmed(sb, m.content, m.len);
        rx_api__sb_puts(sb, "<end_of_turn>\n");
    }
    if (!sys.ok) sb->ok = false;
    free(sys.buf);
    rx_api__sb_puts(sb, "<start_of_turn>model\n");
}

static void render_llama2(rx_api_strbuf *sb, const rx_api_message *msgs, size_t n, bool sys_tags)
{
    bool in_turn = true;
    rx_api__sb_puts(sb, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        msg_view m = view(&msgs[i]);
        if (!in_turn) {
            rx_api__sb_puts(sb, "[INST] ");
            in_turn = true;
        }
        if (strcmp(m.role, "system") == 0) {
            if (sys_tags) rx_api__sb_puts(sb, "<<SYS>>\n");
            rx_api__sb_append(sb, m.content, m.len);
            rx_api__sb_puts(sb, sys_tags ? "\n<</SYS>>\n\n" : "\n");
        } else if (strcmp(m.role, "user") == 0) {
            rx_api__sb_append(sb, m.content, m.len);
            rx_api__sb_puts(sb, " [/INST]");
        } else {
            rx_api__sb_append(sb, m.content, m.len);
            rx_api__sb_puts(sb, "</s>");
            in_turn = false;
        }
    }
}

char *rx_chat_render(rx_chat_family f, const rx_api_message *msgs, size_t n_msgs)
{
    rx_api_strbuf sb = RX_API_STRBUF_INIT;
    if (!msgs) n_msgs = 0;
    switch (f) {
    case RX_CHAT_CHATML:
        render_wrapped(&sb, msgs, n_msgs, "<|im_start|>", "\n", "<|im_end|>\n", false,
                       "<|im_start|>assistant\n");
        break;
    case RX_CHAT_LLAMA3:
        render_wrapped(&sb, msgs, n_msgs, "<|start_header_id|>", "<|end_header_id|>\n\n",
                       "<|eot_id|>", true, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case RX_CHAT_PHI3:
        render_wrapped(&sb, msgs, n_msgs, "<|", "|>\n", "<|end|>\n", false, "<|assistant|>\n");
        break;
    case RX_CHAT_ZEPHYR:
        render_wrapped(&sb, msgs, n_msgs, "<|", "|>\n", "<|endoftext|>\n", false,
                       "<|assistant|>\n");
        break;
    case RX_CHAT_GEMMA:
        render_gemma(&sb, msgs, n_msgs);
        break;
    case RX_CHAT_LLAMA2:
        render_llama2(&sb, msgs, n_msgs, true);
        break;
    case RX_CHAT_MISTRAL:
        render_llama2(&sb, msgs, n_msgs, false);
        break;
    case RX_CHAT_PLAIN:
    default:
        render_wrapped(&sb, msgs, n_msgs, "", ": ", "\n", false, "assistant:");
        break;
    }
    return rx_api__sb_finish(&sb);
}
