/* The continuous-batching scheduler on stories260K: greedy output equal to llama.cpp's reference
 * one request at a time and 16 at once, chunked prefill interleaved with a running stream,
 * admission errors (full queue, too long, bad fields), cancellation, stop strings, max_tokens
 * and end of generation, the per-tenant prefix cache, seeded sampling, logprobs, embeddings.
 * Every wait has a timeout, so a scheduler bug fails a test instead of hanging it. */
#include "rxtest.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "reflex/model.h"
#include "reflex/scheduler.h"
#include "reflex/tokenizer.h"

#define MAX_GEN 512
#define N_REF 12
#define WAIT_S 60

static rx_model *model;
static rx_tokenizer *tok;

typedef struct {
    int32_t prompt[256];
    int n_prompt;
    int32_t gen[64];
    int n_gen;
    char text[2048];
    float logprob[64];
} ref_line;

static ref_line refs[N_REF];
static int n_refs;

/* --- what a request's events left behind --- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t tokens[MAX_GEN];
    int n_tokens;
    char text[8192];
    size_t n_text;
    int n_token_events, n_info;
    float logprob[MAX_GEN];
    int32_t top0[MAX_GEN];
    bool done, error, event_after_done; /* event_after_done: also a NULL text */
    rx_sched_event last;                /* the terminal event's scalars */
    float embd[1024];
    int n_embd;
    /* optional hooks for tests that act from the callback */
    void (*on_token)(void *ctx, int n_tokens); /* called with 0 for the terminal event */
    void *hook_ctx;
} collector;

static void col_init(collector *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void col_fini(collector *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

/* The order of all events, across requests, for the interleaving test. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t event_log[4096];
static int n_log;

static void on_event(const rx_sched_event *ev, void *user)
{
    collector *c = user;
    pthread_mutex_lock(&log_mu);
    if (n_log < 4096) event_log[n_log++] = ev->id * 4 + (uint64_t)ev->kind;
    pthread_mutex_unlock(&log_mu);
    pthread_mutex_lock(&c->mu);
    /* no cmocka assertions here: this is the scheduler's thread */
    if (c->done || !ev->text) c->event_after_done = true;
    if (ev->text_len && c->n_text + ev->text_len < sizeof c->text) {
        memcpy(c->text + c->n_text, ev->text, ev->text_len);
        c->n_text += ev->text_len;
        c->text[c->n_text] = '\0';
    }
    int n_tokens = -1;
    if (ev->kind == RX_SCHED_TOKEN) {
        c->n_token_events++;
        if (c->n_tokens < MAX_GEN) {
            if (ev->info) {
                c->n_info++;
                c->logprob[c->n_tokens] = ev->info->logprob;
                c->top0[c->n_tokens] = ev->info->n_top > 0 ? ev->info->top[0].id : -1;
            }
            c->tokens[c->n_tokens++] = ev->token;
        }
        n_tokens = c->n_tokens;
    } else {
        c->last = *ev;
        c->last.text = NULL;
        c->last.message = NULL;
        c->last.embedding = NULL;
        if (ev->embedding) {
            c->n_embd = ev->n_embd;
            memcpy(c->embd, ev->embedding, (size_t)ev->n_embd * sizeof(float));
        }
        c->error = ev->kind == RX_SCHED_ERROR;
        c->done = true;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_cond_broadcast(&c->cv);
    void (*hook)(void *, int) = c->on_token;
    void *hook_ctx = c->hook_ctx;
    pthread_mutex_unlock(&c->mu);
    if (hook) hook(hook_ctx, n_tokens < 0 ? 0 : n_tokens);
}

static struct timespec deadline(int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return ts;
}

/* Waits until the request ended (or has at least min_tokens tokens when min_tokens > 0). */
static void col_wait(collector *c, int min_tokens)
{
    struct timespec ts = deadline(WAIT_S);
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (rc == 0 && !c->done && (min_tokens <= 0 || c->n_tokens < min_tokens))
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0) fail_msg("timed out waiting for the scheduler");
}

/* --- setup --- */

/* Reads ref/<name>.jsonl into out[N_REF]. */
static void load_refs(const char *name, ref_line *out)
{
    char rel[128];
    snprintf(rel, sizeof rel, "ref/%s.jsonl", name);
    FILE *f = fopen(rxt_shared(rel), "r");
    assert_non_null(f);
    static char line[1 << 20];
    int n = 0;
    while (n < N_REF && fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        assert_non_null(j);
        ref_line *r = &out[n++];
        json_t *pt = json_object_get(j, "prompt_tokens"), *tk = json_object_get(j, "tokens");
        json_t *steps = json_object_get(j, "steps");
        r->n_prompt = (int)json_array_size(pt);
        r->n_gen = (int)json_array_size(tk);
        assert_true(r->n_prompt <= 256 && r->n_gen == 64);
        for (int i = 0; i < r->n_prompt; i++)
            r->prompt[i] = (int32_t)json_integer_value(json_array_get(pt, (size_t)i));
        for (int i = 0; i < r->n_gen; i++) {
            r->gen[i] = (int32_t)json_integer_value(json_array_get(tk, (size_t)i));
            json_t *st = json_array_get(steps, (size_t)i);
            r->logprob[i] = (float)json_real_value(json_object_get(st, "logprob"));
        }
        snprintf(r->text, sizeof r->text, "%s", json_string_value(json_object_get(j, "text")));
        json_decref(j);
    }
    fclose(f);
    assert_int_equal(n, N_REF);
}

static int group_setup(void **state)
{
    (void)state;
    if (rx_model_load(rxt_shared("models/stories260K.gguf"), &model) != RX_OK) return -1;
    if (rx_tokenizer_load(rx_model_gguf(model), &tok) != RX_OK) return -1;
    load_refs("stories260K", refs);
    n_refs = N_REF;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    rx_tokenizer_free(tok);
    rx_model_free(model);
    return 0;
}

static rx_sched *make_sched_for(rx_model *m, int32_t n_slots, int32_t n_batch, int32_t queue_cap,
                                uint32_t n_ctx)
{
    rx_sched_params p = rx_sched_default_params();
    p.model = m;
    p.tok = tok;
    p.n_slots = n_slots;
    p.n_batch = n_batch;
    p.queue_cap = queue_cap;
    p.n_ctx = n_ctx;
    p.n_threads = 1;
    rx_sched *s;
    if (rx_sched_create(&p, &s) != RX_OK) fail_msg("rx_sched_create: %s", rx_last_error());
    return s;
}

static rx_sched *make_sched(int32_t n_slots, int32_t n_batch, int32_t queue_cap, uint32_t n_ctx)
{
    return make_sched_for(model, n_slots, n_batch, queue_cap, n_ctx);
}

static rx_sched_request greedy_request(const int32_t *prompt, int n_prompt, int max_tokens,
                                       collector *c)
{
    rx_sched_request r = {0};
    r.prompt = prompt;
    r.n_prompt = n_prompt;
    r.sampling = rx_sampler_default_params();
    r.sampling.temperature = 0.0f;
    r.max_tokens = max_tokens;
    r.on_event = on_event;
    r.user = c;
    return r;
}

static uint64_t submit_ok(rx_sched *s, const rx_sched_request *r)
{
    uint64_t id = 0;
    if (rx_sched_submit(s, r, &id) != RX_OK) fail_msg("submit: %s", rx_last_error());
    assert_true(id > 0);
    return id;
}

static void assert_ref_tokens(const collector *c, const ref_line *r, int line)
{
    assert_false(c->error);
    assert_false(c->event_after_done);
    assert_int_equal(c->last.finish, RX_FINISH_LENGTH);
    assert_int_equal(c->n_tokens, r->n_gen);
    assert_int_equal(c->last.n_generated, r->n_gen);
    for (int i = 0; i < r->n_gen; i++)
        if (c->tokens[i] != r->gen[i])
            fail_msg("line %d: token %d is %d, reference %d", line, i, c->tokens[i], r->gen[i]);
    if (strcmp(c->text, r->text) != 0)
        fail_msg("line %d: text\n%s\nreference\n%s", line, c->text, r->text);
}

/* --- tests --- */

static void test_reference_one_at_a_time(void **state)
{
    (void)state;
    rx_sched *s = make_sched(2, 0, 0, 256);
    for (int i = 0; i < n_refs; i++) {
        collector c;
        col_init(&c);
        rx_sched_request r = greedy_request(refs[i].prompt, refs[i].n_prompt, 64, &c);
        r.tenant = "ref";
        submit_ok(s, &r);
        col_wait(&c, 0);
        assert_ref_tokens(&c, &refs[i], i);
        assert_int_equal(c.last.n_prompt, refs[i].n_prompt);
        assert_true(c.last.ttft_ns > 0 && c.last.ttft_ns <= c.last.total_ns);
        assert_true(c.last.queue_ns <= c.last.ttft_ns);
        col_fini(&c);
    }
    rx_sched_stats st;
    rx_sched_get_stats(s, &st);
    assert_int_equal(st.slots_busy, 0);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.tokens_generated, 64u * N_REF);
    assert_int_equal(st.kv_cells_total, 2u * 256u);
    assert_true(st.kv_cells_used > 0 && st.kv_cells_used <= st.kv_cells_total);
    rx_sched_free(s);
}

