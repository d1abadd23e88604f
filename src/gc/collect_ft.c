/* gc/collect_ft.c - one collection of the free-threaded build
 * (docs/design/gc-ft.md; free-threading.md §6.3 is the model, plus
 * generations).
 *
 *   pause 1 (world stopped): drain every merge queue; enumerate the examined
 *     set (the young pages for generation 0, the whole GC heap otherwise);
 *     gc_refs := count in ob_tid; subtract internal references; add the
 *     threads' deferred stack roots; mark what is reachable from outside;
 *     quarantine what legacy finalizers reach; survivors get their owner
 *     back and age, garbage is merged and held by the collector; weakrefs
 *     with callbacks to garbage are detached and queued;
 *   world running: release the drained queue references; debug output;
 *     weakref callbacks; PEP 442 finalizers;
 *   pause 2 (only if user code ran, or weakrefs could have been read): the
 *     resurrection check on the garbage set, gc_refs in ob_tid again; the
 *     remaining weakrefs to the final garbage are cleared;
 *   world running: clear() each object and drop the collector's reference;
 *     quarantined objects go to the garbage list.
 *
 * Nothing allocates inside pause 1 after the headers were first written
 * except the mark stack; if it cannot grow, every header is restored and the
 * collection ends having collected nothing (rcgc_last_error() is not set:
 * an automatic collection has no caller to tell).
 */
#include "gc/gc_ft.h"
#include "internal/brc.h"
#include "internal/qsbr.h"
#include "internal/object_internal.h"
#include "internal/stw.h"
#include "internal/weakref_internal.h"

#include <string.h>

/* ---- deferred reference counting hooks (internal/deferred.h) ----------------- */
#include "internal/deferred.h"

typedef struct ft_collect {
    int generation;
    ft_vec_t cand;    /* the examined set; after the scan, the garbage */
    ft_vec_t stack;   /* mark stack */
    ft_vec_t queued;  /* references drained from merge queues */
    ft_vec_t legacy;  /* quarantined objects, a reference each */
    ft_vec_t wrcb;    /* weakrefs whose callback must run, a reference each */
    ft_vec_t release; /* garbage that left the set: the collector's references */
    intptr_t candidates, reachable, survivors, uncollectable;
    intptr_t inits;   /* members whose gc_refs were initialised (pause 1) */
    uintptr_t self;   /* the collecting thread's id: owner of the garbage */
    size_t dels, finalizers; /* members with a legacy finalizer / a finalizer to run */
    bool scanned;     /* the garbage was converted in mark_reachable's last pass */
    size_t weakrefs;  /* weakref objects in the garbage */
    size_t weaklists; /* members (pause 1), then garbage objects, with a weak list */
    bool oom;
} ft_collect_t;

RCGC_NOINLINE __attribute__((noreturn, cold)) static void refcount_too_small(rcgc_object_t *o) {
    rcgc_fatal_object(o, "refcount is too small");
}

static inline intptr_t true_count(const rcgc_object_t *o) {
    uint32_t local = __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED);
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    return (intptr_t)local + (shared >> RCGC_REF_SHARED_SHIFT);
}

/* Merged: tid 0, the whole count in the shared field. */
static void set_merged(rcgc_object_t *o, intptr_t count) {
    __atomic_store_n(&o->ob_ref_local, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&o->ob_ref_shared, (count << RCGC_REF_SHARED_SHIFT) | RCGC_REF_MERGED, __ATOMIC_RELAXED);
    __atomic_store_n(&o->ob_tid, 0, __ATOMIC_RELAXED);
}

/* Pool block -> object (the debug allocator's head): fixed once the
 * allocator mode is installed; read at the start of each collection. */
static size_t object_offset;

/* Give a survivor its owner back after ob_tid served as gc_refs: merged
 * objects keep tid 0; others go to the thread owning their page (any thread
 * may own an unmerged object while nobody is mid-operation), or are merged
 * if no running thread owns it. */
