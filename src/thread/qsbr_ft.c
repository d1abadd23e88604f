/* thread/qsbr_ft.c - quiescent-state-based reclamation (free-threaded build;
 * docs/design/qsbr.md, internal/qsbr.h for the sequences).
 *
 * Slots: every thread that attached has a slot (64-byte aligned, in blocks of
 * SLOTS_PER_BLOCK linked from a static first block; blocks are never freed,
 * slots are reused after thread exit), so a poll can scan the slots without a
 * lock while threads come and go. A slot holds the thread's seq and its
 * delayed-free queue.
 *
 * Queues: FIFO lists of chunks of items {pointer, goal, bytes|kind}. A thread
 * appends to its own queue and pops from its head while the head's goal is
 * reached; its goals never decrease. Past the limits (count or bytes) it
 * advances the write sequence and processes at its next safe point; past twice
 * the limits at a safe point it stops the world once (every other thread then
 * passed a safe point or is detached) and frees the whole queue. If a chunk
 * cannot be allocated, the item is freed after a stop-the-world barrier.
 * Exiting threads hand their queue to the orphan queue, which every thread
 * processes now and then at safe points, and every exiting thread at exit.
 *
 * Locks (rank 50, leaves): slots_lock (slot allocation: in_use, the block
 * list), orphan_lock (the orphan queue). Both are held across fork().
 */
#include "internal/qsbr.h"
#include "internal/stw.h"
#include "internal/weakref_internal.h"

#include <pthread.h>
#include <string.h>

#define SLOTS_PER_BLOCK 64
#define CHUNK_ITEMS 168       /* a chunk is about 4 KiB */
#define ORPHAN_POLL_EVERY 32  /* safe points between looks at the orphan queue */
#define RELEASE_BATCH 64

enum { K_MEM = RCGC_HEAP_MEM, K_OBJECT = RCGC_HEAP_OBJECT, K_GC = RCGC_HEAP_GC, K_DECREF = 3 };

typedef struct item {
    void *ptr;
    rcgc_qsbr_seq_t goal; /* free once every online thread has seq >= goal */
    size_t bytes_kind;    /* bytes << 2 | K_* */
} item_t;

typedef struct chunk {
    struct chunk *next;
    uint32_t lo, hi;      /* items[lo..hi) are waiting */
    item_t items[CHUNK_ITEMS];
} chunk_t;

typedef struct queue {
    chunk_t *head, *tail;
    size_t items, bytes;
} queue_t;

/* A thread's slot. seq: atomic (written by its thread; 0 = offline). in_use:
 * slots_lock. Everything else: its own thread only, or any thread while the
 * world is stopped or in a fork child (the owner is then at a safe point,
 * detached, or gone). */
typedef struct slot {
    rcgc_qsbr_seq_t seq;
    bool in_use;
    bool should_process;  /* over a limit: process at the next safe point */
    unsigned orphan_countdown;
    queue_t q;
    chunk_t *spare;       /* one empty chunk kept for the next push */
} __attribute__((aligned(64))) slot_t;

typedef struct slot_block {
    slot_t slots[SLOTS_PER_BLOCK];
    struct slot_block *next; /* atomic: appended under slots_lock, read without */
} slot_block_t;

static struct {
    rcgc_qsbr_seq_t wr_seq __attribute__((aligned(64))); /* atomic */
    rcgc_qsbr_seq_t rd_seq __attribute__((aligned(64))); /* atomic: only moves forward */
    int barrier_word;             /* atomic: target of the poller's full barrier */
    pthread_mutex_t slots_lock;
    pthread_mutex_t orphan_lock;
    queue_t orphan;               /* orphan_lock */
    size_t orphan_items_hint;     /* atomic copy of orphan.items */
    size_t total_bytes, peak_bytes; /* atomic */
    uint64_t advances, freed, barriers, oom_fallbacks; /* atomic, statistics */
    slot_block_t first;
} qs = {
    .wr_seq = RCGC_QSBR_INITIAL,
    .rd_seq = RCGC_QSBR_INITIAL,
    .slots_lock = PTHREAD_MUTEX_INITIALIZER,
    .orphan_lock = PTHREAD_MUTEX_INITIALIZER,
};

