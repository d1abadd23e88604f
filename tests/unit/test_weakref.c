/* test_weakref.c - weak references on refcount death (the collector's
 * weakref phases are covered by the gc conformance tests). */
#include "testutil.h"
#include <stdio.h>
#include <string.h>

typedef struct obj { rcgc_object_t ob; rcgc_object_t *weaklist; rcgc_object_t *slot; } obj_t;
static int obj_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((obj_t *)self)->slot, visit, arg);
    return 0;
}
static int obj_clear(rcgc_object_t *self) { RCGC_CLEAR(((obj_t *)self)->slot); return 0; }
static const rcgc_type_t obj_type = { .name = "obj", .basic_size = sizeof(obj_t),
                                      .flags = RCGC_TYPE_GC | RCGC_TYPE_WEAKREFABLE,
                                      .weaklist_offset = offsetof(obj_t, weaklist),
                                      .traverse = obj_traverse, .clear = obj_clear };
static const rcgc_type_t plain_type = { .name = "plain", .basic_size = sizeof(obj_t) };

static char log_buf[256];
static void log_add(const char *s) { strncat(log_buf, s, sizeof log_buf - strlen(log_buf) - 1); }

static int log_cb(rcgc_object_t *wr, rcgc_object_t *ctx, void *data) {
    log_add((const char *)data);
    /* every weakref to the dying object is already cleared */
    assert_null(rcgc_weakref_get(wr));
    return 0;
}

static void test_get_returns_new_reference_then_null(void **state) {
    rcgc_object_t *o = rcgc_object_new(&obj_type);
    rcgc_object_t *w = rcgc_weakref_new(o, NULL, NULL, NULL);
    assert_non_null(w);
    assert_true(rcgc_is_weakref(w));
    assert_int_equal(rcgc_weakref_count(o), 1);
    rcgc_object_t *got = rcgc_weakref_get(w);
    assert_ptr_equal(got, o);
    assert_int_equal(rcgc_refcnt(o), 2);
    rcgc_decref(got);
    assert_ptr_equal(rcgc_weakref_peek(w), o);
    rcgc_decref(o);
    assert_null(rcgc_weakref_get(w));
    assert_null(rcgc_weakref_peek(w));
    rcgc_decref(w);
}

static void test_callbacks_fire_newest_first_after_all_cleared(void **state) {
    log_buf[0] = '\0';
    rcgc_object_t *o = rcgc_object_new(&obj_type);
    rcgc_object_t *plain = rcgc_weakref_new(o, NULL, NULL, NULL);
    rcgc_object_t *w1 = rcgc_weakref_new(o, log_cb, NULL, "1");
    rcgc_object_t *w2 = rcgc_weakref_new(o, log_cb, NULL, "2");
    rcgc_object_t *w3 = rcgc_weakref_new(o, log_cb, NULL, "3");
    rcgc_decref(o);
    assert_string_equal(log_buf, "321");
    assert_null(rcgc_weakref_get(plain));
    rcgc_decref(plain); rcgc_decref(w1); rcgc_decref(w2); rcgc_decref(w3);
}

static void test_many_weakrefs_all_cleared_before_any_callback(void **state) {
    log_buf[0] = '\0';
    rcgc_object_t *o = rcgc_object_new(&obj_type);
    rcgc_object_t *ws[40];
    for (int i = 0; i < 40; i++) ws[i] = rcgc_weakref_new(o, log_cb, NULL, "x");
    rcgc_decref(o);
    assert_int_equal(strlen(log_buf), 40);
    for (int i = 0; i < 40; i++) rcgc_decref(ws[i]);
}

static void test_dead_weakref_gets_no_callback(void **state) {
    log_buf[0] = '\0';
    rcgc_object_t *o = rcgc_object_new(&obj_type);
    rcgc_object_t *w = rcgc_weakref_new(o, log_cb, NULL, "w");
    rcgc_decref(w); /* the weakref dies first: unlinked, never called */
    assert_int_equal(rcgc_weakref_count(o), 0);
    rcgc_decref(o);
    assert_string_equal(log_buf, "");
}

/* A callback that drops the last reference to its own weakref. */
static rcgc_object_t *held_wr;
static int drop_self_cb(rcgc_object_t *wr, rcgc_object_t *ctx, void *data) {
    assert_ptr_equal(wr, held_wr);
    RCGC_CLEAR(held_wr);
    (*(int *)data)++;
    return 0;
}

static void test_callback_may_drop_its_weakref(void **state) {
    int calls = 0;
    size_t live = rcgc_object_live_count();
    rcgc_object_t *o = rcgc_object_new(&obj_type);
    held_wr = rcgc_weakref_new(o, drop_self_cb, NULL, &calls);
    rcgc_decref(o);
    assert_int_equal(calls, 1);
    assert_null(held_wr);
    assert_int_equal(rcgc_object_live_count(), live);
}

