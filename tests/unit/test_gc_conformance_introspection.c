/* test_gc_conformance_introspection.c - cpython-gc.md §18 G (introspection
 * and freeze) and H (GC callbacks, errors in user code). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"
#ifndef RCGC_FREE_THREADED
#include "internal/gc_internal.h" /* S36 (c): the GC header words */
#endif

typedef struct objlist { rcgc_object_t *v[16]; size_t n; } objlist_t;

static int collect_visit(rcgc_object_t *o, void *arg) {
    objlist_t *l = arg;
    if (l->n < 16) l->v[l->n] = o;
    l->n++;
    return 0;
}

static objlist_t referents(rcgc_object_t *const *objs, size_t n) {
    objlist_t l = { { 0 }, 0 };
    assert_int_equal(rcgc_gc_get_referents(objs, n, collect_visit, &l), 0);
    return l;
}

static objlist_t referrers(rcgc_object_t *const *objs, size_t n) {
    objlist_t l = { { 0 }, 0 };
    assert_int_equal(rcgc_gc_get_referrers(objs, n, collect_visit, &l), 0);
    return l;
}

static bool in_list(const objlist_t *l, const rcgc_object_t *o) {
    for (size_t i = 0; i < l->n && i < 16; i++)
        if (l->v[i] == o) return true;
    return false;
}

/* S32 get_referents (test_get_referents, test_get_referents_on_capsule). */
static void s32_get_referents(void **state) {
    gcm_begin();
    rcgc_object_t *P = gcm_node("P"), *Q = gcm_node("Q");
    rcgc_object_t *l1 = gcm_leaf("l1"), *l2 = gcm_leaf("l2"), *l3 = gcm_leaf("l3");
    gcm_set(P, GCM_A, l1);
    gcm_set(P, GCM_B, l2);
    gcm_set(P, GCM_C, l3);
    gcm_set(Q, GCM_A, P);
    objlist_t l = referents(&P, 1);
    assert_int_equal(l.n, 3);
    assert_ptr_equal(l.v[0], l1);
    assert_ptr_equal(l.v[1], l2);
    assert_ptr_equal(l.v[2], l3);
    rcgc_object_t *pq[2] = { P, Q };
    l = referents(pq, 2); /* concatenated */
    assert_int_equal(l.n, 4);
    assert_ptr_equal(l.v[0], l1);
    assert_ptr_equal(l.v[2], l3);
    assert_ptr_equal(l.v[3], P);
    l = referents(&l1, 1); /* non-GC: nothing */
    assert_int_equal(l.n, 0);
    rcgc_gc_untrack(P); /* an untracked GC object is still traversed */
    l = referents(&P, 1);
    assert_int_equal(l.n, 3);
    rcgc_object_t *E = gcm_new(&gcm_Empty, "E"); /* traverse visits nothing */
    l = referents(&E, 1);
    assert_int_equal(l.n, 0);
    gcm_drop(E);
    gcm_drop(Q);
    gcm_drop(P);
    gcm_drop(l1); gcm_drop(l2); gcm_drop(l3);
    assert_int_equal(gcm_alive_count(), 0);
}

/* S33 get_referrers and the in-flight set (test_get_objects_during_gc). */
static int g_y_in_objects = -1, g_y_referrers = -1;

static void s33_fin(gcm_node_t *self) {
    g_y_in_objects = gcm_in_objects(-1, &self->ob);
    rcgc_object_t *y = &self->ob;
    objlist_t l = { { 0 }, 0 };
    rcgc_gc_get_referrers(&y, 1, collect_visit, &l);
    g_y_referrers = (int)l.n;
}

