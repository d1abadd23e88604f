/* thread/parking_lot.c - sleeping on an address (both flavours).
 *
 * A thread that must wait for a value at some address to change "parks" on
 * the address: under the address's bucket lock it re-checks the value (so a
 * wake-up between the caller's last look and the sleep cannot be lost), queues
 * a waiter that lives on its own stack and sleeps on the waiter's semaphore.
 * An unparker dequeues waiters under the bucket lock and posts their
 * semaphores after releasing it.
 *
 * Waiter lifetime: a dequeued waiter is always posted exactly once, and a
 * waiter never returns before that post: one that times out takes the bucket
 * lock, and if it finds itself already dequeued it waits (untimed) for the
 * post that is on its way. So the semaphore stays valid for every sem_post.
 *
 * Bucket fields are protected by the bucket's mutex (rank 60, innermost).
 */
#include "internal/lock.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

typedef struct waiter {
    struct waiter *next, *prev; /* bucket list: bucket mutex */
    struct waiter *wake_next;   /* unpark_all's private chain */
    const void *addr;           /* immutable while queued */
    void *arg;                  /* immutable while queued */
    bool queued;                /* bucket mutex */
    sem_t sem;
} waiter_t;

typedef struct bucket {
    pthread_mutex_t mu;
    waiter_t *head, *tail; /* FIFO: mu */
} bucket_t;

static bucket_t buckets[RCGC_PARKING_BUCKETS] = {
    [0 ... RCGC_PARKING_BUCKETS - 1] = { .mu = PTHREAD_MUTEX_INITIALIZER },
};

int64_t _rcgc_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bucket_t *bucket_of(const void *addr) {
    uint64_t h = (uint64_t)(uintptr_t)addr * 0x9E3779B97F4A7C15ull;
    return &buckets[(h >> 32) % RCGC_PARKING_BUCKETS];
}

static bool value_equals(const void *addr, const void *expected, size_t size) {
    switch (size) {
    case 1: return __atomic_load_n((const uint8_t *)addr, __ATOMIC_ACQUIRE) == *(const uint8_t *)expected;
    case 4: return __atomic_load_n((const uint32_t *)addr, __ATOMIC_ACQUIRE) == *(const uint32_t *)expected;
    case 8: return __atomic_load_n((const uint64_t *)addr, __ATOMIC_ACQUIRE) == *(const uint64_t *)expected;
    default: RCGC_ASSERT(!"_rcgc_park: size must be 1, 4 or 8"); return false;
    }
}

static void enqueue_locked(bucket_t *b, waiter_t *w) {
    w->next = NULL;
    w->prev = b->tail;
    if (b->tail) b->tail->next = w;
    else b->head = w;
    b->tail = w;
    w->queued = true;
}

