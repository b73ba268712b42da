/* Request bodies of /v1/chat/completions, /v1/completions and /v1/embeddings parsed into
 * rx_api_request: the JSON checked (one object, no duplicate keys), every known field checked
 * for type and range with OpenAI's limits and wording, unknown fields ignored, and the sampler
 * settings derived. Inputs (messages, prompts) are in api_inputs.c.
 * Decisions: null means absent; stream_options is refused unless stream is true (as OpenAI);
 * max_completion_tokens wins over max_tokens when both are given. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/api_internal.h"

static rx_status get_bool(const json_t *obj, const char *key, const char *param, bool *out,
                          rx_api_error *err)
{
    const json_t *v = rx_api__field(obj, key);
    if (!v) return RX_OK;
    if (!json_is_boolean(v)) return rx_api__bad_type(err, param, "a boolean", v);
    *out = json_is_true(v);
    return RX_OK;
}

/* An integer in [lo, hi]; a decimal such as 1.0 is refused like OpenAI does. */
static rx_status get_int(const json_t *obj, const char *key, json_int_t lo, json_int_t hi,
                         int32_t *out, bool *present, rx_api_error *err)
{
    const json_t *v = rx_api__field(obj, key);
    if (!v) return RX_OK;
    if (!json_is_integer(v)) return rx_api__bad_type(err, key, "an integer", v);
    json_int_t x = json_integer_value(v);
    if (x < lo)
        return rx_api__bad(err, key,
                           "Invalid '%s': integer below minimum value. Expected a value >= %lld, "
                           "but got %lld instead.",
                           key, (long long)lo, (long long)x);
    if (x > hi)
        return rx_api__bad(err, key,
                           "Invalid '%s': integer above maximum value. Expected a value <= %lld, "
                           "but got %lld instead.",
                           key, (long long)hi, (long long)x);
    *out = (int32_t)x;
    if (present) *present = true;
    return RX_OK;
}

/* A number in [lo, hi], or (lo, hi] when lo_open. Ranges are checked on the double, before
 * the conversion to float, which is undefined for values outside float's range. */
static rx_status get_real(const json_t *obj, const char *key, double lo, bool lo_open, double hi,
                          float *out, rx_api_error *err)
{
    const json_t *v = rx_api__field(obj, key);
    if (!v) return RX_OK;
    if (!json_is_number(v)) return rx_api__bad_type(err, key, "a number", v);
    double x = json_number_value(v);
    if (lo_open ? !(x > lo) : !(x >= lo))
        return rx_api__bad(err, key,
                           "Invalid '%s': decimal below minimum value. Expected a value %s %g, but "
                           "got %g instead.",
                           key, lo_open ? ">" : ">=", lo, x);
    if (!(x <= hi))
        return rx_api__bad(err, key,
                           "Invalid '%s': decimal above maximum value. Expected a value <= %g, but "
                           "got %g instead.",
                           key, hi, x);
    *out = (float)x;
    return RX_OK;
}

static rx_status get_string(const json_t *obj, const char *key, const char *param, char **out,
                            rx_api_error *err)
{
    const json_t *v = rx_api__field(obj, key);
    if (!v) return RX_OK;
    if (!json_is_string(v)) return rx_api__bad_type(err, param, "a string", v);
    /* jansson refuses \u0000 without JSON_ALLOW_NUL, so the value is one C string */
    *out = strdup(json_string_value(v));
    return *out ? RX_OK : rx_api__nomem(err);
}

/* stop: a string, or an array of at most 4 strings; none of them empty. */
static rx_status parse_stop(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    const json_t *v = rx_api__field(root, "stop");
    if (!v) return RX_OK;
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_string(v) && !json_is_array(v))
        return rx_api__bad_type(err, "stop", "a string or an array of strings", v);
    if (n > RX_API_MAX_STOP)
        return rx_api__bad(err, "stop",
                           "Invalid 'stop': array too long. Expected an array with maximum length "
                           "%d, but got an array with length %zu instead.",
                           RX_API_MAX_STOP, n);
    if (n == 0) return RX_OK;
    r->stop = calloc(n, sizeof *r->stop);
    if (!r->stop) return rx_api__nomem(err);
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
        char param[RX_API_PATH_MAX];
        if (json_is_array(v))
            rx_api__path(param, "stop[%zu]", i);
        else
            rx_api__path(param, "stop");
        if (!json_is_string(s)) return rx_api__bad_type(err, param, "a string", s);
        if (json_string_length(s) == 0)
            return rx_api__bad(err, param,
                               "Invalid '%s': empty string. Expected a string with minimum length "
                               "1, but got an empty string instead.",
                               param);
        r->stop[i] = strdup(json_string_value(s));
        if (!r->stop[i]) return rx_api__nomem(err);
        r->n_stop = i + 1;
    }
    return RX_OK;
}

