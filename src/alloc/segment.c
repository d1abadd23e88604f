/* alloc/segment.c - segments: 4 MiB aligned regions from the OS, the map of
 * which regions are ours, handing out whole pages (fullest segment first),
 * large blocks as page runs, huge blocks as segments of their own, and giving
 * memory back (decommit free pages, unmap empty segments).
 *
 * Everything here runs under the segment lock (`_rcgc_pool.lock`) except the
 * lock-free segment-map lookup in alloc_types.h.
 */
#include "internal/alloc_types.h"
#include "internal/platform.h"

#include <string.h>

rcgc_pool_state_t _rcgc_pool = { .lock = PTHREAD_MUTEX_INITIALIZER };
uint8_t _rcgc_segmap[RCGC_SEGMAP_ENTRIES];
uintptr_t _rcgc_segtab[RCGC_SEGTAB_SIZE];

void _rcgc_pool_lock(void) { pthread_mutex_lock(&_rcgc_pool.lock); }
void _rcgc_pool_unlock(void) { pthread_mutex_unlock(&_rcgc_pool.lock); }

_Static_assert(sizeof(rcgc_segment_t) <= RCGC_PAGE_SIZE, "segment header must fit in page 0");
_Static_assert(RCGC_PAGES_PER_SEG == 64, "used_map is one 64-bit word");
_Static_assert(sizeof(rcgc_page_t) == 128, "_rcgc_ptr_page assumes 128-byte descriptors");
_Static_assert(offsetof(rcgc_segment_t, index) == RCGC_SEG_INDEX_OFFSET, "_rcgc_segment_index");
_Static_assert(RCGC_SEG_SHIFT == 22, "_rcgc_segment_index and the collector's links assume 4 MiB segments");

static size_t header_bytes(void) {
    size_t ps = _rcgc_os_page_size();
    return (sizeof(rcgc_segment_t) + ps - 1) & ~(ps - 1);
}

/* ---- segment map ----------------------------------------------------------- */
/* What mapped segments' bytes hold (lock): SLOW until domain.c says the
 * pooled domains are fast (alloc_types.h, RCGC_SEGMAP_FAST). */
static uint8_t segmap_mapped_value = RCGC_SEGMAP_SLOW;

static void segmap_set(rcgc_segment_t *seg, bool on) {
    uintptr_t i = ((uintptr_t)seg >> RCGC_SEG_SHIFT) & (RCGC_SEGMAP_ENTRIES - 1);
    __atomic_store_n(&_rcgc_segmap[i], on ? segmap_mapped_value : (uint8_t)RCGC_SEGMAP_NONE, __ATOMIC_RELEASE);
}

/* Called by domain.c whenever "MEM and OBJ both fast" changes: rewrite the
 * byte of every mapped segment. A free racing with the change may still take
 * the path of the old setting, as with the domain flags themselves (hooks
 * are installed before other threads allocate; tracing and failure injection
 * are switched by the thread that wants them). */
void _rcgc_segmap_set_fast(bool fast) {
    _rcgc_pool_lock();
    segmap_mapped_value = fast ? RCGC_SEGMAP_FAST : RCGC_SEGMAP_SLOW;
    for (rcgc_segment_t *seg = _rcgc_pool.all_first; seg; seg = seg->all_next) segmap_set(seg, true);
    _rcgc_pool_unlock();
}

/* ---- segment names (default build; see alloc_internal.h) --------------------
 * A free index's table entry holds (next free index << 1) | 1: segment bases
 * are even, so the two uses cannot be confused. Returns 0 when all
 * RCGC_SEGTAB_SIZE - 1 indices are taken (64 GiB of segments). */
static uint32_t segidx_take(uintptr_t base) {
#ifdef RCGC_FREE_THREADED
    (void)base;
    return 0;
#else
    uint32_t i = _rcgc_pool.segidx_free;
    if (i) {
        _rcgc_pool.segidx_free = (uint32_t)(_rcgc_segtab[i] >> 1);
    } else {
        if (_rcgc_pool.segidx_top == 0) _rcgc_pool.segidx_top = 1; /* 0: the collector's heads */
        if (_rcgc_pool.segidx_top >= RCGC_SEGTAB_SIZE) return 0;
        i = _rcgc_pool.segidx_top++;
    }
    _rcgc_segtab[i] = base;
    return i;
#endif
}

static void segidx_release(uint32_t i) {
    if (i == 0) return;
    _rcgc_segtab[i] = ((uintptr_t)_rcgc_pool.segidx_free << 1) | 1;
    _rcgc_pool.segidx_free = i;
}

