/* rcgc/gc.h - the cycle collector: tracking, collection, thresholds,
 * generations, freeze, callbacks, statistics and introspection.
 *
 * Semantics follow CPython 3.13's generational collector (the design 3.14.5+
 * and 3.15 went back to) with CPython 3.14's weak-reference ordering. The
 * mapping from CPython names to these is in docs/cpython-map.md.
 *
 * Collections never start inside an allocation: when the young count passes
 * threshold 0 the library schedules one, and it runs at the next safe point
 * (rcgc_safepoint(), rcgc_blocking_end(), rcgc_thread_attach()) or at an
 * explicit rcgc_gc_collect().
 */
#ifndef RCGC_GC_H
#define RCGC_GC_H

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RCGC_GC_NUM_GENERATIONS 3

/* ---- tracking ------------------------------------------------------------ */
/* Start tracking a GC object; every field its traverse visits must already
 * hold a valid value. Tracking an already tracked object is a fatal error. */
RCGC_API void rcgc_gc_track(rcgc_object_t *o);
/* Stop tracking (a dealloc does this before releasing fields). Harmless on an
 * untracked object. */
RCGC_API void rcgc_gc_untrack(rcgc_object_t *o);
RCGC_API bool rcgc_gc_is_tracked(const rcgc_object_t *o);
/* True once the object's finalizer has run (set before it is called). */
RCGC_API bool rcgc_gc_is_finalized(const rcgc_object_t *o);

/* ---- control ------------------------------------------------------------- */
/* Automatic collection on/off; each returns the previous state. Manual
 * collection always works. */
RCGC_API bool rcgc_gc_enable(void);
RCGC_API bool rcgc_gc_disable(void);
RCGC_API bool rcgc_gc_is_enabled(void);

/* Collect generations 0..generation (0, 1 or 2; 2 = full). Returns the number
 * of unreachable objects found (collected + uncollectable, counted as CPython
 * counts them), 0 if a collection is already running (re-entrant call from a
 * finalizer or callback), or -1 with RCGC_EINVAL for a bad generation. A safe
 * point. */
RCGC_API intptr_t rcgc_gc_collect(int generation);

/* Thresholds (CPython default 2000, 10, 10). threshold0 == 0 disables
 * automatic collection. Negative values: -1 with RCGC_EINVAL. */
RCGC_API int rcgc_gc_set_threshold(int threshold0, int threshold1, int threshold2);
RCGC_API void rcgc_gc_get_threshold(int out[RCGC_GC_NUM_GENERATIONS]);
/* count[0]: GC allocations minus frees since the last young collection
 * (floored at 0); count[1]: young collections since the last collection of
 * generation 1 or 2; count[2]: generation-1 collections since the last full. */
RCGC_API void rcgc_gc_get_count(intptr_t out[RCGC_GC_NUM_GENERATIONS]);

/* ---- debug flags (CPython's gc.DEBUG_*, same values) ---------------------- */
#define RCGC_GC_DEBUG_STATS 1u         /* statistics at start and end of each collection */
#define RCGC_GC_DEBUG_COLLECTABLE 2u   /* "gc: collectable <type 0xaddr>" per object */
#define RCGC_GC_DEBUG_UNCOLLECTABLE 4u /* "gc: uncollectable <type 0xaddr>"; garbage at shutdown */
#define RCGC_GC_DEBUG_SAVEALL 32u      /* keep all unreachable objects in the garbage list */
#define RCGC_GC_DEBUG_LEAK 38u         /* COLLECTABLE | UNCOLLECTABLE | SAVEALL */
RCGC_API void rcgc_gc_set_debug(unsigned flags);
RCGC_API unsigned rcgc_gc_get_debug(void);

/* ---- statistics and callbacks ------------------------------------------- */
typedef struct rcgc_gc_gen_stats {
    intptr_t collections;   /* collections of this generation */
    intptr_t collected;     /* objects collected */
    intptr_t uncollectable; /* objects found uncollectable */
    intptr_t candidates;    /* objects examined (CPython 3.15) */
    double duration;        /* seconds spent (CPython 3.15) */
} rcgc_gc_gen_stats_t;
/* Cumulative per-generation statistics. */
RCGC_API void rcgc_gc_get_stats(rcgc_gc_gen_stats_t out[RCGC_GC_NUM_GENERATIONS]);

