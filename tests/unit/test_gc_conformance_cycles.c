/* test_gc_conformance_cycles.c - cpython-gc.md §18 A (basic cycles) and B
 * (legacy finalizers, SAVEALL): exact collect() results, stats deltas, garbage
 * list contents and deallocation counts. Model: tests/support/gcmodel.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"

/* S1 Self-cycle (test_list, test_dict, test_instance, test_frame). */
static void s01_self_cycle(void **state) {
    gcm_begin();
    rcgc_object_t *A = gcm_node("A");
    gcm_set(A, GCM_A, A); /* A.a = A */
    gcm_set_steal(A, GCM_B, gcm_leaf("l1"));
    gcm_set_steal(A, GCM_C, gcm_leaf("l2"));
    gcm_set_steal(A, GCM_D, gcm_leaf("l3"));
    assert_int_equal(gcm_collect(2), 0); /* A still held */
    assert_int_equal(gcm_deallocs("A"), 0);

    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    gcm_drop(A);
    assert_int_equal(gcm_collect(2), 1);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 1, 0);
    assert_int_equal(gcm_deallocs("A"), 1);
    assert_int_equal(gcm_deallocs("l1"), 1); /* freed by refcounting, not counted */
    assert_int_equal(gcm_deallocs("l2"), 1);
    assert_int_equal(gcm_deallocs("l3"), 1);
    assert_int_equal(gcm_rec_by_label("A")->gc_clears, 1);

    /* S3 Nothing left (end of test_newinstance). */
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 0);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 0, 0);
    assert_int_equal(gcm_double_frees(), 0);
}

/* S2 Two types in one cycle (test_tuple, test_method, test_function), then S3. */
static void s02_two_types(void **state) {
    gcm_begin();
    rcgc_object_t *A = gcm_node("A");
    rcgc_object_t *B = gcm_node2("B");
    gcm_set(A, GCM_A, B); /* A.x = B */
    gcm_set(B, GCM_A, A); /* B.y = A */
    gcm_drop(A);
    gcm_drop(B);
    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 2);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 2, 0);
    assert_int_equal(gcm_deallocs("A"), 1);
    assert_int_equal(gcm_deallocs("B"), 1);

    gcm_stats(before); /* S3 */
    assert_int_equal(gcm_collect(2), 0);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 0, 0);
}

/* S4 Quarantine (test_legacy_finalizer, _newclass). */
static void s04_quarantine(void **state) {
    gcm_begin();
    rcgc_object_t *A = gcm_legacy("A");
    gcm_set(A, GCM_A, A); /* A.a = A */
    rcgc_object_t *B = gcm_node("B");
    gcm_set(B, GCM_A, B); /* B.b = B */
    gcm_drop(A);
    gcm_drop(B);
    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 2);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 1, 1);
    assert_int_equal(rcgc_gc_garbage_count(), 1);
    assert_ptr_equal(rcgc_gc_garbage_item(0), A);
    assert_int_equal(gcm_deallocs("B"), 1);
    assert_int_equal(gcm_deallocs("A"), 0);
    assert_int_equal(gcm_rec_by_label("A")->dels, 0);
    assert_ptr_equal(gcm_get(A, GCM_A), A); /* not cleared */
    assert_int_equal(gcm_rec_by_label("A")->gc_clears, 0);
    assert_string_equal(gcm_log_str(), "");

    gcm_set(A, GCM_A, NULL); /* A.a = NULL */
    rcgc_object_t *taken = rcgc_gc_garbage_take(0);
    assert_ptr_equal(taken, A);
    assert_int_equal(rcgc_gc_garbage_count(), 0);
    gcm_drop(taken); /* freed by refcounting: tp_del runs now */
    assert_int_equal(gcm_deallocs("A"), 1);
    assert_string_equal(gcm_log_str(), "tp_del:A");
}

