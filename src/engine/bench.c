/* llama-bench's pp and tg tests over a context (see reflex/bench.h). */
#include "reflex/bench.h"

#include "core/clock.h"
#include "engine/context_internal.h"

static int32_t random_token(uint64_t *state, uint32_t n_vocab)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (int32_t)((*state >> 33) % n_vocab);
}

rx_status rx_bench_pp(rx_context *c, int32_t n_tokens, int32_t bos, uint64_t seed, uint64_t *ns)
{
    const uint32_t n_vocab = c->model->hp.n_vocab;
    int32_t tok[512], pos[512];
    const int32_t step = c->p.n_batch < 512 ? (int32_t)c->p.n_batch : 512;
    if (n_tokens <= 0 || (uint32_t)n_tokens > c->p.n_ctx)
        return rx_error(RX_ERR_RANGE, "bench: %d prompt tokens do not fit a context of %u",
                        n_tokens, c->p.n_ctx);
    rx_seq_clear(c, 0);
    const uint64_t t0 = rx_now_ns();
    for (int32_t done = 0; done < n_tokens; done += step) {
        int32_t m = n_tokens - done < step ? n_tokens - done : step;
        for (int32_t i = 0; i < m; i++) {
            tok[i] = done + i == 0 && bos >= 0 ? bos : random_token(&seed, n_vocab);
            pos[i] = done + i;
        }
        rx_batch b = {m, tok, pos, NULL, NULL};
        rx_status s = rx_decode(c, &b);
        if (s != RX_OK) return s;
    }
    *ns = rx_now_ns() - t0;
    return RX_OK;
}

rx_status rx_bench_tg(rx_context *c, int32_t n_tokens, int32_t bos, uint64_t seed, uint64_t *ns)
{
    const uint32_t n_vocab = c->model->hp.n_vocab;
    if (n_tokens <= 0 || (uint32_t)n_tokens > c->p.n_ctx)
        return rx_error(RX_ERR_RANGE, "bench: %d generated tokens do not fit a context of %u",
                        n_tokens, c->p.n_ctx);
    rx_seq_clear(c, 0);
    int32_t tok = bos >= 0 ? bos : random_token(&seed, n_vocab);
    const uint64_t t0 = rx_now_ns();
    for (int32_t i = 0; i < n_tokens; i++) {
        rx_batch b = {1, &tok, &i, NULL, NULL};
        rx_status s = rx_decode(c, &b);
        if (s != RX_OK) return s;
        tok = random_token(&seed, n_vocab);
    }
    *ns = rx_now_ns() - t0;
    return RX_OK;
}
