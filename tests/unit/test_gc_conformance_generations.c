/* test_gc_conformance_generations.c - cpython-gc.md §18 F: counters,
 * generations, statistics, scheduling at safe points and the 25% rule
 * (§3.3-3.5, §4). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"

#define ASSERT_COUNT(c0, c1, c2)                 \
    do {                                         \
        intptr_t cnt_[3];                        \
        rcgc_gc_get_count(cnt_);                 \
        assert_int_equal(cnt_[0], (c0));         \
        assert_int_equal(cnt_[1], (c1));         \
        assert_int_equal(cnt_[2], (c2));         \
    } while (0)

/* S26 Young counter (test_get_count). */
static void s26_young_counter(void **state) {
    gcm_begin();
    rcgc_object_t *P = gcm_node("P");
    assert_int_equal(gcm_collect(2), 0);
    ASSERT_COUNT(0, 0, 0);
    rcgc_object_t *x = gcm_node("x");
    ASSERT_COUNT(1, 0, 0);
    gcm_drop(x);
    ASSERT_COUNT(0, 0, 0);
    gcm_drop(P); /* floored at 0 */
    ASSERT_COUNT(0, 0, 0);
    /* a non-GC allocation is not counted */
    rcgc_object_t *leaf = gcm_leaf("leaf");
    ASSERT_COUNT(0, 0, 0);
    gcm_drop(leaf);
}

/* S27 Generation counters (test_collect_generations). */
static void s27_generation_counters(void **state) {
    gcm_begin();
    rcgc_object_t *x = gcm_node("x");
    assert_int_equal(gcm_collect(0), 0);
    ASSERT_COUNT(0, 1, 0);
    assert_int_equal(gcm_collect(1), 0);
    ASSERT_COUNT(0, 0, 1);
    assert_int_equal(gcm_collect(2), 0);
    ASSERT_COUNT(0, 0, 0);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_collect(3), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_collect(-1), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    ASSERT_COUNT(0, 0, 0);
    gcm_drop(x);
}

/* S28 Generation membership (test_get_objects, test_get_objects_generations). */
static int always_one(rcgc_object_t *o, void *arg) { return 0; }

static void assert_only_in(const rcgc_object_t *L, int gen) {
    assert_true(gcm_in_objects(-1, L));
    for (int g = 0; g < 3; g++) assert_int_equal(gcm_in_objects(g, L), g == gen);
}

static void s28_generation_membership(void **state) {
    gcm_begin();
    rcgc_object_t *L = gcm_node("L");
    gcm_set(L, GCM_A, L);
    assert_only_in(L, 0);
    assert_int_equal(gcm_collect(0), 0);
    assert_only_in(L, 1);
    assert_int_equal(gcm_collect(1), 0);
    assert_only_in(L, 2);
    assert_int_equal(gcm_collect(2), 0);
    assert_only_in(L, 2);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_get_objects(3, always_one, NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_get_objects(-2, always_one, NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    /* get_objects(all) == union of 0, 1, 2 */
    rcgc_object_t *y = gcm_node("y"); /* one in generation 0 as well */
    assert_int_equal(gcm_count_objects(-1),
                     gcm_count_objects(0) + gcm_count_objects(1) + gcm_count_objects(2));
    assert_true(gcm_count_objects(0) >= 1);
    assert_true(gcm_count_objects(2) >= 1);
    gcm_drop(y);
    gcm_set(L, GCM_A, NULL);
    gcm_drop(L);
}

/* S29 Stats (test_get_stats). */
static void s29_stats(void **state) {
    gcm_begin();
    rcgc_gc_gen_stats_t s[3];
    gcm_stats(s);
    for (int g = 0; g < 3; g++) {
        assert_true(s[g].collections >= 0);
        assert_true(s[g].collected >= 0);
        assert_true(s[g].uncollectable >= 0);
        assert_true(s[g].candidates >= 0);
        assert_true(s[g].duration >= 0.0);
    }
    assert_true(s[2].collections >= 1); /* gcm_begin collected once */
    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    assert_int_equal(gcm_collect(0), 0);
    GCM_ASSERT_STATS_DELTA(before, 0, 1, 0, 0);
    GCM_ASSERT_STATS_DELTA(before, 1, 0, 0, 0);
    GCM_ASSERT_STATS_DELTA(before, 2, 0, 0, 0);
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 0);
    GCM_ASSERT_STATS_DELTA(before, 0, 0, 0, 0);
    GCM_ASSERT_STATS_DELTA(before, 1, 0, 0, 0);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 0, 0);
}

/* S30 Automatic trigger (GC_Detector, test_indirect_calls_with_gc_disabled). */
static void drop_all(rcgc_object_t **v, size_t n) {
    for (size_t i = 0; i < n; i++) gcm_drop(v[i]);
    free(v);
}

