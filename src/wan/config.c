/* WAN config files (see reflex/wan.h): one YAML mapping with name, hosts and links, read with
 * libyaml's event parser. Every refusal is one message "config FILE:LINE:COL: FIELD: what",
 * FIELD as in "links[2].delay"; unknown and repeated keys are refused too, so a typo never
 * silently leaves a default in place. */
#include "wan/internal.h"

#include "core/config_file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <arpa/inet.h>

#define CONFIG_MAX_BYTES (64u << 10)

typedef struct {
    yaml_parser_t p;
    const char *origin;
    rx_wan_config *cfg;
    /* the host names links refer to, resolved once every host is known */
    char link_ends[RX_WAN_MAX_LINKS][2][RX_WAN_HOST_NAME_MAX + 1];
    yaml_mark_t link_marks[RX_WAN_MAX_LINKS][2];
} parse_ctx;

static rx_status fail_at(const parse_ctx *x, yaml_mark_t m, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static rx_status fail_at(const parse_ctx *x, yaml_mark_t m, const char *field, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* values quoted from the file stay on the message's one line */
    for (char *p = what; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return rx_error(RX_ERR_FORMAT, "config %s:%zu:%zu: %s%s%s", x->origin, m.line + 1, m.column + 1,
                    field, field[0] ? ": " : "", what);
}

static rx_status next(parse_ctx *x, yaml_event_t *ev)
{
    if (yaml_parser_parse(&x->p, ev)) {
        if (ev->type != YAML_ALIAS_EVENT) return RX_OK;
        rx_status s = fail_at(x, ev->start_mark, "", "aliases are not supported");
        yaml_event_delete(ev);
        return s;
    }
    return rx_error(RX_ERR_FORMAT, "config %s:%zu:%zu: %s", x->origin, x->p.problem_mark.line + 1,
                    x->p.problem_mark.column + 1, x->p.problem ? x->p.problem : "syntax error");
}

/* The next event must be a scalar; copies it (at most size-1 bytes) into buf. */
static rx_status scalar(parse_ctx *x, const char *field, char *buf, size_t size, yaml_mark_t *at)
{
    yaml_event_t ev;
    rx_status s = next(x, &ev);
    if (s != RX_OK) return s;
    if (at) *at = ev.start_mark;
    size_t n = ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.length : 0;
    if (ev.type != YAML_SCALAR_EVENT)
        s = fail_at(x, ev.start_mark, field, "expected a single value");
    else if (n >= size)
        s = fail_at(x, ev.start_mark, field, "longer than %zu characters", size - 1);
    else if (memchr(ev.data.scalar.value, '\0', n))
        s = fail_at(x, ev.start_mark, field, "contains a NUL byte");
    if (s == RX_OK) {
        memcpy(buf, ev.data.scalar.value, n);
        buf[n] = '\0';
    }
    yaml_event_delete(&ev);
    return s;
}

/* The next event must open a kind (mapping or sequence). */
static rx_status expect_start(parse_ctx *x, yaml_event_type_t kind, const char *field)
{
    yaml_event_t ev;
    rx_status s = next(x, &ev);
    if (s != RX_OK) return s;
    if (ev.type != kind)
        s = fail_at(x, ev.start_mark, field, "expected a %s",
                    kind == YAML_MAPPING_START_EVENT ? "mapping (key: value, ...)"
                                                     : "list ([a, b] or '- ' items)");
    yaml_event_delete(&ev);
    return s;
}

/* Reads the next key of a mapping into key; *end is set at the mapping's end. Repeated keys
 * (seen holds the names read so far, one bit each in known order) are refused. */
static rx_status next_key(parse_ctx *x, const char *field, const char *const *known, unsigned *seen,
                          int *which, bool *end)
{
    yaml_event_t ev;
    rx_status s = next(x, &ev);
    if (s != RX_OK) return s;
    *end = ev.type == YAML_MAPPING_END_EVENT;
    *which = -1;
    if (!*end) {
        if (ev.type != YAML_SCALAR_EVENT) {
            s = fail_at(x, ev.start_mark, field, "a key must be a plain name");
        } else {
            const char *k = (const char *)ev.data.scalar.value;
            for (int i = 0; known[i]; i++)
                if (strlen(known[i]) == ev.data.scalar.length && strcmp(known[i], k) == 0)
                    *which = i;
            char list[128] = "";
            for (int i = 0; known[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         known[i]);
            if (*which < 0)
                s = fail_at(x, ev.start_mark, field, "unknown key '%.40s' (known: %s)", k, list);
            else if (*seen & (1u << *which))
                s = fail_at(x, ev.start_mark, field, "'%s' is given twice", known[*which]);
            else
                *seen |= 1u << *which;
        }
    }
    yaml_event_delete(&ev);
    return s;
}

/* Reads a mapping's keys (each one of known, once) to its end, handing each value to
 * one(x, item, which, "FIELD.key"). */
typedef rx_status (*key_fn)(parse_ctx *x, int item, int which, const char *field);

static rx_status each_key(parse_ctx *x, const char *field, const char *const *known, int item,
                          unsigned *seen, key_fn one)
{
    rx_status s = RX_OK;
    for (bool end = false; s == RX_OK;) {
        int which;
        s = next_key(x, field, known, seen, &which, &end);
        if (s != RX_OK || end) break;
        char sub[96];
        snprintf(sub, sizeof sub, "%s%s%s", field, field[0] ? "." : "", known[which]);
        s = one(x, item, which, sub);
    }
    return s;
}

/* Host and WAN names: a lowercase letter, then lowercase letters, digits and '_'. */
static bool plain_name(const char *s)
{
    if (!(s[0] >= 'a' && s[0] <= 'z')) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
    return true;
}

static rx_status parse_ports(parse_ctx *x, rx_wan_host *h, const char *field)
{
    rx_status s = expect_start(x, YAML_SEQUENCE_START_EVENT, field);
    for (;;) {
        if (s != RX_OK) return s;
        yaml_event_t ev;
        s = next(x, &ev);
        if (s != RX_OK) return s;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return RX_OK;
        }
        char item[96];
        snprintf(item, sizeof item, "%.64s[%d]", field, h->n_ports);
        char *end = NULL;
        long v = -1;
        if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length > 0 &&
            ev.data.scalar.length < 6 && ev.data.scalar.value[0] != '-' &&
            ev.data.scalar.value[0] != '+')
            v = strtol((const char *)ev.data.scalar.value, &end, 10);
        if (!end || *end != '\0' || v < 1 || v > 65535)
            s = fail_at(x, ev.start_mark, item, "a port must be a number in 1..65535");
        else if (h->n_ports == RX_WAN_MAX_PORTS)
            s = fail_at(x, ev.start_mark, item, "more than %d ports", RX_WAN_MAX_PORTS);
        for (int i = 0; s == RX_OK && i < h->n_ports; i++)
            if (h->ports[i] == v) s = fail_at(x, ev.start_mark, item, "port %ld twice", v);
        if (s == RX_OK) h->ports[h->n_ports++] = (uint16_t)v;
        yaml_event_delete(&ev);
    }
}

static rx_status host_key(parse_ctx *x, int i, int which, const char *field)
{
    rx_wan_host *h = &x->cfg->hosts[i];
    if (which == 1) return parse_ports(x, h, field);
    yaml_mark_t at;
    rx_status s = scalar(x, field, h->name, sizeof h->name, &at);
    if (s == RX_OK && !plain_name(h->name))
        s = fail_at(x, at, field,
                    "'%s': use a lowercase letter, then lowercase letters, digits, '_'", h->name);
    /* "l<digits>" would name the same namespace as a link's */
    if (s == RX_OK && h->name[0] == 'l' && h->name[1] &&
        strspn(h->name + 1, "0123456789") == strlen(h->name + 1))
        s = fail_at(x, at, field, "'%s' is reserved for link namespaces", h->name);
    for (int j = 0; s == RX_OK && j < i; j++)
        if (strcmp(x->cfg->hosts[j].name, h->name) == 0)
            s = fail_at(x, at, field, "host '%s' is defined twice", h->name);
    return s;
}

/* One item of hosts; its mapping start (at start) is read already. */
static rx_status parse_host(parse_ctx *x, int i, yaml_mark_t start)
{
    static const char *const keys[] = {"name", "ports", NULL};
    char field[48];
    snprintf(field, sizeof field, "hosts[%d]", i);
    memset(&x->cfg->hosts[i], 0, sizeof x->cfg->hosts[i]);
    unsigned seen = 0;
    rx_status s = each_key(x, field, keys, i, &seen, host_key);
    if (s == RX_OK && !(seen & 1u)) s = fail_at(x, start, field, "name is missing");
    return s;
}

static rx_status parse_duration(parse_ctx *x, const char *field, int64_t *out)
{
    char v[32];
    yaml_mark_t at;
    rx_status s = scalar(x, field, v, sizeof v, &at);
    if (s == RX_OK && !rx_wan__parse_duration_us(v, out))
        s = fail_at(x, at, field, "'%s' is not a duration in 0..10s (like 75ms, 1.5ms, 200us, 1s)",
                    v);
    return s;
}

static rx_status link_key(parse_ctx *x, int i, int which, const char *field)
{
    rx_wan_link *l = &x->cfg->links[i];
    if (which <= 1)
        return scalar(x, field, x->link_ends[i][which], sizeof x->link_ends[i][which],
                      &x->link_marks[i][which]);
    if (which == 2) return parse_duration(x, field, &l->delay_us);
    if (which == 3) return parse_duration(x, field, &l->jitter_us);
    char v[32];
    yaml_mark_t at;
    rx_status s = scalar(x, field, v, sizeof v, &at);
    if (s == RX_OK &&
        (!rx_wan__parse_rate_bps(v, &l->rate_bps) || (l->rate_bps != 0 && l->rate_bps < 8000)))
        s = fail_at(x, at, field,
                    "'%s' is not a rate of 8kbit..100gbit (like 100mbit, 512kbit, 1gbit)", v);
    return s;
}

/* One item of links; its mapping start (at start) is read already. */
static rx_status parse_link(parse_ctx *x, int i, yaml_mark_t start)
{
    static const char *const keys[] = {"a", "b", "delay", "jitter", "rate", NULL};
    char field[48];
    snprintf(field, sizeof field, "links[%d]", i);
    rx_wan_link *l = &x->cfg->links[i];
    memset(l, 0, sizeof *l);
    unsigned seen = 0;
    rx_status s = each_key(x, field, keys, i, &seen, link_key);
    const char *missing = !(seen & 1u)   ? "a is missing"
                          : !(seen & 2u) ? "b is missing"
                          : !(seen & 4u) ? "delay is missing (0ms for none)"
                                         : NULL;
    if (s == RX_OK && missing) s = fail_at(x, start, field, "%s", missing);
    if (s == RX_OK && l->jitter_us > l->delay_us)
        s = fail_at(x, start, field, "jitter is larger than delay");
    return s;
}

/* A list of mappings, each read by one(x, index, start); at most max of them. */
static rx_status parse_list(parse_ctx *x, const char *field, int max, int *count,
                            rx_status (*one)(parse_ctx *, int, yaml_mark_t))
{
    rx_status s = expect_start(x, YAML_SEQUENCE_START_EVENT, field);
    while (s == RX_OK) {
        yaml_event_t ev;
        s = next(x, &ev);
        if (s != RX_OK) return s;
        yaml_event_type_t type = ev.type;
        yaml_mark_t at = ev.start_mark;
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_END_EVENT) return RX_OK;
        char item[96];
        snprintf(item, sizeof item, "%.64s[%d]", field, *count);
        if (type != YAML_MAPPING_START_EVENT)
            return fail_at(x, at, item, "expected a mapping (key: value, ...)");
        if (*count == max) return fail_at(x, at, item, "more than %d %s", max, field);
        s = one(x, (*count)++, at);
    }
    return s;
}

