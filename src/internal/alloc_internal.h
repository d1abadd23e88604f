/* internal/alloc_internal.h - what the object layer needs from the allocator.
 *
 * Objects are allocated by heap kind so the collector can find tracked objects
 * by walking their heap (free-threaded collector, heap checker):
 *   RCGC_HEAP_OBJECT  objects of non-GC types
 *   RCGC_HEAP_GC      objects of GC types (block = pre-header + object)
 * The returned block is 16-byte aligned (RCGC_HEAP_GC, default build: 8 mod
 * 16, so that the object after the pre-header is 16-byte aligned). Both calls honour the OBJ domain's
 * hooks (rcgc_alloc_set_allocator) and set RCGC_ENOMEM on failure.
 */
#ifndef RCGC_INTERNAL_ALLOC_H
#define RCGC_INTERNAL_ALLOC_H

#include "internal/core.h"

typedef enum rcgc_heap_kind {
    RCGC_HEAP_MEM = 0,    /* MEM-domain buffers */
    RCGC_HEAP_OBJECT = 1, /* objects of non-GC types (and OBJ-domain blocks) */
    RCGC_HEAP_GC = 2      /* objects of GC types: walked by the collector */
} rcgc_heap_kind_t;

/* The pooled allocator (alloc/pool.c and below): blocks are 16-byte aligned
 * (blocks over 16 KiB: 64 KiB aligned), except RCGC_HEAP_GC blocks of the
 * default build, which are 8 mod 16 (see RCGC_GC_BLOCK_OFFSET); NULL on failure (the caller sets the
 * error). Size 0 gives a unique 16-byte block. Any thread may free any block;
 * realloc(NULL, n) allocates in RCGC_HEAP_MEM, otherwise in the block's kind.
 * Freeing a pointer the pool did not allocate is a fatal error (see
 * docs/design/allocator.md for what is checked). */
RCGC_INTERNAL void *_rcgc_pool_malloc(size_t size, rcgc_heap_kind_t kind);
RCGC_INTERNAL void *_rcgc_pool_realloc(void *ptr, size_t size);
RCGC_INTERNAL void _rcgc_pool_free(void *ptr);

/* Queries on pool blocks (p must be what _rcgc_pool_malloc returned; any
 * other pointer answers 0 / false / -1, never faults):
 *   usable_size  bytes usable at p (>= the request: the class size);
 *   owns         p is the start of a block of an in-use pool page;
 *   kind_of      the heap kind p was allocated in. */
RCGC_INTERNAL size_t _rcgc_pool_usable_size(const void *p);
RCGC_INTERNAL bool _rcgc_pool_owns(const void *p);
RCGC_INTERNAL int _rcgc_pool_kind_of(const void *p);
/* Give memory back: the calling thread's empty pages (all of them if force,
 * else all but the current page of each class), abandoned pages whose blocks
 * were all freed, then decommit free pages and unmap empty segments (all if
 * force, else keeping one spare). */
RCGC_INTERNAL void _rcgc_pool_collect(bool force);

/* Heap walk: call fn(block, block_size, arg) for every live block of `kind`,
 * page by page in address order, abandoned pages (of exited threads)
 * included. A non-zero return from fn stops the walk and is returned.
 * Requires that no other thread allocates or frees in the pool meanwhile
 * (world stopped, or the default flavour's global lock held by the caller
 * while others wait); fn itself may allocate and may free the block it is
 * given (blocks allocated during the walk may or may not be visited). */
typedef int (*rcgc_pool_visit_fn)(void *block, size_t block_size, void *arg);
RCGC_INTERNAL int _rcgc_heap_visit(rcgc_heap_kind_t kind, rcgc_pool_visit_fn fn, void *arg);

/* ---- young pages (free-threaded collector) ------------------------------------
 * A GC page is marked young when it becomes a thread's current allocation
 * page for its class, when a large GC block is carved, and when an object in
 * it is tracked (rcgc_gc_track); a young collection visits only marked pages
 * (the objects allocated or tracked since the last young collection are all
 * there). _rcgc_heap_visit_young visits the live blocks of marked GC pages
 * (same rules as _rcgc_heap_visit); _rcgc_heap_young_reset (world stopped)
 * clears the mark of every page that is not some heap's current page. */
RCGC_INTERNAL void _rcgc_pool_mark_young(const void *block);
RCGC_INTERNAL int _rcgc_heap_visit_young(rcgc_pool_visit_fn fn, void *arg);
RCGC_INTERNAL void _rcgc_heap_young_reset(void);
/* The thread id (rcgc_thread_id()) of the thread whose heap owns the page of
 * block p, or 0 when no running thread owns it (abandoned page, large block,
 * or a platform where page ownership is not recorded by thread id). Used by
 * the free-threaded collector to give objects an owner back. */
RCGC_INTERNAL uintptr_t _rcgc_pool_owner_tid(const void *p);

/* ---- segment names (default build) -------------------------------------------
 * Every mapped pool segment has a small index, 1..RCGC_SEGTAB_SIZE-1, stored
 * in its header (at RCGC_SEG_INDEX_OFFSET) and reused after the segment is
 * unmapped; _rcgc_segtab[index] is the segment's base address. The collector's
 * compressed links (gc/gc_list_default.h) name a GC object by
 * (index << 18) | its 16-byte granule in the segment, and decode a name with
 * one load from this table. Index 0 is never given to a segment: the
 * collector points it at its own list-head area. Entries are written under
 * the segment lock before any block of the segment is handed out; a reader
 * only decodes names of objects it reached through the global lock.
 * Free-threaded build: no indices (no pre-header, no links). */
#define RCGC_SEGTAB_BITS 14
#define RCGC_SEGTAB_SIZE ((size_t)1 << RCGC_SEGTAB_BITS)
#define RCGC_SEG_INDEX_OFFSET 8
RCGC_INTERNAL extern uintptr_t _rcgc_segtab[RCGC_SEGTAB_SIZE];
/* The index of the pool segment holding p. */
static inline uint32_t _rcgc_segment_index(const void *p) {
    uintptr_t seg = (uintptr_t)p & ~(((uintptr_t)1 << 22) - 1);
    return *(const uint32_t *)(seg + RCGC_SEG_INDEX_OFFSET);
}

/* Where blocks of a kind start in their page: GC blocks of the default build
 * start 8 bytes in, so that the object after the 8-byte pre-header is 16-byte
 * aligned (block = 8 mod 16, object = 0 mod 16); every other block starts at
 * the page start (16-byte aligned). Large and huge blocks follow the same
 * rule. */
#ifdef RCGC_FREE_THREADED
#define RCGC_GC_BLOCK_OFFSET 0
#else
#define RCGC_GC_BLOCK_OFFSET 8
#endif
static inline size_t _rcgc_kind_block_offset(unsigned kind) {
    return kind == RCGC_HEAP_GC ? RCGC_GC_BLOCK_OFFSET : 0;
}

RCGC_INTERNAL void *_rcgc_alloc_object(size_t size, rcgc_heap_kind_t kind);
RCGC_INTERNAL void _rcgc_free_object(void *block, rcgc_heap_kind_t kind);
/* Install the mode and register the allocator's fork handlers (pool, tracer
 * and debug-quarantine locks held across fork()). rcgc_init calls it before
 * the thread layer registers its own handlers, whose prepare step (stopping
 * the world, taking the global lock) must run before ours: prepare handlers
 * run in reverse order of registration. */
RCGC_INTERNAL void _rcgc_alloc_init(void);
RCGC_INTERNAL void _rcgc_alloc_fini(void);

#endif
