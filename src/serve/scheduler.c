/* Continuous batching (see reflex/scheduler.h): one thread owns the context and loops over
 * steps. A step admits queued requests into free slots, then builds one batch: a decode token
 * for every generating slot first (running streams never wait), then prompt chunks of the
 * slots still prefilling, oldest first, within the n_batch token budget; one rx_decode; then
 * every output row is sampled (or pooled) by its slot. Other threads only touch the queue, the
 * cancel flags and the stats, under one lock that is never held across a decode or a callback,
 * so rx_sched_submit answers at once even while a step runs. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "serve/sched_internal.h"

rx_sched_params rx_sched_default_params(void)
{
    return (rx_sched_params){
        .n_slots = 1,
        .n_ctx = 0,
        .n_batch = 512,
        .queue_cap = 64,
        .n_threads = 1,
        .kv_type = RX_TYPE_F16,
        .kernels = NULL,
        .prefix_cache = true,
    };
}

static rx_status check_params(rx_sched_params *p)
{
    if (!p->model || !p->tok)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: model and tok are required");
    if (p->n_slots == 0) p->n_slots = 1;
    if (p->n_batch == 0) p->n_batch = 512;
    if (p->queue_cap == 0) p->queue_cap = 64;
    if (p->n_threads == 0) p->n_threads = 1;
    if (p->n_ctx == 0) {
        const uint32_t train = rx_model_hparams_of(p->model)->n_ctx_train;
        p->n_ctx = train && train < 4096 ? train : 4096;
    }
    if (p->n_slots < 1 || p->n_slots > 1024)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: n_slots %d is not in [1, 1024]",
                        p->n_slots);
    if (p->n_batch < p->n_slots || p->n_batch > 65536)
        return rx_error(RX_ERR_INVALID_ARG,
                        "scheduler: n_batch %d is not in [n_slots = %d, 65536] (every slot "
                        "decodes in every step)",
                        p->n_batch, p->n_slots);
    if (p->queue_cap < 1 || p->queue_cap > (1 << 20))
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: queue_cap %d is not in [1, 2^20]",
                        p->queue_cap);
    if (p->n_threads < 1)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: n_threads %d", p->n_threads);
    if (p->n_ctx < 2)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: n_ctx %u is below 2", p->n_ctx);
    return RX_OK;
}

static void *sched_main(void *arg);

static rx_status alloc_all(rx_sched *s)
{
    const size_t B = (size_t)s->p.n_batch;
    s->slots = calloc((size_t)s->p.n_slots, sizeof *s->slots);
    s->b_tok = malloc(B * sizeof *s->b_tok);
    s->b_pos = malloc(B * sizeof *s->b_pos);
    s->b_seq = malloc(B * sizeof *s->b_seq);
    s->b_logits = malloc(B * sizeof *s->b_logits);
    s->out_slot = malloc((size_t)s->n_outputs * sizeof *s->out_slot);
    if (!s->slots || !s->b_tok || !s->b_pos || !s->b_seq || !s->b_logits || !s->out_slot)
        return rx_error(RX_ERR_NOMEM, "scheduler: out of memory");
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        rx_status st = rx_sched__slot_init(s, &s->slots[i], i);
        if (st != RX_OK) return st;
    }
    return RX_OK;
}

static void free_all(rx_sched *s)
{
    if (s->slots)
        for (int32_t i = 0; i < s->p.n_slots; i++)
            rx_sched__slot_fini(&s->slots[i]);
    free(s->slots);
    free(s->b_tok);
    free(s->b_pos);
    free(s->b_seq);
    free(s->b_logits);
    free(s->out_slot);
    rx_context_free(s->ctx);
    free(s);
}

rx_status rx_sched_create(const rx_sched_params *params, rx_sched **out)
{
    *out = NULL;
    if (!params) return rx_error(RX_ERR_INVALID_ARG, "scheduler: params is NULL");
    rx_sched *s = calloc(1, sizeof *s);
    if (!s) return rx_error(RX_ERR_NOMEM, "scheduler: out of memory");
    s->p = *params;
    rx_status st = check_params(&s->p);
    if (st != RX_OK) {
        free(s);
        return st;
    }
    const rx_model_hparams *hp = rx_model_hparams_of(s->p.model);
    s->model = s->p.model;
    s->tok = s->p.tok;
    s->n_vocab = (int32_t)hp->n_vocab;
    s->n_embd = (int32_t)hp->n_embd;
    s->n_ctx = s->p.n_ctx;
    const int32_t embd_rows = s->p.n_batch < RX_SCHED_EMBD_ROWS ? s->p.n_batch : RX_SCHED_EMBD_ROWS;
    s->n_outputs = s->p.n_slots + embd_rows;
    /* one detokenizer push is at most 3 bytes per byte of (piece + a carried partial sequence)
     * plus 4; the stop filter may take a push and a flush before releasing */
    s->text_cap_base = 2 * (3 * (rx_tokenizer_max_piece(s->tok) + 4) + 4) + 16;
    s->next_id = 1;

    rx_context_params cp = rx_context_default_params();
    cp.n_ctx = s->p.n_ctx;
    cp.n_seq = (uint32_t)s->p.n_slots;
    cp.n_batch = (uint32_t)s->p.n_batch;
    cp.n_outputs = (uint32_t)s->n_outputs;
    cp.n_threads = s->p.n_threads;
    cp.kv_type = s->p.kv_type;
    cp.kernels = s->p.kernels;
    cp.embeddings = true;
    st = rx_context_create(s->model, &cp, &s->ctx);
    if (st == RX_OK) st = alloc_all(s);
    if (st != RX_OK) {
        free_all(s);
        return st;
    }
    s->stats.n_slots = s->p.n_slots;
    s->stats.queue_cap = s->p.queue_cap;
    s->stats.n_ctx = s->n_ctx;
    s->stats.kv_cells_total = (uint64_t)s->p.n_slots * s->n_ctx;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free_all(s);
        return rx_error(RX_ERR_NOMEM, "scheduler: cannot start its thread");
    }
    s->thread_started = true;
    *out = s;
    return RX_OK;
}