static void restore_owner(rcgc_object_t *o) {
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    if ((shared & RCGC_REF_SHARED_FLAG_MASK) == RCGC_REF_MERGED) {
        __atomic_store_n(&o->ob_tid, 0, __ATOMIC_RELAXED);
        return;
    }
    uintptr_t owner = _rcgc_pool_owner_tid((const char *)o - object_offset);
    if (owner) __atomic_store_n(&o->ob_tid, owner, __ATOMIC_RELAXED);
    else set_merged(o, true_count(o));
}

/* ---- pause 1: merge queues ------------------------------------------------------ */

static void take_queued(rcgc_object_t *o, void *arg) {
    ft_collect_t *c = arg;
    /* the queued reference was never applied: merging with no adjustment
     * keeps it, and it is ours now */
    _rcgc_brc_explicit_merge(o, 0);
    c->queued.v[c->queued.n++] = o; /* reserved */
    if (rcgc_object_is_gc(o) && (ft_bits(o) & RCGC_GCBIT_TRACKED)) ft_set_bits(o, FT_GCBIT_QUEUED);
}

static bool drain_queues(ft_collect_t *c) {
    if (!_rcgc_ft_vec_reserve(&c->queued, _rcgc_brc_pending_total())) return false;
    _rcgc_brc_drain_all(take_queued, c);
    return true;
}

/* ---- pause 1: the examined set, gc_refs, internal references ------------------------
 * One walk (the young pages, or the whole heap) enumerates the members
 * into the array and subtracts the references between them. A member's
 * gc_refs is initialised by whichever comes first: the walk reaching it, or
 * the first reference to it from another member (COLLECTING then means
 * "initialised"), so gc_refs may be briefly below its final value; the
 * result is the same as initialising every member first. */

/* Tracked, not frozen, generation <= g, not immortal. */
static inline bool is_member(const rcgc_object_t *o, int generation) {
    return ft_in_generation(o, generation) && !rcgc_is_immortal(o);
}

/* gc_refs := the count minus the references that are not outside ones (the
 * deferred bias, a drained queue reference). */
static void init_member(ft_collect_t *c, rcgc_object_t *o, unsigned b) {
    c->inits++;
    intptr_t count = true_count(o);
    intptr_t refs = count - (intptr_t)_rcgc_deferred_bias(o) - ((b & FT_GCBIT_QUEUED) != 0);
    if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(refs < 0 || count <= 0))
        rcgc_fatal_object(o, "refcount is too small: tracked object with refcount %ld met by the collector",
                          (long)count);
    ft_set_refs(o, refs);
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)(b | RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE),
                     __ATOMIC_RELAXED);
}

static int visit_decref(rcgc_object_t *child, void *arg) {
    ft_collect_t *c = arg;
    unsigned b = ft_bits(child);
    if (!(b & RCGC_GCBIT_COLLECTING)) {
        if (!is_member(child, c->generation)) return 0;
        init_member(c, child, b);
    }
    ft_set_refs(child, ft_refs(child) - 1);
    return 0;
}

static int enumerate_object(rcgc_object_t *o, void *arg) {
    ft_collect_t *c = arg;
    if (!ft_in_generation(o, c->generation)) return 0;
    if (rcgc_is_immortal(o)) { /* never garbage: stop examining it */
        rcgc_gc_untrack(o);
        return 0;
    }
    if (!_rcgc_ft_vec_push(&c->cand, o)) {
        c->oom = true;
        return 1;
    }
    unsigned b = ft_bits(o);
    if (!(b & RCGC_GCBIT_COLLECTING)) init_member(c, o, b);
    const rcgc_type_t *t = o->ob_type;
    /* what the phases after detection may have to do (they are skipped
     * when no member could need them) */
    c->dels += t->del != NULL;
    c->finalizers += t->finalize != NULL && !(b & RCGC_GCBIT_FINALIZED);
    c->weaklists += _rcgc_type_weakrefable(t) && _rcgc_weaklist_head(o);
    t->traverse(o, visit_decref, c);
    return 0;
}

/* After an allocation failure in the walk: members it initialised may not
 * be in the array; walk the same pages again and restore every one. */
static int restore_object(rcgc_object_t *o, void *arg) {
    (void)arg;
    if (ft_bits(o) & RCGC_GCBIT_COLLECTING) {
        restore_owner(o);
        ft_clear_bits(o, RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE);
    }
    return 0;
}

