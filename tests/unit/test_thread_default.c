/* test_thread_default.c - the default build's global lock: mutual exclusion
 * of attached threads, hand-off at safe points, release around blocking work. */
#include "testutil.h"
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define ITERS 200000

typedef struct counter { rcgc_object_t ob; long value; } counter_t;
static const rcgc_type_t counter_type = { .name = "counter", .basic_size = sizeof(counter_t) };
static counter_t *shared;

static void *hammer(void *arg) {
    assert_int_equal(rcgc_thread_attach(), 0);
    assert_true(rcgc_thread_is_attached());
    for (long i = 0; i < ITERS; i++) {
        rcgc_incref(&shared->ob); /* non-atomic: only correct under the lock */
        shared->value++;
        if (i % 64 == 0) rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static void test_attached_threads_are_serialised(void **state) {
    shared = (counter_t *)rcgc_object_new(&counter_type);
    pthread_t th[THREADS];
    rcgc_blocking_begin();
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    assert_int_equal(shared->value, (long)THREADS * ITERS);
    assert_int_equal(rcgc_refcnt(&shared->ob), 1 + (long)THREADS * ITERS);
    for (long i = 0; i < (long)THREADS * ITERS; i++) rcgc_decref(&shared->ob);
    rcgc_decref(&shared->ob);
}

/* A thread spinning with safe points must hand the lock to a waiter. */
static volatile int waiter_got_in;
static void *waiter(void *arg) {
    rcgc_thread_attach();
    waiter_got_in = 1;
    rcgc_thread_detach();
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_safepoint_hands_the_lock_to_a_waiter(void **state) {
    waiter_got_in = 0;
    pthread_t th;
    pthread_create(&th, NULL, waiter, NULL);
    double deadline = now_s() + 10.0;
    while (!__atomic_load_n(&waiter_got_in, __ATOMIC_ACQUIRE) && now_s() < deadline) rcgc_safepoint();
    assert_true(waiter_got_in);
    rcgc_blocking_begin();
    pthread_join(th, NULL);
    rcgc_blocking_end();
}

static void test_nested_attach_is_counted(void **state) {
    assert_true(rcgc_thread_is_attached());
    assert_int_equal(rcgc_thread_attach(), 0);
    rcgc_thread_detach();
    assert_true(rcgc_thread_is_attached());
}

static void *attach_without_runtime(void *arg) {
    *(int *)arg = rcgc_thread_attach();
    return NULL;
}

static void test_attach_before_init_is_an_error(void **state) {
    rcgc_shutdown();
    int rc = 0;
    pthread_t th;
    pthread_create(&th, NULL, attach_without_runtime, &rc);
    pthread_join(th, NULL);
    assert_int_equal(rc, -1);
    assert_int_equal(rcgc_init(), 0);
}

/* A thread that exits between blocking_begin and blocking_end does not hold
 * the lock: its exit must not release the lock another thread holds. */
static void *exit_while_blocking(void *arg) {
    rcgc_thread_attach();
    rcgc_blocking_begin();
    return NULL; /* exits without blocking_end / detach */
}

static void test_exit_inside_blocking_section_keeps_lock_exclusive(void **state) {
    pthread_t th;
    rcgc_blocking_begin();
    pthread_create(&th, NULL, exit_while_blocking, NULL);
    pthread_join(th, NULL);
    rcgc_blocking_end(); /* this thread holds the lock again */
    waiter_got_in = 0;
    pthread_create(&th, NULL, waiter, NULL);
    usleep(50000);
    assert_false(__atomic_load_n(&waiter_got_in, __ATOMIC_ACQUIRE)); /* still excluded */
    rcgc_blocking_begin();
    pthread_join(th, NULL);
    rcgc_blocking_end();
    assert_true(waiter_got_in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attached_threads_are_serialised),
        cmocka_unit_test(test_safepoint_hands_the_lock_to_a_waiter),
        cmocka_unit_test(test_nested_attach_is_counted),
        cmocka_unit_test(test_exit_inside_blocking_section_keeps_lock_exclusive),
        cmocka_unit_test(test_attach_before_init_is_an_error),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
