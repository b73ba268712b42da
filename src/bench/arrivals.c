/* Open-loop arrival schedule: gamma-distributed inter-arrival gaps (Poisson at shape 1), the
 * model vLLM's bench serve uses for --request-rate with --burstiness. */
#include <math.h>
#include <stdlib.h>

#include "bench/internal.h"

static double normal(uint64_t *st)
{
    double u = rx_bench__uniform(st), v = rx_bench__uniform(st);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

double rx_bench__gamma(uint64_t *st, double shape)
{
    if (shape < 1.0) /* boost: gamma(a) = gamma(a + 1) * U^(1/a) */
        return rx_bench__gamma(st, shape + 1.0) * pow(rx_bench__uniform(st), 1.0 / shape);
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(st), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = rx_bench__uniform(st);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

rx_status rx_bench__arrivals(double rate, double burstiness, uint64_t seed, int64_t n,
                             double duration_s, double **times, int64_t *n_times)
{
    *times = NULL;
    *n_times = 0;
    if (!(rate > 0) || !(burstiness > 0) || (n <= 0 && !(duration_s > 0)))
        return rx_error(RX_ERR_INVALID_ARG, "bench: arrivals need rate > 0, burstiness > 0 and "
                                            "a request count or a duration");
    if (n <= 0 && isinf(rate))
        return rx_error(RX_ERR_INVALID_ARG, "bench: an infinite rate needs a request count");
    uint64_t st = seed ^ 0x5bd1e995ull;
    size_t cap = n > 0 ? (size_t)n : 1024;
    double *t = malloc(cap * sizeof *t), now = 0.0;
    int64_t k = 0;
    while (t) {
        /* the first request goes at 0, as in vLLM; each later one after a fresh gap */
        if (k > 0 && !isinf(rate)) now += rx_bench__gamma(&st, burstiness) / (burstiness * rate);
        if (n > 0 ? k >= n : now > duration_s) break;
        if ((size_t)k == cap) {
            double *g = realloc(t, 2 * cap * sizeof *t);
            if (!g) break;
            t = g;
            cap *= 2;
        }
        t[k++] = isinf(rate) ? 0.0 : now;
    }
    if (!t || (n > 0 && k < n) || (n <= 0 && !(now > duration_s))) {
        free(t);
        return rx_error(RX_ERR_NOMEM, "bench: no memory for the arrival schedule");
    }
    *times = t;
    *n_times = k;
    return RX_OK;
}