/* ---- buckets: segments by number of free pages ------------------------------ */
static void bucket_remove(rcgc_segment_t *seg) {
    unsigned n = seg->nfree;
    if (n == 0 || seg->huge) return;
    if (seg->bucket_prev) seg->bucket_prev->bucket_next = seg->bucket_next;
    else _rcgc_pool.bucket[n] = seg->bucket_next;
    if (seg->bucket_next) seg->bucket_next->bucket_prev = seg->bucket_prev;
    if (_rcgc_pool.bucket[n] == NULL) _rcgc_pool.bucket_map &= ~((uint64_t)1 << n);
    seg->bucket_next = seg->bucket_prev = NULL;
}

static void bucket_insert(rcgc_segment_t *seg) {
    unsigned n = seg->nfree;
    if (n == 0 || seg->huge) return;
    seg->bucket_prev = NULL;
    seg->bucket_next = _rcgc_pool.bucket[n];
    if (seg->bucket_next) seg->bucket_next->bucket_prev = seg;
    _rcgc_pool.bucket[n] = seg;
    _rcgc_pool.bucket_map |= (uint64_t)1 << n;
}

static void segment_mark_pages(rcgc_segment_t *seg, size_t first, size_t count, bool in_use) {
    bucket_remove(seg);
    bool was_empty = seg->nfree == RCGC_PAGES_PER_SEG - 1;
    for (size_t i = first; i < first + count; i++) {
        uint64_t bit = (uint64_t)1 << i;
        RCGC_ASSERT_INTERNAL(((seg->used_map & bit) != 0) != in_use);
        seg->used_map = in_use ? seg->used_map | bit : seg->used_map & ~bit;
    }
    seg->nfree = (unsigned)(RCGC_PAGES_PER_SEG - (size_t)__builtin_popcountll(seg->used_map));
    bool is_empty = seg->nfree == RCGC_PAGES_PER_SEG - 1;
    if (was_empty && !is_empty) _rcgc_pool.empty_segments--;
    if (!was_empty && is_empty) _rcgc_pool.empty_segments++;
    bucket_insert(seg);
}

/* ---- creating and destroying segments --------------------------------------- */
static void all_list_insert(rcgc_segment_t *seg) {
    rcgc_segment_t *prev = NULL, *cur = _rcgc_pool.all_first;
    while (cur && cur < seg) { prev = cur; cur = cur->all_next; }
    seg->all_prev = prev;
    seg->all_next = cur;
    if (prev) prev->all_next = seg; else _rcgc_pool.all_first = seg;
    if (cur) cur->all_prev = seg;
}

void _rcgc_young_list_remove_locked(rcgc_segment_t *seg) {
    if (!seg->in_young) return;
    if (seg->young_prev) seg->young_prev->young_next = seg->young_next;
    else _rcgc_pool.young_first = seg->young_next;
    if (seg->young_next) seg->young_next->young_prev = seg->young_prev;
    seg->young_next = seg->young_prev = NULL;
    seg->in_young = false;
}

static void all_list_remove(rcgc_segment_t *seg) {
    if (seg->all_prev) seg->all_prev->all_next = seg->all_next;
    else _rcgc_pool.all_first = seg->all_next;
    if (seg->all_next) seg->all_next->all_prev = seg->all_prev;
}

static rcgc_segment_t *segment_create_locked(size_t map_size, bool huge) {
    rcgc_segment_t *seg = _rcgc_os_map_aligned(map_size, RCGC_SEG_SIZE);
    if (seg == NULL) return NULL;
    uint32_t index = segidx_take((uintptr_t)seg);
#ifndef RCGC_FREE_THREADED
    if (index == 0) { /* no name left for it: out of memory for the collector */
        _rcgc_os_unmap(seg, map_size);
        return NULL;
    }
#endif
    _rcgc_track_os_map(seg, map_size); /* LSan scans pooled objects for pointers */
    /* fresh anonymous memory is zero: every page FREE, nothing committed */
    seg->magic = RCGC_SEG_MAGIC ^ (uintptr_t)seg;
    seg->index = index;
    seg->map_size = map_size;
    seg->huge = huge;
    seg->used_map = 1;
    seg->nfree = RCGC_PAGES_PER_SEG - 1;
    seg->pages[0].state = RCGC_PAGE_HEADER;
    _rcgc_pool.empty_segments++;
    all_list_insert(seg);
    bucket_insert(seg);
    segmap_set(seg, true);
    _rcgc_pool.segments++;
    _rcgc_pool.bytes_mapped += map_size;
    _rcgc_pool.bytes_committed += header_bytes();
    return seg;
}

