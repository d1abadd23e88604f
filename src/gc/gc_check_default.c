/* gc/gc_check_default.c - the heap checker (rcgc_gc_check_heap) and the
 * debug-flag object lines of the default build.
 *
 * The checker verifies every invariant written in gc_state.h and
 * gc_list_default.h that can be checked between collections:
 *   1. links: each list is circular, gc_prev mirrors gc_next, the walk ends;
 *   2. flags: every listed object is of a GC type and TRACKED, FROZEN exactly
 *      in the permanent list, COLLECTING/UNREACHABLE clear (outside a
 *      collection);
 *   3. counts: every object's refcount (less a deferred object's bias) >= the
 *      references it receives from tracked objects ("refcount is too small" otherwise - the collector
 *      would compute a negative external count for it).
 * Step 3 borrows gc_prev as a counter and the SCRATCH bit as "listed"; both
 * are restored before returning. RCGC_DEBUG >= 3 runs it after every
 * collection.
 */
#include "gc/gc_list_default.h"
#include "internal/object_internal.h"
#include "internal/deferred.h"

#include <stdio.h>


/* ---- 1 + 2: links and flags ---------------------------------------------------- */

static size_t check_object_flags(rcgc_object_t *o, bool frozen) {
    size_t problems = 0;
    if (!rcgc_object_is_gc(o)) {
        _rcgc_gc_check_report("object of a non-GC type in a generation list", o);
        return 1;
    }
    unsigned bits = o->ob_gc_bits;
    if (!(bits & RCGC_GCBIT_TRACKED)) _rcgc_gc_check_report("listed object without the TRACKED bit", o), problems++;
    if (frozen != !!(bits & RCGC_GCBIT_FROZEN)) _rcgc_gc_check_report("FROZEN bit disagrees with its list", o), problems++;
    if (!_rcgc_gc.collecting && (bits & (RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE)))
        _rcgc_gc_check_report("collector scratch bits set outside a collection", o), problems++;
    return problems;
}

/* Returns the number of problems; *broken is set when the list cannot be
 * walked safely again (the count check is then skipped). */
static size_t check_list(gc_head_t *list, bool frozen, size_t limit, bool *broken, size_t *count) {
    size_t problems = 0, n = 0;
    gc_head_t *prev = list;
    for (gc_head_t *g = GC_NEXT(list); g != list; prev = g, g = GC_NEXT(g)) {
        bool null_link = gc_next_link(prev) == 0; /* then g is no head at all */
        if (null_link || ++n > limit) {
            _rcgc_output("gc: check_heap: list %p: %s after %p\n", (void *)list,
                         null_link ? "NULL link" : "does not return to its head", (void *)prev);
            *broken = true;
            return problems + 1;
        }
        if (GC_PREV(g) != prev) {
            _rcgc_gc_check_report("gc_prev does not point at the previous object", FROM_GC(g));
            problems++;
        }
        problems += check_object_flags(FROM_GC(g), frozen);
    }
    *count += n;
    if (GC_PREV(list) != prev) {
        _rcgc_output("gc: check_heap: list %p: head's tail pointer is wrong\n", (void *)list);
        problems++;
    }
    return problems;
}

/* ---- 3: counts ------------------------------------------------------------------- */

static gc_head_t *const *all_lists(size_t *n) {
    static gc_head_t *lists[RCGC_GC_NUM_GENERATIONS + 1];
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) lists[i] = _rcgc_gc.generations[i].head;
    lists[RCGC_GC_NUM_GENERATIONS] = _rcgc_gc.permanent.head;
    *n = RCGC_GC_NUM_GENERATIONS + 1;
    return lists;
}

static int visit_count_internal(rcgc_object_t *child, void *arg) {
    (void)arg;
    if ((child->ob_gc_bits & RCGC_GCBIT_SCRATCH) && rcgc_object_is_gc(child)) gc_inc_refs(AS_GC(child));
    return 0;
}

static size_t check_counts(void) {
    size_t nlists, problems = 0;
    gc_head_t *const *lists = all_lists(&nlists);
    for (size_t l = 0; l < nlists; l++)
        for (gc_head_t *g = GC_NEXT(lists[l]); g != lists[l]; g = GC_NEXT(g)) {
            gc_set_bits(FROM_GC(g), RCGC_GCBIT_SCRATCH);
            gc_set_refs(g, 0);
        }
    for (size_t l = 0; l < nlists; l++)
        for (gc_head_t *g = GC_NEXT(lists[l]); g != lists[l]; g = GC_NEXT(g)) {
            rcgc_object_t *o = FROM_GC(g);
            o->ob_type->traverse(o, visit_count_internal, NULL);
        }
    for (size_t l = 0; l < nlists; l++) {
        gc_head_t *prev = lists[l];
        for (gc_head_t *g = GC_NEXT(lists[l]); g != lists[l]; prev = g, g = GC_NEXT(g)) {
            rcgc_object_t *o = FROM_GC(g);
            /* a deferred object's bias is no one's reference */
            if (!rcgc_is_immortal(o) && (uint32_t)rcgc_refcnt(o) - _rcgc_deferred_bias(o) < gc_get_refs(g)) {
                char what[96];
                snprintf(what, sizeof what, "refcount is too small (%llu references from tracked objects)",
                         (unsigned long long)gc_get_refs(g));
                _rcgc_gc_check_report(what, o);
                problems++;
            }
            gc_set_prev_link(g, gc_any_link(prev));
            gc_clear_bits(o, RCGC_GCBIT_SCRATCH);
        }
    }
    return problems;
}

size_t _rcgc_gc_check_heap_sized(size_t *tracked) {
    size_t nlists, problems = 0;
    bool broken = false;
    size_t limit = rcgc_object_live_count() + 1;
    gc_head_t *const *lists = all_lists(&nlists);
    *tracked = 0;
    for (size_t l = 0; l < nlists; l++)
        problems += check_list(lists[l], l == RCGC_GC_NUM_GENERATIONS, limit, &broken, tracked);
    if (!broken) problems += check_counts();
    return problems;
}
