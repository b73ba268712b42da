/* The node's lifecycle: load and hash the model, warm it up, listen, serve, and on SIGTERM
 * drain (stop accepting, let running requests finish within the drain timeout, cancel the rest,
 * exit cleanly); SIGHUP re-reads the API keys. */
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "serve/node_internal.h"

#define RX_DRAIN_POLL_MS 50

static rx_status hash_file(const char *path, char out[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return rx_error(RX_ERR_IO, "cannot read '%s'", path);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    rx_status s = md && buf && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                      ? RX_OK
                      : rx_error(RX_ERR_NOMEM, "no memory to hash '%s'", path);
    size_t n;
    while (s == RX_OK && (n = fread(buf, 1, 1 << 20, f)) > 0)
        if (EVP_DigestUpdate(md, buf, n) != 1) s = rx_error(RX_ERR_IO, "hashing '%s' failed", path);
    if (s == RX_OK && ferror(f)) s = rx_error(RX_ERR_IO, "error reading '%s'", path);
    unsigned char d[32];
    unsigned int dl = 0;
    if (s == RX_OK && EVP_DigestFinal_ex(md, d, &dl) != 1) s = rx_error(RX_ERR_IO, "hash failed");
    for (unsigned i = 0; s == RX_OK && i < dl; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    EVP_MD_CTX_free(md);
    free(buf);
    fclose(f);
    return s;
}

static void model_id_from_path(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".gguf") == 0) len -= 5;
    snprintf(out, cap, "%.*s", (int)len, base);
}

/* --- warm-up: one token through the scheduler, so weights are paged in before /ready --- */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} warm_wait;

