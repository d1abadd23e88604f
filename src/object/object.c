/* object/object.c - creating objects, the default dealloc, finalizers from
 * dealloc, immortal and static objects.
 *
 * Memory layout of an object block:
 *     [ pre-header (GC types, default build: collector linkage) ][ object ]
 * rcgc_object_new returns the object; the block starts _rcgc_preheader_size()
 * bytes earlier.
 */
#include "internal/tstate.h"
#include "internal/alloc_internal.h"
#include "internal/gc_internal.h"
#include "internal/object_internal.h"
#include "internal/deferred.h"
#include "internal/qsbr.h"

#include <string.h>

/* Live-object accounting without a shared write per allocation: each thread
 * keeps a delta and adds it to the runtime's atomic count once it passes
 * +-LIVE_BATCH, and at its flush points (internal/tstate.h). */
#define LIVE_BATCH 256

void _rcgc_live_count_flush(rcgc_tstate_t *ts) {
    _rcgc_gc_count_flush(ts);
    if (ts->live_delta == 0) return;
    __atomic_fetch_add(&_rcgc_runtime.live_objects, ts->live_delta, __ATOMIC_RELAXED);
    ts->live_delta = 0;
}

static inline void live_count_add(intptr_t d) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    ts->live_delta += d;
    if (RCGC_UNLIKELY(ts->live_delta > LIVE_BATCH || ts->live_delta < -LIVE_BATCH)) _rcgc_live_count_flush(ts);
}

size_t rcgc_object_live_count(void) {
    _rcgc_live_count_flush(_rcgc_tstate());
    intptr_t n = __atomic_load_n(&_rcgc_runtime.live_objects, __ATOMIC_RELAXED);
    return n > 0 ? (size_t)n : 0; /* others' unflushed creations may lag their frees */
}

static bool type_is_valid(const rcgc_type_t *t) {
    if (!t || t->basic_size < sizeof(rcgc_object_t)) return false;
    if (rcgc_type_is_gc(t) && !t->traverse) return false;
    if ((t->flags & RCGC_TYPE_WEAKREFABLE) &&
        (t->weaklist_offset < sizeof(rcgc_object_t) ||
         t->weaklist_offset + sizeof(void *) > t->basic_size))
        return false;
    if ((t->flags & RCGC_TYPE_MAYBE_UNTRACK) && !t->may_untrack) return false;
    if (t->item_size && t->basic_size < sizeof(rcgc_var_object_t)) return false;
    return true;
}

static rcgc_object_t *object_alloc(const rcgc_type_t *type, size_t size) {
    size_t pre = _rcgc_preheader_size(type);
    size_t total;
    if (__builtin_add_overflow(size, pre, &total))
        return _rcgc_fail_null(RCGC_EOVERFLOW, "object size overflows");
    bool gc = rcgc_type_is_gc(type);
    char *block = _rcgc_alloc_object(total, gc ? RCGC_HEAP_GC : RCGC_HEAP_OBJECT);
    if (!block) return NULL; /* RCGC_ENOMEM already set */
    memset(block, 0, total);
    rcgc_object_t *o = (rcgc_object_t *)(block + pre);
#ifndef RCGC_FREE_THREADED
    /* the collector's compressed links name GC objects by 16-byte granule
     * (gc/gc_list_default.h): an OBJ hook that shifts the block it gets from
     * the previous allocator by other than a multiple of 16 cannot serve them */
    if (gc && RCGC_UNLIKELY(((uintptr_t)o & 15) != 0)) {
        _rcgc_free_object(block, RCGC_HEAP_GC);
        return _rcgc_fail_null(RCGC_ENOTSUP, "an OBJ allocator hook must keep objects of GC "
                                             "types 16-byte aligned (block 8 mod 16)");
    }
#endif
    _rcgc_header_init(o, type);
    live_count_add(1);
    if (gc) {
        _rcgc_gc_on_alloc();
        if (!(type->flags & RCGC_TYPE_NO_AUTO_TRACK)) _rcgc_gc_track_new(o);
    }
    return o;
}

rcgc_object_t *rcgc_object_new(const rcgc_type_t *type) {
    if (RCGC_UNLIKELY(!type_is_valid(type) || type->item_size))
        return _rcgc_fail_null(RCGC_EINVAL, "rcgc_object_new: invalid or variable-size type");
    return object_alloc(type, type->basic_size);
}

rcgc_object_t *rcgc_object_new_var(const rcgc_type_t *type, size_t nitems) {
    if (RCGC_UNLIKELY(!type_is_valid(type)))
        return _rcgc_fail_null(RCGC_EINVAL, "rcgc_object_new_var: invalid type");
    size_t items, size;
    if (__builtin_mul_overflow(nitems, type->item_size, &items) ||
        __builtin_add_overflow(items, type->basic_size, &size))
        return _rcgc_fail_null(RCGC_EOVERFLOW, "object size overflows");
    rcgc_object_t *o = object_alloc(type, size);
    if (o && type->item_size) ((rcgc_var_object_t *)o)->ob_size = nitems;
    return o;
}

