/* thread/glock_default.c - the default build's global lock (CPython's GIL).
 *
 * One attached thread runs at a time. A thread that waits longer than the
 * switch interval (5 ms) sets drop_request; the holder notices it at its next
 * safe point, releases the lock and waits until another thread has taken it
 * (forced switching), so a busy thread cannot starve the others as long as it
 * passes safe points. Threads that block must release around the blocking
 * call (rcgc_blocking_begin/end).
 *
 * All fields are protected by mu, except drop_request, which the holder reads
 * without the lock at safe points (relaxed atomic).
 *
 * fork(): see the handlers at the end.
 */
#include "internal/tstate.h"

#include <errno.h>
#include <time.h>

#define SWITCH_INTERVAL_NS 5000000L

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;        /* signalled when the lock is released */
    pthread_cond_t switch_cond; /* signalled when the lock changes hands */
    bool held;
    int waiters;
    unsigned long switch_number; /* incremented at every acquisition */
    int drop_request;            /* atomic: a waiter asks the holder to yield */
} glock = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .switch_cond = PTHREAD_COND_INITIALIZER,
};

static void deadline_after(struct timespec *ts, long ns) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += ns;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000L;
    }
}

static void glock_acquire(void) {
    pthread_mutex_lock(&glock.mu);
    glock.waiters++;
    while (glock.held) {
        struct timespec dl;
        deadline_after(&dl, SWITCH_INTERVAL_NS);
        unsigned long sw = glock.switch_number;
        int rc = pthread_cond_timedwait(&glock.cond, &glock.mu, &dl);
        if (rc == ETIMEDOUT && glock.held && glock.switch_number == sw)
            __atomic_store_n(&glock.drop_request, 1, __ATOMIC_RELAXED);
    }
    glock.waiters--;
    glock.held = true;
    glock.switch_number++;
    __atomic_store_n(&glock.drop_request, 0, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&glock.switch_cond);
    pthread_mutex_unlock(&glock.mu);
}

static void glock_release(void) {
    pthread_mutex_lock(&glock.mu);
    RCGC_ASSERT(glock.held);
    glock.held = false;
    pthread_cond_signal(&glock.cond);
    pthread_mutex_unlock(&glock.mu);
}

/* Release, wait until another thread took the lock, then queue again. */
static void glock_yield(void) {
    pthread_mutex_lock(&glock.mu);
    unsigned long sw = glock.switch_number;
    glock.held = false;
    pthread_cond_signal(&glock.cond);
    while (glock.switch_number == sw && glock.waiters > 0)
        pthread_cond_wait(&glock.switch_cond, &glock.mu);
    pthread_mutex_unlock(&glock.mu);
    glock_acquire();
}

int _rcgc_flavour_attach(rcgc_tstate_t *ts) {
    (void)ts;
    glock_acquire();
    return 0;
}

void _rcgc_flavour_detach(rcgc_tstate_t *ts) {
    (void)ts;
    glock_release();
}

void _rcgc_flavour_safepoint(rcgc_tstate_t *ts) {
    (void)ts;
    if (__atomic_load_n(&glock.drop_request, __ATOMIC_RELAXED)) glock_yield();
}

void _rcgc_flavour_thread_exit(rcgc_tstate_t *ts) {
    /* A thread that exits while attached would hold the lock forever; one
     * that exits between blocking_begin and blocking_end does not hold it. */
    if (ts->attach_depth > 0) {
        ts->attach_depth = 0;
        if (!ts->blocking) glock_release();
        ts->blocking = false;
    }
}

/* ---- fork ----------------------------------------------------------------
 * Like the free-threaded build's stop-the-world: the prepare handler makes
 * the forking thread the holder of the global lock (taking it if the thread
 * is not attached), so no other thread is in the middle of touching objects
 * or collecting; then it takes glock.mu and threads_lock (a detached thread
 * may be registering). The parent releases what was taken. The child is
 * the only thread left: it keeps only its own state on the runtime's list,
 * forgets the parent's waiters (condition variables re-initialised), and
 * gives the global lock back unless the forking thread was attached.
 * Registered after the allocator's handlers (rcgc_init), so this prepare
 * step runs first: a thread holding the global lock may be waiting for an
 * allocator lock, never the other way round. */
static bool fork_took_glock; /* the forking thread only */

static void before_fork(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    fork_took_glock = ts->attach_depth == 0 || ts->blocking;
    if (fork_took_glock) glock_acquire();
    pthread_mutex_lock(&glock.mu);
    pthread_mutex_lock(&_rcgc_runtime.threads_lock);
}

static void after_fork_parent(void) {
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
    pthread_mutex_unlock(&glock.mu);
    if (fork_took_glock) glock_release();
}

static void after_fork_child(void) {
    rcgc_tstate_t *self = _rcgc_tstate();
    _rcgc_runtime.threads = self->registered ? self : NULL;
    self->next_thread = self->prev_thread = NULL;
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
    pthread_cond_init(&glock.cond, NULL);
    pthread_cond_init(&glock.switch_cond, NULL);
    glock.waiters = 0;
    __atomic_store_n(&glock.drop_request, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&glock.mu);
    if (fork_took_glock) glock_release();
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

void _rcgc_flavour_init(void) { pthread_once(&atfork_once, register_atfork); }
void _rcgc_flavour_fini(void) {}
