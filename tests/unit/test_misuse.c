/* test_misuse.c - misuse caught by the debug build (RCGC_DEBUG >= 1): each
 * case runs in a child process, which must die with a report naming the
 * problem, the object's address, its type name and its reference count. */
#include "testutil.h"
#include <stdio.h>
#include <unistd.h>

typedef struct thing { rcgc_object_t ob; rcgc_object_t *ref; } thing_t;

static int thing_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((thing_t *)self)->ref, visit, arg);
    return 0;
}
/* A dealloc that keeps the memory, so a later decref sees a count of 0. */
static void zombie_dealloc(rcgc_object_t *self) { (void)self; }
static const rcgc_type_t zombie_type = { .name = "zombie", .basic_size = sizeof(thing_t), .dealloc = zombie_dealloc };
static const rcgc_type_t thing_type = { .name = "thing", .basic_size = sizeof(thing_t), .flags = RCGC_TYPE_GC,
                                        .traverse = thing_traverse };

static char address[32];
static void remember(rcgc_object_t *o) { snprintf(address, sizeof address, "%p", (void *)o); }

static void decref_twice(void *arg) {
    rcgc_object_t *o = arg;
    rcgc_decref(o); /* count 1 -> 0: "dealloc" keeps the memory */
    rcgc_decref(o); /* below zero */
}

static void test_negative_refcount_is_reported(void **state) {
    if (RCGC_DEBUG == 0) skip();
    rcgc_object_t *o = rcgc_object_new(&zombie_type);
    remember(o);
    rcgc_test_expect_fatal(decref_twice, o, "negative ref count", address, "zombie", "refcount : 0", NULL);
    rcgc_decref(o); /* the parent's copy is intact: release it normally */
}

static void test_decref_of_freed_object_is_reported(void **state) {
    if (RCGC_DEBUG == 0) skip();
    rcgc_object_t *o = rcgc_object_new(&thing_type);
    remember(o);
    /* The allocator may reuse the first words of a freed block, so the report
     * says either "a freed object" or "freed or overwritten memory". The debug
     * allocator (RCGC_MALLOC=debug) fills freed memory with 0xDD, type pointer
     * included: the report then cannot name the type. */
    rcgc_alloc_mode_t mode = rcgc_alloc_get_mode();
    bool fills = mode == RCGC_ALLOC_MODE_DEBUG || mode == RCGC_ALLOC_MODE_MALLOC_DEBUG;
    rcgc_test_expect_fatal(decref_twice, o, "decref of a", "freed", address,
                           fills ? "<invalid type>" : "thing", NULL);
    rcgc_decref(o);
}

static void corrupt_then_decref(void *arg) {
    rcgc_object_t *o = arg;
#ifdef RCGC_FREE_THREADED
    o->ob_flags = 0x3300;
#else
    o->ob_check = 0x1234;
#endif
    rcgc_decref(o);
}

static void test_corrupt_header_is_reported(void **state) {
    if (RCGC_DEBUG == 0) skip();
    rcgc_object_t *o = rcgc_object_new(&thing_type);
    remember(o);
    rcgc_test_expect_fatal(corrupt_then_decref, o, "corrupt header", address, "thing", "refcount : 1", NULL);
    rcgc_decref(o);
}

static void track_again(void *arg) { rcgc_gc_track(arg); }

static void test_double_track_is_fatal(void **state) {
    rcgc_object_t *o = rcgc_object_new(&thing_type);
    remember(o);
    rcgc_test_expect_fatal(track_again, o, "already tracked", address, "thing", NULL);
    rcgc_decref(o);
}

static void test_double_untrack_is_harmless(void **state) {
    rcgc_object_t *o = rcgc_object_new(&thing_type);
    rcgc_gc_untrack(o);
    rcgc_gc_untrack(o);
    assert_false(rcgc_gc_is_tracked(o));
    rcgc_gc_track(o);
    assert_true(rcgc_gc_is_tracked(o));
    rcgc_decref(o);
}

static void report_to_hook(const char *report) {
    fprintf(stderr, "[hooked] %s", report);
    fflush(stderr);
    _exit(3);
}
static void fatal_through_hook(void *arg) {
    rcgc_set_fatal_hook(report_to_hook);
    rcgc_fatal_object(arg, "custom %s %d", "message", 42);
}

static void test_fatal_hook_receives_report(void **state) {
    rcgc_object_t *o = rcgc_object_new(&thing_type);
    remember(o);
    rcgc_test_expect_fatal(fatal_through_hook, o, "[hooked] rcgc fatal error: custom message 42", address,
                           "thing", NULL);
    rcgc_decref(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_refcount_is_reported),
        cmocka_unit_test(test_decref_of_freed_object_is_reported),
        cmocka_unit_test(test_corrupt_header_is_reported),
        cmocka_unit_test(test_double_track_is_fatal),
        cmocka_unit_test(test_double_untrack_is_harmless),
        cmocka_unit_test(test_fatal_hook_receives_report),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
