/* gc/gc_list_default.h - generation lists of the default build: circular
 * doubly linked lists threaded through the pre-header (rcgc_gc_head_t) of
 * every tracked object, plus the scratch-bit accessors of a collection.
 *
 * Life cycle of the header words (default build):
 *
 *   untracked        gc_next == 0, gc_prev == 0, TRACKED clear.
 *   tracked          gc_next/gc_prev link the object into one list.
 *   update_refs ..   gc_prev holds gc_refs (the copied count, then minus the
 *   move_unreachable internal references); the list being examined is linked
 *                    forward only (gc_next). COLLECTING is set.
 *   after detection  both lists are normal doubly linked lists again. In the
 *                    tentatively unreachable list every object has COLLECTING
 *                    and UNREACHABLE; survivors have both clear.
 *
 * Flags never live in the link words (unlike CPython): they are bits of
 * ob_gc_bits in the object header, so every list in this file is an ordinary
 * list at all times except during update_refs..move_unreachable. The list
 * functions below must not be used on a list while it is in that state.
 */
#ifndef RCGC_GC_LIST_DEFAULT_H
#define RCGC_GC_LIST_DEFAULT_H

#include "gc/gc_state.h"

typedef rcgc_gc_head_t gc_head_t;

#define GC_NEXT(g) ((gc_head_t *)(g)->gc_next)
#define GC_PREV(g) ((gc_head_t *)(g)->gc_prev)
#define AS_GC(o) _rcgc_as_gc(o)
#define FROM_GC(g) _rcgc_from_gc(g)

static inline void gc_list_init(gc_head_t *list) {
    list->gc_next = list->gc_prev = (uintptr_t)list;
}

static inline bool gc_list_is_empty(const gc_head_t *list) {
    return list->gc_next == (uintptr_t)list;
}

/* Append node at the tail of list. */
static inline void gc_list_append(gc_head_t *node, gc_head_t *list) {
    gc_head_t *last = GC_PREV(list);
    last->gc_next = (uintptr_t)node;
    node->gc_prev = (uintptr_t)last;
    node->gc_next = (uintptr_t)list;
    list->gc_prev = (uintptr_t)node;
}

/* Unlink node (its words are left stale; callers reset or relink them). */
static inline void gc_list_unlink(gc_head_t *node) {
    gc_head_t *prev = GC_PREV(node), *next = GC_NEXT(node);
    prev->gc_next = (uintptr_t)next;
    next->gc_prev = (uintptr_t)prev;
}

/* Move node from whatever list it is in to the tail of list. */
static inline void gc_list_move(gc_head_t *node, gc_head_t *list) {
    gc_list_unlink(node);
    gc_list_append(node, list);
}

/* Append every node of from to the tail of to; from becomes empty. */
static inline void gc_list_merge(gc_head_t *from, gc_head_t *to) {
    if (gc_list_is_empty(from)) return;
    gc_head_t *to_tail = GC_PREV(to);
    gc_head_t *first = GC_NEXT(from), *last = GC_PREV(from);
    to_tail->gc_next = (uintptr_t)first;
    first->gc_prev = (uintptr_t)to_tail;
    to->gc_prev = (uintptr_t)last;
    last->gc_next = (uintptr_t)to;
    gc_list_init(from);
}

static inline intptr_t gc_list_size(const gc_head_t *list) {
    intptr_t n = 0;
    for (gc_head_t *g = GC_NEXT(list); g != list; g = GC_NEXT(g)) n++;
    return n;
}

/* ---- scratch bits (ob_gc_bits) --------------------------------------------- */
static inline bool gc_has_bits(const rcgc_object_t *o, unsigned bits) {
    return (o->ob_gc_bits & bits) != 0;
}
static inline void gc_set_bits(rcgc_object_t *o, unsigned bits) {
    o->ob_gc_bits = (uint8_t)(o->ob_gc_bits | bits);
}
static inline void gc_clear_bits(rcgc_object_t *o, unsigned bits) {
    o->ob_gc_bits = (uint8_t)(o->ob_gc_bits & ~bits);
}