void rx_sched_free(rx_sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->closed = s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started) pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free_all(s);
}

/* Requests that will get a free slot at the next step are not waiting: only those beyond the
 * free slots count against queue_cap. Under the lock. */
static bool queue_full(const rx_sched *s)
{
    const int32_t free_slots = s->p.n_slots - s->stats.slots_busy;
    return s->q_len - (free_slots > 0 ? free_slots : 0) >= s->p.queue_cap;
}

rx_status rx_sched_submit(rx_sched *s, const rx_sched_request *r, uint64_t *id)
{
    /* a full queue is answered before anything is copied: the server's 503 must be instant */
    pthread_mutex_lock(&s->lock);
    const bool closed = s->closed, full = queue_full(s);
    pthread_mutex_unlock(&s->lock);
    if (closed) return rx_error(RX_ERR_FULL, "scheduler: closed to new requests");
    if (full)
        return rx_error(RX_ERR_FULL, "scheduler: queue full (%d requests waiting)", s->p.queue_cap);
    rx_sched_req *q;
    rx_status st = rx_sched__req_build(s, r, &q);
    if (st != RX_OK) return st;
    pthread_mutex_lock(&s->lock);
    if (s->closed || queue_full(s)) { /* lost a race with another submit */
        const bool now_closed = s->closed;
        pthread_mutex_unlock(&s->lock);
        rx_sched__req_free(q);
        return now_closed ? rx_error(RX_ERR_FULL, "scheduler: closed to new requests")
                          : rx_error(RX_ERR_FULL, "scheduler: queue full (%d requests waiting)",
                                     s->p.queue_cap);
    }
    q->id = s->next_id++;
    if (s->q_tail)
        s->q_tail->next = q;
    else
        s->q_head = q;
    s->q_tail = q;
    s->q_len++;
    s->stats.queue_depth = s->q_len;
    if (id) *id = q->id;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return RX_OK;
}

