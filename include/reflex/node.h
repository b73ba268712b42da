/* The edge node: one model behind the OpenAI-compatible HTTP API, with continuous batching,
 * streaming, prefix caching, metrics, a status document for routers, API keys and graceful
 * drain. `reflex serve` is a thin flag parser over rx_node_run. */
#ifndef REFLEX_NODE_H
#define REFLEX_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "reflex/http.h"
#include "reflex/scheduler.h"
#include "reflex/status.h"

typedef struct {
    rx_http_config http;         /* listen address, limits, timeouts, TLS */
    const char *model_path;      /* GGUF file (required) */
    const char *model_id;        /* the id clients use; NULL: the file name without .gguf */
    const char *model_version;   /* NULL: the first 12 hex digits of the file's SHA-256 */
    rx_sched_params sched;       /* slots, context, batch, queue, threads, KV type, kernels,
                                    prefix cache (model and tok are filled in by the node) */
    const char *node_name;       /* NULL: "reflex@HOST:PORT" */
    const char *tier;            /* access | regional | central; NULL: access */
    const char *region, *site;   /* NULL: "" */
    const char *domains;         /* comma-separated data domains; NULL: "public" */
    const char *const *api_keys; /* Bearer keys; none and no key file: no authentication */
    size_t n_api_keys;
    const char *api_key_file; /* one key per line; re-read on SIGHUP */
    const char *cors_origin;  /* NULL: no CORS headers */
    int drain_timeout_ms;     /* SIGTERM: finish running requests within this; 0: 30 s */
    bool quiet;               /* no per-request JSON log lines on stderr */
    /* Called once the node listens, with the bound port (tests, `reflex up`). */
    void (*on_listening)(int port, void *user);
    void *on_listening_user;
} rx_node_config;

/* Loads the model, warms it up, listens and serves until SIGTERM or SIGINT, then drains:
 * stops accepting, lets running requests finish within drain_timeout_ms, cancels the rest and
 * returns RX_OK. Fails (with a message naming the file or address) when the model, keys or
 * listening socket cannot be set up. */
rx_status rx_node_run(const rx_node_config *cfg);

#endif
