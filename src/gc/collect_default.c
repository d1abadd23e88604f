/* gc/collect_default.c - one collection of the default build, from the
 * preamble to the epilogue (cpython-gc.md §7, in that order), plus the
 * detection core: update_refs, subtract_refs, move_unreachable.
 *
 * The phases after detection that run user code (weakref callbacks,
 * finalizers, the resurrection check) live in finalize_default.c; the design
 * and the contract of every phase are written up in docs/design/gc.md.
 *
 * Scratch state during a collection (see gc_list_default.h):
 *   gc_prev   gc_refs while update_refs..move_unreachable run on a list;
 *   COLLECTING  member of the set being examined (never on frozen objects,
 *             objects of other generations or survivors);
 *   UNREACHABLE in the tentatively unreachable list (move_unreachable until
 *             move_legacy_finalizers clears it).
 *   SCRATCH   in delete_garbage's list: the collector holds the reference that
 *             was a deferred object's bias.
 *
 * Deferred objects (internal/deferred.h): gc_refs starts at the count minus
 * the bias; each tagged stack reference in a pushed frame adds one
 * (add_stack_roots), all deferred members count as reachable while a frame's
 * sp is unknown.
 */
#include "gc/gc_list_default.h"
#include "internal/object_internal.h"
#include "internal/weakref_internal.h"
#include "internal/deferred.h"

#include <stdio.h>
#include <string.h>

/* ---- detection ------------------------------------------------------------ */

RCGC_NOINLINE __attribute__((noreturn, cold)) static void refcount_too_small(rcgc_object_t *o) {
    rcgc_fatal_object(o, "refcount is too small");
}

RCGC_NOINLINE __attribute__((noreturn, cold)) static void tracked_with_zero_count(rcgc_object_t *o) {
    rcgc_fatal_object(o, "refcount is too small: tracked object with refcount 0 met by the "
                         "collector (a dealloc left it tracked)");
}

/* The detection passes come in two copies (always-inlined bodies with a
 * constant `deferred`): until some object was ever made deferred, no pass
 * pays for the bias at all. */
#define RCGC_ALWAYS_INLINE inline __attribute__((always_inline))
static RCGC_ALWAYS_INLINE uint32_t refs_less_bias(uint32_t refs, unsigned bits, bool deferred) {
    return deferred ? refs - _rcgc_deferred_bias_of_bits(bits) : refs;
}

/* gc_refs := reference count (less a deferred object's bias) and COLLECTING
 * for every object of base; base is singly linked (forward) afterwards.
 * Returns the number of objects. UNREACHABLE is cleared here too: on the
 * resurrection check's run, the objects still carry it from the first
 * partition. */
static RCGC_ALWAYS_INLINE intptr_t update_refs_body(gc_head_t *base, bool deferred) {
    intptr_t n = 0;
    gc_decoder_t d = gc_decoder();
    for (gc_head_t *g = gc_decode(&d, gc_next_link(base)); g != base; g = gc_decode(&d, gc_next_link(g))) {
        rcgc_object_t *o = FROM_GC(g);
        uint32_t refs = (uint32_t)rcgc_refcnt(o);
        unsigned bits = o->ob_gc_bits;
        if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(refs == 0)) tracked_with_zero_count(o);
        gc_set_refs(g, refs_less_bias(refs, bits, deferred));
        o->ob_gc_bits = (uint8_t)((bits | RCGC_GCBIT_COLLECTING) & ~RCGC_GCBIT_UNREACHABLE);
        n++;
    }
    return n;
}

static intptr_t update_refs(gc_head_t *base) {
    return _rcgc_deferred_in_use() ? update_refs_body(base, true) : update_refs_body(base, false);
}

static int visit_decref(rcgc_object_t *child, void *parent) {
    (void)parent;
    if (gc_is_collecting(child)) {
        gc_head_t *g = AS_GC(child);
        if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(gc_get_refs(g) == 0)) refcount_too_small(child);
        gc_dec_refs(g);
    }
    return 0;
}

/* Subtract the references between members of the set: afterwards gc_refs is
 * the number of references from outside it. */
static void subtract_refs(gc_head_t *base) {
    gc_decoder_t d = gc_decoder();
    for (gc_head_t *g = gc_decode(&d, gc_next_link(base)); g != base; g = gc_decode(&d, gc_next_link(g))) {
        rcgc_object_t *o = FROM_GC(g);
        o->ob_type->traverse(o, visit_decref, o);
    }
}

