/* internal/lock.h - the parking lot, the mutex's internals, one-shot events
 * and the lock ranks (thread/parking_lot.c, thread/mutex.c,
 * thread/critical_section_{default,ft}.c; docs/design/threads.md).
 *
 * Lock ranks. A thread may only take a lock of a HIGHER rank than every lock
 * it holds; rcgc_mutex_t locks may sleep (and detach) and so are taken only
 * while no raw pthread mutex of the library is held:
 *
 *   10  stop-the-world requester mutex (stw_ft.c, rcgc_mutex_t)
 *   20  object / user rcgc_mutex_t locks and critical sections; they never
 *       nest by rank: sleeping on one releases every critical section
 *   30  global lock (default build, glock_default.c mu)
 *   40  runtime.threads_lock (tstate.c)
 *   50  biased-refcount registry bucket mutexes (brc_ft.c)
 *   50  weakref mutex (refcount_ft.c), allocator pool lock, debug-allocator
 *       quarantine lock, tracer lock: leaves, taken on their own
 *   60  parking-lot bucket mutexes (parking_lot.c): innermost; nothing is
 *       taken while one is held except what an unpark callback does, which
 *       must be lock-free
 */
#ifndef RCGC_INTERNAL_LOCK_H
#define RCGC_INTERNAL_LOCK_H

#include "internal/core.h"

typedef enum rcgc_lock_rank {
    RCGC_RANK_STW = 10,
    RCGC_RANK_OBJECT = 20,
    RCGC_RANK_GLOBAL_LOCK = 30,
    RCGC_RANK_THREADS = 40,
    RCGC_RANK_LEAF = 50,
    RCGC_RANK_PARKING_BUCKET = 60,
} rcgc_lock_rank_t;

/* ---- time ---------------------------------------------------------------- */
RCGC_INTERNAL int64_t _rcgc_monotonic_ns(void);

/* ---- parking lot (thread/parking_lot.c) -----------------------------------
 * Threads sleep "on an address" and are woken by address. Waiters sit in one
 * of RCGC_PARKING_BUCKETS buckets hashed by address, each a raw mutex and a
 * FIFO list; each waiter sleeps on its own semaphore. */
#define RCGC_PARKING_BUCKETS 257

typedef enum {
    RCGC_PARK_OK = 0,      /* woken by an unpark */
    RCGC_PARK_AGAIN = 1,   /* *addr no longer held the expected value */
    RCGC_PARK_TIMEOUT = 2, /* the timeout expired */
} rcgc_park_result_t;

/* _rcgc_park flags */
#define RCGC_PARK_DETACH 1 /* detach (release critical sections / the global lock) while asleep */

/* Sleep until an unpark on addr, if *addr (size 1, 4 or 8 bytes) still equals
 * *expected when checked under the bucket lock. timeout_ns < 0: no timeout.
 * arg is handed to the unpark callback. */
RCGC_INTERNAL rcgc_park_result_t _rcgc_park(const void *addr, const void *expected, size_t size,
                                            int64_t timeout_ns, void *arg, int flags);
/* Called under the bucket lock with the woken waiter's arg (NULL if there was
 * none) and whether more waiters on addr remain. Must not take locks. */
typedef void (*rcgc_unpark_fn)(void *ctx, void *waiter_arg, bool has_more);
/* Wake the oldest waiter on addr (if any) after running fn under the lock. */
RCGC_INTERNAL void _rcgc_unpark_one(const void *addr, rcgc_unpark_fn fn, void *ctx);
/* Wake every waiter on addr. */
RCGC_INTERNAL void _rcgc_unpark_all(const void *addr);
/* Forked child: forget every waiter (their threads are gone) and
 * re-initialise the bucket mutexes. */
RCGC_INTERNAL void _rcgc_parking_lot_after_fork_child(void);

/* ---- mutex (thread/mutex.c) ---------------------------------------------- */
#define RCGC_MUTEX_LOCKED 1u
#define RCGC_MUTEX_HAS_PARKED 2u
#define RCGC_MUTEX_SPINS 40            /* sched_yield rounds before sleeping */
#define RCGC_MUTEX_HANDOFF_NS 1000000  /* a waiter older than this gets the lock handed over */

/* Lock with a timeout (< 0: none) and _rcgc_park flags; returns true if
 * acquired. */
RCGC_INTERNAL bool _rcgc_mutex_lock_timed(rcgc_mutex_t *m, int64_t timeout_ns, int flags);

/* ---- one-shot event on the parking lot ----------------------------------- */
typedef struct rcgc_event {
    uint8_t v; /* atomic: 0 unset, 1 set, 2 unset with a sleeper */
} rcgc_event_t;
RCGC_INTERNAL void _rcgc_event_set(rcgc_event_t *e);
/* Wait until set or timeout; returns whether it is set. Does not detach. */
RCGC_INTERNAL bool _rcgc_event_wait(rcgc_event_t *e, int64_t timeout_ns);
/* Only while no thread can be waiting on it. */
static inline void _rcgc_event_reset(rcgc_event_t *e) { __atomic_store_n(&e->v, 0, __ATOMIC_RELAXED); }

/* ---- what "detach while sleeping" means per flavour
 * (thread/critical_section_{default,ft}.c) --------------------------------
 * _rcgc_park_detach: if the calling thread is attached, release it (default:
 * the global lock; free-threaded: critical sections, then DETACHED) and
 * return true; _rcgc_park_reattach undoes it. No safe point work runs in
 * either (no merges, no collections): they happen inside lock acquisition. */
RCGC_INTERNAL bool _rcgc_park_detach(void);
RCGC_INTERNAL void _rcgc_park_reattach(void);
/* Default build: the caller holds the global lock. Free-threaded: false. */
RCGC_INTERNAL bool _rcgc_holds_global_lock(void);

#endif
