/* alloc/walk.c - enumerating the live blocks of a heap kind without any
 * per-object link: segments in address order, their pages in order, and in
 * each page the carved blocks minus the free ones. The free blocks are found
 * by walking the page's three free lists into an on-stack bitmap (mimalloc's
 * method, with a multiply instead of a division per free block); a page with
 * no free block is visited without a bitmap.
 *
 * Segments are not unmapped and pages not returned to segments while a walk
 * runs (_rcgc_pool.xwalkers), so the visitor may free what it is given.
 */
#include "internal/alloc_types.h"
#include "rcgc/inspect.h"

#include <sched.h>

#define WALK_WORDS (RCGC_PAGE_SIZE / RCGC_BLOCK_ALIGN / 64)
#define WALK_BATCH 16 /* pages whose free lists are chased together */

/* The free lists of a batch of pages, chased in lock step: each list is a
 * chain of dependent cache misses, but the chains of different pages are
 * independent, so stepping them round-robin keeps several misses in flight
 * (ten times faster than one list after another when the blocks are cold). */
typedef struct walk_batch {
    rcgc_page_t *page[WALK_BATCH];
    bool has_free[WALK_BATCH];
    uint64_t map[WALK_BATCH][WALK_WORDS]; /* bit set: free or not carved */
} walk_batch_t;

typedef struct walk_cursor {
    const rcgc_block_t *b;
    unsigned slot;
} walk_cursor_t;

static unsigned add_cursor(walk_cursor_t *c, unsigned n, const rcgc_block_t *b, unsigned slot) {
    if (b) c[n++] = (walk_cursor_t){ b, slot };
    return n;
}

static void batch_mark_free(walk_batch_t *wb, unsigned count) {
    walk_cursor_t cur[WALK_BATCH * 3];
    unsigned n = 0;
    for (unsigned s = 0; s < count; s++) {
        rcgc_page_t *pg = wb->page[s];
        if (pg == NULL) continue;
        const rcgc_block_t *remote =
            (const rcgc_block_t *)(__atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE) & ~RCGC_TF_FLAGS);
        unsigned before = n;
        n = add_cursor(cur, n, pg->free, s);
        n = add_cursor(cur, n, pg->local_free, s);
        n = add_cursor(cur, n, remote, s);
        wb->has_free[s] = n != before;
        if (n == before) continue;
        uint32_t cap = pg->capacity, words = (cap + 63) / 64;
        for (uint32_t w = 0; w < words; w++) wb->map[s][w] = 0;
        if (cap & 63) wb->map[s][words - 1] = ~(uint64_t)0 << (cap & 63);
    }
    while (n) {
        for (unsigned k = 0; k < n;) {
            const rcgc_page_t *pg = wb->page[cur[k].slot];
            uint32_t i = _rcgc_block_index(pg, cur[k].b);
            RCGC_ASSERT_INTERNAL(i < pg->capacity);
            wb->map[cur[k].slot][i >> 6] |= (uint64_t)1 << (i & 63);
            cur[k].b = _rcgc_block_next((rcgc_block_t *)cur[k].b);
            if (cur[k].b == NULL) cur[k] = cur[--n];
            else k++;
        }
    }
}

static int visit_all(uint8_t *start, uint32_t bs, uint32_t count, rcgc_pool_visit_fn fn, void *arg) {
    for (uint32_t i = 0; i < count; i++) {
        int r = fn(start + (size_t)i * bs, bs, arg);
        if (r) return r;
    }
    return 0;
}

static int visit_small_page(rcgc_page_t *pg, bool has_free, const uint64_t *map, rcgc_pool_visit_fn fn,
                            void *arg) {
    uint8_t *start = _rcgc_page_blocks(pg);
    uint32_t bs = pg->block_size, cap = pg->capacity;
    if (!has_free) return visit_all(start, bs, cap, fn, arg);
    for (uint32_t w = 0; w < (cap + 63) / 64; w++) {
        for (uint64_t live = ~map[w]; live; live &= live - 1) {
            uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(live);
            int r = fn(start + (size_t)i * bs, bs, arg);
            if (r) return r;
        }
    }
    return 0;
}

static int visit_page(rcgc_segment_t *seg, rcgc_page_t *pg, walk_batch_t *wb, unsigned slot,
                      rcgc_pool_visit_fn fn, void *arg) {
    (void)seg;
    switch (pg->state) {
    case RCGC_PAGE_SMALL:
        return wb->page[slot] ? visit_small_page(pg, wb->has_free[slot], wb->map[slot], fn, arg) : 0;
    case RCGC_PAGE_LARGE:
    case RCGC_PAGE_HUGE: return fn(_rcgc_page_blocks(pg), _rcgc_large_usable(pg), arg);
    default: return 0;
    }
}

