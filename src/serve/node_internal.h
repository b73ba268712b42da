/* The node's private state, shared by node.c (lifecycle), routes.c (dispatch, operations
 * endpoints), gen.c (completions and embeddings through the scheduler) and reply.c. Everything
 * here is touched on the event-loop thread only, except what the comments say. */
#ifndef RX_SERVE_NODE_INTERNAL_H
#define RX_SERVE_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "reflex/api.h"
#include "reflex/http.h"
#include "reflex/model.h"
#include "reflex/node.h"
#include "reflex/scheduler.h"
#include "reflex/tokenizer.h"
#include "net/auth.h"
#include "serve/metrics.h"

#define RX_NODE_DIGESTS 64

typedef struct gen_job gen_job;

typedef struct rx_node {
    rx_node_config cfg;      /* copied; strings borrowed from the caller */
    rx_model *model;         /* owned */
    rx_tokenizer *tok;       /* owned */
    rx_sched *sched;         /* owned */
    rx_http_server *http;    /* owned */
    rx_auth auth;            /* owned */
    rx_node_metrics metrics; /* recorded from both threads (atomics) */
    rx_chat_family chat;
    char model_id[128];
    char model_version[64];
    char sha256[65];
    char node_name[160];
    int32_t n_ctx;
    int64_t started; /* unix seconds */
    bool ready, draining;
    uint64_t drain_deadline_ns;
    gen_job *jobs; /* running generation jobs (a list, for drain and cancel) */
    int n_jobs;
    /* prefix digests of recent prompts (FNV-1a of the leading text), newest last */
    uint64_t digests[RX_NODE_DIGESTS];
    int n_digests;
} rx_node;

/* routes.c */
void rx_node__handle(rx_http_req *req, void *user);

/* gen.c: POST /v1/chat/completions, /v1/completions, /v1/embeddings */
void rx_node__generate(rx_node *n, rx_http_req *req, rx_api_kind kind, const char *tenant,
                       const char *trace);
void rx_node__cancel_all(rx_node *n);

/* reply.c: common response headers, errors as OpenAI JSON, the request log line */
void rx_node__headers(rx_node *n, rx_http_req *req, const char *trace);
void rx_node__error(rx_node *n, rx_http_req *req, const rx_api_error *err);
/* An rx_status with the thread's last message as a client error (503 + Retry-After for a full
 * queue, 400 for range/argument errors, 500 otherwise). */
void rx_node__status_error(rx_api_error *err, rx_status s, const char *message);
void rx_node__log(rx_node *n, const char *id, const char *tenant, const char *method,
                  const char *path, int status, int32_t n_prompt, int32_t n_out, double ttft_ms,
                  double total_ms, const char *trace);
void rx_node__remember_digest(rx_node *n, uint64_t d);

#endif