static bool enumerate(ft_collect_t *c) {
    bool young = c->generation == 0;
    if (_rcgc_ft_walk(young, enumerate_object, c) == 0 && !c->oom) {
        /* every member met as a child was also met by the walk (for a young
         * collection: every generation-0 object lies on a young page) */
        if (RCGC_UNLIKELY(c->inits != (intptr_t)c->cand.n))
            rcgc_fatal_object(NULL, "gc: %ld members initialised but %zu enumerated (young pages incomplete?)",
                              (long)c->inits, c->cand.n);
        return true;
    }
    _rcgc_ft_walk(young, restore_object, c);
    c->cand.n = 0;
    return false;
}

static int visit_stack_root(rcgc_object_t *o, void *arg) {
    (void)arg;
    if (ft_bits(o) & RCGC_GCBIT_COLLECTING) ft_set_refs(o, ft_refs(o) + 1);
    return 0;
}

/* Tagged (uncounted) stack references of every thread are outside
 * references; a frame without a valid stack pointer keeps every deferred
 * object alive. */
static void add_stack_roots(ft_collect_t *c) {
    if (!_rcgc_deferred_visit_roots(visit_stack_root, NULL)) return;
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (_rcgc_deferred_bias(o)) ft_set_refs(o, ft_refs(o) + 1);
    }
}

/* Survivors of a collection of generation g join generation g + 1 (the
 * oldest stays the oldest), like the default build's list merge. */
static unsigned older(const ft_collect_t *c) {
    return c->generation + 1 < RCGC_GC_NUM_GENERATIONS ? (unsigned)c->generation + 1
                                                         : RCGC_GC_NUM_GENERATIONS - 1;
}

static void survivor(ft_collect_t *c, rcgc_object_t *o, unsigned b) {
    restore_owner(o);
    ft_set_age(o, older(c));
    /* quarantined objects keep SCRATCH until detach_callback_weakrefs */
    ft_clear_bits(o, RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE | FT_GCBIT_QUEUED);
    if (b & RCGC_GCBIT_SCRATCH) {
        rcgc_incref(o);
        c->legacy.v[c->legacy.n++] = o; /* reserved */
        return;
    }
    c->reachable++;
    const rcgc_type_t *t = o->ob_type;
    if ((t->flags & RCGC_TYPE_MAYBE_UNTRACK) && t->may_untrack && t->may_untrack(o)) rcgc_gc_untrack(o);
    else c->survivors++;
}

/* ---- pause 1: marking ---------------------------------------------------------------- */

typedef struct mark_arg {
    ft_collect_t *c;
    unsigned set; /* bits to set on each newly marked object */
    bool survive; /* pause 1 reachability: each marked object is a survivor */
} mark_arg_t;

static int visit_mark(rcgc_object_t *child, void *arg) {
    mark_arg_t *m = arg;
    unsigned b = ft_bits(child);
    if ((b & (RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE)) != (RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE))
        return 0;
    __atomic_store_n(&child->ob_gc_bits, (uint8_t)((b & ~RCGC_GCBIT_UNREACHABLE) | m->set), __ATOMIC_RELAXED);
    if (!_rcgc_ft_vec_push(&m->c->stack, child)) {
        m->c->oom = true;
        return 1;
    }
    /* its gc_refs are not needed any more: owner back, age, bits now */
    if (m->survive) survivor(m->c, child, b & ~RCGC_GCBIT_SCRATCH);
    return 0;
}

/* Mark o (already marked by the caller) and everything in the set it reaches. */
static bool mark_from(ft_collect_t *c, rcgc_object_t *o, unsigned set, bool survive) {
    mark_arg_t m = { c, set, survive };
    c->stack.n = 0;
    if (!_rcgc_ft_vec_push(&c->stack, o)) return false;
    while (c->stack.n) {
        rcgc_object_t *p = c->stack.v[--c->stack.n];
        if (p->ob_type->traverse(p, visit_mark, &m) != 0 && c->oom) return false;
    }
    return true;
}

/* Every member with outside references is reachable, and so is all it
 * reaches; each becomes a survivor as soon as it is marked. The same pass
 * compacts the tentatively unreachable members to the front of the array;
 * a last pass over those drops the ones marked later. On failure (mark
 * stack) the array is made whole again for restore_all. */