/* A callback that holds the scheduler thread until the test lets it go. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, release;
    int at; /* the token count that holds the thread (0: the terminal event) */
} gate;

static void gate_hook(void *ctx, int n_tokens)
{
    gate *g = ctx;
    if (n_tokens != g->at) return;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    struct timespec ts = deadline(WAIT_S);
    while (!g->release && pthread_cond_timedwait(&g->cv, &g->mu, &ts) == 0) {
    }
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_entered(gate *g)
{
    struct timespec ts = deadline(WAIT_S);
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    while (!g->entered && rc == 0)
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    pthread_mutex_unlock(&g->mu);
    assert_int_equal(rc, 0);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->release = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* The 12 reference prompts and 4 of them again, submitted together to 16 slots of model m. */
static void sixteen_at_once(rx_model *m, const ref_line *rl)
{
    rx_sched *s = make_sched_for(m, 16, 0, 0, 256);
    static collector c[16];
    for (int i = 0; i < 16; i++)
        col_init(&c[i]);
    rx_sched_request r[16];
    for (int i = 0; i < 16; i++) {
        const ref_line *ref = &rl[i % N_REF];
        r[i] = greedy_request(ref->prompt, ref->n_prompt, 64, &c[i]);
        r[i].tenant = i < N_REF ? "a" : "b"; /* repeated prompts from another tenant */
    }
    /* hold the thread in the terminal event of a first request while all 16 are queued, so
     * they are admitted together: one batch prefills every prompt, then each step decodes
     * all 16 */
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0};
    collector first;
    col_init(&first);
    first.on_token = gate_hook;
    first.hook_ctx = &g;
    rx_sched_request rf = greedy_request(rl[0].prompt, rl[0].n_prompt, 1, &first);
    submit_ok(s, &rf);
    gate_wait_entered(&g);
    for (int i = 0; i < 16; i++)
        submit_ok(s, &r[i]);
    rx_sched_stats st;
    rx_sched_get_stats(s, &st);
    assert_int_equal(st.queue_depth, 16);
    gate_open(&g);
    for (int i = 0; i < 16; i++)
        col_wait(&c[i], 0);
    for (int i = 0; i < 16; i++) {
        assert_ref_tokens(&c[i], &rl[i % N_REF], i % N_REF);
        assert_int_equal(c[i].last.n_cached, 0);
        col_fini(&c[i]);
    }
    rx_sched_get_stats(s, &st);
    /* one prefill step and 63 decode steps, where one at a time would take 16 x 64 */
    assert_int_equal(st.steps, 1 + 64);
    assert_int_equal(st.tokens_generated, 16u * 64u + 1u);
    col_fini(&first);
    rx_sched_free(s);
}

static void test_reference_sixteen_at_once(void **state)
{
    (void)state;
    sixteen_at_once(model, refs);
}

/* The same for the F16 and Q4_K_M files, whose matrix products take other kernels (and, for
 * Q4_K_M, activations quantized per row). */
static void test_reference_sixteen_at_once_f16_q4km(void **state)
{
    (void)state;
    const char *names[] = {"stories260K-F16", "stories260K-Q4_K_M"};
    static ref_line other[N_REF];
    for (size_t k = 0; k < 2; k++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/%s.gguf", names[k]);
        rx_model *m;
        if (rx_model_load(rxt_shared(rel), &m) != RX_OK) fail_msg("%s", rx_last_error());
        load_refs(names[k], other);
        sixteen_at_once(m, other);
        rx_model_free(m);
    }
}

/* A long prompt prefilled in chunks of 16 gives the reference continuation: the prompt is a
 * reference prompt plus its first 40 greedy tokens, so the next 24 are known. */
static void test_chunked_prefill_reference(void **state)
{
    (void)state;
    rx_sched *s = make_sched(2, 16, 0, 256);
    for (int i = 0; i < n_refs; i++) {
        const ref_line *ref = &refs[i];
        int32_t prompt[320];
        int n = ref->n_prompt;
        memcpy(prompt, ref->prompt, (size_t)n * sizeof *prompt);
        memcpy(prompt + n, ref->gen, 40 * sizeof *prompt);
        n += 40;
        collector c;
        col_init(&c);
        rx_sched_request r = greedy_request(prompt, n, 24, &c);
        submit_ok(s, &r);
        col_wait(&c, 0);
        assert_int_equal(c.n_tokens, 24);
        for (int k = 0; k < 24; k++)
            if (c.tokens[k] != ref->gen[40 + k])
                fail_msg("line %d: token %d is %d, reference %d", i, 40 + k, c.tokens[k],
                         ref->gen[40 + k]);
        col_fini(&c);
    }
    rx_sched_free(s);
}

typedef struct {
    rx_sched *s;
    rx_sched_request *second;
    uint64_t second_id;
    int after;
    bool submitted;
} submit_hook;

/* Submits the second request from the first one's callback, once it has `after` tokens. */
static void hook_submit(void *ctx, int n_tokens)
{
    submit_hook *h = ctx;
    if (h->submitted || n_tokens < h->after) return;
    h->submitted = rx_sched_submit(h->s, h->second, &h->second_id) == RX_OK;
}

static void test_prefill_interleaves_with_decode(void **state)
{
    (void)state;
    rx_sched *s = make_sched(2, 16, 0, 256);
    const ref_line *ra = &refs[0], *rb = &refs[8];
    int32_t long_prompt[200];
    int n_long = 0;
    for (int k = 0; k < 6; k++) { /* ~170 tokens: eleven chunks of at most 15 */
        memcpy(long_prompt + n_long, rb->prompt + (k ? 1 : 0),
               (size_t)(rb->n_prompt - (k ? 1 : 0)) * sizeof(int32_t));
        n_long += rb->n_prompt - (k ? 1 : 0);
    }
    collector a, b;
    col_init(&a);
    col_init(&b);
    rx_sched_request req_a = greedy_request(ra->prompt, ra->n_prompt, 64, &a);
    rx_sched_request req_b = greedy_request(long_prompt, n_long, 8, &b);
    submit_hook h = {s, &req_b, 0, 3, false};
    a.on_token = hook_submit;
    a.hook_ctx = &h;
    pthread_mutex_lock(&log_mu);
    n_log = 0;
    pthread_mutex_unlock(&log_mu);
    uint64_t id_a = submit_ok(s, &req_a);
    col_wait(&a, 0);
    col_wait(&b, 0);
    assert_true(h.submitted);
    /* A keeps its reference tokens although B's prompt went through beside it */
    assert_ref_tokens(&a, ra, 0);
    assert_int_equal(b.last.n_prompt, n_long);
    assert_int_equal(b.n_tokens, 8);
    /* between B's submission (after A's 3rd token) and B's first token, A got a token in every
     * step of B's prefill: at least n_long / 15 of them */
    pthread_mutex_lock(&log_mu);
    int a_tokens = 0, a_during = 0;
    bool b_started = false;
    for (int i = 0; i < n_log; i++) {
        uint64_t id = event_log[i] / 4, kind = event_log[i] % 4;
        if (id == id_a && kind == RX_SCHED_TOKEN) {
            a_tokens++;
            if (a_tokens > 3 && !b_started) a_during++;
        }
        if (id == h.second_id && kind == RX_SCHED_TOKEN) b_started = true;
    }
    pthread_mutex_unlock(&log_mu);
    assert_true(b_started);
    if (a_during < n_long / 15 - 1)
        fail_msg("A got %d tokens while B's %d-token prompt prefilled", a_during, n_long);
    col_fini(&a);
    col_fini(&b);
    rx_sched_free(s);
}

static void test_queue_full_and_cancel_queued(void **state)
{
    (void)state;
    rx_sched *s = make_sched(1, 0, 2, 256);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 1};
    collector c[4];
    for (int i = 0; i < 4; i++)
        col_init(&c[i]);
    c[0].on_token = gate_hook;
    c[0].hook_ctx = &g;
    rx_sched_request r[4];
    for (int i = 0; i < 4; i++)
        r[i] = greedy_request(refs[i].prompt, refs[i].n_prompt, 64, &c[i]);
    submit_ok(s, &r[0]);
    gate_wait_entered(&g); /* the one slot is busy and the thread is held */
    submit_ok(s, &r[1]);
    uint64_t id2 = submit_ok(s, &r[2]);
    rx_sched_stats st;
    rx_sched_get_stats(s, &st);
    assert_int_equal(st.queue_depth, 2);
    assert_int_equal(st.slots_busy, 1);
    uint64_t id = 0;
    const uint64_t t0 = rx_now_ns();
    rx_status full = rx_sched_submit(s, &r[3], &id);
    const uint64_t dt = rx_now_ns() - t0;
    assert_int_equal(full, RX_ERR_FULL);
    if (dt > 10 * 1000 * 1000) fail_msg("RX_ERR_FULL took %llu ns", (unsigned long long)dt);
    rx_sched_cancel(s, id2);    /* still queued: answered without a slot */
    rx_sched_cancel(s, 999999); /* unknown: ignored */
    gate_open(&g);
    for (int i = 0; i < 3; i++)
        col_wait(&c[i], 0);
    assert_ref_tokens(&c[0], &refs[0], 0);
    assert_ref_tokens(&c[1], &refs[1], 1);
    assert_int_equal(c[2].last.finish, RX_FINISH_CANCELLED);
    assert_int_equal(c[2].n_token_events, 0);
    assert_int_equal(c[2].last.n_generated, 0);
    assert_false(c[3].done);
    rx_sched_get_stats(s, &st);
    assert_int_equal(st.queue_depth, 0);
    for (int i = 0; i < 4; i++)
        col_fini(&c[i]);
    rx_sched_free(s);
}

