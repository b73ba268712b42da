/* rx_generate: prefill in n_batch chunks, then the sample → decode loop for one sequence. */
#include "reflex/generate.h"

#include <string.h>

#include "core/clock.h"
#include "engine/context_internal.h"

static rx_status prefill(rx_context *c, const int32_t *prompt, int32_t n, int32_t seq)
{
    int32_t pos[512], seqs[512];
    const int32_t step = c->p.n_batch < 512 ? (int32_t)c->p.n_batch : 512;
    for (int32_t i = 0; i < step; i++) seqs[i] = seq;
    for (int32_t done = 0; done < n; done += step) {
        int32_t m = n - done < step ? n - done : step;
        for (int32_t i = 0; i < m; i++) pos[i] = done + i;
        rx_batch b = {m, prompt + done, pos, seqs, NULL};
        rx_status s = rx_decode(c, &b);
        if (s != RX_OK) return s;
    }
    return RX_OK;
}

rx_status rx_generate(rx_context *c, rx_sampler *s, const rx_tokenizer *tok,
                      const int32_t *prompt, int32_t n_prompt, const rx_generate_params *p,
                      rx_token_fn on_token, void *user, rx_generate_stats *st)
{
    memset(st, 0, sizeof *st);
    st->n_prompt = n_prompt;
    const int32_t n_ctx = (int32_t)c->p.n_ctx;
    if (n_prompt <= 0 || n_prompt >= n_ctx)
        return rx_error(RX_ERR_RANGE, "prompt of %d tokens does not fit a context of %d", n_prompt,
                        n_ctx);
    rx_seq_clear(c, p->seq);
    const uint64_t t0 = rx_now_ns();
    rx_status status = prefill(c, prompt, n_prompt, p->seq);
    st->prompt_ns = rx_now_ns() - t0;
    for (int32_t i = 0; i < n_prompt && status == RX_OK; i++) rx_sampler_accept(s, prompt[i]);

    rx_sample_info info;
    int32_t pos = n_prompt;
    st->stop = RX_STOP_LENGTH;
    while (status == RX_OK && (p->n_predict < 0 || st->n_generated < p->n_predict)) {
        int32_t id = rx_sampler_sample(s, rx_logits(c, 0), &info);
        if (st->n_generated == 0) st->ttft_ns = rx_now_ns() - t0;
        if (!p->ignore_eog && tok && rx_token_is_eog(tok, id)) {
            st->stop = RX_STOP_EOG;
            break;
        }
        st->n_generated++;
        if (on_token && !on_token(user, id, &info)) {
            st->stop = RX_STOP_CALLER;
            break;
        }
        if (pos >= n_ctx) {
            st->stop = RX_STOP_CONTEXT;
            break;
        }
        if (p->n_predict >= 0 && st->n_generated >= p->n_predict) break;
        const uint64_t td = rx_now_ns();
        rx_batch b = {1, &id, &pos, &p->seq, NULL};
        status = rx_decode(c, &b);
        st->decode_ns += rx_now_ns() - td;
        pos++;
    }
    return status;
}
