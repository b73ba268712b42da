/* One slot's request from assignment to its terminal event: sampling each output row, turning
 * tokens into text (streaming detokenizer, then the stop-string filter), deciding when the
 * request ends, and pooling hidden states for embedding requests. Runs on the scheduler thread;
 * only the slot's state and running id change under the lock, because rx_sched_cancel and the
 * stats read them. Nothing here allocates per token: buffers belong to the slot (made at
 * create) or to the request (made at submit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "serve/sched_internal.h"

rx_status rx_sched__slot_init(rx_sched *s, rx_slot *sl, int32_t seq)
{
    memset(sl, 0, sizeof *sl);
    sl->seq = seq;
    sl->cache_tok = malloc((size_t)s->n_ctx * sizeof *sl->cache_tok);
    sl->embd_sum = malloc((size_t)s->n_embd * sizeof *sl->embd_sum);
    sl->embd_out = malloc((size_t)s->n_embd * sizeof *sl->embd_out);
    if (!sl->cache_tok || !sl->embd_sum || !sl->embd_out)
        return rx_error(RX_ERR_NOMEM, "scheduler: out of memory for slot %d", seq);
    /* generated text continues the prompt, so its first space is kept */
    return rx_detok_create(s->tok, RX_DETOK_KEEP_SPACE, &sl->detok);
}

void rx_sched__slot_fini(rx_slot *sl)
{
    rx_sched__req_free(sl->req);
    rx_detok_destroy(sl->detok);
    free(sl->cache_tok);
    free(sl->embd_sum);
    free(sl->embd_out);
    free(sl->tenant);
    memset(sl, 0, sizeof *sl);
}

static void emit(rx_sched_req *q, rx_sched_event *ev)
{
    ev->id = q->id;
    if (!ev->text) ev->text = "";
    q->on_event(ev, q->user);
}

rx_status rx_sched__slot_start(rx_sched *s, rx_slot *sl, rx_sched_req *q, int32_t n_reuse)
{
    if (!sl->tenant || strcmp(sl->tenant, q->tenant) != 0) {
        free(sl->tenant);
        sl->tenant = strdup(q->tenant);
        sl->n_cache = 0; /* nothing of another tenant's cache counts */
        if (!sl->tenant) return rx_error(RX_ERR_NOMEM, "scheduler: out of memory");
    }
    sl->req = q;
    /* the KV past n_reuse is overwritten from there: the first chunk rewinds the sequence */
    sl->n_cache = n_reuse;
    sl->n_past = sl->n_cached = n_reuse;
    sl->n_generated = 0;
    sl->n_embd_rows = 0;
    sl->stopped = false;
    sl->t_start = rx_now_ns();
    sl->t_first = 0;
    rx_detok_reset(sl->detok);
    rx_stop__init(&sl->stop, q);
    if (q->embedding) memset(sl->embd_sum, 0, (size_t)s->n_embd * sizeof *sl->embd_sum);
    /* the penalties look at the prompt too, as rx_generate and llama.cpp do */
    if (q->sampler)
        for (int32_t i = 0; i < q->n_prompt; i++)
            rx_sampler_accept(q->sampler, q->prompt[i]);
    return RX_OK;
}

/* Marks the slot free (under the lock: cancel and stats read it) before the terminal event, so
 * a caller woken by that event already sees the slot free. */
static rx_sched_req *release(rx_sched *s, rx_slot *sl)
{
    rx_sched_req *q = sl->req;
    pthread_mutex_lock(&s->lock);
    sl->state = SLOT_FREE;
    sl->running_id = 0;
    sl->cancel = false;
    s->stats.slots_busy--;
    rx_sched__publish_locked(s); /* the terminal event finds the totals up to date */
    pthread_mutex_unlock(&s->lock);
    sl->req = NULL;
    return q;
}

