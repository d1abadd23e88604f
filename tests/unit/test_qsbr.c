/* test_qsbr.c - rcgc/qsbr.h in both flavours, one thread: the limits, the
 * lock-free read helpers, delayed frees and decrefs reaching their end once
 * the thread is quiescent (the default build frees at once). The concurrent
 * scenarios are in test_qsbr_ft.c. */
#include "testutil.h"

typedef struct cell { rcgc_object_t ob; int value; } cell_t;
static int cells_freed;
static void cell_dealloc(rcgc_object_t *self) {
    cells_freed++;
    rcgc_object_free(self);
}
static const rcgc_type_t cell_type = { .name = "cell", .basic_size = sizeof(cell_t), .dealloc = cell_dealloc };

static void test_limits_are_checked_and_kept(void **state) {
    size_t items, bytes;
    rcgc_qsbr_get_limits(&items, &bytes);
    assert_int_equal(items, RCGC_QSBR_DEFAULT_MAX_ITEMS);
    assert_int_equal(bytes, RCGC_QSBR_DEFAULT_MAX_BYTES);
    assert_int_equal(rcgc_qsbr_set_limits(0, 100), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_int_equal(rcgc_qsbr_set_limits(100, 0), -1);
    assert_int_equal(rcgc_qsbr_set_limits(10, 4096), 0);
    rcgc_qsbr_get_limits(&items, &bytes);
    assert_int_equal(items, 10);
    assert_int_equal(bytes, 4096);
    rcgc_qsbr_get_limits(NULL, NULL);
    assert_int_equal(rcgc_qsbr_set_limits(RCGC_QSBR_DEFAULT_MAX_ITEMS, RCGC_QSBR_DEFAULT_MAX_BYTES), 0);
}

static void test_lockfree_read_helpers(void **state) {
    rcgc_object_t *slot = NULL;
    assert_null(rcgc_object_get_ref_lockfree(&slot));
    assert_false(rcgc_object_try_incref(NULL));
    cell_t *c = (cell_t *)rcgc_object_new(&cell_type);
    rcgc_object_enable_lockfree_reads(&c->ob);
    __atomic_store_n(&slot, &c->ob, __ATOMIC_RELEASE);
    rcgc_object_t *r = rcgc_object_get_ref_lockfree(&slot);
    assert_ptr_equal(r, &c->ob);
    assert_int_equal(rcgc_refcnt(r), 2); /* a NEW reference */
    assert_true(rcgc_object_try_incref(r));
    assert_int_equal(rcgc_refcnt(r), 3);
    rcgc_decref(r);
    rcgc_decref(r);
    static cell_t immortal;
    rcgc_object_init_static(&immortal.ob, &cell_type);
    rcgc_object_enable_lockfree_reads(&immortal.ob); /* nothing to do */
    assert_true(rcgc_object_try_incref(&immortal.ob));
    __atomic_store_n(&slot, NULL, __ATOMIC_RELEASE);
    cells_freed = 0;
    rcgc_decref(&c->ob); /* dies; in the free-threaded build its memory waits */
    assert_int_equal(cells_freed, 1);
    assert_int_equal(rcgc_qsbr_process(), 0); /* this thread alone: quiescent */
}

static void test_delayed_free_and_decref_complete(void **state) {
    rcgc_mem_free_delayed(NULL, 0);
    rcgc_decref_delayed(NULL);
    for (int i = 0; i < 1000; i++) rcgc_mem_free_delayed(rcgc_mem_malloc(48), i & 1 ? 48 : 0);
    cells_freed = 0;
    cell_t *c = (cell_t *)rcgc_object_new(&cell_type);
    rcgc_decref_delayed(&c->ob);
    rcgc_safepoint();
    assert_int_equal(rcgc_qsbr_process(), 0);
    assert_int_equal(cells_freed, 1);
    rcgc_qsbr_stats_t st;
    rcgc_qsbr_get_stats(&st);
    assert_int_equal(st.thread_items, 0);
    assert_int_equal(st.thread_bytes, 0);
    assert_true(st.write_seq & 1);
    rcgc_qsbr_reset_peak();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_are_checked_and_kept),
        cmocka_unit_test(test_lockfree_read_helpers),
        cmocka_unit_test(test_delayed_free_and_decref_complete),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