static void s33_get_referrers(void **state) {
    gcm_begin();
    rcgc_object_t *X = gcm_leaf("X");
    rcgc_object_t *R4 = gcm_node("R4"); /* frozen referrer */
    gcm_set(R4, GCM_A, X);
    rcgc_gc_freeze();
    rcgc_object_t *R1 = gcm_node("R1"), *R2 = gcm_node("R2"), *R3 = gcm_node("R3");
    gcm_set(R1, GCM_A, X); /* R1.a = X */
    gcm_set(R2, GCM_B, X); /* R2.b = X */
    gcm_set(R3, GCM_A, X);
    rcgc_gc_untrack(R3); /* untracked referrer */
    objlist_t l = referrers(&X, 1);
    assert_int_equal(l.n, 2);
    assert_true(in_list(&l, R1));
    assert_true(in_list(&l, R2));
    rcgc_gc_unfreeze();
    l = referrers(&X, 1);
    assert_int_equal(l.n, 3);
    assert_true(in_list(&l, R4));
    gcm_drop(R1); gcm_drop(R2); gcm_drop(R3); gcm_drop(R4); gcm_drop(X);

    rcgc_object_t *Y = gcm_fin("Y", GCM_FIN_NOLOG);
    GCM(Y)->fin_hook = s33_fin;
    gcm_set(Y, GCM_A, Y);
    assert_true(gcm_in_objects(-1, Y));
    gcm_drop(Y);
    assert_int_equal(gcm_collect(2), 1);
    assert_int_equal(g_y_in_objects, 0);
    assert_int_equal(g_y_referrers, 0);
    assert_int_equal(gcm_deallocs("Y"), 1);
}

/* S34 is_tracked (test_is_tracked). */
static void s34_is_tracked(void **state) {
    gcm_begin();
    rcgc_object_t *leaf = gcm_leaf("leaf");
    assert_false(rcgc_gc_is_tracked(leaf));
    rcgc_object_t *n = gcm_node("n");
    assert_true(rcgc_gc_is_tracked(n));
    rcgc_gc_untrack(n);
    assert_false(rcgc_gc_is_tracked(n));
    rcgc_gc_untrack(n); /* harmless */
    assert_false(rcgc_gc_is_tracked(n));
    rcgc_object_t *f = gcm_node("f");
    rcgc_gc_freeze();
    assert_true(rcgc_gc_is_tracked(f));
    rcgc_gc_unfreeze();
    assert_true(rcgc_gc_is_tracked(f));
    gcm_drop(f);
    gcm_drop(n);
    gcm_drop(leaf);
}

/* S35 Tuple-style untracking (RCGC_TYPE_MAYBE_UNTRACK). */
static void s35_maybe_untrack(void **state) {
    gcm_begin();
    rcgc_object_t *la = gcm_leaf("la"), *lb = gcm_leaf("lb"), *node = gcm_node("node");
    rcgc_object_t *T = gcm_tup("T", la, lb);
    rcgc_object_t *T2 = gcm_tup("T2", T, NULL);
    rcgc_object_t *T3 = gcm_tup("T3", node, NULL);
    assert_true(rcgc_gc_is_tracked(T));
    assert_true(rcgc_gc_is_tracked(T2));
    assert_true(rcgc_gc_is_tracked(T3));
    assert_int_equal(gcm_collect(0), 0);
    assert_false(rcgc_gc_is_tracked(T));
    assert_int_equal(gcm_collect(1), 0);
    assert_false(rcgc_gc_is_tracked(T2)); /* after at most two collections */
    assert_true(rcgc_gc_is_tracked(T3));
    assert_int_equal(gcm_collect(2), 0);
    assert_true(rcgc_gc_is_tracked(T3));
    gcm_drop(T3); gcm_drop(T2); gcm_drop(T);
    gcm_drop(node); gcm_drop(la); gcm_drop(lb);
    assert_int_equal(gcm_alive_count(), 0);
}