void rx_sched_cancel(rx_sched *s, uint64_t id)
{
    pthread_mutex_lock(&s->lock);
    bool found = false;
    for (rx_sched_req **pp = &s->q_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        rx_sched_req *q = *pp;
        if (q->id != id) continue;
        *pp = q->next;
        if (s->q_tail == q) s->q_tail = prev;
        s->q_len--;
        s->stats.queue_depth = s->q_len;
        q->next = s->cancelled; /* answered by the scheduler thread, which owns the callbacks */
        s->cancelled = q;
        found = true;
        break;
    }
    for (int32_t i = 0; i < s->p.n_slots && !found; i++) {
        if (s->slots[i].running_id == id) {
            s->slots[i].cancel = true;
            found = true;
        }
    }
    if (found) pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void rx_sched_close(rx_sched *s)
{
    pthread_mutex_lock(&s->lock);
    s->closed = true;
    pthread_mutex_unlock(&s->lock);
}

void rx_sched_get_stats(rx_sched *s, rx_sched_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->lock);
}

/* Under the lock: queued requests into free slots, oldest first. rx_sched__slot_start runs
 * after the lock is dropped (it may allocate a tenant copy). */
static void admit(rx_sched *s)
{
    while (s->q_head && s->stats.slots_busy < s->p.n_slots) {
        rx_sched_req *q = s->q_head;
        int32_t n_reuse;
        rx_slot *sl = rx_sched__pick_slot(s, q, &n_reuse);
        s->q_head = q->next;
        if (!s->q_head) s->q_tail = NULL;
        q->next = NULL;
        s->q_len--;
        sl->req = q;
        sl->state = SLOT_PREFILL;
        sl->running_id = q->id;
        sl->cancel = false;
        sl->starting = true;
        sl->n_past = n_reuse;
        sl->last_used = s->n_steps;
        s->stats.slots_busy++;
        if (s->p.prefix_cache && !q->embedding) {
            s->stats.prefix_lookups++;
            if (n_reuse > 0) s->stats.prefix_hits++;
            s->stats.prefix_tokens_reused += (uint64_t)n_reuse;
        }
    }
    s->stats.queue_depth = s->q_len;
}

/* Builds the step's batch: decode tokens, then prompt chunks; returns its token count. */
static int32_t build_batch(rx_sched *s, int32_t *n_out)
{
    int32_t n = 0, rows = 0, embd_rows = 0;
    const uint64_t step = ++s->n_steps;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        rx_slot *sl = &s->slots[i];
        if (sl->state != SLOT_DECODE) continue;
        s->b_tok[n] = sl->next_token;
        s->b_pos[n] = sl->n_cache;
        s->b_seq[n] = sl->seq;
        s->b_logits[n] = 1;
        sl->cache_tok[sl->n_cache] = sl->next_token;
        sl->in_step = step;
        s->out_slot[rows++] = i;
        n++;
    }
    for (;;) { /* prefilling slots, the longest waiting first */
        rx_slot *sl = NULL;
        for (int32_t i = 0; i < s->p.n_slots; i++) {
            rx_slot *c = &s->slots[i];
            if (c->state == SLOT_PREFILL && c->seen_step != step &&
                (!sl || c->req->t_submit < sl->req->t_submit))
                sl = c;
        }
        if (!sl || n >= s->p.n_batch) break;
        sl->seen_step = step;
        const rx_sched_req *q = sl->req;
        int32_t chunk = q->n_prompt - sl->n_past;
        if (chunk > s->p.n_batch - n) chunk = s->p.n_batch - n;
        /* each embedding token is an output row; at most RX_SCHED_EMBD_ROWS of them a step */
        if (q->embedding && chunk > RX_SCHED_EMBD_ROWS - embd_rows)
            chunk = RX_SCHED_EMBD_ROWS - embd_rows;
        if (chunk <= 0) continue;
        sl->in_step = step;
        for (int32_t k = 0; k < chunk; k++) {
            const int32_t pos = sl->n_past + k;
            const bool want = q->embedding || pos == q->n_prompt - 1;
            s->b_tok[n] = q->prompt[pos];
            s->b_pos[n] = pos;
            s->b_seq[n] = sl->seq;
            s->b_logits[n] = want;
            sl->cache_tok[pos] = q->prompt[pos];
            if (want) s->out_slot[rows++] = (int32_t)(sl - s->slots);
            n++;
        }
        if (q->embedding) embd_rows += chunk;
        sl->n_past += chunk;
        s->n_prompt_decoded += (uint64_t)chunk;
    }
    *n_out = rows;
    return n;
}