static void garbage(ft_collect_t *c, rcgc_object_t *o);

static bool mark_reachable(ft_collect_t *c) {
    size_t w = 0, n = c->cand.n;
    for (size_t i = 0; i < n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        unsigned b = ft_bits(o);
        if (!(b & RCGC_GCBIT_UNREACHABLE)) continue; /* marked earlier: a survivor already */
        intptr_t refs = ft_refs(o);
        if (rcgc_debug_level >= 1 && RCGC_UNLIKELY(refs < 0)) {
            restore_owner(o);
            refcount_too_small(o);
        }
        if (refs == 0) {
            c->cand.v[w++] = o;
            continue;
        }
        ft_clear_bits(o, RCGC_GCBIT_UNREACHABLE);
        survivor(c, o, b);
        if (!mark_from(c, o, 0, true)) {
            memmove(&c->cand.v[w], &c->cand.v[i + 1], (n - i - 1) * sizeof *c->cand.v);
            c->cand.n = w + (n - i - 1);
            return false;
        }
    }
    /* With no legacy finalizer and no weak list among the members, nothing
     * can change the garbage set or fail from here: convert it now. */
    c->scanned = c->dels == 0 && c->weaklists == 0;
    if (c->scanned) c->weaklists = 0;
    size_t u = 0;
    for (size_t i = 0; i < w; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (!(ft_bits(o) & RCGC_GCBIT_UNREACHABLE)) continue;
        if (c->scanned) garbage(c, o);
        c->cand.v[u++] = o;
    }
    c->cand.n = u;
    return true;
}

/* Garbage with a legacy finalizer, and all garbage it reaches, is
 * quarantined (SCRATCH): it survives and the former go to the garbage list. */
static bool mark_legacy(ft_collect_t *c) {
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        unsigned b = ft_bits(o);
        if (!(b & RCGC_GCBIT_UNREACHABLE) || !o->ob_type->del) continue;
        __atomic_store_n(&o->ob_gc_bits, (uint8_t)((b & ~RCGC_GCBIT_UNREACHABLE) | RCGC_GCBIT_SCRATCH),
                         __ATOMIC_RELAXED);
        if (!mark_from(c, o, RCGC_GCBIT_SCRATCH, false)) return false;
    }
    return true;
}

/* Undo pause 1 after an allocation failure: owners back, scratch bits off. */
static void restore_all(ft_collect_t *c) {
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        restore_owner(o);
        ft_clear_bits(o, RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE | RCGC_GCBIT_SCRATCH | FT_GCBIT_QUEUED);
    }
    c->cand.n = 0;
}

/* ---- pause 1: the scan ------------------------------------------------------------------ */

static size_t callback_weakrefs(rcgc_object_t *o) {
    size_t n = 0;
    for (rcgc_weakref_t *wr = _rcgc_weaklist_head(o); wr; wr = wr->wr_next) n += wr->wr_callback != NULL;
    return n;
}

/* Room for what the scan appends, so that it cannot fail half-way. */
static bool reserve_for_scan(ft_collect_t *c) {
    size_t legacy = 0, wrcb = 0;
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        unsigned b = ft_bits(o);
        legacy += (b & RCGC_GCBIT_SCRATCH) != 0;
        if ((b & RCGC_GCBIT_UNREACHABLE) && _rcgc_type_weakrefable(o->ob_type) && _rcgc_weaklist_head(o))
            wrcb += callback_weakrefs(o);
    }
    return _rcgc_ft_vec_reserve(&c->legacy, legacy) && _rcgc_ft_vec_reserve(&c->wrcb, wrcb);
}

/* Garbage gets one more reference, the collector's (a deferred object's
 * bias turns into that reference), and the collecting thread as its owner
 * with the whole count local: the references the garbage holds on itself
 * are then dropped by clear() with plain stores, not atomics. A count too
 * large for the owner's field is merged instead. */
