/* internal/deferred.h - deferred reference counting for the collectors
 * (object/deferred.c, object/refcount_*.c; docs/design/deferred.md).
 *
 * A deferred object's count holds one bias reference on top of its real
 * references: counting never frees it. The collectors
 *   - subtract _rcgc_deferred_bias(o) from the count they start gc_refs at;
 *   - add one to gc_refs for every root _rcgc_deferred_visit_roots reports
 *     that is a member of the set being collected, and treat every deferred
 *     member as reachable when it returns true;
 *   - free a deferred garbage object by taking the bias over as their own
 *     reference (_rcgc_deferred_disable_keep_ref), then releasing it.
 */
#ifndef RCGC_INTERNAL_DEFERRED_H
#define RCGC_INTERNAL_DEFERRED_H

#include "internal/core.h"

/* The references of o's count that belong to no one but the collector. */
static inline uint32_t _rcgc_deferred_bias(const rcgc_object_t *o) {
    return (__atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED) & RCGC_GCBIT_DEFERRED) ? 1u : 0u;
}
/* The same from gc bits already loaded (no branch). */
static inline uint32_t _rcgc_deferred_bias_of_bits(unsigned gc_bits) {
    return (gc_bits / RCGC_GCBIT_DEFERRED) & 1u;
}

/* Set once, by the first rcgc_object_enable_deferred_refcount (relaxed
 * atomic); never cleared. While it is 0 no object is deferred and the
 * collectors may skip the root walk. */
RCGC_INTERNAL extern int _rcgc_deferred_used;
static inline bool _rcgc_deferred_in_use(void) {
    return __atomic_load_n(&_rcgc_deferred_used, __ATOMIC_RELAXED) != 0;
}

/* Call fn(obj, arg) for every TAGGED reference in a live slot of every frame
 * of every registered thread, immortal objects skipped (fn's result is
 * ignored; fn must not run user code or take locks: threads_lock is held).
 * The caller holds the global lock (default build) or has stopped the world
 * (free-threaded build). Returns true if some frame's sp is
 * RCGC_FRAME_SP_INVALID: every deferred object is then reachable for this
 * collection (its frame's slots are not visited). */
RCGC_INTERNAL bool _rcgc_deferred_visit_roots(rcgc_visit_fn fn, void *arg);

/* Flavour-specific (object/refcount_default.c, refcount_ft.c). */
/* Set DEFERRED and add the bias; false if o was deferred already. The caller
 * has checked that o is of a GC type and mortal. */
RCGC_INTERNAL bool _rcgc_deferred_enable(rcgc_object_t *o);
/* Clear DEFERRED; the bias reference now belongs to the caller (no count
 * change). Free-threaded build: the world is stopped, or o is private. */
RCGC_INTERNAL void _rcgc_deferred_disable_keep_ref(rcgc_object_t *o);

#endif
