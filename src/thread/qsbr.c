/* thread/qsbr.c - the flavour-neutral part of rcgc/qsbr.h: the limits and the
 * lock-free read helpers. The reclamation itself is per flavour
 * (qsbr_ft.c: QSBR; qsbr_default.c: at once, under the global lock).
 */
#include "internal/qsbr.h"
#include "internal/weakref_internal.h"

/* Read by every thread at retire time (relaxed atomics); written by
 * rcgc_qsbr_set_limits. */
static size_t limit_items = RCGC_QSBR_DEFAULT_MAX_ITEMS;
static size_t limit_bytes = RCGC_QSBR_DEFAULT_MAX_BYTES;

int rcgc_qsbr_set_limits(size_t max_items, size_t max_bytes) {
    if (max_items == 0 || max_bytes == 0)
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_qsbr_set_limits: both limits must be > 0");
    __atomic_store_n(&limit_items, max_items, __ATOMIC_RELAXED);
    __atomic_store_n(&limit_bytes, max_bytes, __ATOMIC_RELAXED);
    return 0;
}

void rcgc_qsbr_get_limits(size_t *max_items, size_t *max_bytes) {
    if (max_items) *max_items = __atomic_load_n(&limit_items, __ATOMIC_RELAXED);
    if (max_bytes) *max_bytes = __atomic_load_n(&limit_bytes, __ATOMIC_RELAXED);
}

bool rcgc_object_try_incref(rcgc_object_t *o) {
    RCGC_ASSERT(_rcgc_tstate()->attach_depth > 0);
    return o != NULL && _rcgc_try_incref(o);
}

rcgc_object_t *rcgc_object_get_ref_lockfree(rcgc_object_t *const *slot) {
    RCGC_ASSERT(_rcgc_tstate()->attach_depth > 0);
    for (;;) {
        rcgc_object_t *o = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (!o) return NULL;
        if (_rcgc_try_incref(o)) {
            /* The block may now hold another object put into another slot:
             * the reference is real either way, but the answer must be the
             * slot's current value. */
            if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) == o) return o;
            rcgc_decref(o);
            continue;
        }
        /* o died after our load, so the slot no longer holds it; a slot that
         * still holds it means o never had lock-free reads enabled. */
        RCGC_ASSERT_OBJ(o, __atomic_load_n(slot, __ATOMIC_ACQUIRE) != o || rcgc_refcnt(o) == 0,
                        "lock-free read of an object without rcgc_object_enable_lockfree_reads");
    }
}
