/* Engine throughput tests, measured the way llama-bench measures them so the two tables read
 * side by side: pp = prompt processing of n tokens from an empty cache (BOS then random
 * tokens, in n_batch chunks); tg = n single-token decodes of random tokens from an empty cache.
 * No sampling either way. */
#ifndef REFLEX_BENCH_H
#define REFLEX_BENCH_H

#include <stdint.h>

#include "reflex/model.h"

/* Runs one pp test of n_tokens (n_tokens <= the context) and returns its wall time. */
rx_status rx_bench_pp(rx_context *c, int32_t n_tokens, int32_t bos, uint64_t seed, uint64_t *ns);

/* Runs one tg test of n_tokens decodes and returns its wall time. */
rx_status rx_bench_tg(rx_context *c, int32_t n_tokens, int32_t bos, uint64_t seed, uint64_t *ns);

#endif