static void garbage(ft_collect_t *c, rcgc_object_t *o) {
    intptr_t count = true_count(o);
    if (_rcgc_deferred_bias(o)) _rcgc_deferred_disable_keep_ref(o);
    else count++;
    if (count < ((intptr_t)1 << 30)) {
        intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
        __atomic_store_n(&o->ob_ref_local, (uint32_t)count, __ATOMIC_RELAXED);
        __atomic_store_n(&o->ob_ref_shared, shared & RCGC_REF_MAYBE_WEAKREF, __ATOMIC_RELAXED);
        __atomic_store_n(&o->ob_tid, c->self, __ATOMIC_RELAXED);
    } else {
        set_merged(o, count);
    }
    ft_clear_bits(o, FT_GCBIT_QUEUED);
    if (_rcgc_type_weakrefable(o->ob_type) && _rcgc_weaklist_head(o)) c->weaklists++;
    c->weakrefs += o->ob_type == &rcgc_weakref_type;
}

/* The owner of a garbage object after ob_tid served as gc_refs again. */
static inline uintptr_t garbage_owner(const ft_collect_t *c, const rcgc_object_t *o) {
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    return (shared & RCGC_REF_SHARED_FLAG_MASK) == RCGC_REF_MERGED ? 0 : c->self;
}

/* The unreachable objects: quarantined ones survive too, the rest is the
 * garbage. */
static void scan(ft_collect_t *c) {
    size_t w = 0;
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        unsigned b = ft_bits(o);
        if (b & RCGC_GCBIT_UNREACHABLE) {
            garbage(c, o);
            c->cand.v[w++] = o;
        } else {
            survivor(c, o, b);
        }
    }
    c->cand.n = w;
    c->uncollectable = (intptr_t)c->legacy.n;
}

/* A quarantined weakref whose callback is due leaves the quarantine (as
 * in the default build and CPython, where it moves from the finalizers
 * list to the callback list): not uncollectable, not in the garbage list. */
static void unquarantine(ft_collect_t *c, rcgc_object_t *w) {
    ft_clear_bits(w, RCGC_GCBIT_SCRATCH);
    for (size_t i = 0; i < c->legacy.n; i++) {
        if (c->legacy.v[i] != w) continue;
        memmove(&c->legacy.v[i], &c->legacy.v[i + 1], (c->legacy.n - i - 1) * sizeof *c->legacy.v);
        c->legacy.n--;
        return;
    }
}

/* Weakrefs with a callback to garbage are detached now (CPython 3.14's
 * order, as in finalize_default.c); those that are not garbage themselves
 * and are alive get their callback called after the restart. */
static void detach_callback_weakrefs(ft_collect_t *c) {
    for (size_t i = 0; i < c->cand.n && c->weaklists; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (!_rcgc_type_weakrefable(o->ob_type)) continue;
        rcgc_weakref_t *wr = _rcgc_weaklist_head(o), *next;
        for (; wr; wr = next) {
            next = wr->wr_next;
            if (!wr->wr_callback) continue;
            _rcgc_weakref_detach(wr);
            rcgc_object_t *w = &wr->ob;
            if (ft_bits(w) & RCGC_GCBIT_COLLECTING) continue; /* garbage itself: never fires */
            if (!(ft_bits(w) & RCGC_GCBIT_TRACKED) || rcgc_refcnt(w) <= 0) continue;
            if (ft_bits(w) & RCGC_GCBIT_SCRATCH) unquarantine(c, w); /* its reference moves */
            else rcgc_incref(w);
            c->wrcb.v[c->wrcb.n++] = w; /* reserved */
        }
    }
    for (size_t i = 0; i < c->legacy.n; i++) ft_clear_bits(c->legacy.v[i], RCGC_GCBIT_SCRATCH);
    c->uncollectable = (intptr_t)c->legacy.n;
}

