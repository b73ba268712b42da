/* YAML config files turned into command-line flags (see config_file.h). */
#include "core/config_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define RX_CONFIG_MAX_BYTES (1u << 20)
#define RX_CONFIG_MAX_ARGS 4096

static rx_status push(rx_config_args *a, const char *s, size_t len)
{
    if (a->argc >= RX_CONFIG_MAX_ARGS)
        return rx_error(RX_ERR_RANGE, "more than %d settings", RX_CONFIG_MAX_ARGS / 2);
    char **v = realloc(a->argv, (size_t)(a->argc + 1) * sizeof *v);
    if (!v) return rx_error(RX_ERR_NOMEM, "no memory");
    a->argv = v;
    char *copy = malloc(len + 1);
    if (!copy) return rx_error(RX_ERR_NOMEM, "no memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    a->argv[a->argc++] = copy;
    return RX_OK;
}

static bool flag_name(const char *s, size_t len)
{
    if (len == 0 || len > 64) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0)))
            return false;
    }
    return true;
}

static rx_status fail(const char *origin, const yaml_event_t *ev, const char *what)
{
    return rx_error(RX_ERR_FORMAT, "config %s:%zu:%zu: %s", origin, ev->start_mark.line + 1,
                    ev->start_mark.column + 1, what);
}

/* One value of key: a scalar ("true"/"false" for switches) or a sequence of scalars. */
static rx_status value(yaml_parser_t *p, yaml_event_t *ev, const char *key, const char *origin,
                       rx_config_args *a)
{
    char flag[80];
    snprintf(flag, sizeof flag, "--%s", key);
    if (ev->type == YAML_SCALAR_EVENT) {
        const char *v = (const char *)ev->data.scalar.value;
        size_t n = ev->data.scalar.length;
        bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && n == 4 && memcmp(v, "true", 4) == 0) return push(a, flag, strlen(flag));
        if (plain && n == 5 && memcmp(v, "false", 5) == 0) return RX_OK;
        if (memchr(v, '\0', n)) return fail(origin, ev, "a value may not contain a NUL byte");
        rx_status s = push(a, flag, strlen(flag));
        return s == RX_OK ? push(a, v, n) : s;
    }
    if (ev->type == YAML_ALIAS_EVENT) return fail(origin, ev, "aliases are not settings");
    if (ev->type != YAML_SEQUENCE_START_EVENT)
        return fail(origin, ev, "a value must be a scalar or a list of scalars");
    for (;;) {
        yaml_event_t item;
        if (!yaml_parser_parse(p, &item))
            return rx_error(RX_ERR_FORMAT, "config %s:%zu:%zu: %s", origin,
                            p->problem_mark.line + 1, p->problem_mark.column + 1,
                            p->problem ? p->problem : "syntax error");
        rx_status s = RX_OK;
        if (item.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&item);
            return RX_OK;
        }
        if (item.type != YAML_SCALAR_EVENT)
            s = fail(origin, &item, "a list may hold scalars only");
        else if (memchr(item.data.scalar.value, '\0', item.data.scalar.length))
            s = fail(origin, &item, "a value may not contain a NUL byte");
        if (s == RX_OK) s = push(a, flag, strlen(flag));
        if (s == RX_OK) s = push(a, (const char *)item.data.scalar.value, item.data.scalar.length);
        yaml_event_delete(&item);
        if (s != RX_OK) return s;
    }
}

/* Walks the event stream: stream, document, one mapping of flag -> value, end. */
static rx_status walk(yaml_parser_t *p, const char *origin, rx_config_args *a)
{
    int depth = 0; /* 0: before the mapping, 1: inside it, 2: after it */
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return rx_error(RX_ERR_FORMAT, "config %s:%zu:%zu: %s", origin,
                            p->problem_mark.line + 1, p->problem_mark.column + 1,
                            p->problem ? p->problem : "syntax error");
        rx_status s = RX_OK;
        bool done = false;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth != 0) s = fail(origin, &ev, "nested mappings are not settings");
            depth = 1;
            break;
        case YAML_MAPPING_END_EVENT:
            depth = 2;
            break;
        case YAML_SCALAR_EVENT: {
            if (depth != 1) {
                /* an empty file parses as one empty scalar: no settings */
                if (depth == 0 && ev.data.scalar.length == 0) break;
                s = fail(origin, &ev, "the file must be a mapping of flag names to values");
                break;
            }
            char key[72];
            size_t n = ev.data.scalar.length;
            if (!flag_name((const char *)ev.data.scalar.value, n)) {
                s = fail(origin, &ev, "a key must be a flag name (lowercase letters, digits, '-')");
                break;
            }
            memcpy(key, ev.data.scalar.value, n);
            key[n] = '\0';
            yaml_event_t v;
            if (!yaml_parser_parse(p, &v)) {
                s = rx_error(RX_ERR_FORMAT, "config %s:%zu:%zu: %s", origin,
                             p->problem_mark.line + 1, p->problem_mark.column + 1,
                             p->problem ? p->problem : "syntax error");
                break;
            }
            s = value(p, &v, key, origin, a);
            yaml_event_delete(&v);
            break;
        }
        case YAML_ALIAS_EVENT:
            s = fail(origin, &ev, "aliases are not settings");
            break;
        default:
            s = fail(origin, &ev,
                     depth == 1 ? "a key must be a flag name (lowercase letters, digits, '-')"
                                : "the file must be a mapping of flag names to values");
            break;
        }
        yaml_event_delete(&ev);
        if (s != RX_OK) return s;
        if (done) return RX_OK;
    }
}

rx_status rx_config_parse(const char *text, size_t len, const char *origin, rx_config_args *out)
{
    memset(out, 0, sizeof *out);
    if (len > RX_CONFIG_MAX_BYTES)
        return rx_error(RX_ERR_RANGE, "config %s: larger than %u bytes", origin,
                        RX_CONFIG_MAX_BYTES);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return rx_error(RX_ERR_NOMEM, "config %s: no memory", origin);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    rx_config_args a = {0};
    rx_status s = walk(&p, origin, &a);
    yaml_parser_delete(&p);
    if (s != RX_OK) {
        rx_config_args_free(&a);
        return s;
    }
    *out = a;
    return RX_OK;
}

rx_status rx_config_read_file(const char *path, size_t max_bytes, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rx_error(RX_ERR_IO, "cannot read config file '%s'", path);
    char *buf = malloc(max_bytes + 2);
    if (!buf) {
        fclose(f);
        return rx_error(RX_ERR_NOMEM, "no memory");
    }
    size_t n = fread(buf, 1, max_bytes + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return rx_error(RX_ERR_IO, "error reading config file '%s'", path);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return RX_OK;
}

rx_status rx_config_load(const char *path, rx_config_args *out)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t n;
    rx_status s = rx_config_read_file(path, RX_CONFIG_MAX_BYTES, &buf, &n);
    if (s == RX_OK) s = rx_config_parse(buf, n, path, out);
    free(buf);
    return s;
}

void rx_config_args_free(rx_config_args *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
    a->argv = NULL;
    a->argc = 0;
}
