/* internal/alloc_types.h - the pooled allocator's data structures, their
 * invariants, and the inline helpers shared by src/alloc/{pool,page,segment,
 * heap,walk,stats}.c. Design notes: docs/design/allocator.md.
 *
 * Overview
 *   segment  4 MiB, aligned to 4 MiB, from the OS. Page 0 holds the segment
 *            header (this struct, page descriptors included); pages 1..63 hold
 *            blocks. The segment of any block is `p & ~(RCGC_SEG_SIZE-1)`, its
 *            page descriptor `seg->pages[(p >> 16) & 63]`. A huge block (more
 *            than RCGC_LARGE_MAX bytes) gets a segment of its own, sized to fit.
 *   page     64 KiB of blocks of one size class, owned by one thread's heap of
 *            one kind (MEM, OBJECT, GC), or abandoned (no owner) after that
 *            thread exited. A large block (16 KiB < n <= 1 MiB) takes a run of
 *            whole pages described by the run's first descriptor.
 *   heap     per thread and per kind: for each size class the current page
 *            (`direct`), a queue of pages that may have free blocks, and a
 *            queue of exhausted ("full") pages.
 *   tld      a thread's three heaps. Never freed: recycled for new threads, so
 *            a stale pointer read by another thread still points at a heap.
 *
 * Locking
 *   The allocator has one mutex, `_rcgc_pool.lock` (segment lock). It guards
 *   every segment field, page state transitions (free <-> in use), the
 *   abandoned pools and the tld recycling list. It is never taken on the fast
 *   paths; a thread takes it to get or return a whole page, for large blocks,
 *   at thread exit, and for walks, stats and collects.
 *   Page fields are "owner only" (the thread whose token is in `xowner`), "lock"
 *   (segment lock), or atomic (the `x` prefix), as written beside each field.
 *   An abandoned page's owner-only fields belong to whoever holds the lock.
 */
#ifndef RCGC_INTERNAL_ALLOC_TYPES_H
#define RCGC_INTERNAL_ALLOC_TYPES_H

#include "internal/alloc_internal.h"
#include "internal/track.h"
#include <pthread.h>

/* ---- geometry -------------------------------------------------------------- */
#define RCGC_SEG_SHIFT 22
#define RCGC_SEG_SIZE ((size_t)1 << RCGC_SEG_SHIFT)        /* 4 MiB */
#define RCGC_SEG_MASK (RCGC_SEG_SIZE - 1)
#define RCGC_PAGE_SHIFT 16
#define RCGC_PAGE_SIZE ((size_t)1 << RCGC_PAGE_SHIFT)      /* 64 KiB */
#define RCGC_PAGES_PER_SEG (RCGC_SEG_SIZE / RCGC_PAGE_SIZE) /* 64; page 0 = header */

#define RCGC_SMALL_MAX 512      /* classes 0..31: (n-1)>>4, 16-byte steps */
#define RCGC_SMALL_CLASSES 32
#define RCGC_MEDIUM_MAX 16384   /* classes 32..51: four per power of two */
#define RCGC_CLASSES 52
#define RCGC_LARGE_MAX ((size_t)16 << RCGC_PAGE_SHIFT) /* 1 MiB: page runs */
#define RCGC_HEAP_KINDS 3
#define RCGC_BLOCK_ALIGN 16

/* Committed free pages kept for reuse before the segment lock decommits them
 * (at least 256 KiB; more in a big heap, see segment.c: too_much_retained):
 * a burst of frees returns memory at once, a page that empties and refills
 * does not cost an madvise each time. */
#define RCGC_RETAIN_PAGES 4

/* ---- blocks ---------------------------------------------------------------- */
/* A free block: its first word links it into one of its page's free lists. */
typedef struct rcgc_block {
    struct rcgc_block *next;
} rcgc_block_t;

/* The pool reads and writes links inside free blocks only through these, so
 * that with RCGC_TRACK_ASAN / RCGC_TRACK_VALGRIND (internal/track.h) free
 * blocks stay no-access to the tools; without them they are plain loads and
 * stores. */
