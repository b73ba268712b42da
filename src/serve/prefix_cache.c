/* Which free slot a new request takes. Each slot keeps the KV of the last tokens it decoded and
 * remembers the tenant that put them there; a request reuses the longest common prefix among
 * the free slots of its own tenant only (another tenant's slot counts as sharing nothing, so
 * the time to first token can never reveal someone else's prompt). Without a useful prefix it
 * takes an empty slot, else the least recently used one, to keep warm caches alive longest. */
#include <string.h>

#include "serve/sched_internal.h"

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    int32_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

rx_slot *rx_sched__pick_slot(rx_sched *s, const rx_sched_req *q, int32_t *n_reuse)
{
    rx_slot *best = NULL, *fallback = NULL;
    int32_t best_len = 0;
    /* embedding requests need the hidden state of every prompt token: nothing to reuse */
    const bool lookup = s->p.prefix_cache && !q->embedding;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        rx_slot *sl = &s->slots[i];
        if (sl->state != SLOT_FREE) continue;
        if (!fallback ||
            (fallback->n_cache > 0 && (sl->n_cache == 0 || sl->last_used < fallback->last_used)))
            fallback = sl;
        if (!lookup || sl->n_cache == 0 || !sl->tenant || strcmp(sl->tenant, q->tenant) != 0)
            continue;
        int32_t n = common_prefix(sl->cache_tok, sl->n_cache, q->prompt, q->n_prompt);
        if (n > q->n_prompt - 1) n = q->n_prompt - 1; /* the last token is decoded for logits */
        if (n > best_len || (n == best_len && n > 0 && sl->last_used < best->last_used)) {
            best = sl;
            best_len = n;
        }
    }
    *n_reuse = best ? best_len : 0;
    return best ? best : fallback;
}
