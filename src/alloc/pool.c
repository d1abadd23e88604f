/* alloc/pool.c - the pooled allocator's entry points: the malloc and free
 * fast paths, realloc, and what the allocator checks about the pointers it is
 * given (docs/design/allocator.md, "Bad input").
 *
 * malloc fast path: class (n-1)>>4, the thread's current page of that class
 * (initial-exec TLS, no NULL test: see heap.c), pop its `free` list.
 * free fast path: segment map bit, page descriptor by mask, owner test, push
 * on the page's `local_free`. Everything else goes out of line.
 */
#include "internal/alloc_types.h"
#include "internal/platform.h"

#include <string.h>

void *_rcgc_pool_malloc(size_t size, rcgc_heap_kind_t kind) {
    RCGC_ASSERT((unsigned)kind < RCGC_HEAP_KINDS);
    void *b = _rcgc_pool_try_malloc(size, kind);
    if (RCGC_LIKELY(b != NULL)) return b;
    return _rcgc_heap_malloc_generic(size, kind);
}

/* ---- bad input ---------------------------------------------------------------- */
static const char *page_state_name(unsigned state) {
    static const char *const names[] = { "free page", "small page", "large block", "inside a large block",
                                         "huge block", "segment header" };
    return state < sizeof names / sizeof names[0] ? names[state] : "corrupt page descriptor";
}

RCGC_NOINLINE static void free_unknown(void *p) {
    if (p == NULL) return;
    rcgc_fatal_object(NULL, "rcgc allocator: free of %p, which the pool did not allocate "
                            "(not in any rcgc segment)", p);
}

RCGC_NOINLINE static void report_bad_block(const rcgc_page_t *pg, const void *p, const char *what) {
    rcgc_fatal_object(NULL, "rcgc allocator: %s %p: %s (page state: %s, block size %u)", what, p,
                      pg->state == RCGC_PAGE_SMALL ? "not the start of a block" : "not an allocated block",
                      page_state_name(pg->state), (unsigned)pg->block_size);
}

static inline bool is_block_start(const rcgc_page_t *pg, const void *p) { return _rcgc_is_block_start(pg, p); }

RCGC_NOINLINE static void report_double_free(const rcgc_page_t *pg, const void *p) {
    rcgc_fatal_object(NULL, "rcgc allocator: double free of %p (block size %u, %u live blocks in its page)",
                      p, (unsigned)pg->block_size, (unsigned)_rcgc_page_used(pg));
}

/* ---- free ------------------------------------------------------------------------ */
/* The owner's free when the fast path's conditions fail: the page may be
 * parked (full), about to become empty, or this may be a double free. */
RCGC_NOINLINE static void free_local_slow(rcgc_page_t *pg, rcgc_block_t *b) {
    if (_rcgc_page_used(pg) == 0 || b == pg->local_free || b == pg->free) report_double_free(pg, b);
    _rcgc_track_block_free(b, pg->block_size);
    _rcgc_block_set_next(b, pg->local_free);
    pg->local_free = b;
    pg->used--;
    if (pg->in_full) _rcgc_heap_page_unfull(pg);
    /* the current page stays even when empty (hysteresis, see heap.c) */
    if (pg->used == 0 && pg->xheap->direct[pg->cls] != pg) _rcgc_heap_page_emptied(pg);
}

/* A block of a page this thread does not own: another thread's or a dead
 * thread's small page (cross-thread list), or a large/huge block. */
RCGC_NOINLINE static void free_not_owned(rcgc_page_t *pg, rcgc_block_t *b) {
    switch (pg->state) {
    case RCGC_PAGE_SMALL:
        if (rcgc_debug_level >= 1 && !is_block_start(pg, b)) report_bad_block(pg, b, "free of");
        _rcgc_track_block_free(b, pg->block_size);
        _rcgc_page_remote_push(pg, b);
        return;
    case RCGC_PAGE_LARGE:
    case RCGC_PAGE_HUGE:
        _rcgc_large_free(pg, b);
        return;
    default:
        report_bad_block(pg, b, "free of");
    }
}

