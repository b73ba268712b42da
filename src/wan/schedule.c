/* The delivery schedule of the WAN relay, as pure functions of the clock: a link is a
 * transmitter of the configured rate followed by a wire of the configured delay (plus jitter),
 * and each TCP stream keeps its order. Kept apart from the event loop so tests can check the
 * arithmetic without sockets. */
#include "wan/internal.h"

int64_t rx_wan__transmit(rx_wan_shaper *s, int64_t now_us, size_t n, uint64_t rate_bps)
{
    if (rate_bps == 0) return now_us;
    int64_t start = s->tx_free_us > now_us ? s->tx_free_us : now_us;
    /* rounded up: a link never sends faster than its rate */
    uint64_t bits = (uint64_t)n * 8u;
    int64_t tx_us = (int64_t)((bits * 1000000u + rate_bps - 1) / rate_bps);
    s->tx_free_us = start + tx_us;
    return s->tx_free_us;
}

int64_t rx_wan__deliver_at(int64_t prev_us, int64_t sent_us, int64_t delay_us, int64_t jitter_us)
{
    int64_t at = sent_us + delay_us + jitter_us;
    if (at < sent_us) at = sent_us;
    return at > prev_us ? at : prev_us;
}

int64_t rx_wan__jitter(uint64_t *rng, int64_t jitter_us)
{
    if (jitter_us <= 0) return 0;
    /* splitmix64: good enough spread for a delay sample, and no state beyond one word */
    uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    uint64_t span = (uint64_t)jitter_us * 2u + 1u;
    return (int64_t)(z % span) - jitter_us;
}

int64_t rx_wan__open_hold(int64_t accept_us, int64_t delay_us)
{
    return accept_us + 3 * delay_us;
}

size_t rx_wan__chunk_bytes(uint64_t rate_bps)
{
    if (rate_bps == 0) return 65536;
    uint64_t per_ms = rate_bps / 8u / 1000u;
    if (per_ms < 1500) return 1500;
    return per_ms > 65536 ? 65536 : (size_t)per_ms;
}

void rx_wan__lateness_update(int64_t *ewma_us, int64_t late_us)
{
    if (late_us < 0) late_us = 0;
    if (late_us > RX_WAN_MAX_WAKE_EARLY_US) late_us = RX_WAN_MAX_WAKE_EARLY_US;
    /* 1/8 weight: a few wakes settle it, one preempted wake barely moves it */
    *ewma_us += (late_us - *ewma_us) / 8;
}
