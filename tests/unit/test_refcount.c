/* test_refcount.c - reference counting in both flavours: counts, immortal and
 * static objects, clear/setref ordering, the default dealloc, finalizers from
 * dealloc, allocation errors. */
#include "testutil.h"
#include <string.h>

typedef struct node {
    rcgc_object_t ob;
    struct node *next;
    rcgc_object_t *weaklist;
    int *freed; /* incremented by the clear function: teardown counter */
} node_t;

static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((node_t *)self)->next, visit, arg);
    return 0;
}

static int node_clear(rcgc_object_t *self) {
    node_t *n = (node_t *)self;
    if (n->freed) (*n->freed)++;
    RCGC_CLEAR(n->next);
    return 0;
}

static const rcgc_type_t node_type = {
    .name = "node", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC | RCGC_TYPE_WEAKREFABLE,
    .weaklist_offset = offsetof(node_t, weaklist), .traverse = node_traverse, .clear = node_clear,
};
static const rcgc_type_t leaf_type = { .name = "leaf", .basic_size = sizeof(node_t), .clear = node_clear };

static void test_new_object_has_count_one(void **state) {
    node_t *n = (node_t *)rcgc_object_new(&node_type);
    assert_non_null(n);
    assert_int_equal(rcgc_refcnt(&n->ob), 1);
    assert_ptr_equal(rcgc_type_of(&n->ob), &node_type);
    assert_null(n->next); /* zero-filled */
    assert_true(rcgc_gc_is_tracked(&n->ob));
    rcgc_incref(&n->ob);
    assert_int_equal(rcgc_refcnt(&n->ob), 2);
    assert_ptr_equal(rcgc_newref(&n->ob), &n->ob);
    assert_int_equal(rcgc_refcnt(&n->ob), 3);
    rcgc_decref(&n->ob);
    rcgc_decref(&n->ob);
    assert_int_equal(rcgc_refcnt(&n->ob), 1);
    rcgc_decref(&n->ob);
}

static void test_decref_to_zero_frees_through_default_dealloc(void **state) {
    int freed = 0;
    size_t live = rcgc_object_live_count();
    node_t *a = (node_t *)rcgc_object_new(&node_type);
    node_t *b = (node_t *)rcgc_object_new(&leaf_type);
    a->freed = &freed;
    b->freed = &freed;
    a->next = b; /* steals b's reference */
    assert_int_equal(rcgc_object_live_count(), live + 2);
    rcgc_decref(&a->ob);
    assert_int_equal(freed, 2);
    assert_int_equal(rcgc_object_live_count(), live);
}

static void test_null_tolerant_variants(void **state) {
    rcgc_xincref(NULL);
    rcgc_xdecref(NULL);
    assert_null(rcgc_xnewref(NULL));
    node_t *n = NULL;
    RCGC_CLEAR(n);
    assert_null(n);
}

/* RCGC_SETREF stores the new value before releasing the old: the old value's
 * teardown must see the new value in the slot. */
static node_t *observed_holder;
static rcgc_object_t *seen_in_slot;
static int observing_clear(rcgc_object_t *self) {
    seen_in_slot = (rcgc_object_t *)observed_holder->next;
    return 0;
}
static const rcgc_type_t observer_type = { .name = "observer", .basic_size = sizeof(node_t), .clear = observing_clear };

static void test_setref_and_clear_store_before_release(void **state) {
    node_t *holder = (node_t *)rcgc_object_new(&leaf_type);
    observed_holder = holder;
    holder->next = (node_t *)rcgc_object_new(&observer_type);
    node_t *replacement = (node_t *)rcgc_object_new(&leaf_type);
    RCGC_SETREF(holder->next, replacement);
    assert_ptr_equal(seen_in_slot, &replacement->ob);
    assert_ptr_equal(holder->next, replacement);
    RCGC_SETREF(holder->next, rcgc_object_new(&observer_type));
    RCGC_CLEAR(holder->next);
    assert_null(seen_in_slot);
    assert_null(holder->next);
    rcgc_decref(&holder->ob);
}