static RCGC_TLS slot_t *self_slot;

#define LOAD(p, mo) __atomic_load_n((p), __ATOMIC_##mo)
#define STORE(p, v, mo) __atomic_store_n((p), (v), __ATOMIC_##mo)

/* ---- sequences ----------------------------------------------------------------- */

rcgc_qsbr_seq_t _rcgc_qsbr_advance(void) {
    __atomic_fetch_add(&qs.advances, 1, __ATOMIC_RELAXED);
    return __atomic_add_fetch(&qs.wr_seq, RCGC_QSBR_INCR, __ATOMIC_SEQ_CST);
}

static void quiescent(slot_t *s) {
    rcgc_qsbr_seq_t w = LOAD(&qs.wr_seq, ACQUIRE);
    /* release: this thread's earlier loads of shared pointers come first */
    if (LOAD(&s->seq, RELAXED) != w) STORE(&s->seq, w, RELEASE);
}

static void online(slot_t *s) {
    /* seq_cst, paired with the poller's fence: either the poller sees us
     * online, or our later loads of a slot see the writer's unpublishing */
    STORE(&s->seq, LOAD(&qs.wr_seq, ACQUIRE), SEQ_CST);
}

static void offline(slot_t *s) { STORE(&s->seq, RCGC_QSBR_OFFLINE, RELEASE); }

static slot_block_t *next_block(slot_block_t *b) { return LOAD(&b->next, ACQUIRE); }

