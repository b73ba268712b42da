/* Load generator for OpenAI-compatible streaming servers (reflex serve, llama-server, vLLM):
 * sends streamed completions closed-loop (N concurrent streams) or open-loop (Poisson or gamma
 * arrivals), times every content chunk on the client, and summarises TTFT, inter-token latency,
 * TPOT, end-to-end latency, throughput and goodput the way vLLM's `bench serve` does.
 *
 * Threading: everything runs on the calling thread (one libevent loop); nothing is shared.
 * The process should ignore SIGPIPE (the CLI does), or a server that closes a connection
 * while a request is being written kills it. */
#ifndef REFLEX_LOADGEN_H
#define REFLEX_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "reflex/status.h"

typedef enum { RX_LG_COMPLETIONS, RX_LG_CHAT } rx_lg_endpoint;

/* How a request ended. Every failure kind is counted separately in the report. */
typedef enum {
    RX_LG_OK,         /* 200, content streamed, [DONE] seen */
    RX_LG_CONNECT,    /* no connection, or it closed before any response */
    RX_LG_HTTP,       /* a status other than 200, or an "error" object inside the stream */
    RX_LG_TIMEOUT,    /* no byte for the read timeout */
    RX_LG_MALFORMED,  /* a chunk that is not JSON / not a completion, or no [DONE] at the end */
    RX_LG_DISCONNECT, /* the connection broke after the response began */
    RX_LG_KIND_COUNT
} rx_lg_kind;

/* "ok", "connect", "http", "timeout", "malformed", "disconnect". */
const char *rx_lg_kind_name(rx_lg_kind k);

/* One prompt to send; output_len is max_tokens for it. */
typedef struct {
    char *text; /* owned by the array that holds it */
    int32_t output_len;
} rx_lg_prompt;

/* Deterministic synthetic prompts: n prompts of about prompt_len tokens each, drawn from a
 * fixed list of common English words with a generator seeded by seed (prompt i depends only
 * on (seed, i), so runs repeat and no two prompts share a long prefix). Heuristic: each word
 * of the list, with its leading space, is one token in the large vocabularies served models
 * use (exact for GPT-2, Llama SentencePiece 32k and Phi-3), so prompt_len words make
 * prompt_len tokens there; tiny vocabularies split words (stories260K: ~2.9 tokens a word).
 * The server's usage figure is what the report shows. Free with rx_lg_prompts_free. */
rx_status rx_lg_prompts_synth(uint64_t seed, int64_t n, int32_t prompt_len, int32_t output_len,
                              rx_lg_prompt **out);
/* A JSON-lines file: one object per line with "prompt" (string) and optional "output_len"
 * (positive integer; default_output_len otherwise). Blank lines are skipped. Errors name the
 * file and line: RX_ERR_IO, RX_ERR_FORMAT, RX_ERR_NOMEM. */
rx_status rx_lg_prompts_load(const char *path, int32_t default_output_len, rx_lg_prompt **out,
                             int64_t *n);
void rx_lg_prompts_free(rx_lg_prompt *p, int64_t n); /* accepts NULL */

typedef struct {
    const char *url;     /* http[s]://host[:port][/prefix]; the endpoint path is appended */
    const char *model;   /* "model" field of each request */
    const char *label;   /* names the run in reports ("edge", "cloud"); NULL: none */
    const char *api_key; /* NULL: no Authorization header */
    const char *ca_file; /* https: PEM file of trusted CAs; NULL: the system's */
    bool insecure;       /* https: skip certificate and host name checks */
    rx_lg_endpoint endpoint;
    int concurrency;   /* > 0: closed loop with this many streams */
    double rate;       /* > 0 (concurrency 0): open loop, requests per second; INFINITY: all at 0 */
    double burstiness; /* gamma shape of inter-arrival times; 1 = Poisson */
    int64_t n_requests;          /* > 0: send exactly this many */
    double duration_s;           /* > 0 (n_requests 0): send until this much time has passed */
    uint64_t seed;               /* arrival times */
    const rx_lg_prompt *prompts; /* borrowed; request i uses prompts[i % n_prompts] */
    int64_t n_prompts;
    double timeout_s; /* read timeout per request (no byte for this long); 0: 300 s */
    /* Nonzero (e.g. SIGINT): when the process gets this signal the run stops sending, cancels
     * the requests in flight (they are left out of the records) and returns what finished. */
    int stop_signal;
    /* Called about every 200 ms and once at the end, on the loop thread. */
    void (*progress)(void *user, int64_t done, int64_t total, double elapsed_s);
    void *progress_user;
} rx_lg_config;

