/* rcgc/inspect.h - looking inside the pooled allocator: statistics snapshots,
 * a printer, walking the live blocks of a heap, and giving memory back.
 *
 * The pool serves the MEM and OBJ domains (rcgc/alloc.h) in three heaps per
 * thread: MEM (buffers), OBJECT (objects of non-GC types) and GC (objects of
 * GC types). Exact figures need a quiescent pool: no other thread allocating
 * or freeing while a snapshot or a walk runs (world stopped, or in the default
 * flavour the global lock held while the others wait). Blocks another thread
 * freed but their page's owner has not collected yet count as in use.
 */
#ifndef RCGC_INSPECT_H
#define RCGC_INSPECT_H

#include <stddef.h>
#include <stdio.h>
#include "rcgc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rcgc_alloc_heap {
    RCGC_ALLOC_HEAP_MEM = 0,
    RCGC_ALLOC_HEAP_OBJECT = 1,
    RCGC_ALLOC_HEAP_GC = 2
} rcgc_alloc_heap_t;
#define RCGC_ALLOC_HEAP_COUNT 3

/* Size classes: 16-byte steps up to 512 B (32 classes), then four per power
 * of two up to 16 KiB (20 classes). Larger blocks take whole 64 KiB pages
 * (up to 1 MiB) or a mapping of their own. */
#define RCGC_ALLOC_CLASS_COUNT 52

typedef struct rcgc_alloc_class_stats {
    size_t block_size;     /* bytes per block of the class */
    size_t blocks_in_use;  /* live blocks */
    size_t blocks_free;    /* free room in the class's pages, in blocks */
    size_t pages;          /* 64 KiB pages holding the class */
} rcgc_alloc_class_stats_t;

typedef struct rcgc_alloc_stats {
    rcgc_alloc_class_stats_t classes[RCGC_ALLOC_CLASS_COUNT];
    size_t bytes_in_use_by_heap[RCGC_ALLOC_HEAP_COUNT]; /* block bytes, by heap */
    size_t blocks_in_use;       /* small and large blocks */
    size_t bytes_in_use;        /* bytes in live blocks (block sizes, not requests) */
    size_t bytes_free_in_pages; /* free room in pages holding small blocks */
    size_t large_blocks;        /* blocks over 16 KiB */
    size_t large_bytes;
    size_t small_pages;         /* pages holding small blocks, abandoned ones included */
    size_t abandoned_pages;     /* pages left by exited threads, not yet reclaimed */
    size_t retained_pages;      /* free pages still committed, kept for reuse */
    size_t segments;            /* 4 MiB segments, huge ones included */
    size_t huge_segments;       /* segments holding one block over 1 MiB */
    size_t threads;             /* threads with allocator state */
    size_t bytes_mapped;        /* address space held */
    size_t bytes_committed;     /* memory held that may be resident: pages in use
                                   or retained, segment headers, huge blocks,
                                   per-thread state */
    size_t bytes_metadata;      /* segment headers and per-thread state */
    size_t bytes_returned;      /* cumulative: given back to the OS (decommit, unmap) */
    size_t rss_bytes;           /* the process's resident set size now, 0 if unknown */
} rcgc_alloc_stats_t;

/* Take a snapshot (never allocates). */
RCGC_API void rcgc_alloc_stats_get(rcgc_alloc_stats_t *out);
/* Print a snapshot in the style of CPython's sys._debugmallocstats(). */
RCGC_API void rcgc_alloc_stats_print(FILE *out);

/* Visit every live block of `heap`, page by page in address order, including
 * blocks of threads that have exited. fn returns non-zero to stop; that value
 * is returned (0 when the walk completes). Needs a quiescent pool (above); fn
 * may allocate, and may free the block it is given. */
typedef int (*rcgc_block_visitor_fn)(void *block, size_t block_size, void *arg);
RCGC_API int rcgc_heap_visit_blocks(rcgc_alloc_heap_t heap, rcgc_block_visitor_fn fn, void *arg);

/* Give memory back to the OS now: the calling thread's empty pages, pages
 * of exited threads that have no live block left, every free page
 * (decommitted) and every empty segment (unmapped). force = 0 keeps each
 * class's current page and one spare segment. */
RCGC_API void rcgc_alloc_collect(int force);

#ifdef __cplusplus
}
#endif
#endif
