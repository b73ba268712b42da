/* The inputs of a request: chat "messages" (role + text content, a string or text parts) and
 * the completion "prompt" / embedding "input" in OpenAI's four shapes (a string, strings,
 * token ids, lists of token ids). Each refusal names the JSON path of the offending element,
 * e.g. "messages[2].content[0].type" or "prompt[1][7]". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "serve/api_internal.h"

static const char *const roles[] = {"system", "user", "assistant", "tool", "developer"};

static rx_status missing(rx_api_error *err, const char *param)
{
    return rx_api__bad(err, param, "Missing required parameter: '%s'.", param);
}

static rx_status empty_array(rx_api_error *err, const char *param)
{
    return rx_api__bad(err, param,
                       "Invalid '%s': empty array. Expected an array with minimum length 1, but "
                       "got an empty array instead.",
                       param);
}

static rx_status too_long(rx_api_error *err, const char *param, size_t max, size_t n)
{
    return rx_api__bad(err, param,
                       "Invalid '%s': array too long. Expected an array with maximum length %zu, "
                       "but got an array with length %zu instead.",
                       param, max, n);
}

static rx_status parse_role(const json_t *m, const char *path, char **out, rx_api_error *err)
{
    char param[RX_API_PATH_MAX];
    rx_api__path(param, "%s.role", path);
    const json_t *v = rx_api__field(m, "role");
    if (!v) return missing(err, param);
    if (!json_is_string(v)) return rx_api__bad_type(err, param, "a string", v);
    const char *role = json_string_value(v);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(role, roles[i]) == 0) {
            *out = strdup(role);
            return *out ? RX_OK : rx_api__nomem(err);
        }
    }
    return rx_api__bad(err, param,
                       "Invalid value for '%s': '%.64s'. Supported values are: 'system', 'user', "
                       "'assistant', 'tool', and 'developer'.",
                       param, role);
}

/* An array of content parts: only {"type":"text","text":...} is supported (no images or
 * audio on this server); the texts are joined with no separator, as the header promises. */
static rx_status parse_parts(const json_t *parts, const char *path, char **out, rx_api_error *err)
{
    char param[RX_API_PATH_MAX];
    size_t n = json_array_size(parts), total = 0;
    if (n == 0) return empty_array(err, path);
    if (n > RX_API_MAX_PARTS) return too_long(err, path, RX_API_MAX_PARTS, n);
    for (size_t j = 0; j < n; j++) {
        const json_t *p = json_array_get(parts, j);
        rx_api__path(param, "%s[%zu]", path, j);
        if (!json_is_object(p)) return rx_api__bad_type(err, param, "an object", p);
        const json_t *type = rx_api__field(p, "type");
        rx_api__path(param, "%s[%zu].type", path, j);
        if (!type) return missing(err, param);
        if (!json_is_string(type)) return rx_api__bad_type(err, param, "a string", type);
        if (strcmp(json_string_value(type), "text") != 0)
            return rx_api__bad(err, param,
                               "Invalid value for '%s': '%.64s'. Only 'text' content parts are "
                               "supported.",
                               param, json_string_value(type));
        const json_t *text = rx_api__field(p, "text");
        rx_api__path(param, "%s[%zu].text", path, j);
        if (!text) return missing(err, param);
        if (!json_is_string(text)) return rx_api__bad_type(err, param, "a string", text);
        if (!rx_add_size(total, json_string_length(text), &total)) return rx_api__nomem(err);
    }
    char *s = malloc(total + 1);
    if (!s) return rx_api__nomem(err);
    size_t o = 0;
    for (size_t j = 0; j < n; j++) {
        const json_t *text = json_object_get(json_array_get(parts, j), "text");
        memcpy(s + o, json_string_value(text), json_string_length(text));
        o += json_string_length(text);
    }
    s[o] = '\0';
    *out = s;
    return RX_OK;
}

/* content: a string or text parts; null (or absent) only for an assistant turn, which may
 * carry tool calls instead, and then reads as "". */
static rx_status parse_content(const json_t *m, const char *path, const char *role, char **out,
                               rx_api_error *err)
{
    char param[RX_API_PATH_MAX];
    rx_api__path(param, "%s.content", path);
    const json_t *v = rx_api__field(m, "content");
    if (!v) {
        if (strcmp(role, "assistant") != 0) return missing(err, param);
        *out = strdup("");
        return *out ? RX_OK : rx_api__nomem(err);
    }
    if (json_is_array(v)) return parse_parts(v, param, out, err);
    if (!json_is_string(v)) return rx_api__bad_type(err, param, "a string or an array", v);
    *out = strdup(json_string_value(v));
    return *out ? RX_OK : rx_api__nomem(err);
}