void _rcgc_pool_free(void *p) {
    if (RCGC_UNLIKELY(!_rcgc_segmap_has((uintptr_t)p))) {
        free_unknown(p);
        return;
    }
    rcgc_page_t *pg = _rcgc_ptr_page(_rcgc_ptr_segment(p), p);
    rcgc_block_t *b = p;
    if (RCGC_LIKELY(__atomic_load_n(&pg->xowner, __ATOMIC_RELAXED) == _rcgc_thread_token())) {
        if (rcgc_debug_level >= 1 && !is_block_start(pg, p)) report_bad_block(pg, p, "free of");
        /* signed: a parked page (bit 31 of used) fails like one about to empty */
        if (RCGC_LIKELY((int32_t)pg->used > 1 && b != pg->local_free)) {
            _rcgc_track_block_free(b, pg->block_size);
            _rcgc_block_set_next(b, pg->local_free);
            pg->local_free = b;
            pg->used--;
            return;
        }
        free_local_slow(pg, b);
        return;
    }
    free_not_owned(pg, b);
}

/* ---- queries ------------------------------------------------------------------------ */
/* The descriptor of the block starting at p, or NULL if p is not one. */
static rcgc_page_t *block_page(const void *p) {
    if (!_rcgc_segmap_has((uintptr_t)p)) return NULL;
    rcgc_segment_t *seg = _rcgc_ptr_segment(p);
    rcgc_page_t *pg = _rcgc_ptr_page(seg, p);
    switch (pg->state) {
    case RCGC_PAGE_SMALL: return is_block_start(pg, p) ? pg : NULL;
    case RCGC_PAGE_LARGE:
    case RCGC_PAGE_HUGE: return (const uint8_t *)p == _rcgc_page_blocks(pg) ? pg : NULL;
    default: return NULL;
    }
}

static size_t page_block_size(const rcgc_page_t *pg) {
    if (pg->state == RCGC_PAGE_SMALL) return pg->block_size;
    return _rcgc_large_usable(pg);
}

size_t _rcgc_pool_usable_size(const void *p) {
    rcgc_page_t *pg = block_page(p);
    return pg ? page_block_size(pg) : 0;
}

bool _rcgc_pool_owns(const void *p) { return block_page(p) != NULL; }

int _rcgc_pool_kind_of(const void *p) {
    rcgc_page_t *pg = block_page(p);
    return pg ? (int)pg->kind : -1;
}

/* ---- realloc -------------------------------------------------------------------------- */
void *_rcgc_pool_realloc(void *p, size_t size) {
    if (p == NULL) return _rcgc_pool_malloc(size, RCGC_HEAP_MEM);
    rcgc_page_t *pg = block_page(p);
    if (RCGC_UNLIKELY(pg == NULL)) {
        if (!_rcgc_segmap_has((uintptr_t)p))
            rcgc_fatal_object(NULL, "rcgc allocator: realloc of %p, which the pool did not allocate", p);
        report_bad_block(_rcgc_ptr_page(_rcgc_ptr_segment(p), p), p, "realloc of");
    }
    size_t usable = page_block_size(pg);
    if (size <= usable && size > usable / 2) return p; /* fits, and not wastefully */
    void *q = _rcgc_pool_malloc(size, (rcgc_heap_kind_t)pg->kind);
    if (q == NULL) return NULL;
    memcpy(q, p, size < usable ? size : usable);
    _rcgc_pool_free(p);
    return q;
}

/* ---- giving memory back ----------------------------------------------------------------- */
void _rcgc_pool_collect(bool force) {
    _rcgc_heap_collect_current(force);
    _rcgc_pool_lock();
    _rcgc_abandoned_collect_locked();
    _rcgc_segment_release_dead_huge_locked();
    _rcgc_segment_purge_locked(force);
    _rcgc_pool_unlock();
}