static inline rcgc_block_t *_rcgc_block_next(rcgc_block_t *b) {
    _rcgc_track_meta_open(b, sizeof *b);
    rcgc_block_t *next = b->next;
    _rcgc_track_meta_close(b, sizeof *b);
    return next;
}
static inline void _rcgc_block_set_next(rcgc_block_t *b, rcgc_block_t *next) {
    _rcgc_track_meta_open(b, sizeof *b);
    b->next = next;
    _rcgc_track_meta_close(b, sizeof *b);
}

/* ---- pages ----------------------------------------------------------------- */
typedef enum rcgc_page_state {
    RCGC_PAGE_FREE = 0,   /* not in use; `committed` says whether it holds RSS */
    RCGC_PAGE_SMALL,      /* blocks of class `cls`, owned by a heap or abandoned */
    RCGC_PAGE_LARGE,      /* first page of a run holding one large block */
    RCGC_PAGE_LARGE_TAIL, /* a later page of that run (never a block start) */
    RCGC_PAGE_HUGE,       /* page 1 of a huge segment: one block */
    RCGC_PAGE_HEADER      /* page 0: the segment header */
} rcgc_page_state_t;

/* The low two bits of a page's xthread_free word: has the owner parked the
 * page in its full queue, and is the page on its heap's delayed stack?
 *   NORMAL     not parked, not on the stack: remote frees just push.
 *   FULL       parked, with an empty list when parked: the next remote free
 *              CASes FULL -> NOTIFYING together with its push.
 *   NOTIFYING  that remote thread is pushing the page on the owning heap's
 *              delayed stack (xdelayed); the page is pinned: the owner waits
 *              (a few instructions) before unparking, freeing or abandoning it.
 *   NOTIFIED   the page is on the heap's delayed stack (parked or not: a local
 *              free may have unparked it meanwhile). Only the owner, popping
 *              the stack, turns NOTIFIED back into NORMAL; until then the page
 *              is neither parked again nor given back to its segment.
 * Flags and list change in one CAS, so a wakeup is never lost, and a page is
 * pushed at most once per FULL episode, so the stack needs no ABA care (the
 * owner only ever takes the whole stack). */
enum { RCGC_TF_NORMAL = 0, RCGC_TF_FULL = 1, RCGC_TF_NOTIFYING = 2, RCGC_TF_NOTIFIED = 3 };
#define RCGC_TF_FLAGS ((uintptr_t)3)

struct rcgc_heap;
struct rcgc_tld;

/* Page descriptor (out of line, in the segment header).
 *
 * Counting invariants for a SMALL page (owner's view, or the lock holder's
 * for an abandoned page):
 *     used = blocks handed out - blocks returned to `free`/`local_free`
 *          = live blocks + |xthread_free|
 *     |free| + |local_free| + used == capacity <= reserved
 *   Blocks pending in xthread_free are still counted in `used` until the
 *   owner collects them (then used -= their number and they join `free`).
 *   Blocks [capacity, reserved) are not carved yet: never touched, no RSS.
 * A page with used == 0 and no pending remote frees is empty: the owner
 * keeps it only while it is its heap's current page for the class
 * (hysteresis), otherwise returns it to its segment.
 */
