/* object/refcount_default.c - default-build header operations and the
 * checked (debug) reference-count paths.
 */
#include "internal/tstate.h"
#include "internal/weakref_internal.h"
#include "internal/deferred.h"

#include <string.h>

void _rcgc_header_init(rcgc_object_t *o, const rcgc_type_t *type) {
    o->ob_refcnt = 1;
    o->ob_type = type;
    o->ob_check = RCGC_HEADER_MAGIC;
}

void _rcgc_header_mark_dead(rcgc_object_t *o) { o->ob_check = RCGC_HEADER_DEAD; }

void _rcgc_make_immortal(rcgc_object_t *o) { o->ob_refcnt = RCGC_IMMORTAL_REFCNT; }

/* The global lock already excludes every other thread. */
void _rcgc_object_exclusive(void (*fn)(rcgc_object_t *), rcgc_object_t *o) { fn(o); }

/* ---- deferred reference counting (internal/deferred.h) ---------------------------- */

bool _rcgc_deferred_enable(rcgc_object_t *o) {
    if (o->ob_gc_bits & RCGC_GCBIT_DEFERRED) return false;
    o->ob_gc_bits |= RCGC_GCBIT_DEFERRED;
    uint32_t r = o->ob_refcnt + 1; /* mortal: below 2^31; 2^31 saturates into immortality */
    o->ob_refcnt = (r & RCGC_IMMORTAL_BIT) ? RCGC_IMMORTAL_REFCNT : r;
    return true;
}

void _rcgc_deferred_disable_keep_ref(rcgc_object_t *o) { o->ob_gc_bits &= (uint8_t)~RCGC_GCBIT_DEFERRED; }

void _rcgc_refcnt_set(rcgc_object_t *o, intptr_t n) {
    if (rcgc_is_immortal(o)) return;
    o->ob_refcnt = n >= (intptr_t)RCGC_IMMORTAL_BIT ? RCGC_IMMORTAL_REFCNT : (uint32_t)n;
}

void _rcgc_resurrect_start(rcgc_object_t *o) { o->ob_refcnt = 1; }

bool _rcgc_resurrect_end(rcgc_object_t *o) {
    if (--o->ob_refcnt == 0) return false;
    return true;
}

/* ---- trashcan links ----------------------------------------------------------
 * A dead object (count 0) is linked through its first header word. The link is
 * 8-byte aligned, so its low bits keep the gc bits that must survive:
 * bit 0 = was tracked (re-tracked on pop, the dealloc expects to untrack),
 * bit 1 = FINALIZED. */
#define TRASH_TRACKED 1u
#define TRASH_FINALIZED 2u

void _rcgc_trash_push(uintptr_t *head, rcgc_object_t *o) {
    uintptr_t bits = 0;
    if (rcgc_object_is_gc(o)) {
        if (o->ob_gc_bits & RCGC_GCBIT_TRACKED) {
            rcgc_gc_untrack(o);
            bits |= TRASH_TRACKED;
        }
        if (o->ob_gc_bits & RCGC_GCBIT_FINALIZED) bits |= TRASH_FINALIZED;
    }
    RCGC_ASSERT_OBJ(o, o->ob_flags == 0, "trashcan deposit of a static or immortal object");
    RCGC_ASSERT_INTERNAL((*head & 7) == 0);
    uintptr_t word = *head | bits;
    memcpy((void *)o, &word, sizeof word);
    *head = (uintptr_t)o;
}

rcgc_object_t *_rcgc_trash_pop(uintptr_t *head) {
    rcgc_object_t *o = (rcgc_object_t *)*head;
    uintptr_t word;
    memcpy(&word, (void *)o, sizeof word);
    *head = word & ~(uintptr_t)7;
    o->ob_refcnt = 0;
    o->ob_flags = 0;
    o->ob_check = RCGC_HEADER_MAGIC;
    o->ob_gc_bits = (word & TRASH_FINALIZED) ? RCGC_GCBIT_FINALIZED : 0;
    if (word & TRASH_TRACKED) rcgc_gc_track(o);
    return o;
}

/* ---- checked paths (RCGC_DEBUG code and bindings) ------------------------------ */

static void check_header(rcgc_object_t *o, const char *op) {
    if (RCGC_UNLIKELY(!o)) rcgc_fatal_object(NULL, "%s of NULL", op);
    if (RCGC_UNLIKELY(_rcgc_header_was_poisoned(o))) rcgc_fatal_object(o, "%s of a freed object", op);
    if (RCGC_LIKELY(o->ob_check == RCGC_HEADER_MAGIC && o->ob_type)) return;
    if (o->ob_check == RCGC_HEADER_DEAD || o->ob_check == 0xDDDDu)
        rcgc_fatal_object(o, "%s of a freed object", op);
    rcgc_fatal_object(o, "%s of an object with a corrupt header (bad magic 0x%04x: freed or overwritten memory?)", op, o->ob_check);
}

void rcgc_incref_checked(rcgc_object_t *o) {
    check_header(o, "incref");
    uint32_t r = o->ob_refcnt;
    if (r & RCGC_IMMORTAL_BIT) return;
    o->ob_refcnt = r + 1;
}

void rcgc_decref_checked(rcgc_object_t *o) {
    check_header(o, "decref");
    uint32_t r = o->ob_refcnt;
    if (r & RCGC_IMMORTAL_BIT) return;
    if (RCGC_UNLIKELY(r == 0)) rcgc_fatal_object(o, "object has negative ref count (decref at 0)");
    o->ob_refcnt = --r;
    if (r == 0) rcgc_dealloc(o);
}

/* ---- weakref support ------------------------------------------------------------ */

void _rcgc_wr_lock(void) {}
void _rcgc_wr_unlock(void) {}

bool _rcgc_try_incref(rcgc_object_t *o) {
    if (o->ob_refcnt == 0) return false; /* being torn down */
    rcgc_incref(o);
    return true;
}

void _rcgc_weakref_enable_try_incref(rcgc_object_t *o) { (void)o; }
