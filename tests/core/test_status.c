/* core/status.c and core/fp16.h: messages, context, and half-precision rounding. */
#include "rxtest.h"

#include <math.h>
#include <string.h>

#include "core/fp16.h"
#include "reflex/status.h"

static void test_message_and_context(void **state)
{
    (void)state;
    rx_status s = rx_error(RX_ERR_FORMAT, "gguf: field %s at byte %d", "n_kv", 16);
    assert_int_equal(s, RX_ERR_FORMAT);
    assert_string_equal(rx_last_error(), "gguf: field n_kv at byte 16");
    rx_error_context(s, "loading %s: ", "m.gguf");
    assert_string_equal(rx_last_error(), "loading m.gguf: gguf: field n_kv at byte 16");
    assert_string_equal(rx_status_str(RX_ERR_NOMEM), "out of memory");
    assert_string_equal(rx_status_str((rx_status)999), "unknown status");
}

/* Every half converts to float and back unchanged (NaNs stay NaN). */
static void test_fp16_round_trip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = rx_fp16_to_f32((uint16_t)h);
        if (isnan(f)) {
            assert_true(isnan(rx_fp16_to_f32(rx_f32_to_fp16(f))));
            continue;
        }
        assert_int_equal(rx_f32_to_fp16(f), h);
    }
}

/* Floats between two adjacent halves round to the nearer, ties to even. */
static void test_fp16_rounding(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        float lo = rx_fp16_to_f32((uint16_t)h), hi = rx_fp16_to_f32((uint16_t)(h + 1));
        float mid = (float)(((double)lo + (double)hi) / 2);
        uint16_t want = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(rx_f32_to_fp16(mid), want);
        assert_int_equal(rx_f32_to_fp16(nextafterf(mid, 0)), h);
        assert_int_equal(rx_f32_to_fp16(nextafterf(mid, INFINITY)), h + 1);
    }
    assert_int_equal(rx_f32_to_fp16(65520.0f), 0x7c00);
    assert_int_equal(rx_f32_to_fp16(-1e10f), 0xfc00);
    assert_int_equal(rx_f32_to_bf16(1.0f), 0x3f80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_and_context),
        cmocka_unit_test(test_fp16_round_trip),
        cmocka_unit_test(test_fp16_rounding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