typedef struct rcgc_page {
    /* first cache line: everything the malloc and free fast paths touch */
    /* owner only */
    rcgc_block_t *free;                /* malloc pops here */
    rcgc_block_t *local_free;          /* the owner's frees push here */
    uint32_t used;                     /* see the invariants above; bit 31 (RCGC_USED_PARKED)
                                          mirrors in_full, so the free fast path tests both
                                          with one signed compare */
    uint32_t capacity;                 /* blocks carved so far (owner writes atomically: remote
                                          frees read it in debug checks) */
    bool in_full;                      /* in the heap's full queue (tf flags != NORMAL); owner
                                          only while owned, lock while abandoned */
    /* set when the page is assigned (lock), constant while in use */
    uint8_t cls;                       /* size class (SMALL) */
    uint8_t kind;                      /* rcgc_heap_kind_t of the blocks */
    uint8_t state;                     /* rcgc_page_state_t; transitions under the lock */
    uint8_t committed;                 /* lock: holds (or may hold) physical memory */
    uint32_t reserved;                 /* blocks that fit in the page */
    uint32_t block_size;               /* bytes per block (a run's size for LARGE/HUGE) */
    uint32_t block_magic;              /* ceil(2^32 / block_size): index = (off * magic) >> 32 */
    uint32_t run_pages;                /* LARGE: pages in the run */
    /* atomic: any thread */
    uintptr_t xthread_free;            /* rcgc_block_t*: remote frees (CAS push; owner exchanges) */
    void *xowner;                      /* owning thread's token (its tld's `token`, see
                                          _rcgc_thread_token); NULL when abandoned/large/free */
    /* second cache line */
    struct rcgc_heap *xheap;           /* atomic: owning heap (NULL when abandoned): remote frees
                                          push parked pages on its delayed stack */
    struct rcgc_page *xdelayed_next;   /* atomic: link on that stack (written while NOTIFYING) */
    /* owner only while owned; lock while abandoned */
    struct rcgc_page *next, *prev;     /* heap queue, or the abandoned pool */
} __attribute__((aligned(128))) rcgc_page_t; /* 128 B: the page of p is one shift and one mask */

#define RCGC_USED_PARKED 0x80000000u
/* `used` without the parked bit. */
static inline uint32_t _rcgc_page_used(const rcgc_page_t *pg) { return pg->used & ~RCGC_USED_PARKED; }

/* ---- segments -------------------------------------------------------------- */
/* Invariants (all fields under the segment lock):
 *   bit i of used_map == 1 <=> pages[i].state != FREE (bit 0 always set);
 *   nfree == number of zero bits in used_map (the bucket it sits in);
 *   a segment with nfree > 0 is in bucket[nfree]; all segments are in the
 *   address-ordered `all` list; its 4 MiB region bit is set in the segment
 *   map exactly while it is mapped.
 */
typedef struct rcgc_segment {
    uint64_t magic;                      /* RCGC_SEG_MAGIC ^ address */
    uint32_t index;                      /* name in _rcgc_segtab (default build; 0 in the
                                            free-threaded build); at RCGC_SEG_INDEX_OFFSET */
    size_t map_size;                     /* bytes mapped (RCGC_SEG_SIZE, more for huge) */
    uint64_t used_map;                   /* pages in use (see above) */
    unsigned nfree;
    unsigned retained;                   /* FREE pages still committed */
    bool huge;
    /* atomic (relaxed OR by allocating threads, cleared by the collector
     * while the world is stopped): bit i set => page i may hold GC objects
     * allocated or tracked since the last young collection (a "young page";
     * docs/design/gc-ft.md). Only GC-kind pages are ever marked. */
    uint64_t xgc_young;
    /* lock: in the pool's young list (young_first) exactly while its bit
     * mask may be non-zero: added by whoever sets the first bit, removed by
     * _rcgc_heap_young_reset or when the segment is destroyed */
    bool in_young;
    struct rcgc_segment *young_next, *young_prev;
    struct rcgc_segment *all_next, *all_prev;     /* address order */
    struct rcgc_segment *bucket_next, *bucket_prev; /* bucket[nfree] */
    rcgc_page_t pages[RCGC_PAGES_PER_SEG];
} rcgc_segment_t;

#define RCGC_SEG_MAGIC 0x72636763u /* "rcgc" */

/* ---- heaps ----------------------------------------------------------------- */
typedef struct rcgc_page_queue {
    rcgc_page_t *first, *last;
} rcgc_page_queue_t;

/* One heap per thread per kind; every field is owner only except xdelayed.
 * Invariants: direct[c] is avail[c].first, or &_rcgc_empty_page when avail[c]
 * is empty; a page is in exactly one of avail[c] / full[c]; in_full <=>
 * the page is in full[c] <=> its xthread_free flags are not NORMAL. */
