/* thread/brc_ft.c - biased reference counting's registry and merge queues.
 * See internal/brc.h for the protocol and locking.
 */
#include "internal/brc.h"
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
    struct bucket *b = bucket_of(q->tid);
    pthread_mutex_lock(&b->mu);
    q->next = b->queues;
    b->queues = q;
    pthread_mutex_unlock(&b->mu);
    ts->brc = q;
    return 0;
}

static bool push_locked(struct rcgc_brc_queue *q, rcgc_object_t *o) {
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        rcgc_object_t **items = realloc(q->items, cap * sizeof *items);
        if (!items) return false;
        q->items = items;
        q->cap = cap;
    }
    q->items[q->len++] = o;
    __atomic_store_n(&q->requested, 1, __ATOMIC_RELEASE);
    return true;
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
        intptr_t n = _rcgc_brc_explicit_merge(o, -1);
        pthread_mutex_unlock(&b->mu);
        if (n == 0) _rcgc_brc_dealloc_merged(o);
        return;
    }
    bool ok = push_locked(q, o);
    pthread_mutex_unlock(&b->mu);
    if (!ok) rcgc_fatal_object(o, "out of memory in a biased-refcount merge queue");
}

void _rcgc_brc_merge_pending(rcgc_tstate_t *ts) {
    struct rcgc_brc_queue *q = ts->brc;
    if (!q || !__atomic_load_n(&q->requested, __ATOMIC_ACQUIRE)) return;
    struct bucket *b = bucket_of(q->tid);
    pthread_mutex_lock(&b->mu);
    rcgc_object_t **items = q->items;
    size_t len = q->len;
    q->items = NULL;
    q->len = q->cap = 0;
    __atomic_store_n(&q->requested, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&b->mu);
    for (size_t i = 0; i < len; i++) {
        /* Destructors run here, outside every lock. */
        if (_rcgc_brc_explicit_merge(items[i], -1) == 0) _rcgc_brc_dealloc_merged(items[i]);
    }
    free(items);
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
    free(q->items);
    free(q);
    ts->brc = NULL;
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
            if (!pushed && _rcgc_brc_explicit_merge(o, -1) == 0) _rcgc_brc_dealloc_merged(o);
        }
        free(q->items);
        free(q);
    }
}
