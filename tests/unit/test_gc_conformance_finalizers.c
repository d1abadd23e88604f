/* test_gc_conformance_finalizers.c - cpython-gc.md §18 D: PEP 442
 * finalizers in the collector - run once, resurrection (transitive, not
 * blocking other cleanup), finalizers that rewire the garbage, the collector
 * calling only type slots, re-entrant collect, automatic GC around
 * finalizers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"

/* S16 Finalizer runs once (test_resurrection_only_happens_once_per_object). */
static void s16_finalizer_runs_once(void **state) {
    gcm_begin();
    rcgc_object_t *A = gcm_fin("A", GCM_FIN_RESURRECT);
    gcm_set(A, GCM_A, A); /* A.me = A */
    gcm_drop(A);
    rcgc_gc_gen_stats_t before[3];
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 0);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 0, 0);
    assert_string_equal(gcm_log_str(), "A");
    assert_int_equal(gcm_root_len(), 1);
    assert_ptr_equal(gcm_root_at(0), A);
    assert_true(rcgc_gc_is_finalized(A));
    assert_ptr_equal(gcm_get(A, GCM_A), A); /* intact */
    assert_int_equal(gcm_deallocs("A"), 0);
    assert_true(rcgc_gc_is_tracked(A));

    gcm_root_clear();
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 1);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 1, 0);
    assert_string_equal(gcm_log_str(), "A"); /* unchanged */
    assert_int_equal(gcm_finalizes("A"), 1);
    assert_int_equal(gcm_deallocs("A"), 1);
}

/* S17 Resurrection is transitive (test_resurrection_is_transitive). */
static void s17_resurrection_is_transitive(void **state) {
    gcm_begin();
    rcgc_object_t *Laz = gcm_fin("Laz", GCM_FIN_RESURRECT);
    rcgc_object_t *Cargo = gcm_node("Cargo");
    gcm_set(Laz, GCM_A, Laz);     /* Laz.me = Laz */
    gcm_set(Cargo, GCM_A, Cargo); /* Cargo.me = Cargo */
    gcm_set(Laz, GCM_B, Cargo);   /* Laz.cargo = Cargo */
    gcm_set(Cargo, GCM_B, Laz);   /* Cargo.laz = Laz */
    gcm_drop(Laz);
    gcm_drop(Cargo);
    assert_int_equal(gcm_collect(2), 0);
    assert_int_equal(gcm_root_len(), 1);
    assert_ptr_equal(gcm_root_at(0), Laz);
    assert_ptr_equal(gcm_get(Laz, GCM_B), Cargo);
    assert_ptr_equal(gcm_get(Cargo, GCM_B), Laz);
    assert_ptr_equal(gcm_get(Cargo, GCM_A), Cargo);
    assert_ptr_equal(gcm_get(Laz, GCM_A), Laz);
    assert_int_equal(gcm_rec_by_label("Cargo")->gc_clears + gcm_rec_by_label("Laz")->gc_clears,
                     0);
    assert_int_equal(gcm_deallocs("Cargo"), 0);

    gcm_root_clear();
    assert_int_equal(gcm_collect(2), 2);
    assert_int_equal(gcm_deallocs("Cargo"), 1);
    assert_int_equal(gcm_deallocs("Laz"), 1);
    assert_string_equal(gcm_log_str(), "Laz");
}

/* S18 Resurrection does not block other cleanup (bpo-38379). */
static void s18_make_cycles(int n) {
    char label[32];
    for (int i = 0; i < n; i++) {
        snprintf(label, sizeof label, "A%d", i);
        rcgc_object_t *A = gcm_node(label);
        gcm_set(A, GCM_A, A);
        gcm_drop(A);
    }
}

static void s18_make_z(const char *label) {
    rcgc_object_t *Z = gcm_fin(label, GCM_FIN_RESURRECT);
    gcm_set(Z, GCM_A, Z);
    gcm_drop(Z);
}

static void s18_resurrection_does_not_block(void **state) {
    gcm_begin();
    rcgc_gc_gen_stats_t before[3];
    /* (a) */
    s18_make_cycles(100);
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 100);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 100, 0);
    /* (b) */
    s18_make_z("Z1");
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 0);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 0, 0);
    /* (c) */
    s18_make_cycles(100);
    s18_make_z("Z2");
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 100);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 100, 0);
    assert_int_equal(gcm_root_len(), 2);
    /* (d) */
    gcm_root_clear();
    gcm_stats(before);
    assert_int_equal(gcm_collect(2), 2);
    GCM_ASSERT_STATS_DELTA(before, 2, 1, 2, 0);
    assert_string_equal(gcm_log_str(), "Z1,Z2"); /* no finalizer ran again */
    assert_int_equal(gcm_deallocs("Z1"), 1);
    assert_int_equal(gcm_deallocs("Z2"), 1);
    assert_int_equal(gcm_alive_count(), 0);
    assert_int_equal(gcm_double_frees(), 0);
}

