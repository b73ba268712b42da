/* The stop-string filter alone: text released as soon as no stop string can start in it, a
 * stop string split over many pieces caught, the earliest of several winning, held text given
 * back at the end, and no release that splits a UTF-8 character. */
#include "rxtest.h"

#include <string.h>

#include "serve/sched_internal.h"

typedef struct {
    rx_sched_req q;
    char buf[256];
    rx_stop_filter f;
    char out[512]; /* everything released */
    size_t n_out;
    bool stopped;
} harness;

static void setup(harness *h, const char *const *stops, int n)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < n; i++) {
        h->q.stop[i] = stops[i];
        h->q.stop_len[i] = strlen(stops[i]);
    }
    h->q.n_stop = n;
    h->q.text_buf = h->buf;
    h->q.text_cap = sizeof h->buf;
    rx_stop__init(&h->f, &h->q);
}

/* Feeds one piece; returns the bytes released by it. */
static size_t feed(harness *h, const char *piece, bool final)
{
    assert_false(h->stopped);
    const char *t;
    size_t n;
    rx_stop__add(&h->f, piece, strlen(piece));
    h->stopped = rx_stop__take(&h->f, final, &t, &n);
    memcpy(h->out + h->n_out, t, n);
    h->n_out += n;
    h->out[h->n_out] = '\0';
    return n;
}

static void test_no_stops_passes_through(void **state)
{
    (void)state;
    harness h;
    setup(&h, NULL, 0);
    assert_int_equal(feed(&h, "Hello", false), 5);
    assert_int_equal(feed(&h, " world", false), 6);
    assert_string_equal(h.out, "Hello world");
}

static void test_split_stop(void **state)
{
    (void)state;
    const char *stops[] = {"<|end|>"};
    harness h;
    setup(&h, stops, 1);
    assert_int_equal(feed(&h, "abc<", false), 3); /* "<" may start the stop: held */
    assert_int_equal(feed(&h, "|e", false), 0);
    assert_int_equal(feed(&h, "nd", false), 0);
    assert_int_equal(feed(&h, "|>tail", false), 0);
    assert_true(h.stopped);
    assert_string_equal(h.out, "abc");
}

static void test_false_start_released(void **state)
{
    (void)state;
    const char *stops[] = {"STOP"};
    harness h;
    setup(&h, stops, 1);
    assert_int_equal(feed(&h, "xST", false), 1);
    assert_int_equal(feed(&h, "OP", false), 0);
    assert_true(h.stopped);
    assert_string_equal(h.out, "x");

    setup(&h, stops, 1);
    feed(&h, "xSTO", false);
    assert_int_equal(feed(&h, "RM", false), 5); /* "STORM": not a stop, all released */
    assert_string_equal(h.out, "xSTORM");
    /* held at the end and given back by the final take */
    feed(&h, " ST", false);
    assert_string_equal(h.out, "xSTORM ");
    feed(&h, "", true);
    assert_false(h.stopped);
    assert_string_equal(h.out, "xSTORM ST");
}

static void test_earliest_stop_wins(void **state)
{
    (void)state;
    const char *stops[] = {"world", "lo w", "o"};
    harness h;
    setup(&h, stops, 3);
    feed(&h, "Hello world", false);
    assert_true(h.stopped);
    assert_string_equal(h.out, "Hel"); /* "lo w" starts first */
    /* a stop inside one piece, text after it dropped */
    const char *one[] = {"\n\n"};
    setup(&h, one, 1);
    feed(&h, "line\n\nnext", false);
    assert_true(h.stopped);
    assert_string_equal(h.out, "line");
}

static void test_utf8_never_split(void **state)
{
    (void)state;
    /* the stop begins with the second byte of "é" (0xC3 0xA9): holding its possible start must
     * not release the first byte alone */
    const char *stops[] = {"\xa9x"};
    harness h;
    setup(&h, stops, 1);
    assert_int_equal(feed(&h, "ab\xc3\xa9", false), 2);
    assert_string_equal(h.out, "ab");
    feed(&h, "y", false);
    assert_string_equal(h.out, "ab\xc3\xa9y");
    /* a multi-byte stop string */
    const char *emoji[] = {"\xf0\x9f\x98\x80!"};
    setup(&h, emoji, 1);
    feed(&h, "hi \xf0\x9f\x98\x80", false);
    assert_string_equal(h.out, "hi ");
    feed(&h, "!", false);
    assert_true(h.stopped);
    assert_string_equal(h.out, "hi ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_stops_passes_through), cmocka_unit_test(test_split_stop),
        cmocka_unit_test(test_false_start_released),    cmocka_unit_test(test_earliest_stop_wins),
        cmocka_unit_test(test_utf8_never_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
