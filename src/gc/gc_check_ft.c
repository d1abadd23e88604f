/* gc/gc_check_ft.c - the heap checker (rcgc_gc_check_heap) and the
 * debug-flag object lines of the free-threaded build.
 *
 * With the world stopped, every live object of the GC heap is checked:
 *   1. flags: TRACKED only on GC types; no collector scratch bit
 *      (COLLECTING, UNREACHABLE, SCRATCH, QUEUED) outside a collection;
 *   2. ownership (free-threading.md §11 scenario 26): a mortal object whose
 *      counts are merged has tid 0, an unmerged one a non-zero tid;
 *   3. counts: every tracked object's count >= the references it receives
 *      from tracked objects ("refcount is too small" otherwise).
 * Step 3 borrows ob_tid as a counter (the tids are saved in an array and
 * restored) and the SCRATCH bit as "listed". If the arrays cannot be
 * allocated, step 3 is skipped and reported.
 */
#include "gc/gc_ft.h"
#include "internal/object_internal.h"
#include "internal/stw.h"

#include <stdio.h>

#include "internal/deferred.h"


typedef struct check {
    size_t problems, tracked;
    ft_vec_t objs; /* tracked objects */
    uintptr_t *tids;
    bool oom;
} check_t;

static intptr_t count_of(const rcgc_object_t *o) {
    uint32_t local = __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED);
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    intptr_t n = (intptr_t)local + (shared >> RCGC_REF_SHARED_SHIFT);
    /* a queued object's merge queue holds a reference its count does not show */
    if ((shared & RCGC_REF_SHARED_FLAG_MASK) == RCGC_REF_QUEUED) n++;
    return n - (intptr_t)_rcgc_deferred_bias(o);
}

static size_t check_header(rcgc_object_t *o) {
    size_t problems = 0;
    unsigned bits = ft_bits(o);
    if ((bits & RCGC_GCBIT_TRACKED) && !rcgc_object_is_gc(o))
        _rcgc_gc_check_report("tracked object of a non-GC type", o), problems++;
    if (!_rcgc_gc_is_collecting() &&
        (bits & (RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE | RCGC_GCBIT_SCRATCH | FT_GCBIT_QUEUED)))
        _rcgc_gc_check_report("collector scratch bits set outside a collection", o), problems++;
    /* immortal objects have no owner; an object with count 0 is being torn
     * down (a trashcan chain links through its tid) */
    if (rcgc_is_immortal(o) || count_of(o) + (intptr_t)_rcgc_deferred_bias(o) <= 0) return problems;
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    uintptr_t tid = __atomic_load_n(&o->ob_tid, __ATOMIC_RELAXED);
    bool merged = (shared & RCGC_REF_SHARED_FLAG_MASK) == RCGC_REF_MERGED;
    if (merged && tid != 0) _rcgc_gc_check_report("merged counts but a non-zero owner", o), problems++;
    if (!merged && tid == 0) _rcgc_gc_check_report("unmerged counts but no owner", o), problems++;
    return problems;
}

static int visit_check(rcgc_object_t *o, void *arg) {
    check_t *c = arg;
    c->problems += check_header(o);
    if (!(ft_bits(o) & RCGC_GCBIT_TRACKED)) return 0;
    c->tracked++;
    if (!c->oom && !_rcgc_ft_vec_push(&c->objs, o)) c->oom = true;
    return 0;
}

static int visit_count_internal(rcgc_object_t *child, void *arg) {
    (void)arg;
    if (ft_bits(child) & RCGC_GCBIT_SCRATCH) child->ob_tid++;
    return 0;
}

static void check_counts(check_t *c) {
    ft_vec_t *v = &c->objs;
    for (size_t i = 0; i < v->n; i++) {
        c->tids[i] = v->v[i]->ob_tid;
        v->v[i]->ob_tid = 0;
        ft_set_bits(v->v[i], RCGC_GCBIT_SCRATCH);
    }
    for (size_t i = 0; i < v->n; i++) v->v[i]->ob_type->traverse(v->v[i], visit_count_internal, NULL);
    for (size_t i = 0; i < v->n; i++) {
        rcgc_object_t *o = v->v[i];
        uintptr_t internal = o->ob_tid;
        o->ob_tid = c->tids[i];
        ft_clear_bits(o, RCGC_GCBIT_SCRATCH);
        if (!rcgc_is_immortal(o) && count_of(o) < (intptr_t)internal) {
            char what[96];
            snprintf(what, sizeof what, "refcount is too small (%llu references from tracked objects)",
                     (unsigned long long)internal);
            _rcgc_gc_check_report(what, o);
            c->problems++;
        }
    }
}

size_t _rcgc_gc_check_heap_sized(size_t *tracked) {
    check_t c = { 0 };
    _rcgc_stop_the_world();
    _rcgc_ft_walk(false, visit_check, &c);
    if (!c.oom) c.tids = rcgc_raw_malloc((c.objs.n ? c.objs.n : 1) * sizeof *c.tids);
    if (c.tids) check_counts(&c);
    _rcgc_start_the_world();
    if (!c.tids) _rcgc_output("gc: check_heap: out of memory, reference counts not checked\n");
    rcgc_raw_free(c.tids);
    _rcgc_ft_vec_free(&c.objs);
    *tracked = c.tracked;
    return c.problems;
}
