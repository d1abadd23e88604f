/* test_thread_default.c - the default build's global lock: mutual exclusion
 * of attached threads, hand-off at safe points, release around blocking work,
 * fork() while other threads hold and contend it. */
#include "testutil.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
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

/* ---- fork while other threads hold and contend the global lock ------------------
 * Workers allocate cycles (collected by the automatic collector), raw blocks
 * (the tracer's lock, and the debug quarantine's under RCGC_MALLOC=debug)
 * and keep passing safe points and blocking; one stays detached and only
 * uses the raw domain. The main thread forks while attached (it holds the
 * global lock) and while blocking (another thread may hold it). The child
 * must be able to attach, allocate, trace, collect a cycle and exit 0. */
typedef struct node { rcgc_object_t ob; rcgc_object_t *next; } node_t;
static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((node_t *)self)->next, visit, arg);
    return 0;
}
static int node_clear(rcgc_object_t *self) {
    RCGC_CLEAR(((node_t *)self)->next);
    return 0;
}
static const rcgc_type_t node_type = { .name = "node", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC,
                                       .traverse = node_traverse, .clear = node_clear };

static bool make_cycle(void) {
    node_t *a = (node_t *)rcgc_object_new(&node_type), *b = (node_t *)rcgc_object_new(&node_type);
    if (!a || !b) return false;
    a->next = RCGC_OBJ(b);
    b->next = RCGC_OBJ(a);
    rcgc_incref(RCGC_OBJ(a));
    rcgc_incref(RCGC_OBJ(b));
    rcgc_decref(RCGC_OBJ(a));
    rcgc_decref(RCGC_OBJ(b));
    return true;
}

static int fork_quit;
static _Thread_local uint64_t yield_state;
static void *attached_worker(void *arg) {
    yield_state = (uint64_t)(uintptr_t)arg;
    RCGC_TEST_CHECK(rcgc_thread_attach() == 0);
    while (!__atomic_load_n(&fork_quit, __ATOMIC_ACQUIRE)) {
        RCGC_TEST_CHECK(make_cycle());
        rcgc_raw_free(rcgc_raw_malloc(48));
        uint64_t r = rcgc_test_rand(&yield_state);
        if ((r & 3) == 0) {
            rcgc_blocking_begin();
            sched_yield();
            rcgc_blocking_end();
        }
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}
static void *detached_worker(void *arg) {
    while (!__atomic_load_n(&fork_quit, __ATOMIC_ACQUIRE)) {
        rcgc_raw_free(rcgc_raw_malloc(100));
        rcgc_mem_free(rcgc_mem_malloc(100));
    }
    return NULL;
}

static int fork_child(bool blocking) {
    if (blocking) rcgc_blocking_end(); /* forked between blocking_begin and _end */
    if (!rcgc_thread_is_attached()) return 10;
    for (int i = 0; i < 200; i++)
        if (!make_cycle()) return 11;
    if (rcgc_gc_collect(2) < 2) return 12;
    void *p = rcgc_raw_malloc(1000);
    size_t cur = 0, peak = 0;
    rcgc_trace_get_traced_memory(&cur, &peak);
    if (!p || !rcgc_trace_is_tracing() || cur < 1000) return 13;
    rcgc_raw_free(p);
    rcgc_blocking_begin(); /* release and retake the global lock */
    rcgc_blocking_end();
    return 0;
}

static void run_child_and_check(bool blocking) {
    pid_t pid = fork();
    if (pid == 0) _exit(fork_child(blocking));
    assert_true(pid > 0);
    int status = 0;
    double end = now_s() + 30;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_s() < end) usleep(1000);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("forked child hung");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_fork_while_threads_hold_and_contend(void **state) {
    alarm(120);
    uint64_t seed = rcgc_test_seed(29);
    assert_int_equal(rcgc_trace_start(0), 0);
    fork_quit = 0;
    enum { NW = 3 };
    pthread_t th[NW + 1];
    for (int i = 0; i < NW; i++) pthread_create(&th[i], NULL, attached_worker, (void *)(uintptr_t)(seed + i));
    pthread_create(&th[NW], NULL, detached_worker, NULL);
    for (int round = 0; round < 20; round++) {
        if (round % 2) {
            run_child_and_check(false); /* attached: this thread holds the global lock */
            rcgc_safepoint();
        } else {
            rcgc_blocking_begin(); /* another thread holds it, almost surely */
            usleep(1000);
            run_child_and_check(true);
            rcgc_blocking_end();
        }
    }
    __atomic_store_n(&fork_quit, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    for (int i = 0; i <= NW; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    rcgc_trace_stop();
    rcgc_gc_collect(2);
    alarm(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attached_threads_are_serialised),
        cmocka_unit_test(test_safepoint_hands_the_lock_to_a_waiter),
        cmocka_unit_test(test_nested_attach_is_counted),
        cmocka_unit_test(test_exit_inside_blocking_section_keeps_lock_exclusive),
        cmocka_unit_test(test_attach_before_init_is_an_error),
        cmocka_unit_test(test_fork_while_threads_hold_and_contend),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