static node_t *immortal_keep; /* immortal objects are never freed: keep it reachable */

static void test_immortal_objects_are_never_written(void **state) {
    node_t *n = (node_t *)rcgc_object_new(&node_type);
    immortal_keep = n;
    rcgc_object_immortalize(&n->ob);
    assert_true(rcgc_is_immortal(&n->ob));
    assert_false(rcgc_gc_is_tracked(&n->ob));
    node_t before;
    memcpy(&before, n, sizeof before);
    for (int i = 0; i < 1000; i++) rcgc_incref(&n->ob);
    for (int i = 0; i < 5000; i++) rcgc_decref(&n->ob);
    assert_memory_equal(&before.ob, &n->ob, sizeof(rcgc_object_t));
}

static void test_static_objects(void **state) {
    static node_t s;
    rcgc_object_init_static(&s.ob, &leaf_type);
    assert_true(rcgc_is_immortal(&s.ob));
    assert_true(rcgc_is_immortal_fn(&s.ob));
    rcgc_decref(&s.ob);
    rcgc_decref(&s.ob);
    assert_true(rcgc_is_immortal(&s.ob));
    /* a heap object may hold a reference to a static one */
    node_t *h = (node_t *)rcgc_object_new(&leaf_type);
    h->next = (node_t *)rcgc_newref(&s.ob);
    rcgc_decref(&h->ob);
    assert_true(rcgc_is_immortal(&s.ob));
}

/* PEP 442 from dealloc: the finalizer runs once, may resurrect. */
typedef struct fin { rcgc_object_t ob; rcgc_object_t *self_keep; int calls; } fin_t;
static rcgc_object_t *resurrect_root;
static int fin_calls;
static int fin_finalize(rcgc_object_t *self) {
    fin_calls++;
    if (!resurrect_root) resurrect_root = rcgc_newref(self);
    return 0;
}
static int fin_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) { return 0; }
static const rcgc_type_t fin_type = {
    .name = "fin", .basic_size = sizeof(fin_t), .flags = RCGC_TYPE_GC,
    .traverse = fin_traverse, .finalize = fin_finalize,
};

static void test_finalizer_from_dealloc_resurrects_once(void **state) {
    fin_calls = 0;
    resurrect_root = NULL;
    size_t live = rcgc_object_live_count();
    rcgc_object_t *x = rcgc_object_new(&fin_type);
    assert_false(rcgc_gc_is_finalized(x));
    rcgc_decref(x); /* finalizer resurrects into resurrect_root */
    assert_int_equal(fin_calls, 1);
    assert_ptr_equal(resurrect_root, x);
    assert_true(rcgc_gc_is_finalized(x));
    assert_true(rcgc_gc_is_tracked(x));
    assert_int_equal(rcgc_refcnt(x), 1);
    resurrect_root = (rcgc_object_t *)1; /* do not resurrect again */
    rcgc_decref(x);                      /* dies for good, no second finalizer call */
    assert_int_equal(fin_calls, 1);
    assert_int_equal(rcgc_object_live_count(), live);
    resurrect_root = NULL;
}

static void test_variable_size_objects(void **state) {
    static const rcgc_type_t vt = { .name = "vec", .basic_size = sizeof(rcgc_var_object_t), .item_size = 8 };
    rcgc_object_t *v = rcgc_object_new_var(&vt, 100);
    assert_non_null(v);
    assert_int_equal(((rcgc_var_object_t *)v)->ob_size, 100);
    assert_int_equal(rcgc_object_size(v), sizeof(rcgc_var_object_t) + 800);
    memset((char *)v + sizeof(rcgc_var_object_t), 0xAB, 800);
    rcgc_decref(v);
}

