/*
 * Unit tests of the acknowledgement tracker: deliveries out of order never let the
 * acknowledged position skip an undelivered batch, and a failure stops acknowledgement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ack_tracker.h"

static cdc_pos_t P(int64_t h)
{
    return (cdc_pos_t){1, h};
}

static void test_in_order_prefix_only(void **state)
{
    (void)state;
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    uint64_t a = cdc_ack_tracker_open(t, P(10), NULL);
    cdc_ack_tracker_add(t, a);
    cdc_ack_tracker_add(t, a);
    cdc_ack_tracker_close(t, a);
    uint64_t b = cdc_ack_tracker_open(t, P(20), NULL);
    cdc_ack_tracker_add(t, b);
    cdc_ack_tracker_close(t, b);
    cdc_pos_t pos = {0, 0};

    cdc_ack_tracker_delivered(t, b, 1); /* the later batch first */
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 0);
    cdc_ack_tracker_delivered(t, a, 1);
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 0); /* a still has one pending */
    assert_int_equal(cdc_ack_tracker_in_flight(t), 1);
    cdc_ack_tracker_delivered(t, a, 1);
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 1);
    assert_int_equal(pos.h, 10); /* one batch at a time, in opening order */
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 1);
    assert_int_equal(pos.h, 20);
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 0);
    cdc_ack_tracker_destroy(t);
}

static void test_open_batch_blocks(void **state)
{
    (void)state;
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    int tag = 7;
    uint64_t a = cdc_ack_tracker_open(t, P(5), &tag);
    cdc_ack_tracker_add(t, a);
    cdc_ack_tracker_delivered(t, a, 1);
    cdc_pos_t pos;
    void *got = NULL;
    assert_int_equal(cdc_ack_tracker_take(t, &pos, &got), 0); /* not closed yet */
    cdc_ack_tracker_close(t, a);
    assert_int_equal(cdc_ack_tracker_take(t, &pos, &got), 1);
    assert_ptr_equal(got, &tag);
    /* an empty batch (a read that found nothing) is ackable once closed */
    uint64_t e = cdc_ack_tracker_open(t, P(6), NULL);
    cdc_ack_tracker_close(t, e);
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 1);
    assert_int_equal(pos.h, 6);
    cdc_ack_tracker_destroy(t);
}

static void test_failure_stops_acknowledgement(void **state)
{
    (void)state;
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    uint64_t a = cdc_ack_tracker_open(t, P(1), NULL);
    cdc_ack_tracker_add(t, a);
    cdc_ack_tracker_close(t, a);
    cdc_ack_tracker_delivered(t, a, 0);
    cdc_pos_t pos;
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 0);
    assert_true(cdc_ack_tracker_failed(t));
    cdc_ack_tracker_destroy(t);
}

static void test_many_batches_grow_ring(void **state)
{
    (void)state;
    cdc_ack_tracker_t *t = cdc_ack_tracker_new();
    uint64_t ids[1000];
    for (int i = 0; i < 1000; i++) {
        ids[i] = cdc_ack_tracker_open(t, P(i + 1), NULL);
        cdc_ack_tracker_add(t, ids[i]);
        cdc_ack_tracker_close(t, ids[i]);
    }
    for (int i = 999; i >= 1; i--) /* deliver all but the first, newest first */
        cdc_ack_tracker_delivered(t, ids[i], 1);
    cdc_pos_t pos;
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 0);
    cdc_ack_tracker_delivered(t, ids[0], 1);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 1);
        assert_int_equal(pos.h, i + 1);
    }
    assert_int_equal(cdc_ack_tracker_take(t, &pos, NULL), 0);
    assert_int_equal(cdc_ack_tracker_in_flight(t), 0);
    cdc_ack_tracker_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_prefix_only),
        cmocka_unit_test(test_open_batch_blocks),
        cmocka_unit_test(test_failure_stops_acknowledgement),
        cmocka_unit_test(test_many_batches_grow_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
