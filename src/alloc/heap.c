/* alloc/heap.c - per-thread heaps: the generic (slow) allocation path, page
 * queues, parking full pages and taking them back on a remote free, giving
 * empty pages back, and thread exit (abandon) / reuse (reclaim).
 *
 * A thread's three heaps (MEM, OBJECT, GC) live in its tld, reached through
 * initial-exec TLS. Until the first allocation the TLS points at a static
 * empty tld whose direct pages have no free blocks, so the fast path needs no
 * NULL test: its first miss lands here and creates the real tld.
 */
#include "internal/alloc_types.h"
#include "internal/platform.h"

#include <string.h>

rcgc_page_t _rcgc_empty_page; /* no free block, never in a segment */
rcgc_tld_t _rcgc_empty_tld = {
    .heaps = { [0 ... RCGC_HEAP_KINDS - 1] = { .direct = { [0 ... RCGC_CLASSES - 1] = &_rcgc_empty_page } } }
};
RCGC_TLS rcgc_tld_t *_rcgc_tls_tld = &_rcgc_empty_tld;

/* ---- page queues (owner only) ------------------------------------------------- */
static void queue_remove(rcgc_page_queue_t *q, rcgc_page_t *pg) {
    if (pg->prev) pg->prev->next = pg->next; else q->first = pg->next;
    if (pg->next) pg->next->prev = pg->prev; else q->last = pg->prev;
    pg->next = pg->prev = NULL;
}

static void queue_push_front(rcgc_page_queue_t *q, rcgc_page_t *pg) {
    pg->prev = NULL;
    pg->next = q->first;
    if (q->first) q->first->prev = pg; else q->last = pg;
    q->first = pg;
}

static void queue_push_back(rcgc_page_queue_t *q, rcgc_page_t *pg) {
    pg->next = NULL;
    pg->prev = q->last;
    if (q->last) q->last->next = pg; else q->first = pg;
    q->last = pg;
}

static bool walk_in_progress(void) {
    return __atomic_load_n(&_rcgc_pool.xwalkers, __ATOMIC_ACQUIRE) != 0;
}

static void heap_return_page(rcgc_page_t *pg);

/* Make avail[cls].first the current page. The page it replaces was kept
 * while current even if empty (hysteresis); now that it is not, an empty
 * one goes back to its segment. */
static void heap_set_direct(rcgc_heap_t *heap, unsigned cls) {
    rcgc_page_t *old = heap->direct[cls], *first = heap->avail[cls].first;
    heap->direct[cls] = first ? first : &_rcgc_empty_page;
    if (first && heap->kind == RCGC_HEAP_GC) _rcgc_pool_mark_young(_rcgc_page_start(first));
    if (old == first || old == &_rcgc_empty_page || old->in_full || old->used != 0) return;
    if (walk_in_progress() || _rcgc_page_flags(old) != RCGC_TF_NORMAL) return; /* on the delayed stack */
    RCGC_ASSERT_INTERNAL(old->xheap == heap && old->state == RCGC_PAGE_SMALL);
    queue_remove(&heap->avail[cls], old);
    heap_return_page(old);
}

/* ---- thread data: create, recycle ------------------------------------------------ */
static void heap_init(rcgc_heap_t *heap, rcgc_tld_t *tld, rcgc_heap_kind_t kind) {
    for (unsigned c = 0; c < RCGC_CLASSES; c++) heap->direct[c] = &_rcgc_empty_page;
    memset(heap->avail, 0, sizeof heap->avail);
    memset(heap->full, 0, sizeof heap->full);
    __atomic_store_n(&heap->xdelayed, NULL, __ATOMIC_RELAXED); /* empty since the abandon */
    heap->tld = tld;
    heap->kind = kind;
    heap->slow_calls = 0;
}

static rcgc_tld_t *tld_take_locked(void) {
    rcgc_tld_t *tld = _rcgc_pool.tld_free;
    if (tld) {
        _rcgc_pool.tld_free = tld->next_free;
        return tld;
    }
    size_t ps = _rcgc_os_page_size(), size = (sizeof(rcgc_tld_t) + ps - 1) & ~(ps - 1);
    tld = _rcgc_os_map_aligned(size, ps);
    if (tld) _rcgc_pool.tld_bytes += size;
    return tld;
}

