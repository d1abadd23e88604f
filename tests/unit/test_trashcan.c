/* test_trashcan.c - dropping very long chains and very deep nests never
 * overflows the C stack: everything is freed exactly once, on a thread whose
 * stack is only 256 KiB. */
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHAIN_LENGTH 1000000L /* sanitizers: 10x the memory and time per object */
#define NEST_DEPTH 200000L
#else
#define CHAIN_LENGTH 10000000L
#define NEST_DEPTH 1000000L
#endif
#define SMALL_STACK (256 * 1024)

typedef struct link { rcgc_object_t ob; struct link *next; } link_t;
static long torn_down;

static int link_clear(rcgc_object_t *self) {
    torn_down++;
    RCGC_CLEAR(((link_t *)self)->next);
    return 0;
}
static int link_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((link_t *)self)->next, visit, arg);
    return 0;
}
static const rcgc_type_t plain_link = { .name = "plain_link", .basic_size = sizeof(link_t), .clear = link_clear };
static const rcgc_type_t gc_link = { .name = "gc_link", .basic_size = sizeof(link_t), .flags = RCGC_TYPE_GC,
                                     .traverse = link_traverse, .clear = link_clear };

/* A container: variable-size, items are owned references. */
typedef struct box { rcgc_var_object_t ob; rcgc_object_t *items[]; } box_t;
static int box_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    box_t *b = (box_t *)self;
    for (size_t i = 0; i < b->ob.ob_size; i++) RCGC_VISIT(b->items[i], visit, arg);
    return 0;
}
static int box_clear(rcgc_object_t *self) {
    box_t *b = (box_t *)self;
    torn_down++;
    for (size_t i = 0; i < b->ob.ob_size; i++) RCGC_CLEAR(b->items[i]);
    return 0;
}
static const rcgc_type_t box_type = { .name = "box", .basic_size = sizeof(box_t), .item_size = sizeof(rcgc_object_t *),
                                      .flags = RCGC_TYPE_GC, .traverse = box_traverse, .clear = box_clear };

struct chain_job { const rcgc_type_t *type; long length; size_t live_before; };

static void build_and_drop_chain(void *arg) {
    struct chain_job *job = arg;
    link_t *head = NULL;
    for (long i = 0; i < job->length; i++) {
        link_t *l = (link_t *)rcgc_object_new(job->type);
        assert_non_null(l);
        l->next = head; /* steals */
        head = l;
    }
    assert_int_equal(rcgc_object_live_count(), job->live_before + (size_t)job->length);
    torn_down = 0;
    rcgc_decref(&head->ob);
}

static void run_chain(const rcgc_type_t *type) {
    struct chain_job job = { type, CHAIN_LENGTH, rcgc_object_live_count() };
    assert_int_equal(rcgc_test_run_on_small_stack(build_and_drop_chain, &job, SMALL_STACK), 0);
    assert_int_equal(torn_down, CHAIN_LENGTH);
    assert_int_equal(rcgc_object_live_count(), job.live_before);
}

static void test_long_plain_chain_on_small_stack(void **state) { run_chain(&plain_link); }
static void test_long_gc_chain_on_small_stack(void **state) { run_chain(&gc_link); }

static void build_and_drop_nest(void *arg) {
    size_t live = *(size_t *)arg;
    rcgc_object_t *inner = rcgc_object_new_var(&box_type, 0);
    for (long i = 1; i < NEST_DEPTH; i++) {
        box_t *outer = (box_t *)rcgc_object_new_var(&box_type, 2);
        assert_non_null(outer);
        outer->items[0] = inner; /* steals */
        outer->items[1] = rcgc_object_new(&plain_link);
        inner = &outer->ob.ob;
    }
    assert_int_equal(rcgc_object_live_count(), live + 2 * (size_t)NEST_DEPTH - 1);
    torn_down = 0;
    rcgc_decref(inner);
}

static void test_deep_nest_on_small_stack(void **state) {
    size_t live = rcgc_object_live_count();
    assert_int_equal(rcgc_test_run_on_small_stack(build_and_drop_nest, &live, SMALL_STACK), 0);
    assert_int_equal(torn_down, 2 * NEST_DEPTH - 1);
    assert_int_equal(rcgc_object_live_count(), live);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_plain_chain_on_small_stack),
        cmocka_unit_test(test_long_gc_chain_on_small_stack),
        cmocka_unit_test(test_deep_nest_on_small_stack),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
