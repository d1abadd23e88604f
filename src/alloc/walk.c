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

#define WALK_WORDS (RCGC_PAGE_SIZE / RCGC_BLOCK_ALIGN / 64)

static void mark_free(const rcgc_page_t *pg, const rcgc_block_t *b, uint64_t *map) {
    for (; b; b = b->next) {
        uint32_t i = _rcgc_block_index(pg, b);
        RCGC_ASSERT_INTERNAL(i < pg->capacity);
        map[i >> 6] |= (uint64_t)1 << (i & 63);
    }
}

static int visit_all(uint8_t *start, uint32_t bs, uint32_t count, rcgc_pool_visit_fn fn, void *arg) {
    for (uint32_t i = 0; i < count; i++) {
        int r = fn(start + (size_t)i * bs, bs, arg);
        if (r) return r;
    }
    return 0;
}

static int visit_small_page(rcgc_page_t *pg, rcgc_pool_visit_fn fn, void *arg) {
    if (pg->used == 0) return 0;
    uint8_t *start = _rcgc_page_start(pg);
    uint32_t bs = pg->block_size, cap = pg->capacity;
    const rcgc_block_t *remote =
        (const rcgc_block_t *)(__atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE) & ~RCGC_TF_FLAGS);
    if (pg->free == NULL && pg->local_free == NULL && remote == NULL) return visit_all(start, bs, cap, fn, arg);
    uint64_t map[WALK_WORDS];
    uint32_t words = (cap + 63) / 64;
    for (uint32_t w = 0; w < words; w++) map[w] = 0;
    mark_free(pg, pg->free, map);
    mark_free(pg, pg->local_free, map);
    mark_free(pg, remote, map);
    if (cap & 63) map[words - 1] |= ~(uint64_t)0 << (cap & 63); /* uncarved: not live */
    for (uint32_t w = 0; w < words; w++) {
        for (uint64_t live = ~map[w]; live; live &= live - 1) {
            uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(live);
            int r = fn(start + (size_t)i * bs, bs, arg);
            if (r) return r;
        }
    }
    return 0;
}

static int visit_segment(rcgc_segment_t *seg, rcgc_heap_kind_t kind, rcgc_pool_visit_fn fn, void *arg) {
    for (size_t i = 1; i < RCGC_PAGES_PER_SEG; i++) {
        rcgc_page_t *pg = &seg->pages[i];
        if (pg->kind != kind) continue;
        int r = 0;
        switch (pg->state) {
        case RCGC_PAGE_SMALL: r = visit_small_page(pg, fn, arg); break;
        case RCGC_PAGE_LARGE: r = fn(_rcgc_page_start(pg), pg->block_size, arg); break;
        case RCGC_PAGE_HUGE: r = fn(_rcgc_page_start(pg), seg->map_size - RCGC_PAGE_SIZE, arg); break;
        default: break;
        }
        if (r) return r;
        if (seg->huge) break;
    }
    return 0;
}

int _rcgc_heap_visit(rcgc_heap_kind_t kind, rcgc_pool_visit_fn fn, void *arg) {
    RCGC_ASSERT((unsigned)kind < RCGC_HEAP_KINDS && fn != NULL);
    __atomic_fetch_add(&_rcgc_pool.xwalkers, 1, __ATOMIC_ACQ_REL);
    _rcgc_pool_lock();
    rcgc_segment_t *seg = _rcgc_pool.all_first;
    _rcgc_pool_unlock();
    int r = 0;
    while (seg && r == 0) {
        r = visit_segment(seg, kind, fn, arg);
        _rcgc_pool_lock();
        seg = seg->all_next;
        _rcgc_pool_unlock();
    }
    __atomic_fetch_sub(&_rcgc_pool.xwalkers, 1, __ATOMIC_ACQ_REL);
    return r;
}

int rcgc_heap_visit_blocks(rcgc_alloc_heap_t heap, rcgc_block_visitor_fn fn, void *arg) {
    if ((unsigned)heap >= RCGC_HEAP_KINDS || fn == NULL) return _rcgc_fail_int(RCGC_EINVAL, "invalid heap or visitor");
    return _rcgc_heap_visit((rcgc_heap_kind_t)heap, fn, arg);
}
