/* test_gc_conformance_dealloc.c - cpython-gc.md §18 E: deallocation depth.
 *
 * S24 (test_trashcan): deep chains with a finalizer per link that runs
 * collections from inside the deallocation. Two shapes:
 *   - CPython's own sizes (N = 150 nested links, twice, a full collect() every
 *     17th finalizer call), automatic GC on;
 *   - a 10^6-deep chain (the brief's depth). A full collection every 17th call
 *     would be quadratic there (~59,000 full collections of a heap of up to
 *     2*10^6 objects), so the finalizer runs collect(0) every 17th call and a
 *     full collect() every 17^4th call; both kinds of nested collection run
 *     while the chain is half torn down.
 * S25 (test_trashcan_threads): two threads build and drop 60-deep nests whose
 * destructor releases the global lock mid-way (rcgc_blocking_begin/end). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"

static long g_fin_calls, g_full_every, g_young_every;
static long g_nested_collects, g_nested_bad;
static bool g_check_nested;
static size_t g_manual_stops;

static int count_manual(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    if (phase == RCGC_GC_PHASE_STOP && info->reason == RCGC_GC_REASON_MANUAL) g_manual_stops++;
    return 0;
}

static void ouch(gcm_node_t *self) {
    g_fin_calls++;
    int gen = -1;
    if (g_full_every && g_fin_calls % g_full_every == 0)
        gen = 2;
    else if (g_young_every && g_fin_calls % g_young_every == 0)
        gen = 0;
    if (gen >= 0) {
        g_nested_collects++;
        if (rcgc_gc_collect(gen) < 0) g_nested_bad++;
        /* the heap must be sound after each nested collection too (only on
         * the small chains: the check walks the whole heap) */
        if (g_check_nested && rcgc_gc_check_heap() != 0) g_nested_bad++;
    }
}

/* head = [head, Fin] repeated n times; returns the head (NEW reference). */
static rcgc_object_t *build_chain(long n, bool safepoints) {
    rcgc_object_t *head = NULL;
    for (long i = 0; i < n; i++) {
        rcgc_object_t *link = gcm_node(NULL);
        rcgc_object_t *fin = gcm_fin(NULL, GCM_FIN_NOLOG);
        GCM(fin)->fin_hook = ouch;
        gcm_set_steal(link, GCM_A, head); /* link.next = previous head */
        gcm_set_steal(link, GCM_B, fin);  /* link.fin = Fin sibling */
        head = link;
        if (!safepoints) continue;
        if (n <= 10000) {
            gcm_safepoint(); /* heap check after every automatic collection */
        } else {
            /* rcgc_gc_check_heap() walks the whole heap: after each of the
             * ~1,000 automatic collections of a 2*10^6-object build it would
             * make the test quadratic, so check every 100,000 links. */
            if ((i & 1023) == 0) rcgc_safepoint();
            if (i % 100000 == 0) assert_int_equal(rcgc_gc_check_heap(), 0);
        }
    }
    return head;
}

static void check_all_freed_once(void) {
    assert_int_equal(gcm_double_frees(), 0);
    assert_int_equal(gcm_alive_count(), 0);
    assert_int_equal(gcm_total_deallocs(), gcm_rec_count());
}

static void s24_trashcan_cpython_sizes(void **state) {
    gcm_begin();
    g_fin_calls = g_nested_collects = g_nested_bad = 0;
    g_manual_stops = 0;
    g_full_every = 17;
    g_young_every = 0;
    g_check_nested = true;
    assert_int_equal(rcgc_gc_callback_add(count_manual, NULL), 0);
    rcgc_gc_set_threshold(100, 10, 10);
    rcgc_gc_enable();
    const long N = 150;
    for (int round = 0; round < 2; round++)
        for (int shape = 0; shape < 3; shape++) {
            rcgc_object_t *t = build_chain(N, true);
            gcm_drop(t);
            gcm_safepoint();
        }
    rcgc_gc_disable();
    assert_int_equal(rcgc_gc_callback_remove(count_manual, NULL), 0);
    assert_int_equal(g_fin_calls, 6 * N);
    assert_int_equal(g_nested_collects, 6 * N / 17);
    assert_int_equal(g_nested_bad, 0);
    assert_int_equal(g_manual_stops, (size_t)g_nested_collects); /* they really ran */
    assert_int_equal(gcm_collect(2), 0);
    check_all_freed_once();
}