static void s30_automatic_trigger(void **state) {
    gcm_begin();
    assert_int_equal(gcm_collect(2), 0);
    assert_int_equal(rcgc_gc_set_threshold(1000, 10, 10), 0);
    gcm_events_clear();
    rcgc_gc_enable();
    const size_t N = 1001;
    rcgc_object_t **kept = calloc(N, sizeof *kept);
    for (size_t i = 0; i < N; i++) {
        kept[i] = gcm_node("k");
        assert_int_equal(gcm_collections_seen(), 0); /* never inside an allocation */
        gcm_safepoint();
        assert_int_equal(gcm_collections_seen(), i + 1 == N ? 1 : 0);
    }
    const gcm_event_t *ev = gcm_event_at(gcm_event_count() - 1);
    assert_int_equal(ev->info.generation, 0);
    assert_int_equal(ev->info.reason, RCGC_GC_REASON_HEAP);
    ASSERT_COUNT(0, 1, 0);
    drop_all(kept, N);

    /* disable(): no automatic collection, manual still works */
    rcgc_gc_disable();
    assert_false(rcgc_gc_is_enabled());
    gcm_events_clear();
    const size_t M = 10000;
    kept = calloc(M, sizeof *kept);
    for (size_t i = 0; i < M; i++) {
        kept[i] = gcm_node("d");
        gcm_safepoint();
    }
    assert_int_equal(gcm_collections_seen(), 0);
    assert_int_equal(gcm_collect(2), 0);
    assert_int_equal(gcm_collections_seen(), 1);
    drop_all(kept, M);

    /* threshold 0 also prevents automatic collection */
    assert_int_equal(rcgc_gc_set_threshold(0, 10, 10), 0);
    rcgc_gc_enable();
    gcm_events_clear();
    kept = calloc(M, sizeof *kept);
    for (size_t i = 0; i < M; i++) {
        kept[i] = gcm_node("z");
        gcm_safepoint();
    }
    rcgc_gc_disable();
    assert_int_equal(gcm_collections_seen(), 0);
    drop_all(kept, M);
    /* negative thresholds are rejected */
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_set_threshold(-1, 10, 10), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
}

/* S31 The 25% rule (derived from gc_select_generation). */
static rcgc_object_t **alloc_kept(size_t n, bool safepoints) {
    rcgc_object_t **v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = gcm_node("k");
        if (safepoints) gcm_safepoint();
    }
    return v;
}

static void s31_quarter_rule(void **state) {
    gcm_begin();
    assert_int_equal(gcm_count_objects(-1), 0); /* no other tracked objects */
    rcgc_object_t **base = alloc_kept(10000, false);
    assert_int_equal(gcm_collect(2), 0); /* total = 10,000 */
    assert_int_equal(rcgc_gc_set_threshold(100, 0, 0), 0);
    rcgc_object_t **p1 = alloc_kept(2499, false);
    assert_int_equal(gcm_collect(1), 0); /* pending = 2,499 */

    gcm_events_clear();
    rcgc_gc_enable();
    rcgc_object_t **a1 = alloc_kept(101, true);
    rcgc_gc_disable();
    assert_int_equal(gcm_collections_seen(), 1);
    const gcm_event_t *ev = gcm_event_at(gcm_event_count() - 1);
    assert_int_equal(ev->info.reason, RCGC_GC_REASON_HEAP);
    assert_int_equal(ev->info.generation, 0); /* 2,499 < 10,000 / 4 */

    rcgc_object_t **one = alloc_kept(1, false);
    assert_int_equal(gcm_collect(1), 0); /* pending = 2,499 + 101 + 1 >= 2,500 */
    gcm_events_clear();
    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    rcgc_gc_enable();
    rcgc_object_t **a2 = alloc_kept(101, true);
    rcgc_gc_disable();
    assert_int_equal(gcm_collections_seen(), 1);
    ev = gcm_event_at(gcm_event_count() - 1);
    assert_int_equal(ev->info.reason, RCGC_GC_REASON_HEAP);
    assert_int_equal(ev->info.generation, 2);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 0, 0);
    size_t survivors = gcm_count_objects(2);
    assert_int_equal(survivors, 10000 + 2499 + 101 + 1 + 101);

    /* pending = 0 and total = survivors (12,702): promoting 3,000 objects
     * (< 12,702 / 4 = 3,175) must not make the next automatic collection full.
     * It would be full if pending had kept its 2,601 or total were still
     * 10,000. */
    rcgc_object_t **p3 = alloc_kept(3000, false);
    assert_int_equal(gcm_collect(1), 0);
    gcm_events_clear();
    rcgc_gc_enable();
    rcgc_object_t **a3 = alloc_kept(101, true);
    rcgc_gc_disable();
    assert_int_equal(gcm_collections_seen(), 1);
    ev = gcm_event_at(gcm_event_count() - 1);
    assert_int_equal(ev->info.generation, 0);

    drop_all(base, 10000);
    drop_all(p1, 2499);
    drop_all(a1, 101);
    drop_all(one, 1);
    drop_all(a2, 101);
    drop_all(p3, 3000);
    drop_all(a3, 101);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(s26_young_counter, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s27_generation_counters, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s28_generation_membership, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s29_stats, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s30_automatic_trigger, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s31_quarter_rule, gcm_setup, gcm_teardown),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
