/* test_gc_api_default.c - API-level tests of rcgc/gc.h in the default build:
 * defaults and thresholds, counts (S26, S27), argument errors, enable/disable,
 * scheduling at safe points, callback registration, the garbage list, freeze
 * counts, debug-flag output formats, walks, and the heap checker.
 * The conformance scenarios themselves are in test_gc_conformance*.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"
#include "internal/gc_internal.h" /* the pre-header, for the broken-link check */

/* ---- output capture ---------------------------------------------------------- */

static char g_out[16384];
static size_t g_outlen;

static void capture_output(const char *text, void *ctx) {
    (void)ctx;
    size_t n = strlen(text);
    if (g_outlen + n >= sizeof g_out) n = sizeof g_out - g_outlen - 1;
    memcpy(g_out + g_outlen, text, n);
    g_outlen += n;
    g_out[g_outlen] = '\0';
}

static void capture_start(void) {
    g_outlen = 0;
    g_out[0] = '\0';
    rcgc_set_output(capture_output, NULL);
}

static void capture_stop(void) { rcgc_set_output(NULL, NULL); }

static size_t count_substr(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* ---- defaults, thresholds, errors ---------------------------------------------- */

static void defaults_and_thresholds(void **state) {
    gcm_begin();
    int th[3];
    rcgc_gc_get_threshold(th);
    assert_int_equal(th[0], 2000);
    assert_int_equal(th[1], 10);
    assert_int_equal(th[2], 10);
    assert_int_equal(rcgc_gc_set_threshold(5, 6, 7), 0);
    rcgc_gc_get_threshold(th);
    assert_int_equal(th[0], 5);
    assert_int_equal(th[1], 6);
    assert_int_equal(th[2], 7);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_set_threshold(-1, 6, 7), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    rcgc_gc_get_threshold(th);
    assert_int_equal(th[0], 5); /* unchanged on error */
    assert_int_equal(rcgc_gc_set_threshold(0, 0, 0), 0);
}

static void enable_disable_return_previous(void **state) {
    gcm_begin(); /* disables */
    assert_false(rcgc_gc_is_enabled());
    assert_false(rcgc_gc_enable());
    assert_true(rcgc_gc_is_enabled());
    assert_true(rcgc_gc_enable());
    assert_true(rcgc_gc_disable());
    assert_false(rcgc_gc_disable());
    assert_false(rcgc_gc_is_enabled());
}

static void invalid_generations(void **state) {
    gcm_begin();
    int bad[] = { -2, -1, 3, 100 };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rcgc_error_clear();
        assert_int_equal(rcgc_gc_collect(bad[i]), -1);
        assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    }
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_get_objects(3, NULL, NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_get_objects(-2, NULL, NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
}

/* S26 Young counter. */
static void young_counter(void **state) {
    gcm_begin();
    rcgc_object_t *P = gcm_node("P");
    gcm_collect(2);
    intptr_t c[3];
    rcgc_gc_get_count(c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 0);
    rcgc_object_t *x = gcm_node("x");
    rcgc_gc_get_count(c);
    assert_int_equal(c[0], 1);
    gcm_drop(x);
    rcgc_gc_get_count(c);
    assert_int_equal(c[0], 0);
    gcm_drop(P);
    rcgc_gc_get_count(c);
    assert_int_equal(c[0], 0); /* floored */
}

/* S27 Generation counters. */
static void generation_counters(void **state) {
    gcm_begin();
    rcgc_object_t *x = gcm_node("x");
    intptr_t c[3];
    gcm_collect(0);
    rcgc_gc_get_count(c);
    assert_true(c[0] == 0 && c[1] == 1 && c[2] == 0);
    gcm_collect(1);
    rcgc_gc_get_count(c);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 1);
    gcm_collect(2);
    rcgc_gc_get_count(c);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0);
    gcm_drop(x);
}