static void segment_destroy_locked(rcgc_segment_t *seg) {
    RCGC_ASSERT_INTERNAL(seg->huge || seg->nfree == RCGC_PAGES_PER_SEG - 1);
    for (size_t i = 1; i < RCGC_PAGES_PER_SEG; i++) {
        rcgc_page_t *pg = &seg->pages[i];
        if (!pg->committed) continue;
        _rcgc_pool.bytes_committed -= RCGC_PAGE_SIZE;
        _rcgc_pool.bytes_returned += RCGC_PAGE_SIZE;
        _rcgc_pool.retained_pages--;
    }
    if (seg->nfree == RCGC_PAGES_PER_SEG - 1) _rcgc_pool.empty_segments--;
    bucket_remove(seg);
    all_list_remove(seg);
    _rcgc_young_list_remove_locked(seg);
    segmap_set(seg, false);
    _rcgc_pool.segments--;
    _rcgc_pool.bytes_mapped -= seg->map_size;
    _rcgc_pool.bytes_committed -= header_bytes();
    _rcgc_pool.bytes_returned += header_bytes();
    segidx_release(seg->index);
    size_t map_size = seg->map_size; /* read before the header becomes no-access */
    _rcgc_track_os_unmap(seg, map_size);
    _rcgc_os_unmap(seg, map_size);
}

static bool walk_in_progress(void) {
    return __atomic_load_n(&_rcgc_pool.xwalkers, __ATOMIC_ACQUIRE) != 0;
}

/* Unmap empty segments, keeping `keep` of them as spares (their pages are
 * decommitted by the purge, so a spare costs only its header's RSS). */
static void release_empty_segments_locked(size_t keep) {
    if (walk_in_progress()) return;
    rcgc_segment_t *seg = _rcgc_pool.all_first;
    while (seg && _rcgc_pool.empty_segments > keep) {
        rcgc_segment_t *next = seg->all_next;
        if (!seg->huge && seg->nfree == RCGC_PAGES_PER_SEG - 1) segment_destroy_locked(seg);
        seg = next;
    }
}

void _rcgc_segment_release_empty_locked(void) { release_empty_segments_locked(0); }

/* ---- decommitting free pages ------------------------------------------------- */
static void segment_purge_locked(rcgc_segment_t *seg) {
    size_t i = 1;
    while (i < RCGC_PAGES_PER_SEG && seg->retained) {
        rcgc_page_t *pg = &seg->pages[i];
        if (pg->state != RCGC_PAGE_FREE || !pg->committed) { i++; continue; }
        size_t first = i;
        while (i < RCGC_PAGES_PER_SEG && seg->pages[i].state == RCGC_PAGE_FREE && seg->pages[i].committed) {
            seg->pages[i].committed = 0;
            seg->retained--;
            i++;
        }
        size_t bytes = (i - first) << RCGC_PAGE_SHIFT;
        _rcgc_os_decommit((uint8_t *)seg + (first << RCGC_PAGE_SHIFT), bytes);
        _rcgc_track_span_noaccess((uint8_t *)seg + (first << RCGC_PAGE_SHIFT), bytes);
        _rcgc_pool.retained_pages -= i - first;
        _rcgc_pool.bytes_committed -= bytes;
        _rcgc_pool.bytes_returned += bytes;
    }
}

void _rcgc_segment_purge_locked(bool force) {
    for (rcgc_segment_t *seg = _rcgc_pool.all_first; seg; seg = seg->all_next)
        if (seg->retained) segment_purge_locked(seg);
    RCGC_ASSERT_INTERNAL(_rcgc_pool.retained_pages == 0);
    release_empty_segments_locked(force ? 0 : 1);
}

/* ---- pages --------------------------------------------------------------------- */
/* Free pages stay committed up to max(RCGC_RETAIN_PAGES, 1/8 of the pages in
 * use): a program cycling a few large blocks keeps reusing committed pages
 * instead of faulting them in after every madvise, and after a mass free the
 * bound falls with the heap, so RSS follows it down. */
static bool too_much_retained(void) {
    size_t limit = _rcgc_pool.pages_in_use / 8;
    if (limit < RCGC_RETAIN_PAGES) limit = RCGC_RETAIN_PAGES;
    return _rcgc_pool.retained_pages > limit || _rcgc_pool.empty_segments > 1;
}

