/* internal/object_internal.h - object layer internals shared with the
 * weakref and gc layers. */
#ifndef RCGC_INTERNAL_OBJECT_H
#define RCGC_INTERNAL_OBJECT_H

#include "internal/core.h"
#include "internal/track.h"
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

/* ---- flavour-specific header operations (object/refcount_default.c,
 * object/refcount_ft.c) ---------------------------------------------------- */
/* Mark the header of an object whose memory is about to be freed. */
RCGC_INTERNAL void _rcgc_header_mark_dead(rcgc_object_t *o);
/* Make o immortal (count fields only; flags are the caller's). */
RCGC_INTERNAL void _rcgc_make_immortal(rcgc_object_t *o);
/* Give an object whose count is 0 one temporary reference owned by the
 * caller; _end drops it and returns true if the object was resurrected (its
 * count stayed above zero), false if it is dead again (count 0). */
RCGC_INTERNAL void _rcgc_resurrect_start(rcgc_object_t *o);
RCGC_INTERNAL bool _rcgc_resurrect_end(rcgc_object_t *o);
/* Trashcan links through the dead object's header: push o (count 0) on the
 * list *head, and pop the next one back (header restored). */
RCGC_INTERNAL void _rcgc_trash_push(uintptr_t *head, rcgc_object_t *o);
RCGC_INTERNAL rcgc_object_t *_rcgc_trash_pop(uintptr_t *head);

/* Run fn(o) while no other thread can touch o's header: directly in the
 * default build (global lock), with the world stopped in the free-threaded
 * one (object/refcount_*.c). */
RCGC_INTERNAL void _rcgc_object_exclusive(void (*fn)(rcgc_object_t *), rcgc_object_t *o);

/* Re-initialise the count of an object that is being resurrected from
 * refcount 0 (finalizer-from-dealloc); flavour-specific (object/refcount_*.c). */
RCGC_INTERNAL void _rcgc_refcnt_set(rcgc_object_t *o, intptr_t n);
/* Initialise the header of freshly allocated memory (count 1, owner = caller). */
RCGC_INTERNAL void _rcgc_header_init(rcgc_object_t *o, const rcgc_type_t *type);
/* Address of the weak-list slot of a WEAKREFABLE object. */
static inline rcgc_object_t **_rcgc_weaklist_ptr(rcgc_object_t *o) {
    return (rcgc_object_t **)((char *)o + o->ob_type->weaklist_offset);
}
static inline bool _rcgc_type_weakrefable(const rcgc_type_t *t) {
    return (t->flags & RCGC_TYPE_WEAKREFABLE) != 0 && t->weaklist_offset >= sizeof(rcgc_object_t);
}
/* Debug checks may meet the header of an object whose memory was freed. With
 * the allocator's ASan tracking such memory is poisoned: reading it would stop
 * the program with ASan's report instead of rcgc's. Returns true if the header
 * was poisoned (and unpoisons it: the caller is about to report and abort). */
static inline bool _rcgc_header_was_poisoned(const rcgc_object_t *o) {
#if defined(__SANITIZE_ADDRESS__)
    if (!__asan_region_is_poisoned((void *)o, sizeof *o)) return false;
    __asan_unpoison_memory_region((void *)o, sizeof *o);
    return true;
#else
    (void)o;
    return false;
#endif
}

/* Print a one-line description of o (address, type, refcount, bits) into buf. */
RCGC_INTERNAL int _rcgc_object_describe(const rcgc_object_t *o, char *buf, size_t size);

#endif