/* Allocation only schedules; the collection runs at the next safe point. */
static void collection_runs_at_safe_point_only(void **state) {
    gcm_begin();
    rcgc_gc_set_threshold(10, 10, 10);
    rcgc_gc_enable();
    rcgc_object_t *keep[11];
    for (int i = 0; i < 11; i++) keep[i] = gcm_node("k");
    assert_int_equal(gcm_collections_seen(), 0); /* scheduled, not run */
    rcgc_safepoint();
    assert_int_equal(gcm_collections_seen(), 1);
    assert_int_equal(gcm_event_at(1)->info.generation, 0);
    assert_int_equal(gcm_event_at(1)->info.reason, RCGC_GC_REASON_HEAP);
    rcgc_safepoint(); /* nothing pending */
    assert_int_equal(gcm_collections_seen(), 1);
    /* disabled between schedule and safe point: nothing runs */
    for (int i = 0; i < 11; i++) gcm_drop(keep[i]);
    for (int i = 0; i < 11; i++) keep[i] = gcm_node("k2");
    rcgc_gc_disable();
    rcgc_safepoint();
    assert_int_equal(gcm_collections_seen(), 1);
    for (int i = 0; i < 11; i++) gcm_drop(keep[i]);
}

/* ---- callbacks ----------------------------------------------------------------- */

static int g_cb_calls[2];
static int g_cb_nested;

static int cb_count(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    int *slot = ctx;
    slot[phase]++;
    g_cb_nested = (int)rcgc_gc_collect(2); /* re-entrant: 0 */
    return 0;
}

static int cb_fail(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    rcgc_error_set(RCGC_EUSER, "callback failed");
    return -1;
}

static void callback_registration(void **state) {
    gcm_begin();
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_callback_add(NULL, NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_callback_remove(cb_count, g_cb_calls), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);

    memset(g_cb_calls, 0, sizeof g_cb_calls);
    g_cb_nested = -5;
    assert_int_equal(rcgc_gc_callback_add(cb_fail, NULL), 0);
    assert_int_equal(rcgc_gc_callback_add(cb_count, g_cb_calls), 0);
    rcgc_object_t *A = gcm_node("A");
    gcm_set(A, GCM_A, A);
    gcm_drop(A);
    assert_int_equal(rcgc_gc_collect(1), 1); /* errors never escape */
    assert_int_equal(g_cb_calls[RCGC_GC_PHASE_START], 1);
    assert_int_equal(g_cb_calls[RCGC_GC_PHASE_STOP], 1);
    assert_int_equal(g_cb_nested, 0);
    assert_int_equal(gcm_unraisable_count(), 2); /* cb_fail at start and stop */
    assert_int_equal(rcgc_gc_callback_remove(cb_fail, NULL), 0);
    assert_int_equal(rcgc_gc_callback_remove(cb_count, g_cb_calls), 0);
    rcgc_gc_collect(2);
    assert_int_equal(g_cb_calls[RCGC_GC_PHASE_STOP], 1);
}

/* The caller's pending error survives a collection whose user code fails. */
static void pending_error_survives_collection(void **state) {
    gcm_begin();
    rcgc_object_t *X = gcm_fin("X", GCM_FIN_ERROR | GCM_FIN_NOLOG);
    gcm_set(X, GCM_A, X);
    gcm_drop(X);
    rcgc_error_set(RCGC_EBUSY, "mine");
    assert_int_equal(rcgc_gc_collect(2), 1);
    assert_int_equal(rcgc_last_error(), RCGC_EBUSY);
    assert_string_equal(rcgc_last_error_message(), "mine");
    assert_int_equal(gcm_unraisable_count(), 1);
    rcgc_error_clear();
}

/* ---- the garbage list ------------------------------------------------------------- */

static void garbage_list(void **state) {
    gcm_begin();
    rcgc_gc_set_debug(RCGC_GC_DEBUG_SAVEALL);
    rcgc_object_t *A = gcm_node("A"), *B = gcm_node("B");
    gcm_set(A, GCM_A, A);
    gcm_set(B, GCM_A, B);
    gcm_drop(A);
    gcm_drop(B);
    assert_int_equal(rcgc_gc_collect(2), 2);
    rcgc_gc_set_debug(0);
    assert_int_equal(rcgc_gc_garbage_count(), 2);
    assert_ptr_equal(rcgc_gc_garbage_item(0), A);
    assert_ptr_equal(rcgc_gc_garbage_item(1), B);
    assert_null(rcgc_gc_garbage_item(2));
    assert_null(rcgc_gc_garbage_take(2));
    rcgc_object_t *t = rcgc_gc_garbage_take(0);
    assert_ptr_equal(t, A);
    assert_int_equal(rcgc_gc_garbage_count(), 1);
    assert_ptr_equal(rcgc_gc_garbage_item(0), B);
    gcm_set(A, GCM_A, NULL); /* break A's cycle; our reference frees it */
    rcgc_decref(t);
    assert_int_equal(gcm_deallocs("A"), 1);
    rcgc_gc_garbage_clear();
    assert_int_equal(rcgc_gc_garbage_count(), 0);
    assert_int_equal(gcm_collect(2), 1); /* B's cycle, now collectable */
    assert_int_equal(gcm_deallocs("B"), 1);
}

