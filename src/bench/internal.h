/* Shared inside src/bench: a small seeded generator (so runs repeat exactly on every
 * platform, unlike rand()) and the open-loop arrival schedule. */
#ifndef RX_BENCH_INTERNAL_H
#define RX_BENCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "reflex/status.h"

/* splitmix64: tiny, full-period, good enough to pick words and inter-arrival times. */
static inline uint64_t rx_bench__next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() of it is finite. */
static inline double rx_bench__uniform(uint64_t *state)
{
    return ((double)(rx_bench__next(state) >> 11) + 0.5) / 9007199254740992.0;
}

/* Send times (seconds from the start, ascending) for an open loop at rate requests/s whose
 * inter-arrival gaps are gamma(shape = burstiness, mean = 1/rate), as vLLM draws them; shape
 * 1 is a Poisson process, < 1 burstier, > 1 more even. n > 0: exactly n times; otherwise as
 * many as fall before duration_s. rate = INFINITY sends everything at 0. Owned by the caller. */
rx_status rx_bench__arrivals(double rate, double burstiness, uint64_t seed, int64_t n,
                             double duration_s, double **times, int64_t *n_times);

/* Where requests go, from --url and the endpoint. */
typedef struct {
    char host[256];
    int port;
    char host_header[300]; /* "host:port" */
    char path[1024];       /* "/v1/completions", after any prefix in the URL */
    bool tls;              /* https:// */
} rx_bench_target;

/* Parses http[s]://host[:port][/prefix]. RX_ERR_INVALID_ARG with a message naming the URL. */
rx_status rx_bench__target(const char *url, int endpoint, rx_bench_target *t);

/* --- TLS for https targets (OpenSSL under libevent's bufferevent_openssl): tls.c --- */
struct ssl_ctx_st;
struct bufferevent;
struct event_base;

/* A client context that checks the server's certificate against ca_file (NULL: the system's
 * CAs) unless insecure. RX_ERR_FORMAT naming ca_file if it does not load. */
rx_status rx_bench__tls_ctx(const char *ca_file, bool insecure, struct ssl_ctx_st **out);
void rx_bench__tls_ctx_free(struct ssl_ctx_st *ctx); /* accepts NULL */
/* A fresh TLS bufferevent for one connection to host (SNI, and host or IP check unless
 * insecure); NULL if out of memory. */
struct bufferevent *rx_bench__tls_bev(struct event_base *base, struct ssl_ctx_st *ctx,
                                      const char *host, bool insecure);
/* OpenSSL's reason for the last failure on bev, or NULL. */
const char *rx_bench__tls_error(struct bufferevent *bev);

/* One gamma(shape, 1) draw (Marsaglia and Tsang). */
double rx_bench__gamma(uint64_t *state, double shape);

#endif