bool _rcgc_qsbr_poll(rcgc_qsbr_seq_t goal) {
    if (_rcgc_qsbr_leq(goal, LOAD(&qs.rd_seq, ACQUIRE))) return true;
    /* a full barrier (a seq_cst read-modify-write: ThreadSanitizer does not
     * model fences), paired with the seq_cst store in online(): our caller's
     * unpublishing store is ordered before the loads of the slots */
    __atomic_fetch_add(&qs.barrier_word, 0, __ATOMIC_SEQ_CST);
    rcgc_qsbr_seq_t min = LOAD(&qs.wr_seq, ACQUIRE);
    for (slot_block_t *b = &qs.first; b; b = next_block(b)) {
        for (int i = 0; i < SLOTS_PER_BLOCK; i++) {
            rcgc_qsbr_seq_t s = LOAD(&b->slots[i].seq, ACQUIRE);
            if (s != RCGC_QSBR_OFFLINE && _rcgc_qsbr_lt(s, min)) min = s;
        }
    }
    rcgc_qsbr_seq_t rd = LOAD(&qs.rd_seq, RELAXED);
    while (_rcgc_qsbr_lt(rd, min) &&
           !__atomic_compare_exchange_n(&qs.rd_seq, &rd, min, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
    }
    return _rcgc_qsbr_leq(goal, min);
}

/* ---- queues ---------------------------------------------------------------------- */

static size_t item_bytes(const item_t *it) { return it->bytes_kind >> 2; }
static unsigned item_kind(const item_t *it) { return (unsigned)(it->bytes_kind & 3); }

static void total_add(size_t bytes) {
    size_t t = __atomic_add_fetch(&qs.total_bytes, bytes, __ATOMIC_RELAXED);
    size_t peak = LOAD(&qs.peak_bytes, RELAXED);
    while (t > peak && !__atomic_compare_exchange_n(&qs.peak_bytes, &peak, t, true, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED)) {
    }
}

/* Allocate a chunk without disturbing the caller's error state. */
static chunk_t *chunk_new(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    rcgc_error_t code = ts->err_code;
    chunk_t *c = rcgc_raw_malloc(sizeof(chunk_t));
    if (!c) ts->err_code = code; /* the message may have changed; the code is what callers test */
    return c;
}

/* Append; false if no chunk could be allocated. */
static bool queue_push(queue_t *q, const item_t *it, chunk_t **spare) {
    chunk_t *t = q->tail;
    if (!t || t->hi == CHUNK_ITEMS) {
        chunk_t *c = spare && *spare ? *spare : chunk_new();
        if (!c) return false;
        if (spare && *spare == c) *spare = NULL;
        c->next = NULL;
        c->lo = c->hi = 0;
        if (t) t->next = c;
        else q->head = c;
        q->tail = t = c;
    }
    t->items[t->hi++] = *it;
    q->items++;
    q->bytes += item_bytes(it);
    return true;
}

static const item_t *queue_front(const queue_t *q) { return q->items ? &q->head->items[q->head->lo] : NULL; }

/* Remove the front item; an emptied chunk becomes the spare (or is freed). */
static item_t queue_pop(queue_t *q, chunk_t **spare) {
    chunk_t *h = q->head;
    item_t it = h->items[h->lo++];
    q->items--;
    q->bytes -= item_bytes(&it);
    if (h->lo == h->hi) {
        q->head = h->next;
        if (!q->head) q->tail = NULL;
        if (spare && !*spare) *spare = h;
        else rcgc_raw_free(h);
    }
    return it;
}

/* Move every chunk of src to the end of dst. */
static void queue_splice(queue_t *dst, queue_t *src) {
    if (!src->head) return;
    if (dst->tail) dst->tail->next = src->head;
    else dst->head = src->head;
    dst->tail = src->tail;
    dst->items += src->items;
    dst->bytes += src->bytes;
    memset(src, 0, sizeof *src);
}

/* Free the block or drop the reference; may run destructors (decrefs). */
static void release(const item_t *it) {
    unsigned kind = item_kind(it);
    if (kind == K_DECREF) rcgc_decref((rcgc_object_t *)it->ptr);
    else if (kind == K_MEM) rcgc_mem_free(it->ptr);
    else _rcgc_free_object(it->ptr, (rcgc_heap_kind_t)kind);
    __atomic_fetch_sub(&qs.total_bytes, item_bytes(it), __ATOMIC_RELAXED);
    __atomic_fetch_add(&qs.freed, 1, __ATOMIC_RELAXED);
}

/* ---- slots ----------------------------------------------------------------------- */

static slot_t *slot_acquire_locked(void) {
    slot_block_t *last = NULL;
    for (slot_block_t *b = &qs.first; b; b = b->next) {
        for (int i = 0; i < SLOTS_PER_BLOCK; i++) {
            if (!b->slots[i].in_use) {
                b->slots[i].in_use = true;
                return &b->slots[i];
            }
        }
        last = b;
    }
    slot_block_t *nb = rcgc_raw_calloc(1, sizeof *nb); /* RCGC_ENOMEM set on failure */
    if (!nb) return NULL;
    nb->slots[0].in_use = true;
    STORE(&last->next, nb, RELEASE);
    return &nb->slots[0];
}

int _rcgc_qsbr_register(rcgc_tstate_t *ts) {
    (void)ts;
    if (self_slot) return 0;
    pthread_mutex_lock(&qs.slots_lock);
    slot_t *s = slot_acquire_locked();
    pthread_mutex_unlock(&qs.slots_lock);
    if (!s) return -1;
    s->orphan_countdown = ORPHAN_POLL_EVERY;
    self_slot = s;
    return 0;
}

/* ---- processing ------------------------------------------------------------------ */

static bool limits_exceeded(const queue_t *q, size_t factor) {
    size_t max_items, max_bytes;
    rcgc_qsbr_get_limits(&max_items, &max_bytes);
    return q->items >= max_items * factor || q->bytes >= max_bytes * factor;
}

/* The newest item's goal is a future write sequence (see retire): make it
 * reachable. The caller is at a quiescent point; if it is online it moves
 * its own seq past the advance too, or it would hold up its own goals. */
static void advance_for(const queue_t *q, slot_t *self) {
    if (!q->tail) return;
    const item_t *newest = &q->tail->items[q->tail->hi - 1];
    if (!_rcgc_qsbr_lt(LOAD(&qs.wr_seq, ACQUIRE), newest->goal)) return;
    _rcgc_qsbr_advance();
    if (self && LOAD(&self->seq, RELAXED) != RCGC_QSBR_OFFLINE) quiescent(self);
}

/* Pop and release the calling thread's items whose goal is reached. */
static void process_own(slot_t *s) {
    advance_for(&s->q, s);
    const item_t *f;
    while ((f = queue_front(&s->q)) && _rcgc_qsbr_poll(f->goal)) {
        item_t it = queue_pop(&s->q, &s->spare);
        release(&it); /* may retire more: pushes go to the tail */
    }
    /* start the grace period of what is left (or was just retired by a
     * destructor), so the others' next safe points are enough */
    advance_for(&s->q, s);
}

/* Release the orphan items whose goal is reached, in batches, outside the
 * lock (decrefs run destructors). blocking: wait for the lock. */
static void process_orphans(slot_t *self, bool blocking) {
    if (LOAD(&qs.orphan_items_hint, RELAXED) == 0) return;
    for (;;) {
        if (blocking) pthread_mutex_lock(&qs.orphan_lock);
        else if (pthread_mutex_trylock(&qs.orphan_lock) != 0) return;
        advance_for(&qs.orphan, self);
        item_t batch[RELEASE_BATCH];
        int n = 0;
        const item_t *f;
        while (n < RELEASE_BATCH && (f = queue_front(&qs.orphan)) && _rcgc_qsbr_poll(f->goal))
            batch[n++] = queue_pop(&qs.orphan, NULL);
        STORE(&qs.orphan_items_hint, qs.orphan.items, RELAXED);
        pthread_mutex_unlock(&qs.orphan_lock);
        for (int i = 0; i < n; i++) release(&batch[i]);
        if (n < RELEASE_BATCH) return;
    }
}

/* Every other thread passes a safe point or is detached during a stop, so
 * whatever was retired before it is unreachable afterwards. */
static void stw_barrier(void) {
    __atomic_fetch_add(&qs.barriers, 1, __ATOMIC_RELAXED);
    _rcgc_stop_the_world();
    _rcgc_start_the_world();
    _rcgc_qsbr_advance(); /* ours: items retired later need a later period */
}

/* At a safe point, twice over the limits: the other threads have not passed a
 * safe point for a while; synchronise with them once and free everything
 * retired so far. */
static void drain_with_barrier(slot_t *s) {
    size_t n = s->q.items;
    stw_barrier();
    while (n-- > 0 && s->q.items > 0) {
        item_t it = queue_pop(&s->q, &s->spare);
        release(&it);
    }
}

static void process_at_safepoint(slot_t *s) {
    s->should_process = false;
    process_own(s);
    if (limits_exceeded(&s->q, 2)) drain_with_barrier(s);
    if (limits_exceeded(&s->q, 1)) s->should_process = true;
}

/* ---- retiring -------------------------------------------------------------------- */

static bool is_stopping_thread(rcgc_tstate_t *ts) {
    /* world_stopped is written by the requester: read it only if that is us */
    return LOAD(&_rcgc_stw.xrequester, RELAXED) == ts && _rcgc_stw.world_stopped;
}

static void retire(void *ptr, size_t bytes, unsigned kind) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    item_t it = { ptr, 0, bytes << 2 | kind };
    if (is_stopping_thread(ts) && kind != K_DECREF) { /* every other thread is quiescent */
        total_add(bytes);
        release(&it);
        return;
    }
    /* Not a grace period yet: the next advance ends it (see advance_for). */
    it.goal = LOAD(&qs.wr_seq, ACQUIRE) + RCGC_QSBR_INCR;
    slot_t *s = self_slot;
    bool pushed;
    total_add(bytes);
    if (s && LOAD(&s->seq, RELAXED) != RCGC_QSBR_OFFLINE) {
        pushed = queue_push(&s->q, &it, &s->spare);
        if (pushed && !s->should_process && limits_exceeded(&s->q, 1)) {
            _rcgc_qsbr_advance();
            s->should_process = true;
        }
    } else { /* not attached: the orphan queue */
        pthread_mutex_lock(&qs.orphan_lock);
        pushed = queue_push(&qs.orphan, &it, NULL);
        STORE(&qs.orphan_items_hint, qs.orphan.items, RELAXED);
        pthread_mutex_unlock(&qs.orphan_lock);
    }
    if (!pushed) { /* no memory for a chunk */
        __atomic_fetch_add(&qs.oom_fallbacks, 1, __ATOMIC_RELAXED);
        /* A decref retired by the thread that holds the world stopped (the
         * collector) is already past a barrier; it runs at once, destructor
         * included: the only alternative would be to leak it. */
        if (!is_stopping_thread(ts)) stw_barrier();
        release(&it);
    }
}