static void test_invalid_arguments_are_errors(void **state) {
    rcgc_error_clear();
    assert_null(rcgc_object_new(NULL));
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    static const rcgc_type_t bad_gc = { .name = "bad", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC };
    assert_null(rcgc_object_new(&bad_gc)); /* GC type without traverse */
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    static const rcgc_type_t tiny = { .name = "tiny", .basic_size = 4 };
    assert_null(rcgc_object_new(&tiny));
    static const rcgc_type_t vt = { .name = "vec", .basic_size = sizeof(rcgc_var_object_t), .item_size = 16 };
    rcgc_error_clear();
    assert_null(rcgc_object_new_var(&vt, SIZE_MAX / 4));
    assert_int_equal(rcgc_last_error(), RCGC_EOVERFLOW);
    assert_string_not_equal(rcgc_last_error_message(), "");
}

/* Allocation failure: NULL with RCGC_ENOMEM, nothing leaked. */
static int fail_next;
static rcgc_allocator_t real_obj;
static void *failing_malloc(void *ctx, size_t n) {
    if (fail_next) { fail_next = 0; return NULL; }
    return real_obj.malloc(real_obj.ctx, n);
}
static void *failing_calloc(void *ctx, size_t a, size_t b) { return real_obj.calloc(real_obj.ctx, a, b); }
static void *failing_realloc(void *ctx, void *p, size_t n) { return real_obj.realloc(real_obj.ctx, p, n); }
static void failing_free(void *ctx, void *p) { real_obj.free(real_obj.ctx, p); }

static void test_allocation_failure_returns_null_with_enomem(void **state) {
    rcgc_alloc_get_allocator(RCGC_DOMAIN_OBJ, &real_obj);
    rcgc_allocator_t wrap = { NULL, failing_malloc, failing_calloc, failing_realloc, failing_free };
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &wrap), 0);
    size_t live = rcgc_object_live_count();
    intptr_t counts_before[3], counts_after[3];
    rcgc_gc_get_count(counts_before);
    fail_next = 1;
    rcgc_error_clear();
    assert_null(rcgc_object_new(&node_type));
    assert_int_equal(rcgc_last_error(), RCGC_ENOMEM);
    assert_int_equal(rcgc_object_live_count(), live);
    rcgc_gc_get_count(counts_after);
    assert_int_equal(counts_after[0], counts_before[0]);
    rcgc_object_t *ok = rcgc_object_new(&node_type); /* the next one works */
    assert_non_null(ok);
    rcgc_decref(ok);
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &real_obj), 0);
}

static void test_header_size_per_flavour(void **state) {
#ifdef RCGC_FREE_THREADED
    assert_int_equal(sizeof(rcgc_object_t), 32);
    assert_string_equal(rcgc_flavour(), "free-threaded");
#else
    assert_int_equal(sizeof(rcgc_object_t), 16);
    assert_string_equal(rcgc_flavour(), "default");
#endif
    assert_int_equal(sizeof(rcgc_object_t), RCGC_OBJECT_HEADER_SIZE);
}

static void test_init_rejects_other_flavour(void **state) {
    rcgc_error_clear();
    assert_int_equal(rcgc_init_checked(RCGC_FLAVOUR_TAG ^ 3u, sizeof(rcgc_object_t)), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_int_equal(rcgc_init(), -1); /* already running */
    assert_int_equal(rcgc_last_error(), RCGC_ESTATE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_object_has_count_one),
        cmocka_unit_test(test_decref_to_zero_frees_through_default_dealloc),
        cmocka_unit_test(test_null_tolerant_variants),
        cmocka_unit_test(test_setref_and_clear_store_before_release),
        cmocka_unit_test(test_immortal_objects_are_never_written),
        cmocka_unit_test(test_static_objects),
        cmocka_unit_test(test_finalizer_from_dealloc_resurrects_once),
        cmocka_unit_test(test_variable_size_objects),
        cmocka_unit_test(test_invalid_arguments_are_errors),
        cmocka_unit_test(test_allocation_failure_returns_null_with_enomem),
        cmocka_unit_test(test_header_size_per_flavour),
        cmocka_unit_test(test_init_rejects_other_flavour),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
