/* test_gc_ft.c - the free-threaded collector with several threads
 * (free-threading.md §11 tests 17-22 and 25-28; the single-threaded
 * semantics are the conformance suites' and test_gc_diff's, which run in
 * this flavour too).
 *
 *  17: a cycle whose members are owned by four threads, counts unmerged ->
 *      collected (return value = members); survivors keep exact counts and
 *      their owners;
 *  18: a cycle left by an exited thread is collected; its live object gets a
 *      valid owner (merged) and is freed once;
 *  19: counts that reach 0 only in the queue drain: the tracked object is
 *      garbage of this collection, the untracked one is freed after the
 *      restart, and its destructor takes a lock held by an attached thread;
 *  20: a finalizer takes a lock held by an attached thread;
 *  21: resurrection by a finalizer, owner of the survivors valid;
 *  22: a weakref callback runs with the world running;
 *  25: allocation failures at every site of a collection: nothing lost,
 *      heap sound, the next collection collects;
 *  26: the heap check (ownership, scratch bits, counts) after each of them;
 *  27: frozen objects are never examined (in the conformance suites);
 *  28: automatic collections with two allocating threads start within
 *      threshold + 512 * threads net allocations, on an allocating thread;
 *  a seeded stress run: threads build, share and drop random graphs with
 *      cycles while others collect; every object freed exactly once.
 * Workers report failures with CHECK (print and abort); waits have deadlines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "rcgc.h"
#include "internal/stw.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) RCGC_TEST_CHECK(cond)
#define MAXID 4096

/* ---- a node type that counts its deallocations -------------------------------- */

typedef struct node {
    rcgc_object_t ob;
    rcgc_object_t *a, *b;
    int id;
} node_t;

static int g_deallocs[MAXID];
static pthread_mutex_t *g_dealloc_lock; /* taken by the dealloc when set */
static pthread_mutex_t *g_fin_lock;     /* taken by the finalizer when set */
static rcgc_object_t *g_resurrected;
static int g_finalized;

static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    node_t *n = (node_t *)self;
    RCGC_VISIT(n->a, visit, arg);
    RCGC_VISIT(n->b, visit, arg);
    return 0;
}

static int node_clear(rcgc_object_t *self) {
    node_t *n = (node_t *)self;
    RCGC_CLEAR(n->a);
    RCGC_CLEAR(n->b);
    return 0;
}

static void node_dealloc(rcgc_object_t *self) {
    node_t *n = (node_t *)self;
    rcgc_gc_untrack(self);
    if (rcgc_object_call_finalizer_from_dealloc(self) < 0) return;
    if (g_dealloc_lock) {
        pthread_mutex_lock(g_dealloc_lock);
        pthread_mutex_unlock(g_dealloc_lock);
    }
    node_clear(self);
    __atomic_fetch_add(&g_deallocs[n->id], 1, __ATOMIC_RELAXED);
    rcgc_object_free(self);
}

static int node_finalize(rcgc_object_t *self) {
    __atomic_fetch_add(&g_finalized, 1, __ATOMIC_RELAXED);
    if (g_fin_lock) {
        pthread_mutex_lock(g_fin_lock);
        pthread_mutex_unlock(g_fin_lock);
    }
    if (g_resurrected == NULL) g_resurrected = rcgc_newref(self);
    return 0;
}

static const rcgc_type_t node_type = {
    .name = "ftnode", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC, .traverse = node_traverse, .clear = node_clear, .dealloc = node_dealloc,
};
/* a weakrefable node: the same layout plus a weak-list slot */
typedef struct wnode {
    node_t n;
    rcgc_object_t *weaklist;
} wnode_t;
static const rcgc_type_t wnode_type = {
    .name = "ftwnode", .basic_size = sizeof(wnode_t), .flags = RCGC_TYPE_GC | RCGC_TYPE_WEAKREFABLE,
    .weaklist_offset = offsetof(wnode_t, weaklist), .traverse = node_traverse, .clear = node_clear,
    .dealloc = node_dealloc,
};
static const rcgc_type_t fin_type = {
    .name = "ftfin", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC, .traverse = node_traverse,
    .clear = node_clear, .finalize = node_finalize, .dealloc = node_dealloc,
};
static const rcgc_type_t plain_type = { /* never tracked */
    .name = "ftplain", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC | RCGC_TYPE_NO_AUTO_TRACK,
    .traverse = node_traverse, .clear = node_clear, .dealloc = node_dealloc,
};