/* Commit accounting for page `pg`, which leaves the FREE state. */
static void page_take(rcgc_segment_t *seg, rcgc_page_t *pg) {
    _rcgc_pool.pages_in_use++;
    if (pg->committed) {
        seg->retained--;
        _rcgc_pool.retained_pages--;
    } else {
        pg->committed = 1;
        _rcgc_pool.bytes_committed += RCGC_PAGE_SIZE;
    }
}

/* Pick a free page of seg, preferring one that is still committed. */
static size_t segment_pick_page(const rcgc_segment_t *seg) {
    uint64_t free_map = ~seg->used_map;
    RCGC_ASSERT_INTERNAL(free_map != 0);
    size_t first = (size_t)__builtin_ctzll(free_map);
    if (seg->retained == 0) return first;
    for (uint64_t m = free_map; m; m &= m - 1) {
        size_t i = (size_t)__builtin_ctzll(m);
        if (seg->pages[i].committed) return i;
    }
    return first;
}

/* A FREE page from the fullest segment that has one (a new segment if none).
 * Returns it in state SMALL; the caller initialises it. */
rcgc_page_t *_rcgc_segment_page_alloc_locked(void) {
    rcgc_segment_t *seg;
    if (_rcgc_pool.bucket_map == 0) {
        seg = segment_create_locked(RCGC_SEG_SIZE, false);
        if (seg == NULL) return NULL;
    } else {
        seg = _rcgc_pool.bucket[__builtin_ctzll(_rcgc_pool.bucket_map)];
    }
    size_t i = segment_pick_page(seg);
    rcgc_page_t *pg = &seg->pages[i];
    page_take(seg, pg);
    pg->state = RCGC_PAGE_SMALL;
    segment_mark_pages(seg, i, 1, true);
    return pg;
}

static void page_release_locked(rcgc_segment_t *seg, rcgc_page_t *pg) {
    _rcgc_pool.pages_in_use--;
    pg->state = RCGC_PAGE_FREE;
    __atomic_store_n(&pg->xowner, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&pg->xheap, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&pg->xthread_free, 0, __ATOMIC_RELAXED);
    pg->free = pg->local_free = NULL;
    pg->used = pg->capacity = 0;
    pg->next = pg->prev = NULL;
    pg->in_full = false;
    seg->retained++;
    _rcgc_pool.retained_pages++;
}

/* Return a page (SMALL, no live block) to its segment. Memory is kept
 * committed for reuse until more than RCGC_RETAIN_PAGES pages are retained,
 * then every retained page is decommitted in one pass. */
void _rcgc_segment_page_free_locked(rcgc_page_t *pg) {
    rcgc_segment_t *seg = _rcgc_ptr_segment(pg);
    page_release_locked(seg, pg);
    segment_mark_pages(seg, _rcgc_page_index(seg, pg), 1, false);
    if (too_much_retained())
        _rcgc_segment_purge_locked(false);
}

/* ---- large blocks: runs of whole pages ------------------------------------------ */
static size_t find_run(uint64_t used_map, size_t count) {
    uint64_t free_map = ~used_map, runs = free_map;
    for (size_t k = 1; k < count; k++) runs &= free_map >> k;
    /* page 0 is never free, so 0 means "no run"; the shifts bring in zeros,
     * so a run cannot wrap past page 63 */
    return runs ? (size_t)__builtin_ctzll(runs) : 0;
}

static rcgc_page_t *large_take_run(rcgc_segment_t *seg, size_t first, size_t count) {
    for (size_t i = first; i < first + count; i++) {
        page_take(seg, &seg->pages[i]);
        seg->pages[i].state = RCGC_PAGE_LARGE_TAIL;
    }
    segment_mark_pages(seg, first, count, true);
    rcgc_page_t *pg = &seg->pages[first];
    pg->state = RCGC_PAGE_LARGE;
    pg->run_pages = (uint32_t)count;
    return pg;
}

/* A run of `count` free pages, from the fullest segment that has one. */
static rcgc_page_t *large_alloc_locked(size_t count) {
    for (size_t n = count; n < RCGC_PAGES_PER_SEG; n++) {
        for (rcgc_segment_t *seg = _rcgc_pool.bucket[n]; seg; seg = seg->bucket_next) {
            size_t first = find_run(seg->used_map, count);
            if (first) return large_take_run(seg, first, count);
        }
    }
    rcgc_segment_t *seg = segment_create_locked(RCGC_SEG_SIZE, false);
    return seg ? large_take_run(seg, 1, count) : NULL;
}

