/* test_gc_api_ft.c - the free-threaded build's rcgc/gc.h around the collector:
 * tracking bits, the young count, thresholds, debug flags, enable/disable,
 * callback registration, the garbage list and get_referents. The collector
 * itself: test_gc_ft.c and the conformance suites. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"
#include <pthread.h>

static void tracking_bits(void **state) {
    rcgc_object_t *n = gcm_node("n");
    assert_true(rcgc_gc_is_tracked(n));
    rcgc_gc_untrack(n);
    assert_false(rcgc_gc_is_tracked(n));
    rcgc_gc_untrack(n); /* harmless */
    rcgc_gc_track(n);
    assert_true(rcgc_gc_is_tracked(n));
    assert_false(rcgc_gc_is_finalized(n));
    rcgc_object_t *leaf = gcm_leaf("leaf");
    assert_false(rcgc_gc_is_tracked(leaf));
    gcm_drop(leaf);
    gcm_drop(n);
}

static void thresholds_flags_enable(void **state) {
    int th[3];
    rcgc_gc_get_threshold(th);
    assert_true(th[0] == 2000 && th[1] == 10 && th[2] == 10);
    assert_int_equal(rcgc_gc_set_threshold(1, 2, 3), 0);
    rcgc_gc_get_threshold(th);
    assert_true(th[0] == 1 && th[1] == 2 && th[2] == 3);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_set_threshold(1, -2, 3), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_int_equal(rcgc_gc_set_threshold(2000, 10, 10), 0);

    rcgc_gc_set_debug(RCGC_GC_DEBUG_LEAK);
    assert_int_equal(rcgc_gc_get_debug(), RCGC_GC_DEBUG_LEAK);
    rcgc_gc_set_debug(0);

    bool was = rcgc_gc_disable();
    assert_false(rcgc_gc_is_enabled());
    assert_false(rcgc_gc_enable());
    assert_true(rcgc_gc_is_enabled());
    if (!was) rcgc_gc_disable();
}

static void young_count(void **state) {
    intptr_t c0[3], c1[3];
    rcgc_gc_get_count(c0);
    rcgc_object_t *n = gcm_node("n");
    rcgc_gc_get_count(c1);
    assert_int_equal(c1[0], c0[0] + 1);
    gcm_drop(n);
    rcgc_gc_get_count(c1);
    assert_int_equal(c1[0], c0[0]);
}

/* The young count is kept per thread and added to the shared one in
 * batches: a thread's allocations show once it detaches, and the calling
 * thread's own ones at once, past any batch boundary. */
#define YOUNG_N 1000 /* over several batches */
static rcgc_object_t *young_objs[YOUNG_N];
static void *alloc_young(void *arg) {
    rcgc_thread_attach();
    for (int i = 0; i < YOUNG_N; i++) young_objs[i] = gcm_node("y");
    rcgc_thread_detach();
    return NULL;
}
static void young_count_across_threads(void **state) {
    intptr_t c0[3], c1[3];
    rcgc_gc_get_count(c0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, alloc_young, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    rcgc_gc_get_count(c1);
    assert_int_equal(c1[0], c0[0] + YOUNG_N);
    for (int i = 0; i < YOUNG_N; i++) gcm_drop(young_objs[i]); /* merged or queued: dropped here */
    rcgc_safepoint();
    rcgc_gc_get_count(c1);
    assert_int_equal(c1[0], c0[0]);
    rcgc_object_t *mine[YOUNG_N];
    for (int i = 0; i < YOUNG_N; i++) mine[i] = gcm_node("m");
    rcgc_gc_get_count(c1);
    assert_int_equal(c1[0], c0[0] + YOUNG_N);
    for (int i = 0; i < YOUNG_N; i++) gcm_drop(mine[i]);
    rcgc_gc_get_count(c1);
    assert_int_equal(c1[0], c0[0]);
}

static int cb_nop(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) { return 0; }

static void callbacks_and_garbage(void **state) {
    assert_int_equal(rcgc_gc_callback_add(cb_nop, NULL), 0);
    assert_int_equal(rcgc_gc_callback_remove(cb_nop, NULL), 0);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_callback_remove(cb_nop, NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_int_equal(rcgc_gc_garbage_count(), 0);
    assert_null(rcgc_gc_garbage_item(0));
    assert_null(rcgc_gc_garbage_take(0));
    rcgc_gc_garbage_clear();
    rcgc_gc_gen_stats_t st[3];
    rcgc_gc_get_stats(st);
    assert_int_equal(st[2].collections, 0);
}

static int count_visit(rcgc_object_t *o, void *arg) {
    (*(int *)arg)++;
    return 0;
}

static void referents_work(void **state) {
    rcgc_object_t *p = gcm_node("p");
    gcm_set_steal(p, GCM_A, gcm_leaf("l1"));
    gcm_set_steal(p, GCM_B, gcm_leaf("l2"));
    int n = 0;
    assert_int_equal(rcgc_gc_get_referents(&p, 1, count_visit, &n), 0);
    assert_int_equal(n, 2);
    gcm_drop(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tracking_bits),
        cmocka_unit_test(thresholds_flags_enable),
        cmocka_unit_test(young_count),
        cmocka_unit_test(young_count_across_threads),
        cmocka_unit_test(callbacks_and_garbage),
        cmocka_unit_test(referents_work),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