static void test_admission_errors(void **state)
{
    (void)state;
    rx_sched *s = make_sched(1, 0, 0, 256);
    collector c;
    col_init(&c);
    uint64_t id;
    rx_sched_request r = greedy_request(refs[0].prompt, 10, 250, &c);
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_RANGE);
    const char *msg = rx_last_error();
    if (!strstr(msg, "10") || !strstr(msg, "250") || !strstr(msg, "256"))
        fail_msg("message lacks the numbers: %s", msg);
    r = greedy_request(refs[0].prompt, 5, 0, &c);
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "max_tokens"));
    r = greedy_request(refs[0].prompt, 0, 5, &c);
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "n_prompt"));
    int32_t bad[2] = {1, 100000};
    r = greedy_request(bad, 2, 5, &c);
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "prompt[1]"));
    const char *stops[17] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                             "j", "k", "l", "m", "n", "o", "p", "q"};
    r = greedy_request(refs[0].prompt, 5, 5, &c);
    r.stop = stops;
    r.n_stop = 17;
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "n_stop"));
    const char *empty[1] = {""};
    r.stop = empty;
    r.n_stop = 1;
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "stop[0]"));
    r = greedy_request(refs[0].prompt, 5, 5, &c);
    r.sampling.temperature = NAN;
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "temperature"));
    r = greedy_request(refs[0].prompt, 5, 5, &c);
    r.logprobs = true;
    r.sampling.n_top_logprobs = 21;
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "n_top_logprobs"));
    r = greedy_request(refs[0].prompt, 5, 5, NULL);
    r.on_event = NULL;
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "on_event"));
    /* exactly full context is fine */
    r = greedy_request(refs[0].prompt, 5, 251, &c);
    r.ignore_eog = true;
    submit_ok(s, &r);
    col_wait(&c, 0);
    assert_int_equal(c.last.finish, RX_FINISH_LENGTH);
    assert_int_equal(c.last.n_generated, 251);
    /* closed: nothing new is taken */
    rx_sched_close(s);
    r = greedy_request(refs[0].prompt, 5, 5, &c);
    assert_int_equal(rx_sched_submit(s, &r, &id), RX_ERR_FULL);
    col_fini(&c);
    rx_sched_free(s);

    rx_sched_params p = rx_sched_default_params();
    p.model = model;
    p.tok = tok;
    p.n_slots = 8;
    p.n_batch = 4;
    assert_int_equal(rx_sched_create(&p, &s), RX_ERR_INVALID_ARG);
    assert_non_null(strstr(rx_last_error(), "n_batch"));
}

