/* alloc/pool.c - the pooled allocator's entry points (interim: libc-backed).
 *
 * OWNERSHIP: the allocator work (issue 3) replaces this file's internals with
 * the segment/page/heap allocator; the signatures in
 * internal/alloc_internal.h stay.
 */
#include "internal/alloc_internal.h"
#include <stdlib.h>

void *_rcgc_pool_malloc(size_t size, rcgc_heap_kind_t kind) {
    (void)kind;
    void *p = NULL;
    if (posix_memalign(&p, 16, size ? size : 1) != 0) return NULL;
    return p;
}

void *_rcgc_pool_realloc(void *ptr, size_t size) {
    return realloc(ptr, size ? size : 1);
}

void _rcgc_pool_free(void *ptr) { free(ptr); }