/* ---- freeze ------------------------------------------------------------------------ */

static void freeze_counts(void **state) {
    gcm_begin();
    size_t base = gcm_count_objects(-1);
    rcgc_object_t *x[5];
    for (int i = 0; i < 5; i++) x[i] = gcm_node("x");
    rcgc_gc_freeze();
    assert_int_equal(rcgc_gc_get_freeze_count(), base + 5);
    assert_int_equal(gcm_count_objects(-1), 0);
    intptr_t c[3];
    rcgc_gc_get_count(c);
    assert_true(c[0] == 0 && c[1] == 0 && c[2] == 0);
    assert_true(rcgc_gc_is_tracked(x[0]));
    assert_int_equal(rcgc_gc_check_heap(), 0);
    assert_int_equal(gcm_collect(2), 0);
    rcgc_gc_unfreeze();
    assert_int_equal(rcgc_gc_get_freeze_count(), 0);
    assert_true(gcm_in_objects(2, x[0]));
    assert_int_equal(gcm_count_objects(2), base + 5);
    for (int i = 0; i < 5; i++) gcm_drop(x[i]);
}

typedef struct visit_state { const rcgc_object_t *target; int seen; int total; } visit_state_t;

static int visit_find(rcgc_object_t *o, void *arg) {
    visit_state_t *v = arg;
    v->total++;
    if (o == v->target) v->seen++;
    return 0;
}

static int visit_stop(rcgc_object_t *o, void *arg) { return 42; }

static void walks(void **state) {
    gcm_begin();
    rcgc_object_t *F = gcm_node("F"), *R1 = gcm_node("R1"), *R2 = gcm_node("R2");
    rcgc_object_t *X = gcm_leaf("X");
    gcm_set(R1, GCM_A, X);
    gcm_set(R2, GCM_B, X);
    gcm_set(R1, GCM_C, F);
    rcgc_gc_freeze(); /* F, R1, R2 frozen */
    visit_state_t v = { F, 0, 0 };
    assert_int_equal(rcgc_gc_visit_objects(visit_find, &v), 0);
    assert_int_equal(v.seen, 1); /* visit_objects includes frozen objects */
    v = (visit_state_t){ F, 0, 0 };
    assert_int_equal(rcgc_gc_get_objects(-1, visit_find, &v), 0);
    assert_int_equal(v.seen, 0);
    v = (visit_state_t){ NULL, 0, 0 };
    assert_int_equal(rcgc_gc_get_referrers(&X, 1, visit_find, &v), 0);
    assert_int_equal(v.total, 0); /* frozen referrers excluded */
    rcgc_gc_unfreeze();
    v = (visit_state_t){ R1, 0, 0 };
    assert_int_equal(rcgc_gc_get_referrers(&X, 1, visit_find, &v), 0);
    assert_int_equal(v.total, 2);
    assert_int_equal(v.seen, 1);
    v = (visit_state_t){ F, 0, 0 };
    assert_int_equal(rcgc_gc_get_referents(&R1, 1, visit_find, &v), 0);
    assert_int_equal(v.total, 2);
    assert_int_equal(v.seen, 1);
    assert_int_equal(rcgc_gc_get_referents(&X, 1, visit_find, &v), 0); /* non-GC: nothing */
    assert_int_equal(v.total, 2);
    assert_int_equal(rcgc_gc_get_objects(-1, visit_stop, NULL), 42);
    assert_int_equal(rcgc_gc_visit_objects(visit_stop, NULL), 42);
    gcm_drop(X);
    gcm_drop(F);
    gcm_drop(R1);
    gcm_drop(R2);
}