typedef struct rcgc_heap {
    rcgc_page_t *direct[RCGC_CLASSES];
    rcgc_page_queue_t avail[RCGC_CLASSES];
    rcgc_page_queue_t full[RCGC_CLASSES];
    rcgc_page_t *xdelayed;       /* atomic: parked pages that got a remote free (Treiber
                                    stack: remote threads push, the owner takes it whole) */
    struct rcgc_tld *tld;
    rcgc_heap_kind_t kind;
    uint32_t slow_calls;         /* heartbeat: generic-path calls */
} rcgc_heap_t;

typedef struct rcgc_tld {
    rcgc_heap_t heaps[RCGC_HEAP_KINDS];
    void *token;                 /* the owning thread's _rcgc_thread_token(), written when the
                                    tld is bound to a thread; what its pages' xowner hold */
    struct rcgc_tld *next_free;  /* lock: recycling list */
    bool live;                   /* lock: bound to a running thread */
} rcgc_tld_t;

/* ---- the allocator's global state ------------------------------------------ */
typedef struct rcgc_pool_state {
    pthread_mutex_t lock;
    bool initialized;                        /* lock */
    rcgc_segment_t *all_first;               /* lock: address-ordered segment list */
    rcgc_segment_t *young_first;             /* lock: segments with young GC pages */
    rcgc_segment_t *bucket[RCGC_PAGES_PER_SEG]; /* lock: segments by nfree (1..63) */
    uint64_t bucket_map;                     /* lock: bit n set <=> bucket[n] non-empty */
    rcgc_page_queue_t abandoned[RCGC_HEAP_KINDS][RCGC_CLASSES]; /* lock */
    size_t abandoned_count;                  /* lock for writes (atomic); racy peek without */
    rcgc_tld_t *tld_free;                    /* lock: recyclable tlds */
    size_t empty_segments;                   /* lock: segments with no page in use */
    size_t retained_pages;                   /* lock: FREE pages still committed */
    size_t pages_in_use;                     /* lock: pages not FREE (small pages, large runs) */
    unsigned xwalkers;                       /* atomic: walks in progress (defer unmaps) */
    unsigned xexiting;                       /* atomic: threads tearing their heaps down; a walk
                                                and a teardown never overlap (walk.c) */
    /* statistics, lock */
    size_t segments, huge_segments;
    size_t bytes_mapped;                     /* address space held */
    size_t bytes_committed;                  /* pages in use or retained, headers, huge */
    size_t bytes_returned;                   /* cumulative: decommitted + unmapped */
    size_t large_blocks, large_bytes;        /* LARGE and HUGE blocks in use */
    size_t tld_count, tld_bytes;
    size_t pages_reclaimed, pages_abandoned;
    size_t fresh_pages;                      /* pages handed to heaps (heartbeat) */
    /* segment names (default build), lock: indices 1..segidx_top-1 were
     * given out; free ones are chained through _rcgc_segtab (odd entries) */
    uint32_t segidx_top, segidx_free;
} rcgc_pool_state_t;

RCGC_INTERNAL extern rcgc_pool_state_t _rcgc_pool;
RCGC_INTERNAL extern rcgc_page_t _rcgc_empty_page;
RCGC_INTERNAL extern rcgc_tld_t _rcgc_empty_tld;

/* ---- segment map: which 4 MiB regions are rcgc segments --------------------- */
/* One byte per 4 MiB region of a 47-bit address space: 32 MiB of zero BSS of
 * which only the OS pages covering mapped segments are ever touched. A byte
 * rather than a bit: the test on every free is a shift, a mask and one
 * compare with memory (a bit costs three instructions more). */
#define RCGC_SEGMAP_ENTRIES ((uint64_t)1 << (47 - RCGC_SEG_SHIFT))
RCGC_INTERNAL extern uint8_t _rcgc_segmap[RCGC_SEGMAP_ENTRIES];

/* Is the byte at p non-zero? A relaxed atomic load; on x86-64 written as one
 * compare with memory (GCC turns the atomic load into a load, a test and a
 * branch). */