/* S5 Quarantine closure (derived; CPython 3.11-3.13). */
static void s05_quarantine_closure(void **state) {
    gcm_begin();
    rcgc_object_t *L = gcm_legacy("L"), *M = gcm_node("M"), *M2 = gcm_node("M2");
    rcgc_object_t *P = gcm_node("P"), *K = gcm_node("K");
    gcm_set(L, GCM_A, L);  /* L.s = L */
    gcm_set(L, GCM_B, M);  /* L.m = M */
    gcm_set(M, GCM_A, M2); /* M.m2 = M2 */
    gcm_set(P, GCM_A, P);  /* P.p = P */
    gcm_set(P, GCM_B, L);  /* P.x = L */
    gcm_set(K, GCM_A, K);  /* K.k = K */
    gcm_drop(L); gcm_drop(M); gcm_drop(M2); gcm_drop(P); gcm_drop(K);

    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 5);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 2, 3);
    assert_int_equal(rcgc_gc_garbage_count(), 1);
    assert_ptr_equal(rcgc_gc_garbage_item(0), L);
    assert_int_equal(gcm_deallocs("P"), 1);
    assert_int_equal(gcm_deallocs("K"), 1);
    assert_int_equal(gcm_deallocs("L"), 0);
    assert_int_equal(gcm_deallocs("M"), 0);
    assert_int_equal(gcm_deallocs("M2"), 0);
    assert_ptr_equal(gcm_get(L, GCM_A), L);
    assert_ptr_equal(gcm_get(L, GCM_B), M);
    assert_ptr_equal(gcm_get(M, GCM_A), M2);
    assert_int_equal(gcm_rec_by_label("L")->gc_clears + gcm_rec_by_label("M")->gc_clears +
                         gcm_rec_by_label("M2")->gc_clears, 0);
    assert_string_equal(gcm_log_str(), ""); /* no finalizer called */

    /* Release the quarantine by hand. */
    gcm_set(L, GCM_A, NULL);
    gcm_drop(rcgc_gc_garbage_take(0));
    assert_string_equal(gcm_log_str(), "tp_del:L");
    assert_int_equal(gcm_deallocs("L"), 1);
    assert_int_equal(gcm_deallocs("M"), 1);
    assert_int_equal(gcm_deallocs("M2"), 1);
}

/* S6 SAVEALL (test_saveall). */
static void s06_saveall(void **state) {
    gcm_begin();
    rcgc_object_t *L = gcm_node("L");
    gcm_set(L, GCM_A, L);
    rcgc_gc_set_debug(RCGC_GC_DEBUG_SAVEALL);
    gcm_drop(L);
    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 1);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 1, 0);
    assert_int_equal(rcgc_gc_garbage_count(), 1);
    assert_ptr_equal(rcgc_gc_garbage_item(0), L);
    assert_ptr_equal(gcm_get(L, GCM_A), L); /* not cleared */
    assert_int_equal(gcm_rec_by_label("L")->gc_clears, 0);
    gcm_set(L, GCM_A, NULL);
    rcgc_gc_garbage_clear();
    assert_int_equal(gcm_deallocs("L"), 1);

    /* The S5 graph minus P. */
    rcgc_object_t *L2 = gcm_legacy("L2"), *M = gcm_node("M"), *M2 = gcm_node("M2");
    rcgc_object_t *K = gcm_node("K");
    gcm_set(L2, GCM_A, L2);
    gcm_set(L2, GCM_B, M);
    gcm_set(M, GCM_A, M2);
    gcm_set(K, GCM_A, K);
    gcm_drop(L2); gcm_drop(M); gcm_drop(M2); gcm_drop(K);
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 4);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 1, 3);
    assert_int_equal(rcgc_gc_garbage_count(), 4);
    /* final garbage first, then the quarantine set */
    assert_ptr_equal(rcgc_gc_garbage_item(0), K);
    assert_ptr_equal(rcgc_gc_garbage_item(1), L2);
    assert_ptr_equal(rcgc_gc_garbage_item(2), M);
    assert_ptr_equal(rcgc_gc_garbage_item(3), M2);
    /* nothing cleared, nothing finalized */
    assert_ptr_equal(gcm_get(K, GCM_A), K);
    assert_ptr_equal(gcm_get(L2, GCM_A), L2);
    assert_ptr_equal(gcm_get(L2, GCM_B), M);
    assert_ptr_equal(gcm_get(M, GCM_A), M2);
    assert_int_equal(gcm_rec_by_label("K")->gc_clears, 0);
    assert_string_equal(gcm_log_str(), "");

    rcgc_gc_set_debug(0);
    gcm_set(K, GCM_A, NULL);
    gcm_set(L2, GCM_A, NULL);
    rcgc_gc_garbage_clear();
    assert_string_equal(gcm_log_str(), "tp_del:L2");
    assert_int_equal(gcm_deallocs("K"), 1);
    assert_int_equal(gcm_deallocs("L2"), 1);
    assert_int_equal(gcm_deallocs("M"), 1);
    assert_int_equal(gcm_deallocs("M2"), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(s01_self_cycle, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s02_two_types, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s04_quarantine, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s05_quarantine_closure, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s06_saveall, gcm_setup, gcm_teardown),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