/* S36 Freeze (test_freeze, test_traverse_frozen_objects, test_deferred_refcount_frozen). */
static void s36_freeze(void **state) {
    gcm_begin();
    /* (a) */
    rcgc_object_t *k[5];
    for (int i = 0; i < 5; i++) k[i] = gcm_node("k");
    size_t N = gcm_count_objects(-1);
    assert_true(N >= 5);
    rcgc_gc_freeze();
    assert_int_equal(rcgc_gc_get_freeze_count(), N);
    intptr_t cnt[3];
    rcgc_gc_get_count(cnt);
    assert_int_equal(cnt[0], 0);
    assert_int_equal(cnt[1], 0);
    assert_int_equal(cnt[2], 0);
    assert_int_equal(gcm_count_objects(-1), 0);
    assert_false(gcm_in_objects(-1, k[0]));
    rcgc_gc_unfreeze();
    assert_int_equal(rcgc_gc_get_freeze_count(), 0);
    assert_int_equal(gcm_count_objects(2), N);
    for (int i = 0; i < 5; i++) assert_true(gcm_in_objects(2, k[i]));
    for (int i = 0; i < 5; i++) gcm_drop(k[i]);

    /* (b) */
    rcgc_object_t *F = gcm_node("F");
    gcm_set(F, GCM_A, F);
    rcgc_gc_freeze();
    gcm_drop(F);
    assert_int_equal(gcm_collect(2), 0);
    assert_int_equal(gcm_deallocs("F"), 0);
    rcgc_gc_unfreeze();
    assert_int_equal(gcm_collect(2), 1);
    assert_int_equal(gcm_deallocs("F"), 1);

    /* (c) a frozen object is never examined or written */
    rcgc_object_t *X = gcm_node("X");
    gcm_set_steal(X, GCM_A, gcm_leaf("xl1"));
    gcm_set_steal(X, GCM_B, gcm_leaf("xl2"));
    rcgc_gc_freeze();
    rcgc_object_t *Y = gcm_node("Y");
    gcm_set(Y, GCM_A, X); /* Y.a = X */
    gcm_set(Y, GCM_B, Y); /* Y.y = Y */
    intptr_t rc_before = rcgc_refcnt(X);
    uint8_t bits_before = X->ob_gc_bits;
#ifndef RCGC_FREE_THREADED
    rcgc_gc_head_t head_before = *_rcgc_as_gc(X);
#endif
    gcm_drop(Y);
    assert_int_equal(gcm_collect(2), 1);
    assert_int_equal(gcm_deallocs("Y"), 1);
    assert_int_equal(rcgc_refcnt(X), rc_before - 1); /* only Y's reference went away */
    assert_int_equal(X->ob_gc_bits, bits_before);
#ifndef RCGC_FREE_THREADED
    assert_int_equal(_rcgc_as_gc(X)->gc_next, head_before.gc_next);
    assert_int_equal(_rcgc_as_gc(X)->gc_prev, head_before.gc_prev);
#endif
    rcgc_gc_unfreeze();
    gcm_drop(X);

    /* (d) */
    rcgc_gc_freeze();
    assert_int_equal(gcm_collect(2), 0);
    rcgc_gc_unfreeze();
    assert_int_equal(rcgc_gc_get_freeze_count(), 0);
    assert_int_equal(gcm_alive_count(), 0);
}

/* S37 Start/stop (test_collect, test_collect_generation). */
static int log_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    gcm_log("%s:%s:g%d:%ld/%ld", (const char *)ctx, phase == RCGC_GC_PHASE_START ? "start" : "stop",
            info->generation, (long)info->collected, (long)info->uncollectable);
    return 0;
}

static char g_cb1[] = "cb1", g_cb2[] = "cb2";

static void s37_start_stop(void **state) {
    gcm_begin();
    assert_int_equal(rcgc_gc_callback_add(log_cb, g_cb1), 0);
    assert_int_equal(rcgc_gc_callback_add(log_cb, g_cb2), 0);
    assert_int_equal(gcm_collect(2), 0);
    assert_string_equal(gcm_log_str(),
                        "cb1:start:g2:0/0,cb2:start:g2:0/0,cb1:stop:g2:0/0,cb2:stop:g2:0/0");
    gcm_log_clear();
    assert_int_equal(gcm_collect(0), 0);
    assert_string_equal(gcm_log_str(),
                        "cb1:start:g0:0/0,cb2:start:g0:0/0,cb1:stop:g0:0/0,cb2:stop:g0:0/0");
    /* start info carries zeros even when something is collected */
    gcm_log_clear();
    rcgc_object_t *n = gcm_node("n");
    gcm_set(n, GCM_A, n);
    gcm_drop(n);
    assert_int_equal(gcm_collect(2), 1);
    assert_string_equal(gcm_log_str(),
                        "cb1:start:g2:0/0,cb2:start:g2:0/0,cb1:stop:g2:1/0,cb2:stop:g2:1/0");
    assert_int_equal(rcgc_gc_callback_remove(log_cb, g_cb1), 0);
    assert_int_equal(rcgc_gc_callback_remove(log_cb, g_cb2), 0);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_callback_remove(log_cb, g_cb2), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
}

