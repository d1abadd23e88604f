/* gc/gc_list_default.h - generation lists of the default build: circular
 * doubly linked lists threaded through the 8-byte pre-header (rcgc_gc_head_t:
 * two 32-bit compressed links) of every tracked object, plus the scratch-bit
 * accessors of a collection. Every read or write of the pre-header's words
 * goes through the functions and macros of this file.
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
#include "internal/alloc_internal.h"

typedef rcgc_gc_head_t gc_head_t;

/* ---- compressed links --------------------------------------------------------
 * A link (gc_link_t, 32 bits) names a head by where the 16-byte aligned
 * address just after it (the object, or a head slot's end) lies:
 *     (segment index << 18) | (offset in the 4 MiB segment >> 4)
 * Segment index 1..16383: a pool segment (_rcgc_segtab, alloc_internal.h);
 * index 0: the list-head area _rcgc_gc_heads (gc_state.h). Link 0 is never a
 * head: "untracked". Decoding is one table load, a shift and an add. */
typedef uint32_t gc_link_t;
#define GC_LINK_GRANULE_BITS 18
#define GC_LINK_GRANULE_MASK (((uint32_t)1 << GC_LINK_GRANULE_BITS) - 1)
_Static_assert(RCGC_SEGTAB_BITS + GC_LINK_GRANULE_BITS == 32, "a link is 32 bits");
_Static_assert(((uintptr_t)1 << (GC_LINK_GRANULE_BITS + 4)) == ((uintptr_t)4 << 20),
               "granules cover a 4 MiB segment");

static inline gc_head_t *gc_link_head(gc_link_t l) {
    uintptr_t base = _rcgc_segtab[l >> GC_LINK_GRANULE_BITS];
    return (gc_head_t *)(base + ((uintptr_t)(l & GC_LINK_GRANULE_MASK) << 4) - sizeof(gc_head_t));
}
/* Decoding in a list walk: consecutive members are mostly in the same
 * segment, so a one-entry cache of (index, base) turns the table load on the
 * walk's critical path (link -> table -> next link) into a well-predicted
 * compare; the young collection's in-cache walks are latency bound. */
typedef struct gc_decoder {
    uint32_t index;
    uintptr_t base;
} gc_decoder_t;
static inline gc_decoder_t gc_decoder(void) {
    gc_decoder_t d = { 0, _rcgc_segtab[0] };
    return d;
}
static inline gc_head_t *gc_decode(gc_decoder_t *d, gc_link_t l) {
    uint32_t i = l >> GC_LINK_GRANULE_BITS;
    if (RCGC_UNLIKELY(i != d->index)) {
        d->index = i;
        d->base = _rcgc_segtab[i];
    }
    return (gc_head_t *)(d->base + ((uintptr_t)(l & GC_LINK_GRANULE_MASK) << 4) - sizeof(gc_head_t));
}

/* The link of an object's pre-header (the object is in a pool segment). */
static inline gc_link_t gc_obj_link(const gc_head_t *g) {
    uintptr_t a = (uintptr_t)g + sizeof(gc_head_t);
    return (_rcgc_segment_index((const void *)a) << GC_LINK_GRANULE_BITS) |
           (gc_link_t)((a & (((uintptr_t)4 << 20) - 1)) >> 4);
}
/* The link of a list head (a slot of _rcgc_gc_heads). */
static inline gc_link_t gc_list_link(const gc_head_t *list) {
    return (gc_link_t)(((uintptr_t)list + sizeof(gc_head_t) - (uintptr_t)_rcgc_gc_heads) >> 4);
}
static inline bool gc_is_list_head(const gc_head_t *g) {
    return (uintptr_t)g - (uintptr_t)_rcgc_gc_heads < sizeof _rcgc_gc_heads;
}
/* The link of either (slow paths: checks). */
static inline gc_link_t gc_any_link(const gc_head_t *g) {
    return gc_is_list_head(g) ? gc_list_link(g) : gc_obj_link(g);
}

#define GC_NEXT(g) gc_link_head((g)->gc_next)
#define GC_PREV(g) gc_link_head((g)->gc_prev)
#define AS_GC(o) _rcgc_as_gc(o)
#define FROM_GC(g) _rcgc_from_gc(g)

