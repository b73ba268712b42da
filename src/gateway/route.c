/* Routing as filters then scores, each a small function in one table (so adding a policy is
 * adding a row). Filters remove upstreams that must not or cannot serve; the lowest tier at or
 * above the gateway's own that has an eligible upstream wins (escalation happens only when the
 * local tier cannot serve); scores rank what is left. The reason is one line for x-reflex-route.
 * Data-domain policy is a filter, so it holds for retries and failover too. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "gateway/gateway_internal.h"

typedef struct {
    const char *name;
    bool (*keep)(rx_gateway *g, const gw_upstream *u, const gw_route_req *r);
} gw_filter;

typedef struct {
    const char *name;
    double weight;
    /* 0..1, higher is better */
    double (*score)(rx_gateway *g, const gw_upstream *u, const gw_route_req *r);
} gw_score;

static bool f_model(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)g;
    const char *id;
    return !r->model || rx_upstream_serves(&u->spec, r->model, &id);
}

static bool f_domain(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)g;
    return rx_upstream_holds_domain(&u->spec, r->domain);
}

static bool f_untried(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    return !(r->exclude & (1ull << (u - g->ups)));
}

static bool f_healthy(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)r;
    return !u->retired && u->healthy && !gw_upstream_ejected(g, u);
}

/* Saturated: every slot busy and the queue full, as last polled, plus what we sent since. */
static bool f_unsaturated(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)g;
    (void)r;
    if (!u->polled || u->slots_total <= 0) return true;
    return u->in_flight < u->slots_total + u->queue_cap;
}

static const gw_filter filters[] = {
    {"model", f_model},     {"domain", f_domain},           {"untried", f_untried},
    {"healthy", f_healthy}, {"unsaturated", f_unsaturated},
};
#define N_FILTERS (int)(sizeof filters / sizeof filters[0])

static double s_load(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)g;
    (void)r;
    /* in_flight is what this gateway knows right now; the poll adds other gateways' load */
    const double slots = u->slots_total > 0 ? u->slots_total : 1;
    const double busy = u->in_flight > u->slots_busy ? u->in_flight : u->slots_busy;
    return 1.0 / (1.0 + busy / slots + u->queue_depth);
}

static double s_prefix(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)g;
    if (!r->has_digest) return 0;
    for (int i = 0; i < u->n_digests; i++)
        if (u->digests[i] == r->digest) return 1;
    if (u->n_digests > 0) return 0;
    /* a node that reports no digests (llama-server, vLLM): rendezvous hashing on the prompt's
     * leading text sends the same prefix to the same node, which keeps its own cache warm */
    return rx_hash_unit(rx_hash_mix64(r->digest ^ rx_fnv1a64_str(u->spec.name))) * 0.5;
}

static double s_locality(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)r;
    const rx_topology *t = &g->cfg.topo;
    if (t->site[0] && strcmp(u->spec.site, t->site) == 0) return 1;
    if (t->region[0] && strcmp(u->spec.region, t->region) == 0) return 0.5;
    return 0;
}

static double s_latency(rx_gateway *g, const gw_upstream *u, const gw_route_req *r)
{
    (void)g;
    (void)r;
    const double ms = u->ewma_ms > 0 ? u->ewma_ms : u->status_ttft_ms;
    return 1.0 / (1.0 + ms / 100.0);
}

static const gw_score scores[] = {
    {"prefix", 4.0, s_prefix},
    {"locality", 2.0, s_locality},
    {"load", 1.5, s_load},
    {"latency", 0.5, s_latency},
};
#define N_SCORES (int)(sizeof scores / sizeof scores[0])

/* "<sep><name>=<v with two decimals>" into out (cap > 0), as snprintf would, without its
 * float formatting: this runs for every request (x-reflex-route). Returns what snprintf would. */
static int score_note(char *out, size_t cap, const char *sep, const char *name, double v)
{
    char tmp[96];
    size_t n = 0;
    for (const char *p = sep; *p && n < 40; p++)
        tmp[n++] = *p;
    for (const char *p = name; *p && n < 80; p++)
        tmp[n++] = *p;
    tmp[n++] = '=';
    long long c = isfinite(v) ? llround(v * 100.0) : 0;
    if (c < 0) {
        tmp[n++] = '-';
        c = -c;
    }
    if (c > 999999999999LL) c = 999999999999LL;
    char digits[16];
    int d = 0;
    long long whole = c / 100;
    do {
        digits[d++] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    while (d)
        tmp[n++] = digits[--d];
    tmp[n++] = '.';
    tmp[n++] = (char)('0' + c / 10 % 10);
    tmp[n++] = (char)('0' + c % 10);
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, tmp, k);
    out[k] = '\0';
    return (int)n;
}

