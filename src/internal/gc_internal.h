/* internal/gc_internal.h - the collector's interface to the layers below it.
 *
 * Default build: every object of a GC type is preceded by a pre-header of
 * RCGC_GC_PREHEADER_SIZE (8) bytes that belongs to the collector (generation
 * list linkage), lives in a pool segment, and is 16-byte aligned. The object layer allocates it and otherwise never looks inside.
 * Free-threaded build: no pre-header; tracked objects are found by walking
 * the GC heap (RCGC_HEAP_GC) and flagged by RCGC_GCBIT_TRACKED.
 */
#ifndef RCGC_INTERNAL_GC_H
#define RCGC_INTERNAL_GC_H

#include "internal/core.h"

#ifdef RCGC_FREE_THREADED
#define RCGC_GC_PREHEADER_SIZE 0
#else
/* The collector's linkage, immediately before the object: two compressed
 * links of 32 bits (gc/gc_list_default.h). A link names a list member by
 * (pool segment index << 18) | (16-byte granule of its object in the
 * segment); 0 is no link. The object is 16-byte aligned (GC blocks start at
 * 8 mod 16, RCGC_GC_BLOCK_OFFSET), so the pre-header is the last 8 bytes of
 * the granule before it. Access the words only through gc_list_default.h. */
typedef struct rcgc_gc_head {
    uint32_t gc_next; /* link to the next head in the generation list; 0 = untracked */
    uint32_t gc_prev; /* link to the previous head; gc_refs during detection */
} rcgc_gc_head_t;
#define RCGC_GC_PREHEADER_SIZE 8
_Static_assert(sizeof(rcgc_gc_head_t) == RCGC_GC_PREHEADER_SIZE, "pre-header size");
static inline rcgc_gc_head_t *_rcgc_as_gc(const rcgc_object_t *o) {
    return (rcgc_gc_head_t *)((char *)o - sizeof(rcgc_gc_head_t));
}
static inline rcgc_object_t *_rcgc_from_gc(rcgc_gc_head_t *g) {
    return (rcgc_object_t *)((char *)g + sizeof(rcgc_gc_head_t));
}
#endif

/* Pre-header bytes for objects of this type. */
static inline size_t _rcgc_preheader_size(const rcgc_type_t *t) {
    return rcgc_type_is_gc(t) ? RCGC_GC_PREHEADER_SIZE : 0;
}

/* Allocation accounting (object layer -> collector): a GC object was
 * allocated / freed. May schedule a collection, never runs one. */
RCGC_INTERNAL void _rcgc_gc_on_alloc(void);
RCGC_INTERNAL void _rcgc_gc_on_free(void);
/* Add the thread's pending young-count delta to the shared count
 * (free-threaded build: on_alloc/on_free count per thread and add to the
 * shared count in batches; default build: nothing pending). Called at the
 * live count's flush points (detach, blocking, safe points, exit). */
struct rcgc_tstate;
RCGC_INTERNAL void _rcgc_gc_count_flush(struct rcgc_tstate *ts);
/* Track a GC object just created by rcgc_object_new* (same as rcgc_gc_track,
 * minus what a fresh block makes unnecessary). */
RCGC_INTERNAL void _rcgc_gc_track_new(rcgc_object_t *o);
/* Serve a scheduled collection (called at safe points). */
RCGC_INTERNAL void _rcgc_gc_run_pending(void);
/* Runtime start / shutdown (shutdown runs the final collection and report). */
RCGC_INTERNAL void _rcgc_gc_init(void);
RCGC_INTERNAL void _rcgc_gc_fini(void);

#endif