static void dequeue_locked(bucket_t *b, waiter_t *w) {
    if (w->prev) w->prev->next = w->next;
    else b->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else b->tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

/* sem_timedwait takes a CLOCK_REALTIME deadline; the monotonic deadline
 * decides whether the timeout really expired. */
static bool sem_wait_until(sem_t *s, int64_t deadline_ns) {
    for (;;) {
        int rc;
        if (deadline_ns < 0) {
            rc = sem_wait(s);
        } else {
            int64_t left = deadline_ns - _rcgc_monotonic_ns();
            if (left <= 0) return sem_trywait(s) == 0;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + left;
            ts.tv_sec += (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            rc = sem_timedwait(s, &ts);
        }
        if (rc == 0) return true;
        if (errno != EINTR && errno != ETIMEDOUT) rcgc_fatal_object(NULL, "parking lot: semaphore wait failed");
    }
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, _rcgc_parking_lot_after_fork_child); }

rcgc_park_result_t _rcgc_park(const void *addr, const void *expected, size_t size,
                              int64_t timeout_ns, void *arg, int flags) {
    pthread_once(&atfork_once, register_atfork); /* both flavours: see after_fork_child */
    int64_t deadline = timeout_ns < 0 ? -1 : _rcgc_monotonic_ns() + timeout_ns;
    bucket_t *b = bucket_of(addr);
    waiter_t w = { .addr = addr, .arg = arg };
    pthread_mutex_lock(&b->mu);
    if (!value_equals(addr, expected, size)) {
        pthread_mutex_unlock(&b->mu);
        return RCGC_PARK_AGAIN;
    }
    sem_init(&w.sem, 0, 0);
    enqueue_locked(b, &w);
    pthread_mutex_unlock(&b->mu);

    bool detached = (flags & RCGC_PARK_DETACH) ? _rcgc_park_detach() : false;
    rcgc_park_result_t res = RCGC_PARK_OK;
    if (!sem_wait_until(&w.sem, deadline)) {
        pthread_mutex_lock(&b->mu);
        bool still_queued = w.queued;
        if (still_queued) dequeue_locked(b, &w);
        pthread_mutex_unlock(&b->mu);
        if (still_queued) res = RCGC_PARK_TIMEOUT;
        else sem_wait_until(&w.sem, -1); /* an unparker took us: its post is on the way */
    }
    if (detached) _rcgc_park_reattach();
    sem_destroy(&w.sem);
    return res;
}

void _rcgc_unpark_one(const void *addr, rcgc_unpark_fn fn, void *ctx) {
    bucket_t *b = bucket_of(addr);
    pthread_mutex_lock(&b->mu);
    waiter_t *w = b->head;
    while (w && w->addr != addr) w = w->next;
    bool has_more = false;
    if (w) {
        for (waiter_t *o = w->next; o; o = o->next)
            if (o->addr == addr) { has_more = true; break; }
        dequeue_locked(b, w);
    }
    if (fn) fn(ctx, w ? w->arg : NULL, has_more);
    pthread_mutex_unlock(&b->mu);
    if (w) sem_post(&w->sem);
}

void _rcgc_unpark_all(const void *addr) {
    bucket_t *b = bucket_of(addr);
    waiter_t *chain = NULL, **tail = &chain;
    pthread_mutex_lock(&b->mu);
    for (waiter_t *w = b->head, *next; w; w = next) {
        next = w->next;
        if (w->addr != addr) continue;
        dequeue_locked(b, w);
        w->wake_next = NULL;
        *tail = w;
        tail = &w->wake_next;
    }
    pthread_mutex_unlock(&b->mu);
    while (chain) {
        waiter_t *w = chain;
        chain = w->wake_next; /* read before the post: w may be gone after it */
        sem_post(&w->sem);
    }
}

/* Fork (an atfork child handler registered at the first park, and called by
 * the free-threaded build's own child handler too): every queued waiter
 * belonged to a thread that does not exist in the child (the forking thread
 * was running, not parked), and one of them may have held a bucket mutex in
 * the middle of an update: forget them all and start afresh. */
void _rcgc_parking_lot_after_fork_child(void) {
    for (size_t i = 0; i < RCGC_PARKING_BUCKETS; i++) {
        pthread_mutex_init(&buckets[i].mu, NULL);
        buckets[i].head = buckets[i].tail = NULL;
    }
}

/* ---- one-shot events ------------------------------------------------------ */

void _rcgc_event_set(rcgc_event_t *e) {
    if (__atomic_exchange_n(&e->v, 1, __ATOMIC_ACQ_REL) == 2) _rcgc_unpark_all(&e->v);
}

bool _rcgc_event_wait(rcgc_event_t *e, int64_t timeout_ns) {
    int64_t deadline = timeout_ns < 0 ? -1 : _rcgc_monotonic_ns() + timeout_ns;
    for (;;) {
        uint8_t v = __atomic_load_n(&e->v, __ATOMIC_ACQUIRE);
        if (v == 1) return true;
        if (v == 0 && !__atomic_compare_exchange_n(&e->v, &v, 2, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        int64_t left = -1;
        if (deadline >= 0) {
            left = deadline - _rcgc_monotonic_ns();
            if (left <= 0) return __atomic_load_n(&e->v, __ATOMIC_ACQUIRE) == 1;
        }
        uint8_t expected = 2;
        _rcgc_park(&e->v, &expected, 1, left, NULL, 0);
    }
}