/* The first pause; false if the collection was abandoned (out of memory). */
static bool pause1(ft_collect_t *c) {
    _rcgc_stop_the_world();
    _rcgc_gc_prepare_counts(c->generation);
    _rcgc_qsbr_process_all_stopped(); /* memory waiting for lock-free readers */
    bool ok = drain_queues(c) && enumerate(c);
    c->candidates = (intptr_t)c->cand.n;
    if (ok) {
        add_stack_roots(c);
        ok = mark_reachable(c);
        if (!ok) restore_all(c);
    }
    if (ok && !c->scanned) { /* from here on the array holds the unreachable only */
        c->weaklists = 0; /* counted again, on the garbage, by garbage() */
        ok = mark_legacy(c) && reserve_for_scan(c);
        if (!ok) restore_all(c);
        if (ok) {
            scan(c);
            detach_callback_weakrefs(c);
        }
    }
    /* no generation-0 object is left: every collection examines them */
    if (ok) _rcgc_heap_young_reset();
    /* queued objects outside the examined set carry the bit too */
    for (size_t i = 0; i < c->queued.n; i++) ft_clear_bits(c->queued.v[i], FT_GCBIT_QUEUED);
    _rcgc_start_the_world();
    return ok;
}

/* ---- world running: callbacks and finalizers ------------------------------------------------ */

static void release_all(ft_vec_t *v) {
    for (size_t i = 0; i < v->n; i++) rcgc_decref(v->v[i]);
    v->n = 0;
}

/* Returns how many weakrefs were freed by dropping the collector's
 * reference after their callback (counted as collected, as CPython does). */
static intptr_t call_weakref_callbacks(ft_collect_t *c) {
    intptr_t freed = 0;
    for (size_t i = 0; i < c->wrcb.n; i++) {
        rcgc_object_t *w = c->wrcb.v[i];
        _rcgc_weakref_call_callback((rcgc_weakref_t *)w);
        freed += rcgc_refcnt(w) == 1;
        rcgc_decref(w);
    }
    c->wrcb.n = 0;
    return freed;
}

static intptr_t finalize_garbage(ft_collect_t *c) {
    intptr_t called = 0;
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (o->ob_type->finalize && !(ft_bits(o) & RCGC_GCBIT_FINALIZED)) {
            rcgc_object_call_finalizer(o);
            called++;
        }
    }
    return called;
}

/* ---- pause 2: the resurrection check ---------------------------------------------------------- */

/* Garbage that left the set (resurrected, or untracked by a finalizer) is
 * an ordinary old object again, still merged; the collector's reference is
 * released after the restart. */
static void leave_set(ft_collect_t *c, rcgc_object_t *o) {
    ft_clear_bits(o, RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE);
    __atomic_store_n(&o->ob_tid, garbage_owner(c, o), __ATOMIC_RELAXED);
    ft_set_age(o, older(c));
    c->release.v[c->release.n++] = o; /* reserved */
}

/* Garbage whose count fell to the collector's reference alone, directly or
 * through other such objects, would have died during the finalizer phase
 * in the default build (whose lists hold no references): it is released,
 * not counted. With refs = count - 1 for every member, mark those (SCRATCH)
 * and take their references off the members they point to. */
static int visit_dead(rcgc_object_t *child, void *arg) {
    ft_collect_t *c = arg;
    unsigned b = ft_bits(child);
    if (!(b & RCGC_GCBIT_COLLECTING) || (b & RCGC_GCBIT_SCRATCH)) return 0;
    ft_set_refs(child, ft_refs(child) - 1);
    if (ft_refs(child) == 0) {
        ft_set_bits(child, RCGC_GCBIT_SCRATCH);
        if (!_rcgc_ft_vec_push(&c->stack, child)) c->oom = true;
    }
    return 0;
}

static bool find_dead(ft_collect_t *c) {
    c->stack.n = 0;
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (ft_refs(o) != 0) continue;
        ft_set_bits(o, RCGC_GCBIT_SCRATCH);
        if (!_rcgc_ft_vec_push(&c->stack, o)) return false;
        while (c->stack.n && !c->oom) {
            rcgc_object_t *p = c->stack.v[--c->stack.n];
            p->ob_type->traverse(p, visit_dead, c);
        }
        if (c->oom) return false;
    }
    return true;
}

/* The rest: subtract the references between surviving members; what is
 * left are outside references (resurrection). */
static int visit_decref_live(rcgc_object_t *child, void *arg) {
    (void)arg;
    if ((ft_bits(child) & (RCGC_GCBIT_COLLECTING | RCGC_GCBIT_SCRATCH)) == RCGC_GCBIT_COLLECTING)
        ft_set_refs(child, ft_refs(child) - 1);
    return 0;
}