void rx_sched__slot_finish(rx_sched *s, rx_slot *sl, rx_finish_reason finish)
{
    rx_sched_req *q = sl->req;
    const uint64_t now = rx_now_ns();
    rx_sched_event ev = {.kind = RX_SCHED_DONE, .finish = finish};
    if (!q->embedding && !sl->stopped) { /* text still held back is text after all */
        const char *t;
        size_t n;
        if (rx_detok_flush(sl->detok, &t, &n) == RX_OK) rx_stop__add(&sl->stop, t, n);
        rx_stop__take(&sl->stop, true, &ev.text, &ev.text_len);
    }
    ev.n_prompt = q->n_prompt;
    ev.n_cached = sl->n_cached;
    ev.n_generated = sl->n_generated;
    ev.queue_ns = sl->t_start - q->t_submit;
    ev.ttft_ns = sl->t_first ? sl->t_first - q->t_submit : 0;
    ev.total_ns = now - q->t_submit;
    if (q->embedding && finish != RX_FINISH_CANCELLED) {
        ev.embedding = sl->embd_out;
        ev.n_embd = s->n_embd;
        ev.ttft_ns = ev.total_ns;
    }
    q = release(s, sl);
    emit(q, &ev);
    rx_sched__req_free(q);
}

void rx_sched__slot_fail(rx_sched *s, rx_slot *sl, rx_status status, const char *message)
{
    /* the KV may be half written: forget it rather than offer it to the prefix cache */
    sl->n_cache = 0;
    rx_seq_clear(s->ctx, sl->seq);
    rx_sched_req *q = release(s, sl);
    rx_sched_event ev = {.kind = RX_SCHED_ERROR, .status = status, .message = message};
    emit(q, &ev);
    rx_sched__req_free(q);
}

void rx_sched__req_cancelled(rx_sched *s, rx_sched_req *q)
{
    (void)s;
    const uint64_t total = rx_now_ns() - q->t_submit;
    rx_sched_event ev = {.kind = RX_SCHED_DONE, .finish = RX_FINISH_CANCELLED};
    ev.n_prompt = q->n_prompt;
    ev.queue_ns = ev.total_ns = total;
    emit(q, &ev);
    rx_sched__req_free(q);
}

/* Mean over the prompt's hidden states, then unit length: what /v1/embeddings returns. */
static void embedding_output(rx_sched *s, rx_slot *sl, int32_t row)
{
    const float *h = rx_embedding(s->ctx, row);
    const int32_t d = s->n_embd;
    for (int32_t i = 0; i < d; i++)
        sl->embd_sum[i] += h[i];
    if (++sl->n_embd_rows < sl->req->n_prompt) return;
    double norm = 0.0;
    for (int32_t i = 0; i < d; i++) {
        const double m = sl->embd_sum[i] / sl->req->n_prompt;
        sl->embd_sum[i] = m;
        norm += m * m;
    }
    norm = sqrt(norm);
    for (int32_t i = 0; i < d; i++)
        sl->embd_out[i] = norm > 0.0 ? (float)(sl->embd_sum[i] / norm) : 0.0f;
    rx_sched__slot_finish(s, sl, RX_FINISH_STOP);
}

void rx_sched__slot_output(rx_sched *s, rx_slot *sl, int32_t row)
{
    rx_sched_req *q = sl->req;
    if (q->embedding) {
        embedding_output(s, sl, row);
        return;
    }
    rx_sample_info info;
    const int32_t id =
        rx_sampler_sample(q->sampler, rx_logits(s->ctx, row), q->logprobs ? &info : NULL);
    if (!sl->t_first) sl->t_first = rx_now_ns();
    if (!q->ignore_eog && rx_token_is_eog(s->tok, id)) {
        rx_sched__slot_finish(s, sl, RX_FINISH_STOP);
        return;
    }
    sl->n_generated++;
    s->n_generated++;
    /* the last token when max_tokens is reached or no position is left to decode it into */
    const bool last = sl->n_generated >= q->max_tokens || sl->n_cache >= (int32_t)s->n_ctx;
    const char *t;
    size_t n;
    /* a sampled id beyond the tokenizer's vocabulary (padded output rows) has no text */
    if (rx_detok_push(sl->detok, id, &t, &n) == RX_OK) rx_stop__add(&sl->stop, t, n);
    if (last && rx_detok_flush(sl->detok, &t, &n) == RX_OK) rx_stop__add(&sl->stop, t, n);
    rx_sched_event ev = {.kind = RX_SCHED_TOKEN, .token = id, .info = q->logprobs ? &info : NULL};
    sl->stopped = rx_stop__take(&sl->stop, last, &ev.text, &ev.text_len);
    emit(q, &ev);
    if (sl->stopped)
        rx_sched__slot_finish(s, sl, RX_FINISH_STOP);
    else if (last)
        rx_sched__slot_finish(s, sl, RX_FINISH_LENGTH);
    else {
        sl->next_token = id;
        sl->state = SLOT_DECODE; /* only the scheduler thread tells PREFILL from DECODE */
    }
}