static void warm_event(const rx_sched_event *ev, void *user)
{
    warm_wait *w = user;
    if (ev->kind == RX_SCHED_TOKEN) return;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static rx_status warm_up(rx_node *n)
{
    warm_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    int32_t tok = rx_token_bos(n->tok) >= 0 ? rx_token_bos(n->tok) : 0;
    rx_sched_request r = {0};
    r.prompt = &tok;
    r.n_prompt = 1;
    r.sampling = rx_sampler_default_params();
    r.sampling.temperature = 0;
    r.max_tokens = 1;
    r.tenant = "\x01warm-up";
    r.on_event = warm_event;
    r.user = &w;
    uint64_t id;
    rx_status s = rx_sched_submit(n->sched, &r, &id);
    if (s != RX_OK) return s;
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return RX_OK;
}

/* --- signals (on the loop thread) --- */
static void drain_poll(void *arg)
{
    rx_node *n = arg;
    if (n->n_jobs == 0) {
        rx_http_server_stop(n->http);
        return;
    }
    if (rx_now_ns() >= n->drain_deadline_ns) {
        /* cancelled requests end at the next scheduler step; keep polling until they have */
        rx_node__cancel_all(n);
        n->drain_deadline_ns = UINT64_MAX;
    }
    rx_http_timer(n->http, RX_DRAIN_POLL_MS, drain_poll, n);
}

static void on_stop_signal(void *arg)
{
    rx_node *n = arg;
    if (n->draining) return;
    n->draining = true;
    fprintf(stderr, "reflex serve: draining %d request(s) (up to %d ms)\n", n->n_jobs,
            n->cfg.drain_timeout_ms);
    rx_http_server_stop_accepting(n->http);
    rx_sched_close(n->sched);
    n->drain_deadline_ns = rx_now_ns() + (uint64_t)n->cfg.drain_timeout_ms * 1000000u;
    drain_poll(n);
}

static void on_reload_signal(void *arg)
{
    rx_node *n = arg;
    rx_auth fresh;
    if (rx_auth_load(n->cfg.api_keys, n->cfg.n_api_keys, n->cfg.api_key_file, &fresh) != RX_OK) {
        fprintf(stderr, "reflex serve: SIGHUP: keeping the old API keys: %s\n", rx_last_error());
        return;
    }
    rx_auth_free(&n->auth);
    n->auth = fresh;
    fprintf(stderr, "reflex serve: SIGHUP: %zu API key(s) loaded\n", n->auth.n);
}

static rx_status setup(rx_node *n, const rx_node_config *cfg)
{
    n->cfg = *cfg;
    if (!n->cfg.tier) n->cfg.tier = "access";
    if (!n->cfg.region) n->cfg.region = "";
    if (!n->cfg.site) n->cfg.site = "";
    if (!n->cfg.domains) n->cfg.domains = "public";
    if (n->cfg.drain_timeout_ms <= 0) n->cfg.drain_timeout_ms = 30000;
    n->started = (int64_t)time(NULL);
    rx_metrics_init(&n->metrics);

    rx_status s = rx_model_load(cfg->model_path, &n->model);
    if (s == RX_OK) s = rx_tokenizer_load(rx_model_gguf(n->model), &n->tok);
    if (s != RX_OK) return rx_error_context(s, "loading '%s': ", cfg->model_path);
    rx_str tmpl;
    if (rx_gguf_get_str(rx_model_gguf(n->model), "tokenizer.chat_template", &tmpl) == RX_OK) {
        char *t = strndup(tmpl.ptr, tmpl.len);
        n->chat = rx_chat_detect(t);
        free(t);
    }
    rx_error_clear();
    if ((s = hash_file(cfg->model_path, n->sha256)) != RX_OK) return s;
    if (cfg->model_id)
        snprintf(n->model_id, sizeof n->model_id, "%s", cfg->model_id);
    else
        model_id_from_path(cfg->model_path, n->model_id, sizeof n->model_id);
    snprintf(n->model_version, sizeof n->model_version, "%.12s",
             cfg->model_version ? cfg->model_version : n->sha256);
    if ((s = rx_auth_load(cfg->api_keys, cfg->n_api_keys, cfg->api_key_file, &n->auth)) != RX_OK)
        return s;

    rx_sched_params sp = cfg->sched;
    sp.model = n->model;
    sp.tok = n->tok;
    if ((s = rx_sched_create(&sp, &n->sched)) != RX_OK) return s;
    rx_sched_stats st;
    rx_sched_get_stats(n->sched, &st);
    n->n_ctx = (int32_t)st.n_ctx;
    if ((s = warm_up(n)) != RX_OK) return s;

    if ((s = rx_http_server_create(&cfg->http, rx_node__handle, n, &n->http)) != RX_OK) return s;
    const int port = rx_http_server_port(n->http);
    if (cfg->node_name)
        snprintf(n->node_name, sizeof n->node_name, "%s", cfg->node_name);
    else
        snprintf(n->node_name, sizeof n->node_name, "reflex@%s:%d",
                 cfg->http.host ? cfg->http.host : "127.0.0.1", port);
    if ((s = rx_http_on_signal(n->http, SIGTERM, on_stop_signal, n)) == RX_OK &&
        (s = rx_http_on_signal(n->http, SIGINT, on_stop_signal, n)) == RX_OK)
        s = rx_http_on_signal(n->http, SIGHUP, on_reload_signal, n);
    return s;
}

rx_status rx_node_run(const rx_node_config *cfg)
{
    if (!cfg->model_path) return rx_error(RX_ERR_INVALID_ARG, "no model given");
    rx_node *n = calloc(1, sizeof *n);
    if (!n) return rx_error(RX_ERR_NOMEM, "no memory for the node");
    /* a client that goes away mid-write must not kill the process */
    signal(SIGPIPE, SIG_IGN);
    rx_status s = setup(n, cfg);
    if (s == RX_OK) {
        n->ready = true;
        const int port = rx_http_server_port(n->http);
        fprintf(stderr,
                "reflex serve: %s (%s, %d slots x %d positions, chat template %s) on %s://%s:%d\n",
                n->model_id, n->model_version, cfg->sched.n_slots ? cfg->sched.n_slots : 1,
                n->n_ctx, rx_chat_family_name(n->chat), cfg->http.tls_cert ? "https" : "http",
                cfg->http.host ? cfg->http.host : "127.0.0.1", port);
        if (cfg->on_listening) cfg->on_listening(port, cfg->on_listening_user);
        s = rx_http_server_run(n->http);
    }
    rx_status keep = s;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rx_last_error());
    rx_sched_free(n->sched);
    rx_http_server_free(n->http);
    rx_auth_free(&n->auth);
    rx_tokenizer_free(n->tok);
    rx_model_free(n->model);
    free(n);
    if (keep != RX_OK) return rx_error(keep, "%s", msg);
    return RX_OK;
}