static rcgc_object_t *new_node(const rcgc_type_t *t, int id) {
    CHECK(id >= 0 && id < MAXID);
    node_t *n = (node_t *)rcgc_object_new(t);
    CHECK(n != NULL);
    n->id = id;
    return &n->ob;
}

static void set_a(rcgc_object_t *o, rcgc_object_t *v) { RCGC_SETREF(((node_t *)o)->a, rcgc_newref(v)); }

static int deallocs(int id) { return __atomic_load_n(&g_deallocs[id], __ATOMIC_RELAXED); }

static void reset_counters(void) {
    memset(g_deallocs, 0, sizeof g_deallocs);
    g_dealloc_lock = g_fin_lock = NULL;
    g_resurrected = NULL;
    g_finalized = 0;
}

/* A barrier that waits detached (a thread blocked in a barrier must not
 * hold up a stop of the world). */
static void barrier_wait(pthread_barrier_t *b) {
    rcgc_blocking_begin();
    pthread_barrier_wait(b);
    rcgc_blocking_end();
}

/* Joining blocks: detached meanwhile, or a stop requested by the thread
 * joined would wait for this one forever. */
static void join(pthread_t th) {
    rcgc_blocking_begin();
    pthread_join(th, NULL);
    rcgc_blocking_end();
}

/* ---- 17: a cycle owned by four threads ----------------------------------------- */

#define OWNERS 4
static rcgc_object_t *ring[OWNERS], *surv[OWNERS];
static uintptr_t owner_tid[OWNERS];
static pthread_barrier_t bar;

static void *ring_owner(void *arg) {
    int i = (int)(intptr_t)arg;
    rcgc_thread_attach();
    owner_tid[i] = rcgc_thread_id();
    ring[i] = new_node(&node_type, i);
    surv[i] = new_node(&node_type, 100 + i);
    barrier_wait(&bar); /* 1: all created */
    /* the owner of ring[i] makes ring[i-1] point at it: local counts only */
    set_a(ring[(i + OWNERS - 1) % OWNERS], ring[i]);
    rcgc_decref(ring[i]); /* its creation reference: local 2 -> 1 */
    CHECK(rcgc_is_owned_by_current_thread(ring[i]));
    barrier_wait(&bar); /* 2: ring built */
    barrier_wait(&bar); /* 3: collected */
    CHECK(rcgc_is_owned_by_current_thread(surv[i]));
    CHECK(rcgc_refcnt(surv[i]) == 1);
    rcgc_decref(surv[i]);
    rcgc_thread_detach();
    return NULL;
}

static void cycle_of_four_owners(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    pthread_t th[OWNERS];
    pthread_barrier_init(&bar, NULL, OWNERS + 1);
    for (int i = 0; i < OWNERS; i++) assert_int_equal(pthread_create(&th[i], NULL, ring_owner, (void *)(intptr_t)i), 0);
    barrier_wait(&bar);
    barrier_wait(&bar);
    assert_int_equal(rcgc_gc_check_heap(), 0);
    assert_int_equal(rcgc_gc_collect(2), OWNERS);
    for (int i = 0; i < OWNERS; i++) {
        assert_int_equal(deallocs(i), 1);
        assert_int_equal(deallocs(100 + i), 0);
        assert_int_equal(rcgc_refcnt(surv[i]), 1);
        assert_true(surv[i]->ob_tid == owner_tid[i]); /* owner given back */
    }
    assert_int_equal(rcgc_gc_check_heap(), 0);
    barrier_wait(&bar);
    for (int i = 0; i < OWNERS; i++) join(th[i]);
    for (int i = 0; i < OWNERS; i++) assert_int_equal(deallocs(100 + i), 1);
    pthread_barrier_destroy(&bar);
}

/* ---- 18: a cycle left by an exited thread ---------------------------------------- */

static rcgc_object_t *g_left;

static void *leave_cycle(void *arg) {
    (void)arg;
    rcgc_thread_attach();
    rcgc_object_t *A = new_node(&node_type, 1), *B = new_node(&node_type, 2);
    set_a(A, B);
    set_a(B, A);
    rcgc_decref(A);
    rcgc_decref(B);
    g_left = new_node(&node_type, 3); /* handed to the main thread */
    rcgc_thread_detach();
    return NULL;
}

