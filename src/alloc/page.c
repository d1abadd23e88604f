/* alloc/page.c - one page of one size class: initialisation, lazy carving,
 * collecting the local and cross-thread free lists, and the flag protocol
 * on xthread_free that tells an owner a parked (full) page has room again.
 *
 * Every function here is called by the page's owner (or, for an abandoned
 * page, by the holder of the segment lock) except _rcgc_page_remote_push.
 */
#include "internal/alloc_types.h"

#include <sched.h>

/* Carve at most this many bytes per extension: a fresh page costs RSS only
 * for what is handed out (pymalloc's lazy carving). */
#define RCGC_EXTEND_BYTES 8192

void _rcgc_page_init(rcgc_page_t *pg, unsigned cls, rcgc_heap_kind_t kind) {
    RCGC_ASSERT_INTERNAL(pg->state == RCGC_PAGE_SMALL && cls < RCGC_CLASSES);
    uint32_t bs = (uint32_t)_rcgc_class_size(cls);
    pg->block_size = bs;
    pg->block_magic = (uint32_t)((((uint64_t)1 << 32) + bs - 1) / bs);
    pg->reserved = (uint32_t)((RCGC_PAGE_SIZE - _rcgc_kind_block_offset(kind)) / bs);
    pg->capacity = 0;
    pg->used = 0;
    pg->free = pg->local_free = NULL;
    pg->cls = (uint8_t)cls;
    pg->kind = (uint8_t)kind;
    pg->in_full = false;
    pg->next = pg->prev = NULL;
    __atomic_store_n(&pg->xthread_free, 0, __ATOMIC_RELAXED);
    _rcgc_track_span_noaccess(_rcgc_page_start(pg), RCGC_PAGE_SIZE); /* nothing carved yet */
}

/* Carve the next blocks of the page into `free` (which must be empty), in
 * address order so that a fresh page is handed out sequentially. */
bool _rcgc_page_extend(rcgc_page_t *pg) {
    RCGC_ASSERT_INTERNAL(pg->free == NULL);
    if (pg->capacity >= pg->reserved) return false;
    uint32_t bs = pg->block_size, n = RCGC_EXTEND_BYTES / bs;
    if (n == 0) n = 1;
    if (n > pg->reserved - pg->capacity) n = pg->reserved - pg->capacity;
    uint8_t *first = _rcgc_page_blocks(pg) + (size_t)pg->capacity * bs;
    uint8_t *last = first + (size_t)(n - 1) * bs;
    _rcgc_track_meta_open(first, (size_t)n * bs);
    for (uint8_t *b = first; b < last; b += bs) ((rcgc_block_t *)b)->next = (rcgc_block_t *)(b + bs);
    ((rcgc_block_t *)last)->next = NULL;
    _rcgc_track_span_noaccess(first, (size_t)n * bs);
    pg->free = (rcgc_block_t *)first;
    /* atomic: a remote free's debug check reads it (pool.c: is_block_start) */
    __atomic_store_n(&pg->capacity, pg->capacity + n, __ATOMIC_RELAXED);
    return true;
}

