/* gc/gc_ft.c - the free-threaded build's part of rcgc/gc.h.
 *
 * Free-threaded objects have no pre-header: tracking is the TRACKED bit in
 * the header and the (future) collector finds tracked objects by walking the
 * GC heap (RCGC_HEAP_GC), as CPython's gc_free_threading.c does. That
 * collector is a later issue. Until then:
 *   - tracking, the young count, thresholds, debug flags, callbacks, stats,
 *     the garbage list and get_referents work (gc_api.c is shared);
 *   - rcgc_gc_collect, get_objects, visit_objects and get_referrers fail with
 *     -1 and RCGC_ENOTSUP; freeze/unfreeze set RCGC_ENOTSUP and do nothing;
 *     the freeze count is 0 and the heap check finds nothing to check;
 *   - nothing is ever scheduled and shutdown runs no collection.
 */
#include "gc/gc_state.h"
#include "internal/tstate.h"

void rcgc_gc_track(rcgc_object_t *o) {
    RCGC_ASSERT_OBJ(o, rcgc_object_is_gc(o), "tracking an object of a non-GC type");
    uint8_t bits = __atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED);
    if (bits & RCGC_GCBIT_TRACKED) rcgc_fatal_object(o, "object already tracked by the garbage collector");
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)((bits & RCGC_GCBIT_FINALIZED) | RCGC_GCBIT_TRACKED),
                     __ATOMIC_RELAXED);
}

void rcgc_gc_untrack(rcgc_object_t *o) {
    uint8_t bits = __atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED);
    if (!(bits & RCGC_GCBIT_TRACKED)) return;
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)(bits & RCGC_GCBIT_FINALIZED), __ATOMIC_RELAXED);
}

bool rcgc_gc_is_tracked(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (__atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED) & RCGC_GCBIT_TRACKED);
}

bool rcgc_gc_is_finalized(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (__atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED) & RCGC_GCBIT_FINALIZED);
}

/* The young count is a relaxed atomic that every thread adds its own
 * allocations minus frees to in batches of YOUNG_BATCH (one shared write per
 * object made GCBench 20% slower and two threads creating private objects 5x
 * slower than one: bench scale_private_alloc); the calling thread's delta is
 * flushed by rcgc_gc_get_count and at its safe points, detach and exit, so the
 * count lags by at most YOUNG_BATCH per running thread. The floor at 0 is
 * applied when it is read (rcgc_gc_get_count), since frees on one thread may
 * race allocations. */
#define YOUNG_BATCH 256

void _rcgc_gc_count_flush(rcgc_tstate_t *ts) {
    if (ts->gc_young_delta == 0) return;
    __atomic_fetch_add(&_rcgc_gc.generations[0].count, ts->gc_young_delta, __ATOMIC_RELAXED);
    ts->gc_young_delta = 0;
}

void _rcgc_gc_on_alloc(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (RCGC_UNLIKELY(++ts->gc_young_delta > YOUNG_BATCH)) _rcgc_gc_count_flush(ts);
}

void _rcgc_gc_on_free(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (RCGC_UNLIKELY(--ts->gc_young_delta < -YOUNG_BATCH)) _rcgc_gc_count_flush(ts);
}

void _rcgc_gc_init(void) { _rcgc_gc_state_reset(); }

void _rcgc_gc_run_pending(void) {}

void _rcgc_gc_fini(void) {
    if (!_rcgc_gc.initialized) return;
    _rcgc_gc_report_shutdown_garbage();
    _rcgc_gc_state_release();
    _rcgc_gc.initialized = false;
}

static int not_supported(const char *what) {
    return _rcgc_fail_int(RCGC_ENOTSUP, what);
}

intptr_t rcgc_gc_collect(int generation) {
    if (generation < 0 || generation >= RCGC_GC_NUM_GENERATIONS)
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_collect: invalid generation");
    return not_supported("rcgc_gc_collect: the free-threaded collector is not implemented yet");
}

void rcgc_gc_freeze(void) { (void)not_supported("rcgc_gc_freeze: not supported in the free-threaded build yet"); }
void rcgc_gc_unfreeze(void) { (void)not_supported("rcgc_gc_unfreeze: not supported in the free-threaded build yet"); }
size_t rcgc_gc_get_freeze_count(void) { return 0; }

int rcgc_gc_get_objects(int generation, rcgc_object_visit_fn fn, void *arg) {
    if (generation < -1 || generation >= RCGC_GC_NUM_GENERATIONS)
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_get_objects: generation must be -1 or 0..2");
    return not_supported("rcgc_gc_get_objects: not supported in the free-threaded build yet");
}

int rcgc_gc_visit_objects(rcgc_object_visit_fn fn, void *arg) {
    return not_supported("rcgc_gc_visit_objects: not supported in the free-threaded build yet");
}

int rcgc_gc_get_referrers(rcgc_object_t *const *objs, size_t n, rcgc_object_visit_fn fn, void *arg) {
    return not_supported("rcgc_gc_get_referrers: not supported in the free-threaded build yet");
}

size_t rcgc_gc_check_heap(void) { return 0; }
