/* thread/stw_ft.c - stop-the-world and fork (free-threaded build).
 *
 * Stop (the requester; attached or not):
 *   1. lock stw.mutex (an rcgc_mutex_t: a requester that has to wait sleeps
 *      detached, so the stop in progress does not wait for it);
 *   2. under threads_lock: requested = 1, requester = self;
 *   3. scan, under threads_lock: CAS every DETACHED thread to SUSPENDED;
 *      mark every ATTACHED one "counted" (remaining++). Attached threads see
 *      the request at their next safe point (or detach, or attach), switch to
 *      SUSPENDED under threads_lock, clear their mark and decrement
 *      remaining; the one that reaches 0 sets the event;
 *   4. if remaining > 0: drop threads_lock, wait for the event for at most
 *      1 ms, and scan again (this catches threads that detached without
 *      seeing the request, and new ones);
 *   5. remaining == 0 after a full scan under the lock: every other thread is
 *      SUSPENDED or SHUTTING_DOWN. A thread that attaches later (a new one
 *      included) checks for a request before its CAS to ATTACHED and
 *      suspends itself instead (see _rcgc_tstate_attach for why the check
 *      cannot miss a stop whose final scan it missed).
 * Start: under threads_lock clear the request; SUSPENDED -> DETACHED, and
 * SUSPENDED|WAITING (parked in attach) -> ATTACHED with a wake-up: the
 * attachment is handed over, so a thread cannot be starved by a requester
 * stopping the world in a loop (gh-151518); unlock stw.mutex.
 *
 * The decision "the world is stopped" is always made by a complete scan under
 * threads_lock; the counter only decides when to wake the requester early.
 *
 * Fork: the prepare handler stops the world (so no other thread is inside
 * a merge, a push or the collector: attached threads are at safe points) and
 * takes threads_lock (detached threads may be registering); the parent
 * releases it and restarts the world; the child drops every other thread
 * (its list entry, merge queue and parked waiters), re-initialises the
 * bucket mutexes of the merge-queue registry and of the parking lot (a
 * detached thread may have held one), releases threads_lock and resets the
 * stop-the-world state. Holding the 514 bucket mutexes across fork instead
 * would also work, but ThreadSanitizer cannot track that many held locks.
 */
#include "internal/stw.h"
#include "internal/brc.h"
#include "internal/qsbr.h"

#include <pthread.h>

rcgc_stw_t _rcgc_stw;

static pthread_mutex_t *threads_lock(void) { return &_rcgc_runtime.threads_lock; }

/* A counted thread arrived (suspended itself, or was suspended, or left). */
static void arrived_locked(rcgc_tstate_t *t) {
    if (!t->stw_counted) return;
    t->stw_counted = false;
    if (--_rcgc_stw.remaining == 0) _rcgc_event_set(&_rcgc_stw.event);
}

static void scan_locked(rcgc_tstate_t *self) {
    for (rcgc_tstate_t *t = _rcgc_runtime.threads; t; t = t->next_thread) {
        if (t == self) continue;
        /* seq_cst: pairs with the attaching thread's check of the request
         * before its CAS (see _rcgc_tstate_attach) */
        int s = __atomic_load_n(&t->xstate, __ATOMIC_SEQ_CST);
        if (s == RCGC_TS_DETACHED &&
            __atomic_compare_exchange_n(&t->xstate, &s, RCGC_TS_SUSPENDED, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_ACQUIRE)) {
            arrived_locked(t);
            continue;
        }
        if (s == RCGC_TS_ATTACHED && !t->stw_counted) {
            t->stw_counted = true;
            _rcgc_stw.remaining++;
        }
    }
}