/* ---- debug output -------------------------------------------------------------------- */

static void debug_stats_and_collectable_lines(void **state) {
    gcm_begin();
    rcgc_object_t *A = gcm_node("A");
    gcm_set(A, GCM_A, A);
    gcm_drop(A);
    char expect[128];
    snprintf(expect, sizeof expect, "gc: collectable <%s %p>\n", gcm_Node.name, (void *)A);
    rcgc_gc_set_debug(RCGC_GC_DEBUG_STATS | RCGC_GC_DEBUG_COLLECTABLE);
    capture_start();
    assert_int_equal(rcgc_gc_collect(2), 1);
    capture_stop();
    rcgc_gc_set_debug(0);
    assert_non_null(strstr(g_out, "gc: collecting generation 2...\n"));
    assert_non_null(strstr(g_out, "gc: objects in each generation: "));
    assert_non_null(strstr(g_out, "gc: objects in permanent generation: 0\n"));
    assert_non_null(strstr(g_out, expect));
    assert_non_null(strstr(g_out, "gc: done, 1 unreachable, 0 uncollectable, "));
    assert_non_null(strstr(g_out, "s elapsed\n"));
}

static void debug_uncollectable_lines(void **state) {
    gcm_begin();
    rcgc_object_t *L = gcm_legacy("L");
    gcm_set(L, GCM_A, L);
    gcm_drop(L);
    rcgc_gc_set_debug(RCGC_GC_DEBUG_UNCOLLECTABLE);
    capture_start();
    assert_int_equal(rcgc_gc_collect(2), 1);
    capture_stop();
    rcgc_gc_set_debug(0);
    char expect[128];
    snprintf(expect, sizeof expect, "gc: uncollectable <%s %p>\n", gcm_Legacy.name, (void *)L);
    assert_non_null(strstr(g_out, expect));
    assert_int_equal(count_substr(g_out, "gc: "), 1);
    assert_int_equal(rcgc_gc_garbage_count(), 1);
    gcm_set(L, GCM_A, NULL);
    rcgc_gc_garbage_clear(); /* L freed by refcounting: its del runs */
    assert_int_equal(gcm_rec_by_label("L")->dels, 1);
}

/* ---- the heap checker ------------------------------------------------------------------- */

static void check_heap_sound_and_too_small(void **state) {
    gcm_begin();
    rcgc_object_t *a = gcm_node("a"), *b = gcm_node("b");
    gcm_set(b, GCM_A, a);
    gcm_set(b, GCM_B, a);
    gcm_set(a, GCM_C, b);
    assert_int_equal(rcgc_gc_check_heap(), 0);
    /* a: count 3 (test, b.x, b.y). Pretend two references were lost. */
    a->ob_refcnt -= 2;
    capture_start();
    size_t problems = rcgc_gc_check_heap();
    capture_stop();
    a->ob_refcnt += 2;
    assert_int_equal(problems, 1);
    assert_non_null(strstr(g_out, "refcount is too small"));
    assert_int_equal(rcgc_gc_check_heap(), 0);
    gcm_drop(a);
    gcm_drop(b);
    assert_int_equal(gcm_collect(2), 2);
}

/* Compressed links (8-byte pre-header): objects of every allocation size
 * class (small, medium, large page run, huge own mapping) are 16-byte
 * aligned, linked, checked and collected as one cycle. */
typedef struct sized_node {
    rcgc_var_object_t ob;
    rcgc_object_t *next;
    char items[];
} sized_node_t;
static int sized_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((sized_node_t *)self)->next, visit, arg);
    return 0;
}
static int sized_clear(rcgc_object_t *self) {
    RCGC_CLEAR(((sized_node_t *)self)->next);
    return 0;
}
static const rcgc_type_t sized_type = {
    .name = "sized", .basic_size = sizeof(sized_node_t), .item_size = 1, .flags = RCGC_TYPE_GC,
    .traverse = sized_traverse, .clear = sized_clear,
};