/* S19 is_finalized after refcount death (test_is_finalized). */
static void s19_is_finalized_after_refcount_death(void **state) {
    gcm_begin();
    rcgc_object_t *X = gcm_fin("X", GCM_FIN_RESURRECT);
    assert_false(rcgc_gc_is_finalized(X));
    gcm_drop(X); /* finalizer runs from dealloc and resurrects */
    assert_int_equal(gcm_root_len(), 1);
    assert_ptr_equal(gcm_root_at(0), X);
    assert_int_equal(gcm_deallocs("X"), 0);
    assert_int_equal(gcm_collect(2), 0);
    assert_true(rcgc_gc_is_finalized(gcm_root_at(0)));
    assert_true(rcgc_gc_is_tracked(gcm_root_at(0)));
    gcm_root_clear(); /* frees X without a second finalizer call */
    assert_int_equal(gcm_deallocs("X"), 1);
    assert_int_equal(gcm_finalizes("X"), 1);
    assert_string_equal(gcm_log_str(), "X");
}

/* S20 Finalizer rewires the garbage (test_bug21435). */
static void s20_break_attr(gcm_node_t *self) { gcm_set(&self->ob, GCM_A, NULL); }

static void s20_finalizer_rewires(void **state) {
    gcm_begin();
    rcgc_object_t *A = gcm_node("A");
    rcgc_object_t *B = gcm_fin("B", 0);
    GCM(B)->fin_hook = s20_break_attr;      /* B.attr = NULL */
    gcm_set_steal(B, GCM_B, gcm_node("Bx")); /* B.x = new Node */
    gcm_set(A, GCM_A, B);                   /* A.attr = B */
    gcm_set(B, GCM_A, A);                   /* B.attr = A */
    gcm_drop(A);
    gcm_drop(B);
    assert_int_equal(gcm_collect(2), 0); /* all die during the finalizer phase */
    assert_string_equal(gcm_log_str(), "B");
    assert_int_equal(gcm_deallocs("A"), 1);
    assert_int_equal(gcm_deallocs("B"), 1);
    assert_int_equal(gcm_deallocs("Bx"), 1);

    /* Variant: X.o = Y; Y.b = X; X's finalizer sets X.o = NULL; plus K. */
    gcm_log_clear();
    rcgc_object_t *X = gcm_fin("X", 0), *Y = gcm_node("Y"), *K = gcm_node("K");
    GCM(X)->fin_hook = s20_break_attr;
    gcm_set(X, GCM_A, Y); /* X.o = Y */
    gcm_set(Y, GCM_A, X); /* Y.b = X */
    gcm_set(K, GCM_A, K);
    gcm_drop(X); gcm_drop(Y); gcm_drop(K);
    assert_int_equal(gcm_collect(2), 1);
    assert_string_equal(gcm_log_str(), "X");
    assert_int_equal(gcm_deallocs("X"), 1);
    assert_int_equal(gcm_deallocs("Y"), 1);
    assert_int_equal(gcm_deallocs("K"), 1);
}

/* S21 The collector calls only type slots (test_boom, test_boom2): Boom's
 * extra hook lives in type->user; if anything called it, it would delete attr
 * and report an error. */
static int g_boom_calls;

static int boom_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(GCM(self)->slot[GCM_A], visit, arg);
    return 0;
}

static int boom_clear(rcgc_object_t *self) {
    if (rcgc_refcnt(self) == 0) gcm_note_dealloc(self);
    RCGC_CLEAR(GCM(self)->slot[GCM_A]);
    return 0;
}

static void boom_hook(rcgc_object_t *self) {
    g_boom_calls++;
    RCGC_CLEAR(GCM(self)->slot[GCM_A]);
    rcgc_error_set(RCGC_EUSER, "boom");
}

static const rcgc_type_t boom_type = {
    .name = "Boom", .basic_size = sizeof(gcm_node_t), .flags = RCGC_TYPE_GC,
    .traverse = boom_traverse, .clear = boom_clear, .user = (void *)boom_hook,
};

