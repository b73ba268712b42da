/* The sampler chain (see reflex/sampler.h): penalties, top-k, top-p, min-p, temperature, draw.
 * Candidates live in one array allocated at creation; each step filters it in place. */
#include "reflex/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t id;
    float logit;
    float p;
} candidate;

struct rx_sampler {
    rx_sampler_params p;
    int32_t n_vocab;
    candidate *cand;   /* owned, [n_vocab] */
    int32_t *history;  /* owned ring buffer, [penalty_last_n] */
    int32_t n_history, history_head;
    int32_t *counts;   /* owned, [n_vocab]: scratch for penalties */
    uint64_t rng[4];   /* xoshiro256** state */
};

rx_sampler_params rx_sampler_default_params(void)
{
    return (rx_sampler_params){
        .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
        .repeat_penalty = 1.0f, .frequency_penalty = 0.0f, .presence_penalty = 0.0f,
        .penalty_last_n = 64, .seed = 0, .n_top_logprobs = 0,
    };
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t *s)
{
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_uniform(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

rx_status rx_sampler_create(const rx_sampler_params *p, int32_t n_vocab, rx_sampler **out)
{
    *out = NULL;
    if (n_vocab <= 0) return rx_error(RX_ERR_INVALID_ARG, "sampler: n_vocab %d", n_vocab);
    if (isnan(p->temperature) || p->temperature > 100.0f)
        return rx_error(RX_ERR_INVALID_ARG, "sampler: temperature %g is not in [0, 100]", p->temperature);
    if (isnan(p->top_p) || p->top_p < 0.0f)
        return rx_error(RX_ERR_INVALID_ARG, "sampler: top_p %g is not in [0, 1]", p->top_p);
    if (!(p->min_p <= 1.0f) || isnan(p->min_p))
        return rx_error(RX_ERR_INVALID_ARG, "sampler: min_p %g is not in [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0.0f) || isnan(p->frequency_penalty) || isnan(p->presence_penalty))
        return rx_error(RX_ERR_INVALID_ARG, "sampler: penalties must be finite, repeat_penalty > 0");
    if (p->penalty_last_n < 0 || p->penalty_last_n > (1 << 20))
        return rx_error(RX_ERR_INVALID_ARG, "sampler: penalty_last_n %d is not in [0, 2^20]",
                        p->penalty_last_n);
    if (p->n_top_logprobs < 0 || p->n_top_logprobs > RX_MAX_TOP_LOGPROBS)
        return rx_error(RX_ERR_INVALID_ARG, "sampler: top logprobs %d is not in [0, %d]",
                        p->n_top_logprobs, RX_MAX_TOP_LOGPROBS);
    rx_sampler *s = calloc(1, sizeof *s);
    if (!s) return rx_error(RX_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->history = malloc((size_t)(p->penalty_last_n ? p->penalty_last_n : 1) * sizeof *s->history);
    if (!s->cand || !s->counts || !s->history) {
        rx_sampler_free(s);
        return rx_error(RX_ERR_NOMEM, "sampler: out of memory");
    }
    rx_sampler_reset(s);
    *out = s;
    return RX_OK;
}

void rx_sampler_free(rx_sampler *s)
{
    if (!s) return;
    free(s->cand);
    free(s->counts);
    free(s->history);
    free(s);
}

void rx_sampler_reset(rx_sampler *s)
{
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    s->n_history = s->history_head = 0;
}

void rx_sampler_accept(rx_sampler *s, int32_t token)
{
    const int32_t cap = s->p.penalty_last_n;
    if (cap == 0) return;
    s->history[s->history_head] = token;
    s->history_head = (s->history_head + 1) % cap;
    if (s->n_history < cap) s->n_history++;
}

static bool penalties_on(const rx_sampler_params *p)
{
    return p->penalty_last_n > 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

/* llama.cpp's penalties: divide positive logits (multiply negative ones) by the repeat
 * penalty, then subtract count * frequency + presence for every token seen in the window. */
static void apply_penalties(rx_sampler *s)
{
    const rx_sampler_params *p = &s->p;
    for (int32_t i = 0; i < s->n_history; i++) {
        int32_t t = s->history[i];
        if (t >= 0 && t < s->n_vocab) s->counts[t]++;
    }
    for (int32_t i = 0; i < s->n_history; i++) {
        int32_t t = s->history[i];
        if (t < 0 || t >= s->n_vocab || s->counts[t] == 0) continue;
        float *l = &s->cand[t].logit;
        *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)s->counts[t] * p->frequency_penalty + p->presence_penalty;
        s->counts[t] = 0; /* each distinct token once */
    }
}

static int by_logit_desc(const void *a, const void *b)
{
    float x = ((const candidate *)a)->logit, y = ((const candidate *)b)->logit;
    if (x != y) return x > y ? -1 : 1;
    return ((const candidate *)a)->id - ((const candidate *)b)->id;
}

/* Moves the k largest logits to the front (unordered) by quickselect: O(n) on average. */
static void select_top(candidate *c, int32_t n, int32_t k)
{
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        candidate pivot = c[(lo + hi) / 2];
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (by_logit_desc(&c[i], &pivot) < 0) i++;
            while (by_logit_desc(&c[j], &pivot) > 0) j--;
            if (i <= j) {
                candidate t = c[i];
                c[i++] = c[j];
                c[j--] = t;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

/* Softmax over the sorted candidates (largest first). */
static void softmax_sorted(candidate *c, int32_t n)
{
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf(c[i].logit - c[0].logit);
        sum += c[i].p;
    }
    for (int32_t i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
}

static int32_t greedy(const candidate *c, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (c[i].logit > c[best].logit) best = i;
    return c[best].id;
}

static int32_t sample_filtered(rx_sampler *s)
{
    const rx_sampler_params *p = &s->p;
    candidate *c = s->cand;
    int32_t n = s->n_vocab;
    if (p->top_k > 0 && p->top_k < n) {
        select_top(c, n, p->top_k);
        n = p->top_k;
    }
    qsort(c, (size_t)n, sizeof *c, by_logit_desc);
    softmax_sorted(c, n);
    if (p->top_p < 1.0f) {
        double cum = 0.0;
        for (int32_t i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f) {
        const float floor_logit = c[0].logit + logf(p->min_p);
        int32_t keep = 1;
        while (keep < n && c[keep].logit >= floor_logit) keep++;
        n = keep;
    }
    for (int32_t i = 0; i < n; i++) c[i].logit /= p->temperature;
    softmax_sorted(c, n);
    double r = next_uniform(s->rng), cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += c[i].p;
        if (r < cum) return c[i].id;
    }
    return c[n - 1].id;
}

int32_t rx_sampler_sample(rx_sampler *s, const float *logits, rx_sample_info *info)
{
    for (int32_t i = 0; i < s->n_vocab; i++) s->cand[i] = (candidate){i, logits[i], 0.0f};
    if (penalties_on(&s->p)) apply_penalties(s);
    int32_t id = s->p.temperature <= 0.0f ? greedy(s->cand, s->n_vocab) : sample_filtered(s);
    rx_sampler_accept(s, id);
    if (info) rx_logprobs(logits, s->n_vocab, id, s->p.n_top_logprobs, info);
    return id;
}

void rx_logprobs(const float *logits, int32_t n_vocab, int32_t token, int32_t n_top,
                 rx_sample_info *info)
{
    float max = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    const double lse = log(sum) + max;
    if (n_top > RX_MAX_TOP_LOGPROBS) n_top = RX_MAX_TOP_LOGPROBS;
    if (n_top > n_vocab) n_top = n_vocab;
    info->id = token;
    info->logprob = token >= 0 && token < n_vocab ? (float)(logits[token] - lse) : -INFINITY;
    info->n_top = 0;
    /* insertion into a short sorted list: n_top is at most 20 */
    for (int32_t i = 0; i < n_vocab && n_top > 0; i++) {
        float lp = (float)(logits[i] - lse);
        int32_t k = info->n_top;
        if (k == n_top && lp <= info->top[k - 1].logprob) continue;
        if (k < n_top) info->n_top++;
        else k--;
        while (k > 0 && info->top[k - 1].logprob < lp) {
            info->top[k] = info->top[k - 1];
            k--;
        }
        info->top[k] = (rx_token_logprob){i, lp};
    }
}