/* Every link names two distinct known hosts, and no pair is linked twice. */
static rx_status resolve_links(parse_ctx *x)
{
    rx_wan_config *c = x->cfg;
    for (int i = 0; i < c->n_links; i++) {
        int *end[2] = {&c->links[i].a, &c->links[i].b};
        for (int e = 0; e < 2; e++) {
            *end[e] = -1;
            for (int h = 0; h < c->n_hosts; h++)
                if (strcmp(c->hosts[h].name, x->link_ends[i][e]) == 0) *end[e] = h;
            if (*end[e] < 0) {
                char field[48];
                snprintf(field, sizeof field, "links[%d].%c", i, e ? 'b' : 'a');
                return fail_at(x, x->link_marks[i][e], field, "unknown host '%s'",
                               x->link_ends[i][e]);
            }
        }
        char field[48];
        snprintf(field, sizeof field, "links[%d]", i);
        if (c->links[i].a == c->links[i].b)
            return fail_at(x, x->link_marks[i][1], field, "links host '%s' to itself",
                           x->link_ends[i][1]);
        for (int j = 0; j < i; j++) {
            const rx_wan_link *o = &c->links[j];
            if ((o->a == c->links[i].a && o->b == c->links[i].b) ||
                (o->a == c->links[i].b && o->b == c->links[i].a))
                return fail_at(x, x->link_marks[i][0], field,
                               "hosts '%s' and '%s' are linked twice", x->link_ends[i][0],
                               x->link_ends[i][1]);
        }
    }
    return RX_OK;
}

