/* gc/gc_track_default.c - tracking, untracking and allocation accounting
 * (default build: generation lists through the pre-header).
 *
 * OWNERSHIP: the collector work (issue 4) extends this freely.
 */
#include "gc/gc_state.h"
#include "internal/object_internal.h"

rcgc_gc_state_t _rcgc_gc;

static void list_init(rcgc_gc_head_t *h) {
    h->gc_next = h->gc_prev = (uintptr_t)h;
}

static void list_append(rcgc_gc_head_t *node, rcgc_gc_head_t *list) {
    rcgc_gc_head_t *last = (rcgc_gc_head_t *)list->gc_prev;
    last->gc_next = (uintptr_t)node;
    node->gc_prev = (uintptr_t)last;
    node->gc_next = (uintptr_t)list;
    list->gc_prev = (uintptr_t)node;
}

static void list_remove(rcgc_gc_head_t *node) {
    rcgc_gc_head_t *prev = (rcgc_gc_head_t *)node->gc_prev;
    rcgc_gc_head_t *next = (rcgc_gc_head_t *)node->gc_next;
    prev->gc_next = (uintptr_t)next;
    next->gc_prev = (uintptr_t)prev;
    node->gc_next = node->gc_prev = 0;
}

void rcgc_gc_track(rcgc_object_t *o) {
    RCGC_ASSERT_OBJ(o, rcgc_object_is_gc(o), "tracking an object of a non-GC type");
    if (o->ob_gc_bits & RCGC_GCBIT_TRACKED)
        rcgc_fatal_object(o, "object already tracked by the garbage collector");
    o->ob_gc_bits |= RCGC_GCBIT_TRACKED;
    list_append(_rcgc_as_gc(o), &_rcgc_gc.generations[0].head);
}

void rcgc_gc_untrack(rcgc_object_t *o) {
    if (!(o->ob_gc_bits & RCGC_GCBIT_TRACKED)) return;
    list_remove(_rcgc_as_gc(o));
    o->ob_gc_bits &= (uint8_t)~(RCGC_GCBIT_TRACKED | RCGC_GCBIT_FROZEN);
}

bool rcgc_gc_is_tracked(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (o->ob_gc_bits & RCGC_GCBIT_TRACKED);
}

bool rcgc_gc_is_finalized(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (o->ob_gc_bits & RCGC_GCBIT_FINALIZED);
}

void _rcgc_gc_on_alloc(void) {
    rcgc_generation_t *g0 = &_rcgc_gc.generations[0];
    g0->count++;
    if (g0->count > g0->threshold && g0->threshold && _rcgc_gc.enabled && !_rcgc_gc.collecting)
        _rcgc_gc.scheduled = true;
}

void _rcgc_gc_on_free(void) {
    if (_rcgc_gc.generations[0].count > 0) _rcgc_gc.generations[0].count--;
}

void _rcgc_gc_init(void) {
    static const int thresholds[RCGC_GC_NUM_GENERATIONS] = { 2000, 10, 10 };
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) {
        list_init(&_rcgc_gc.generations[i].head);
        _rcgc_gc.generations[i].threshold = thresholds[i];
        _rcgc_gc.generations[i].count = 0;
    }
    list_init(&_rcgc_gc.permanent.head);
    _rcgc_gc.enabled = true;
}

void _rcgc_gc_run_pending(void) {
    if (!_rcgc_gc.scheduled) return;
    _rcgc_gc.scheduled = false;
    /* the collection itself arrives with the collector (issue 4) */
}

void _rcgc_gc_fini(void) {}