/* ---- stack roots of deferred objects ------------------------------------------ */

static int visit_stack_root(rcgc_object_t *o, void *arg) {
    (void)arg;
    if (gc_is_collecting(o)) gc_inc_refs(AS_GC(o));
    return 0;
}

/* A frame with an unknown sp: every deferred member is reachable. */
static void keep_deferred_members(gc_head_t *base) {
    gc_decoder_t d = gc_decoder();
    for (gc_head_t *g = gc_decode(&d, gc_next_link(base)); g != base; g = gc_decode(&d, gc_next_link(g)))
        if (FROM_GC(g)->ob_gc_bits & RCGC_GCBIT_DEFERRED) gc_inc_refs(g);
}

/* After update_refs and subtract_refs on base (linked forward): count the
 * tagged stack references to members as external references. Skipped until
 * some object was ever deferred (tagged references to immortal objects do
 * not count). */
static void add_stack_roots(gc_head_t *base) {
    if (RCGC_LIKELY(!_rcgc_deferred_in_use())) return;
    if (_rcgc_deferred_visit_roots(visit_stack_root, NULL)) keep_deferred_members(base);
}

/* A child of an object proven reachable. Members already behind the cursor
 * have COLLECTING clear and are skipped; a member moved out earlier is
 * brought back to the tail of young, where the cursor will meet it again. */
static int visit_reachable(rcgc_object_t *child, void *arg) {
    if (!gc_is_collecting(child)) return 0;
    gc_head_t *g = AS_GC(child);
    if (child->ob_gc_bits & RCGC_GCBIT_UNREACHABLE) {
        gc_head_t *young = arg;
        gc_list_unlink(g); /* the unreachable list is a normal list */
        gc_clear_bits(child, RCGC_GCBIT_UNREACHABLE);
        gc_list_append_forward(g, young); /* young's head keeps the tail link */
        gc_set_refs(g, 1); /* gc_refs: reachable */
    } else if (gc_get_refs(g) == 0) {
        gc_set_refs(g, 1);
    }
    return 0;
}

/* Count what the phases after detection will have to do for garbage o. */
static inline void profile_garbage(garbage_profile_t *p, rcgc_object_t *o) {
    const rcgc_type_t *t = o->ob_type;
    p->dels += t->del != NULL;
    p->to_finalize += t->finalize && !(o->ob_gc_bits & RCGC_GCBIT_FINALIZED);
    p->weaklists += _rcgc_type_weakrefable(t) && *_rcgc_weaklist_ptr(o);
    p->weakrefs += t == &rcgc_weakref_type;
}

/* The single-pass partition (cpython-gc.md §7.4).
 * Invariant: everything before the cursor is reachable, traversed, with
 * COLLECTING clear and its gc_prev restored; everything moved out so far is in
 * unreachable with UNREACHABLE set. Objects rescued by visit_reachable are
 * appended behind the cursor, so every reachable object is traversed once.
 * The walk also counts the reachable objects and those of
 * RCGC_TYPE_MAYBE_UNTRACK types (saving the survivor phase a pass), and
 * profiles the objects it moves out (saving the later phases a pass). */
static void move_unreachable(gc_head_t *young, gc_head_t *unreachable, detect_counts_t *c) {
    intptr_t reachable = 0, maybe_untrack = 0;
    garbage_profile_t gp = { 0, 0, 0, 0, 0 };
    /* the walk carries the links of prev and g along: no re-encoding */
    const gc_link_t young_link = gc_list_link(young);
    gc_head_t *prev = young;
    gc_link_t prev_link = young_link, link = gc_next_link(young);
    gc_decoder_t d = gc_decoder(), du = gc_decoder();
    while (link != young_link) {
        gc_head_t *g = gc_decode(&d, link);
        rcgc_object_t *o = FROM_GC(g);
        if (gc_get_refs(g)) {
            const rcgc_type_t *t = o->ob_type;
            t->traverse(o, visit_reachable, young);
            gc_set_prev_link(g, prev_link);
            gc_clear_bits(o, RCGC_GCBIT_COLLECTING);
            reachable++;
            maybe_untrack += (t->flags & RCGC_TYPE_MAYBE_UNTRACK) != 0;
            prev = g;
            prev_link = link;
        } else {
            gc_set_next_link(prev, gc_next_link(g));
            /* gc_list_append_linked, the tail decoded through a cache: the
             * garbage moved out is mostly in one segment */
            gc_set_next_link(gc_decode(&du, gc_prev_link(unreachable)), link);
            gc_set_prev_link(g, gc_prev_link(unreachable));
            gc_set_next_link(g, gc_list_link(unreachable));
            gc_set_prev_link(unreachable, link);
            gc_set_bits(o, RCGC_GCBIT_UNREACHABLE);
            profile_garbage(&gp, o);
        }
        link = gc_next_link(prev);
    }
    gc_set_prev_link(young, prev_link);
    gc_set_next_link(prev, young_link);
    c->reachable = reachable;
    c->maybe_untrack = maybe_untrack;
    c->garbage = gp;
}