static void s24_trashcan_deep_chain(void **state) {
    gcm_begin();
    g_fin_calls = g_nested_collects = g_nested_bad = 0;
    g_manual_stops = 0;
    g_full_every = 17L * 17 * 17 * 17;
    g_young_every = 17;
    g_check_nested = false;
    assert_int_equal(rcgc_gc_callback_add(count_manual, NULL), 0);
    rcgc_gc_enable();
#if RCGC_DEBUG >= 3
    /* level 3 checks the whole heap after every collection: fewer links and
     * fewer nested collections keep that from going quadratic */
    const long N = 100000;
    g_young_every = 17 * 17;
#else
    const long N = 1000000;
#endif
    rcgc_object_t *head = build_chain(N, true);
    gcm_drop(head); /* no stack overflow */
    gcm_safepoint();
    rcgc_gc_disable();
    assert_int_equal(rcgc_gc_callback_remove(count_manual, NULL), 0);
    assert_int_equal(g_fin_calls, N);
    assert_int_equal(g_nested_collects, N / g_young_every);
    assert_int_equal(g_nested_bad, 0);
    assert_int_equal(g_manual_stops, (size_t)g_nested_collects);
    assert_int_equal(gcm_rec_count(), 2 * N);
    assert_int_equal(gcm_collect(2), 0);
    check_all_freed_once();
}

/* ---- S25 ------------------------------------------------------------------------ */

static long g_constructions, g_destructions;

static int nest_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(GCM(self)->slot[GCM_A], visit, arg);
    return 0;
}

static int nest_clear(rcgc_object_t *self) {
    RCGC_CLEAR(GCM(self)->slot[GCM_A]);
    return 0;
}

static void nest_dealloc(rcgc_object_t *self) {
    rcgc_gc_untrack(self);
    __atomic_add_fetch(&g_destructions, 1, __ATOMIC_RELAXED);
    rcgc_blocking_begin(); /* release the global lock mid-way */
    sched_yield();
    rcgc_blocking_end();
    RCGC_CLEAR(GCM(self)->slot[GCM_A]);
    rcgc_object_free(self);
}

static const rcgc_type_t nest_type = {
    .name = "Nest", .basic_size = sizeof(gcm_node_t), .flags = RCGC_TYPE_GC,
    .traverse = nest_traverse, .clear = nest_clear, .dealloc = nest_dealloc,
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *nest_thread(void *arg) {
    double until = *(double *)arg;
    if (rcgc_thread_attach() != 0) return (void *)1;
    while (now_s() < until) {
        rcgc_object_t *o = NULL;
        for (int i = 0; i < 60; i++) {
            rcgc_object_t *n = rcgc_object_new(&nest_type);
            if (!n) { rcgc_thread_detach(); return (void *)1; }
            __atomic_add_fetch(&g_constructions, 1, __ATOMIC_RELAXED);
            GCM(n)->slot[GCM_A] = o; /* steal */
            o = n;
        }
        rcgc_decref(o);
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static void s25_trashcan_threads(void **state) {
    gcm_begin();
    g_constructions = g_destructions = 0;
    double until = now_s() + 1.0;
    pthread_t th[2];
    rcgc_blocking_begin();
    int rc0 = pthread_create(&th[0], NULL, nest_thread, &until);
    int rc1 = pthread_create(&th[1], NULL, nest_thread, &until);
    void *r0 = NULL, *r1 = NULL;
    if (rc0 == 0) pthread_join(th[0], &r0);
    if (rc1 == 0) pthread_join(th[1], &r1);
    rcgc_blocking_end();
    assert_int_equal(rc0, 0);
    assert_int_equal(rc1, 0);
    assert_null(r0);
    assert_null(r1);
    assert_int_equal(gcm_collect(2), 0);
    assert_true(g_constructions > 0);
    assert_int_equal(g_constructions, g_destructions);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(s24_trashcan_cpython_sizes, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s24_trashcan_deep_chain, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s25_trashcan_threads, gcm_setup, gcm_teardown),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