static inline bool _rcgc_byte_nonzero(const uint8_t *p) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    bool nz;
    __asm__("cmpb $0, %1" : "=@ccne"(nz) : "m"(*p));
    return nz;
#else
    return __atomic_load_n(p, __ATOMIC_RELAXED) != 0;
#endif
}

/* A mapped segment's byte also says whether frees of its blocks may take the
 * inlined fast path (domain.c): FAST while the MEM and OBJ domains both run
 * their default pool base with nothing intercepting, SLOW otherwise (hooks,
 * debug or malloc modes, tracing, failure injection), so the public free
 * entry points need no test of their own (segment.c: _rcgc_segmap_set_fast). */
enum { RCGC_SEGMAP_NONE = 0, RCGC_SEGMAP_FAST = 1, RCGC_SEGMAP_SLOW = 2 };

/* Addresses at or above 2^47 alias lower ones (the index is masked, which
 * saves a compare on every free); user-space mappings on x86-64 and AArch64
 * stay below 2^47 unless a process asks mmap for more. */
static inline const uint8_t *_rcgc_segmap_entry(uintptr_t p) {
    return &_rcgc_segmap[(p >> RCGC_SEG_SHIFT) & (RCGC_SEGMAP_ENTRIES - 1)];
}
static inline bool _rcgc_segmap_has(uintptr_t p) {
    return _rcgc_byte_nonzero(_rcgc_segmap_entry(p));
}
/* p lies in a segment whose byte is FAST. */
static inline bool _rcgc_segmap_fast(uintptr_t p) {
    const uint8_t *e = _rcgc_segmap_entry(p);
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    bool eq;
    __asm__("cmpb %2, %1" : "=@cce"(eq) : "m"(*e), "i"(RCGC_SEGMAP_FAST));
    return eq;
#else
    return __atomic_load_n(e, __ATOMIC_RELAXED) == RCGC_SEGMAP_FAST;
#endif
}

static inline rcgc_segment_t *_rcgc_ptr_segment(const void *p) {
    return (rcgc_segment_t *)((uintptr_t)p & ~(uintptr_t)RCGC_SEG_MASK);
}
static inline rcgc_page_t *_rcgc_ptr_page(rcgc_segment_t *seg, const void *p) {
    /* == &seg->pages[(p >> 16) & 63], as one shift and one mask */
    uintptr_t off = ((uintptr_t)p >> (RCGC_PAGE_SHIFT - 7)) & ((RCGC_PAGES_PER_SEG - 1) << 7);
    return (rcgc_page_t *)((uint8_t *)seg->pages + off);
}
static inline size_t _rcgc_page_index(const rcgc_segment_t *seg, const rcgc_page_t *pg) {
    return (size_t)(pg - seg->pages);
}
static inline uint8_t *_rcgc_page_start(const rcgc_page_t *pg) {
    rcgc_segment_t *seg = _rcgc_ptr_segment(pg);
    return (uint8_t *)seg + (_rcgc_page_index(seg, pg) << RCGC_PAGE_SHIFT);
}
/* The first block of a page (SMALL), or the block of a LARGE/HUGE page: the
 * page start plus the kind's offset (RCGC_GC_BLOCK_OFFSET). */
static inline uint8_t *_rcgc_page_blocks(const rcgc_page_t *pg) {
    return _rcgc_page_start(pg) + _rcgc_kind_block_offset(pg->kind);
}
/* Usable bytes of the block of a LARGE or HUGE page. */
static inline size_t _rcgc_large_usable(const rcgc_page_t *pg) {
    size_t run = pg->state == RCGC_PAGE_HUGE ? _rcgc_ptr_segment(pg)->map_size - RCGC_PAGE_SIZE
                                             : pg->block_size;
    return run - _rcgc_kind_block_offset(pg->kind);
}
/* Block index of p in its page (p must lie in a SMALL page). */
static inline uint32_t _rcgc_block_index(const rcgc_page_t *pg, const void *p) {
    uint64_t off = (uint64_t)((const uint8_t *)p - _rcgc_page_blocks(pg));
    return (uint32_t)((off * pg->block_magic) >> 32);
}