void _rcgc_stop_the_world(void) {
    rcgc_tstate_t *self = _rcgc_tstate();
    RCGC_ASSERT(__atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) != self);
    _rcgc_mutex_lock_timed(&_rcgc_stw.mutex, -1, RCGC_PARK_DETACH);
    pthread_mutex_lock(threads_lock());
    RCGC_ASSERT_INTERNAL(_rcgc_stw.remaining == 0 && !_rcgc_stw.world_stopped);
    __atomic_store_n(&_rcgc_stw.xrequester, self, __ATOMIC_RELAXED);
    __atomic_store_n(&_rcgc_stw.xrequested, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        _rcgc_event_reset(&_rcgc_stw.event);
        scan_locked(self);
        if (_rcgc_stw.remaining == 0) break;
        pthread_mutex_unlock(threads_lock());
        _rcgc_event_wait(&_rcgc_stw.event, RCGC_STW_REPOLL_NS);
        pthread_mutex_lock(threads_lock());
    }
    _rcgc_stw.world_stopped = true;
    pthread_mutex_unlock(threads_lock());
}

/* Under threads_lock: SUSPENDED -> DETACHED; SUSPENDED|WAITING -> ATTACHED
 * with a wake-up (attachment handed over); other states are left alone. */
static void resume_locked(rcgc_tstate_t *t) {
    int s = _rcgc_tstate_state(t);
    for (;;) {
        if (s == RCGC_TS_SUSPENDED) {
            if (__atomic_compare_exchange_n(&t->xstate, &s, RCGC_TS_DETACHED, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_ACQUIRE))
                return;
        } else if (s == (RCGC_TS_SUSPENDED | RCGC_TS_WAITING)) {
            if (__atomic_compare_exchange_n(&t->xstate, &s, RCGC_TS_ATTACHED, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_ACQUIRE)) {
                _rcgc_unpark_all(&t->xstate);
                return;
            }
        } else {
            return;
        }
    }
}

void _rcgc_start_the_world(void) {
    rcgc_tstate_t *self = _rcgc_tstate();
    RCGC_ASSERT(__atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) == self);
    pthread_mutex_lock(threads_lock());
    RCGC_ASSERT_INTERNAL(_rcgc_stw.world_stopped && _rcgc_stw.remaining == 0);
    _rcgc_stw.world_stopped = false;
    __atomic_store_n(&_rcgc_stw.xrequested, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&_rcgc_stw.xrequester, NULL, __ATOMIC_RELAXED);
    for (rcgc_tstate_t *t = _rcgc_runtime.threads; t; t = t->next_thread) {
        /* a thread held by a detached-owner merge is resumed by its merger */
        if (t != self && !t->brc_held) resume_locked(t);
        RCGC_ASSERT_INTERNAL(!t->stw_counted);
    }
    _rcgc_stw.stops++;
    pthread_mutex_unlock(threads_lock());
    rcgc_mutex_unlock(&_rcgc_stw.mutex);
}

bool _rcgc_world_is_stopped(void) {
    pthread_mutex_lock(threads_lock());
    bool stopped = _rcgc_stw.world_stopped;
    pthread_mutex_unlock(threads_lock());
    return stopped;
}

bool _rcgc_stw_suspend_self(rcgc_tstate_t *ts) {
    pthread_mutex_lock(threads_lock());
    bool suspend = __atomic_load_n(&_rcgc_stw.xrequested, __ATOMIC_RELAXED) &&
                   __atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) != ts;
    if (suspend) {
        /* ATTACHED (safe point, detach) or DETACHED (attach); the requester
         * may have made it SUSPENDED already. Nobody else changes it while
         * we hold threads_lock. */
        int s = _rcgc_tstate_state(ts);
        if (s == RCGC_TS_ATTACHED || s == RCGC_TS_DETACHED)
            __atomic_store_n(&ts->xstate, RCGC_TS_SUSPENDED, __ATOMIC_SEQ_CST);
        arrived_locked(ts);
    }
    pthread_mutex_unlock(threads_lock());
    return suspend;
}

/* ---- holding one detached thread (detached-owner merges, brc_ft.c) ----------
 * Only while no stop is requested, so a hold never overlaps a stop's scan
 * from its start: a stop requested during the hold finds the thread
 * SUSPENDED (stopped, not counted); its restart skips the thread (brc_held),
 * and the merger's release, seeing a stop requested, leaves the thread
 * SUSPENDED for that stop's restart. A thread whose hold ended while a stop
 * was requested is resumed by that stop's restart like any other. */