void _rcgc_gc_deduce_unreachable(gc_head_t *base, gc_head_t *unreachable, detect_counts_t *c) {
    c->candidates = update_refs(base);
    subtract_refs(base);
    add_stack_roots(base);
    move_unreachable(base, unreachable, c);
    c->garbage.total = c->candidates - c->reachable;
}

/* ---- detection of a full collection: update_refs fused into subtract_refs ---- */

/* When base holds every tracked object outside the permanent generation (the
 * first detection of a full collection: every generation merged into base,
 * no collector list in use yet), membership of the set needs no mark: a GC
 * object is a member iff it is TRACKED and not FROZEN. COLLECTING then only
 * says "gc_refs initialised", and is set lazily, by whichever comes first:
 * the walk reaching the object (gc_refs := refcount) or the first internal
 * reference to it (gc_refs := refcount - 1). One walk of the list instead of
 * two; the result is the same gc_refs and COLLECTING on every member, and
 * the same fatal reports in debug builds for a single bad count. */
static RCGC_ALWAYS_INLINE int visit_decref_lazy_body(rcgc_object_t *child, bool deferred) {
    unsigned bits = child->ob_gc_bits;
    if (bits & RCGC_GCBIT_COLLECTING) {
        gc_check_member_type(child);
        gc_head_t *g = AS_GC(child);
        if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(gc_get_refs(g) == 0)) refcount_too_small(child);
        gc_dec_refs(g);
    } else if ((bits & (RCGC_GCBIT_TRACKED | RCGC_GCBIT_FROZEN)) == RCGC_GCBIT_TRACKED) {
        gc_check_member_type(child);
        uint32_t refs = (uint32_t)rcgc_refcnt(child);
        if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(refs == 0)) tracked_with_zero_count(child);
        refs = refs_less_bias(refs, bits, deferred);
        if (deferred && rcgc_debug_level >= 1 && RCGC_UNLIKELY(refs == 0)) refcount_too_small(child);
        gc_set_refs(AS_GC(child), refs - 1);
        child->ob_gc_bits = (uint8_t)((bits | RCGC_GCBIT_COLLECTING) & ~RCGC_GCBIT_UNREACHABLE);
    }
    return 0;
}

static int visit_decref_lazy(rcgc_object_t *child, void *parent) {
    (void)parent;
    return visit_decref_lazy_body(child, false);
}
static int visit_decref_lazy_deferred(rcgc_object_t *child, void *parent) {
    (void)parent;
    return visit_decref_lazy_body(child, true);
}

static RCGC_ALWAYS_INLINE intptr_t update_and_subtract_refs_body(gc_head_t *base, bool deferred) {
    rcgc_visit_fn visit = deferred ? visit_decref_lazy_deferred : visit_decref_lazy;
    intptr_t n = 0;
    gc_decoder_t d = gc_decoder();
    for (gc_head_t *g = gc_decode(&d, gc_next_link(base)); g != base; g = gc_decode(&d, gc_next_link(g))) {
        rcgc_object_t *o = FROM_GC(g);
        unsigned bits = o->ob_gc_bits;
        if (!(bits & RCGC_GCBIT_COLLECTING)) {
            uint32_t refs = (uint32_t)rcgc_refcnt(o);
            if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(refs == 0)) tracked_with_zero_count(o);
            gc_set_refs(g, refs_less_bias(refs, bits, deferred));
            o->ob_gc_bits = (uint8_t)((bits | RCGC_GCBIT_COLLECTING) & ~RCGC_GCBIT_UNREACHABLE);
        }
        o->ob_type->traverse(o, visit, o);
        n++;
    }
    return n;
}