static rx_status top_key(parse_ctx *x, int item, int which, const char *field)
{
    (void)item;
    if (which == 1) return parse_list(x, field, RX_WAN_MAX_HOSTS, &x->cfg->n_hosts, parse_host);
    if (which == 2) return parse_list(x, field, RX_WAN_MAX_LINKS, &x->cfg->n_links, parse_link);
    yaml_mark_t at;
    rx_status s = scalar(x, field, x->cfg->name, sizeof x->cfg->name, &at);
    if (s == RX_OK && !plain_name(x->cfg->name))
        s = fail_at(x, at, field,
                    "'%s': use a lowercase letter, then lowercase letters, digits, '_'",
                    x->cfg->name);
    return s;
}

/* The document: one mapping of name, hosts and links. */
static rx_status parse_top(parse_ctx *x)
{
    static const char *const keys[] = {"name", "hosts", "links", NULL};
    yaml_event_t ev;
    rx_status s = RX_OK;
    /* stream and document starts; an empty file has no mapping at all */
    for (;;) {
        s = next(x, &ev);
        if (s != RX_OK) return s;
        yaml_event_type_t type = ev.type;
        yaml_mark_t at = ev.start_mark;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_START_EVENT) continue;
        if (type != YAML_MAPPING_START_EVENT)
            return fail_at(x, at, "", "the file must be a mapping with name, hosts and links");
        break;
    }
    unsigned seen = 0;
    yaml_mark_t start = x->p.mark;
    s = each_key(x, "", keys, 0, &seen, top_key);
    if (s != RX_OK) return s;
    /* a second document is refused rather than ignored */
    s = next(x, &ev);
    if (s != RX_OK) return s;
    if (ev.type == YAML_DOCUMENT_END_EVENT) {
        yaml_event_delete(&ev);
        s = next(x, &ev);
        if (s != RX_OK) return s;
    }
    if (ev.type != YAML_STREAM_END_EVENT) s = fail_at(x, ev.start_mark, "", "one document only");
    yaml_event_delete(&ev);
    if (s != RX_OK) return s;
    if (!(seen & 1u)) return fail_at(x, start, "name", "missing");
    if (x->cfg->n_hosts < 2) return fail_at(x, start, "hosts", "at least two hosts are needed");
    if (x->cfg->n_links < 1) return fail_at(x, start, "links", "at least one link is needed");
    return resolve_links(x);
}