static void test_cancel_running(void **state)
{
    (void)state;
    rx_sched *s = make_sched(2, 0, 0, 512);
    collector c;
    col_init(&c);
    rx_sched_request r = greedy_request(refs[0].prompt, refs[0].n_prompt, 400, &c);
    r.ignore_eog = true;
    uint64_t id = submit_ok(s, &r);
    col_wait(&c, 5);
    rx_sched_cancel(s, id);
    col_wait(&c, 0);
    assert_false(c.error);
    assert_int_equal(c.last.finish, RX_FINISH_CANCELLED);
    assert_true(c.last.n_generated >= 5 && c.last.n_generated < 400);
    assert_int_equal(c.last.n_generated, c.n_tokens);
    rx_sched_stats st;
    rx_sched_get_stats(s, &st);
    assert_int_equal(st.slots_busy, 0);
    rx_sched_cancel(s, id); /* already ended: ignored */
    col_fini(&c);
    /* the scheduler goes on serving */
    col_init(&c);
    r = greedy_request(refs[3].prompt, refs[3].n_prompt, 64, &c);
    submit_ok(s, &r);
    col_wait(&c, 0);
    assert_ref_tokens(&c, &refs[3], 3);
    col_fini(&c);

    /* freeing with requests running and queued: each gets its one terminal event */
    collector d[4];
    for (int i = 0; i < 4; i++) {
        col_init(&d[i]);
        r = greedy_request(refs[i].prompt, refs[i].n_prompt, 400, &d[i]);
        r.ignore_eog = true;
        submit_ok(s, &r);
    }
    col_wait(&d[0], 2);
    rx_sched_free(s);
    for (int i = 0; i < 4; i++) {
        assert_true(d[i].done);
        assert_false(d[i].event_after_done);
        assert_int_equal(d[i].last.finish, RX_FINISH_CANCELLED);
        col_fini(&d[i]);
    }
}

