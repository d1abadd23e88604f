/* test_lock.c - rcgc_mutex_t and critical sections (both flavours).
 *
 * Mutex: mutual exclusion under contention between attached and unattached
 * threads with injected yields (seeded), try/timed locking, hand-off to a
 * waiter starved by a relocking thread. Critical sections (free-threaded):
 * mutual exclusion on an object, nesting, the two-object form, release while
 * blocking, and free-threading.md §11 test 16 (A holds X and wants Y, B holds
 * Y and wants X: both complete). Default build: sections are no-ops.
 *
 * Every wait has a deadline: a bug fails the test (alarm) instead of hanging.
 * Worker threads report failures with CHECK (print and abort), never cmocka.
 */
#include "testutil.h"
#include "internal/lock.h"
#include "internal/tstate.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CHECK(cond) RCGC_TEST_CHECK(cond)

#ifdef __SANITIZE_THREAD__
#define SCALE 3
#else
#define SCALE 8
#endif

static double now_s(void) { return rcgc_test_now(); }

static bool wait_flag(int *flag, double seconds) { return rcgc_test_wait_flag(flag, seconds); }

/* ---- mutex: mutual exclusion ------------------------------------------------ */

#define MX_THREADS 4
#define MX_ITERS (2000 * SCALE)

static rcgc_mutex_t mx;
static long mx_counter;      /* protected by mx (plain accesses: TSan checks) */
static int mx_inside;        /* threads inside the section (must stay <= 1) */

struct mx_arg { int attach; uint64_t seed; };

static void *mx_worker(void *p) {
    struct mx_arg *a = p;
    uint64_t seed = a->seed;
    if (a->attach) CHECK(rcgc_thread_attach() == 0);
    for (int i = 0; i < MX_ITERS; i++) {
        rcgc_mutex_lock(&mx);
        CHECK(__atomic_add_fetch(&mx_inside, 1, __ATOMIC_RELAXED) == 1);
        long v = mx_counter;
        if (rcgc_test_rand(&seed) % 8 == 0) sched_yield();
        mx_counter = v + 1;
        __atomic_sub_fetch(&mx_inside, 1, __ATOMIC_RELAXED);
        rcgc_mutex_unlock(&mx);
        if (a->attach && i % 16 == 0) rcgc_safepoint();
        if (rcgc_test_rand(&seed) % 32 == 0) sched_yield();
    }
    if (a->attach) rcgc_thread_detach();
    return NULL;
}

