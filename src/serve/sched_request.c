/* Admission checks and the copy of a request: every field is checked at submit, so a request
 * that gets into the queue can run to the end, and everything it points to is copied into one
 * allocation (prompt, stop strings, tenant, the text buffer of its stop filter) that dies with
 * it. The sampler is made here too, so its parameter checks answer the submit call. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/clock.h"
#include "serve/sched_internal.h"

static rx_status check(const rx_sched *s, const rx_sched_request *r)
{
    if (!r) return rx_error(RX_ERR_INVALID_ARG, "scheduler: request is NULL");
    if (!r->on_event) return rx_error(RX_ERR_INVALID_ARG, "scheduler: on_event is NULL");
    if (r->n_prompt < 1 || !r->prompt)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: n_prompt %d: a prompt needs >= 1 token",
                        r->n_prompt);
    for (int32_t i = 0; i < r->n_prompt; i++)
        if (r->prompt[i] < 0 || r->prompt[i] >= s->n_vocab)
            return rx_error(RX_ERR_INVALID_ARG, "scheduler: prompt[%d] = %d is not in [0, %d)", i,
                            r->prompt[i], s->n_vocab);
    if (!r->embedding && r->max_tokens < 1)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: max_tokens %d must be >= 1", r->max_tokens);
    if (r->n_stop < 0 || r->n_stop > RX_SCHED_MAX_STOP)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: n_stop %d is not in [0, %d]", r->n_stop,
                        RX_SCHED_MAX_STOP);
    if (r->n_stop > 0 && !r->stop)
        return rx_error(RX_ERR_INVALID_ARG, "scheduler: stop is NULL with n_stop %d", r->n_stop);
    for (int32_t i = 0; i < r->n_stop; i++)
        if (!r->stop[i] || !r->stop[i][0])
            return rx_error(RX_ERR_INVALID_ARG, "scheduler: stop[%d] is empty", i);
    if (r->logprobs &&
        (r->sampling.n_top_logprobs < 0 || r->sampling.n_top_logprobs > RX_MAX_TOP_LOGPROBS))
        return rx_error(RX_ERR_INVALID_ARG,
                        "scheduler: sampling.n_top_logprobs %d is not in [0, %d]",
                        r->sampling.n_top_logprobs, RX_MAX_TOP_LOGPROBS);
    /* 64-bit sum: max_tokens near INT32_MAX must not wrap into a small number */
    const int64_t need = (int64_t)r->n_prompt + (r->embedding ? 0 : r->max_tokens);
    if (need > (int64_t)s->n_ctx) {
        if (r->embedding)
            return rx_error(RX_ERR_RANGE,
                            "scheduler: prompt of %d tokens exceeds the context of %u tokens",
                            r->n_prompt, s->n_ctx);
        return rx_error(RX_ERR_RANGE,
                        "scheduler: prompt of %d tokens + max_tokens %d = %lld exceeds the "
                        "context of %u tokens",
                        r->n_prompt, r->max_tokens, (long long)need, s->n_ctx);
    }
    return RX_OK;
}

rx_status rx_sched__req_build(const rx_sched *s, const rx_sched_request *r, rx_sched_req **out)
{
    *out = NULL;
    rx_status st = check(s, r);
    if (st != RX_OK) return st;
    const char *tenant = r->tenant ? r->tenant : "";
    size_t tenant_len = strlen(tenant), stop_bytes = 0, max_stop = 0;
    size_t stop_len[RX_SCHED_MAX_STOP];
    for (int32_t i = 0; i < r->n_stop; i++) {
        stop_len[i] = strlen(r->stop[i]);
        if (stop_len[i] > max_stop) max_stop = stop_len[i];
        stop_bytes += stop_len[i] + 1;
    }
    /* the stop filter holds less than the longest stop string plus one UTF-8 character, then
     * takes a detokenizer push and a flush (text_cap_base covers both) */
    size_t text_cap = max_stop + 4 + s->text_cap_base;
    size_t prompt_off = (sizeof(rx_sched_req) + 7) & ~(size_t)7, total;
    bool ok = rx_mul_size((size_t)r->n_prompt, sizeof(int32_t), &total) &&
              rx_add_size(total, prompt_off, &total) && rx_add_size(total, stop_bytes, &total) &&
              rx_add_size(total, tenant_len + 1, &total) && rx_add_size(total, text_cap, &total);
    char *mem = ok ? calloc(1, total) : NULL;
    if (!mem) return rx_error(RX_ERR_NOMEM, "scheduler: out of memory for a request");

    rx_sched_req *q = (rx_sched_req *)mem;
    char *p = mem + prompt_off;
    q->prompt = (int32_t *)p;
    memcpy(q->prompt, r->prompt, (size_t)r->n_prompt * sizeof(int32_t));
    p += (size_t)r->n_prompt * sizeof(int32_t);
    for (int32_t i = 0; i < r->n_stop; i++) {
        memcpy(p, r->stop[i], stop_len[i] + 1);
        q->stop[i] = p;
        q->stop_len[i] = stop_len[i];
        p += stop_len[i] + 1;
    }
    memcpy(p, tenant, tenant_len + 1);
    q->tenant = p;
    p += tenant_len + 1;
    q->text_buf = p;
    q->text_cap = text_cap;

    q->n_prompt = r->n_prompt;
    q->max_tokens = r->embedding ? 0 : r->max_tokens;
    q->n_stop = r->n_stop;
    q->embedding = r->embedding;
    q->ignore_eog = r->ignore_eog;
    q->logprobs = r->logprobs && !r->embedding;
    q->on_event = r->on_event;
    q->user = r->user;
    q->t_submit = rx_now_ns();
    if (!r->embedding) {
        rx_sampler_params sp = r->sampling;
        if (!q->logprobs) sp.n_top_logprobs = 0; /* unused: any value is fine */
        st = rx_sampler_create(&sp, s->n_vocab, &q->sampler);
        if (st != RX_OK) {
            free(mem);
            return rx_error_context(st, "scheduler: sampling: ");
        }
    }
    *out = q;
    return RX_OK;
}

void rx_sched__req_free(rx_sched_req *q)
{
    if (!q) return;
    rx_sampler_free(q->sampler);
    free(q);
}