/* An object the collector examines in this collection: a GC object with
 * COLLECTING set. The bit is tested first: it is zero on non-GC objects in
 * practice, so the type is loaded only for members of the set. */
static inline bool gc_is_collecting(const rcgc_object_t *o) {
    return (o->ob_gc_bits & RCGC_GCBIT_COLLECTING) && rcgc_object_is_gc(o);
}

/* ---- cross-file prototypes of the default build, by defining file ---------- */

/* What the tentatively unreachable set holds. Counted by move_unreachable as
 * objects are moved out (upper bounds: some may be rescued later; total is
 * exact), or exactly by the quarantine walk when there are legacy finalizers.
 * A phase with nothing to work on is skipped; see collect_generation. */
typedef struct garbage_profile {
    intptr_t total;       /* objects in unreachable */
    intptr_t dels;        /* with a legacy finalizer (del) */
    intptr_t to_finalize; /* finalize set and FINALIZED clear */
    intptr_t weaklists;   /* of a weakrefable type with a non-empty weak list */
    intptr_t weakrefs;    /* weakref objects */
} garbage_profile_t;

typedef struct detect_counts {
    intptr_t candidates;       /* objects examined */
    intptr_t reachable;        /* objects left in base */
    intptr_t maybe_untrack;    /* of those, objects of RCGC_TYPE_MAYBE_UNTRACK types */
    garbage_profile_t garbage; /* of the others */
} detect_counts_t;


/* collect_default.c */
/* One collection (CPython's _PyGC_Collect): generation 0..2 or
 * RCGC_GC_GENERATION_AUTO; returns m + n, or 0 when one is already running. */
RCGC_INTERNAL intptr_t _rcgc_gc_collect_main(int generation, rcgc_gc_reason_t reason);
/* update_refs + subtract_refs + move_unreachable on base: afterwards base
 * holds the objects reachable from outside it (COLLECTING clear) and
 * unreachable the others (COLLECTING and UNREACHABLE set). */
RCGC_INTERNAL void _rcgc_gc_deduce_unreachable(gc_head_t *base, gc_head_t *unreachable,
                                               detect_counts_t *counts);

/* finalize_default.c */
/* Clear the weakrefs WITH callbacks to garbage objects and call the callbacks
 * of those outside the garbage; returns the weakrefs freed by their own
 * callbacks (counted as collected), *called = callbacks run. Survivors among
 * them go to old. */
RCGC_INTERNAL intptr_t _rcgc_gc_handle_weakref_callbacks(gc_head_t *unreachable, gc_head_t *old,
                                                         intptr_t *called);
/* Run every PEP 442 finalizer of the list once; the list may shrink.
 * Returns the number of finalizers called. */
RCGC_INTERNAL intptr_t _rcgc_gc_finalize_garbage(gc_head_t *collectable);
/* Re-run detection on unreachable alone: what is still unreachable moves to
 * final (COLLECTING set), resurrected objects and their closure go to old.
 * Returns the number of objects moved to final. */
RCGC_INTERNAL intptr_t _rcgc_gc_handle_resurrected(gc_head_t *unreachable, gc_head_t *final,
                                               gc_head_t *old);
/* Detach weakrefs in final from their referents and clear every weakref to
 * an object of final, without callbacks. */
RCGC_INTERNAL void _rcgc_gc_clear_weakrefs(gc_head_t *final);

/* gc_check_default.c */
/* "gc: <what> <type 0xaddr>" through the output channel. */
RCGC_INTERNAL void _rcgc_gc_debug_object(const char *what, rcgc_object_t *o);
/* RCGC_DEBUG >= 3: heap check after a collection (amortized on large heaps);
 * fatal on any problem. */
RCGC_INTERNAL void _rcgc_gc_check_after_collection(intptr_t examined);

#endif
