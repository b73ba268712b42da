/* The scheduler's private layout, shared by scheduler.c (thread, queue, step), sched_request.c
 * (checking and copying a request at submit), slot.c (one sequence's life: sampling, text,
 * finishing), stop_strings.c (holding back text that may start a stop string) and
 * prefix_cache.c (which free slot a new request takes). */
#ifndef RX_SERVE_SCHED_INTERNAL_H
#define RX_SERVE_SCHED_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "reflex/scheduler.h"

#define RX_SCHED_MAX_STOP 16

/* Output rows a step may spend on embedding prompts beyond one per slot: every token of an
 * embedding prompt needs its hidden state, and each output row costs n_vocab floats of logits
 * in the context, so embedding prompts go through in chunks of at most this many tokens. */
#define RX_SCHED_EMBD_ROWS 64

/* Stop-string matching over the text stream of one request: text that could still be the
 * start of a stop string is held back until the next text shows whether it is. */
typedef struct {
    const char *const *stop; /* borrowed from the request */
    const size_t *stop_len;
    int32_t n_stop;
    char *buf;    /* borrowed from the request: held text, then the newly added text */
    size_t cap;   /* bytes of buf */
    size_t n_buf; /* bytes of buf in use */
    size_t n_out; /* of which the last take released (dropped at the next add) */
} rx_stop_filter;

/* A request from submit to its terminal event. One allocation holds the struct and everything
 * it points to (prompt, stop strings, tenant, text buffer), so it is freed in one call. */
typedef struct rx_sched_req {
    uint64_t id;
    int32_t *prompt; /* in the allocation */
    int32_t n_prompt;
    int32_t max_tokens; /* 0 for embedding requests */
    const char *stop[RX_SCHED_MAX_STOP];
    size_t stop_len[RX_SCHED_MAX_STOP];
    int32_t n_stop;
    const char *tenant; /* in the allocation, never NULL */
    bool embedding, ignore_eog, logprobs;
    rx_sampler *sampler; /* owned; NULL for embedding requests */
    char *text_buf;      /* in the allocation: the stop filter's buffer */
    size_t text_cap;
    rx_sched_event_fn on_event;
    void *user;
    uint64_t t_submit;
    struct rx_sched_req *next; /* queue link (guarded by the scheduler's lock) */
} rx_sched_req;

typedef enum { SLOT_FREE = 0, SLOT_PREFILL, SLOT_DECODE } rx_slot_state;

/* One sequence of the context. Fields marked (locked) are read by other threads under the
 * scheduler's lock; the rest belong to the scheduler thread. */
typedef struct {
    int32_t seq;         /* sequence id in the context = index */
    rx_slot_state state; /* FREE <-> busy changes under the lock */
    uint64_t running_id; /* (locked) id of the request in the slot, 0 when free */
    bool cancel;         /* (locked) rx_sched_cancel asked to stop it */
    rx_sched_req *req;   /* owned while running */

    /* prefix cache: the tokens whose KV the slot holds, and whose they are */
    int32_t *cache_tok; /* owned, [n_ctx] */
    int32_t n_cache;    /* positions held (the sequence's length in the context) */
    char *tenant;       /* owned copy of the tenant that filled the cache; NULL: none */
    uint64_t last_used; /* step count at the last assignment, for least-recently-used choice */

    /* the running request */
    int32_t n_past;   /* prompt tokens in the KV cache (prefill progress) */
    int32_t n_cached; /* of which came from the prefix cache */
    int32_t n_generated;
    int32_t next_token;  /* SLOT_DECODE: sampled, to be decoded this step */
    int32_t n_embd_rows; /* embedding requests: hidden states summed so far */
    bool stopped;        /* a stop string ended the text: nothing more is released */
    bool starting;       /* assigned under the lock, rx_sched__slot_start still to run */
    bool cancelling;     /* the cancel flag, as seen at the start of the step */
    uint64_t seen_step;  /* the step whose batch building last considered the slot */
    uint64_t in_step;    /* the step whose batch holds the slot's tokens */
    uint64_t t_start, t_first;
    rx_detok *detok; /* owned; reset per request */
    rx_stop_filter stop;
    double *embd_sum; /* owned, [n_embd]: embedding requests' running sum */
    float *embd_out;  /* owned, [n_embd] */
} rx_slot;