static void step(rx_sched *s)
{
    int32_t n_rows;
    const int32_t n = build_batch(s, &n_rows);
    if (n == 0) return;
    const uint64_t step_no = s->n_steps;
    rx_batch b = {n, s->b_tok, s->b_pos, s->b_seq, s->b_logits};
    rx_status st = rx_decode(s->ctx, &b);
    s->n_decodes++;
    for (int32_t i = 0; i < s->p.n_slots; i++) {
        rx_slot *sl = &s->slots[i];
        if (sl->state == SLOT_FREE || sl->in_step != step_no) continue;
        if (st != RX_OK)
            rx_sched__slot_fail(s, sl, st, rx_last_error());
        else
            sl->n_cache = rx_seq_len(s->ctx, sl->seq);
    }
    if (st == RX_OK)
        for (int32_t r = 0; r < n_rows; r++) {
            rx_slot *sl = &s->slots[s->out_slot[r]];
            if (sl->req) rx_sched__slot_output(s, sl, r);
        }
}

void rx_sched__publish_locked(rx_sched *s)
{
    uint64_t used = 0;
    for (int32_t i = 0; i < s->p.n_slots; i++)
        used += (uint64_t)s->slots[i].n_cache;
    s->stats.steps = s->n_decodes;
    s->stats.tokens_prompt = s->n_prompt_decoded;
    s->stats.tokens_generated = s->n_generated;
    s->stats.kv_cells_used = used;
}

static bool has_work(const rx_sched *s)
{
    return s->stopping || s->cancelled || s->q_len > 0 || s->stats.slots_busy > 0;
}

static void *sched_main(void *arg)
{
    rx_sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!has_work(s))
            pthread_cond_wait(&s->wake, &s->lock);
        const bool stopping = s->stopping;
        rx_sched_req *cancelled = s->cancelled;
        s->cancelled = NULL;
        if (stopping) { /* everything waiting is cancelled too */
            while (s->q_head) {
                rx_sched_req *q = s->q_head;
                s->q_head = q->next;
                q->next = cancelled;
                cancelled = q;
            }
            s->q_tail = NULL;
            s->q_len = 0;
            s->stats.queue_depth = 0;
        } else {
            admit(s);
        }
        /* snapshot the cancel flags: acting on them takes the lock again */
        for (int32_t i = 0; i < s->p.n_slots; i++) {
            rx_slot *sl = &s->slots[i];
            sl->cancelling = sl->state != SLOT_FREE && (sl->cancel || stopping);
        }
        pthread_mutex_unlock(&s->lock);

        while (cancelled) {
            rx_sched_req *q = cancelled;
            cancelled = q->next;
            rx_sched__req_cancelled(s, q);
        }
        for (int32_t i = 0; i < s->p.n_slots; i++) {
            rx_slot *sl = &s->slots[i];
            if (sl->starting) {
                sl->starting = false;
                rx_status st = rx_sched__slot_start(s, sl, sl->req, sl->n_past);
                if (st != RX_OK) {
                    rx_sched__slot_fail(s, sl, st, rx_last_error());
                    continue;
                }
            }
            if (sl->cancelling) {
                sl->cancelling = false;
                rx_sched__slot_finish(s, sl, RX_FINISH_CANCELLED);
            }
        }
        if (stopping) break;
        step(s);

        pthread_mutex_lock(&s->lock);
        rx_sched__publish_locked(s);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}