/* S38 Counts reported to callbacks (test_collect_garbage). */
static int cleanup_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    if (phase != RCGC_GC_PHASE_STOP) return 0;
    size_t i = 0;
    while (i < rcgc_gc_garbage_count()) {
        rcgc_object_t *o = rcgc_gc_garbage_item(i);
        if (o->ob_type == &gcm_Legacy) {
            rcgc_object_t *t = rcgc_gc_garbage_take(i);
            gcm_set(t, GCM_A, NULL); /* obj.p = NULL */
            gcm_drop(t);
        } else {
            i++;
        }
    }
    return 0;
}

static void make_pair(const char *a, const char *b, rcgc_object_t **pa, rcgc_object_t **pb) {
    *pa = gcm_legacy(a);
    *pb = gcm_legacy(b);
    gcm_set(*pa, GCM_A, *pb); /* Ua.p = Ub */
    gcm_set(*pb, GCM_A, *pa); /* Ub.p = Ua */
}

static void s38_counts_to_callbacks(void **state) {
    gcm_begin();
    rcgc_object_t *u1a, *u1b, *u2a, *u2b;
    make_pair("U1a", "U1b", &u1a, &u1b);
    make_pair("U2a", "U2b", &u2a, &u2b);
    rcgc_object_t *n = gcm_node("n");
    gcm_set(n, GCM_A, n);
    gcm_drop(u1a); gcm_drop(u1b); gcm_drop(u2a); gcm_drop(u2b); gcm_drop(n);
    gcm_events_clear();
    assert_int_equal(gcm_collect(2), 5);
    const gcm_event_t *ev = gcm_event_at(gcm_event_count() - 1);
    assert_int_equal(ev->phase, RCGC_GC_PHASE_STOP);
    assert_int_equal(ev->info.collected, 1);
    assert_int_equal(ev->info.uncollectable, 4);
    assert_int_equal(rcgc_gc_garbage_count(), 4);
    rcgc_object_t *g4[4];
    for (size_t i = 0; i < 4; i++) g4[i] = rcgc_gc_garbage_item(i);
    objlist_t gl = { { g4[0], g4[1], g4[2], g4[3] }, 4 };
    assert_true(in_list(&gl, u1a) && in_list(&gl, u1b) && in_list(&gl, u2a) && in_list(&gl, u2b));
    assert_string_equal(gcm_log_str(), "");

    rcgc_object_t *keep = rcgc_newref(u1a); /* keep pair 1 */
    rcgc_gc_garbage_clear();
    assert_int_equal(rcgc_gc_callback_add(cleanup_cb, NULL), 0);
    gcm_events_clear();
    assert_int_equal(gcm_collect(2), 2);
    assert_int_equal(rcgc_gc_callback_remove(cleanup_cb, NULL), 0);
    ev = gcm_event_at(gcm_event_count() - 1);
    assert_int_equal(ev->phase, RCGC_GC_PHASE_STOP);
    assert_int_equal(ev->info.collected, 0);
    assert_int_equal(ev->info.uncollectable, 2);
    assert_int_equal(rcgc_gc_garbage_count(), 0);
    assert_int_equal(gcm_log_len(), 2); /* pair 2 freed */
    const char *log = gcm_log_str();
    assert_true(strcmp(log, "tp_del:U2a,tp_del:U2b") == 0 ||
                strcmp(log, "tp_del:U2b,tp_del:U2a") == 0);
    assert_int_equal(gcm_deallocs("U2a"), 1);
    assert_int_equal(gcm_deallocs("U2b"), 1);
    assert_int_equal(gcm_deallocs("U1a"), 0); /* pair 1 alive */
    assert_int_equal(gcm_deallocs("U1b"), 0);
    assert_ptr_equal(gcm_get(keep, GCM_A), u1b);
    gcm_set(keep, GCM_A, NULL);
    gcm_drop(keep);
    assert_int_equal(gcm_deallocs("U1a"), 1);
    assert_int_equal(gcm_deallocs("U1b"), 1);
}

