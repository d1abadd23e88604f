/* object/deferred.c - deferred reference counting: enabling it, the
 * per-thread frame stacks of stack references, and the root walk the
 * collectors use (internal/deferred.h, docs/design/deferred.md).
 */
#include "internal/tstate.h"
#include "internal/deferred.h"

int _rcgc_deferred_used;

int rcgc_object_enable_deferred_refcount(rcgc_object_t *o) {
    if (RCGC_UNLIKELY(!o || !rcgc_object_is_gc(o)))
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_object_enable_deferred_refcount: not an object of a GC type");
    if (rcgc_is_immortal(o)) return 0;
    if (!_rcgc_deferred_enable(o)) return 0;
    if (!_rcgc_deferred_in_use()) __atomic_store_n(&_rcgc_deferred_used, 1, __ATOMIC_RELAXED);
    return 1;
}

/* ---- frames -------------------------------------------------------------------- */

int rcgc_frame_push(rcgc_frame_t *f) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (RCGC_UNLIKELY(ts->attach_depth <= 0))
        return _rcgc_fail_int(RCGC_ESTATE, "rcgc_frame_push: the thread is not attached");
    if (RCGC_UNLIKELY(!f || (!f->slots && f->sp != 0 && f->sp != RCGC_FRAME_SP_INVALID)))
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_frame_push: NULL frame or slots");
    f->prev = ts->frame_top;
    ts->frame_top = f;
    return 0;
}

int rcgc_frame_pop(rcgc_frame_t *f) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (RCGC_UNLIKELY(!f || ts->frame_top != f))
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_frame_pop: not the thread's top frame");
    ts->frame_top = f->prev;
    f->prev = NULL;
    return 0;
}

rcgc_frame_t *rcgc_frame_top(void) { return _rcgc_tstate()->frame_top; }

/* ---- the collectors' root walk ----------------------------------------------------- */

/* Visit the tagged references of one frame; true if its sp is unknown. */
static bool visit_frame(const rcgc_frame_t *f, rcgc_visit_fn fn, void *arg) {
    if (f->sp == RCGC_FRAME_SP_INVALID) return true;
    for (size_t i = 0; i < f->sp; i++) {
        rcgc_stackref_t r = f->slots[i];
        if (!rcgc_stackref_is_tagged(r)) continue; /* NULL or counted */
        rcgc_object_t *o = rcgc_stackref_get(r);
        if (!rcgc_is_immortal(o)) fn(o, arg);
    }
    return false;
}

bool _rcgc_deferred_visit_roots(rcgc_visit_fn fn, void *arg) {
    bool invalid = false;
    pthread_mutex_lock(&_rcgc_runtime.threads_lock);
    for (rcgc_tstate_t *t = _rcgc_runtime.threads; t; t = t->next_thread)
        for (const rcgc_frame_t *f = t->frame_top; f; f = f->prev)
            invalid |= visit_frame(f, fn, arg);
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
    return invalid;
}
