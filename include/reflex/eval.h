/* Model evaluation over token sequences: perplexity as llama.cpp's `llama-perplexity` scores
 * it, so the two figures compare directly. */
#ifndef REFLEX_EVAL_H
#define REFLEX_EVAL_H

#include <stdint.h>

#include "reflex/model.h"

/* Called after each chunk with the running estimate; return false to stop early. */
typedef bool (*rx_ppl_progress_fn)(void *user, int64_t chunk, int64_t n_chunks, double ppl);

/* Cuts tokens into chunks of n_chunk tokens (the tail that does not fill a chunk is dropped),
 * replaces each chunk's first token with bos, and scores the second half of every chunk as
 * llama-perplexity does: the logits at positions [n_chunk/2, n_chunk - 1) predict the tokens
 * after them (n_chunk/2 - 1 tokens per chunk; ref/README.md's prose is off by one here, its
 * figures are llama.cpp's). *ppl = exp(mean negative log-likelihood). The context must hold
 * n_chunk positions in one batch (n_ctx, n_batch >= n_chunk; n_outputs >= n_chunk/2). Uses
 * sequence 0.
 * Errors: RX_ERR_INVALID_ARG when fewer than 2 * n_chunk tokens are given (llama.cpp's minimum)
 * or the context is too small; RX_ERR_CANCELLED when progress returns false. */
rx_status rx_perplexity(rx_context *c, const int32_t *tokens, int64_t n_tokens, int32_t n_chunk,
                        int32_t bos, rx_ppl_progress_fn progress, void *user, double *ppl);

#endif