/* Pages first..first+count-1 of seg: free bitmaps for the batch, then the
 * visits, in page order. */
static int visit_pages(rcgc_segment_t *seg, size_t first, unsigned count, rcgc_heap_kind_t kind,
                       walk_batch_t *wb, rcgc_pool_visit_fn fn, void *arg) {
    for (unsigned s = 0; s < count; s++) {
        rcgc_page_t *pg = &seg->pages[first + s];
        bool take = pg->kind == kind && pg->state == RCGC_PAGE_SMALL && _rcgc_page_used(pg) != 0;
        wb->page[s] = take ? pg : NULL;
    }
    batch_mark_free(wb, count);
    for (unsigned s = 0; s < count; s++) {
        rcgc_page_t *pg = &seg->pages[first + s];
        if (pg->kind != kind) continue;
        int r = visit_page(seg, pg, wb, s, fn, arg);
        if (r) return r;
    }
    return 0;
}

static int visit_segment(rcgc_segment_t *seg, rcgc_heap_kind_t kind, walk_batch_t *wb, rcgc_pool_visit_fn fn,
                         void *arg) {
    if (seg->huge) return visit_pages(seg, 1, 1, kind, wb, fn, arg);
    for (size_t i = 1; i < RCGC_PAGES_PER_SEG; i += WALK_BATCH) {
        unsigned count = (unsigned)(RCGC_PAGES_PER_SEG - i < WALK_BATCH ? RCGC_PAGES_PER_SEG - i : WALK_BATCH);
        int r = visit_pages(seg, i, count, kind, wb, fn, arg);
        if (r) return r;
    }
    return 0;
}

/* Walks and teardowns: each side announces itself, then checks the other
 * (sequentially consistent, so at least one of two racing sides sees the
 * other); a teardown backs off and waits for the walks to end, a walk waits
 * for the teardowns in progress (they never wait for anything but the pool
 * lock). A walk's visitor must not wait for another thread to exit. */
void _rcgc_walk_begin(void) {
    __atomic_fetch_add(&_rcgc_pool.xwalkers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&_rcgc_pool.xexiting, __ATOMIC_SEQ_CST)) sched_yield();
}

void _rcgc_walk_end(void) { __atomic_fetch_sub(&_rcgc_pool.xwalkers, 1, __ATOMIC_SEQ_CST); }

void _rcgc_teardown_begin(void) {
    for (;;) {
        __atomic_fetch_add(&_rcgc_pool.xexiting, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&_rcgc_pool.xwalkers, __ATOMIC_SEQ_CST)) return;
        __atomic_fetch_sub(&_rcgc_pool.xexiting, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&_rcgc_pool.xwalkers, __ATOMIC_SEQ_CST)) sched_yield();
    }
}

void _rcgc_teardown_end(void) { __atomic_fetch_sub(&_rcgc_pool.xexiting, 1, __ATOMIC_SEQ_CST); }

int _rcgc_heap_visit(rcgc_heap_kind_t kind, rcgc_pool_visit_fn fn, void *arg) {
    RCGC_ASSERT((unsigned)kind < RCGC_HEAP_KINDS && fn != NULL);
    _rcgc_walk_begin();
    _rcgc_pool_lock();
    rcgc_segment_t *seg = _rcgc_pool.all_first;
    _rcgc_pool_unlock();
    int r = 0;
    walk_batch_t wb; /* 8 KiB of bitmaps */
    while (seg && r == 0) {
        r = visit_segment(seg, kind, &wb, fn, arg);
        _rcgc_pool_lock();
        seg = seg->all_next;
        _rcgc_pool_unlock();
    }
    _rcgc_walk_end();
    return r;
}

int rcgc_heap_visit_blocks(rcgc_alloc_heap_t heap, rcgc_block_visitor_fn fn, void *arg) {
    if ((unsigned)heap >= RCGC_HEAP_KINDS || fn == NULL) return _rcgc_fail_int(RCGC_EINVAL, "invalid heap or visitor");
    return _rcgc_heap_visit((rcgc_heap_kind_t)heap, fn, arg);
}

/* ---- young pages (free-threaded collector; internal/alloc_internal.h) ------- */

