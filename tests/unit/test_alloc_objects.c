/* test_alloc_objects.c - the pool seen from the object layer: objects of GC
 * types are found by walking the GC heap (rcgc_heap_visit_blocks), objects of
 * other types are not, and the statistics follow object allocation. Uses the
 * runtime (rcgc_init / rcgc_shutdown through testutil's group setup).
 */
#include "testutil.h"
#include "rcgc/inspect.h"
#include "internal/alloc_debug.h"

#include <stdlib.h>

typedef struct node {
    rcgc_object_t ob;
    rcgc_object_t *child;
    char payload[40];
} node_t;

static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((node_t *)self)->child, visit, arg);
    return 0;
}

static const rcgc_type_t gc_node_type = {
    .name = "gc_node", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC, .traverse = node_traverse,
};
static const rcgc_type_t plain_type = { .name = "plain", .basic_size = sizeof(node_t) };

typedef struct find_state {
    rcgc_object_t **objs; /* sorted */
    size_t n, found;
} find_state_t;

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Count the objects whose block is visited: the object lies inside the block
 * (the GC pre-header, if any, comes first). */
static int find_visit(void *block, size_t size, void *arg) {
    find_state_t *st = arg;
    uintptr_t lo = (uintptr_t)block, hi = lo + size;
    size_t a = 0, b = st->n;
    while (a < b) { /* first object >= lo */
        size_t m = (a + b) / 2;
        if ((uintptr_t)st->objs[m] < lo) a = m + 1; else b = m;
    }
    if (a < st->n && (uintptr_t)st->objs[a] < hi) st->found++;
    return 0;
}

static size_t count_found(rcgc_alloc_heap_t heap, rcgc_object_t **objs, size_t n) {
    qsort(objs, n, sizeof *objs, cmp_ptr);
    find_state_t st = { objs, n, 0 };
    assert_int_equal(rcgc_heap_visit_blocks(heap, find_visit, &st), 0);
    return st.found;
}

static void test_gc_objects_are_walked(void **state) {
    (void)state;
    enum { N = 3000 };
    rcgc_object_t **gc = malloc(N * sizeof *gc), **plain = malloc(N * sizeof *plain);
    rcgc_alloc_stats_t a;
    rcgc_alloc_stats_get(&a);
    for (int i = 0; i < N; i++) {
        gc[i] = rcgc_object_new(&gc_node_type);
        plain[i] = rcgc_object_new(&plain_type);
        assert_non_null(gc[i]);
        assert_non_null(plain[i]);
    }
    rcgc_alloc_stats_t b;
    rcgc_alloc_stats_get(&b);
    assert_true(b.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_GC] - a.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_GC] >=
                N * sizeof(node_t));
    /* objects of other types are in the pool only in the pooled modes
     * (RCGC_MALLOC=malloc and malloc_debug serve them from libc); objects of
     * GC types are in the GC heap in every mode */
    rcgc_alloc_mode_t mode = rcgc_alloc_get_mode();
    bool pooled = mode == RCGC_ALLOC_MODE_DEFAULT || mode == RCGC_ALLOC_MODE_DEBUG;
    if (pooled)
        assert_true(b.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_OBJECT] - a.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_OBJECT] >=
                    N * sizeof(node_t));
    assert_int_equal(count_found(RCGC_ALLOC_HEAP_GC, gc, N), N);
    assert_int_equal(count_found(RCGC_ALLOC_HEAP_GC, plain, N), 0);
    if (pooled) assert_int_equal(count_found(RCGC_ALLOC_HEAP_OBJECT, plain, N), N);
    for (int i = 0; i < N; i++) {
        rcgc_decref(gc[i]);
        rcgc_decref(plain[i]);
    }
    /* debug modes: freed blocks wait in the quarantine; give them back */
    if (mode == RCGC_ALLOC_MODE_DEBUG || mode == RCGC_ALLOC_MODE_MALLOC_DEBUG) _rcgc_debug_flush();
    rcgc_alloc_stats_t c;
    rcgc_alloc_stats_get(&c);
    assert_int_equal(c.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_GC], a.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_GC]);
    assert_int_equal(c.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_OBJECT], a.bytes_in_use_by_heap[RCGC_ALLOC_HEAP_OBJECT]);
    free(gc);
    free(plain);
}

static void test_bad_heap_id(void **state) {
    (void)state;
    assert_int_equal(rcgc_heap_visit_blocks((rcgc_alloc_heap_t)7, find_visit, NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gc_objects_are_walked),
        cmocka_unit_test(test_bad_heap_id),
    };
    return cmocka_run_group_tests_name("alloc_objects", tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