size_t rcgc_object_size(const rcgc_object_t *o) {
    const rcgc_type_t *t = o->ob_type;
    if (!t->item_size) return t->basic_size;
    return t->basic_size + ((const rcgc_var_object_t *)o)->ob_size * t->item_size;
}

void rcgc_object_free(rcgc_object_t *o) {
    const rcgc_type_t *t = o->ob_type;
    RCGC_ASSERT_OBJ(o, !(o->ob_flags & (RCGC_OBF_STATIC | RCGC_OBF_IMMORTAL)), "freeing an immortal object");
    bool gc = rcgc_type_is_gc(t);
    if (gc) {
        /* usually untracked already (the default dealloc untracks first) */
        if (o->ob_gc_bits & RCGC_GCBIT_TRACKED) rcgc_gc_untrack(o);
        _rcgc_gc_on_free();
    }
    _rcgc_header_mark_dead(o);
    live_count_add(-1);
    char *block = (char *)o - _rcgc_preheader_size(t);
    /* free-threaded: lock-free readers may still try-incref it (rcgc/qsbr.h) */
    if (RCGC_UNLIKELY(o->ob_flags & RCGC_OBF_LOCKFREE_READS))
        _rcgc_qsbr_free_object(o, block, gc ? RCGC_HEAP_GC : RCGC_HEAP_OBJECT);
    else
        _rcgc_free_object(block, gc ? RCGC_HEAP_GC : RCGC_HEAP_OBJECT);
}

void rcgc_object_call_finalizer(rcgc_object_t *o) {
    const rcgc_type_t *t = o->ob_type;
    if (!t->finalize || (o->ob_gc_bits & RCGC_GCBIT_FINALIZED)) return;
    o->ob_gc_bits |= RCGC_GCBIT_FINALIZED; /* before the call: at most once */
    if (t->finalize(o) != 0) rcgc_error_write_unraisable("finalizer of", o);
}

/* Run fn with a temporary reference on an object whose count is 0. Returns
 * true if the object was resurrected (someone kept a reference). */
static bool call_with_temporary_reference(rcgc_object_t *o, void (*fn)(rcgc_object_t *)) {
    _rcgc_resurrect_start(o);
    fn(o);
    return _rcgc_resurrect_end(o);
}

int rcgc_object_call_finalizer_from_dealloc(rcgc_object_t *o) {
    RCGC_ASSERT_OBJ(o, rcgc_refcnt(o) == 0, "finalizer from dealloc of a live object");
    if (!o->ob_type->finalize || (o->ob_gc_bits & RCGC_GCBIT_FINALIZED)) return 0;
    return call_with_temporary_reference(o, rcgc_object_call_finalizer) ? -1 : 0;
}

static void call_del(rcgc_object_t *o) { o->ob_type->del(o); }

void rcgc_object_default_dealloc(rcgc_object_t *o) {
    const rcgc_type_t *t = o->ob_type;
    /* The object stays tracked while its finalizer runs: a resurrected object
     * must still be tracked (CPython's subtype_dealloc does the same). */
    if (t->finalize && rcgc_object_call_finalizer_from_dealloc(o) < 0) return;
    if (rcgc_type_is_gc(t)) rcgc_gc_untrack(o);
    if (_rcgc_type_weakrefable(t)) rcgc_weakref_clear_refs(o);
    if (t->del) {
        if (rcgc_type_is_gc(t)) rcgc_gc_track(o);
        bool resurrected = call_with_temporary_reference(o, call_del);
        if (rcgc_type_is_gc(t)) rcgc_gc_untrack(o);
        if (resurrected) {
            if (rcgc_type_is_gc(t)) rcgc_gc_track(o);
            return;
        }
    }
    if (t->clear && t->clear(o) != 0) rcgc_error_write_unraisable("clear of", o);
    rcgc_object_free(o);
}

void rcgc_object_init_static(rcgc_object_t *o, const rcgc_type_t *type) {
    memset(o, 0, sizeof *o);
    _rcgc_header_init(o, type);
    o->ob_flags |= RCGC_OBF_STATIC;
    _rcgc_make_immortal(o);
}

/* With every other thread excluded: an owner's plain store of its count, or
 * a merge of the counts, cannot undo the change. */
static void immortalize_exclusive(rcgc_object_t *o) {
    if (rcgc_is_immortal(o)) return;
    if (rcgc_object_is_gc(o)) {
        rcgc_gc_untrack(o);
        _rcgc_deferred_disable_keep_ref(o); /* the bias joins immortality */
    }
    o->ob_flags |= RCGC_OBF_IMMORTAL;
    _rcgc_make_immortal(o);
}

void rcgc_object_immortalize(rcgc_object_t *o) {
    if (rcgc_is_immortal(o)) return;
    _rcgc_object_exclusive(immortalize_exclusive, o);
}

bool rcgc_object_is_immortal(const rcgc_object_t *o) { return rcgc_is_immortal(o); }

bool rcgc_is_immortal_fn(const rcgc_object_t *o) { return rcgc_is_immortal(o); }
