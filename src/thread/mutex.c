/* thread/mutex.c - rcgc_mutex_t, the one-byte lock (both flavours).
 *
 * The byte: bit 0 LOCKED, bit 1 HAS_PARKED (some thread may sleep on it, so
 * unlock must go through the parking lot). Fast paths: lock CAS 0 -> LOCKED,
 * unlock CAS LOCKED -> 0.
 *
 * Slow lock: up to RCGC_MUTEX_SPINS rounds of sched_yield while the lock is
 * held and nobody sleeps on it, then set HAS_PARKED and park on the byte
 * (expecting LOCKED|HAS_PARKED; the parking lot re-checks under its bucket
 * lock, so an unlock in between makes the park return at once). A caller that
 * holds the default build's global lock skips the spinning: the holder of the
 * mutex may be waiting for the global lock.
 *
 * Slow unlock: under the bucket lock (in the unpark callback) store the new
 * byte: 0, or LOCKED if the lock is handed over to the woken waiter because it
 * has waited longer than RCGC_MUTEX_HANDOFF_NS (fairness: a thread relocking
 * in a loop cannot starve it), plus HAS_PARKED if more waiters remain.
 */
#include "internal/lock.h"

#include <sched.h>

typedef struct lock_waiter {
    int64_t since_ns;  /* when it started waiting: set before parking */
    bool handed_off;   /* set by the unlocker under the bucket lock */
} lock_waiter_t;

static inline uint8_t load_bits(const rcgc_mutex_t *m) {
    return __atomic_load_n(&m->_bits, __ATOMIC_RELAXED);
}

bool rcgc_mutex_trylock(rcgc_mutex_t *m) {
    uint8_t v = load_bits(m);
    while (!(v & RCGC_MUTEX_LOCKED)) {
        if (__atomic_compare_exchange_n(&m->_bits, &v, (uint8_t)(v | RCGC_MUTEX_LOCKED), false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return true;
    }
    return false;
}

bool rcgc_mutex_is_locked(const rcgc_mutex_t *m) { return load_bits(m) & RCGC_MUTEX_LOCKED; }

bool _rcgc_mutex_lock_timed(rcgc_mutex_t *m, int64_t timeout_ns, int flags) {
    uint8_t v = 0;
    if (__atomic_compare_exchange_n(&m->_bits, &v, RCGC_MUTEX_LOCKED, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return true;
    int64_t start = _rcgc_monotonic_ns();
    int64_t deadline = timeout_ns < 0 ? -1 : start + timeout_ns;
    /* Holding the global lock, spinning is pointless: the mutex's holder
     * may be waiting for the global lock to release it. */
    int spins = _rcgc_holds_global_lock() ? RCGC_MUTEX_SPINS : 0;
    lock_waiter_t w = { .since_ns = start };
    for (;;) {
        v = load_bits(m);
        if (!(v & RCGC_MUTEX_LOCKED)) {
            if (__atomic_compare_exchange_n(&m->_bits, &v, (uint8_t)(v | RCGC_MUTEX_LOCKED), false,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return true;
            continue;
        }
        if (timeout_ns == 0) return false;
        if (!(v & RCGC_MUTEX_HAS_PARKED)) {
            if (spins < RCGC_MUTEX_SPINS) {
                spins++;
                sched_yield();
                continue;
            }
            if (!__atomic_compare_exchange_n(&m->_bits, &v, (uint8_t)(v | RCGC_MUTEX_HAS_PARKED), false,
                                             __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                continue;
        }
        int64_t left = -1;
        if (deadline >= 0) {
            left = deadline - _rcgc_monotonic_ns();
            if (left <= 0) return false;
        }
        uint8_t expected = RCGC_MUTEX_LOCKED | RCGC_MUTEX_HAS_PARKED;
        w.handed_off = false;
        rcgc_park_result_t r = _rcgc_park(&m->_bits, &expected, 1, left, &w, flags);
        if (r == RCGC_PARK_OK && w.handed_off) {
            /* Ownership came with the wake-up (the semaphore post orders it
             * after the unlocker's critical section); also pair with the
             * unlocker's release store of the byte. */
            (void)__atomic_load_n(&m->_bits, __ATOMIC_ACQUIRE);
            return true;
        }
        if (r == RCGC_PARK_TIMEOUT && deadline >= 0 && _rcgc_monotonic_ns() >= deadline) {
            /* The last waiter may leave HAS_PARKED set behind it: harmless,
             * the next unlock takes the slow path once and clears it. */
            return rcgc_mutex_trylock(m);
        }
    }
}

void rcgc_mutex_lock(rcgc_mutex_t *m) { _rcgc_mutex_lock_timed(m, -1, RCGC_PARK_DETACH); }

static void unlock_cb(void *ctx, void *waiter_arg, bool has_more) {
    rcgc_mutex_t *m = ctx;
    lock_waiter_t *w = waiter_arg;
    uint8_t v = 0;
    if (w && _rcgc_monotonic_ns() - w->since_ns > RCGC_MUTEX_HANDOFF_NS) {
        v = RCGC_MUTEX_LOCKED;
        w->handed_off = true;
    }
    if (has_more) v |= RCGC_MUTEX_HAS_PARKED;
    __atomic_store_n(&m->_bits, v, __ATOMIC_RELEASE);
}

void rcgc_mutex_unlock(rcgc_mutex_t *m) {
    uint8_t v = RCGC_MUTEX_LOCKED;
    if (__atomic_compare_exchange_n(&m->_bits, &v, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) return;
    for (;;) {
        if (!(v & RCGC_MUTEX_LOCKED)) rcgc_fatal_object(NULL, "rcgc_mutex_unlock: the mutex is not locked");
        if (v & RCGC_MUTEX_HAS_PARKED) {
            _rcgc_unpark_one(&m->_bits, unlock_cb, m);
            return;
        }
        if (__atomic_compare_exchange_n(&m->_bits, &v, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) return;
    }
}
