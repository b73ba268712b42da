/* Perplexity by llama.cpp's method (see reflex/eval.h): one batch per chunk, logits for the
 * second half, log-softmax in double, mean negative log-likelihood over every scored token. */
#include <math.h>
#include <stdlib.h>

#include "engine/context_internal.h"
#include "reflex/eval.h"

/* -log p(target) under the softmax of n logits, in double as llama.cpp accumulates it. */
static double nll(const float *logits, int32_t n, int32_t target)
{
    float max = logits[0];
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += exp((double)(logits[i] - max));
    return log(sum) - (double)(logits[target] - max);
}

rx_status rx_perplexity(rx_context *c, const int32_t *tokens, int64_t n_tokens, int32_t n_chunk,
                        int32_t bos, rx_ppl_progress_fn progress, void *user, double *ppl)
{
    const int32_t first = n_chunk / 2, n_vocab = (int32_t)c->model->hp.n_vocab;
    if (n_chunk < 4 || (uint32_t)n_chunk > c->p.n_ctx || (uint32_t)n_chunk > c->p.n_batch ||
        (uint32_t)(n_chunk - 1 - first) > c->p.n_outputs)
        return rx_error(RX_ERR_INVALID_ARG,
                        "perplexity: chunk of %d tokens needs a context of at least %d positions "
                        "in one batch",
                        n_chunk, n_chunk);
    if (n_tokens < 2 * (int64_t)n_chunk)
        return rx_error(RX_ERR_INVALID_ARG,
                        "perplexity: %lld tokens is too few for chunks of %d (need at least %d)",
                        (long long)n_tokens, n_chunk, 2 * n_chunk);
    const int64_t n_chunks = n_tokens / n_chunk;
    int32_t *tok = malloc((size_t)n_chunk * sizeof *tok), *pos = malloc((size_t)n_chunk * sizeof *pos);
    int8_t *want = malloc((size_t)n_chunk);
    if (!tok || !pos || !want) {
        free(tok);
        free(pos);
        free(want);
        return rx_error(RX_ERR_NOMEM, "perplexity: out of memory");
    }
    double total = 0.0;
    int64_t scored = 0;
    rx_status s = RX_OK;
    for (int64_t k = 0; k < n_chunks && s == RX_OK; k++) {
        const int32_t *chunk = tokens + k * n_chunk;
        for (int32_t i = 0; i < n_chunk; i++) {
            tok[i] = i == 0 ? bos : chunk[i];
            pos[i] = i;
            want[i] = i >= first && i < n_chunk - 1;
        }
        rx_seq_clear(c, 0);
        rx_batch b = {n_chunk, tok, pos, NULL, want};
        if ((s = rx_decode(c, &b)) != RX_OK) break;
        for (int32_t i = first; i < n_chunk - 1; i++, scored++)
            total += nll(rx_logits(c, i - first), n_vocab, chunk[i + 1]);
        *ppl = exp(total / (double)scored);
        if (progress && !progress(user, k, n_chunks, *ppl))
            s = rx_error(RX_ERR_CANCELLED, "perplexity: stopped after chunk %lld", (long long)k + 1);
    }
    free(tok);
    free(pos);
    free(want);
    return s;
}