static void tld_on_thread_exit(void *arg);

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static void pool_init_once(void) {
    _rcgc_os_thread_exit_hook(tld_on_thread_exit);
    /* fork: hold the segment lock across it so the child never inherits it
     * locked by a thread that does not exist there (the child keeps the
     * forking thread's heaps; other threads' pages stay owned and unused) */
    pthread_atfork(_rcgc_pool_lock, _rcgc_pool_unlock, _rcgc_pool_unlock);
    _rcgc_pool.initialized = true;
}
void _rcgc_pool_ensure_init(void) { pthread_once(&pool_once, pool_init_once); }

static rcgc_tld_t *tld_create(void) {
    _rcgc_pool_ensure_init();
    _rcgc_pool_lock();
    rcgc_tld_t *tld = tld_take_locked();
    if (tld) {
        for (int k = 0; k < RCGC_HEAP_KINDS; k++) heap_init(&tld->heaps[k], tld, (rcgc_heap_kind_t)k);
        tld->next_free = NULL;
        tld->token = NULL; /* below, once this thread's TLS points at it */
        tld->live = true;
        _rcgc_pool.tld_count++;
    }
    _rcgc_pool_unlock();
    if (tld) {
        _rcgc_tls_tld = tld;
        tld->token = _rcgc_thread_token();
        _rcgc_os_thread_exit_arm(tld);
    }
    return tld;
}

/* ---- pages in and out of a heap ---------------------------------------------------- */
/* Every this many fresh pages, give back abandoned pages whose blocks other
 * threads have all freed (a dead thread's pages of a class nobody allocates
 * any more would otherwise wait for an explicit collect). */
#define RCGC_ABANDONED_SWEEP_EVERY 64

static rcgc_page_t *heap_fresh_page(rcgc_heap_t *heap, unsigned cls) {
    _rcgc_pool_lock();
    if (++_rcgc_pool.fresh_pages % RCGC_ABANDONED_SWEEP_EVERY == 0 && _rcgc_pool.abandoned_count)
        _rcgc_abandoned_collect_locked();
    rcgc_page_t *pg = _rcgc_segment_page_alloc_locked();
    if (pg) {
        _rcgc_page_init(pg, cls, heap->kind);
        __atomic_store_n(&pg->xheap, heap, __ATOMIC_RELAXED);
        __atomic_store_n(&pg->xowner, heap->tld->token, __ATOMIC_RELEASE);
    }
    _rcgc_pool_unlock();
    return pg;
}

/* Adopt a page a dead thread left behind, if any of this kind and class. */
static rcgc_page_t *heap_reclaim(rcgc_heap_t *heap, unsigned cls) {
    rcgc_page_queue_t *q = &_rcgc_pool.abandoned[heap->kind][cls];
    if (__atomic_load_n(&_rcgc_pool.abandoned_count, __ATOMIC_RELAXED) == 0) return NULL;
    _rcgc_pool_lock();
    rcgc_page_t *pg = q->first;
    if (pg) {
        queue_remove(q, pg);
        __atomic_fetch_sub(&_rcgc_pool.abandoned_count, 1, __ATOMIC_RELAXED);
        _rcgc_pool.pages_reclaimed++;
        __atomic_store_n(&pg->xheap, heap, __ATOMIC_RELAXED);
        __atomic_store_n(&pg->xowner, heap->tld->token, __ATOMIC_RELEASE);
    }
    _rcgc_pool_unlock();
    if (pg) _rcgc_page_collect(pg);
    return pg;
}

static void heap_return_page(rcgc_page_t *pg) {
    _rcgc_pool_lock();
    _rcgc_segment_page_free_locked(pg);
    _rcgc_pool_unlock();
}

static void heap_take_delayed(rcgc_heap_t *heap);

/* Park an exhausted page in the full queue; fails if a remote free is
 * pending (the caller collects it instead). A page still on the delayed
 * stack is popped first. */
static bool heap_park(rcgc_heap_t *heap, rcgc_page_t *pg) {
    if (!_rcgc_page_try_park(pg)) {
        if (_rcgc_page_flags(pg) != RCGC_TF_NOTIFIED) return false;
        heap_take_delayed(heap);
        if (!_rcgc_page_try_park(pg)) return false;
    }
    unsigned cls = pg->cls;
    queue_remove(&heap->avail[cls], pg);
    queue_push_back(&heap->full[cls], pg);
    pg->in_full = true;
    pg->used |= RCGC_USED_PARKED;
    heap_set_direct(heap, cls);
    return true;
}

/* Move a parked page back to the back of avail: by the time its turn comes
 * it has gathered more frees, so it serves a run of allocations instead of
 * one (pushing it to the front made random churn park and unpark a page per
 * operation; see docs/design/allocator.md). */
