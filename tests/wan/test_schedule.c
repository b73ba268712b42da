/* wan/schedule.c and wan/units.c: the delivery schedule as arithmetic (no sockets, no root):
 * delay, order under jitter, the rate's transmitter shared by connections, the handshake's
 * round trip, the timer lateness average, and the duration and rate spellings. */
#include "rxtest.h"

#include <stdlib.h>

#include "wan/internal.h"

static void test_delay_and_order(void **state)
{
    (void)state;
    /* no jitter: each piece arrives one delay after it was sent */
    assert_int_equal(rx_wan__deliver_at(0, 1000, 30000, 0), 31000);
    /* a piece never overtakes the one before it, however its jitter falls */
    assert_int_equal(rx_wan__deliver_at(40000, 1000, 30000, -2000), 40000);
    assert_int_equal(rx_wan__deliver_at(20000, 1000, 30000, -2000), 29000);
    /* negative jitter larger than the delay still does not deliver before sending */
    assert_int_equal(rx_wan__deliver_at(0, 5000, 1000, -3000), 5000);
}

static void test_open_hold(void **state)
{
    (void)state;
    /* first bytes sent at accept: 2 x delay for the skipped handshake, then the crossing */
    int64_t hold = rx_wan__open_hold(100, 25000);
    assert_int_equal(hold, 100 + 75000);
    assert_int_equal(rx_wan__deliver_at(hold, 100, 25000, 0), 75100);
    /* bytes sent later than a handshake would have taken are not held at all */
    assert_int_equal(rx_wan__deliver_at(hold, 100000, 25000, 0), 125000);
}

static void test_transmit_rate(void **state)
{
    (void)state;
    rx_wan_shaper sh = {0};
    /* unlimited: leaves at once and the transmitter keeps no backlog */
    assert_int_equal(rx_wan__transmit(&sh, 500, 65536, 0), 500);
    /* 8 mbit/s = 1 byte/us: 1000 bytes take 1000 us */
    assert_int_equal(rx_wan__transmit(&sh, 0, 1000, 8000000), 1000);
    /* a second piece offered at once (another connection, same direction) queues behind it */
    assert_int_equal(rx_wan__transmit(&sh, 0, 1000, 8000000), 2000);
    /* after an idle gap the transmitter starts when offered */
    assert_int_equal(rx_wan__transmit(&sh, 10000, 500, 8000000), 10500);
    /* rounding is up: 1 byte at 3 mbit/s is 2.67 us, charged 3 */
    rx_wan_shaper s2 = {0};
    assert_int_equal(rx_wan__transmit(&s2, 0, 1, 3000000), 3);
    /* 1 MB at 20 mbit/s: 400 ms, in 2500-byte pieces as the relay reads them */
    rx_wan_shaper s3 = {0};
    size_t chunk = rx_wan__chunk_bytes(20000000);
    assert_int_equal(chunk, 2500);
    int64_t done = 0;
    for (size_t sent = 0; sent < 1000000; sent += chunk)
        done = rx_wan__transmit(&s3, 0, chunk, 20000000);
    assert_int_equal(done, 400000);
}

static void test_chunk_bytes(void **state)
{
    (void)state;
    assert_int_equal(rx_wan__chunk_bytes(0), 65536);
    assert_int_equal(rx_wan__chunk_bytes(8000), 1500);             /* floor */
    assert_int_equal(rx_wan__chunk_bytes(100000000), 12500);       /* 1 ms of 100 mbit */
    assert_int_equal(rx_wan__chunk_bytes(100000000000ull), 65536); /* ceiling */
}

static void test_jitter_spread(void **state)
{
    (void)state;
    uint64_t rng = 42;
    assert_int_equal(rx_wan__jitter(&rng, 0), 0);
    int64_t lo = 0, hi = 0, sum = 0;
    int below = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        int64_t j = rx_wan__jitter(&rng, 3000);
        assert_true(j >= -3000 && j <= 3000);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
        sum += j;
        below += j < 0;
    }
    /* uniform over [-3000, 3000]: reaches both ends, centred (mean within ~5 standard errors) */
    assert_true(lo < -2990 && hi > 2990);
    assert_true(llabs(sum / n) < 20);
    assert_true(below > n / 2 - 2000 && below < n / 2 + 2000);
}

static void test_lateness(void **state)
{
    (void)state;
    int64_t ewma = 0;
    for (int i = 0; i < 100; i++)
        rx_wan__lateness_update(&ewma, 300);
    assert_true(ewma > 280 && ewma <= 300);
    /* one badly preempted wake moves it by an eighth of the capped lateness at most */
    rx_wan__lateness_update(&ewma, 50000);
    assert_true(ewma <= 300 + (RX_WAN_MAX_WAKE_EARLY_US - 300) / 8 + 1);
    /* early wakes (negative lateness) pull it towards 0, never below */
    for (int i = 0; i < 200; i++)
        rx_wan__lateness_update(&ewma, -500);
    assert_true(ewma >= 0 && ewma < 10);
}

static void test_durations(void **state)
{
    (void)state;
    int64_t us;
    assert_true(rx_wan__parse_duration_us("75ms", &us) && us == 75000);
    assert_true(rx_wan__parse_duration_us("1.5ms", &us) && us == 1500);
    assert_true(rx_wan__parse_duration_us("200us", &us) && us == 200);
    assert_true(rx_wan__parse_duration_us("2s", &us) && us == 2000000);
    assert_true(rx_wan__parse_duration_us("0", &us) && us == 0);
    assert_true(rx_wan__parse_duration_us("0.0005ms", &us) && us == 1); /* rounded */
    assert_true(rx_wan__parse_duration_us("10s", &us) && us == 10000000);
    const char *bad[] = {"",     "ms",  "75",  "-1ms", "+1ms", "1e3ms",  "1..5ms", "75 ms",
                         "75MS", "11s", "nan", "inf",  "1.5",  "0x10ms", "75msx",  ".ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(rx_wan__parse_duration_us(bad[i], &us));
}

static void test_rates(void **state)
{
    (void)state;
    uint64_t bps;
    assert_true(rx_wan__parse_rate_bps("100mbit", &bps) && bps == 100000000u);
    assert_true(rx_wan__parse_rate_bps("1.5Mbit", &bps) && bps == 1500000u);
    assert_true(rx_wan__parse_rate_bps("512kbit", &bps) && bps == 512000u);
    assert_true(rx_wan__parse_rate_bps("1gbit", &bps) && bps == 1000000000u);
    assert_true(rx_wan__parse_rate_bps("9600bit", &bps) && bps == 9600u);
    const char *bad[] = {"", "100", "100mb", "100mbps", "-1mbit", "101gbit", "1e9bit", "mbit"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(rx_wan__parse_rate_bps(bad[i], &bps));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_and_order), cmocka_unit_test(test_open_hold),
        cmocka_unit_test(test_transmit_rate),   cmocka_unit_test(test_chunk_bytes),
        cmocka_unit_test(test_jitter_spread),   cmocka_unit_test(test_lateness),
        cmocka_unit_test(test_durations),       cmocka_unit_test(test_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