static void cycle_of_exited_thread(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, leave_cycle, NULL), 0);
    join(th);
    assert_int_equal(rcgc_gc_collect(2), 2);
    assert_int_equal(deallocs(1), 1);
    assert_int_equal(deallocs(2), 1);
    assert_int_equal(rcgc_gc_check_heap(), 0); /* g_left: merged or owned by a live thread */
    assert_int_equal(rcgc_refcnt(g_left), 1);
    rcgc_decref(g_left);
    assert_int_equal(deallocs(3), 1);
}

/* ---- 19 and 20: locks held by attached threads ------------------------------------ */

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static int holder_ready, holder_stop;

/* Holds `held` for a while, attached, passing safe points: if a destructor
 * or a finalizer ran with the world stopped and needed `held`, this thread
 * would be suspended while holding it and the collection would never end. */
static void *lock_holder(void *arg) {
    (void)arg;
    rcgc_thread_attach();
    pthread_mutex_lock(&held);
    __atomic_store_n(&holder_ready, 1, __ATOMIC_RELEASE);
    double end = rcgc_test_now() + 0.2;
    while (rcgc_test_now() < end && !__atomic_load_n(&holder_stop, __ATOMIC_ACQUIRE)) {
        rcgc_safepoint();
        sched_yield();
    }
    pthread_mutex_unlock(&held);
    rcgc_thread_detach();
    return NULL;
}

static rcgc_object_t *g_X, *g_Y;
static pthread_barrier_t bar2;

static void *queue_owner(void *arg) {
    (void)arg;
    rcgc_thread_attach();
    g_X = new_node(&node_type, 10);  /* tracked */
    g_Y = new_node(&plain_type, 11); /* untracked */
    /* stay detached across both barriers: no merge of our queue meanwhile */
    rcgc_blocking_begin();
    pthread_barrier_wait(&bar2); /* 1: created; the main thread takes them over */
    pthread_barrier_wait(&bar2); /* 2: the main thread queued them and collected */
    rcgc_blocking_end();
    rcgc_thread_detach();
    return NULL;
}

static void queue_drain_counts(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    pthread_t owner, holder;
    pthread_barrier_init(&bar2, NULL, 2);
    assert_int_equal(pthread_create(&owner, NULL, queue_owner, NULL), 0);
    barrier_wait(&bar2);
    /* The owner waits detached with local counts 1: these decrefs queue.
     * With no stop in progress the queueing thread would merge them at once
     * on behalf of the detached owner (brc_ft.c); under a stop it cannot,
     * and they stay queued until the owner attaches or a collection drains
     * them. */
    _rcgc_stop_the_world();
    rcgc_decref(g_X);
    rcgc_decref(g_Y);
    _rcgc_start_the_world();
    assert_int_equal(deallocs(10) + deallocs(11), 0);
    g_dealloc_lock = &held;
    holder_ready = holder_stop = 0;
    assert_int_equal(pthread_create(&holder, NULL, lock_holder, NULL), 0);
    assert_true(rcgc_test_wait_flag(&holder_ready, 10));
    assert_int_equal(rcgc_gc_collect(2), 1); /* X: garbage of this collection */
    assert_int_equal(deallocs(10), 1);
    assert_int_equal(deallocs(11), 1); /* after the restart, once the holder let go */
    g_dealloc_lock = NULL;
    join(holder);
    barrier_wait(&bar2);
    join(owner);
    pthread_barrier_destroy(&bar2);
    assert_int_equal(rcgc_gc_check_heap(), 0);
}

static void finalizer_takes_held_lock(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    rcgc_object_t *F = new_node(&fin_type, 20);
    set_a(F, F);
    g_resurrected = F; /* do not resurrect */
    rcgc_decref(F);
    g_fin_lock = &held;
    pthread_t holder;
    holder_ready = holder_stop = 0;
    assert_int_equal(pthread_create(&holder, NULL, lock_holder, NULL), 0);
    assert_true(rcgc_test_wait_flag(&holder_ready, 10));
    assert_int_equal(rcgc_gc_collect(2), 1);
    assert_int_equal(g_finalized, 1);
    assert_int_equal(deallocs(20), 1);
    g_fin_lock = NULL;
    g_resurrected = NULL;
    join(holder);
}

/* ---- 21: resurrection ---------------------------------------------------------------- */

