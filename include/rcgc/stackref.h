/* rcgc/stackref.h - deferred reference counting and tagged stack references
 * (free-threaded CPython 3.14's scheme, docs/design/deferred.md).
 *
 * A DEFERRED object (rcgc_object_enable_deferred_refcount, GC types only)
 * carries one extra "bias" reference in its count, so reference counting
 * never frees it: only the collector does, once the object is unreachable.
 * rcgc_refcnt() includes the bias.
 *
 * A stack reference (rcgc_stackref_t) to a deferred or immortal object is
 * TAGGED (low bit set) and NOT counted: creating, duplicating and closing it
 * write nothing. Any other object is referenced UNTAGGED, with a counted
 * (incref'd) reference, like an ordinary pointer. The collector treats every
 * tagged reference in a live slot of a pushed frame (rcgc_frame_t) as a
 * root, so:
 *
 *   a tagged reference keeps its object alive only while it sits in a live
 *   slot (index < sp) of a frame pushed on an attached thread. Whenever a
 *   collection may run (a safe point, rcgc_gc_collect, or any call that can
 *   run user code: a decref, a finalizer, a weakref callback), every stack
 *   reference the thread still needs must be in such a slot (or the object
 *   must be referenced otherwise).
 *
 * A frame whose sp is RCGC_FRAME_SP_INVALID ("unknown", e.g. while it is
 * being built) makes every deferred object count as reachable for the
 * collections that see it.
 *
 * Frames are pushed and popped by their own thread while attached, in LIFO
 * order; sp and the slots are written by that thread only and read by the
 * collector while that thread is stopped (free-threaded build) or does not
 * hold the global lock (default build).
 */
#ifndef RCGC_STACKREF_H
#define RCGC_STACKREF_H

#include "rcgc/object.h"
#include "rcgc/refcount.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- deferred reference counting ----------------------------------------- */

/* Make o (of a GC type, the caller holding a reference) deferred: add the
 * bias reference and set RCGC_GCBIT_DEFERRED. Returns 1 if it was enabled by
 * this call, 0 if o was deferred or immortal already, -1 with RCGC_EINVAL for
 * a non-GC object. Free-threaded build: any thread may call it, but not
 * concurrently with rcgc_gc_track/untrack of the same object. The object
 * stays deferred until the collector finds it unreachable (or shutdown). */
RCGC_API int rcgc_object_enable_deferred_refcount(rcgc_object_t *o);

static inline bool rcgc_object_is_deferred(const rcgc_object_t *o) {
    return (__atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED) & RCGC_GCBIT_DEFERRED) != 0;
}

/* ---- stack references ------------------------------------------------------ */

typedef struct rcgc_stackref {
    uintptr_t bits; /* object address | RCGC_STACKREF_TAG if not counted; 0 = NULL */
} rcgc_stackref_t;

#define RCGC_STACKREF_TAG ((uintptr_t)1)

static inline rcgc_stackref_t rcgc_stackref_null(void) {
    rcgc_stackref_t r = { 0 };
    return r;
}
static inline bool rcgc_stackref_is_null(rcgc_stackref_t r) { return r.bits == 0; }
/* Tagged: not counted (the object is deferred or immortal). */
static inline bool rcgc_stackref_is_tagged(rcgc_stackref_t r) { return (r.bits & RCGC_STACKREF_TAG) != 0; }
/* The object, BORROWED from the stack reference (NULL for the NULL reference). */
static inline rcgc_object_t *rcgc_stackref_get(rcgc_stackref_t r) {
    return (rcgc_object_t *)(r.bits & ~RCGC_STACKREF_TAG);
}

static inline bool rcgc_stackref_uncounted_(const rcgc_object_t *o) {
    return rcgc_object_is_deferred(o) || rcgc_is_immortal(o);
}

/* A NEW stack reference to o (o non-NULL, borrowed): tagged for deferred and
 * immortal objects, else o is incref'd. */
static inline rcgc_stackref_t rcgc_stackref_new(rcgc_object_t *o) {
    rcgc_stackref_t r;
    if (rcgc_stackref_uncounted_(o)) {
        r.bits = (uintptr_t)o | RCGC_STACKREF_TAG;
    } else {
        rcgc_incref(o);
        r.bits = (uintptr_t)o;
    }
    return r;
}

/* A stack reference that STEALS the caller's reference to o (o non-NULL).
 * For a deferred or immortal object the reference is released (the bias keeps
 * a deferred object alive) and the result is tagged. */
static inline rcgc_stackref_t rcgc_stackref_steal(rcgc_object_t *o) {
    rcgc_stackref_t r;
    if (rcgc_stackref_uncounted_(o)) {
        rcgc_decref(o);
        r.bits = (uintptr_t)o | RCGC_STACKREF_TAG;
    } else {
        r.bits = (uintptr_t)o;
    }
    return r;
}

/* A second stack reference to the same object (counts only untagged ones). */
static inline rcgc_stackref_t rcgc_stackref_dup(rcgc_stackref_t r) {
    if (r.bits && !(r.bits & RCGC_STACKREF_TAG)) rcgc_incref((rcgc_object_t *)r.bits);
    return r;
}

/* Release a stack reference (no-op for NULL and tagged ones). */
static inline void rcgc_stackref_close(rcgc_stackref_t r) {
    if (r.bits && !(r.bits & RCGC_STACKREF_TAG)) rcgc_decref((rcgc_object_t *)r.bits);
}

/* A NEW heap reference to the object (r stays open; r non-NULL). */
static inline rcgc_object_t *rcgc_stackref_to_object(rcgc_stackref_t r) {
    rcgc_object_t *o = rcgc_stackref_get(r);
    rcgc_incref(o);
    return o;
}

/* Close r and return a NEW heap reference to its object (r non-NULL): an
 * untagged reference is handed over as it is, a tagged one is incref'd. */
static inline rcgc_object_t *rcgc_stackref_into_object(rcgc_stackref_t r) {
    rcgc_object_t *o = rcgc_stackref_get(r);
    if (r.bits & RCGC_STACKREF_TAG) rcgc_incref(o);
    return o;
}

/* ---- frames ------------------------------------------------------------------ */

#define RCGC_FRAME_SP_INVALID SIZE_MAX

/* A frame of stack references, owned by its thread (usually on its C stack).
 * slots[0 .. sp) are live and may hold NULL references; sp ==
 * RCGC_FRAME_SP_INVALID means "unknown": while such a frame is pushed, every
 * deferred object is treated as reachable. prev is set by rcgc_frame_push. */
typedef struct rcgc_frame rcgc_frame_t;
struct rcgc_frame {
    rcgc_frame_t *prev;
    rcgc_stackref_t *slots;
    size_t sp;
};

/* Push f on the calling thread's frame stack. Returns 0, or -1 with
 * RCGC_ESTATE if the thread is not attached, RCGC_EINVAL if f is NULL or its
 * slots are NULL with a valid sp > 0. */
RCGC_API int rcgc_frame_push(rcgc_frame_t *f);
/* Pop f, which must be the calling thread's top frame (-1 with RCGC_EINVAL
 * otherwise). The slots are not closed: that is the caller's business. */
RCGC_API int rcgc_frame_pop(rcgc_frame_t *f);
/* The calling thread's top frame (NULL if none). */
RCGC_API rcgc_frame_t *rcgc_frame_top(void);

#ifdef __cplusplus
}
#endif
#endif /* RCGC_STACKREF_H */