static void heap_unpark(rcgc_heap_t *heap, rcgc_page_t *pg) {
    unsigned cls = pg->cls;
    _rcgc_page_unpark(pg);
    pg->in_full = false;
    pg->used &= ~RCGC_USED_PARKED;
    queue_remove(&heap->full[cls], pg);
    queue_push_back(&heap->avail[cls], pg);
    heap_set_direct(heap, cls);
}

/* Pop the whole delayed stack: pages that got a remote free while parked.
 * Parked ones go back to avail; one a local free already unparked and that
 * is now empty goes back to its segment (it could not while on the stack). */
static void heap_take_delayed(rcgc_heap_t *heap) {
    rcgc_page_t *pg = __atomic_exchange_n(&heap->xdelayed, NULL, __ATOMIC_ACQUIRE);
    while (pg) {
        rcgc_page_t *next = __atomic_load_n(&pg->xdelayed_next, __ATOMIC_RELAXED);
        _rcgc_page_delayed_done(pg);
        if (pg->in_full) {
            heap_unpark(heap, pg);
        } else if (pg->used == 0 && heap->direct[pg->cls] != pg && !walk_in_progress()) {
            queue_remove(&heap->avail[pg->cls], pg);
            heap_return_page(pg);
        }
        pg = next;
    }
}

/* The current page of `cls` has no free block: find one that has. Order:
 * local and remote frees of the queued pages, carving more of a page, a
 * dead thread's page, a fresh page (from the fullest segment). */
static rcgc_page_t *heap_find_page(rcgc_heap_t *heap, unsigned cls) {
    heap->slow_calls++;
    if (__atomic_load_n(&heap->xdelayed, __ATOMIC_RELAXED)) heap_take_delayed(heap);
    for (;;) {
        rcgc_page_t *pg;
        while ((pg = heap->avail[cls].first) != NULL) {
            RCGC_ASSERT_EXPENSIVE(_rcgc_page_is_valid(pg));
            if (pg->free) return pg;
            _rcgc_page_collect(pg);
            if (pg->free || _rcgc_page_extend(pg)) return pg;
            heap_park(heap, pg);
        }
        pg = heap_reclaim(heap, cls);
        if (pg == NULL) pg = heap_fresh_page(heap, cls);
        if (pg == NULL) return NULL;
        queue_push_front(&heap->avail[cls], pg);
        heap_set_direct(heap, cls);
    }
}

void *_rcgc_heap_malloc_generic(size_t size, rcgc_heap_kind_t kind) {
    RCGC_ASSERT((unsigned)kind < RCGC_HEAP_KINDS);
    rcgc_tld_t *tld = _rcgc_tls_tld;
    if (RCGC_UNLIKELY(tld == &_rcgc_empty_tld)) {
        tld = tld_create();
        if (tld == NULL) return NULL;
    }
    if (size > RCGC_MEDIUM_MAX) return _rcgc_large_alloc(size, kind);
    unsigned cls = _rcgc_size_class(size);
    rcgc_heap_t *heap = &tld->heaps[kind];
    rcgc_page_t *pg = heap->direct[cls];
    if (pg->free == NULL) {
        pg = heap_find_page(heap, cls);
        if (pg == NULL) return NULL;
    }
    rcgc_block_t *b = pg->free;
    pg->free = _rcgc_block_next(b);
    pg->used++;
    _rcgc_track_block_alloc(b, pg->block_size, false);
    return b;
}

/* ---- called by the owner's free slow path (pool.c) -------------------------------- */
void _rcgc_heap_page_unfull(rcgc_page_t *pg) {
    heap_unpark(pg->xheap, pg);
}

/* The owner freed the last live block of pg. The current page of its class
 * stays (so alloc/free ping-pong never leaves the fast path); any other page
 * goes back to its segment, unless a walk is running over it. */
void _rcgc_heap_page_emptied(rcgc_page_t *pg) {
    rcgc_heap_t *heap = pg->xheap;
    unsigned cls = pg->cls;
    if (heap->direct[cls] == pg || walk_in_progress()) return;
    RCGC_ASSERT_INTERNAL(!pg->in_full);
    if (_rcgc_page_flags(pg) == RCGC_TF_NOTIFIED) { /* on the delayed stack: popping gives it back */
        heap_take_delayed(heap);
        return;
    }
    queue_remove(&heap->avail[cls], pg);
    heap_return_page(pg);
}

