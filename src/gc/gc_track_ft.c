/* gc/gc_track_ft.c - tracking in the free-threaded build: a bit in the
 * header, no linkage (the collector finds objects by walking the GC heap).
 * Accounting uses a relaxed atomic counter.
 *
 * The free-threaded collector itself is issue 6's work.
 */
#include "gc/gc_state.h"

rcgc_gc_state_t _rcgc_gc;

void rcgc_gc_track(rcgc_object_t *o) {
    RCGC_ASSERT_OBJ(o, rcgc_object_is_gc(o), "tracking an object of a non-GC type");
    uint8_t bits = __atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED);
    if (bits & RCGC_GCBIT_TRACKED) rcgc_fatal_object(o, "object already tracked by the garbage collector");
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)(bits | RCGC_GCBIT_TRACKED), __ATOMIC_RELAXED);
}

void rcgc_gc_untrack(rcgc_object_t *o) {
    uint8_t bits = __atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED);
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)(bits & ~(RCGC_GCBIT_TRACKED | RCGC_GCBIT_FROZEN)), __ATOMIC_RELAXED);
}

bool rcgc_gc_is_tracked(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (__atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED) & RCGC_GCBIT_TRACKED);
}

bool rcgc_gc_is_finalized(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (__atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED) & RCGC_GCBIT_FINALIZED);
}

void _rcgc_gc_on_alloc(void) {
    __atomic_fetch_add(&_rcgc_gc.generations[0].count, 1, __ATOMIC_RELAXED);
}

void _rcgc_gc_on_free(void) {
    __atomic_fetch_sub(&_rcgc_gc.generations[0].count, 1, __ATOMIC_RELAXED);
}

void _rcgc_gc_init(void) {
    _rcgc_gc.generations[0].threshold = 2000;
    _rcgc_gc.generations[1].threshold = 10;
    _rcgc_gc.generations[2].threshold = 10;
    _rcgc_gc.enabled = true;
}

void _rcgc_gc_run_pending(void) {}
void _rcgc_gc_fini(void) {}