static void *huge_alloc_locked(size_t size, rcgc_heap_kind_t kind) {
    size_t ps = _rcgc_os_page_size();
    if (size > SIZE_MAX / 2) return NULL;
    size_t off = _rcgc_kind_block_offset(kind);
    size_t map_size = (RCGC_PAGE_SIZE + off + size + ps - 1) & ~(ps - 1);
    rcgc_segment_t *seg = segment_create_locked(map_size, true);
    if (seg == NULL) return NULL;
    _rcgc_pool.empty_segments--;
    seg->used_map = ~(uint64_t)0; /* no page of a huge segment is ever handed out */
    seg->nfree = 0;
    _rcgc_pool.huge_segments++;
    _rcgc_pool.bytes_committed += map_size - header_bytes();
    rcgc_page_t *pg = &seg->pages[1];
    pg->state = RCGC_PAGE_HUGE;
    pg->kind = (uint8_t)kind;
    _rcgc_pool.large_blocks++;
    _rcgc_pool.large_bytes += map_size - RCGC_PAGE_SIZE;
    return (uint8_t *)seg + RCGC_PAGE_SIZE + off;
}

void *_rcgc_large_alloc(size_t size, rcgc_heap_kind_t kind) {
    _rcgc_pool_lock();
    void *p = NULL;
    if (size <= RCGC_LARGE_MAX) {
        size_t count = (size + _rcgc_kind_block_offset(kind) + RCGC_PAGE_SIZE - 1) >> RCGC_PAGE_SHIFT;
        rcgc_page_t *pg = large_alloc_locked(count);
        if (pg) {
            pg->kind = (uint8_t)kind;
            pg->block_size = (uint32_t)(count << RCGC_PAGE_SHIFT);
            _rcgc_pool.large_blocks++;
            _rcgc_pool.large_bytes += pg->block_size;
            p = _rcgc_page_blocks(pg);
        }
    } else {
        p = huge_alloc_locked(size, kind);
    }
    size_t usable = p ? _rcgc_large_usable(_rcgc_ptr_page(_rcgc_ptr_segment(p), p)) : 0;
    _rcgc_pool_unlock();
    if (p) _rcgc_track_block_alloc(p, usable, false);
    if (p && kind == RCGC_HEAP_GC) _rcgc_pool_mark_young(p);
    return p;
}

static void huge_free_locked(rcgc_segment_t *seg) {
    _rcgc_pool.huge_segments--;
    _rcgc_pool.bytes_committed -= seg->map_size - header_bytes();
    _rcgc_pool.bytes_returned += seg->map_size - header_bytes();
    seg->nfree = RCGC_PAGES_PER_SEG - 1; /* what segment_destroy expects */
    _rcgc_pool.empty_segments++;
    segment_destroy_locked(seg);
}

void _rcgc_large_free(rcgc_page_t *pg, void *p) {
    if (RCGC_UNLIKELY(p != _rcgc_page_blocks(pg)))
        rcgc_fatal_object(NULL, "rcgc allocator: free of %p, inside a large block but not its start", p);
    _rcgc_pool_lock();
    rcgc_segment_t *seg = _rcgc_ptr_segment(pg);
    _rcgc_track_block_free(p, _rcgc_large_usable(pg));
    if (pg->state == RCGC_PAGE_HUGE) {
        _rcgc_pool.large_blocks--;
        _rcgc_pool.large_bytes -= seg->map_size - RCGC_PAGE_SIZE;
        pg->state = RCGC_PAGE_FREE;
        if (!walk_in_progress()) huge_free_locked(seg);
        /* else: left mapped; _rcgc_pool_collect() unmaps it (walk.c) */
        _rcgc_pool_unlock();
        return;
    }
    size_t first = _rcgc_page_index(seg, pg), count = pg->run_pages;
    _rcgc_pool.large_blocks--;
    _rcgc_pool.large_bytes -= pg->block_size;
    for (size_t i = first; i < first + count; i++) page_release_locked(seg, &seg->pages[i]);
    segment_mark_pages(seg, first, count, false);
    if (too_much_retained())
        _rcgc_segment_purge_locked(false);
    _rcgc_pool_unlock();
}

/* Unmap huge segments whose block was freed during a walk. */
void _rcgc_segment_release_dead_huge_locked(void) {
    if (walk_in_progress()) return;
    rcgc_segment_t *seg = _rcgc_pool.all_first;
    while (seg) {
        rcgc_segment_t *next = seg->all_next;
        if (seg->huge && seg->pages[1].state == RCGC_PAGE_FREE) huge_free_locked(seg);
        seg = next;
    }
}
