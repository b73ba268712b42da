/* Errors as the client sees them: rx_api_error filled where a failure is found, and turned
 * into OpenAI's {"error":{"message","type","param","code"}} in this one place. The message
 * may quote client bytes (a bad role, jansson's "near '...'"), so it is sanitized here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "serve/api_internal.h"

static void set_verror(rx_api_error *err, int http_status, const char *type, const char *param,
                       const char *code, const char *fmt, va_list ap)
{
    err->http_status = http_status;
    /* type is stored as a pointer: callers pass string literals ("invalid_request_error") */
    err->type = type ? type : "server_error";
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    snprintf(err->code, sizeof err->code, "%s", code ? code : "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

void rx_api_set_error(rx_api_error *err, int http_status, const char *type, const char *param,
                      const char *code, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    set_verror(err, http_status, type, param, code, fmt, ap);
    va_end(ap);
}

rx_status rx_api__bad(rx_api_error *err, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_verror(err, 400, "invalid_request_error", param, "", fmt, ap);
    va_end(ap);
    return RX_ERR_INVALID_ARG;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

rx_status rx_api__bad_type(rx_api_error *err, const char *param, const char *expected,
                           const json_t *v)
{
    return rx_api__bad(err, param, "Invalid type for '%s': expected %s, but got %s instead.", param,
                       expected, json_kind(v));
}

void rx_api__path(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, RX_API_PATH_MAX, fmt, ap);
    va_end(ap);
}

const json_t *rx_api__field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

rx_status rx_api__nomem(rx_api_error *err)
{
    rx_api_set_error(err, 500, "server_error", "", "", "out of memory while parsing the request");
    return RX_ERR_NOMEM;
}

/* A field's text, or JSON null when it is empty (OpenAI sends "param": null, "code": null). */
static json_t *text_or_null(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n ? rx_api__json_text(s, n) : json_null();
}

char *rx_api_error_json(const rx_api_error *err)
{
    static const rx_api_error unknown = {500, "server_error", "", "", "internal error"};
    if (!err) err = &unknown;
    const char *type = err->type ? err->type : "server_error";
    json_t *e = json_object();
    json_t *root = json_object();
    if (!e || !root) {
        json_decref(e);
        json_decref(root);
        return NULL;
    }
    int bad = json_object_set_new(
        e, "message", rx_api__json_text(err->message, strnlen(err->message, sizeof err->message)));
    bad |= json_object_set_new(e, "type", rx_api__json_text(type, strlen(type)));
    bad |= json_object_set_new(e, "param", text_or_null(err->param, sizeof err->param));
    bad |= json_object_set_new(e, "code", text_or_null(err->code, sizeof err->code));
    bad |= json_object_set_new(root, "error", e);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return rx_api__dump(root);
}
