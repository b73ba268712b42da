/* Continuous batching over one model: up to n_slots sequences decode together in one batched
 * forward per step (one read of the weights serves every running request); prompts are
 * prefilled in chunks interleaved with decode steps so a long prompt does not stall running
 * streams; a bounded admission queue; a prefix cache that reuses the KV of a slot whose cached
 * tokens share a prefix with a new prompt, only within one tenant (so one tenant's timing can
 * never reveal another's prompts). Knows nothing of HTTP.
 *
 * Threading: the scheduler runs its own thread (plus the engine's thread pool). rx_sched_submit,
 * rx_sched_cancel and rx_sched_stats are thread-safe. Events are delivered by calling the
 * request's on_event on the scheduler thread; the callee must copy what it keeps and return
 * quickly. Every accepted request gets exactly one terminal event (RX_SCHED_DONE or
 * RX_SCHED_ERROR), also when cancelled, and no event after it. */
#ifndef REFLEX_SCHEDULER_H
#define REFLEX_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/model.h"
#include "reflex/sampler.h"
#include "reflex/status.h"
#include "reflex/tokenizer.h"

typedef struct rx_sched rx_sched;

typedef struct {
    const rx_model *model;         /* borrowed; outlives the scheduler */
    const rx_tokenizer *tok;       /* borrowed; outlives the scheduler */
    int32_t n_slots;               /* sequences decoded together; 0 = 1 */
    uint32_t n_ctx;                /* positions per slot; 0 = min(training context, 4096) */
    int32_t n_batch;               /* most tokens per forward step (decode + prefill); 0 = 512 */
    int32_t queue_cap;             /* requests waiting for a slot; 0 = 64; full -> RX_ERR_FULL */
    int n_threads;                 /* engine threads; 0 = 1 */
    rx_type kv_type;               /* RX_TYPE_F16 (the default params), F32 or Q8_0 */
    const char *kernels;           /* NULL automatic, "ref", "avx2" */
    bool prefix_cache;             /* reuse cached prefixes (default on in rx_sched_default_params) */
} rx_sched_params;

rx_sched_params rx_sched_default_params(void);

typedef enum {
    RX_SCHED_TOKEN = 1, /* one generated token and the text it completed */
    RX_SCHED_DONE,      /* terminal: finished (see finish), with usage and timings */
    RX_SCHED_ERROR,     /* terminal: failed (status, message) */
} rx_sched_event_kind;

typedef enum {
    RX_FINISH_STOP = 1, /* end-of-generation token or a stop string */
    RX_FINISH_LENGTH,   /* max_tokens reached, or the slot's context is full */
    RX_FINISH_CANCELLED /* rx_sched_cancel, or the scheduler is shutting down */
} rx_finish_reason;

typedef struct {
    rx_sched_event_kind kind;
    uint64_t id; /* the request's id from rx_sched_submit */
    /* TOKEN: the sampled token, its log-probabilities (when the request asked for them), and
     * the text released by this token: complete UTF-8 only, with text that might be the start
     * of a stop string held back until it is known not to be (so text may be empty, or may
     * carry text of earlier tokens). A stop string and anything after it are never sent. */
    int32_t token;
    const rx_sample_info *info; /* NULL unless the request set logprobs */
    const char *text;           /* valid during the callback; never NULL */
    size_t text_len;
    /* DONE also carries in text/text_len whatever was still held back when generation ended
     * (a possible stop-string start or an incomplete UTF-8 sequence, now known to be text);
     * usually empty. Append it like a TOKEN's text. */
    /* DONE */
    rx_finish_reason finish;
    int32_t n_prompt;      /* prompt tokens */
    int32_t n_cached;      /* of which reused from the prefix cache */
    int32_t n_generated;   /* tokens generated (the stop token excluded) */
    uint64_t queue_ns;     /* submit to slot assignment */
    uint64_t ttft_ns;      /* submit to first token */
    uint64_t total_ns;     /* submit to done */
    const float *embedding; /* embedding requests: n_embd floats, L2-normalized; else NULL */
    int32_t n_embd;
    /* ERROR */
    rx_status status;
    const char *message;
} rx_sched_event;

typedef void (*rx_sched_event_fn)(const rx_sched_event *ev, void *user);

typedef struct {
    const int32_t *prompt;         /* copied by submit */
    int32_t n_prompt;              /* >= 1 */
    rx_sampler_params sampling;
    int32_t max_tokens;            /* >= 1; generation also stops when the slot's context fills */
    const char *const *stop;       /* stop strings, copied; at most 16 */
    int32_t n_stop;
    const char *tenant;            /* prefix-cache partition (API key or user); NULL = "" */
    bool embedding;                /* compute the mean-pooled embedding instead of generating */
    bool ignore_eog;               /* keep going past end-of-generation tokens (benchmarks) */
    bool logprobs;                 /* report log-probabilities: TOKEN events carry info, with
                                      sampling.n_top_logprobs (0..RX_MAX_TOP_LOGPROBS)
                                      alternatives */
    rx_sched_event_fn on_event;
    void *user;
} rx_sched_request;

/* Creates the engine context (n_slots sequences of n_ctx positions) and starts the thread.
 * Errors from rx_context_create, RX_ERR_INVALID_ARG for bad params. */
rx_status rx_sched_create(const rx_sched_params *p, rx_sched **out);
/* Cancels everything (each gets its terminal event), stops and joins the thread, frees.
 * Accepts NULL. */
void rx_sched_free(rx_sched *s);

/* Queues a request. Fails at once (no event follows) with RX_ERR_FULL when the queue is full,
 * RX_ERR_RANGE when n_prompt + max_tokens exceeds the slot context (message has both
 * numbers), RX_ERR_INVALID_ARG for bad fields (message names the field). *id is set on
 * success. */
rx_status rx_sched_submit(rx_sched *s, const rx_sched_request *r, uint64_t *id);
/* Cancels a request: it stops at the next step, its slot is freed, and it gets its DONE event
 * with RX_FINISH_CANCELLED (unless it already ended). Unknown ids are ignored. */
void rx_sched_cancel(rx_sched *s, uint64_t id);

/* Stops taking new requests (submit then fails with RX_ERR_FULL, as a full queue does: both
 * mean "try elsewhere"); running and queued ones go on. */
void rx_sched_close(rx_sched *s);

typedef struct {
    int32_t n_slots, slots_busy;
    int32_t queue_depth, queue_cap;
    uint64_t kv_cells_used, kv_cells_total; /* positions held in the KV cache, all slots */
    uint64_t prefix_lookups, prefix_hits;   /* requests looked up; those that reused >= 1 token */
    uint64_t prefix_tokens_reused;
    uint64_t tokens_prompt, tokens_generated; /* totals since start */
    uint64_t steps;                           /* forward passes */
    uint32_t n_ctx;
} rx_sched_stats;

void rx_sched_get_stats(rx_sched *s, rx_sched_stats *out);

#endif
