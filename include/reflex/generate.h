/* One-sequence generation: prefill a prompt in batches, then sample and decode one token at a
 * time until a length, end-of-generation token, full context or the caller stops it. The
 * building block of `reflex run` and `reflex bench`; the server schedules many sequences
 * itself with rx_decode. */
#ifndef REFLEX_GENERATE_H
#define REFLEX_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "reflex/model.h"
#include "reflex/sampler.h"
#include "reflex/tokenizer.h"

typedef enum {
    RX_STOP_LENGTH,  /* n_predict tokens were generated */
    RX_STOP_EOG,     /* the model ended the sequence */
    RX_STOP_CONTEXT, /* the context is full */
    RX_STOP_CALLER,  /* the callback returned false */
} rx_stop_reason;

typedef struct {
    int32_t n_prompt, n_generated;
    uint64_t prompt_ns;  /* prefill time */
    uint64_t ttft_ns;    /* start to first sampled token */
    uint64_t decode_ns;  /* time spent decoding generated tokens */
    rx_stop_reason stop;
} rx_generate_stats;

/* Called for each generated token (the end-of-generation token is not reported); return false
 * to stop. info is NULL unless the sampler reports logprobs. */
typedef bool (*rx_token_fn)(void *user, int32_t token, const rx_sample_info *info);

typedef struct {
    int32_t n_predict;  /* most tokens to generate; < 0 means until EOG or full context */
    bool ignore_eog;    /* keep going past end-of-generation tokens */
    int32_t seq;        /* which sequence of the context to use */
} rx_generate_params;

/* Generates after prompt on sequence p->seq (cleared first). tok may be NULL when ignore_eog is
 * set. Errors: RX_ERR_RANGE when the prompt does not fit the context (nothing is decoded),
 * and whatever rx_decode reports. */
rx_status rx_generate(rx_context *c, rx_sampler *s, const rx_tokenizer *tok,
                      const int32_t *prompt, int32_t n_prompt, const rx_generate_params *p,
                      rx_token_fn on_token, void *user, rx_generate_stats *stats);

#endif
