/* thread/brc_ft.c - biased reference counting's registry and merge queues.
 * See internal/brc.h for the protocol and locking.
 */
#include "internal/brc.h"
#include "internal/stw.h"
#include "internal/object_internal.h"

#include <stdlib.h>

static struct bucket {
    pthread_mutex_t mu;
    struct rcgc_brc_queue *queues;
} buckets[RCGC_BRC_BUCKETS];
static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void buckets_init(void) {
    for (size_t i = 0; i < RCGC_BRC_BUCKETS; i++) pthread_mutex_init(&buckets[i].mu, NULL);
}

static struct bucket *bucket_of(uintptr_t tid) {
    return &buckets[(tid >> 4) % RCGC_BRC_BUCKETS];
}

static struct rcgc_brc_queue *find_locked(struct bucket *b, uintptr_t tid) {
    for (struct rcgc_brc_queue *q = b->queues; q; q = q->next)
        if (q->tid == tid) return q;
    return NULL;
}

int _rcgc_brc_register(rcgc_tstate_t *ts) {
    pthread_once(&buckets_once, buckets_init);
    if (ts->brc) return 0;
    struct rcgc_brc_queue *q = calloc(1, sizeof *q);
    if (!q) return _rcgc_fail_int(RCGC_ENOMEM, "out of memory registering a thread");
    q->tid = ts->tid;
    q->owner = ts;
    struct bucket *b = bucket_of(q->tid);
    pthread_mutex_lock(&b->mu);
    q->next = b->queues;
    b->queues = q;
    pthread_mutex_unlock(&b->mu);
    ts->brc = q;
    return 0;
}

/* Growth goes through the RAW domain, so tests can make it fail. */
/* Set by every push, cleared by the collector's drain (world stopped): while
 * it is 0, no queue holds anything and the drain skips the 257 buckets. */
static int xmaybe_queued;

static bool push_locked(struct rcgc_brc_queue *q, rcgc_object_t *o) {
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        rcgc_object_t **items = rcgc_raw_realloc(q->items, cap * sizeof *items);
        if (!items) return false;
        q->items = items;
        q->cap = cap;
    }
    q->items[q->len++] = o;
    __atomic_store_n(&q->requested, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&xmaybe_queued, 1, __ATOMIC_RELAXED);
    return true;
}

/* Take every queued object out of q (bucket lock held). */
typedef struct batch { rcgc_object_t **items; size_t len; } batch_t;
static batch_t steal_locked(struct rcgc_brc_queue *q) {
    batch_t bt = { q->items, q->len };
    q->items = NULL;
    q->len = q->cap = 0;
    __atomic_store_n(&q->requested, 0, __ATOMIC_RELAXED);
    return bt;
}

/* The owner is gone, or stopped with the world, or held: merge o in place,
 * dropping the queued reference; returns the merged count. */
static intptr_t merge_dropping(rcgc_object_t *o) { return _rcgc_brc_explicit_merge(o, -1); }

/* Out of memory growing the owner's queue: stop the world so the owner is
 * suspended (or detached, or gone) and cannot touch o's local count, merge o
 * in place, restart, and only then deallocate (the destructor must run with
 * the world running). A thread that holds the stop itself (the collector)
 * merges under it, and a count of 0 is handled as its own decrefs are. */
static RCGC_NOINLINE void merge_with_world_stopped(rcgc_object_t *o) {
    bool mine = __atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) == _rcgc_tstate();
    if (!mine) _rcgc_stop_the_world();
    intptr_t n = merge_dropping(o);
    if (!mine) _rcgc_start_the_world();
    if (n == 0) _rcgc_brc_dealloc_merged(o);
}

/* Detached-owner merge (free-threading.md §2.1, gh-157838): called with the
 * bucket lock held, after a push to q whose owner looked DETACHED (it may
 * be blocked in a system call for a long time). Hold the owner SUSPENDED so
 * it cannot attach, merge its whole queue keeping the queued references,
 * let it go, then drop those references here, attached and holding no
 * lock, so destructors run on this thread outside the hold. Repeats while
 * objects were queued for the same owner during the hold (their queuers
 * saw it SUSPENDED and only pushed). Returns with the bucket lock released.
 * Objects pushed while a stop is requested stay queued: the owner merges
 * them when it attaches, or a collection does. */