struct rx_sched {
    rx_sched_params p;       /* defaults filled in */
    const rx_model *model;   /* borrowed */
    const rx_tokenizer *tok; /* borrowed */
    rx_context *ctx;         /* owned; used by the scheduler thread only */
    int32_t n_vocab, n_embd;
    uint32_t n_ctx;
    int32_t n_outputs;    /* output rows per step the context holds */
    size_t text_cap_base; /* text buffer bytes a request needs besides its stop strings */

    rx_slot *slots; /* owned, [n_slots] */

    /* the step's batch, sized n_batch; owned */
    int32_t *b_tok, *b_pos, *b_seq;
    int8_t *b_logits;
    int32_t *out_slot; /* [n_outputs]: the slot of each output row */

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* guarded by lock */
    rx_sched_req *q_head, *q_tail; /* waiting for a slot, oldest first */
    int32_t q_len;
    rx_sched_req *cancelled; /* taken off the queue by rx_sched_cancel, not yet answered */
    bool closed, stopping;
    uint64_t next_id;
    rx_sched_stats stats;
    /* counted by the scheduler thread, published into stats once per step */
    uint64_t n_steps, n_decodes, n_prompt_decoded, n_generated;
};

/* scheduler.c: copies the thread's counters into stats; the lock is held. */
void rx_sched__publish_locked(rx_sched *s);

/* sched_request.c: checks r against the scheduler's limits and copies it into one allocation.
 * Errors as rx_sched_submit documents, except FULL. */
rx_status rx_sched__req_build(const rx_sched *s, const rx_sched_request *r, rx_sched_req **out);
void rx_sched__req_free(rx_sched_req *q); /* accepts NULL */

/* stop_strings.c */
void rx_stop__init(rx_stop_filter *f, rx_sched_req *q);
/* Appends complete UTF-8 text (at most one detokenizer push and one flush between takes). */
void rx_stop__add(rx_stop_filter *f, const char *text, size_t len);
/* Releases what can no longer be part of a stop string: *out and *out_len point into the filter's
 * buffer (valid until the next add). Returns true when a stop string was found; the release
 * then ends right before it and the rest is dropped. final: no more text follows, so nothing
 * is held back. */
bool rx_stop__take(rx_stop_filter *f, bool final, const char **out, size_t *out_len);

/* prefix_cache.c: the free slot a request should take, and how many of its prompt tokens that
 * slot's cache already holds (at most n_prompt - 1, so the last one is decoded for logits). */
rx_slot *rx_sched__pick_slot(rx_sched *s, const rx_sched_req *q, int32_t *n_reuse);

/* slot.c */
rx_status rx_sched__slot_init(rx_sched *s, rx_slot *sl, int32_t seq);
void rx_sched__slot_fini(rx_slot *sl);
/* Sets the slot up for q (slot->req = q), reusing n_reuse cached tokens. */
rx_status rx_sched__slot_start(rx_sched *s, rx_slot *sl, rx_sched_req *q, int32_t n_reuse);
/* Consumes output row `row` of the last decode for the slot (a sampled token or, for an
 * embedding request, a hidden state); may end the request. */
void rx_sched__slot_output(rx_sched *s, rx_slot *sl, int32_t row);
/* Ends the running request with DONE (finish) and frees the slot; text still held back goes
 * out with the DONE event. */
void rx_sched__slot_finish(rx_sched *s, rx_slot *sl, rx_finish_reason finish);
/* Ends the running request with ERROR and forgets the slot's cache. */
void rx_sched__slot_fail(rx_sched *s, rx_slot *sl, rx_status status, const char *message);
/* DONE with RX_FINISH_CANCELLED for a request that never got a slot; frees q. */
void rx_sched__req_cancelled(rx_sched *s, rx_sched_req *q);

#endif