/* Errors raised by callbacks go to the unraisable hook; the others still run. */
static int unraisable_calls;
static char unraisable_where[64];
static void count_unraisable(rcgc_error_t code, const char *msg, const char *where, rcgc_object_t *obj, void *ctx) {
    unraisable_calls++;
    assert_int_equal(code, RCGC_EUSER);
    assert_string_equal(msg, "callback failed");
    snprintf(unraisable_where, sizeof unraisable_where, "%s", where);
}
static int failing_cb(rcgc_object_t *wr, rcgc_object_t *ctx, void *data) {
    log_add("f");
    rcgc_error_set(RCGC_EUSER, "callback failed");
    return -1;
}

static void test_callback_errors_are_reported_not_propagated(void **state) {
    log_buf[0] = '\0';
    unraisable_calls = 0;
    rcgc_set_unraisable_hook(count_unraisable, NULL);
    rcgc_object_t *o = rcgc_object_new(&obj_type);
    rcgc_object_t *w1 = rcgc_weakref_new(o, failing_cb, NULL, NULL);
    rcgc_object_t *w2 = rcgc_weakref_new(o, log_cb, NULL, "ok");
    rcgc_error_set(RCGC_EINVAL, "caller's pending error");
    rcgc_decref(o);
    assert_string_equal(log_buf, "okf");
    assert_int_equal(unraisable_calls, 1);
    assert_string_equal(unraisable_where, "weakref callback for");
    /* the caller's error survives the callbacks */
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_string_equal(rcgc_last_error_message(), "caller's pending error");
    rcgc_error_clear();
    rcgc_set_unraisable_hook(NULL, NULL);
    rcgc_decref(w1);
    rcgc_decref(w2);
}

static void test_context_object_is_owned(void **state) {
    rcgc_object_t *o = rcgc_object_new(&obj_type);
    rcgc_object_t *ctx = rcgc_object_new(&plain_type);
    rcgc_object_t *w = rcgc_weakref_new(o, log_cb, ctx, "c");
    assert_int_equal(rcgc_refcnt(ctx), 2);
    rcgc_decref(ctx);
    rcgc_decref(w);
    rcgc_decref(o);
}

static void test_not_weakrefable_is_einval(void **state) {
    rcgc_object_t *p = rcgc_object_new(&plain_type);
    rcgc_error_clear();
    assert_null(rcgc_weakref_new(p, NULL, NULL, NULL));
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    rcgc_decref(p);
}

/* Refcount death of an object with a finalizer: the finalizer sees its
 * weakrefs alive, callbacks run after it (cpython-gc.md S9, refcount variant). */
typedef struct fobj { obj_t base; rcgc_object_t *wr; } fobj_t;
static int fobj_finalize(rcgc_object_t *self) {
    log_add(rcgc_weakref_peek(((fobj_t *)self)->wr) ? "fin:alive," : "fin:dead,");
    return 0;
}
static int fobj_clear(rcgc_object_t *self) { RCGC_CLEAR(((fobj_t *)self)->wr); return obj_clear(self); }
static const rcgc_type_t fobj_type = { .name = "fobj", .basic_size = sizeof(fobj_t),
                                       .flags = RCGC_TYPE_GC | RCGC_TYPE_WEAKREFABLE,
                                       .weaklist_offset = offsetof(obj_t, weaklist),
                                       .traverse = obj_traverse, .clear = fobj_clear, .finalize = fobj_finalize };

static void test_finalizer_before_weakref_callbacks_on_refcount_death(void **state) {
    log_buf[0] = '\0';
    fobj_t *d = (fobj_t *)rcgc_object_new(&fobj_type);
    d->wr = rcgc_weakref_new(&d->base.ob, NULL, NULL, NULL);
    rcgc_object_t *wc = rcgc_weakref_new(&d->base.ob, log_cb, NULL, "cb");
    rcgc_decref(&d->base.ob);
    assert_string_equal(log_buf, "fin:alive,cb");
    assert_null(rcgc_weakref_get(wc));
    rcgc_decref(wc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_returns_new_reference_then_null),
        cmocka_unit_test(test_callbacks_fire_newest_first_after_all_cleared),
        cmocka_unit_test(test_many_weakrefs_all_cleared_before_any_callback),
        cmocka_unit_test(test_dead_weakref_gets_no_callback),
        cmocka_unit_test(test_callback_may_drop_its_weakref),
        cmocka_unit_test(test_callback_errors_are_reported_not_propagated),
        cmocka_unit_test(test_context_object_is_owned),
        cmocka_unit_test(test_not_weakrefable_is_einval),
        cmocka_unit_test(test_finalizer_before_weakref_callbacks_on_refcount_death),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
