/* test_gc_conformance_weakref.c - cpython-gc.md §18 C: weak references and
 * the collector, with CPython 3.14's ordering (§7.7 b): callbacks first, for
 * weakrefs outside the garbage only; callback-less weakrefs stay readable
 * while finalizers run and are cleared before any clear(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"

static rcgc_object_t *g_w0, *g_w1, *g_w2;

/* S7 Callbacks see all weakrefs cleared (test_bug1055820b). */
static void s07_log_both(rcgc_object_t *wr, gcm_wcb_t *cb) {
    gcm_log("[%s;%s]", gcm_deref_label(g_w0), gcm_deref_label(g_w1));
}

static void s07_callbacks_see_all_cleared(void **state) {
    gcm_begin();
    rcgc_object_t *C0 = gcm_node("C0"), *C1 = gcm_node("C1");
    gcm_set(C0, GCM_A, C0);
    gcm_set(C1, GCM_A, C1);
    g_w0 = gcm_weakref(C0, "w0", s07_log_both, NULL, NULL);
    g_w1 = gcm_weakref(C1, "w1", s07_log_both, NULL, NULL);
    gcm_wcb("w0")->flags |= GCM_WCB_NOLOG;
    gcm_wcb("w1")->flags |= GCM_WCB_NOLOG;
    assert_int_equal(gcm_collect(2), 0);
    assert_string_equal(gcm_log_str(), "");
    gcm_drop(C0);
    gcm_drop(C1);
    assert_int_equal(gcm_collect(2), 2); /* W0, W1 survive, not counted */
    assert_int_equal(gcm_wcb("w0")->fired, 1);
    assert_int_equal(gcm_wcb("w1")->fired, 1);
    assert_string_equal(gcm_log_str(), "[NULL;NULL],[NULL;NULL]");
    assert_null(rcgc_weakref_peek(g_w0));
    assert_null(rcgc_weakref_peek(g_w1));
    assert_int_equal(gcm_deallocs("C0"), 1);
    assert_int_equal(gcm_deallocs("C1"), 1);
    gcm_drop(g_w0);
    gcm_drop(g_w1);
}

/* S8 Callback order: newest first, in the collector and on refcount death. */
static void s08_callback_order(void **state) {
    gcm_begin();
    rcgc_object_t *X = gcm_node("X");
    gcm_set(X, GCM_A, X);
    rcgc_object_t *W1 = gcm_weakref(X, "1", NULL, NULL, NULL);
    rcgc_object_t *W2 = gcm_weakref(X, "2", NULL, NULL, NULL);
    rcgc_object_t *W3 = gcm_weakref(X, "3", NULL, NULL, NULL);
    gcm_drop(X);
    assert_int_equal(gcm_collect(2), 1);
    assert_string_equal(gcm_log_str(), "cb:3,cb:2,cb:1");
    gcm_drop(W1); gcm_drop(W2); gcm_drop(W3);

    gcm_log_clear();
    rcgc_object_t *Y = gcm_node("Y"); /* not cyclic: refcount death */
    W1 = gcm_weakref(Y, "y1", NULL, NULL, NULL);
    W2 = gcm_weakref(Y, "y2", NULL, NULL, NULL);
    W3 = gcm_weakref(Y, "y3", NULL, NULL, NULL);
    gcm_drop(Y);
    assert_string_equal(gcm_log_str(), "cb:y3,cb:y2,cb:y1");
    assert_int_equal(gcm_deallocs("Y"), 1);
    gcm_drop(W1); gcm_drop(W2); gcm_drop(W3);
}

/* S9 Callbacks before finalizers (3.14+ ordering). */
static void s09_fin_logs_wr(gcm_node_t *self) {
    gcm_log("fin:%s", rcgc_weakref_peek(self->slot[GCM_B]) == NULL ? "true" : "false");
}