static rx_status parse_stream(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    rx_status s = get_bool(root, "stream", "stream", &r->stream, err);
    if (s != RX_OK) return s;
    const json_t *opts = rx_api__field(root, "stream_options");
    if (!opts) return RX_OK;
    if (!json_is_object(opts)) return rx_api__bad_type(err, "stream_options", "an object", opts);
    if (!r->stream)
        return rx_api__bad(err, "stream_options",
                           "The 'stream_options' parameter is only allowed when 'stream' is "
                           "enabled.");
    return get_bool(opts, "include_usage", "stream_options.include_usage", &r->include_usage, err);
}

/* The generation settings shared by chat and completions. */
static rx_status parse_sampling(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    rx_status s;
    if ((s = get_int(root, "max_tokens", 1, INT32_MAX, &r->max_tokens, NULL, err)) ||
        (s = get_int(root, "max_completion_tokens", 1, INT32_MAX, &r->max_tokens, NULL, err)) ||
        (s = get_real(root, "temperature", 0, false, 2, &r->temperature, err)) ||
        (s = get_real(root, "top_p", 0, true, 1, &r->top_p, err)) ||
        (s = get_int(root, "n", 1, 16, &r->n, NULL, err)) ||
        (s = get_real(root, "presence_penalty", -2, false, 2, &r->presence_penalty, err)) ||
        (s = get_real(root, "frequency_penalty", -2, false, 2, &r->frequency_penalty, err)) ||
        (s = get_int(root, "top_k", 0, INT32_MAX, &r->top_k, NULL, err)) ||
        (s = get_real(root, "min_p", 0, false, 1, &r->min_p, err)) ||
        /* llama.cpp sets no upper bound; 100 keeps the float conversion defined */
        (s = get_real(root, "repeat_penalty", 0, true, 100, &r->repeat_penalty, err)) ||
        (s = parse_stop(root, r, err)) || (s = parse_stream(root, r, err)))
        return s;
    const json_t *seed = rx_api__field(root, "seed");
    if (seed) {
        if (!json_is_integer(seed)) return rx_api__bad_type(err, "seed", "an integer", seed);
        r->has_seed = true;
        r->seed = (uint64_t)json_integer_value(seed); /* negative seeds wrap, as in llama.cpp */
    }
    return RX_OK;
}

/* Chat: "logprobs" is a boolean and "top_logprobs" (0..20) the number of alternatives, which
 * OpenAI only accepts together with logprobs: true. */
static rx_status parse_chat_logprobs(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    bool want = false, has_top = false;
    int32_t top = 0;
    rx_status s = get_bool(root, "logprobs", "logprobs", &want, err);
    if (s == RX_OK) s = get_int(root, "top_logprobs", 0, RX_MAX_TOP_LOGPROBS, &top, &has_top, err);
    if (s != RX_OK) return s;
    if (has_top && !want)
        return rx_api__bad(err, "top_logprobs",
                           "Invalid 'top_logprobs': 'logprobs' must be set to true if "
                           "'top_logprobs' is used.");
    r->logprobs = want ? top : -1;
    return RX_OK;
}

/* "model", "user" and the reflex extensions, read for every kind. */
static rx_status parse_common(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    rx_status s;
    if ((s = get_string(root, "model", "model", &r->model, err)) ||
        (s = get_string(root, "user", "user", &r->user, err)))
        return s;
    const json_t *ext = rx_api__field(root, "reflex");
    if (!ext) return RX_OK;
    if (!json_is_object(ext)) return rx_api__bad_type(err, "reflex", "an object", ext);
    if ((s = get_string(ext, "domain", "reflex.domain", &r->domain, err)) ||
        (s = get_bool(ext, "ignore_eos", "reflex.ignore_eos", &r->ignore_eos, err)))
        return s;
    return RX_OK;
}

static rx_status parse_chat(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    rx_status s = rx_api__parse_messages(root, r, err);
    if (s == RX_OK) s = parse_sampling(root, r, err);
    if (s == RX_OK) s = parse_chat_logprobs(root, r, err);
    return s;
}

static rx_status parse_completion(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    /* an empty prompt is valid: generation starts from BOS, as with OpenAI's "" */
    rx_status s = rx_api__parse_prompts(root, "prompt", RX_API_MAX_PROMPTS, true, r, err);
    if (s == RX_OK) s = parse_sampling(root, r, err);
    if (s == RX_OK) s = get_int(root, "logprobs", 0, 5, &r->logprobs, NULL, err);
    if (s == RX_OK) s = get_bool(root, "echo", "echo", &r->echo, err);
    return s;
}