static RCGC_NOINLINE void merge_for_detached_owner(struct bucket *b, uintptr_t tid) {
    for (;;) {
        struct rcgc_brc_queue *q = find_locked(b, tid);
        if (!q || q->len == 0) break;
        rcgc_tstate_t *owner = q->owner; /* alive: it cannot leave the bucket without b's lock */
        if (_rcgc_tstate_state(owner) != RCGC_TS_DETACHED || !_rcgc_stw_hold_detached(owner)) break;
        batch_t bt = steal_locked(q);
        pthread_mutex_unlock(&b->mu);
        /* The owner cannot attach now, so its local counts are still. */
        for (size_t i = 0; i < bt.len; i++) _rcgc_brc_explicit_merge(bt.items[i], 0);
        _rcgc_stw_release_held(owner);
        for (size_t i = 0; i < bt.len; i++) rcgc_decref(bt.items[i]); /* merged: a shared decref */
        rcgc_raw_free(bt.items);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

void _rcgc_brc_queue_object(rcgc_object_t *o) {
    uintptr_t tid = __atomic_load_n(&o->ob_tid, __ATOMIC_ACQUIRE);
    if (tid == 0) { /* the owner merged meanwhile: an ordinary shared decref */
        rcgc_decref(o);
        return;
    }
    pthread_once(&buckets_once, buckets_init);
    struct bucket *b = bucket_of(tid);
    pthread_mutex_lock(&b->mu);
    struct rcgc_brc_queue *q = find_locked(b, tid);
    if (!q) {
        /* The owner exited: merge in place. The bucket lock orders this against
         * a new thread registering with the same id. */
        intptr_t n = merge_dropping(o);
        pthread_mutex_unlock(&b->mu);
        if (n == 0) _rcgc_brc_dealloc_merged(o);
        return;
    }
    if (!push_locked(q, o)) {
        pthread_mutex_unlock(&b->mu);
        merge_with_world_stopped(o);
        return;
    }
    if (_rcgc_tstate_state(q->owner) == RCGC_TS_DETACHED) {
        merge_for_detached_owner(b, tid); /* unlocks */
        return;
    }
    pthread_mutex_unlock(&b->mu);
}

void _rcgc_brc_merge_pending(rcgc_tstate_t *ts) {
    struct rcgc_brc_queue *q = ts->brc;
    if (!q || !__atomic_load_n(&q->requested, __ATOMIC_ACQUIRE)) return;
    struct bucket *b = bucket_of(q->tid);
    pthread_mutex_lock(&b->mu);
    batch_t bt = steal_locked(q);
    pthread_mutex_unlock(&b->mu);
    for (size_t i = 0; i < bt.len; i++) {
        /* Destructors run here, outside every lock. */
        if (merge_dropping(bt.items[i]) == 0) _rcgc_brc_dealloc_merged(bt.items[i]);
    }
    rcgc_raw_free(bt.items);
}

void _rcgc_brc_unregister(rcgc_tstate_t *ts) {
    struct rcgc_brc_queue *q = ts->brc;
    if (!q) return;
    struct bucket *b = bucket_of(q->tid);
    for (;;) {
        _rcgc_brc_merge_pending(ts);
        pthread_mutex_lock(&b->mu);
        if (q->len == 0) break; /* leave with the lock held */
        pthread_mutex_unlock(&b->mu);
    }
    struct rcgc_brc_queue **pp = &b->queues;
    while (*pp != q) pp = &(*pp)->next;
    *pp = q->next;
    pthread_mutex_unlock(&b->mu);
    rcgc_raw_free(q->items);
    free(q);
    ts->brc = NULL;
}

void _rcgc_brc_merge_all_stopped(void (*on_zero)(rcgc_object_t *o, void *arg), void *arg) {
    RCGC_ASSERT(__atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) == _rcgc_tstate());
    pthread_once(&buckets_once, buckets_init);
    for (size_t i = 0; i < RCGC_BRC_BUCKETS; i++) {
        struct bucket *b = &buckets[i];
        pthread_mutex_lock(&b->mu);
        struct rcgc_brc_queue *q = b->queues;
        while (q) {
            if (q->len == 0) {
                q = q->next;
                continue;
            }
            batch_t bt = steal_locked(q);
            pthread_mutex_unlock(&b->mu);
            for (size_t k = 0; k < bt.len; k++)
                if (merge_dropping(bt.items[k]) == 0) on_zero(bt.items[k], arg);
            rcgc_raw_free(bt.items);
            pthread_mutex_lock(&b->mu);
            q = b->queues; /* a detached thread may have registered meanwhile */
        }
        pthread_mutex_unlock(&b->mu);
    }
}

size_t _rcgc_brc_pending_count(rcgc_tstate_t *ts) {
    struct rcgc_brc_queue *q = ts->brc;
    if (!q) return 0;
    struct bucket *b = bucket_of(q->tid);
    pthread_mutex_lock(&b->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* ---- fork (called by thread/stw_ft.c's atfork child handler) ----------------------
 * The parent stopped the world before forking, so no thread was inside a
 * push or a merge; only a thread registering while detached may have held a
 * bucket mutex (its list link is a single store). The child re-initialises
 * every bucket mutex, removes the other threads' queues and gives their
 * queued references to this thread's queue (merged at its next safe point),
 * or merges them in place if this thread has none. */
void _rcgc_brc_after_fork_child(rcgc_tstate_t *self) {
    pthread_once(&buckets_once, buckets_init);
    struct rcgc_brc_queue *orphans = NULL;
    for (size_t i = 0; i < RCGC_BRC_BUCKETS; i++) {
        pthread_mutex_init(&buckets[i].mu, NULL);
        struct rcgc_brc_queue **pp = &buckets[i].queues;
        while (*pp) {
            struct rcgc_brc_queue *q = *pp;
            if (q == self->brc) { pp = &q->next; continue; }
            *pp = q->next;
            q->next = orphans;
            orphans = q;
        }
    }
    while (orphans) {
        struct rcgc_brc_queue *q = orphans;
        orphans = q->next;
        for (size_t i = 0; i < q->len; i++) {
            rcgc_object_t *o = q->items[i];
            bool pushed = false;
            if (self->brc) {
                struct bucket *b = bucket_of(self->brc->tid);
                pthread_mutex_lock(&b->mu);
                pushed = push_locked(self->brc, o);
                pthread_mutex_unlock(&b->mu);
            }
            if (!pushed && merge_dropping(o) == 0) _rcgc_brc_dealloc_merged(o);
        }
        rcgc_raw_free(q->items);
        free(q);
    }
}

/* ---- the collector's drain (world stopped) ------------------------------------ */

size_t _rcgc_brc_pending_total(void) {
    if (!__atomic_load_n(&xmaybe_queued, __ATOMIC_RELAXED)) return 0;
    pthread_once(&buckets_once, buckets_init);
    size_t n = 0;
    for (size_t i = 0; i < RCGC_BRC_BUCKETS; i++) {
        pthread_mutex_lock(&buckets[i].mu);
        for (struct rcgc_brc_queue *q = buckets[i].queues; q; q = q->next) n += q->len;
        pthread_mutex_unlock(&buckets[i].mu);
    }
    return n;
}

void _rcgc_brc_drain_all(void (*fn)(rcgc_object_t *o, void *arg), void *arg) {
    if (!__atomic_load_n(&xmaybe_queued, __ATOMIC_RELAXED)) return;
    __atomic_store_n(&xmaybe_queued, 0, __ATOMIC_RELAXED); /* no push while the world is stopped */
    pthread_once(&buckets_once, buckets_init);
    for (size_t i = 0; i < RCGC_BRC_BUCKETS; i++) {
        pthread_mutex_lock(&buckets[i].mu);
        for (struct rcgc_brc_queue *q = buckets[i].queues; q; q = q->next) {
            for (size_t k = 0; k < q->len; k++) fn(q->items[k], arg);
            q->len = 0;
            __atomic_store_n(&q->requested, 0, __ATOMIC_RELAXED);
        }
        pthread_mutex_unlock(&buckets[i].mu);
    }
}