static rcgc_object_t *g_R, *g_kept;
static void *make_resurrecting(void *arg) {
    (void)arg;
    rcgc_thread_attach();
    g_R = new_node(&fin_type, 30);
    rcgc_object_t *child = new_node(&node_type, 31);
    set_a(g_R, g_R);
    RCGC_SETREF(((node_t *)g_R)->b, child); /* steals */
    g_kept = new_node(&node_type, 32);
    barrier_wait(&bar2); /* created */
    barrier_wait(&bar2); /* collected */
    CHECK(rcgc_is_owned_by_current_thread(g_kept) && rcgc_refcnt(g_kept) == 1);
    rcgc_decref(g_kept);
    rcgc_thread_detach();
    return NULL;
}

static void resurrection_keeps_counts(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    pthread_barrier_init(&bar2, NULL, 2);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, make_resurrecting, NULL), 0);
    barrier_wait(&bar2);
    rcgc_decref(g_R); /* non-owner: queued for the owner, drained by the collector */
    assert_int_equal(rcgc_gc_collect(2), 0); /* the finalizer resurrects R and its child */
    assert_int_equal(g_finalized, 1);
    assert_ptr_equal(g_resurrected, g_R);
    assert_int_equal(rcgc_refcnt(g_R), 2); /* itself + g_resurrected */
    assert_int_equal(deallocs(30) + deallocs(31), 0);
    assert_int_equal(rcgc_gc_check_heap(), 0);
    assert_int_equal(rcgc_gc_collect(2), 0); /* still reachable; finalizer not run again */
    assert_int_equal(g_finalized, 1);
    barrier_wait(&bar2);
    join(th);
    assert_int_equal(deallocs(32), 1);
    rcgc_object_t *R = g_resurrected;
    g_resurrected = R; /* stays non-NULL: no second resurrection */
    RCGC_CLEAR(((node_t *)R)->a);
    rcgc_decref(R);
    assert_int_equal(deallocs(30), 1);
    assert_int_equal(deallocs(31), 1);
    assert_int_equal(g_finalized, 1);
    pthread_barrier_destroy(&bar2);
}

/* ---- 22: weakref callbacks with the world running -------------------------------------- */

static int g_ticks, g_ticker_stop, g_cb_saw_progress, g_cb_calls;
static void *ticker(void *arg) {
    (void)arg;
    rcgc_thread_attach();
    while (!__atomic_load_n(&g_ticker_stop, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&g_ticks, 1, __ATOMIC_RELEASE);
        rcgc_safepoint();
        sched_yield();
    }
    rcgc_thread_detach();
    return NULL;
}

static int wr_callback(rcgc_object_t *wr, rcgc_object_t *ctx, void *data) {
    (void)wr; (void)ctx; (void)data;
    g_cb_calls++;
    assert_null(rcgc_weakref_peek(wr)); /* cleared before its callback */
    int start = __atomic_load_n(&g_ticks, __ATOMIC_ACQUIRE);
    double end = rcgc_test_now() + 10;
    while (rcgc_test_now() < end && __atomic_load_n(&g_ticks, __ATOMIC_ACQUIRE) < start + 3) sched_yield();
    g_cb_saw_progress = __atomic_load_n(&g_ticks, __ATOMIC_ACQUIRE) >= start + 3;
    return 0;
}

static void weakref_callback_world_running(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    rcgc_object_t *A = new_node(&wnode_type, 40);
    set_a(A, A);
    rcgc_object_t *wr = rcgc_weakref_new(A, wr_callback, NULL, NULL);
    assert_non_null(wr);
    rcgc_decref(A);
    g_ticks = g_ticker_stop = g_cb_saw_progress = g_cb_calls = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ticker, NULL), 0);
    assert_int_equal(rcgc_gc_collect(2), 1);
    __atomic_store_n(&g_ticker_stop, 1, __ATOMIC_RELEASE);
    join(th);
    assert_int_equal(g_cb_calls, 1);
    assert_true(g_cb_saw_progress);
    assert_int_equal(deallocs(40), 1);
    assert_null(rcgc_weakref_peek(wr));
    rcgc_decref(wr);
}

/* ---- 25 + 26: allocation failure at every site ---------------------------------------- */

