/* rcgc/refcount.h - inline reference counting.
 *
 *   rcgc_incref(o)        take a reference (o non-NULL)
 *   rcgc_decref(o)        release one; frees the object at zero (o non-NULL)
 *   rcgc_xincref/xdecref  the same, NULL-tolerant
 *   rcgc_newref(o)        incref and return o (NEW reference)
 *   rcgc_refcnt(o)        current count (the true count in both flavours)
 *   RCGC_CLEAR(field)     store NULL into field, then release the old value
 *   RCGC_SETREF(field, v) store v (STOLEN) into field, then release the old value
 *
 * The store-then-release order matters: releasing can run arbitrary code
 * (finalizers, weakref callbacks) that may look at the owning object again, and
 * must then see a consistent field, never a pointer to a dying object.
 *
 * Immortal objects (static objects and rcgc_object_immortalize) are never
 * written by incref/decref. Default build: plain (non-atomic) arithmetic, the
 * caller holds the global lock (rcgc/thread.h). Free-threaded build: biased
 * reference counting - the owner thread uses plain stores, any other thread one
 * atomic add on the shared count.
 *
 * Define RCGC_DEBUG (0..3) before including to route every decref through a
 * checked out-of-line path that aborts with a report (address, type name,
 * count) on negative counts, decref of a freed object or a corrupt header.
 */
#ifndef RCGC_REFCOUNT_H
#define RCGC_REFCOUNT_H

#include <string.h>

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Deallocate an object whose count reached zero: calls its type's dealloc,
 * through the trashcan so that deep chains never overflow the C stack. */
RCGC_API void rcgc_dealloc(rcgc_object_t *o);
/* Out-of-line, checked forms (always exported; used by RCGC_DEBUG code and by
 * bindings that cannot use inline functions). */
RCGC_API void rcgc_incref_checked(rcgc_object_t *o);
RCGC_API void rcgc_decref_checked(rcgc_object_t *o);
/* Immortality test (PEP 683). */
RCGC_API bool rcgc_is_immortal_fn(const rcgc_object_t *o);

#ifdef RCGC_FREE_THREADED
#include "rcgc/detail/refcount_ft.h"
#else
#include "rcgc/detail/refcount_default.h"
#endif

static inline void rcgc_xincref(rcgc_object_t *o) { if (o) rcgc_incref(o); }
static inline void rcgc_xdecref(rcgc_object_t *o) { if (o) rcgc_decref(o); }
static inline rcgc_object_t *rcgc_newref(rcgc_object_t *o) { rcgc_incref(o); return o; }
static inline rcgc_object_t *rcgc_xnewref(rcgc_object_t *o) { rcgc_xincref(o); return o; }

/* Slot helpers: slot is the address of a pointer-typed field of any object
 * type (node_t **, rcgc_object_t **, ...). memcpy keeps them free of
 * strict-aliasing trouble, as CPython's Py_CLEAR does. */
static inline void rcgc_clear_slot(void *slot) {
    rcgc_object_t *old, *null_ = NULL;
    memcpy(&old, slot, sizeof old);
    if (old) {
        memcpy(slot, &null_, sizeof null_);
        rcgc_decref(old);
    }
}
/* Store v (STOLEN, may be NULL) into *slot, then release the old value. */
static inline void rcgc_setref_slot(void *slot, rcgc_object_t *v) {
    rcgc_object_t *old;
    memcpy(&old, slot, sizeof old);
    memcpy(slot, &v, sizeof v);
    rcgc_xdecref(old);
}
#define RCGC_CLEAR(field) rcgc_clear_slot((void *)&(field))
#define RCGC_SETREF(field, v) rcgc_setref_slot((void *)&(field), (rcgc_object_t *)(v))
#define RCGC_INCREF(o) rcgc_incref((rcgc_object_t *)(o))
#define RCGC_DECREF(o) rcgc_decref((rcgc_object_t *)(o))
#define RCGC_XINCREF(o) rcgc_xincref((rcgc_object_t *)(o))
#define RCGC_XDECREF(o) rcgc_xdecref((rcgc_object_t *)(o))

#ifdef __cplusplus
}
#endif
#endif /* RCGC_REFCOUNT_H */