void _rcgc_qsbr_free_object(rcgc_object_t *o, void *block, rcgc_heap_kind_t kind) {
    retire(block, (size_t)((char *)o - (char *)block) + rcgc_object_size(o), (unsigned)kind);
}

void rcgc_mem_free_delayed(void *p, size_t size) {
    if (!p) return;
    retire(p, size ? size : _rcgc_pool_usable_size(p), K_MEM);
}

void rcgc_decref_delayed(rcgc_object_t *o) {
    if (!o) return;
    if (rcgc_is_immortal(o)) return;
    retire(o, 0, K_DECREF);
}

void rcgc_object_enable_lockfree_reads(rcgc_object_t *o) {
    if (rcgc_is_immortal(o)) return;
    /* a plain write: the caller is the only thread that can reach o */
    o->ob_flags |= RCGC_OBF_LOCKFREE_READS;
    _rcgc_weakref_enable_try_incref(o);
}

size_t rcgc_qsbr_process(void) {
    slot_t *s = self_slot;
    if (s && LOAD(&s->seq, RELAXED) != RCGC_QSBR_OFFLINE) {
        quiescent(s);
        s->should_process = false;
        process_own(s);
        if (limits_exceeded(&s->q, 1)) s->should_process = true;
    }
    process_orphans(s, true);
    return s ? s->q.items : 0;
}