typedef struct {
    double start_s; /* send time, seconds after the run began */
    double ttft_s;  /* send to first non-empty content chunk; NAN if none */
    double e2e_s;   /* send to the end of the response */
    double tpot_s;  /* (e2e - ttft) / (completion_tokens - 1); NAN below 2 tokens */
    double *itl_s;  /* gaps between consecutive content chunks (n_itl); owned by the result */
    int32_t n_itl;
    int64_t prompt_tokens;     /* from the usage chunk; -1 if the server sent none */
    int64_t completion_tokens; /* from the usage chunk, else the number of content chunks */
    int64_t content_chunks;    /* chunks with non-empty text */
    int32_t output_len;        /* max_tokens asked */
    bool usage_seen;
    rx_lg_kind kind;
    int http_status; /* 0 if no response */
    char error[160]; /* what went wrong, for kind != RX_LG_OK */
} rx_lg_record;

typedef struct {
    rx_lg_record *records; /* in send order; owned */
    int64_t n_records;
    double duration_s; /* first send to last completion */
    bool interrupted;  /* stop_signal arrived */
} rx_lg_result;

/* One blocking TCP connect to the URL's host and port, so a dead server is reported at once
 * in one line ("cannot connect to 127.0.0.1:9: Connection refused"). RX_ERR_INVALID_ARG for a
 * URL we cannot use (message says why), RX_ERR_IO when the connection fails. */
rx_status rx_lg_probe(const char *url, double timeout_s);

/* Runs the load and returns every request's record. Fails only when the run cannot start
 * (bad URL or config: RX_ERR_INVALID_ARG; RX_ERR_NOMEM); failed requests are records. */
rx_status rx_lg_run(const rx_lg_config *cfg, rx_lg_result **out);
void rx_lg_result_free(rx_lg_result *r); /* accepts NULL */

/* --- summary --- */

/* Service-level objectives for goodput; 0 means "not set". A request meets them when it
 * succeeded and ttft <= ttft_s, tpot <= tpot_s, its worst inter-token gap <= itl_s (a stall
 * the reader sees), and e2e <= e2e_s. */
typedef struct {
    double ttft_s, tpot_s, itl_s, e2e_s;
} rx_lg_slo;

/* Parses "ttft=500ms,itl=50ms,e2e=2s" (units ms, s, us; keys ttft, tpot, itl, e2e). */
rx_status rx_lg_slo_parse(const char *s, rx_lg_slo *out);

typedef struct {
    int64_t n;
    double mean, stddev, p50, p90, p95, p99, max;
} rx_lg_dist;

typedef struct {
    double duration_s;
    int64_t attempted, ok, failed_by_kind[RX_LG_KIND_COUNT];
    double availability; /* ok / attempted */
    int64_t prompt_tokens, completion_tokens;
    double request_tput, output_tput, total_tput; /* per second over duration_s */
    rx_lg_dist ttft, tpot, itl, e2e;              /* seconds */
    double jitter_stddev_s, jitter_p99_p50_s;     /* spread of the inter-token gaps */
    bool slo_set;
    int64_t good;
    double goodput; /* requests per second meeting every SLO */
} rx_lg_summary;

void rx_lg_summarize(const rx_lg_result *r, const rx_lg_slo *slo, rx_lg_summary *out);

/* The human-readable report (like vLLM's summary). */
void rx_lg_report_text(FILE *f, const rx_lg_summary *s, const rx_lg_config *cfg);
/* {"summary": {...}, "config": {...}, "requests": [{...}, ...]}. RX_ERR_IO naming path. */
rx_status rx_lg_report_json(const char *path, const rx_lg_summary *s, const rx_lg_config *cfg,
                            const rx_lg_slo *slo, const rx_lg_result *r);

#endif