/* ---- the header words ---------------------------------------------------------- */
static inline bool gc_is_linked(const gc_head_t *g) { return g->gc_next != 0; }
static inline void gc_set_unlinked(gc_head_t *g) { g->gc_next = g->gc_prev = 0; }
/* gc_refs (update_refs..move_unreachable, and the heap check's counter):
 * 32 bits, as reference counts are in the default build. */
static inline uint32_t gc_get_refs(const gc_head_t *g) { return g->gc_prev; }
static inline void gc_set_refs(gc_head_t *g, uint32_t refs) { g->gc_prev = refs; }
static inline void gc_dec_refs(gc_head_t *g) { g->gc_prev--; }
static inline void gc_inc_refs(gc_head_t *g) { g->gc_prev++; }
/* Raw link words, for walks that carry a member's link along (no re-encoding). */
static inline gc_link_t gc_next_link(const gc_head_t *g) { return g->gc_next; }
static inline gc_link_t gc_prev_link(const gc_head_t *g) { return g->gc_prev; }
static inline void gc_set_next_link(gc_head_t *g, gc_link_t l) { g->gc_next = l; }
static inline void gc_set_prev_link(gc_head_t *g, gc_link_t l) { g->gc_prev = l; }

/* ---- lists ------------------------------------------------------------------------ */
static inline void gc_list_init(gc_head_t *list) {
    list->gc_next = list->gc_prev = gc_list_link(list);
}

static inline bool gc_list_is_empty(const gc_head_t *list) {
    return list->gc_next == gc_list_link(list);
}

/* Append node, whose link is node_link, at the tail of list. */
static inline void gc_list_append_linked(gc_head_t *node, gc_link_t node_link, gc_head_t *list) {
    gc_head_t *last = GC_PREV(list);
    last->gc_next = node_link;
    node->gc_prev = list->gc_prev;
    node->gc_next = gc_list_link(list);
    list->gc_prev = node_link;
}

/* Append node (an object's pre-header) at the tail of list. */
static inline void gc_list_append(gc_head_t *node, gc_head_t *list) {
    gc_list_append_linked(node, gc_obj_link(node), list);
}

/* Append node at the tail of a list that is linked forward only (during
 * move_unreachable): list->gc_prev still names the tail; node->gc_prev is
 * left alone (it holds gc_refs). */
static inline void gc_list_append_forward(gc_head_t *node, gc_head_t *list) {
    gc_link_t l = gc_obj_link(node);
    GC_PREV(list)->gc_next = l;
    node->gc_next = gc_list_link(list);
    list->gc_prev = l;
}

/* Unlink node (its words are left stale; callers reset or relink them). */
static inline void gc_list_unlink(gc_head_t *node) {
    gc_head_t *prev = GC_PREV(node), *next = GC_NEXT(node);
    prev->gc_next = node->gc_next;
    next->gc_prev = node->gc_prev;
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
    to_tail->gc_next = from->gc_next;
    first->gc_prev = to->gc_prev;
    to->gc_prev = from->gc_prev;
    last->gc_next = gc_list_link(to);
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

/* Only objects of GC types ever carry COLLECTING or TRACKED, so the bit alone
 * says "GC object": every header starts with ob_gc_bits = 0 (object_alloc
 * zero-fills, rcgc_object_init_static memsets, the trashcan's pop writes 0 or
 * FINALIZED); outside the collector only FINALIZED is ever set
 * (rcgc_object_call_finalizer, the trashcan); TRACKED is set by
 * rcgc_gc_track, on GC objects only (a non-GC object has no pre-header to
 * link); COLLECTING by the collector, on list members and on TRACKED children.
 * Debug builds check the claim on every member edge. */
static inline void gc_check_member_type(const rcgc_object_t *o) {
    if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(!rcgc_object_is_gc(o)))
        rcgc_fatal_object(o, "collector bits on an object of a non-GC type");
}

/* An object the collector examines in this collection: COLLECTING set (see
 * above: only GC objects carry it, so the type is not loaded). */
static inline bool gc_is_collecting(const rcgc_object_t *o) {
    if (!(o->ob_gc_bits & RCGC_GCBIT_COLLECTING)) return false;
    gc_check_member_type(o);
    return true;
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


#endif