/* S39 Errors in user code (derived). */
static int g_cbB_calls;

static int err_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    rcgc_error_set(RCGC_EUSER, "GC callback failed");
    return -1;
}

static int count_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    g_cbB_calls++;
    return 0;
}

static int badclear_clear(rcgc_object_t *self) {
    bool in_gc = rcgc_refcnt(self) > 0;
    if (!in_gc) gcm_note_dealloc(self);
    for (int i = 0; i < GCM_NSLOTS; i++) RCGC_CLEAR(GCM(self)->slot[i]);
    if (in_gc) {
        rcgc_error_set(RCGC_EUSER, "clear failed");
        return -1;
    }
    return 0;
}

static int badclear_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    for (int i = 0; i < GCM_NSLOTS; i++) RCGC_VISIT(GCM(self)->slot[i], visit, arg);
    return 0;
}

static const rcgc_type_t badclear_type = {
    .name = "BadClear", .basic_size = sizeof(gcm_node_t), .flags = RCGC_TYPE_GC,
    .traverse = badclear_traverse, .clear = badclear_clear,
};

static void s39_errors_in_user_code(void **state) {
    gcm_begin();
    g_cbB_calls = 0;
    assert_int_equal(rcgc_gc_callback_add(err_cb, NULL), 0);
    assert_int_equal(rcgc_gc_callback_add(count_cb, NULL), 0);
    rcgc_object_t *X1 = gcm_node("X1");
    gcm_set(X1, GCM_A, X1);
    rcgc_object_t *Wok = gcm_weakref(X1, "ok", NULL, NULL, NULL);   /* fires second */
    rcgc_object_t *Werr = gcm_weakref(X1, "err", NULL, NULL, NULL); /* fires first */
    gcm_wcb("err")->flags |= GCM_WCB_ERROR;
    rcgc_object_t *F = gcm_fin("F", GCM_FIN_ERROR);
    gcm_set(F, GCM_A, F);
    rcgc_object_t *G = gcm_fin("G", 0);
    gcm_set(G, GCM_A, G);
    rcgc_object_t *BC = gcm_new(&badclear_type, "BC");
    gcm_set(BC, GCM_A, BC);
    gcm_drop(X1); gcm_drop(F); gcm_drop(G); gcm_drop(BC);

    rcgc_error_clear();
    assert_int_equal(gcm_collect(2), 4); /* X1, F, G, BC */
    assert_int_equal(rcgc_last_error(), RCGC_OK); /* nothing escapes */
    assert_int_equal(rcgc_gc_callback_remove(err_cb, NULL), 0);
    assert_int_equal(rcgc_gc_callback_remove(count_cb, NULL), 0);
    assert_int_equal(g_cbB_calls, 2); /* start and stop still ran */
    assert_int_equal(gcm_wcb("err")->fired, 1);
    assert_int_equal(gcm_wcb("ok")->fired, 1);
    assert_int_equal(gcm_finalizes("F"), 1);
    assert_int_equal(gcm_finalizes("G"), 1);
    /* GC callback at start and stop, weakref callback, finalizer, clear */
    assert_int_equal(gcm_unraisable_count(), 5);
    assert_int_equal(gcm_deallocs("X1"), 1);
    assert_int_equal(gcm_deallocs("F"), 1);
    assert_int_equal(gcm_deallocs("G"), 1);
    assert_int_equal(gcm_deallocs("BC"), 1);
    assert_null(rcgc_weakref_peek(Wok));
    gcm_drop(Wok);
    gcm_drop(Werr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(s32_get_referents, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s33_get_referrers, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s34_is_tracked, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s35_maybe_untrack, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s36_freeze, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s37_start_stop, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s38_counts_to_callbacks, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(s39_errors_in_user_code, gcm_setup, gcm_teardown),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