rx_status rx_api__parse_messages(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    const json_t *v = rx_api__field(root, "messages");
    if (!v) return missing(err, "messages");
    if (!json_is_array(v)) return rx_api__bad_type(err, "messages", "an array", v);
    size_t n = json_array_size(v);
    if (n == 0) return empty_array(err, "messages");
    if (n > RX_API_MAX_MESSAGES) return too_long(err, "messages", RX_API_MAX_MESSAGES, n);
    r->messages = calloc(n, sizeof *r->messages);
    if (!r->messages) return rx_api__nomem(err);
    r->n_messages = n; /* zeroed entries free as nothing if a later one fails */
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(v, i);
        char path[RX_API_PATH_MAX];
        rx_api__path(path, "messages[%zu]", i);
        if (!json_is_object(m)) return rx_api__bad_type(err, path, "an object", m);
        rx_status s = parse_role(m, path, &r->messages[i].role, err);
        if (s == RX_OK)
            s = parse_content(m, path, r->messages[i].role, &r->messages[i].content, err);
        if (s != RX_OK) return s;
    }
    return RX_OK;
}

/* A list of token ids: integers in [0, INT32_MAX] (the model's vocabulary is checked later,
 * by whoever tokenizes), at least one. */
static rx_status parse_ids(const json_t *arr, const char *path, rx_api_prompt *p, rx_api_error *err)
{
    size_t n = json_array_size(arr);
    if (n == 0) return empty_array(err, path);
    if (n > RX_API_MAX_PROMPT_IDS) return too_long(err, path, RX_API_MAX_PROMPT_IDS, n);
    p->ids = malloc(n * sizeof *p->ids);
    if (!p->ids) return rx_api__nomem(err);
    for (size_t k = 0; k < n; k++) {
        const json_t *t = json_array_get(arr, k);
        char param[RX_API_PATH_MAX];
        rx_api__path(param, "%s[%zu]", path, k);
        if (!json_is_integer(t)) return rx_api__bad_type(err, param, "an integer token id", t);
        json_int_t id = json_integer_value(t);
        if (id < 0 || id > INT32_MAX)
            return rx_api__bad(err, param,
                               "Invalid '%s': token id %lld is out of range [0, 2147483647].",
                               param, (long long)id);
        p->ids[k] = (int32_t)id;
        p->n_ids = k + 1;
    }
    return RX_OK;
}

static rx_status parse_text(const json_t *s, const char *path, bool allow_empty, rx_api_prompt *p,
                            rx_api_error *err)
{
    if (!allow_empty && json_string_length(s) == 0)
        return rx_api__bad(err, path,
                           "Invalid '%s': empty string. Expected a string with minimum length 1, "
                           "but got an empty string instead.",
                           path);
    p->text = strdup(json_string_value(s));
    return p->text ? RX_OK : rx_api__nomem(err);
}

rx_status rx_api__parse_prompts(const json_t *root, const char *key, size_t max_prompts,
                                bool allow_empty_text, rx_api_request *r, rx_api_error *err)
{
    const json_t *v = rx_api__field(root, key);
    if (!v) return missing(err, key);
    if (!json_is_string(v) && !json_is_array(v))
        return rx_api__bad_type(err, key, "a string or an array", v);
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (n == 0) return empty_array(err, key);
    /* The first element decides the shape: token ids make one prompt, strings or id lists
     * make one prompt each; every other element must then match. */
    const json_t *first = json_is_array(v) ? json_array_get(v, 0) : v;
    bool one_ids = json_is_integer(first) && json_is_array(v);
    size_t n_prompts = one_ids ? 1 : n;
    if (n_prompts > max_prompts) return too_long(err, key, max_prompts, n_prompts);
    r->prompts = calloc(n_prompts, sizeof *r->prompts);
    if (!r->prompts) return rx_api__nomem(err);
    r->n_prompts = n_prompts;
    if (json_is_string(v)) return parse_text(v, key, allow_empty_text, &r->prompts[0], err);
    if (one_ids) return parse_ids(v, key, &r->prompts[0], err);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        char path[RX_API_PATH_MAX];
        rx_api__path(path, "%s[%zu]", key, i);
        rx_status s;
        if (json_is_string(first) && json_is_string(e))
            s = parse_text(e, path, allow_empty_text, &r->prompts[i], err);
        else if (json_is_array(first) && json_is_array(e))
            s = parse_ids(e, path, &r->prompts[i], err);
        else
            s = rx_api__bad_type(err, path,
                                 json_is_string(first)  ? "a string, like the first element"
                                 : json_is_array(first) ? "an array of token ids, like the first "
                                                          "element"
                                                        : "a string, a token id or an array of "
                                                          "token ids",
                                 e);
        if (s != RX_OK) return s;
    }
    return RX_OK;
}
