/* Main-memory read bandwidth, the roofline that bounds decode speed: each thread sums its
 * share of a buffer far larger than the last-level cache; the best of several passes counts.
 * Usage: membw [threads] [MiB]. Prints "read_GBps <value>". Built by engine-vs-llamacpp.sh. */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const __m256i *p;
    size_t n;
    long long sink;
} share;

static void *sum_share(void *arg)
{
    share *s = arg;
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 4 <= s->n; i += 4) {
        a = _mm256_add_epi64(a, _mm256_load_si256(s->p + i));
        b = _mm256_add_epi64(b, _mm256_load_si256(s->p + i + 1));
        c = _mm256_add_epi64(c, _mm256_load_si256(s->p + i + 2));
        d = _mm256_add_epi64(d, _mm256_load_si256(s->p + i + 3));
    }
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    s->sink = _mm256_extract_epi64(a, 0) + _mm256_extract_epi64(a, 3);
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int nt = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    if (nt < 1 || nt > 64 || mib < 64) {
        fprintf(stderr, "usage: membw [threads 1..64] [MiB >= 64]\n");
        return 2;
    }
    size_t bytes = mib << 20, n = bytes / sizeof(__m256i);
    __m256i *buf = aligned_alloc(64, bytes);
    if (!buf) return 1;
    memset(buf, 1, bytes);
    double best = 0;
    for (int pass = 0; pass < 5; pass++) {
        pthread_t th[64];
        share sh[64];
        double t0 = now();
        for (int t = 0; t < nt; t++) {
            sh[t] = (share){buf + n / nt * t, n / nt, 0};
            pthread_create(&th[t], NULL, sum_share, &sh[t]);
        }
        for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
        double gbps = (double)(n / nt * nt * sizeof(__m256i)) / (now() - t0) / 1e9;
        if (gbps > best) best = gbps;
    }
    printf("read_GBps %.2f\n", best);
    free(buf);
    return 0;
}