/* Does p start a block of the SMALL page pg (carved so far)? */
static inline bool _rcgc_is_block_start(const rcgc_page_t *pg, const void *p) {
    uint32_t i = _rcgc_block_index(pg, p);
    return i < __atomic_load_n(&pg->capacity, __ATOMIC_RELAXED)
           && _rcgc_page_blocks(pg) + (size_t)i * pg->block_size == (const uint8_t *)p;
}

/* ---- size classes ---------------------------------------------------------- */
static inline unsigned _rcgc_size_class(size_t n) {
    if (n <= RCGC_SMALL_MAX) return n ? (unsigned)((n - 1) >> 4) : 0;
    size_t m = n - 1;
    unsigned b = 63u - (unsigned)__builtin_clzll(m); /* >= 9 */
    unsigned sub = (unsigned)(m >> (b - 2)) & 3u;
    return RCGC_SMALL_CLASSES + (b - 9) * 4 + sub;
}
static inline size_t _rcgc_class_size(unsigned cls) {
    if (cls < RCGC_SMALL_CLASSES) return ((size_t)cls + 1) << 4;
    unsigned k = cls - RCGC_SMALL_CLASSES, b = 9 + k / 4, sub = k % 4;
    return (size_t)(4 + sub + 1) << (b - 2);
}

/* ---- the thread's heaps ------------------------------------------------------ */
RCGC_INTERNAL extern RCGC_TLS rcgc_tld_t *_rcgc_tls_tld;

/* What names the calling thread in a page's xowner: its thread pointer where
 * the compiler reads it in one instruction (no TLS offset to load from the
 * GOT: the free fast path's owner test is one load and one compare), else its
 * tld. A thread's pages are abandoned (xowner = NULL) when it exits, before a
 * new thread can get the same thread pointer. A thread that has not allocated
 * yet owns no page, whatever its token. */
#if (defined(__x86_64__) || defined(__aarch64__)) && defined(__has_builtin)
#if __has_builtin(__builtin_thread_pointer)
#define RCGC_TOKEN_IS_THREAD_POINTER 1
#endif
#endif
static inline void *_rcgc_thread_token(void) {
#ifdef RCGC_TOKEN_IS_THREAD_POINTER
    return __builtin_thread_pointer();
#else
    return _rcgc_tls_tld;
#endif
}

/* ---- fast paths, inlined into the entry points ------------------------------ */
/* The malloc fast path: a block of `kind` from the thread's current page of
 * the class, or NULL when anything is unusual (size 0 or above the small
 * classes, empty current page): the caller then calls _rcgc_pool_malloc,
 * which takes the generic path. Inlined into rcgc_obj_malloc & co., so a
 * default-mode allocation is one call frame (domain.c). */
static inline void *_rcgc_pool_try_malloc(size_t size, rcgc_heap_kind_t kind) {
    if (RCGC_LIKELY(size - 1 < RCGC_SMALL_MAX)) { /* 1..512; 0 wraps to the slow path */
        rcgc_page_t *pg = _rcgc_tls_tld->heaps[kind].direct[(size - 1) >> 4];
        rcgc_block_t *b = pg->free;
        if (RCGC_LIKELY(b != NULL)) {
            pg->free = _rcgc_block_next(b);
            pg->used++;
            _rcgc_track_block_alloc(b, pg->block_size, false);
            return b;
        }
    }
    return NULL;
}

/* The free fast path: the owner's free of a block of a small page that stays
 * neither empty nor parked. Returns false, having changed nothing, for
 * everything else (NULL, foreign pointers, any block while the segment map
 * says SLOW, other threads' pages, large
 * blocks, a page about to empty or parked, a double free of the last freed
 * block, a pointer that does not start a block in debug builds): the caller
 * then calls _rcgc_pool_free, which reports what is wrong. */