static bool mark_resurrected(ft_collect_t *c) {
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (!(ft_bits(o) & RCGC_GCBIT_SCRATCH)) o->ob_type->traverse(o, visit_decref_live, NULL);
    }
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        unsigned b = ft_bits(o);
        if ((b & (RCGC_GCBIT_UNREACHABLE | RCGC_GCBIT_SCRATCH)) == RCGC_GCBIT_UNREACHABLE && ft_refs(o) > 0) {
            ft_clear_bits(o, RCGC_GCBIT_UNREACHABLE);
            if (!mark_from(c, o, 0, false)) return false;
        }
    }
    return true;
}

/* Without memory for the check, nothing can be proven garbage: the whole
 * set leaves it (as if resurrected) and is released after the restart. */
static void abandon_garbage(ft_collect_t *c) {
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        ft_clear_bits(o, RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE | RCGC_GCBIT_SCRATCH);
        __atomic_store_n(&o->ob_tid, garbage_owner(c, o), __ATOMIC_RELAXED);
        ft_set_age(o, older(c));
    }
    ft_vec_t t = c->release;
    c->release = c->cand;
    c->cand = t;
    c->cand.n = 0;
}

static void resurrection_check(ft_collect_t *c) {
    size_t w = 0;
    if (!_rcgc_ft_vec_reserve(&c->release, c->cand.n)) {
        abandon_garbage(c);
        return;
    }
    /* refs := count - the collector's reference; untracked ones leave */
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (!(ft_bits(o) & RCGC_GCBIT_TRACKED)) {
            leave_set(c, o);
            continue;
        }
        ft_set_refs(o, true_count(o) - 1);
        ft_set_bits(o, RCGC_GCBIT_UNREACHABLE);
        c->cand.v[w++] = o;
    }
    c->cand.n = w;
    c->oom = false;
    bool ok = find_dead(c) && mark_resurrected(c);
    w = 0;
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        unsigned b = ft_bits(o);
        ft_clear_bits(o, RCGC_GCBIT_SCRATCH);
        if (!ok || (b & RCGC_GCBIT_SCRATCH) || !(b & RCGC_GCBIT_UNREACHABLE)) {
            leave_set(c, o); /* dead, or resurrected */
        } else {
            __atomic_store_n(&o->ob_tid, garbage_owner(c, o), __ATOMIC_RELAXED);
            c->cand.v[w++] = o;
        }
    }
    c->cand.n = w;
}

/* Every weakref object in the final garbage is detached from its referent,
 * every weakref to a final-garbage object is cleared, without callbacks. */
static void clear_weakrefs(ft_collect_t *c) {
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (o->ob_type == &rcgc_weakref_type) _rcgc_weakref_detach((rcgc_weakref_t *)o);
        if (_rcgc_type_weakrefable(o->ob_type) && _rcgc_weaklist_head(o)) rcgc_weakref_clear_refs_no_callbacks(o);
    }
}

static void pause2(ft_collect_t *c, bool check) {
    _rcgc_stop_the_world();
    if (check) resurrection_check(c);
    clear_weakrefs(c);
    _rcgc_start_the_world();
}

/* ---- world running: deletion ---------------------------------------------------------------- */

static void delete_garbage(ft_collect_t *c) {
    bool saveall = (_rcgc_gc.debug & RCGC_GC_DEBUG_SAVEALL) != 0;
    unsigned age = older(c);
    for (size_t i = 0; i < c->cand.n; i++) {
        rcgc_object_t *o = c->cand.v[i];
        if (saveall) {
            if (_rcgc_gc_garbage_append(o) < 0) rcgc_error_clear();
        } else if (o->ob_type->clear && (ft_bits(o) & RCGC_GCBIT_TRACKED)) {
            if (o->ob_type->clear(o) != 0) rcgc_error_write_unraisable("clear of", o);
        }
        /* survives its clear: an old object ("it may die later") */
        ft_clear_bits(o, RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE);
        ft_set_age(o, age);
        rcgc_decref(o);
    }
}

/* Quarantined objects that only the collector still holds would have died
 * during the deletion in the default build (its finalizers list holds no
 * references): release them, until none is left, and do not count them. */