/* Runs refs[0] with the given stops and max_tokens; fills c. */
static void run_with_stops(rx_sched *s, collector *c, const char *const *stops, int n_stops,
                           int max_tokens)
{
    col_init(c);
    rx_sched_request r = greedy_request(refs[0].prompt, refs[0].n_prompt, max_tokens, c);
    r.stop = stops;
    r.n_stop = n_stops;
    submit_ok(s, &r);
    col_wait(c, 0);
    assert_false(c->error);
}

static void test_stop_strings(void **state)
{
    (void)state;
    rx_sched *s = make_sched(1, 0, 0, 256);
    const char *ref = refs[0].text; /* ", there was a little girl named Lily. She loved ..." */
    collector c;

    /* a stop string inside one token's text and one across a token boundary ("rl" ends
     * " girl", " na" starts " named"): the text ends right before it, which is never sent */
    const char *cases[] = {"Lily", "rl na", "park.", "\nLily"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *stops[2] = {"never appears", cases[k]};
        run_with_stops(s, &c, stops, 2, 64);
        const char *at = strstr(ref, cases[k]);
        assert_non_null(at);
        assert_int_equal(c.last.finish, RX_FINISH_STOP);
        assert_int_equal(c.n_text, (size_t)(at - ref));
        assert_memory_equal(c.text, ref, c.n_text);
        assert_null(strstr(c.text, cases[k]));
        assert_int_equal(c.last.n_generated, c.n_tokens);
        col_fini(&c);
    }

    /* a stop string whose start appears but never completes: the held text is released later
     * and the whole reference comes out */
    const char *partial[1] = {"Lily's cat"};
    run_with_stops(s, &c, partial, 1, 64);
    assert_int_equal(c.last.finish, RX_FINISH_LENGTH);
    assert_string_equal(c.text, ref);
    col_fini(&c);

    /* held back at the very end: the generation stops (max_tokens) inside a possible stop
     * string; the held text comes with the last event */
    const char *tail[1] = {"mom said yes"};
    assert_non_null(strstr(ref, "mom said")); /* "Lily's mom said" at the very end */
    run_with_stops(s, &c, tail, 1, 64);
    assert_string_equal(c.text, ref);
    col_fini(&c);

    /* max_tokens */
    run_with_stops(s, &c, NULL, 0, 5);
    assert_int_equal(c.last.finish, RX_FINISH_LENGTH);
    assert_int_equal(c.last.n_generated, 5);
    assert_int_equal(c.n_tokens, 5);
    assert_memory_equal(c.tokens, refs[0].gen, 5 * sizeof(int32_t));
    col_fini(&c);

    /* end of generation: stories260K never ends a story greedily, so a prompt of EOS alone
     * and a presence penalty of -1000 (a boost) make EOS the greedy choice */
    const int32_t eos = rx_token_eos(tok);
    assert_true(eos >= 0 && rx_token_is_eog(tok, eos));
    col_init(&c);
    rx_sched_request r = greedy_request(&eos, 1, 10, &c);
    r.sampling.presence_penalty = -1000.0f;
    submit_ok(s, &r);
    col_wait(&c, 0);
    assert_int_equal(c.last.finish, RX_FINISH_STOP);
    assert_int_equal(c.last.n_generated, 0);
    assert_int_equal(c.n_token_events, 0);
    col_fini(&c);
    /* ... and with ignore_eog the EOS tokens are generated until max_tokens */
    col_init(&c);
    r = greedy_request(&eos, 1, 10, &c);
    r.sampling.presence_penalty = -1000.0f;
    r.ignore_eog = true;
    submit_ok(s, &r);
    col_wait(&c, 0);
    assert_int_equal(c.last.finish, RX_FINISH_LENGTH);
    assert_int_equal(c.last.n_generated, 10);
    assert_int_equal(c.tokens[0], eos);
    col_fini(&c);
    rx_sched_free(s);
}

typedef struct {
    rx_sched *s;
    uint64_t id;
    int at;
} cancel_hook;

static void hook_cancel(void *ctx, int n_tokens)
{
    cancel_hook *h = ctx;
    if (n_tokens == h->at) rx_sched_cancel(h->s, h->id); /* from the scheduler's own thread */
}

/* Text held back for a possible stop string is not lost when the request ends another way:
 * the DONE event carries it. Cancelled right after the tokens of "... girl named" with the
 * stop string "girl named Lucy" pending, the whole text of those tokens still arrives. */