static intptr_t update_and_subtract_refs(gc_head_t *base) {
    return _rcgc_deferred_in_use() ? update_and_subtract_refs_body(base, true)
                                   : update_and_subtract_refs_body(base, false);
}

/* _rcgc_gc_deduce_unreachable for base = all tracked, non-frozen objects. */
static void deduce_unreachable_full(gc_head_t *base, gc_head_t *unreachable, detect_counts_t *c) {
    c->candidates = update_and_subtract_refs(base);
    add_stack_roots(base);
    move_unreachable(base, unreachable, c);
    c->garbage.total = c->candidates - c->reachable;
}

/* ---- survivors -------------------------------------------------------------- */

/* CPython's untrack_tuples: objects of RCGC_TYPE_MAYBE_UNTRACK types that can
 * no longer be part of a cycle are untracked. Returns how many were. */
static intptr_t untrack_survivors(gc_head_t *young) {
    intptr_t n = 0;
    gc_head_t *next;
    for (gc_head_t *g = GC_NEXT(young); g != young; g = next) {
        next = GC_NEXT(g);
        rcgc_object_t *o = FROM_GC(g);
        const rcgc_type_t *t = o->ob_type;
        if ((t->flags & RCGC_TYPE_MAYBE_UNTRACK) && t->may_untrack && t->may_untrack(o)) {
            rcgc_gc_untrack(o);
            n++;
        }
    }
    return n;
}

/* Maybe-untrack, promotion and the 25% rule's bookkeeping (§3.5, §7.5). */
static void handle_survivors(gc_head_t *young, gc_head_t *old, int generation,
                             const detect_counts_t *c) {
    intptr_t survivors = c->reachable;
    if (c->maybe_untrack) survivors -= untrack_survivors(young);
    if (young != old) {
        if (generation == RCGC_GC_NUM_GENERATIONS - 2) _rcgc_gc.long_lived_pending += survivors;
        gc_list_merge(young, old);
    } else {
        _rcgc_gc.long_lived_pending = 0;
        _rcgc_gc.long_lived_total = survivors;
    }
}

/* ---- legacy finalizers: the quarantine ---------------------------------------- */

/* Clear UNREACHABLE on every object (unreachable is an ordinary list from
 * here on) and move the objects with a legacy finalizer to finalizers. The
 * same walk profiles the rest for the phases that follow. */
static garbage_profile_t move_legacy_finalizers(gc_head_t *unreachable, gc_head_t *finalizers) {
    garbage_profile_t p = { 0, 0, 0, 0, 0 };
    gc_head_t *next;
    for (gc_head_t *g = GC_NEXT(unreachable); g != unreachable; g = next) {
        next = GC_NEXT(g);
        rcgc_object_t *o = FROM_GC(g);
        const rcgc_type_t *t = o->ob_type;
        gc_clear_bits(o, RCGC_GCBIT_UNREACHABLE);
        if (t->del) {
            gc_clear_bits(o, RCGC_GCBIT_COLLECTING);
            gc_list_move(g, finalizers);
            continue;
        }
        p.total++;
        profile_garbage(&p, o);
    }
    return p;
}

typedef struct move_arg {
    gc_head_t *finalizers;
    intptr_t moved;
} move_arg_t;

static int visit_move(rcgc_object_t *child, void *arg) {
    if (gc_is_collecting(child)) {
        move_arg_t *m = arg;
        gc_clear_bits(child, RCGC_GCBIT_COLLECTING);
        gc_list_move(AS_GC(child), m->finalizers);
        m->moved++;
    }
    return 0;
}

/* Everything in the garbage reachable from a quarantined object joins it; the
 * walk covers the objects it appends. Returns the number of objects it moved
 * out of the unreachable list. */
static intptr_t move_legacy_finalizer_reachable(gc_head_t *finalizers) {
    move_arg_t m = { finalizers, 0 };
    for (gc_head_t *g = GC_NEXT(finalizers); g != finalizers; g = GC_NEXT(g)) {
        rcgc_object_t *o = FROM_GC(g);
        o->ob_type->traverse(o, visit_move, &m);
    }
    return m.moved;
}

/* Quarantined objects with a legacy finalizer (all of them under SAVEALL) go
 * to the garbage list; the whole set then joins the older generation. */