static rx_status parse_embedding(const json_t *root, rx_api_request *r, rx_api_error *err)
{
    rx_status s = rx_api__parse_prompts(root, "input", RX_API_MAX_INPUTS, false, r, err);
    if (s != RX_OK) return s;
    /* The official SDKs ask for base64 unless told otherwise (openai-node decodes whatever
     * comes back as base64), so both encodings are served. */
    const json_t *fmt = rx_api__field(root, "encoding_format");
    if (!fmt) return RX_OK;
    if (!json_is_string(fmt)) return rx_api__bad_type(err, "encoding_format", "a string", fmt);
    const char *f = json_string_value(fmt);
    if (strcmp(f, "float") != 0 && strcmp(f, "base64") != 0)
        return rx_api__bad(err, "encoding_format",
                           "Invalid value for 'encoding_format': '%.64s'. Supported values are: "
                           "'float' and 'base64'.",
                           f);
    r->embedding_base64 = strcmp(f, "base64") == 0;
    return RX_OK;
}

static void set_defaults(rx_api_request *r, rx_api_kind kind)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->max_tokens = -1;
    r->temperature = 1.0f;
    r->top_p = 1.0f;
    r->n = 1;
    r->logprobs = -1;
    r->repeat_penalty = 1.0f;
}

void rx_api_request_free(rx_api_request *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_messages; i++) {
        free(r->messages[i].role);
        free(r->messages[i].content);
    }
    free(r->messages);
    for (size_t i = 0; i < r->n_prompts; i++) {
        free(r->prompts[i].text);
        free(r->prompts[i].ids);
    }
    free(r->prompts);
    for (size_t i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    free(r->stop);
    free(r->model);
    free(r->user);
    free(r->domain);
    set_defaults(r, r->kind);
}

rx_status rx_api_parse(rx_api_kind kind, const char *body, size_t len, rx_api_request *out,
                       rx_api_error *err)
{
    rx_api_error scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof *err);
    if (!out) {
        rx_api_set_error(err, 500, "server_error", "", "", "rx_api_parse: no output request");
        return RX_ERR_INVALID_ARG;
    }
    set_defaults(out, kind);
    if (kind != RX_API_CHAT && kind != RX_API_COMPLETION && kind != RX_API_EMBEDDING) {
        rx_api_set_error(err, 500, "server_error", "", "", "unknown request kind %d", (int)kind);
        return RX_ERR_INVALID_ARG;
    }
    if (len > RX_API_MAX_BODY) {
        rx_api_set_error(err, 413, "invalid_request_error", "", "request_too_large",
                         "Request body of %zu bytes exceeds the limit of %zu bytes.", len,
                         RX_API_MAX_BODY);
        return RX_ERR_INVALID_ARG;
    }
    if (!body) len = 0;
    json_error_t je;
    /* JSON_DECODE_ANY lets a scalar body parse, to be refused below as "not an object" rather
     * than with jansson's "'[' or '{' expected" */
    json_t *root = json_loadb(len ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        rx_api__bad(err, "",
                    "We could not parse the JSON body of your request: %s (line %d, column %d).",
                    je.text, je.line, je.column);
        return RX_ERR_FORMAT;
    }
    if (!json_is_object(root)) {
        rx_api__bad(err, "", "The request body must be a JSON object.");
        json_decref(root);
        return RX_ERR_FORMAT;
    }
    rx_status s = parse_common(root, out, err);
    if (s == RX_OK) {
        if (kind == RX_API_CHAT)
            s = parse_chat(root, out, err);
        else if (kind == RX_API_COMPLETION)
            s = parse_completion(root, out, err);
        else
            s = parse_embedding(root, out, err);
    }
    json_decref(root);
    if (s != RX_OK) rx_api_request_free(out);
    return s;
}

/* A seed for a request that gives none: wall-clock nanoseconds and a process-wide counter
 * mixed by splitmix64, so two requests in the same nanosecond still differ. The counter is
 * the only shared state, and it is atomic. */
static uint64_t fresh_seed(void)
{
    static _Atomic uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    x ^= atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull;
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

rx_sampler_params rx_api_sampler_params(const rx_api_request *r)
{
    rx_sampler_params p = rx_sampler_default_params();
    /* neutral base: OpenAI clients expect only what they asked for, not llama.cpp's top-k 40,
     * top-p 0.95 and min-p 0.05 */
    p.temperature = r->temperature;
    p.top_k = r->top_k;
    p.top_p = r->top_p;
    p.min_p = r->min_p;
    p.repeat_penalty = r->repeat_penalty;
    p.frequency_penalty = r->frequency_penalty;
    p.presence_penalty = r->presence_penalty;
    p.penalty_last_n = 64;
    p.seed = r->has_seed ? r->seed : fresh_seed();
    p.n_top_logprobs = r->logprobs > 0 ? r->logprobs : 0;
    if (p.n_top_logprobs > RX_MAX_TOP_LOGPROBS) p.n_top_logprobs = RX_MAX_TOP_LOGPROBS;
    return p;
}