static void test_held_text_on_cancel(void **state)
{
    (void)state;
    rx_sched *s = make_sched(1, 0, 0, 256);
    const ref_line *ref = &refs[0];
    char want[2048];
    size_t n_want = 0;
    int at = 0;
    while (at < ref->n_gen) { /* the fewest tokens whose text ends with "girl named" */
        at++;
        assert_int_equal(rx_detokenize(tok, ref->gen, (size_t)at, RX_DETOK_KEEP_SPACE, want,
                                       sizeof want - 1, &n_want),
                         RX_OK);
        want[n_want] = '\0';
        if (n_want >= 10 && strcmp(want + n_want - 10, "girl named") == 0) break;
    }
    assert_true(at < ref->n_gen);
    collector c;
    col_init(&c);
    cancel_hook h = {s, 0, at};
    c.on_token = hook_cancel;
    c.hook_ctx = &h;
    const char *stops[1] = {"girl named Lucy"};
    rx_sched_request r = greedy_request(ref->prompt, ref->n_prompt, 64, &c);
    r.stop = stops;
    r.n_stop = 1;
    /* the id is written before the scheduler can see the request, so the hook may read it */
    if (rx_sched_submit(s, &r, &h.id) != RX_OK) fail_msg("%s", rx_last_error());
    col_wait(&c, 0);
    assert_int_equal(c.last.finish, RX_FINISH_CANCELLED);
    assert_int_equal(c.n_tokens, at);
    assert_string_equal(c.text, want);
    assert_true(c.last.text_len >= 10); /* "girl named" was held and came with DONE */
    col_fini(&c);
    rx_sched_free(s);
}

static void run_tenant(rx_sched *s, collector *c, const int32_t *prompt, int n, int max_tokens,
                       const char *tenant)
{
    col_init(c);
    rx_sched_request r = greedy_request(prompt, n, max_tokens, c);
    r.tenant = tenant;
    submit_ok(s, &r);
    col_wait(c, 0);
    assert_false(c->error);
}

static void test_prefix_cache(void **state)
{
    (void)state;
    rx_sched *s = make_sched(3, 0, 0, 256); /* alice, bob and "" each keep a slot */
    const ref_line *ref = &refs[1];
    collector c;
    run_tenant(s, &c, ref->prompt, ref->n_prompt, 64, "alice");
    assert_int_equal(c.last.n_cached, 0);
    assert_ref_tokens(&c, ref, 1);
    col_fini(&c);

    /* the same prompt again: all but the last token come from the cache */
    run_tenant(s, &c, ref->prompt, ref->n_prompt, 64, "alice");
    assert_int_equal(c.last.n_cached, ref->n_prompt - 1);
    assert_ref_tokens(&c, ref, 1);
    col_fini(&c);

    /* another tenant never hits alice's cache, even with the same prompt */
    run_tenant(s, &c, ref->prompt, ref->n_prompt, 64, "bob");
    assert_int_equal(c.last.n_cached, 0);
    assert_ref_tokens(&c, ref, 1);
    col_fini(&c);
    run_tenant(s, &c, ref->prompt, ref->n_prompt, 64, NULL);
    assert_int_equal(c.last.n_cached, 0);
    col_fini(&c);

    /* a conversation going on: prompt + 20 generated tokens reuses the prompt and the tokens
     * the slot decoded after it; the continuation is the reference's */
    int32_t longer[256];
    memcpy(longer, ref->prompt, (size_t)ref->n_prompt * sizeof(int32_t));
    memcpy(longer + ref->n_prompt, ref->gen, 20 * sizeof(int32_t));
    const int n_longer = ref->n_prompt + 20;
    run_tenant(s, &c, longer, n_longer, 44, "alice");
    assert_int_equal(c.last.n_cached, n_longer - 1);
    assert_memory_equal(c.tokens, ref->gen + 20, 44 * sizeof(int32_t));
    col_fini(&c);

    rx_sched_stats st;
    rx_sched_get_stats(s, &st);
    assert_int_equal(st.prefix_lookups, 5);
    assert_int_equal(st.prefix_hits, 2);
    assert_int_equal(st.prefix_tokens_reused, (uint64_t)(ref->n_prompt - 1 + n_longer - 1));
    rx_sched_free(s);

    /* switched off: no reuse */
    rx_sched_params p = rx_sched_default_params();
    p.model = model;
    p.tok = tok;
    p.n_ctx = 256;
    p.prefix_cache = false;
    assert_int_equal(rx_sched_create(&p, &s), RX_OK);
    run_tenant(s, &c, ref->prompt, ref->n_prompt, 8, "alice");
    col_fini(&c);
    run_tenant(s, &c, ref->prompt, ref->n_prompt, 8, "alice");
    assert_int_equal(c.last.n_cached, 0);
    col_fini(&c);
    rx_sched_free(s);
}

static void run_sampled(rx_sched *s, collector *c, uint64_t seed)
{
    col_init(c);
    rx_sched_request r = greedy_request(refs[2].prompt, refs[2].n_prompt, 48, c);
    r.sampling = rx_sampler_default_params();
    r.sampling.temperature = 0.8f;
    r.sampling.seed = seed;
    submit_ok(s, &r);
    col_wait(c, 0);
    assert_int_equal(c->n_tokens, 48);
}

static void test_seeded_sampling(void **state)
{
    (void)state;
    rx_sched *s = make_sched(2, 0, 0, 256);
    collector a, b;
    run_sampled(s, &a, 42);
    run_sampled(s, &b, 42);
    assert_memory_equal(a.tokens, b.tokens, 48 * sizeof(int32_t));
    assert_string_equal(a.text, b.text);
    col_fini(&a);
    col_fini(&b);
    rx_sched_free(s);
}

