/* object/trashcan.c - deallocation at refcount zero with bounded C-stack
 * depth.
 *
 * rcgc_dealloc counts nested deallocations per thread. Past
 * RCGC_TRASH_DEPTH_LIMIT nested calls it does not tear the object down but
 * pushes it on the thread's deferred list (linked through the dead object's
 * own header, so no memory is needed); when the outermost rcgc_dealloc
 * returns it drains the list, each drained dealloc starting again from depth 1.
 * Dropping the head of a 10-million-long chain therefore uses a bounded amount
 * of stack (about RCGC_TRASH_DEPTH_LIMIT frames of dealloc), whatever the
 * shape of the structure. (CPython 3.14 keys the same idea on the remaining
 * stack margin; a depth count needs no stack probing and works on any thread.)
 */
#include "internal/tstate.h"
#include "internal/object_internal.h"

#define RCGC_TRASH_DEPTH_LIMIT 50

static void destroy_chain(rcgc_tstate_t *ts) {
    ts->trash_depth = 1; /* nested deallocs defer again instead of draining */
    while (ts->trash_later) {
        rcgc_object_t *o = _rcgc_trash_pop(&ts->trash_later);
        rcgc_dealloc_fn fn = o->ob_type->dealloc ? o->ob_type->dealloc : rcgc_object_default_dealloc;
        fn(o);
    }
    ts->trash_depth = 0;
}

void rcgc_dealloc(rcgc_object_t *o) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    /* the bias keeps a deferred object's count above zero: reaching it means
     * one release too many (the collector clears the bit before it frees) */
    RCGC_ASSERT_OBJ(o, !rcgc_object_is_deferred(o), "deferred object's refcount reached zero "
                                                    "(more references released than taken)");
    if (RCGC_UNLIKELY(ts->trash_depth >= RCGC_TRASH_DEPTH_LIMIT)) {
        _rcgc_trash_push(&ts->trash_later, o);
        return;
    }
    ts->trash_depth++;
    rcgc_dealloc_fn fn = o->ob_type->dealloc ? o->ob_type->dealloc : rcgc_object_default_dealloc;
    fn(o);
    ts->trash_depth--;
    if (ts->trash_depth == 0 && RCGC_UNLIKELY(ts->trash_later != 0)) destroy_chain(ts);
}