static void release_dead_quarantined(ft_collect_t *c) {
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < c->legacy.n; i++) {
            rcgc_object_t *o = c->legacy.v[i];
            if (!o || rcgc_refcnt(o) != 1) continue;
            /* its count reached 0: the default build's dealloc would run the
             * finalizer first, which may resurrect it */
            if (o->ob_type->finalize && !(ft_bits(o) & RCGC_GCBIT_FINALIZED)) {
                rcgc_object_call_finalizer(o);
                if (rcgc_refcnt(o) != 1) continue;
            }
            c->legacy.v[i] = NULL;
            rcgc_decref(o);
            again = true;
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < c->legacy.n; i++)
        if (c->legacy.v[i]) c->legacy.v[w++] = c->legacy.v[i];
    c->legacy.n = w;
    c->uncollectable = (intptr_t)w;
}

static void handle_legacy_finalizers(ft_collect_t *c) {
    bool saveall = (_rcgc_gc.debug & RCGC_GC_DEBUG_SAVEALL) != 0;
    bool room = true;
    for (size_t i = 0; i < c->legacy.n; i++) {
        rcgc_object_t *o = c->legacy.v[i];
        if (room && (saveall || o->ob_type->del) && _rcgc_gc_garbage_append(o) < 0) {
            rcgc_error_clear();
            room = false;
        }
    }
    release_all(&c->legacy);
}

static void print_objects(const ft_vec_t *v, const char *what) {
    for (size_t i = 0; i < v->n; i++) _rcgc_gc_debug_object(what, v->v[i]);
}

static void update_long_lived(const ft_collect_t *c) {
    if (c->generation == RCGC_GC_NUM_GENERATIONS - 1) {
        _rcgc_gc.long_lived_pending = 0;
        _rcgc_gc.long_lived_total = c->survivors;
    } else if (c->generation == RCGC_GC_NUM_GENERATIONS - 2) {
        _rcgc_gc.long_lived_pending += c->survivors;
    }
}

static void free_collection(ft_collect_t *c) {
    _rcgc_ft_vec_free(&c->cand);
    _rcgc_ft_vec_free(&c->stack);
    _rcgc_ft_vec_free(&c->queued);
    _rcgc_ft_vec_free(&c->legacy);
    _rcgc_ft_vec_free(&c->wrcb);
    _rcgc_ft_vec_free(&c->release);
}

rcgc_gc_result_t _rcgc_gc_collect_generation(int generation) {
    rcgc_gc_result_t r = { 0, 0, 0 };
    ft_collect_t c;
    memset(&c, 0, sizeof c);
    c.generation = generation;
    c.self = rcgc_thread_id();
    object_offset = _rcgc_alloc_object_offset();
    bool ok = pause1(&c);
    release_all(&c.queued); /* destructors run now, with the world running */
    r.candidates = c.candidates;
    if (!ok) {
        free_collection(&c);
        return r;
    }
    update_long_lived(&c);
    intptr_t user_code = 0;
    if ((_rcgc_gc.debug & RCGC_GC_DEBUG_COLLECTABLE) && c.cand.n) {
        print_objects(&c.cand, "collectable");
        user_code++;
    }
    if (c.wrcb.n) {
        user_code += (intptr_t)c.wrcb.n;
        r.collected += call_weakref_callbacks(&c);
    }
    if (c.finalizers) user_code += finalize_garbage(&c);
    /* Other threads ran since pause 1: only user code, or a weakref still
     * pointing at garbage, can have given them a reference to it. */
    if (c.cand.n && (user_code || c.weaklists)) pause2(&c, true);
    else if (c.weakrefs) clear_weakrefs(&c); /* detaching garbage weakrefs: the weakref lock suffices */
    r.collected += (intptr_t)c.cand.n;
    delete_garbage(&c);
    release_all(&c.release);
    release_dead_quarantined(&c);
    r.uncollectable = c.uncollectable;
    if (_rcgc_gc.debug & RCGC_GC_DEBUG_UNCOLLECTABLE) print_objects(&c.legacy, "uncollectable");
    handle_legacy_finalizers(&c);
    free_collection(&c);
    return r;
}
