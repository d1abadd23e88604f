/* test_stw_ft.c - thread states and stop-the-world (free-threaded build):
 * free-threading.md §11 tests 13, 14, 15 and 29.
 *
 *  13: a stop completes while other threads are attached in a hot loop with
 *      safe points, detached in a syscall, parked on a mutex, attaching,
 *      exiting (attached or not) or never bound, and all of them resume;
 *  14: two threads (one attached, one without a thread state) stopping the
 *      world repeatedly serialise;
 *  15: one thread stopping the world in a tight loop while others re-attach
 *      repeatedly: all make progress (attachment is handed over at restart);
 *  29: fork() while other threads are attached, parked on a mutex or on
 *      their state word, in a syscall, and queueing merges for each other
 *      all the time: the child attaches, allocates, frees, merges what was
 *      queued for the threads it lost, stops the world and exits 0.
 *
 * "Stopped" is checked strictly: every other registered thread is SUSPENDED
 * (possibly WAITING to attach) or SHUTTING_DOWN, and no worker's progress
 * counter moves while the world is stopped. Every wait has a deadline (and
 * an alarm) so a bug fails the test instead of hanging it. Workers report
 * failures with CHECK (print and abort).
 */
#include "testutil.h"
#include "internal/stw.h"
#include "internal/brc.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond) RCGC_TEST_CHECK(cond)

#ifdef __SANITIZE_THREAD__
#define SCALE 1
#else
#define SCALE 3
#endif

static double now_s(void) { return rcgc_test_now(); }
static void sleep_ms(double ms) { usleep((useconds_t)(ms * 1000)); }

static bool wait_flag(int *flag, double seconds) { return rcgc_test_wait_flag(flag, seconds); }

typedef struct item { rcgc_object_t ob; } item_t;
static const rcgc_type_t item_type = { .name = "item", .basic_size = sizeof(item_t) };

/* ---- the workers ------------------------------------------------------------ */

static int quit;        /* tells every worker to finish */
static long progress;   /* sum of every worker's steps (relaxed atomic) */
static long progress_by[8];
static rcgc_mutex_t held_mutex;

static uint64_t base_seed; /* from rcgc_test_seed() at the start of each test */

/* Per-thread seeded generator for injected yields. */
static _Thread_local uint64_t yield_state;
static void maybe_yield(int who) {
    if (!yield_state) yield_state = (base_seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(who + 1))) | 1;
    if (rcgc_test_rand(&yield_state) % 8 == 0) sched_yield();
}

static void step(int who) {
    __atomic_fetch_add(&progress, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&progress_by[who], 1, __ATOMIC_RELAXED);
    maybe_yield(who);
}
static bool quitting(void) { return __atomic_load_n(&quit, __ATOMIC_ACQUIRE); }