typedef enum rcgc_gc_phase { RCGC_GC_PHASE_START = 0, RCGC_GC_PHASE_STOP = 1 } rcgc_gc_phase_t;
typedef enum rcgc_gc_reason {
    RCGC_GC_REASON_HEAP = 0,    /* automatic, thresholds */
    RCGC_GC_REASON_MANUAL = 1,  /* rcgc_gc_collect */
    RCGC_GC_REASON_SHUTDOWN = 2 /* rcgc_shutdown: no callbacks */
} rcgc_gc_reason_t;
typedef struct rcgc_gc_info {
    int generation;
    intptr_t collected;     /* 0 at START */
    intptr_t uncollectable; /* 0 at START */
    intptr_t candidates;    /* 0 at START */
    double duration;        /* seconds, 0 at START */
    rcgc_gc_reason_t reason;
} rcgc_gc_info_t;
/* Called at the start and stop of every collection except shutdown ones, in
 * registration order. Return 0, or -1 after rcgc_error_set() (reported as
 * unraisable; the other callbacks still run). May call rcgc_gc_collect (gets
 * 0) and may mutate the garbage list. */
typedef int (*rcgc_gc_callback_fn)(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx);
RCGC_API int rcgc_gc_callback_add(rcgc_gc_callback_fn cb, void *ctx);
/* Remove the first registration of (cb, ctx); -1 with RCGC_EINVAL if absent. */
RCGC_API int rcgc_gc_callback_remove(rcgc_gc_callback_fn cb, void *ctx);

/* ---- the garbage list (CPython's gc.garbage) ----------------------------- */
/* Objects found uncollectable (types with a legacy finalizer, del), or every
 * unreachable object under DEBUG_SAVEALL. The list owns one reference to each. */
RCGC_API size_t rcgc_gc_garbage_count(void);
/* BORROWED item i, or NULL if out of range. */
RCGC_API rcgc_object_t *rcgc_gc_garbage_item(size_t i);
/* Remove item i and return the list's reference (NEW), or NULL if out of range. */
RCGC_API rcgc_object_t *rcgc_gc_garbage_take(size_t i);
/* Release every item. */
RCGC_API void rcgc_gc_garbage_clear(void);

/* ---- introspection --------------------------------------------------------- */
/* Visitor: return 0 to continue, non-zero to stop (the walk returns it). The
 * object is BORROWED for the call; allocating, freeing or collecting inside a
 * walk over the collector's lists is not allowed unless stated. */
typedef int (*rcgc_object_visit_fn)(rcgc_object_t *o, void *arg);
/* Tracked objects of one generation (0..2) or of all (-1), frozen objects
 * excluded. -1 with RCGC_EINVAL for other values. */
RCGC_API int rcgc_gc_get_objects(int generation, rcgc_object_visit_fn fn, void *arg);
/* Every tracked object, frozen ones included (PyUnstable_GC_VisitObjects);
 * automatic collection is off during the walk and each object is incref'd
 * around the call, so the visitor may allocate and drop references. */
RCGC_API int rcgc_gc_visit_objects(rcgc_object_visit_fn fn, void *arg);
/* Tracked, non-frozen objects whose traverse visits any of objs[0..n). */
RCGC_API int rcgc_gc_get_referrers(rcgc_object_t *const *objs, size_t n,
                                   rcgc_object_visit_fn fn, void *arg);
/* Everything the traverse of each GC object in objs[0..n) visits (tracked or
 * not); non-GC objects contribute nothing. */
RCGC_API int rcgc_gc_get_referents(rcgc_object_t *const *objs, size_t n,
                                   rcgc_object_visit_fn fn, void *arg);

/* ---- freeze ----------------------------------------------------------------- */
/* Move every tracked object to the permanent generation: never examined, never
 * written by the collector (copy-on-write friendly before fork()). */
RCGC_API void rcgc_gc_freeze(void);
/* Move the permanent generation back into the oldest generation. */
RCGC_API void rcgc_gc_unfreeze(void);
RCGC_API size_t rcgc_gc_get_freeze_count(void);

/* ---- checking ---------------------------------------------------------------- */
/* Verify the collector's invariants: list links, flags outside a collection,
 * every tracked object's count >= the references it receives from other
 * tracked objects. Returns 0 if sound, else the number of problems found (each
 * described through the output channel). Safe to call between collections. */
RCGC_API size_t rcgc_gc_check_heap(void);

#ifdef __cplusplus
}
#endif
#endif