/* ---- thread hooks (tstate_ft.c) --------------------------------------------------- */

void _rcgc_qsbr_attach(rcgc_tstate_t *ts) {
    (void)ts;
    slot_t *s = self_slot;
    if (!s) return;
    online(s);
    if (s->should_process) process_at_safepoint(s);
}

void _rcgc_qsbr_detach(rcgc_tstate_t *ts) {
    (void)ts;
    slot_t *s = self_slot;
    if (!s) return;
    if (s->should_process) process_at_safepoint(s);
    offline(s);
}

void _rcgc_qsbr_safepoint(rcgc_tstate_t *ts) {
    (void)ts;
    slot_t *s = self_slot;
    if (RCGC_UNLIKELY(!s)) return;
    quiescent(s);
    if (RCGC_UNLIKELY(s->should_process)) process_at_safepoint(s);
    if (RCGC_UNLIKELY(LOAD(&qs.orphan_items_hint, RELAXED) != 0) && --s->orphan_countdown == 0) {
        s->orphan_countdown = ORPHAN_POLL_EVERY;
        process_orphans(s, false);
    }
}

/* Called attached, before the merge queue is drained: free what can be freed,
 * hand the rest to the orphan queue, help with the orphans, leave the slot. */
void _rcgc_qsbr_thread_exit(rcgc_tstate_t *ts) {
    (void)ts;
    slot_t *s = self_slot;
    if (!s) return;
    online(s);
    process_own(s);
    process_orphans(s, true);
    pthread_mutex_lock(&qs.orphan_lock);
    queue_splice(&qs.orphan, &s->q);
    STORE(&qs.orphan_items_hint, qs.orphan.items, RELAXED);
    pthread_mutex_unlock(&qs.orphan_lock);
    offline(s); /* what later destructors retire goes to the orphan queue */
    rcgc_raw_free(s->spare);
    s->spare = NULL;
    s->should_process = false;
    pthread_mutex_lock(&qs.slots_lock);
    s->in_use = false;
    pthread_mutex_unlock(&qs.slots_lock);
    self_slot = NULL;
}

/* ---- stop-the-world and fork ------------------------------------------------------ */

