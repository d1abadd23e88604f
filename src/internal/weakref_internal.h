/* internal/weakref_internal.h - weak reference internals shared with the
 * collector.
 *
 * Invariants:
 *  - A weakref is in its referent's weak list (through wr_prev/wr_next) iff
 *    wr_object != NULL. The list head is the referent's weak-list slot
 *    (type->weaklist_offset).
 *  - List order: callback-less weakrefs first (newest first), then weakrefs
 *    with a callback (newest first); so callbacks fire newest first, as in
 *    CPython.
 *  - wr_object is BORROWED: a weakref never keeps its referent alive.
 *  - wr_ctx is OWNED and visited by traverse.
 *  - Default build: protected by the global lock. Free-threaded build: list
 *    links and wr_object are protected by the weakref lock (_rcgc_wr_lock);
 *    no user code runs under it.
 */
#ifndef RCGC_INTERNAL_WEAKREF_H
#define RCGC_INTERNAL_WEAKREF_H

#include "internal/object_internal.h"

typedef struct rcgc_weakref {
    rcgc_object_t ob;
    rcgc_object_t *wr_object;             /* referent, or NULL once cleared */
    rcgc_weakref_callback_fn wr_callback; /* may be NULL; kept after clearing */
    rcgc_object_t *wr_ctx;                /* owned callback context, may be NULL */
    void *wr_data;
    struct rcgc_weakref *wr_prev, *wr_next;
} rcgc_weakref_t;

/* Head of o's weak list (o must be of a WEAKREFABLE type). */
static inline rcgc_weakref_t *_rcgc_weaklist_head(rcgc_object_t *o) {
    return (rcgc_weakref_t *)*_rcgc_weaklist_ptr(o);
}
/* Detach wr from its referent without calling its callback (CPython's
 * _PyWeakref_ClearRef): the callback stays, so the collector can call it
 * later or drop it. */
RCGC_INTERNAL void _rcgc_weakref_detach(rcgc_weakref_t *wr);
/* Call wr's callback (wr must be alive: count > 0). Errors are reported as
 * unraisable. */
RCGC_INTERNAL void _rcgc_weakref_call_callback(rcgc_weakref_t *wr);
/* Weakref lock: a no-op in the default build (the global lock covers it). */
RCGC_INTERNAL void _rcgc_wr_lock(void);
RCGC_INTERNAL void _rcgc_wr_unlock(void);
/* Take a reference to o if its count has not reached zero (false if it is
 * being torn down). */
RCGC_INTERNAL bool _rcgc_try_incref(rcgc_object_t *o);
/* Called when the first weakref to o is created: in the free-threaded build
 * it moves o's shared count out of the INIT state (MAYBE_WEAKREF), so that the
 * owner's last decref no longer frees o without synchronising with readers. */
RCGC_INTERNAL void _rcgc_weakref_enable_try_incref(rcgc_object_t *o);

#endif