static int route_pass(rx_gateway *g, const gw_route_req *r, bool fallback, char *why,
                      size_t why_cap)
{
    int passed[N_FILTERS] = {0};
    int tier_count[3] = {0};
    bool ok[64] = {0};
    const int n = g->n_ups < 64 ? g->n_ups : 64;
    for (int i = 0; i < n; i++) {
        const gw_upstream *u = &g->ups[i];
        bool keep = true;
        for (int f = 0; f < N_FILTERS && keep; f++) {
            keep = filters[f].keep(g, u, r);
            if (keep) passed[f]++;
        }
        if (keep && u->spec.fallback == fallback && u->spec.tier >= g->cfg.topo.tier &&
            (int)u->spec.tier >= r->min_tier) {
            ok[i] = true;
            tier_count[u->spec.tier]++;
        }
    }
    int tier = -1;
    for (int t = g->cfg.topo.tier; t < 3 && tier < 0; t++)
        if (tier_count[t]) tier = t;
    if (tier < 0) {
        int last = 0; /* the first filter that removed the last candidates */
        while (last < N_FILTERS && passed[last] > 0)
            last++;
        snprintf(why, why_cap, "no eligible upstream: %s filter left none (of %d)",
                 last < N_FILTERS ? filters[last].name : "tier", n);
        return -1;
    }
    int best = -1;
    double best_score = -1, best_parts[N_SCORES] = {0};
    uint64_t best_tie = 0;
    const bool sticky = r->sticky && r->user;
    const uint64_t user_h = sticky ? rx_fnv1a64_str(r->user) : 0;
    for (int i = 0; i < n; i++) {
        if (!ok[i] || (int)g->ups[i].spec.tier != tier) continue;
        const gw_upstream *u = &g->ups[i];
        double parts[N_SCORES], total = 0;
        for (int s = 0; s < N_SCORES; s++) {
            parts[s] = scores[s].score(g, u, r);
            total += scores[s].weight * parts[s];
        }
        /* weights scale the score; sticky users follow rendezvous hashing instead */
        total *= 1.0 + log((double)u->spec.weight);
        uint64_t tie = sticky ? rx_hash_mix64(user_h ^ rx_fnv1a64_str(u->spec.name))
                              : rx_hash_mix64(g->rr + (uint64_t)i);
        if (sticky) total = 0;
        if (best < 0 || total > best_score + 1e-9 ||
            (fabs(total - best_score) <= 1e-9 && tie > best_tie)) {
            best = i;
            best_score = total;
            best_tie = tie;
            memcpy(best_parts, parts, sizeof parts);
        }
    }
    g->rr++;
    const gw_upstream *u = &g->ups[best];
    int w = snprintf(why, why_cap, "%s (tier %s%s)", u->spec.name, rx_tier_name(u->spec.tier),
                     tier > (int)g->cfg.topo.tier ? ", escalated: no eligible upstream below" : "");
    if (sticky) {
        if (w > 0 && (size_t)w < why_cap)
            snprintf(why + w, why_cap - (size_t)w, ": sticky by user");
        return best;
    }
    for (int s = 0; s < N_SCORES && w > 0 && (size_t)w < why_cap; s++)
        w += score_note(why + w, why_cap - (size_t)w, s ? ", " : ": ", scores[s].name,
                        best_parts[s]);
    if (r->has_digest && best_parts[0] > 0 && w > 0 && (size_t)w < why_cap)
        snprintf(why + w, why_cap - (size_t)w, " (prefix cache hit)");
    return best;
}

int gw_route(rx_gateway *g, const gw_route_req *r, char *why, size_t why_cap)
{
    int i = route_pass(g, r, false, why, why_cap);
    if (i >= 0) return i;
    /* nothing else is eligible: a local fallback model, under the same filters (domain too) */
    char none[256];
    snprintf(none, sizeof none, "%s", why);
    i = route_pass(g, r, true, why, why_cap);
    if (i < 0) {
        snprintf(why, why_cap, "%s", none);
        return -1;
    }
    size_t n = strlen(why);
    if (n + 12 < why_cap) memmove(why + 10, why, n + 1), memcpy(why, "fallback: ", 10);
    return i;
}