static void s21_only_type_slots(void **state) {
    gcm_begin();
    g_boom_calls = 0;
    rcgc_object_t *a = gcm_new(&boom_type, "a"), *b = gcm_new(&boom_type, "b");
    gcm_set(a, GCM_A, b);
    gcm_set(b, GCM_A, a);
    gcm_drop(a);
    gcm_drop(b);
    assert_int_equal(gcm_collect(2), 2);
    assert_int_equal(rcgc_gc_garbage_count(), 0);
    assert_int_equal(g_boom_calls, 0);
    assert_int_equal(gcm_unraisable_count(), 0);
    assert_int_equal(gcm_deallocs("a"), 1);
    assert_int_equal(gcm_deallocs("b"), 1);
}

/* S22 Re-entrant collect (derived). */
static intptr_t g_cb_collect[4];
static int g_cb_collect_n;

static int s22_gc_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    if (g_cb_collect_n < 4) g_cb_collect[g_cb_collect_n++] = rcgc_gc_collect(2);
    return 0;
}

static void s22_reentrant_collect(void **state) {
    gcm_begin();
    rcgc_object_t *X = gcm_fin("X", GCM_FIN_NOLOG | GCM_FIN_COLLECT);
    gcm_set(X, GCM_A, X);
    gcm_drop(X);
    assert_int_equal(gcm_collect(2), 1);
    assert_string_equal(gcm_log_str(), "collect=0");
    assert_int_equal(gcm_deallocs("X"), 1);

    g_cb_collect_n = 0;
    assert_int_equal(rcgc_gc_callback_add(s22_gc_cb, NULL), 0);
    rcgc_object_t *Y = gcm_node("Y");
    gcm_set(Y, GCM_A, Y);
    gcm_drop(Y);
    assert_int_equal(gcm_collect(2), 1);
    assert_int_equal(rcgc_gc_callback_remove(s22_gc_cb, NULL), 0);
    assert_int_equal(g_cb_collect_n, 2); /* start and stop */
    assert_int_equal(g_cb_collect[0], 0);
    assert_int_equal(g_cb_collect[1], 0);
    assert_int_equal(gcm_deallocs("Y"), 1);
}

/* S23 Automatic GC around finalizers (test_del, test_del_newclass). */
static bool g_in_safepoint;
static int g_started_outside;

static int s23_gc_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    if (phase == RCGC_GC_PHASE_START && info->reason == RCGC_GC_REASON_HEAP && !g_in_safepoint)
        g_started_outside++;
    return 0;
}

static void s23_fin(gcm_node_t *self) {
    for (int i = 0; i < 4; i++) {
        rcgc_object_t *x = gcm_node("alloc");
        gcm_set(x, GCM_A, x);
        gcm_drop(x);
    }
    g_in_safepoint = true;
    rcgc_safepoint();
    g_in_safepoint = false;
}

static void s23_automatic_gc_around_finalizers(void **state) {
    gcm_begin();
    g_started_outside = 0;
    g_in_safepoint = false;
    uint32_t first = (uint32_t)gcm_rec_count() + 1;
    assert_int_equal(rcgc_gc_callback_add(s23_gc_cb, NULL), 0);
    rcgc_gc_set_threshold(1, 10, 10);
    rcgc_gc_enable();
    for (int i = 0; i < 100; i++) {
        rcgc_object_t *X = gcm_fin("X", GCM_FIN_NOLOG);
        GCM(X)->fin_hook = s23_fin;
        gcm_drop(X);
    }
    rcgc_gc_disable();
    assert_int_equal(rcgc_gc_callback_remove(s23_gc_cb, NULL), 0);
    size_t fins = 0, xs = 0;
    for (uint32_t id = first; id <= gcm_rec_count(); id++) {
        gcm_rec_t *r = gcm_rec(id);
        if (r->type == &gcm_Fin) {
            xs++;
            fins += (size_t)r->finalizes;
            assert_int_equal(r->deallocs, 1);
        }
    }
    assert_int_equal(xs, 100);
    assert_int_equal(fins, 100);
    assert_int_equal(g_started_outside, 0); /* only inside safepoint() */
    assert_true(gcm_collections_seen() > 0);
    (void)gcm_collect(2);
    if (gcm_alive_count()) gcm_print_alive();
    assert_int_equal(gcm_alive_count(), 0);
    assert_int_equal(gcm_double_frees(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(s16_finalizer_runs_once, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s17_resurrection_is_transitive, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s18_resurrection_does_not_block, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s19_is_finalized_after_refcount_death, gcm_setup,
                                        gcm_teardown),
        cmocka_unit_test_setup_teardown(s20_finalizer_rewires, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s21_only_type_slots, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s22_reentrant_collect, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s23_automatic_gc_around_finalizers, gcm_setup,
                                        gcm_teardown),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
