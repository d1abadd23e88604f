/* rcgc/weakref.h - weak references.
 *
 * A weak reference is itself an rcgc object (of type rcgc_weakref_type, a GC
 * type). It refers to an object of a RCGC_TYPE_WEAKREFABLE type without
 * keeping it alive. When the referent dies - by reference counting or in the
 * cycle collector - every weak reference to it is cleared, and the callbacks
 * of those that are still alive themselves are called, newest first, with the
 * weak reference as argument (CPython's order).
 *
 * Collector order (CPython 3.14): before finalizers run, only weakrefs with a
 * callback are cleared (callbacks run for those outside the garbage);
 * callback-less weakrefs stay readable while finalizers run, and are cleared
 * before any clear() of the garbage. Refcount death: finalizer first, then
 * weakrefs are cleared and callbacks run. A weakref that is itself garbage
 * never runs its callback.
 */
#ifndef RCGC_WEAKREF_H
#define RCGC_WEAKREF_H

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Callback: wr is the (cleared) weak reference, BORROWED and alive for the
 * call; ctx is the context object given at creation (BORROWED, may be NULL);
 * data the raw pointer given at creation. Return 0, or -1 after
 * rcgc_error_set(): reported as unraisable, never propagated. The callback may
 * drop the last reference to wr or to any other object. */
typedef int (*rcgc_weakref_callback_fn)(rcgc_object_t *wr, rcgc_object_t *ctx, void *data);

RCGC_API extern const rcgc_type_t rcgc_weakref_type;

/* Create a weak reference to referent (BORROWED; must be of a WEAKREFABLE
 * type, else NULL with RCGC_EINVAL). cb may be NULL. ctx (BORROWED, may be
 * NULL) is an object the weakref keeps alive and traverses (the "callback
 * closure"). Returns a NEW reference, or NULL with RCGC_ENOMEM. */
RCGC_API rcgc_object_t *rcgc_weakref_new(rcgc_object_t *referent, rcgc_weakref_callback_fn cb,
                                         rcgc_object_t *ctx, void *data);
/* The referent as a NEW reference, or NULL once it has been cleared. */
RCGC_API rcgc_object_t *rcgc_weakref_get(rcgc_object_t *wr);
/* The referent without a new reference (BORROWED), or NULL. */
RCGC_API rcgc_object_t *rcgc_weakref_peek(rcgc_object_t *wr);
RCGC_API bool rcgc_is_weakref(const rcgc_object_t *o);
/* Number of live weak references to o. */
RCGC_API size_t rcgc_weakref_count(rcgc_object_t *o);
/* Clear every weak reference to o and call the callbacks of those still alive
 * (newest first); the pending error, if any, is saved and restored. For
 * hand-written deallocs of WEAKREFABLE types (o's count is 0). */
RCGC_API void rcgc_weakref_clear_refs(rcgc_object_t *o);
/* Clear every weak reference to o without calling any callback. */
RCGC_API void rcgc_weakref_clear_refs_no_callbacks(rcgc_object_t *o);

#ifdef __cplusplus
}
#endif
#endif