static void s09_callbacks_before_finalizers(void **state) {
    gcm_begin();
    rcgc_object_t *D = gcm_fin("D", GCM_FIN_NOLOG);
    GCM(D)->fin_hook = s09_fin_logs_wr;
    gcm_set(D, GCM_A, D);                                       /* D.d = D */
    gcm_set_steal(D, GCM_B, gcm_weakref(D, NULL, NULL, NULL, NULL)); /* D.wr */
    rcgc_object_t *Wc = gcm_weakref(D, "c", NULL, NULL, NULL);
    gcm_drop(D);
    assert_int_equal(gcm_collect(2), 2); /* D and D.wr */
    assert_string_equal(gcm_log_str(), "cb:c,fin:false");
    assert_null(rcgc_weakref_peek(Wc));
    assert_int_equal(gcm_deallocs("D"), 1);
    gcm_drop(Wc);

    /* Refcount-death variant: finalizer first, then the callback. */
    gcm_log_clear();
    rcgc_object_t *E = gcm_fin("E", GCM_FIN_NOLOG);
    GCM(E)->fin_hook = s09_fin_logs_wr;
    gcm_set_steal(E, GCM_B, gcm_weakref(E, NULL, NULL, NULL, NULL));
    Wc = gcm_weakref(E, "c2", NULL, NULL, NULL);
    gcm_drop(E);
    assert_string_equal(gcm_log_str(), "fin:false,cb:c2");
    assert_null(rcgc_weakref_peek(Wc));
    assert_int_equal(gcm_deallocs("E"), 1);
    gcm_drop(Wc);
}

/* S10 Peer weakref during finalization
 * (test_do_not_cleanup_type_subclasses_before_finalization). */
static void s10_fin_logs_wf(gcm_node_t *self) {
    gcm_log("%s", rcgc_weakref_peek(self->slot[GCM_B]) == NULL ? "true" : "false");
}

static void s10_peer_weakref(void **state) {
    gcm_begin();
    rcgc_object_t *E = gcm_fin("E", GCM_FIN_NOLOG);
    GCM(E)->fin_hook = s10_fin_logs_wf;
    rcgc_object_t *F = gcm_node("F");
    gcm_set(E, GCM_A, F); /* E.f = F */
    gcm_set(F, GCM_A, E); /* F.e = E */
    gcm_set_steal(E, GCM_B, gcm_weakref(F, NULL, NULL, NULL, NULL)); /* E.wf */
    gcm_drop(E);
    gcm_drop(F);
    assert_int_equal(gcm_collect(2), 3);
    assert_string_equal(gcm_log_str(), "false");
    assert_int_equal(gcm_deallocs("E"), 1);
    assert_int_equal(gcm_deallocs("F"), 1);
}

/* S11 Weakref created by a finalizer (test_function_tp_clear_leaves_consistent_state). */
static rcgc_object_t *g_RL, *g_RF;

static void s11_fin_C(gcm_node_t *self) {
    rcgc_object_t *L = self->slot[GCM_C]; /* C.l */
    rcgc_object_t *F = self->slot[GCM_A]; /* C.f */
    /* L.ref = weakref(F); its context Leaf witnesses the weakref's death. */
    rcgc_object_t *wctx = gcm_leaf("wctx");
    gcm_set_steal(L, GCM_A, gcm_weakref(F, NULL, NULL, NULL, wctx));
    gcm_drop(wctx);
    rcgc_object_t *rl = g_RL;
    g_RL = NULL;
    gcm_drop(rl); /* release RL */
}

static void s11_fin_L(gcm_node_t *self) {
    g_RF = rcgc_weakref_get(self->slot[GCM_A]); /* RF = deref(L.ref) */
}