void _rcgc_pool_mark_young(const void *block) {
    rcgc_segment_t *seg = _rcgc_ptr_segment(block);
    uint64_t bit = (uint64_t)1 << _rcgc_page_index(seg, _rcgc_ptr_page(seg, block));
    if (__atomic_load_n(&seg->xgc_young, __ATOMIC_RELAXED) & bit) return;
    if (__atomic_fetch_or(&seg->xgc_young, bit, __ATOMIC_RELAXED) != 0) return;
    /* the first young page of the segment: list it */
    _rcgc_pool_lock();
    if (!seg->in_young) {
        seg->in_young = true;
        seg->young_prev = NULL;
        seg->young_next = _rcgc_pool.young_first;
        if (seg->young_next) seg->young_next->young_prev = seg;
        _rcgc_pool.young_first = seg;
    }
    _rcgc_pool_unlock();
}

/* Still a current allocation page: allocations continue there without a
 * new mark, so it stays young across the collection. */
static bool page_is_current(rcgc_page_t *pg) {
    if (pg->state != RCGC_PAGE_SMALL || pg->kind != RCGC_HEAP_GC) return false;
    rcgc_heap_t *heap = __atomic_load_n(&pg->xheap, __ATOMIC_RELAXED);
    return heap && heap->direct[pg->cls] == pg;
}

static int visit_young_segment(rcgc_segment_t *seg, walk_batch_t *wb, rcgc_pool_visit_fn fn, void *arg) {
    uint64_t mask = __atomic_load_n(&seg->xgc_young, __ATOMIC_RELAXED);
    int r = 0;
    for (uint64_t m = mask; m && r == 0; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        if (i == 0 || i >= RCGC_PAGES_PER_SEG) continue;
        r = visit_pages(seg, i, 1, RCGC_HEAP_GC, wb, fn, arg);
    }
    return r;
}

static void reset_young_segment_locked(rcgc_segment_t *seg) {
    uint64_t mask = __atomic_load_n(&seg->xgc_young, __ATOMIC_RELAXED), keep = 0;
    for (uint64_t m = mask; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        if (i < RCGC_PAGES_PER_SEG && page_is_current(&seg->pages[i])) keep |= (uint64_t)1 << i;
    }
    __atomic_store_n(&seg->xgc_young, keep, __ATOMIC_RELAXED);
    if (!keep) _rcgc_young_list_remove_locked(seg);
}

/* The young segments, in batches taken under the pool lock (segments are
 * not destroyed while xwalkers > 0). */
#define YOUNG_BATCH 64
static size_t young_batch(rcgc_segment_t **out, rcgc_segment_t **cursor, bool first) {
    size_t n = 0;
    _rcgc_pool_lock();
    rcgc_segment_t *seg = first ? _rcgc_pool.young_first : *cursor;
    for (; seg && n < YOUNG_BATCH; seg = seg->young_next) out[n++] = seg;
    *cursor = seg;
    _rcgc_pool_unlock();
    return n;
}

int _rcgc_heap_visit_young(rcgc_pool_visit_fn fn, void *arg) {
    RCGC_ASSERT(fn != NULL);
    _rcgc_walk_begin();
    rcgc_segment_t *batch[YOUNG_BATCH], *cursor = NULL;
    walk_batch_t wb;
    int r = 0;
    for (bool first = true; r == 0; first = false) {
        size_t n = young_batch(batch, &cursor, first);
        for (size_t i = 0; i < n && r == 0; i++) r = visit_young_segment(batch[i], &wb, fn, arg);
        if (!cursor) break;
    }
    _rcgc_walk_end();
    return r;
}

void _rcgc_heap_young_reset(void) {
    _rcgc_pool_lock();
    rcgc_segment_t *next;
    for (rcgc_segment_t *seg = _rcgc_pool.young_first; seg; seg = next) {
        next = seg->young_next;
        reset_young_segment_locked(seg);
    }
    _rcgc_pool_unlock();
}

uintptr_t _rcgc_pool_owner_tid(const void *p) {
#ifdef RCGC_TOKEN_IS_THREAD_POINTER
    rcgc_segment_t *seg = _rcgc_ptr_segment(p);
    rcgc_page_t *pg = _rcgc_ptr_page(seg, p);
    if (pg->state != RCGC_PAGE_SMALL) return 0;
    return (uintptr_t)__atomic_load_n(&pg->xowner, __ATOMIC_RELAXED);
#else
    (void)p;
    return 0;
#endif
}
