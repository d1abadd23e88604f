/* gc/gc_ft.h - the free-threaded collector's shared pieces (gc_ft.c,
 * collect_ft.c, gc_check_ft.c); the algorithm is in docs/design/gc-ft.md.
 *
 * No pre-header and no lists: tracked objects are found by walking the GC
 * heap (RCGC_HEAP_GC), all of it for collections of generation 1 and 2, only
 * the pages marked young (internal/alloc_internal.h) for generation 0.
 *
 * Per-object collector state (header fields of rcgc_object_t):
 *   ob_gc_bits TRACKED, FINALIZED, FROZEN: as in the default build; written
 *              by the tracking thread (the object's creator, normally) or
 *              with the world stopped;
 *   ob_flags & RCGC_FT_AGE_MASK: the generation (0..2) of a tracked object:
 *              0 when tracked, raised when it survives a collection of its
 *              generation; written when tracking or with the world stopped.
 * Scratch, only inside a collection:
 *   COLLECTING  member of the set examined (pause 1), or of the garbage set
 *               (from pause 1 until the object is cleared or released);
 *   UNREACHABLE not (yet) proven reachable;
 *   SCRATCH     quarantined: garbage reachable from a legacy finalizer;
 *   FT_GCBIT_QUEUED  the collector holds a reference drained from a merge
 *               queue (not an outside reference; released after pause 1);
 *   ob_tid      gc_refs (intptr_t) while the world is stopped; restored
 *               before the restart (owner from the allocator's page, or 0
 *               with the counts merged);
 *   garbage objects carry one extra reference owned by the collector until
 *               they are cleared, and are owned by the collecting thread
 *               (whole count local) or merged if the count is too large.
 * Outside a collection, COLLECTING, UNREACHABLE, SCRATCH and FT_GCBIT_QUEUED
 * are clear on every object.
 */
#ifndef RCGC_GC_FT_H
#define RCGC_GC_FT_H

#include "gc/gc_state.h"
#include "internal/alloc_internal.h"
#include "internal/alloc_debug.h"

#define RCGC_FT_AGE_SHIFT 2
#define RCGC_FT_AGE_MASK 0x0Cu
#define FT_GCBIT_QUEUED 0x80u

static inline unsigned ft_age(const rcgc_object_t *o) {
    return (unsigned)(o->ob_flags & RCGC_FT_AGE_MASK) >> RCGC_FT_AGE_SHIFT;
}
static inline void ft_set_age(rcgc_object_t *o, unsigned age) {
    o->ob_flags = (uint16_t)((o->ob_flags & ~RCGC_FT_AGE_MASK) | (age << RCGC_FT_AGE_SHIFT));
}
static inline unsigned ft_bits(const rcgc_object_t *o) {
    return __atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED);
}
static inline void ft_set_bits(rcgc_object_t *o, unsigned b) {
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)(ft_bits(o) | b), __ATOMIC_RELAXED);
}
static inline void ft_clear_bits(rcgc_object_t *o, unsigned b) {
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)(ft_bits(o) & ~b), __ATOMIC_RELAXED);
}
/* A live object: the header's check byte says so (freed blocks held back by
 * the debug allocator's quarantine are walked too). */
static inline bool ft_alive(const rcgc_object_t *o) {
    return (o->ob_flags >> 8) == RCGC_FT_CHECK_ALIVE;
}
/* gc_refs, kept in ob_tid while the world is stopped. */
static inline intptr_t ft_refs(const rcgc_object_t *o) { return (intptr_t)o->ob_tid; }
static inline void ft_set_refs(rcgc_object_t *o, intptr_t r) { o->ob_tid = (uintptr_t)r; }

/* A growable array of object pointers (RAW domain memory). */
typedef struct ft_vec {
    rcgc_object_t **v;
    size_t n, cap;
} ft_vec_t;
RCGC_INTERNAL bool _rcgc_ft_vec_reserve(ft_vec_t *vec, size_t extra);
RCGC_INTERNAL void _rcgc_ft_vec_free(ft_vec_t *vec);
static inline bool _rcgc_ft_vec_push(ft_vec_t *vec, rcgc_object_t *o) {
    if (RCGC_UNLIKELY(vec->n == vec->cap) && !_rcgc_ft_vec_reserve(vec, 1)) return false;
    vec->v[vec->n++] = o;
    return true;
}

/* Walk the objects of the GC heap (all, or only the young pages); fn gets
 * every live object, tracked or not. The world must be stopped (or no other
 * thread attached). */
typedef int (*ft_object_fn)(rcgc_object_t *o, void *arg);
RCGC_INTERNAL int _rcgc_ft_walk(bool young_only, ft_object_fn fn, void *arg);

/* Objects of the examined set: tracked, not frozen, generation <= g. */
static inline bool ft_in_generation(const rcgc_object_t *o, int generation) {
    unsigned b = ft_bits(o);
    return (b & (RCGC_GCBIT_TRACKED | RCGC_GCBIT_FROZEN)) == RCGC_GCBIT_TRACKED &&
           (int)ft_age(o) <= generation;
}

#endif