/* Take the cross-thread list, keeping the flag bits. */
static rcgc_block_t *take_thread_free(rcgc_page_t *pg) {
    uintptr_t old = __atomic_load_n(&pg->xthread_free, __ATOMIC_RELAXED);
    while (old & ~RCGC_TF_FLAGS) {
        if (__atomic_compare_exchange_n(&pg->xthread_free, &old, old & RCGC_TF_FLAGS, true,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return (rcgc_block_t *)(old & ~RCGC_TF_FLAGS);
    }
    return NULL;
}

/* Move local_free and the cross-thread list into `free`. Returns the number
 * of cross-thread frees collected (they leave `used`). */
uint32_t _rcgc_page_collect(rcgc_page_t *pg) {
    if (pg->local_free) {
        if (pg->free == NULL) {
            pg->free = pg->local_free;
        } else {
            rcgc_block_t *tail = pg->local_free, *next;
            while ((next = _rcgc_block_next(tail)) != NULL) tail = next;
            _rcgc_block_set_next(tail, pg->free);
            pg->free = pg->local_free;
        }
        pg->local_free = NULL;
    }
    rcgc_block_t *list = take_thread_free(pg);
    if (list == NULL) return 0;
    uint32_t n = 1;
    rcgc_block_t *tail = list, *next;
    while ((next = _rcgc_block_next(tail)) != NULL) { tail = next; n++; }
    _rcgc_block_set_next(tail, pg->free);
    pg->free = list;
    RCGC_ASSERT(pg->used >= n);
    pg->used -= n;
    return n;
}

/* ---- the full-page flag protocol (see RCGC_TF_* in alloc_types.h) --------- */

unsigned _rcgc_page_flags(const rcgc_page_t *pg) {
    return (unsigned)(__atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE) & RCGC_TF_FLAGS);
}

/* Park the page as full: succeeds only from NORMAL with no remote free
 * pending (a page still on the delayed stack cannot be parked again). */
bool _rcgc_page_try_park(rcgc_page_t *pg) {
    uintptr_t expected = RCGC_TF_NORMAL;
    return __atomic_compare_exchange_n(&pg->xthread_free, &expected, (uintptr_t)RCGC_TF_FULL, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* Unpark: FULL -> NORMAL (keeping any pending list). Waits while a remote
 * free is pushing the page on the delayed stack; leaves NOTIFIED as it is
 * (the page stays on the stack until the owner pops it). */
void _rcgc_page_unpark(rcgc_page_t *pg) {
    uintptr_t old = __atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE);
    for (;;) {
        uintptr_t flags = old & RCGC_TF_FLAGS;
        if (flags == RCGC_TF_NOTIFYING) {
            sched_yield();
            old = __atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE);
            continue;
        }
        if (flags != RCGC_TF_FULL) return;
        if (__atomic_compare_exchange_n(&pg->xthread_free, &old, old & ~RCGC_TF_FLAGS, true,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return;
    }
}

/* The owner popped pg from its delayed stack: NOTIFIED -> NORMAL. */
void _rcgc_page_delayed_done(rcgc_page_t *pg) {
    uintptr_t old = __atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE);
    RCGC_ASSERT_INTERNAL((old & RCGC_TF_FLAGS) == RCGC_TF_NOTIFIED);
    while (!__atomic_compare_exchange_n(&pg->xthread_free, &old, old & ~RCGC_TF_FLAGS, true, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
    }
}

static void heap_push_delayed(rcgc_heap_t *heap, rcgc_page_t *pg) {
    rcgc_page_t *head = __atomic_load_n(&heap->xdelayed, __ATOMIC_RELAXED);
    do {
        __atomic_store_n(&pg->xdelayed_next, head, __ATOMIC_RELAXED);
    } while (!__atomic_compare_exchange_n(&heap->xdelayed, &head, pg, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/* A free from a thread that does not own the page: one CAS. If the page was
 * parked, the same CAS pins it (NOTIFYING) while we push it on its heap's
 * delayed stack; the heap stays valid because the owner cannot abandon a
 * pinned page and tlds are never freed. */
void _rcgc_page_remote_push(rcgc_page_t *pg, rcgc_block_t *b) {
    uintptr_t old = __atomic_load_n(&pg->xthread_free, __ATOMIC_RELAXED), flags;
    do {
        flags = old & RCGC_TF_FLAGS;
        _rcgc_block_set_next(b, (rcgc_block_t *)(old & ~RCGC_TF_FLAGS));
    } while (!__atomic_compare_exchange_n(&pg->xthread_free, &old,
                                          (uintptr_t)b | (flags == RCGC_TF_FULL ? RCGC_TF_NOTIFYING : flags),
                                          true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    if (RCGC_LIKELY(flags != RCGC_TF_FULL)) return;
    rcgc_heap_t *heap = __atomic_load_n(&pg->xheap, __ATOMIC_ACQUIRE);
    RCGC_ASSERT_INTERNAL(heap != NULL); /* parked pages are owned */
    heap_push_delayed(heap, pg);
    old = __atomic_load_n(&pg->xthread_free, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&pg->xthread_free, &old, (old & ~RCGC_TF_FLAGS) | RCGC_TF_NOTIFIED,
                                        true, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
}

/* ---- validation (expensive asserts, tests) ------------------------------------ */
static bool block_in_page(const rcgc_page_t *pg, const rcgc_block_t *b) {
    const uint8_t *start = _rcgc_page_blocks(pg);
    if ((const uint8_t *)b < start) return false;
    size_t off = (size_t)((const uint8_t *)b - start);
    return off < (size_t)pg->capacity * pg->block_size && off % pg->block_size == 0;
}

static bool list_count(const rcgc_page_t *pg, const rcgc_block_t *b, uint32_t *n) {
    for (; b; b = _rcgc_block_next((rcgc_block_t *)b)) {
        if (!block_in_page(pg, b) || ++*n > pg->capacity) return false;
    }
    return true;
}

/* Check the counting invariant of a SMALL page (owner, or world stopped). */
bool _rcgc_page_is_valid(const rcgc_page_t *pg) {
    if (pg->state != RCGC_PAGE_SMALL) return true;
    uint32_t used = _rcgc_page_used(pg);
    if (pg->capacity > pg->reserved || used > pg->capacity) return false;
    if (((pg->used & RCGC_USED_PARKED) != 0) != pg->in_full) return false;
    uint32_t nfree = 0, nremote = 0;
    if (!list_count(pg, pg->free, &nfree) || !list_count(pg, pg->local_free, &nfree)) return false;
    uintptr_t tf = __atomic_load_n(&pg->xthread_free, __ATOMIC_ACQUIRE);
    if (!list_count(pg, (const rcgc_block_t *)(tf & ~RCGC_TF_FLAGS), &nremote)) return false;
    return nfree + used == pg->capacity && nremote <= used;
}