static void handle_legacy_finalizers(gc_head_t *finalizers, gc_head_t *old) {
    bool saveall = (_rcgc_gc.debug & RCGC_GC_DEBUG_SAVEALL) != 0;
    for (gc_head_t *g = GC_NEXT(finalizers); g != finalizers; g = GC_NEXT(g)) {
        rcgc_object_t *o = FROM_GC(g);
        if ((saveall || o->ob_type->del) && _rcgc_gc_garbage_append(o) < 0) {
            rcgc_error_clear();
            break;
        }
    }
    gc_list_merge(finalizers, old);
}

/* ---- deleting the final garbage ------------------------------------------------ */

/* Deferred objects of the final garbage stop being deferred, all of them
 * before any clear(): each bias becomes a reference the collector holds
 * (marked SCRATCH) and releases in delete_garbage. Otherwise a deferred
 * object whose last real reference a clear() drops would stay alive by its
 * bias alone, where a counted object would be freed at once. */
static void take_over_deferred(gc_head_t *collectable) {
    for (gc_head_t *g = GC_NEXT(collectable); g != collectable; g = GC_NEXT(g)) {
        rcgc_object_t *o = FROM_GC(g);
        if (o->ob_gc_bits & RCGC_GCBIT_DEFERRED) {
            _rcgc_deferred_disable_keep_ref(o);
            gc_set_bits(o, RCGC_GCBIT_SCRATCH);
        }
    }
}

/* Break the cycles: clear() every object, with a reference held around the
 * call (taken now, or the former bias of a deferred object); an object that
 * survives its clear goes to old ("it may die later"). Objects die only
 * through reference counting, which unlinks them. */
static void delete_garbage(gc_head_t *collectable, gc_head_t *old) {
    bool saveall = (_rcgc_gc.debug & RCGC_GC_DEBUG_SAVEALL) != 0;
    bool deferred = !saveall && _rcgc_deferred_in_use();
    if (deferred) take_over_deferred(collectable);
    /* "is it still first" compares links: a link names one head */
    const gc_link_t collectable_link = gc_list_link(collectable);
    gc_decoder_t d = gc_decoder();
    for (gc_link_t link; (link = gc_next_link(collectable)) != collectable_link;) {
        gc_head_t *g = gc_decode(&d, link);
        rcgc_object_t *o = FROM_GC(g);
        RCGC_ASSERT_OBJ(o, rcgc_refcnt(o) > 0, "refcount is too small");
        if (saveall) {
            if (_rcgc_gc_garbage_append(o) < 0) rcgc_error_clear();
        } else if (deferred && (o->ob_gc_bits & RCGC_GCBIT_SCRATCH)) { /* holding its former bias */
            gc_clear_bits(o, RCGC_GCBIT_SCRATCH);
            if (o->ob_type->clear && o->ob_type->clear(o) != 0) rcgc_error_write_unraisable("clear of", o);
            rcgc_decref(o);
        } else if (o->ob_type->clear) {
            rcgc_incref(o);
            if (o->ob_type->clear(o) != 0) rcgc_error_write_unraisable("clear of", o);
            rcgc_decref(o);
        }
        if (gc_next_link(collectable) == link) { /* still alive */
            gc_clear_bits(o, RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE);
            gc_list_move(g, old);
        }
    }
}

/* ---- shutdown ----------------------------------------------------------------------- */

/* Move the deferred objects of list to tmp. */
static void gather_deferred(gc_head_t *list, gc_head_t *tmp) {
    gc_head_t *next;
    for (gc_head_t *g = GC_NEXT(list); g != list; g = next) {
        next = GC_NEXT(g);
        if (FROM_GC(g)->ob_gc_bits & RCGC_GCBIT_DEFERRED) gc_list_move(g, tmp);
    }
}

void _rcgc_gc_release_deferred(void) {
    if (!_rcgc_deferred_in_use()) return;
    gc_head_t *tmp = _rcgc_gc_head(RCGC_GC_HEAD_FINAL);
    gc_list_init(tmp);
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) gather_deferred(_rcgc_gc.generations[i].head, tmp);
    gather_deferred(_rcgc_gc.permanent.head, tmp);
    gc_head_t *oldest = _rcgc_gc.generations[RCGC_GC_NUM_GENERATIONS - 1].head;
    /* take the first each time: a release may free any object, but none of
     * tmp's (each still has its bias until its turn) */
    while (!gc_list_is_empty(tmp)) {
        gc_head_t *g = GC_NEXT(tmp);
        rcgc_object_t *o = FROM_GC(g);
        gc_list_move(g, (o->ob_gc_bits & RCGC_GCBIT_FROZEN) ? _rcgc_gc.permanent.head : oldest);
        _rcgc_deferred_disable_keep_ref(o);
        rcgc_decref(o);
    }
}