bool _rcgc_stw_hold_detached(rcgc_tstate_t *t) {
    pthread_mutex_lock(threads_lock());
    bool held = false;
    if (!__atomic_load_n(&_rcgc_stw.xrequested, __ATOMIC_RELAXED)) {
        int s = RCGC_TS_DETACHED;
        held = __atomic_compare_exchange_n(&t->xstate, &s, RCGC_TS_SUSPENDED, false, __ATOMIC_SEQ_CST,
                                           __ATOMIC_ACQUIRE);
        if (held) t->brc_held = true;
    }
    pthread_mutex_unlock(threads_lock());
    return held;
}

void _rcgc_stw_release_held(rcgc_tstate_t *t) {
    pthread_mutex_lock(threads_lock());
    RCGC_ASSERT_INTERNAL(t->brc_held);
    t->brc_held = false;
    /* A detached thread may itself have requested a stop during the hold
     * (fork's prepare handler does): it is exempt from that stop, and its
     * restart skips itself, so resume it here. */
    if (!__atomic_load_n(&_rcgc_stw.xrequested, __ATOMIC_RELAXED) ||
        __atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) == t)
        resume_locked(t);
    pthread_mutex_unlock(threads_lock());
}

void _rcgc_stw_thread_gone(rcgc_tstate_t *ts) {
    pthread_mutex_lock(threads_lock());
    __atomic_store_n(&ts->xstate, RCGC_TS_SHUTTING_DOWN, __ATOMIC_SEQ_CST);
    arrived_locked(ts);
    pthread_mutex_unlock(threads_lock());
}

/* ---- fork ----------------------------------------------------------------- */

static bool fork_stopped; /* the prepare handler stopped the world (forking thread only) */

static void before_fork(void) {
    rcgc_tstate_t *self = _rcgc_tstate();
    /* A thread that forks from inside its own stop keeps it. */
    fork_stopped = __atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) != self;
    if (fork_stopped) _rcgc_stop_the_world();
    pthread_mutex_lock(threads_lock());
    _rcgc_qsbr_before_fork();
}

static void after_fork_parent(void) {
    _rcgc_qsbr_after_fork_parent();
    pthread_mutex_unlock(threads_lock());
    if (fork_stopped) _rcgc_start_the_world();
}

static void after_fork_child(void) {
    rcgc_tstate_t *self = _rcgc_tstate();
    _rcgc_parking_lot_after_fork_child();
    /* Only this thread exists now. Others' thread states stay where they
     * were (their memory was copied) but leave the runtime's list. */
    _rcgc_runtime.threads = self->registered ? self : NULL;
    self->next_thread = self->prev_thread = NULL;
    self->stw_counted = false;
    if (fork_stopped) {
        /* This thread held the stop: end it with nobody to wake. */
        _rcgc_stw.world_stopped = false;
        _rcgc_stw.remaining = 0;
        __atomic_store_n(&_rcgc_stw.xrequested, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&_rcgc_stw.xrequester, NULL, __ATOMIC_RELAXED);
        _rcgc_event_reset(&_rcgc_stw.event);
        __atomic_store_n(&_rcgc_stw.mutex._bits, 0, __ATOMIC_RELEASE);
    }
    _rcgc_qsbr_after_fork_child();
    pthread_mutex_unlock(threads_lock());
    _rcgc_brc_after_fork_child(self);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) {
    /* The parking lot and the merge-queue registry have no handlers of
     * their own: ours call them, in rank order. */
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void _rcgc_stw_init(void) {
    /* Prepare handlers run in reverse order of registration, and the
     * allocator's take its locks (pool, tracer, debug quarantine) for the
     * fork. Our stop must come before those: an attached thread blocked on
     * the pool lock held by the forking thread would never reach its safe
     * point. rcgc_init calls _rcgc_alloc_init, which registers the
     * allocator's handlers, before _rcgc_flavour_init brings us here. */
    pthread_once(&atfork_once, register_atfork);
}