static void test_mutex_mutual_exclusion(void **state) {
    uint64_t seed = rcgc_test_seed(11);
    alarm(60);
    mx_counter = 0;
    pthread_t th[MX_THREADS];
    struct mx_arg args[MX_THREADS];
    rcgc_blocking_begin(); /* default build: let the attached workers run */
    for (int i = 0; i < MX_THREADS; i++) {
        args[i].attach = i % 2;
        args[i].seed = rcgc_test_rand(&seed);
        pthread_create(&th[i], NULL, mx_worker, &args[i]);
    }
    for (int i = 0; i < MX_THREADS; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    assert_int_equal(mx_counter, (long)MX_THREADS * MX_ITERS);
    assert_false(rcgc_mutex_is_locked(&mx));
    alarm(0);
}

/* An attached thread holding the mutex while another attached thread waits:
 * the waiter must release its attachment (default build: the global lock)
 * or the holder could never run. */
static int holder_ready, holder_go;
static rcgc_mutex_t hm;
static void *holder(void *p) {
    CHECK(rcgc_thread_attach() == 0);
    rcgc_mutex_lock(&hm);
    __atomic_store_n(&holder_ready, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    CHECK(wait_flag(&holder_go, 20));
    rcgc_blocking_end(); /* needs the global lock (default build) */
    rcgc_mutex_unlock(&hm);
    rcgc_thread_detach();
    return NULL;
}

static void test_waiter_releases_attachment(void **state) {
    alarm(60);
    holder_ready = holder_go = 0;
    pthread_t th;
    pthread_create(&th, NULL, holder, NULL);
    rcgc_blocking_begin();
    assert_true(wait_flag(&holder_ready, 20));
    rcgc_blocking_end();
    assert_false(rcgc_mutex_trylock(&hm));
    __atomic_store_n(&holder_go, 1, __ATOMIC_RELEASE);
    rcgc_mutex_lock(&hm); /* attached: sleeps with the global lock released */
    assert_true(rcgc_mutex_is_locked(&hm));
    rcgc_mutex_unlock(&hm);
    pthread_join(th, NULL);
    alarm(0);
}

static void test_trylock_and_timeout(void **state) {
    rcgc_mutex_t m = RCGC_MUTEX_INIT;
    assert_false(rcgc_mutex_is_locked(&m));
    assert_true(rcgc_mutex_trylock(&m));
    assert_true(rcgc_mutex_is_locked(&m));
    assert_false(rcgc_mutex_trylock(&m));
    double t0 = now_s();
    assert_false(_rcgc_mutex_lock_timed(&m, 20 * 1000000, RCGC_PARK_DETACH));
    double waited = now_s() - t0;
    assert_true(waited >= 0.015 && waited < 5.0);
    assert_false(_rcgc_mutex_lock_timed(&m, 0, 0));
    rcgc_mutex_unlock(&m); /* HAS_PARKED may be left behind: the slow unlock clears it */
    assert_false(rcgc_mutex_is_locked(&m));
    assert_int_equal(m._bits, 0);
    assert_true(_rcgc_mutex_lock_timed(&m, 0, 0));
    rcgc_mutex_unlock(&m);
}

/* A thread relocking in a tight loop must not starve a waiter: after 1 ms
 * of waiting the lock is handed over. */
static rcgc_mutex_t fm;
static int fair_stop, fair_got;
static void *relocker(void *p) {
    while (!__atomic_load_n(&fair_stop, __ATOMIC_ACQUIRE)) {
        rcgc_mutex_lock(&fm);
        for (volatile int i = 0; i < 200; i++) {}
        rcgc_mutex_unlock(&fm);
    }
    return NULL;
}
static void *fair_waiter(void *p) {
    for (int i = 0; i < 20; i++) {
        rcgc_mutex_lock(&fm);
        rcgc_mutex_unlock(&fm);
    }
    __atomic_store_n(&fair_got, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_handoff_prevents_starvation(void **state) {
    alarm(60);
    fair_stop = fair_got = 0;
    pthread_t a, b;
    rcgc_blocking_begin();
    pthread_create(&a, NULL, relocker, NULL);
    pthread_create(&b, NULL, fair_waiter, NULL);
    bool got = wait_flag(&fair_got, 20);
    __atomic_store_n(&fair_stop, 1, __ATOMIC_RELEASE);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    rcgc_blocking_end();
    assert_true(got);
    alarm(0);
}

/* ---- critical sections ------------------------------------------------------- */

typedef struct box { rcgc_object_t ob; long value; int holder; } box_t;
static const rcgc_type_t box_type = { .name = "box", .basic_size = sizeof(box_t) };
static box_t *new_box(void) { return (box_t *)rcgc_object_new(&box_type); }

#ifdef RCGC_FREE_THREADED
static rcgc_mutex_t *mutex_of(box_t *b) { return (rcgc_mutex_t *)&b->ob.ob_mutex; }

static void test_critical_section_basics(void **state) {
    box_t *a = new_box(), *b = new_box();
    rcgc_critical_section_t cs, inner;
    rcgc_critical_section_begin(&cs, &a->ob);
    assert_true(rcgc_mutex_is_locked(mutex_of(a)));
    rcgc_critical_section_begin(&inner, &a->ob); /* same object: nested, no-op */
    rcgc_critical_section_end(&inner);
    assert_true(rcgc_mutex_is_locked(mutex_of(a)));
    rcgc_critical_section2_t cs2;
    rcgc_critical_section2_begin(&cs2, &b->ob, &a->ob); /* a held below: released while waiting */
    assert_true(rcgc_mutex_is_locked(mutex_of(a)));
    assert_true(rcgc_mutex_is_locked(mutex_of(b)));
    rcgc_critical_section2_end(&cs2);
    assert_true(rcgc_mutex_is_locked(mutex_of(a))); /* resumed */
    assert_false(rcgc_mutex_is_locked(mutex_of(b)));
    rcgc_critical_section_end(&cs);
    assert_false(rcgc_mutex_is_locked(mutex_of(a)));
    rcgc_critical_section2_begin(&cs2, &b->ob, &b->ob); /* same object twice: locked once */
    assert_true(rcgc_mutex_is_locked(mutex_of(b)));
    rcgc_critical_section2_end(&cs2);
    assert_false(rcgc_mutex_is_locked(mutex_of(b)));
    assert_null(_rcgc_tstate()->cs_top);
    rcgc_decref(&a->ob);
    rcgc_decref(&b->ob);
}

/* Blocking releases every section; blocking_end locks the top-most again and
 * ending it locks the one below. */
static box_t *bx, *by;
static int rel_step;
static void *rel_other(void *p) {
    CHECK(rcgc_thread_attach() == 0);
    CHECK(wait_flag(&rel_step, 20));
    rcgc_critical_section2_t cs;
    rcgc_critical_section2_begin(&cs, &bx->ob, &by->ob); /* free while the owner blocks */
    bx->value++;
    by->value++;
    rcgc_critical_section2_end(&cs);
    __atomic_store_n(&rel_step, 2, __ATOMIC_RELEASE);
    rcgc_thread_detach();
    return NULL;
}

static void test_blocking_releases_critical_sections(void **state) {
    alarm(60);
    bx = new_box();
    by = new_box();
    rel_step = 0;
    pthread_t th;
    pthread_create(&th, NULL, rel_other, NULL);
    rcgc_critical_section_t cx, cy;
    rcgc_critical_section_begin(&cx, &bx->ob);
    rcgc_critical_section_begin(&cy, &by->ob);
    rcgc_blocking_begin();
    assert_false(rcgc_mutex_is_locked(mutex_of(bx)));
    assert_false(rcgc_mutex_is_locked(mutex_of(by)));
    __atomic_store_n(&rel_step, 1, __ATOMIC_RELEASE);
    double end = now_s() + 20;
    while (__atomic_load_n(&rel_step, __ATOMIC_ACQUIRE) != 2 && now_s() < end) usleep(100);
    rcgc_blocking_end();
    assert_int_equal(__atomic_load_n(&rel_step, __ATOMIC_ACQUIRE), 2);
    assert_true(rcgc_mutex_is_locked(mutex_of(by)));   /* top-most re-acquired */
    assert_false(rcgc_mutex_is_locked(mutex_of(bx)));  /* not yet */
    assert_int_equal(by->value, 1);
    rcgc_critical_section_end(&cy);
    assert_true(rcgc_mutex_is_locked(mutex_of(bx)));   /* resumed when it became top-most */
    assert_int_equal(bx->value, 1);
    rcgc_critical_section_end(&cx);
    assert_false(rcgc_mutex_is_locked(mutex_of(bx)));
    pthread_join(th, NULL);
    rcgc_decref(&bx->ob);
    rcgc_decref(&by->ob);
    alarm(0);
}

/* §11 test 16: A holds X and wants Y; B holds Y and wants X. */
static int a_has_x, b_has_y, a_done, b_done;
static void *lock_pair(void *p) {
    int who = (int)(intptr_t)p;
    box_t *first = who == 0 ? bx : by, *second = who == 0 ? by : bx;
    CHECK(rcgc_thread_attach() == 0);
    rcgc_critical_section_t c1, c2;
    rcgc_critical_section_begin(&c1, &first->ob);
    first->holder = who;
    __atomic_store_n(who == 0 ? &a_has_x : &b_has_y, 1, __ATOMIC_RELEASE);
    CHECK(wait_flag(who == 0 ? &b_has_y : &a_has_x, 20)); /* both hold their first lock */
    rcgc_critical_section_begin(&c2, &second->ob);         /* sleeps: releases `first` */
    second->value++;
    rcgc_critical_section_end(&c2);                        /* `first` locked again */
    first->value++;
    rcgc_critical_section_end(&c1);
    __atomic_store_n(who == 0 ? &a_done : &b_done, 1, __ATOMIC_RELEASE);
    rcgc_thread_detach();
    return NULL;
}

static void test_two_object_deadlock_resolves(void **state) {
    alarm(60);
    for (int round = 0; round < 10 * SCALE; round++) {
        bx = new_box();
        by = new_box();
        a_has_x = b_has_y = a_done = b_done = 0;
        pthread_t a, b;
        pthread_create(&a, NULL, lock_pair, (void *)(intptr_t)0);
        pthread_create(&b, NULL, lock_pair, (void *)(intptr_t)1);
        assert_true(wait_flag(&a_done, 20));
        assert_true(wait_flag(&b_done, 20));
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        assert_int_equal(bx->value, 2);
        assert_int_equal(by->value, 2);
        rcgc_decref(&bx->ob);
        rcgc_decref(&by->ob);
    }
    alarm(0);
}

/* Seeded stress: threads take one- and two-object sections on random boxes,
 * sometimes block inside (which releases them), with injected yields. Between
 * blocking points a section is exclusive: the holder mark must not change. */
#define ST_BOXES 6
#define ST_THREADS 4
#define ST_ITERS (400 * SCALE)
static box_t *boxes[ST_BOXES];

static void *cs_stress(void *p) {
    uint64_t seed = (uint64_t)(uintptr_t)p;
    static int next_id;
    int me = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    CHECK(rcgc_thread_attach() == 0);
    for (int i = 0; i < ST_ITERS; i++) {
        box_t *a = boxes[rcgc_test_rand(&seed) % ST_BOXES];
        box_t *b = boxes[rcgc_test_rand(&seed) % ST_BOXES];
        rcgc_critical_section2_t cs;
        rcgc_critical_section2_begin(&cs, &a->ob, &b->ob);
        a->holder = me;
        b->holder = me;
        if (rcgc_test_rand(&seed) % 4 == 0) sched_yield();
        CHECK(a->holder == me && b->holder == me);
        a->value++;
        if (b != a) b->value++;
        if (rcgc_test_rand(&seed) % 16 == 0) {
            rcgc_blocking_begin(); /* releases both; others may take them */
            sched_yield();
            rcgc_blocking_end();
            a->holder = me;
            b->holder = me;
        }
        if (rcgc_test_rand(&seed) % 8 == 0) {
            rcgc_critical_section_t inner;
            rcgc_critical_section_begin(&inner, &a->ob); /* nested on a held lock */
            CHECK(a->holder == me);
            rcgc_critical_section_end(&inner);
        }
        CHECK(a->holder == me && b->holder == me);
        rcgc_critical_section2_end(&cs);
        if (i % 32 == 0) rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static void test_critical_section_stress(void **state) {
    uint64_t seed = rcgc_test_seed(16);
    alarm(120);
    for (int i = 0; i < ST_BOXES; i++) boxes[i] = new_box();
    pthread_t th[ST_THREADS];
    for (int i = 0; i < ST_THREADS; i++)
        pthread_create(&th[i], NULL, cs_stress, (void *)(uintptr_t)(rcgc_test_rand(&seed) | 1));
    for (int i = 0; i < ST_THREADS; i++) pthread_join(th[i], NULL);
    long total = 0;
    for (int i = 0; i < ST_BOXES; i++) {
        assert_false(rcgc_mutex_is_locked(mutex_of(boxes[i])));
        total += boxes[i]->value;
        rcgc_decref(&boxes[i]->ob);
    }
    /* each iteration adds 1 or 2 */
    assert_true(total >= (long)ST_THREADS * ST_ITERS && total <= 2L * ST_THREADS * ST_ITERS);
    alarm(0);
}
#else
static void test_critical_sections_are_noops(void **state) {
    box_t *a = new_box(), *b = new_box();
    rcgc_critical_section_t cs;
    rcgc_critical_section2_t cs2;
    rcgc_critical_section_begin(&cs, &a->ob);
    rcgc_critical_section2_begin(&cs2, &a->ob, &b->ob);
    rcgc_critical_section2_end(&cs2);
    rcgc_critical_section_end(&cs);
    RCGC_BEGIN_CRITICAL_SECTION(a)
    a->value++;
    RCGC_END_CRITICAL_SECTION()
    RCGC_BEGIN_CRITICAL_SECTION2(a, b)
    b->value++;
    RCGC_END_CRITICAL_SECTION2()
    assert_int_equal(a->value + b->value, 2);
    rcgc_decref(&a->ob);
    rcgc_decref(&b->ob);
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trylock_and_timeout),
        cmocka_unit_test(test_mutex_mutual_exclusion),
        cmocka_unit_test(test_waiter_releases_attachment),
        cmocka_unit_test(test_handoff_prevents_starvation),
#ifdef RCGC_FREE_THREADED
        cmocka_unit_test(test_critical_section_basics),
        cmocka_unit_test(test_blocking_releases_critical_sections),
        cmocka_unit_test(test_two_object_deadlock_resolves),
        cmocka_unit_test(test_critical_section_stress),
#else
        cmocka_unit_test(test_critical_sections_are_noops),
#endif
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
