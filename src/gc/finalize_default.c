/* gc/finalize_default.c - the phases of a collection that run user code or
 * prepare for it (default build): weakref callbacks, PEP 442 finalizers, the
 * resurrection check, and the final clearing of weakrefs
 * (cpython-gc.md §7.7 b, §7.8, §7.9, §7.10).
 *
 * Weakref ordering (CPython 3.14, gh-135552):
 *   1. before finalizers, only weakrefs WITH a callback that point at garbage
 *      are detached; the callbacks of those outside the garbage run;
 *   2. finalizers run while callback-less weakrefs still read their referent;
 *   3. after the resurrection check, every weakref object in the final garbage
 *      is detached from its referent and every weakref to a final-garbage
 *      object is cleared, without callbacks, before any clear().
 *
 * Every loop here tolerates objects vanishing from its list: user code may
 * drop the last reference to any object, whose dealloc unlinks it.
 *
 * Needs from the weakref layer (internal/weakref_internal.h): the weak-list
 * head and links, _rcgc_weakref_detach (keeps the callback) and
 * _rcgc_weakref_call_callback. A weakref that is alive but untracked cannot
 * be queued on a collector list; its callback is dropped (never seen in
 * practice: weakref objects are tracked from creation to dealloc).
 */
#include "gc/gc_list_default.h"
#include "internal/weakref_internal.h"

/* ---- 1. weakref callbacks ------------------------------------------------------ */

/* Detach the callback weakrefs of garbage object o; queue those outside the
 * garbage (tracked, alive) on wrcb with a reference. */
static void clear_callback_weakrefs(rcgc_object_t *o, gc_head_t *wrcb) {
    rcgc_weakref_t *wr = _rcgc_weaklist_head(o), *next;
    for (; wr; wr = next) {
        next = wr->wr_next;
        if (!wr->wr_callback) continue;
        _rcgc_weakref_detach(wr);
        rcgc_object_t *w = &wr->ob;
        if (gc_is_collecting(w)) continue; /* garbage itself: never fires */
        if (!(w->ob_gc_bits & RCGC_GCBIT_TRACKED) || rcgc_refcnt(w) == 0) continue;
        rcgc_incref(w);
        gc_clear_bits(w, RCGC_GCBIT_FROZEN);
        gc_list_move(AS_GC(w), wrcb);
    }
}

intptr_t _rcgc_gc_handle_weakref_callbacks(gc_head_t *unreachable, gc_head_t *old,
                                           intptr_t *called) {
    gc_head_t *wrcb = _rcgc_gc_head(RCGC_GC_HEAD_WRCB);
    gc_list_init(wrcb);
    /* no user code runs in this loop: the list is stable */
    for (gc_head_t *g = GC_NEXT(unreachable); g != unreachable; g = GC_NEXT(g)) {
        rcgc_object_t *o = FROM_GC(g);
        if (_rcgc_type_weakrefable(o->ob_type) && _rcgc_weaklist_head(o))
            clear_callback_weakrefs(o, wrcb);
    }
    intptr_t freed = 0;
    *called = 0;
    while (!gc_list_is_empty(wrcb)) {
        gc_head_t *g = GC_NEXT(wrcb);
        rcgc_object_t *w = FROM_GC(g);
        _rcgc_weakref_call_callback((rcgc_weakref_t *)w);
        ++*called;
        rcgc_decref(w);
        if (GC_NEXT(wrcb) == g) gc_list_move(g, old); /* still alive */
        else freed++;                                   /* freed by its own callback */
    }
    return freed;
}

/* ---- 2. finalizers ---------------------------------------------------------------- */

intptr_t _rcgc_gc_finalize_garbage(gc_head_t *collectable) {
    intptr_t called = 0;
    gc_head_t *seen = _rcgc_gc_head(RCGC_GC_HEAD_SEEN);
    gc_list_init(seen);
    /* take the first object each time: finalizers may remove any object */
    while (!gc_list_is_empty(collectable)) {
        gc_head_t *g = GC_NEXT(collectable);
        rcgc_object_t *o = FROM_GC(g);
        gc_list_move(g, seen);
        if (o->ob_type->finalize && !(o->ob_gc_bits & RCGC_GCBIT_FINALIZED)) {
            rcgc_incref(o);
            rcgc_object_call_finalizer(o); /* sets FINALIZED before the call */
            rcgc_decref(o);
            called++;
        }
    }
    gc_list_merge(seen, collectable);
    return called;
}

/* ---- 3. resurrection check ---------------------------------------------------------- */

intptr_t _rcgc_gc_handle_resurrected(gc_head_t *unreachable, gc_head_t *final, gc_head_t *old) {
    /* Objects referenced from outside the set now (resurrected) and all they
     * reach stay in unreachable; the rest move to final. */
    detect_counts_t counts;
    _rcgc_gc_deduce_unreachable(unreachable, final, &counts);
    /* final keeps COLLECTING and UNREACHABLE: about to die (delete_garbage
     * clears both on an object that survives its clear) */
    gc_list_merge(unreachable, old);
    return counts.candidates - counts.reachable;
}

/* ---- 4. clear the remaining weakrefs ---------------------------------------------------- */

void _rcgc_gc_clear_weakrefs(gc_head_t *final) {
    for (gc_head_t *g = GC_NEXT(final); g != final; g = GC_NEXT(g)) {
        rcgc_object_t *o = FROM_GC(g);
        if (o->ob_type == &rcgc_weakref_type) _rcgc_weakref_detach((rcgc_weakref_t *)o);
        if (_rcgc_type_weakrefable(o->ob_type) && _rcgc_weaklist_head(o))
            rcgc_weakref_clear_refs_no_callbacks(o);
    }
}