static void test_logprobs(void **state)
{
    (void)state;
    rx_sched *s = make_sched(1, 0, 0, 256);
    collector c;
    col_init(&c);
    rx_sched_request r = greedy_request(refs[0].prompt, refs[0].n_prompt, 64, &c);
    r.logprobs = true;
    r.sampling.n_top_logprobs = 5;
    submit_ok(s, &r);
    col_wait(&c, 0);
    assert_ref_tokens(&c, &refs[0], 0);
    assert_int_equal(c.n_info, 64);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(c.top0[i], c.tokens[i]); /* greedy: the chosen one is the most likely */
        if (fabsf(c.logprob[i] - refs[0].logprob[i]) > 1e-3f)
            fail_msg("step %d: logprob %g, reference %g", i, c.logprob[i], refs[0].logprob[i]);
    }
    col_fini(&c);
    /* not asked: no info */
    col_init(&c);
    r = greedy_request(refs[0].prompt, refs[0].n_prompt, 4, &c);
    submit_ok(s, &r);
    col_wait(&c, 0);
    assert_int_equal(c.n_info, 0);
    col_fini(&c);
    rx_sched_free(s);
}

static void embed(rx_sched *s, collector *c, const int32_t *prompt, int n)
{
    col_init(c);
    rx_sched_request r = {0};
    r.prompt = prompt;
    r.n_prompt = n;
    r.embedding = true;
    r.on_event = on_event;
    r.user = c;
    submit_ok(s, &r);
    col_wait(c, 0);
    assert_false(c->error);
    assert_int_equal(c->last.finish, RX_FINISH_STOP);
    assert_int_equal(c->n_token_events, 0);
    assert_int_equal(c->n_embd, (int)rx_model_hparams_of(model)->n_embd);
    double norm = 0.0;
    for (int i = 0; i < c->n_embd; i++)
        norm += (double)c->embd[i] * c->embd[i];
    if (fabs(sqrt(norm) - 1.0) > 1e-5) fail_msg("norm %g", sqrt(norm));
}

/* Mean-pooled final hidden states computed directly with the engine, for comparison. */
static void embed_direct(const int32_t *prompt, int n, float *out)
{
    rx_context_params p = rx_context_default_params();
    p.n_ctx = 256;
    p.n_outputs = 256;
    p.embeddings = true;
    rx_context *ctx;
    assert_int_equal(rx_context_create(model, &p, &ctx), RX_OK);
    int32_t pos[256];
    int8_t want[256];
    for (int i = 0; i < n; i++)
        pos[i] = i, want[i] = 1;
    rx_batch b = {n, prompt, pos, NULL, want};
    assert_int_equal(rx_decode(ctx, &b), RX_OK);
    const int d = (int)rx_model_hparams_of(model)->n_embd;
    double sum[1024] = {0}, norm = 0.0;
    for (int t = 0; t < n; t++) {
        const float *h = rx_embedding(ctx, t);
        assert_non_null(h);
        for (int i = 0; i < d; i++)
            sum[i] += h[i];
    }
    assert_null(rx_embedding(ctx, n));
    for (int i = 0; i < d; i++)
        norm += (sum[i] / n) * (sum[i] / n);
    for (int i = 0; i < d; i++)
        out[i] = (float)(sum[i] / n / sqrt(norm));
    rx_context_free(ctx);
}

static void test_embeddings(void **state)
{
    (void)state;
    rx_sched *s = make_sched(2, 0, 0, 256);
    collector a, b, c;
    embed(s, &a, refs[0].prompt, refs[0].n_prompt);
    embed(s, &b, refs[0].prompt, refs[0].n_prompt);
    embed(s, &c, refs[1].prompt, refs[1].n_prompt);
    assert_memory_equal(a.embd, b.embd, (size_t)a.n_embd * sizeof(float));
    double diff = 0.0;
    for (int i = 0; i < a.n_embd; i++)
        diff += fabs((double)a.embd[i] - c.embd[i]);
    assert_true(diff > 1e-3);
    assert_int_equal(b.last.n_cached, 0); /* hidden states of every token are needed */

    /* a prompt longer than the rows a step spends on embeddings (several chunks), while a
     * generation runs beside it, equals the engine's own mean pooling */
    int32_t longp[200];
    int n = 0;
    for (int k = 0; k < 12; k++) {
        memcpy(longp + n, refs[k].prompt + (k ? 1 : 0),
               (size_t)(refs[k].n_prompt - (k ? 1 : 0)) * sizeof(int32_t));
        n += refs[k].n_prompt - (k ? 1 : 0);
        if (n > 150) break;
    }
    collector g, e;
    col_init(&g);
    rx_sched_request r = greedy_request(refs[0].prompt, refs[0].n_prompt, 64, &g);
    submit_ok(s, &r);
    embed(s, &e, longp, n);
    col_wait(&g, 0);
    assert_ref_tokens(&g, &refs[0], 0);
    float want[1024];
    embed_direct(longp, n, want);
    for (int i = 0; i < e.n_embd; i++)
        if (fabsf(e.embd[i] - want[i]) > 1e-4f)
            fail_msg("embedding[%d] %g, engine %g", i, e.embd[i], want[i]);
    col_fini(&a);
    col_fini(&b);
    col_fini(&c);
    col_fini(&g);
    col_fini(&e);
    rx_sched_free(s);

    /* the engine hands out no hidden states unless asked to */
    rx_context_params p = rx_context_default_params();
    p.n_ctx = 64;
    rx_context *ctx;
    assert_int_equal(rx_context_create(model, &p, &ctx), RX_OK);
    int32_t pos[5] = {0, 1, 2, 3, 4};
    rx_batch b5 = {5, refs[0].prompt, pos, NULL, NULL};
    assert_int_equal(rx_decode(ctx, &b5), RX_OK);
    assert_non_null(rx_logits(ctx, 0));
    assert_null(rx_embedding(ctx, 0));
    rx_context_free(ctx);
}

