/* The gateway's response cache, the last rung before a 503 (DESIGN.md §5): answers to greedy
 * (temperature 0), non-streamed requests are kept for --cache-ttl seconds under a key made of
 * the request's data domain and its body normalized (keys sorted, "stream" and "user" left out),
 * and served only when no upstream is eligible. The domain is part of the key, so a private
 * domain's answer never comes back to another domain. Bounded: the oldest entry goes first. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "gateway/gateway_internal.h"

#define GW_CACHE_MAX 1024

struct gw_cache_entry {
    uint64_t key;
    char *norm; /* owned: the normalized request (the key's collisions are checked) */
    char *body; /* owned */
    size_t len;
    char content_type[96];
    uint64_t expires_ns;
    gw_cache_entry *next; /* newest first */
};

/* The normalized request, or NULL when it may not be cached (not greedy, streamed, n > 1). */
char *gw_cache_key(const json_t *request, const char *path, const char *domain)
{
    if (!json_is_object(request) || json_is_true(json_object_get(request, "stream"))) return NULL;
    json_t *t = json_object_get(request, "temperature");
    if (!json_is_number(t) || json_number_value(t) != 0) return NULL;
    json_t *n = json_object_get(request, "n");
    if (n && json_integer_value(n) != 1) return NULL;
    json_t *c = json_deep_copy(request);
    if (!c) return NULL;
    json_object_del(c, "stream");
    json_object_del(c, "user");
    /* routing hints do not change the answer; the domain is keyed on its own below */
    json_t *rx = json_object_get(c, "reflex");
    if (json_is_object(rx)) {
        json_object_del(rx, "domain");
        json_object_del(rx, "sticky");
        if (json_object_size(rx) == 0) json_object_del(c, "reflex");
    }
    json_object_set_new(c, "_path", json_string(path));
    json_object_set_new(c, "_domain", json_string(domain));
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return s;
}

static void drop(gw_cache_entry *e)
{
    free(e->norm);
    free(e->body);
    free(e);
}

void gw_cache_put(rx_gateway *g, const char *norm, const char *body, size_t len, const char *type)
{
    if (!norm || g->cfg.cache_ttl_ms <= 0) return;
    gw_cache_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->norm = strdup(norm)) || !(e->body = malloc(len ? len : 1))) {
        if (e) drop(e);
        return;
    }
    memcpy(e->body, body, len);
    e->len = len;
    e->key = rx_fnv1a64_str(norm);
    snprintf(e->content_type, sizeof e->content_type, "%s", type);
    e->expires_ns = rx_now_ns() + (uint64_t)g->cfg.cache_ttl_ms * 1000000u;
    /* newest first; the same request replaces its older answer; beyond the cap the oldest goes */
    e->next = g->cache;
    g->cache = e;
    g->cache_n++;
    gw_cache_entry **pp = &e->next;
    int kept = 1;
    while (*pp) {
        gw_cache_entry *x = *pp;
        if ((x->key == e->key && strcmp(x->norm, norm) == 0) || kept >= GW_CACHE_MAX) {
            *pp = x->next;
            drop(x);
            g->cache_n--;
            continue;
        }
        kept++;
        pp = &x->next;
    }
}

const gw_cache_entry *gw_cache_get(rx_gateway *g, const char *norm, const char **body, size_t *len,
                                   const char **type)
{
    if (!norm) return NULL;
    const uint64_t key = rx_fnv1a64_str(norm), now = rx_now_ns();
    for (gw_cache_entry *e = g->cache; e; e = e->next)
        if (e->key == key && e->expires_ns > now && strcmp(e->norm, norm) == 0) {
            *body = e->body;
            *len = e->len;
            *type = e->content_type;
            return e;
        }
    return NULL;
}

void gw_cache_free(rx_gateway *g)
{
    for (gw_cache_entry *e = g->cache, *next; e; e = next) {
        next = e->next;
        drop(e);
    }
    g->cache = NULL;
    g->cache_n = 0;
}