/* Keep the decrefs (destructors wait for the restart), free the rest. */
static void free_memory_items_stopped(queue_t *q) {
    for (chunk_t *c = q->head; c; c = c->next) {
        uint32_t keep = c->lo;
        for (uint32_t i = c->lo; i < c->hi; i++) {
            item_t it = c->items[i];
            if (item_kind(&it) == K_DECREF) {
                c->items[keep++] = it;
                continue;
            }
            q->items--;
            q->bytes -= item_bytes(&it);
            release(&it);
        }
        c->hi = keep;
    }
    /* drop emptied chunks */
    chunk_t **link = &q->head, *prev = NULL;
    while (*link) {
        chunk_t *c = *link;
        if (c->lo == c->hi) {
            *link = c->next;
            rcgc_raw_free(c);
        } else {
            prev = c;
            link = &c->next;
        }
    }
    q->tail = prev;
}

void _rcgc_qsbr_process_all_stopped(void) {
    for (slot_block_t *b = &qs.first; b; b = next_block(b))
        for (int i = 0; i < SLOTS_PER_BLOCK; i++) free_memory_items_stopped(&b->slots[i].q);
    pthread_mutex_lock(&qs.orphan_lock);
    free_memory_items_stopped(&qs.orphan);
    STORE(&qs.orphan_items_hint, qs.orphan.items, RELAXED);
    pthread_mutex_unlock(&qs.orphan_lock);
}

void _rcgc_qsbr_before_fork(void) {
    pthread_mutex_lock(&qs.slots_lock);
    pthread_mutex_lock(&qs.orphan_lock);
}

void _rcgc_qsbr_after_fork_parent(void) {
    pthread_mutex_unlock(&qs.orphan_lock);
    pthread_mutex_unlock(&qs.slots_lock);
}

void _rcgc_qsbr_after_fork_child(void) {
    for (slot_block_t *b = &qs.first; b; b = b->next) {
        for (int i = 0; i < SLOTS_PER_BLOCK; i++) {
            slot_t *s = &b->slots[i];
            if (s == self_slot) continue;
            queue_splice(&qs.orphan, &s->q);
            rcgc_raw_free(s->spare);
            s->spare = NULL;
            s->should_process = false;
            s->in_use = false;
            STORE(&s->seq, RCGC_QSBR_OFFLINE, RELAXED);
        }
    }
    STORE(&qs.orphan_items_hint, qs.orphan.items, RELAXED);
    pthread_mutex_unlock(&qs.orphan_lock);
    pthread_mutex_unlock(&qs.slots_lock);
}

/* ---- statistics and tests ----------------------------------------------------------- */

void rcgc_qsbr_get_stats(rcgc_qsbr_stats_t *out) {
    memset(out, 0, sizeof *out);
    slot_t *s = self_slot;
    if (s) {
        out->thread_items = s->q.items;
        out->thread_bytes = s->q.bytes;
    }
    pthread_mutex_lock(&qs.orphan_lock);
    out->orphan_items = qs.orphan.items;
    out->orphan_bytes = qs.orphan.bytes;
    pthread_mutex_unlock(&qs.orphan_lock);
    out->total_bytes = LOAD(&qs.total_bytes, RELAXED);
    out->peak_total_bytes = LOAD(&qs.peak_bytes, RELAXED);
    out->write_seq = LOAD(&qs.wr_seq, ACQUIRE);
    out->read_seq = LOAD(&qs.rd_seq, ACQUIRE);
    out->advances = LOAD(&qs.advances, RELAXED);
    out->freed = LOAD(&qs.freed, RELAXED);
    out->stw_barriers = LOAD(&qs.barriers, RELAXED);
    out->oom_fallbacks = LOAD(&qs.oom_fallbacks, RELAXED);
}

void rcgc_qsbr_reset_peak(void) { STORE(&qs.peak_bytes, LOAD(&qs.total_bytes, RELAXED), RELAXED); }

void _rcgc_qsbr_test_set_sequence(rcgc_qsbr_seq_t seq) {
    RCGC_ASSERT((seq & 1) == 1);
    STORE(&qs.wr_seq, seq, SEQ_CST);
    STORE(&qs.rd_seq, seq, SEQ_CST);
    for (slot_block_t *b = &qs.first; b; b = next_block(b))
        for (int i = 0; i < SLOTS_PER_BLOCK; i++)
            if (LOAD(&b->slots[i].seq, RELAXED) != RCGC_QSBR_OFFLINE) STORE(&b->slots[i].seq, seq, SEQ_CST);
}