static void s11_weakref_created_by_finalizer(void **state) {
    gcm_begin();
    g_RF = NULL;
    rcgc_object_t *F = gcm_node("F");
    rcgc_object_t *C = gcm_new(&gcm_FinNoClear, "C"); /* no clear, like a tuple */
    GCM(C)->fin_flags = GCM_FIN_NOLOG;
    GCM(C)->fin_hook = s11_fin_C;
    gcm_set(C, GCM_A, F); /* C.f = F */
    gcm_set(F, GCM_A, C); /* F.m = C */
    g_RL = gcm_fin("L", GCM_FIN_NOLOG);
    GCM(g_RL)->fin_hook = s11_fin_L;
    gcm_set(C, GCM_C, g_RL); /* C.l = L */
    gcm_drop(F);
    gcm_drop(C);
    assert_int_equal(gcm_collect(2), 2);
    assert_null(g_RF);
    if (g_RF) gcm_drop(g_RF);
    assert_null(g_RL);
    assert_int_equal(gcm_deallocs("C"), 1);
    assert_int_equal(gcm_deallocs("F"), 1);
    assert_int_equal(gcm_deallocs("L"), 1);
    assert_int_equal(gcm_deallocs("wctx"), 1); /* the new weakref died too */
    assert_int_equal(gcm_finalizes("C"), 1);
    assert_int_equal(gcm_finalizes("L"), 1);
}

/* S12 A garbage weakref never fires (test_trash_weakref_clear, bpo-38006). */
static void s12_garbage_weakref_never_fires(void **state) {
    gcm_begin();
    rcgc_object_t *A = gcm_node("A"), *Z = gcm_node("Z"), *R = gcm_node("R");
    gcm_set(A, GCM_A, A);                               /* A.a = A */
    gcm_set_steal(A, GCM_B, gcm_hidden("H", Z));        /* A.y = Hidden(Z) */
    gcm_set_steal(A, GCM_C, gcm_weakref(Z, "wz", NULL, NULL, NULL)); /* A.wz */
    gcm_set(R, GCM_A, R);                               /* R.r = R */
    gcm_set(R, GCM_B, gcm_get(A, GCM_C));               /* R.w = A.wz */
    gcm_drop(A);
    gcm_drop(R);
    gcm_drop(Z);
    assert_int_equal(gcm_collect(2), 3); /* A, R, the weakref */
    assert_int_equal(gcm_wcb("wz")->fired, 0);
    assert_string_equal(gcm_log_str(), "");
    assert_int_equal(gcm_deallocs("Z"), 1);
    assert_int_equal(gcm_deallocs("A"), 1);
    assert_int_equal(gcm_deallocs("R"), 1);
    assert_int_equal(gcm_deallocs("H"), 1);
}

/* S13 Old object dying in a young collection (test_bug1055820c). */
static void s13_log_w2(rcgc_object_t *wr, gcm_wcb_t *cb) { gcm_log("%s", gcm_deref_label(g_w2)); }

static void s13_build(void) {
    rcgc_object_t *c0 = gcm_node("c0");
    gcm_set(c0, GCM_A, c0); /* c0.loop = c0 */
    assert_int_equal(gcm_collect(2), 0); /* c0 now in generation 2 */
    rcgc_object_t *c1 = gcm_node("c1");
    gcm_set(c1, GCM_A, c1);  /* c1.loop = c1 */
    gcm_set(c1, GCM_B, c0);  /* c1.keep = c0 */
    gcm_set(c0, GCM_A, NULL); /* c0.loop = NULL */
    rcgc_object_t *c2 = gcm_node("c2");
    gcm_set(c2, GCM_A, c2); /* c2.loop = c2 */
    g_w2 = gcm_weakref(c2, NULL, NULL, NULL, NULL);
    g_w0 = gcm_weakref(c0, "w0", s13_log_w2, NULL, NULL); /* cb logs deref(w2) */
    gcm_wcb("w0")->flags |= GCM_WCB_NOLOG;
    gcm_drop(c0);
    gcm_drop(c1);
    gcm_drop(c2);
}

static void s13_old_object_dies_in_young_collection(void **state) {
    gcm_begin();
    s13_build();
    assert_int_equal(gcm_collect(0), 2); /* c1, c2 */
    assert_string_equal(gcm_log_str(), "NULL");
    assert_int_equal(gcm_deallocs("c0"), 1);
    assert_int_equal(gcm_deallocs("c1"), 1);
    assert_int_equal(gcm_deallocs("c2"), 1);
    gcm_drop(g_w0);
    gcm_drop(g_w2);
}

