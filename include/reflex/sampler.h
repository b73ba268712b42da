/* Token sampling from logits: repetition/frequency/presence penalties, then top-k, top-p,
 * min-p and temperature in llama.cpp's order, then a draw from a seeded generator (the same
 * seed and inputs give the same tokens). Temperature <= 0 means greedy. Log-probabilities of
 * the chosen token and the top-N alternatives come from the model's own distribution (the
 * log-softmax of the raw logits), which is what OpenAI's `logprobs` reports.
 * A sampler allocates once at creation; sampling never allocates. Not thread-safe. */
#ifndef REFLEX_SAMPLER_H
#define REFLEX_SAMPLER_H

#include <stdint.h>

#include "reflex/status.h"

#define RX_MAX_TOP_LOGPROBS 20

typedef struct {
    float temperature;       /* <= 0: greedy */
    int32_t top_k;           /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    float frequency_penalty; /* 0: off */
    float presence_penalty;  /* 0: off */
    int32_t penalty_last_n;  /* tokens of history the penalties look at */
    uint64_t seed;
    int32_t n_top_logprobs;  /* alternatives to report, 0..RX_MAX_TOP_LOGPROBS */
} rx_sampler_params;

/* llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalties,
 * penalty window 64, seed 0. */
rx_sampler_params rx_sampler_default_params(void);

typedef struct {
    int32_t id;
    float logprob;
} rx_token_logprob;

typedef struct {
    int32_t id;       /* the chosen token */
    float logprob;    /* its log-probability under the model */
    int32_t n_top;
    rx_token_logprob top[RX_MAX_TOP_LOGPROBS]; /* most likely first */
} rx_sample_info;

typedef struct rx_sampler rx_sampler;

/* Fails with RX_ERR_INVALID_ARG naming the parameter when one is out of range. */
rx_status rx_sampler_create(const rx_sampler_params *p, int32_t n_vocab, rx_sampler **out);
void rx_sampler_free(rx_sampler *s); /* accepts NULL */

/* Forgets the penalty history and restarts the generator from the seed. */
void rx_sampler_reset(rx_sampler *s);

/* Adds a token to the penalty history (prompt tokens too, as llama.cpp does). */
void rx_sampler_accept(rx_sampler *s, int32_t token);

/* Picks the next token from n_vocab logits and accepts it; fills info when non-NULL. */
int32_t rx_sampler_sample(rx_sampler *s, const float *logits, rx_sample_info *info);

/* Log-probabilities of a given token and of the top-n (teacher forcing, scoring). */
void rx_logprobs(const float *logits, int32_t n_vocab, int32_t token, int32_t n_top,
                 rx_sample_info *info);

#endif