/* ---- collect: give back what the calling thread holds empty ------------------------ */
static void heap_collect(rcgc_heap_t *heap, bool force) {
    heap_take_delayed(heap);
    for (unsigned cls = 0; cls < RCGC_CLASSES; cls++) {
        rcgc_page_t *pg = heap->avail[cls].first, *next;
        for (; pg; pg = next) {
            next = pg->next;
            _rcgc_page_collect(pg);
            if (pg->used == 0 && (force || pg != heap->direct[cls]) && !walk_in_progress() &&
                _rcgc_page_flags(pg) == RCGC_TF_NORMAL) {
                if (pg == heap->direct[cls]) heap->direct[cls] = &_rcgc_empty_page;
                queue_remove(&heap->avail[cls], pg);
                heap_return_page(pg);
            }
        }
        heap_set_direct(heap, cls);
    }
}

void _rcgc_heap_collect_current(bool force) {
    rcgc_tld_t *tld = _rcgc_tls_tld;
    if (tld == &_rcgc_empty_tld) return;
    for (int k = 0; k < RCGC_HEAP_KINDS; k++) heap_collect(&tld->heaps[k], force);
}

/* ---- thread exit: abandon ------------------------------------------------------------- */
static void page_abandon_locked(rcgc_page_t *pg) {
    _rcgc_page_collect(pg);
    if (pg->used == 0) {
        _rcgc_segment_page_free_locked(pg);
        return;
    }
    __atomic_store_n(&pg->xowner, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&pg->xheap, NULL, __ATOMIC_RELEASE);
    queue_push_back(&_rcgc_pool.abandoned[pg->kind][pg->cls], pg);
    __atomic_fetch_add(&_rcgc_pool.abandoned_count, 1, __ATOMIC_RELAXED);
    _rcgc_pool.pages_abandoned++;
}

/* Before the lock: unpark every parked page (waiting out a notifying remote
 * free), then pop the delayed stack. Afterwards no page is parked, so no
 * remote free can push on this heap's stack any more. */
static void heap_unpark_all(rcgc_heap_t *heap) {
    for (unsigned cls = 0; cls < RCGC_CLASSES; cls++) {
        rcgc_page_t *pg;
        while ((pg = heap->full[cls].first) != NULL) heap_unpark(heap, pg);
    }
    heap_take_delayed(heap);
}

static void heap_abandon_locked(rcgc_heap_t *heap) {
    for (unsigned cls = 0; cls < RCGC_CLASSES; cls++) {
        RCGC_ASSERT_INTERNAL(heap->full[cls].first == NULL);
        rcgc_page_t *pg;
        while ((pg = heap->avail[cls].first) != NULL) {
            queue_remove(&heap->avail[cls], pg);
            page_abandon_locked(pg);
        }
        heap->direct[cls] = &_rcgc_empty_page;
    }
    RCGC_ASSERT_INTERNAL(__atomic_load_n(&heap->xdelayed, __ATOMIC_RELAXED) == NULL);
}

/* pthread key destructor: the thread's pages with live blocks go to the
 * abandoned pool (still walked, reclaimed by threads that need a page of the
 * same kind and class); empty pages go back to their segments. */
static void tld_on_thread_exit(void *arg) {
    rcgc_tld_t *tld = arg;
    _rcgc_teardown_begin(); /* not while a heap walk runs (the collector's, world stopped) */
    for (int k = 0; k < RCGC_HEAP_KINDS; k++) heap_unpark_all(&tld->heaps[k]);
    _rcgc_tls_tld = &_rcgc_empty_tld;
    _rcgc_pool_lock();
    for (int k = 0; k < RCGC_HEAP_KINDS; k++) heap_abandon_locked(&tld->heaps[k]);
    tld->live = false;
    tld->next_free = _rcgc_pool.tld_free;
    _rcgc_pool.tld_free = tld;
    _rcgc_pool.tld_count--;
    _rcgc_pool_unlock();
    _rcgc_teardown_end();
}

/* Give back abandoned pages whose blocks have all been freed (remotely). */
void _rcgc_abandoned_collect_locked(void) {
    for (int k = 0; k < RCGC_HEAP_KINDS; k++) {
        for (unsigned cls = 0; cls < RCGC_CLASSES; cls++) {
            rcgc_page_queue_t *q = &_rcgc_pool.abandoned[k][cls];
            rcgc_page_t *pg = q->first, *next;
            for (; pg; pg = next) {
                next = pg->next;
                _rcgc_page_collect(pg);
                if (pg->used != 0) continue;
                queue_remove(q, pg);
                __atomic_fetch_sub(&_rcgc_pool.abandoned_count, 1, __ATOMIC_RELAXED);
                _rcgc_segment_page_free_locked(pg);
            }
        }
    }
}
