/* weakref/weakref.c - weak reference objects and the per-object weak list.
 * Invariants: internal/weakref_internal.h. Ordering rules: docs/design/weakref.md.
 */
#include "internal/weakref_internal.h"
#include "internal/core.h"

#include <stdio.h>
#include <stdlib.h>

static int weakref_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((rcgc_weakref_t *)self)->wr_ctx, visit, arg);
    return 0;
}

static void unlink_locked(rcgc_weakref_t *wr) {
    rcgc_object_t **head = _rcgc_weaklist_ptr(wr->wr_object);
    if (wr->wr_prev) wr->wr_prev->wr_next = wr->wr_next;
    else *head = (rcgc_object_t *)wr->wr_next;
    if (wr->wr_next) wr->wr_next->wr_prev = wr->wr_prev;
    wr->wr_prev = wr->wr_next = NULL;
    wr->wr_object = NULL;
}

void _rcgc_weakref_detach(rcgc_weakref_t *wr) {
    _rcgc_wr_lock();
    if (wr->wr_object) unlink_locked(wr);
    _rcgc_wr_unlock();
}

static int weakref_clear(rcgc_object_t *self) {
    rcgc_weakref_t *wr = (rcgc_weakref_t *)self;
    _rcgc_weakref_detach(wr);
    wr->wr_callback = NULL;
    RCGC_CLEAR(wr->wr_ctx);
    return 0;
}

static void weakref_dealloc(rcgc_object_t *self) {
    rcgc_gc_untrack(self);
    weakref_clear(self);
    rcgc_object_free(self);
}

const rcgc_type_t rcgc_weakref_type = {
    .name = "weakref",
    .basic_size = sizeof(rcgc_weakref_t),
    .flags = RCGC_TYPE_GC,
    .traverse = weakref_traverse,
    .clear = weakref_clear,
    .dealloc = weakref_dealloc,
};

bool rcgc_is_weakref(const rcgc_object_t *o) { return o && o->ob_type == &rcgc_weakref_type; }

/* Insert wr: callback-less at the head, with a callback after the last
 * callback-less one. */
static void insert_locked(rcgc_object_t *referent, rcgc_weakref_t *wr) {
    rcgc_object_t **head = _rcgc_weaklist_ptr(referent);
    rcgc_weakref_t *prev = NULL, *next = (rcgc_weakref_t *)*head;
    if (wr->wr_callback)
        while (next && !next->wr_callback) {
            prev = next;
            next = next->wr_next;
        }
    wr->wr_prev = prev;
    wr->wr_next = next;
    if (prev) prev->wr_next = wr;
    else *head = (rcgc_object_t *)wr;
    if (next) next->wr_prev = wr;
    wr->wr_object = referent;
}

rcgc_object_t *rcgc_weakref_new(rcgc_object_t *referent, rcgc_weakref_callback_fn cb,
                                rcgc_object_t *ctx, void *data) {
    if (!referent || !_rcgc_type_weakrefable(referent->ob_type))
        return _rcgc_fail_null(RCGC_EINVAL, "cannot create weak reference to this object (type not weakrefable)");
    rcgc_weakref_t *wr = (rcgc_weakref_t *)rcgc_object_new(&rcgc_weakref_type);
    if (!wr) return NULL;
    wr->wr_callback = cb;
    wr->wr_ctx = rcgc_xnewref(ctx);
    wr->wr_data = data;
    _rcgc_weakref_enable_try_incref(referent);
    _rcgc_wr_lock();
    insert_locked(referent, wr);
    _rcgc_wr_unlock();
    return &wr->ob;
}

rcgc_object_t *rcgc_weakref_get(rcgc_object_t *wro) {
    RCGC_ASSERT_OBJ(wro, rcgc_is_weakref(wro), "rcgc_weakref_get on a non-weakref");
    rcgc_weakref_t *wr = (rcgc_weakref_t *)wro;
    _rcgc_wr_lock();
    rcgc_object_t *o = wr->wr_object;
    if (o && !_rcgc_try_incref(o)) o = NULL;
    _rcgc_wr_unlock();
    return o;
}

rcgc_object_t *rcgc_weakref_peek(rcgc_object_t *wro) {
    RCGC_ASSERT_OBJ(wro, rcgc_is_weakref(wro), "rcgc_weakref_peek on a non-weakref");
    return __atomic_load_n(&((rcgc_weakref_t *)wro)->wr_object, __ATOMIC_ACQUIRE);
}

size_t rcgc_weakref_count(rcgc_object_t *o) {
    if (!_rcgc_type_weakrefable(o->ob_type)) return 0;
    size_t n = 0;
    _rcgc_wr_lock();
    for (rcgc_weakref_t *wr = _rcgc_weaklist_head(o); wr; wr = wr->wr_next) n++;
    _rcgc_wr_unlock();
    return n;
}

void _rcgc_weakref_call_callback(rcgc_weakref_t *wr) {
    rcgc_weakref_callback_fn cb = wr->wr_callback;
    if (!cb) return;
    if (cb(&wr->ob, wr->wr_ctx, wr->wr_data) != 0)
        rcgc_error_write_unraisable("weakref callback for", &wr->ob);
}

void rcgc_weakref_clear_refs_no_callbacks(rcgc_object_t *o) {
    _rcgc_wr_lock();
    rcgc_weakref_t *wr;
    while ((wr = _rcgc_weaklist_head(o)) != NULL) unlink_locked(wr);
    _rcgc_wr_unlock();
}

/* Clear every weakref to o, collecting (with a reference) those that are
 * alive and have a callback; returns how many were collected into out
 * (at most cap; the rest are left in the list). */
static size_t clear_and_collect(rcgc_object_t *o, rcgc_weakref_t **out, size_t cap) {
    size_t n = 0;
    _rcgc_wr_lock();
    rcgc_weakref_t *wr;
    while (n < cap && (wr = _rcgc_weaklist_head(o)) != NULL) {
        unlink_locked(wr);
        if (wr->wr_callback && _rcgc_try_incref(&wr->ob)) out[n++] = wr;
    }
    _rcgc_wr_unlock();
    return n;
}

static void call_and_release(rcgc_weakref_t **wrs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        _rcgc_weakref_call_callback(wrs[i]);
        rcgc_decref(&wrs[i]->ob);
    }
}

void rcgc_weakref_clear_refs(rcgc_object_t *o) {
    if (!_rcgc_weaklist_head(o)) return;
    /* Save the caller's pending error: callbacks may set their own. */
    rcgc_error_t saved_code = rcgc_last_error();
    char saved_msg[200];
    if (saved_code != RCGC_OK) snprintf(saved_msg, sizeof saved_msg, "%s", rcgc_last_error_message());
    rcgc_error_clear();

    /* All weakrefs are cleared before any callback runs (callbacks see every
     * weakref to o dead). The common case fits on the stack; a longer list is
     * gathered in a heap array, or in stack-sized batches if that fails. */
    rcgc_weakref_t *small[16];
    size_t total = rcgc_weakref_count(o);
    rcgc_weakref_t **buf = total > 16 ? malloc(total * sizeof *buf) : NULL;
    if (buf) {
        call_and_release(buf, clear_and_collect(o, buf, total));
        free(buf);
    } else {
        size_t n;
        while (_rcgc_weaklist_head(o) && (n = clear_and_collect(o, small, 16)) > 0) call_and_release(small, n);
        /* entries without callbacks left after the last batch */
        rcgc_weakref_clear_refs_no_callbacks(o);
    }
    if (saved_code != RCGC_OK) rcgc_error_set(saved_code, "%s", saved_msg);
}