/* ---- the collection ------------------------------------------------------------- */

/* Counters and lists before collecting generation g (cpython-gc.md §3.4). */
static void prepare_generations(int generation) {
    _rcgc_gc_prepare_counts(generation);
    for (int i = 0; i < generation; i++)
        gc_list_merge(_rcgc_gc.generations[i].head, _rcgc_gc.generations[generation].head);
}

static void print_collectable(gc_head_t *list, const char *what) {
    for (gc_head_t *g = GC_NEXT(list); g != list; g = GC_NEXT(g))
        _rcgc_gc_debug_object(what, FROM_GC(g));
}

/* Everything between the callbacks (CPython's gc_collect_main). */
rcgc_gc_result_t _rcgc_gc_collect_generation(int generation) {
    rcgc_gc_result_t r = { 0, 0, 0 };
    /* temporary lists: fixed head slots (gc_state.h), a collection never nests */
    gc_head_t *unreachable = _rcgc_gc_head(RCGC_GC_HEAD_UNREACHABLE);
    gc_head_t *finalizers = _rcgc_gc_head(RCGC_GC_HEAD_FINALIZERS);
    gc_head_t *final_unreachable = _rcgc_gc_head(RCGC_GC_HEAD_FINAL);
    gc_list_init(unreachable);
    gc_list_init(finalizers);
    gc_list_init(final_unreachable);

    prepare_generations(generation);
    gc_head_t *young = _rcgc_gc.generations[generation].head;
    gc_head_t *old = generation + 1 < RCGC_GC_NUM_GENERATIONS
                         ? _rcgc_gc.generations[generation + 1].head : young;

    detect_counts_t counts;
    if (young == old) deduce_unreachable_full(young, unreachable, &counts);
    else _rcgc_gc_deduce_unreachable(young, unreachable, &counts);
    r.candidates = counts.candidates;
    handle_survivors(young, old, generation, &counts);

    /* The quarantine walk runs only when there is a legacy finalizer; else
     * UNREACHABLE stays set on the garbage (harmless: no list function reads
     * it) until update_refs or delete_garbage clears it. */
    garbage_profile_t prof = counts.garbage;
    intptr_t remaining = prof.total;
    if (prof.dels) {
        prof = move_legacy_finalizers(unreachable, finalizers);
        remaining = prof.total - move_legacy_finalizer_reachable(finalizers);
    }
    /* user code between detection and deletion (callbacks, finalizers, an
     * output hook) may resurrect objects or create weakrefs to them */
    intptr_t user_code = 0;
    if (_rcgc_gc.debug & RCGC_GC_DEBUG_COLLECTABLE) {
        print_collectable(unreachable, "collectable");
        user_code++;
    }
    if (prof.weaklists) {
        intptr_t called;
        r.collected = _rcgc_gc_handle_weakref_callbacks(unreachable, old, &called);
        user_code += called;
    }
    if (prof.to_finalize) user_code += _rcgc_gc_finalize_garbage(unreachable);
    /* Without user code the set cannot have changed: re-running detection on
     * it (CPython always does) would move every object to final unchanged. */
    if (user_code) remaining = _rcgc_gc_handle_resurrected(unreachable, final_unreachable, old);
    else gc_list_merge(unreachable, final_unreachable);
    if (user_code || prof.weaklists || prof.weakrefs) _rcgc_gc_clear_weakrefs(final_unreachable);

    RCGC_ASSERT_EXPENSIVE(remaining == gc_list_size(final_unreachable));
    r.collected += remaining;
    delete_garbage(final_unreachable, old);

    r.uncollectable = gc_list_size(finalizers);
    if (_rcgc_gc.debug & RCGC_GC_DEBUG_UNCOLLECTABLE) print_collectable(finalizers, "uncollectable");
    handle_legacy_finalizers(finalizers, old);
    return r;
}

void _rcgc_gc_generation_sizes(intptr_t sz[RCGC_GC_NUM_GENERATIONS], intptr_t *permanent) {
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) sz[i] = gc_list_size(_rcgc_gc.generations[i].head);
    *permanent = gc_list_size(_rcgc_gc.permanent.head);
}