/* attached, hot loop with safe points; makes objects and drops them */
static void *hot_loop(void *p) {
    int who = (int)(intptr_t)p;
    CHECK(rcgc_thread_attach() == 0);
    while (!quitting()) {
        rcgc_object_t *o = rcgc_object_new(&item_type);
        step(who);
        rcgc_decref(o);
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

/* detached in a "syscall" most of the time */
static void *in_syscall(void *p) {
    int who = (int)(intptr_t)p;
    CHECK(rcgc_thread_attach() == 0);
    while (!quitting()) {
        rcgc_blocking_begin();
        sleep_ms(2);
        rcgc_blocking_end(); /* parks while the world is stopped */
        step(who);
    }
    rcgc_thread_detach();
    return NULL;
}

/* parked on a mutex the main thread holds (for a while) */
static void *on_mutex(void *p) {
    int who = (int)(intptr_t)p;
    CHECK(rcgc_thread_attach() == 0);
    while (!quitting()) {
        rcgc_mutex_lock(&held_mutex);
        step(who);
        rcgc_mutex_unlock(&held_mutex);
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

/* attaching and detaching all the time */
static void *reattacher(void *p) {
    int who = (int)(intptr_t)p;
    while (!quitting()) {
        CHECK(rcgc_thread_attach() == 0);
        step(who);
        rcgc_safepoint();
        rcgc_thread_detach();
    }
    return NULL;
}

/* short-lived threads that attach and exit, half of them still attached */
static void *short_lived(void *p) {
    int who = (int)((intptr_t)p >> 1);
    CHECK(rcgc_thread_attach() == 0);
    step(who);
    if ((intptr_t)p & 1) rcgc_thread_detach();
    return NULL; /* the exit hook runs attached or detached */
}
static void *spawner(void *p) {
    int who = (int)(intptr_t)p;
    for (intptr_t i = 0; !quitting(); i++) {
        pthread_t th;
        CHECK(pthread_create(&th, NULL, short_lived, (void *)((who << 1) | (i & 1))) == 0);
        pthread_join(th, NULL);
    }
    return NULL;
}

/* never touches rcgc */
static void *never_bound(void *p) {
    while (!quitting()) sleep_ms(1);
    return NULL;
}

/* ---- checks ---------------------------------------------------------------- */

/* No registered thread but the caller is ATTACHED: each is SUSPENDED (maybe
 * waiting to attach) or SHUTTING_DOWN, or DETACHED because it registered
 * after the requester's final scan (it will suspend itself instead of
 * attaching). Returns the offending state, or -1. */
static int others_not_suspended(void) {
    rcgc_tstate_t *self = _rcgc_tstate();
    int bad = -1;
    pthread_mutex_lock(&_rcgc_runtime.threads_lock);
    for (rcgc_tstate_t *t = _rcgc_runtime.threads; t && bad < 0; t = t->next_thread) {
        if (t == self) continue;
        int s = _rcgc_tstate_state(t);
        if (s != RCGC_TS_SUSPENDED && s != (RCGC_TS_SUSPENDED | RCGC_TS_WAITING) && s != RCGC_TS_SHUTTING_DOWN &&
            s != RCGC_TS_DETACHED)
            bad = s;
    }
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
    return bad;
}
static void assert_others_suspended(void) {
    int s = others_not_suspended();
    if (s >= 0) fail_msg("a thread is in state %d while the world is stopped", s);
}

static void assert_world_frozen(double ms) {
    assert_true(_rcgc_world_is_stopped());
    assert_others_suspended();
    long before = __atomic_load_n(&progress, __ATOMIC_RELAXED);
    sleep_ms(ms);
    assert_int_equal(__atomic_load_n(&progress, __ATOMIC_RELAXED), before);
    assert_others_suspended();
}

static bool wait_progress(long from, long by, double seconds) {
    double end = now_s() + seconds;
    while (__atomic_load_n(&progress, __ATOMIC_RELAXED) < from + by) {
        if (now_s() > end) return false;
        sleep_ms(0.2);
    }
    return true;
}

static void reset_workers(void) {
    base_seed = rcgc_test_seed(29);
    __atomic_store_n(&quit, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&progress, 0, __ATOMIC_RELAXED);
    for (int i = 0; i < 8; i++) __atomic_store_n(&progress_by[i], 0, __ATOMIC_RELAXED);
}

/* ---- §11 test 13 -------------------------------------------------------------- */

static void test_stop_with_threads_in_every_state(void **state) {
    alarm(120);
    reset_workers();
    void *(*kinds[])(void *) = { hot_loop, hot_loop, in_syscall, on_mutex, reattacher, spawner, never_bound };
    enum { N = sizeof kinds / sizeof kinds[0] };
    pthread_t th[N];
    rcgc_mutex_lock(&held_mutex); /* on_mutex parks on it */
    for (int i = 0; i < N; i++) pthread_create(&th[i], NULL, kinds[i], (void *)(intptr_t)i);
    assert_true(wait_progress(0, 50, 20));
    int rounds = 15 * SCALE;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        _rcgc_stop_the_world();
        assert_true(now_s() - t0 < 10.0);
        assert_world_frozen(r % 3 == 0 ? 3 : 0.5);
        if (r == rounds / 2) rcgc_mutex_unlock(&held_mutex); /* released while stopped */
        _rcgc_start_the_world();
        long p = __atomic_load_n(&progress, __ATOMIC_RELAXED);
        assert_true(wait_progress(p, 5, 20)); /* all resume */
    }
    /* every kind that touches rcgc made progress after its stops */
    for (int i = 0; i < N - 1; i++) {
        long from = __atomic_load_n(&progress_by[i], __ATOMIC_RELAXED);
        double end = now_s() + 20;
        while (__atomic_load_n(&progress_by[i], __ATOMIC_RELAXED) == from && now_s() < end) sleep_ms(0.5);
        if (__atomic_load_n(&progress_by[i], __ATOMIC_RELAXED) == from) fail_msg("worker %d made no progress", i);
    }
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    assert_false(_rcgc_world_is_stopped());
    alarm(0);
}

/* A requester that is not attached (no thread state at all) stops attached
 * threads too; a thread parked in the middle of attaching is released. */
static int unbound_done;
static void *unbound_stopper(void *p) {
    for (int r = 0; r < 10 * SCALE; r++) {
        _rcgc_stop_the_world();
        CHECK(others_not_suspended() < 0);
        _rcgc_start_the_world();
        sched_yield();
    }
    __atomic_store_n(&unbound_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_requester_without_thread_state(void **state) {
    alarm(60);
    reset_workers();
    unbound_done = 0;
    pthread_t w, s;
    pthread_create(&w, NULL, hot_loop, (void *)(intptr_t)0);
    pthread_create(&s, NULL, unbound_stopper, NULL);
    /* the main thread stays attached with safe points: it is stopped too */
    double end = now_s() + 30;
    while (!__atomic_load_n(&unbound_done, __ATOMIC_ACQUIRE) && now_s() < end) rcgc_safepoint();
    assert_true(__atomic_load_n(&unbound_done, __ATOMIC_ACQUIRE));
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    pthread_join(w, NULL);
    pthread_join(s, NULL);
    rcgc_blocking_end();
    alarm(0);
}

/* ---- §11 test 14: concurrent stoppers ------------------------------------------ */

static int in_stop; /* which stopper holds the world (0: none) */
static int stoppers_done;

static void *stopper(void *p) {
    int who = (int)(intptr_t)p;
    bool attach = who == 1;
    if (attach) CHECK(rcgc_thread_attach() == 0);
    for (int r = 0; r < 40 * SCALE; r++) {
        _rcgc_stop_the_world();
        CHECK(__atomic_exchange_n(&in_stop, who, __ATOMIC_ACQ_REL) == 0);
        CHECK(others_not_suspended() < 0);
        long before = __atomic_load_n(&progress, __ATOMIC_RELAXED);
        sched_yield();
        CHECK(__atomic_load_n(&progress, __ATOMIC_RELAXED) == before);
        CHECK(__atomic_exchange_n(&in_stop, 0, __ATOMIC_ACQ_REL) == who);
        _rcgc_start_the_world();
        if (attach) rcgc_safepoint();
        else sched_yield();
    }
    if (attach) rcgc_thread_detach();
    __atomic_fetch_add(&stoppers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_concurrent_stoppers_serialise(void **state) {
    alarm(60);
    reset_workers();
    in_stop = stoppers_done = 0;
    pthread_t w[2], s[2];
    rcgc_blocking_begin();
    pthread_create(&w[0], NULL, hot_loop, (void *)(intptr_t)0);
    pthread_create(&w[1], NULL, reattacher, (void *)(intptr_t)1);
    pthread_create(&s[0], NULL, stopper, (void *)(intptr_t)1);
    pthread_create(&s[1], NULL, stopper, (void *)(intptr_t)2);
    double end = now_s() + 30;
    while (__atomic_load_n(&stoppers_done, __ATOMIC_ACQUIRE) < 2 && now_s() < end) sleep_ms(1);
    bool done = __atomic_load_n(&stoppers_done, __ATOMIC_ACQUIRE) == 2;
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) pthread_join(s[i], NULL);
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    rcgc_blocking_end();
    assert_true(done);
    alarm(0);
}

/* ---- §11 test 15: a tight stop loop does not starve re-attaching threads -------- */

#define REATTACHERS 3
static void test_tight_stop_loop_lets_others_progress(void **state) {
    alarm(60);
    reset_workers();
    pthread_t th[REATTACHERS + 1];
    for (int i = 0; i < REATTACHERS; i++) pthread_create(&th[i], NULL, reattacher, (void *)(intptr_t)i);
    pthread_create(&th[REATTACHERS], NULL, in_syscall, (void *)(intptr_t)REATTACHERS);
    long stops = 0;
    double end = now_s() + 20;
    bool all = false;
    /* stop and restart back to back until every worker advanced 20 steps */
    while (!all && now_s() < end) {
        _rcgc_stop_the_world();
        _rcgc_start_the_world();
        stops++;
        all = true;
        for (int i = 0; i <= REATTACHERS; i++)
            if (__atomic_load_n(&progress_by[i], __ATOMIC_RELAXED) < 20) all = false;
    }
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    for (int i = 0; i <= REATTACHERS; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    print_message("%ld stops\n", stops);
    assert_true(all);
    alarm(0);
}

/* ---- stops while threads hold critical sections -------------------------------- */

#define CS_BOXES 4
typedef struct box { rcgc_object_t ob; long value; int holder; } box_t;
static const rcgc_type_t box_type = { .name = "box", .basic_size = sizeof(box_t) };
static box_t *cs_boxes[CS_BOXES];

/* Sections on random pairs with safe points inside: suspending for a stop
 * releases them, the restart locks the top-most again; between safe points
 * a section is exclusive. */
static void *cs_worker(void *p) {
    int who = (int)(intptr_t)p;
    uint64_t seed = (base_seed + (uint64_t)who * 0x5EED) | 1;
    CHECK(rcgc_thread_attach() == 0);
    while (!quitting()) {
        box_t *a = cs_boxes[rcgc_test_rand(&seed) % CS_BOXES];
        box_t *b = cs_boxes[rcgc_test_rand(&seed) % CS_BOXES];
        rcgc_critical_section2_t cs;
        rcgc_critical_section2_begin(&cs, &a->ob, &b->ob);
        a->holder = b->holder = who + 1;
        a->value++;
        if (rcgc_test_rand(&seed) % 4 == 0) {
            rcgc_safepoint(); /* may suspend: both locks released and re-taken */
            a->holder = b->holder = who + 1;
        }
        CHECK(a->holder == who + 1 && b->holder == who + 1);
        rcgc_critical_section2_end(&cs);
        step(who);
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static void test_stop_while_critical_sections_held(void **state) {
    alarm(60);
    reset_workers();
    for (int i = 0; i < CS_BOXES; i++) cs_boxes[i] = (box_t *)rcgc_object_new(&box_type);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, cs_worker, (void *)(intptr_t)i);
    for (int r = 0; r < 60 * SCALE; r++) {
        _rcgc_stop_the_world();
        assert_others_suspended();
        _rcgc_start_the_world();
        long p = __atomic_load_n(&progress, __ATOMIC_RELAXED);
        assert_true(wait_progress(p, 3, 20));
    }
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    for (int i = 0; i < CS_BOXES; i++) {
        assert_false(rcgc_mutex_is_locked((rcgc_mutex_t *)&cs_boxes[i]->ob.ob_mutex));
        rcgc_decref(&cs_boxes[i]->ob);
    }
    alarm(0);
}

/* ---- §11 test 29: fork ---------------------------------------------------------- */

static item_t *passed[64];
static int passer_go;
/* drops references the main thread owns: queues merges (bucket locks) */
static void *merge_queuer(void *p) {
    CHECK(rcgc_thread_attach() == 0);
    CHECK(wait_flag(&passer_go, 20));
    for (int i = 0; i < 64; i++) {
        rcgc_decref(&passed[i]->ob);
        rcgc_safepoint();
    }
    while (!quitting()) rcgc_safepoint();
    rcgc_thread_detach();
    return NULL;
}

/* A producer owns objects a consumer drops: every drop queues a merge in the
 * producer's queue (registry bucket locks taken all the time, across forks). */
#define RING 256
static rcgc_object_t *ring[RING];
static unsigned ring_head, ring_tail; /* producer writes head, consumer tail */
static void *producer(void *p) {
    CHECK(rcgc_thread_attach() == 0);
    while (!quitting()) {
        unsigned h = __atomic_load_n(&ring_head, __ATOMIC_RELAXED);
        if (h - __atomic_load_n(&ring_tail, __ATOMIC_ACQUIRE) < RING) {
            ring[h % RING] = rcgc_object_new(&item_type);
            __atomic_store_n(&ring_head, h + 1, __ATOMIC_RELEASE);
            step(4);
        }
        rcgc_safepoint(); /* merges (and frees) what the consumer dropped */
    }
    rcgc_thread_detach();
    return NULL;
}
static void *consumer(void *p) {
    CHECK(rcgc_thread_attach() == 0);
    for (;;) {
        unsigned t = __atomic_load_n(&ring_tail, __ATOMIC_RELAXED);
        if (t != __atomic_load_n(&ring_head, __ATOMIC_ACQUIRE)) {
            rcgc_decref(ring[t % RING]); /* not the owner: queued for the producer */
            __atomic_store_n(&ring_tail, t + 1, __ATOMIC_RELEASE);
        } else if (quitting()) {
            break;
        }
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static int child_work(void) {
    /* only this thread exists: it can attach, allocate, free, lock, stop */
    if (!rcgc_thread_is_attached()) return 10;
    rcgc_mutex_unlock(&held_mutex); /* locked by this thread before the fork */
    for (int i = 0; i < 2000; i++) {
        rcgc_object_t *o = rcgc_object_new(&item_type);
        if (!o) return 11;
        rcgc_critical_section_t cs;
        rcgc_critical_section_begin(&cs, o);
        rcgc_critical_section_end(&cs);
        rcgc_decref(o);
    }
    rcgc_safepoint(); /* merges what the other thread queued before the fork */
    _rcgc_stop_the_world();
    if (!_rcgc_world_is_stopped()) return 12;
    _rcgc_start_the_world();
    rcgc_thread_detach();
    if (rcgc_thread_attach() != 0) return 13;
    rcgc_mutex_lock(&held_mutex);
    rcgc_mutex_unlock(&held_mutex);
    return 0;
}

static void test_fork_while_threads_hold_and_wait(void **state) {
    alarm(120);
    reset_workers();
    passer_go = 0;
    for (int i = 0; i < 64; i++) passed[i] = (item_t *)rcgc_object_new(&item_type);
    rcgc_mutex_lock(&held_mutex);
    ring_head = ring_tail = 0;
    enum { NT = 6 };
    pthread_t th[NT];
    pthread_create(&th[0], NULL, hot_loop, (void *)(intptr_t)0);
    pthread_create(&th[1], NULL, on_mutex, (void *)(intptr_t)1);   /* parked on held_mutex */
    pthread_create(&th[2], NULL, merge_queuer, NULL);
    pthread_create(&th[3], NULL, in_syscall, (void *)(intptr_t)3);
    pthread_create(&th[4], NULL, producer, NULL);
    pthread_create(&th[5], NULL, consumer, NULL);
    assert_true(wait_progress(0, 20, 20));
    __atomic_store_n(&passer_go, 1, __ATOMIC_RELEASE);
    for (int round = 0; round < 4 * SCALE; round++) {
        pid_t pid = fork();
        if (pid == 0) _exit(child_work());
        assert_true(pid > 0);
        int status = 0;
        double end = now_s() + 30;
        pid_t r;
        while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_s() < end) {
            rcgc_safepoint();
            sleep_ms(1);
        }
        if (r == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("forked child hung");
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        long p = __atomic_load_n(&progress, __ATOMIC_RELAXED);
        assert_true(wait_progress(p, 5, 20)); /* the parent's threads resumed */
    }
    rcgc_mutex_unlock(&held_mutex);
    __atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    rcgc_safepoint();
    assert_int_equal(_rcgc_brc_pending_count(_rcgc_tstate()), 0);
    alarm(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_with_threads_in_every_state),
        cmocka_unit_test(test_requester_without_thread_state),
        cmocka_unit_test(test_concurrent_stoppers_serialise),
        cmocka_unit_test(test_tight_stop_loop_lets_others_progress),
        cmocka_unit_test(test_stop_while_critical_sections_held),
        cmocka_unit_test(test_fork_while_threads_hold_and_wait),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