#define OOM_PAIRS 3000
static void oom_every_site(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    rcgc_object_t *live = new_node(&node_type, 50);
    for (unsigned long site = 1;; site++) {
        for (int i = 0; i < OOM_PAIRS; i++) { /* garbage cycles hanging off nothing */
            rcgc_object_t *a = new_node(&node_type, 51), *b = new_node(&node_type, 52);
            set_a(a, b);
            set_a(b, a);
            rcgc_decref(a);
            rcgc_decref(b);
            if (site == 1 && i == 0) set_a(live, a); /* one pair survives throughout */
        }
        rcgc_alloc_set_fail_after(site);
        intptr_t n = rcgc_gc_collect(2);
        bool injected = rcgc_alloc_fail_injected() > 0;
        rcgc_alloc_set_fail_after(0);
        assert_true(n >= 0);
        assert_int_equal(rcgc_gc_check_heap(), 0);
        intptr_t again = rcgc_gc_collect(2), expected = 2 * OOM_PAIRS - (site == 1 ? 2 : 0);
        if (!injected) {
            assert_int_equal(n, expected);
            break;
        }
        assert_int_equal(n + again, expected); /* what a failure left is collected now */
        assert_true(site < 100);
    }
    assert_int_equal(rcgc_gc_check_heap(), 0);
    rcgc_decref(live);
    rcgc_gc_collect(2);
}

/* ---- 28: automatic collections with two allocating threads ------------------------------ */

#define AUTO_T 1000
static int g_auto_runs, g_auto_bad;
static uintptr_t g_alloc_tids[2];
static int auto_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    (void)ctx;
    if (phase != RCGC_GC_PHASE_START || info->reason != RCGC_GC_REASON_HEAP) return 0;
    uintptr_t me = rcgc_thread_id();
    if (me != g_alloc_tids[0] && me != g_alloc_tids[1]) g_auto_bad++;
    __atomic_fetch_add(&g_auto_runs, 1, __ATOMIC_RELAXED);
    return 0;
}

static void *allocator(void *arg) {
    int k = (int)(intptr_t)arg;
    rcgc_thread_attach();
    g_alloc_tids[k] = rcgc_thread_id();
    barrier_wait(&bar2);
    /* net allocations: 1,500 kept per round, so the count passes the threshold */
    static rcgc_object_t *keep[2][1500];
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 1500; i++) {
            keep[k][i] = new_node(&node_type, 60 + k);
            if ((i & 15) == 0) rcgc_safepoint();
        }
        for (int i = 0; i < 1500; i++) rcgc_decref(keep[k][i]);
    }
    rcgc_thread_detach();
    return NULL;
}

static void automatic_with_two_threads(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    int saved[3];
    rcgc_gc_get_threshold(saved);
    rcgc_gc_set_threshold(AUTO_T, 10, 10);
    rcgc_gc_enable();
    rcgc_safepoint(); /* serve what earlier tests scheduled on this thread */
    g_auto_runs = g_auto_bad = 0;
    assert_int_equal(rcgc_gc_callback_add(auto_cb, NULL), 0);
    pthread_barrier_init(&bar2, NULL, 2);
    pthread_t th[2];
    for (int k = 0; k < 2; k++) assert_int_equal(pthread_create(&th[k], NULL, allocator, (void *)(intptr_t)k), 0);
    for (int k = 0; k < 2; k++) join(th[k]);
    pthread_barrier_destroy(&bar2);
    assert_int_equal(rcgc_gc_callback_remove(auto_cb, NULL), 0);
    rcgc_gc_set_threshold(saved[0], saved[1], saved[2]);
    assert_true(g_auto_runs > 0);
    assert_int_equal(g_auto_bad, 0);
    assert_int_equal(deallocs(60) + deallocs(61), 30000);
}

/* ---- threads exiting while collections walk the heap -------------------------------------- */

static int g_spawner_done;
static void *short_lived(void *arg) {
    (void)arg;
    rcgc_thread_attach();
    rcgc_object_t *keep = NULL;
    for (int i = 0; i < 200; i++) {
        rcgc_object_t *o = new_node(&node_type, 70);
        if (i % 3 == 0) set_a(o, o); /* some cycles left behind */
        if (i == 100) keep = rcgc_newref(o);
        rcgc_decref(o);
    }
    rcgc_decref(keep);
    rcgc_thread_detach();
    return NULL; /* the allocator tears the heaps down while collections may run */
}