rx_status rx_wan_config_parse(const char *text, size_t len, const char *origin, rx_wan_config *out)
{
    memset(out, 0, sizeof *out);
    if (len > CONFIG_MAX_BYTES)
        return rx_error(RX_ERR_RANGE, "config %s: larger than %u bytes", origin, CONFIG_MAX_BYTES);
    parse_ctx *x = calloc(1, sizeof *x);
    if (!x) return rx_error(RX_ERR_NOMEM, "no memory");
    if (!yaml_parser_initialize(&x->p)) {
        free(x);
        return rx_error(RX_ERR_NOMEM, "config %s: no memory", origin);
    }
    yaml_parser_set_input_string(&x->p, (const unsigned char *)text, len);
    x->origin = origin;
    x->cfg = out;
    rx_status s = parse_top(x);
    yaml_parser_delete(&x->p);
    free(x);
    if (s != RX_OK) memset(out, 0, sizeof *out);
    return s;
}

rx_status rx_wan_config_load(const char *path, rx_wan_config *out)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t n;
    rx_status s = rx_config_read_file(path, CONFIG_MAX_BYTES, &buf, &n);
    if (s == RX_OK) s = rx_wan_config_parse(buf, n, path, out);
    free(buf);
    return s;
}

int rx_wan_find_link(const rx_wan_config *c, const char *name)
{
    for (int k = 0; k < c->n_links; k++) {
        const char *a = c->hosts[c->links[k].a].name, *b = c->hosts[c->links[k].b].name;
        size_t na = strlen(a), nb = strlen(b);
        if (strncmp(name, a, na) == 0 && name[na] == '-' && strcmp(name + na + 1, b) == 0) return k;
        if (strncmp(name, b, nb) == 0 && name[nb] == '-' && strcmp(name + nb + 1, a) == 0) return k;
    }
    return -1;
}

void rx_wan_host_netns(const rx_wan_config *c, int host, char *buf, size_t size)
{
    snprintf(buf, size, "%s-%s", c->name, c->hosts[host].name);
}

void rx_wan_link_name(const rx_wan_config *c, int link, char *buf, size_t size)
{
    snprintf(buf, size, "%s-%s", c->hosts[c->links[link].a].name, c->hosts[c->links[link].b].name);
}

uint32_t rx_wan_service_addr(int host)
{
    return htonl(0x0a4d0000u | (uint32_t)(host + 1));
}

void rx_wan_service_addr_str(int host, char *buf, size_t size)
{
    snprintf(buf, size, "10.77.0.%d", host + 1);
}