#define STRESS_THREADS 4
#define STRESS_EACH 24

typedef struct {
    rx_sched *s;
    int t;
    collector c[STRESS_EACH];
    int line[STRESS_EACH], max_tokens[STRESS_EACH];
    bool accepted[STRESS_EACH], cancelled[STRESS_EACH];
    int n_full, n_other;
} stress_worker;

/* Submits from its own thread; cancels every third request it got in right away. No cmocka
 * assertions off the main thread: the results are checked after the join. */
static void *stress_main(void *arg)
{
    stress_worker *w = arg;
    for (int i = 0; i < STRESS_EACH; i++) {
        col_init(&w->c[i]);
        w->line[i] = (i + w->t * 5) % N_REF;
        w->max_tokens[i] = 1 + (i * 7 + w->t * 3) % 64;
        rx_sched_request r = greedy_request(refs[w->line[i]].prompt, refs[w->line[i]].n_prompt,
                                            w->max_tokens[i], &w->c[i]);
        r.tenant = i % 2 ? "x" : "y";
        uint64_t id;
        rx_status st = rx_sched_submit(w->s, &r, &id);
        if (st == RX_OK) {
            w->accepted[i] = true;
            if (i % 3 == 0) {
                w->cancelled[i] = true;
                rx_sched_cancel(w->s, id);
            }
        } else if (st == RX_ERR_FULL) {
            w->n_full++;
            struct timespec nap = {0, 2 * 1000 * 1000};
            nanosleep(&nap, NULL);
        } else {
            w->n_other++;
        }
    }
    return NULL;
}

/* Several threads submitting and cancelling at once against a small queue and chunked
 * prefill: every accepted request gets exactly one terminal event, nothing after it, and the
 * greedy tokens of those that ran are the reference's whatever they were batched with. */
static void test_concurrent_submit_cancel(void **state)
{
    (void)state;
    rx_sched *s = make_sched(4, 32, 8, 256);
    static stress_worker w[STRESS_THREADS];
    pthread_t th[STRESS_THREADS];
    for (int t = 0; t < STRESS_THREADS; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].s = s;
        w[t].t = t;
        assert_int_equal(pthread_create(&th[t], NULL, stress_main, &w[t]), 0);
    }
    for (int t = 0; t < STRESS_THREADS; t++)
        pthread_join(th[t], NULL);
    int accepted = 0, cancelled = 0;
    for (int t = 0; t < STRESS_THREADS; t++) {
        assert_int_equal(w[t].n_other, 0);
        for (int i = 0; i < STRESS_EACH; i++) {
            collector *c = &w[t].c[i];
            if (!w[t].accepted[i]) continue;
            accepted++;
            col_wait(c, 0);
            assert_false(c->error);
            assert_int_equal(c->last.n_generated, c->n_tokens);
            const ref_line *ref = &refs[w[t].line[i]];
            for (int k = 0; k < c->n_tokens; k++)
                if (c->tokens[k] != ref->gen[k])
                    fail_msg("thread %d request %d: token %d is %d, reference %d", t, i, k,
                             c->tokens[k], ref->gen[k]);
            if (c->last.finish == RX_FINISH_CANCELLED) {
                cancelled++;
                assert_true(w[t].cancelled[i]);
            } else {
                assert_int_equal(c->last.finish, RX_FINISH_LENGTH);
                assert_int_equal(c->n_tokens, w[t].max_tokens[i]);
            }
        }
    }
    rx_sched_free(s); /* joins: no late event can arrive after this */
    for (int t = 0; t < STRESS_THREADS; t++)
        for (int i = 0; i < STRESS_EACH; i++) {
            assert_false(w[t].c[i].event_after_done);
            if (!w[t].accepted[i]) assert_false(w[t].c[i].done);
            col_fini(&w[t].c[i]);
        }
    assert_true(accepted > 0);
    print_message("stress: %d accepted, %d cancelled, %d refused as full\n", accepted, cancelled,
                  w[0].n_full + w[1].n_full + w[2].n_full + w[3].n_full);
}

/* An idle scheduler waits on its condition variable: no CPU while nothing is queued. */
static void test_idle_sleeps(void **state)
{
    (void)state;
    rx_sched *s = make_sched(4, 0, 0, 256);
    collector c;
    col_init(&c);
    rx_sched_request r = greedy_request(refs[0].prompt, refs[0].n_prompt, 8, &c);
    submit_ok(s, &r);
    col_wait(&c, 0);
    col_fini(&c);
    struct timespec a, b, nap = {0, 200 * 1000 * 1000};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    const double cpu_ms =
        (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    if (cpu_ms > 20.0) fail_msg("%.1f ms of CPU in 200 ms of idling", cpu_ms);
    rx_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_one_at_a_time),
        cmocka_unit_test(test_reference_sixteen_at_once),
        cmocka_unit_test(test_reference_sixteen_at_once_f16_q4km),
        cmocka_unit_test(test_chunked_prefill_reference),
        cmocka_unit_test(test_prefill_interleaves_with_decode),
        cmocka_unit_test(test_queue_full_and_cancel_queued),
        cmocka_unit_test(test_admission_errors),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_held_text_on_cancel),
        cmocka_unit_test(test_prefix_cache),
        cmocka_unit_test(test_seeded_sampling),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_concurrent_submit_cancel),
        cmocka_unit_test(test_idle_sleeps),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