static void compact_links_every_size_class(void **state) {
    (void)state;
    gcm_begin();
    assert_int_equal(RCGC_GC_PREHEADER_SIZE, 8);
    assert_int_equal(sizeof(rcgc_gc_head_t), 8);
    static const size_t sizes[] = { 0, 24, 2000, 100000, (size_t)3 << 20 };
    enum { N = sizeof sizes / sizeof sizes[0] };
    rcgc_object_t *o[N];
    size_t live0 = rcgc_object_live_count();
    for (int i = 0; i < N; i++) {
        o[i] = rcgc_object_new_var(&sized_type, sizes[i]);
        assert_non_null(o[i]);
        assert_int_equal((uintptr_t)o[i] % 16, 0);
        assert_true(rcgc_gc_is_tracked(o[i]));
        assert_int_not_equal(_rcgc_as_gc(o[i])->gc_next, 0);
        memset(((sized_node_t *)o[i])->items, 0x5A, sizes[i]);
    }
    for (int i = 0; i < N; i++) {
        rcgc_incref(o[(i + 1) % N]);
        ((sized_node_t *)o[i])->next = o[(i + 1) % N];
    }
    assert_int_equal(rcgc_gc_check_heap(), 0);
    assert_int_equal(gcm_collect(2), 0); /* all reachable: survive, promoted */
    assert_int_equal(rcgc_gc_check_heap(), 0);
    for (int i = 0; i < N; i++) rcgc_decref(o[i]);
    assert_int_equal(gcm_collect(2), N);
    assert_int_equal(rcgc_object_live_count(), live0);
    assert_int_equal(rcgc_gc_check_heap(), 0);
}

static void check_heap_detects_broken_link(void **state) {
    gcm_begin();
    rcgc_object_t *a = gcm_node("a"), *b = gcm_node("b");
    rcgc_gc_head_t *ga = (rcgc_gc_head_t *)((char *)a - sizeof(rcgc_gc_head_t));
    uint32_t saved = ga->gc_prev;
    ga->gc_prev = ga->gc_next; /* wrong back link (names b, not the list head) */
    capture_start();
    size_t problems = rcgc_gc_check_heap();
    capture_stop();
    ga->gc_prev = saved;
    assert_true(problems >= 1);
    assert_non_null(strstr(g_out, "gc_prev"));
    assert_int_equal(rcgc_gc_check_heap(), 0);
    gcm_drop(a);
    gcm_drop(b);
}

/* Outside a running runtime the collector refuses work instead of touching
 * uninitialised lists; shutdown reports uncollectable garbage. */
static void shutdown_report_and_not_initialized(void **state) {
    rcgc_object_t *L = gcm_legacy("L");
    gcm_set(L, GCM_A, L);
    gcm_drop(L);
    rcgc_gc_set_debug(0);
    capture_start();
    assert_int_equal(rcgc_shutdown(), 0);
    capture_stop();
    assert_non_null(strstr(g_out, "gc: 1 uncollectable objects at shutdown; use "
                                  "rcgc_gc_set_debug(RCGC_GC_DEBUG_UNCOLLECTABLE) to list them\n"));
    rcgc_error_clear();
    assert_int_equal(rcgc_gc_collect(2), -1);
    assert_int_equal(rcgc_last_error(), RCGC_ESTATE);
    assert_int_equal(rcgc_gc_check_heap(), 0);
    assert_int_equal(rcgc_init(), 0);
    int th[3];
    rcgc_gc_get_threshold(th);
    assert_int_equal(th[0], 2000); /* fresh state after a restart */
    assert_int_equal(rcgc_gc_garbage_count(), 0);
    assert_int_equal(rcgc_gc_collect(2), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults_and_thresholds, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(enable_disable_return_previous, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(invalid_generations, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(young_counter, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(generation_counters, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(collection_runs_at_safe_point_only, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(callback_registration, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(pending_error_survives_collection, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(garbage_list, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(freeze_counts, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(walks, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(debug_stats_and_collectable_lines, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(debug_uncollectable_lines, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(check_heap_sound_and_too_small, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(check_heap_detects_broken_link, gcm_setup, gcm_teardown),
        cmocka_unit_test_setup_teardown(compact_links_every_size_class, gcm_setup, gcm_teardown),
        cmocka_unit_test(shutdown_report_and_not_initialized),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