static void *spawner(void *arg) {
    (void)arg;
    for (int i = 0; i < 40; i++) {
        pthread_t th;
        CHECK(pthread_create(&th, NULL, short_lived, NULL) == 0);
        pthread_join(th, NULL);
    }
    __atomic_store_n(&g_spawner_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void exiting_threads_during_collections(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    g_spawner_done = 0;
    pthread_t sp;
    assert_int_equal(pthread_create(&sp, NULL, spawner, NULL), 0);
    for (int g = 0; !__atomic_load_n(&g_spawner_done, __ATOMIC_ACQUIRE); g = (g + 1) % 3) {
        assert_true(rcgc_gc_collect(g) >= 0);
        sched_yield();
    }
    join(sp);
    rcgc_gc_collect(2);
    assert_int_equal(deallocs(70), 40 * 200);
    assert_int_equal(rcgc_gc_check_heap(), 0);
}

/* ---- stress: random graphs shared between threads, collections meanwhile ---------------- */

#define STRESS_THREADS 3
#define STRESS_SLOTS 64
#ifdef __SANITIZE_THREAD__
#define STRESS_STEPS 4000
#else
#define STRESS_STEPS 40000
#endif
static rcgc_object_t *g_slots[STRESS_SLOTS];
static pthread_mutex_t g_slots_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_created;
static uint64_t g_seed;

static void *stress_worker(void *arg) {
    int k = (int)(intptr_t)arg;
    uint64_t s = g_seed * 7919 + (uint64_t)k;
    rcgc_thread_attach();
    rcgc_object_t *mine[8] = { 0 };
    for (int step = 0; step < STRESS_STEPS; step++) {
        uint64_t r = rcgc_test_rand(&s);
        rcgc_object_t **m = &mine[r % 8];
        switch ((r >> 8) % 6) {
        case 0: case 1: { /* create, maybe linked to a slot object (cycles through slots) */
            int id = 1000 + (int)__atomic_fetch_add(&g_created, 1, __ATOMIC_RELAXED) % 2000;
            rcgc_object_t *o = new_node(&node_type, id);
            if (*m) set_a(o, *m);
            pthread_mutex_lock(&g_slots_lock);
            rcgc_object_t *sl = g_slots[(r >> 16) % STRESS_SLOTS];
            if (sl) set_a(sl, o); /* another thread's object now points at ours */
            pthread_mutex_unlock(&g_slots_lock);
            RCGC_SETREF(*m, o);
            break;
        }
        case 2: { /* publish mine in a slot */
            pthread_mutex_lock(&g_slots_lock);
            rcgc_object_t **sl = &g_slots[(r >> 16) % STRESS_SLOTS];
            if (*m) RCGC_SETREF(*sl, rcgc_newref(*m));
            pthread_mutex_unlock(&g_slots_lock);
            break;
        }
        case 3: { /* take a slot's object: non-owner references */
            pthread_mutex_lock(&g_slots_lock);
            rcgc_object_t *sl = g_slots[(r >> 16) % STRESS_SLOTS];
            if (sl) RCGC_SETREF(*m, rcgc_newref(sl));
            pthread_mutex_unlock(&g_slots_lock);
            break;
        }
        case 4: /* drop */
            RCGC_CLEAR(*m);
            break;
        default:
            if ((r >> 20) % 64 == 0) rcgc_gc_collect((int)((r >> 30) % 3));
            rcgc_safepoint();
            if ((r >> 24) % 4 == 0) sched_yield();
        }
    }
    for (int i = 0; i < 8; i++) RCGC_CLEAR(mine[i]);
    rcgc_thread_detach();
    return NULL;
}

static void stress_shared_graphs(void **state) {
    (void)state;
    reset_counters();
    rcgc_gc_collect(2);
    g_seed = rcgc_test_seed(20261124);
    g_created = 0;
    pthread_t th[STRESS_THREADS];
    for (int k = 0; k < STRESS_THREADS; k++)
        assert_int_equal(pthread_create(&th[k], NULL, stress_worker, (void *)(intptr_t)k), 0);
    for (int k = 0; k < STRESS_THREADS; k++) join(th[k]);
    for (int i = 0; i < STRESS_SLOTS; i++) RCGC_CLEAR(g_slots[i]);
    rcgc_safepoint();
    rcgc_gc_collect(2);
    assert_int_equal(rcgc_gc_check_heap(), 0);
    int total = 0;
    for (int id = 1000; id < 3000; id++) total += deallocs(id);
    assert_int_equal(total, g_created); /* every object freed exactly once */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cycle_of_four_owners),
        cmocka_unit_test(cycle_of_exited_thread),
        cmocka_unit_test(queue_drain_counts),
        cmocka_unit_test(finalizer_takes_held_lock),
        cmocka_unit_test(resurrection_keeps_counts),
        cmocka_unit_test(weakref_callback_world_running),
        cmocka_unit_test(oom_every_site),
        cmocka_unit_test(automatic_with_two_threads),
        cmocka_unit_test(exiting_threads_during_collections),
        cmocka_unit_test(stress_shared_graphs),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
