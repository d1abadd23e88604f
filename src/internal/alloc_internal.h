/* internal/alloc_internal.h - what the object layer needs from the allocator.
 *
 * Objects are allocated by heap kind so the collector can find tracked objects
 * by walking their heap (free-threaded collector, heap checker):
 *   RCGC_HEAP_OBJECT  objects of non-GC types
 *   RCGC_HEAP_GC      objects of GC types (block = pre-header + object)
 * The returned block is 16-byte aligned. Both calls honour the OBJ domain's
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

/* The pooled allocator (alloc/pool.c and below): blocks are 16-byte aligned;
 * NULL on failure (the caller sets the error). */
RCGC_INTERNAL void *_rcgc_pool_malloc(size_t size, rcgc_heap_kind_t kind);
RCGC_INTERNAL void *_rcgc_pool_realloc(void *ptr, size_t size);
RCGC_INTERNAL void _rcgc_pool_free(void *ptr);

RCGC_INTERNAL void *_rcgc_alloc_object(size_t size, rcgc_heap_kind_t kind);
RCGC_INTERNAL void _rcgc_free_object(void *block, rcgc_heap_kind_t kind);
RCGC_INTERNAL void _rcgc_alloc_init(void);
RCGC_INTERNAL void _rcgc_alloc_fini(void);

#endif