static inline bool _rcgc_pool_try_free(void *p) {
    if (RCGC_UNLIKELY(!_rcgc_segmap_fast((uintptr_t)p))) return false;
    rcgc_page_t *pg = _rcgc_ptr_page(_rcgc_ptr_segment(p), p);
    rcgc_block_t *b = p;
    if (RCGC_LIKELY(__atomic_load_n(&pg->xowner, __ATOMIC_RELAXED) == _rcgc_thread_token())
        /* debug builds: a pointer inside a block goes to _rcgc_pool_free, which reports it */
        && (rcgc_debug_level < 1 || _rcgc_is_block_start(pg, p))
        /* signed: a parked page (bit 31 of used) fails like one about to empty */
        && RCGC_LIKELY((int32_t)pg->used > 1 && b != pg->local_free)) {
        _rcgc_track_block_free(b, pg->block_size);
        _rcgc_block_set_next(b, pg->local_free);
        pg->local_free = b;
        pg->used--;
        return true;
    }
    return false;
}

/* ---- cross-file internals, by defining file --------------------------------- */
/* segment.c (caller holds the lock unless said otherwise) */
RCGC_INTERNAL void _rcgc_segmap_set_fast(bool fast);              /* no lock held */
RCGC_INTERNAL void _rcgc_pool_lock(void);
RCGC_INTERNAL void _rcgc_pool_unlock(void);
RCGC_INTERNAL void _rcgc_pool_ensure_init(void);                 /* no lock held */
RCGC_INTERNAL rcgc_page_t *_rcgc_segment_page_alloc_locked(void);
RCGC_INTERNAL void _rcgc_segment_page_free_locked(rcgc_page_t *pg);
RCGC_INTERNAL void *_rcgc_large_alloc(size_t size, rcgc_heap_kind_t kind); /* no lock held */
RCGC_INTERNAL void _rcgc_young_list_remove_locked(rcgc_segment_t *seg);
/* A heap walk and a thread's heap teardown (which collects and moves the
 * pages of an exiting thread, possibly while the world is stopped: an
 * exiting thread no longer stops for it) exclude each other (walk.c). */
RCGC_INTERNAL void _rcgc_walk_begin(void);
RCGC_INTERNAL void _rcgc_walk_end(void);
RCGC_INTERNAL void _rcgc_teardown_begin(void);
RCGC_INTERNAL void _rcgc_teardown_end(void);
RCGC_INTERNAL void _rcgc_large_free(rcgc_page_t *pg, void *p);             /* no lock held */
RCGC_INTERNAL void _rcgc_segment_purge_locked(bool force);
RCGC_INTERNAL void _rcgc_segment_release_empty_locked(void);
RCGC_INTERNAL void _rcgc_segment_release_dead_huge_locked(void);
/* page.c */
RCGC_INTERNAL void _rcgc_page_init(rcgc_page_t *pg, unsigned cls, rcgc_heap_kind_t kind);
RCGC_INTERNAL bool _rcgc_page_extend(rcgc_page_t *pg);
RCGC_INTERNAL uint32_t _rcgc_page_collect(rcgc_page_t *pg);
RCGC_INTERNAL bool _rcgc_page_is_valid(const rcgc_page_t *pg);
RCGC_INTERNAL bool _rcgc_page_try_park(rcgc_page_t *pg);
RCGC_INTERNAL void _rcgc_page_unpark(rcgc_page_t *pg);
RCGC_INTERNAL unsigned _rcgc_page_flags(const rcgc_page_t *pg);
RCGC_INTERNAL void _rcgc_page_delayed_done(rcgc_page_t *pg);
RCGC_INTERNAL void _rcgc_page_remote_push(rcgc_page_t *pg, rcgc_block_t *b);
/* heap.c */
RCGC_INTERNAL void *_rcgc_heap_malloc_generic(size_t size, rcgc_heap_kind_t kind);
RCGC_INTERNAL void _rcgc_heap_page_emptied(rcgc_page_t *pg);
RCGC_INTERNAL void _rcgc_heap_page_unfull(rcgc_page_t *pg);
RCGC_INTERNAL void _rcgc_heap_collect_current(bool force);
RCGC_INTERNAL void _rcgc_abandoned_collect_locked(void);

#endif