static void s13_automatic(void **state) {
    gcm_begin();
    s13_build();
    gcm_events_clear();
    rcgc_gc_set_threshold(1, 10, 10);
    rcgc_gc_enable();
    rcgc_object_t *trigger = gcm_node("trigger");
    assert_int_equal(gcm_collections_seen(), 0); /* never inside an allocation */
    gcm_safepoint();
    rcgc_gc_disable();
    assert_int_equal(gcm_collections_seen(), 1);
    const gcm_event_t *ev = gcm_event_at(gcm_event_count() - 1);
    assert_int_equal(ev->phase, RCGC_GC_PHASE_STOP);
    assert_int_equal(ev->info.generation, 0);
    assert_int_equal(ev->info.reason, RCGC_GC_REASON_HEAP);
    assert_int_equal(ev->info.collected, 2);
    assert_int_equal(ev->info.uncollectable, 0);
    assert_string_equal(gcm_log_str(), "NULL");
    assert_int_equal(gcm_deallocs("c0"), 1);
    gcm_drop(trigger);
    gcm_drop(g_w0);
    gcm_drop(g_w2);
}

/* S14 Same with a finalizer (test_bug1055820d). */
static void s14_fin_logs_w2(gcm_node_t *self) { gcm_log("%s", gcm_deref_label(g_w2)); }

static void s14_same_with_finalizer(void **state) {
    gcm_begin();
    rcgc_object_t *c0 = gcm_fin("c0", GCM_FIN_NOLOG);
    GCM(c0)->fin_hook = s14_fin_logs_w2;
    gcm_set(c0, GCM_A, c0);
    assert_int_equal(gcm_collect(2), 0);
    rcgc_object_t *c1 = gcm_node("c1");
    gcm_set(c1, GCM_A, c1);
    gcm_set(c1, GCM_B, c0);
    gcm_set(c0, GCM_A, NULL);
    rcgc_object_t *c2 = gcm_node("c2");
    gcm_set(c2, GCM_A, c2);
    g_w2 = gcm_weakref(c2, NULL, NULL, NULL, NULL);
    gcm_drop(c0);
    gcm_drop(c1);
    gcm_drop(c2);
    assert_int_equal(gcm_collect(0), 2);
    assert_string_equal(gcm_log_str(), "NULL");
    assert_int_equal(gcm_finalizes("c0"), 1);
    assert_int_equal(gcm_deallocs("c0"), 1);
    gcm_drop(g_w2);
}

/* S15 Weakref freed by its own callback is counted (derived). */
static void s15_drop_hw(rcgc_object_t *wr, gcm_wcb_t *cb) {
    gcm_set((rcgc_object_t *)cb->arg, GCM_A, NULL); /* H.w = NULL */
}

static void s15_weakref_freed_by_callback(void **state) {
    gcm_begin();
    rcgc_object_t *N = gcm_node("N"), *H = gcm_node("H");
    gcm_set(N, GCM_A, N);
    rcgc_object_t *wctx = gcm_leaf("wctx"); /* witnesses the weakref's death */
    gcm_set_steal(H, GCM_A, gcm_weakref(N, "cb", s15_drop_hw, H, wctx));
    gcm_drop(wctx);
    gcm_drop(N);
    assert_int_equal(gcm_collect(2), 2); /* N + the weakref */
    assert_int_equal(gcm_wcb("cb")->fired, 1);
    assert_null(gcm_get(H, GCM_A));
    assert_int_equal(gcm_deallocs("wctx"), 1);
    assert_int_equal(gcm_deallocs("N"), 1);
    gcm_drop(H);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(s07_callbacks_see_all_cleared, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s08_callback_order, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s09_callbacks_before_finalizers, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s10_peer_weakref, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s11_weakref_created_by_finalizer, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s12_garbage_weakref_never_fires, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s13_old_object_dies_in_young_collection, gcm_setup,
                                        gcm_teardown),
        cmocka_unit_test_setup_teardown(s13_automatic, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s14_same_with_finalizer, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s15_weakref_freed_by_callback, gcm_setup, gcm_teardown),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
