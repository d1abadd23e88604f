/* object/refcount_ft.c - free-threaded header operations: biased reference
 * counting's slow paths, resurrection, trashcan links, try-incref and the
 * checked (debug) paths.
 *
 * The protocol (docs/design/refcount.md, after Choi et al. and PEP 703):
 *  - the owner (ob_tid == its thread id) changes ob_ref_local with plain
 *    relaxed stores; everyone else adds to ob_ref_shared atomically;
 *  - true count = local + (shared >> 2), plus one while the object waits in
 *    its owner's merge queue;
 *  - the low two bits of ob_ref_shared only move up: INIT -> MAYBE_WEAKREF ->
 *    QUEUED -> MERGED (except on re-initialisation);
 *  - tid == 0 <=> merged or immortal: a merging thread stores tid = 0 BEFORE
 *    the CAS that publishes MERGED, so whoever sees MERGED also sees tid 0.
 */
#include "internal/tstate.h"
#include "internal/weakref_internal.h"
#include "internal/brc.h"
#include "internal/stw.h"
#include "internal/deferred.h"

#include <pthread.h>
#include <string.h>

#define SHARED(count, flags) (((intptr_t)(count) << RCGC_REF_SHARED_SHIFT) | (flags))
#define FLAGS_OF(shared) ((shared) & RCGC_REF_SHARED_FLAG_MASK)
#define CHECK_SHIFT 8

static inline uintptr_t load_tid(const rcgc_object_t *o) { return __atomic_load_n(&o->ob_tid, __ATOMIC_RELAXED); }
static inline void store_tid(rcgc_object_t *o, uintptr_t t) { __atomic_store_n(&o->ob_tid, t, __ATOMIC_RELAXED); }
static inline void store_local(rcgc_object_t *o, uint32_t v) { __atomic_store_n(&o->ob_ref_local, v, __ATOMIC_RELAXED); }
static inline uint32_t load_local(const rcgc_object_t *o) { return __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED); }

void _rcgc_header_init(rcgc_object_t *o, const rcgc_type_t *type) {
    o->ob_tid = rcgc_thread_id();
    o->ob_ref_local = 1;
    o->ob_ref_shared = 0;
    o->ob_type = type;
    o->ob_flags = (uint16_t)(RCGC_FT_CHECK_ALIVE << CHECK_SHIFT);
}

void _rcgc_header_mark_dead(rcgc_object_t *o) {
    o->ob_flags = (uint16_t)((o->ob_flags & 0xFFu) | (RCGC_FT_CHECK_DEAD << CHECK_SHIFT));
}

void _rcgc_make_immortal(rcgc_object_t *o) {
    store_tid(o, 0);
    store_local(o, RCGC_IMMORTAL_REFCNT_LOCAL);
    __atomic_store_n(&o->ob_ref_shared, 0, __ATOMIC_RELAXED);
}

/* Run fn(o) with every other thread stopped at a safe point or detached:
 * no incref, decref or merge of o is in progress, and each thread sees fn's
 * stores once it resumes (the restart synchronises with it). The caller may
 * be the thread that stopped the world already. */
void _rcgc_object_exclusive(void (*fn)(rcgc_object_t *), rcgc_object_t *o) {
    if (__atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) == _rcgc_tstate()) {
        fn(o);
        return;
    }
    _rcgc_stop_the_world();
    fn(o);
    _rcgc_start_the_world();
}

/* ---- deferred reference counting (internal/deferred.h) ---------------------------- */

/* The bit is claimed first (one winner among concurrent callers); a thread
 * that sees it before the bias lands may take a tagged reference, which is
 * safe: the caller holds a reference until this returns. */
bool _rcgc_deferred_enable(rcgc_object_t *o) {
    uint8_t old = __atomic_fetch_or(&o->ob_gc_bits, (uint8_t)RCGC_GCBIT_DEFERRED, __ATOMIC_RELAXED);
    if (old & RCGC_GCBIT_DEFERRED) return false;
    __atomic_fetch_add(&o->ob_ref_shared, (intptr_t)1 << RCGC_REF_SHARED_SHIFT, __ATOMIC_RELAXED);
    return true;
}

void _rcgc_deferred_disable_keep_ref(rcgc_object_t *o) {
    __atomic_fetch_and(&o->ob_gc_bits, (uint8_t)~RCGC_GCBIT_DEFERRED, __ATOMIC_RELAXED);
}

void _rcgc_refcnt_set(rcgc_object_t *o, intptr_t n) {
    if (rcgc_is_immortal(o)) return;
    if (n >= (intptr_t)RCGC_IMMORTAL_REFCNT_LOCAL) {
        _rcgc_make_immortal(o);
        return;
    }
    if (rcgc_is_owned_by_current_thread(o)) {
        intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
        store_local(o, (uint32_t)n);
        __atomic_store_n(&o->ob_ref_shared, FLAGS_OF(shared), __ATOMIC_RELAXED);
    } else {
        store_tid(o, 0);
        store_local(o, 0);
        __atomic_store_n(&o->ob_ref_shared, SHARED(n, RCGC_REF_MERGED), __ATOMIC_RELEASE);
    }
}

/* ---- deallocation at zero -------------------------------------------------------
 * Before the type's dealloc runs, the object is re-owned by the deallocating
 * thread with count 0 (tid = self, local = 0, shared = 0), so finalizers that
 * resurrect it use the owner fast paths. shared is exactly 0 (INIT) so that a
 * concurrent try-incref (weakref, lock-free reader) fails: with MAYBE_WEAKREF
 * kept it would succeed on the dying object, and a MAYBE_WEAKREF seen before
 * the merge could not be told from this one (ABA). A resurrected object gets
 * MAYBE_WEAKREF back in _rcgc_resurrect_end. */
static void dealloc_at_zero(rcgc_object_t *o) {
    store_tid(o, rcgc_thread_id());
    store_local(o, 0);
    __atomic_store_n(&o->ob_ref_shared, 0, __ATOMIC_RELAXED);
    rcgc_dealloc(o);
}

void rcgc_brc_merge_zero_local(rcgc_object_t *o) {
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_ACQUIRE);
    if (shared == 0) { /* INIT with count 0: nobody else can reach it */
        rcgc_dealloc(o);
        return;
    }
    store_tid(o, 0); /* before publishing MERGED */
    intptr_t merged;
    do {
        merged = (shared & ~(intptr_t)RCGC_REF_SHARED_FLAG_MASK) | RCGC_REF_MERGED;
    } while (!__atomic_compare_exchange_n(&o->ob_ref_shared, &shared, merged, true,
                                          __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    if (merged == RCGC_REF_MERGED) dealloc_at_zero(o);
}

/* Owner incref whose new count has bit 31 set (rcgc_incref's sign test):
 * store it, except that reaching RCGC_IMMORTAL_REFCNT_LOCAL saturates into
 * immortality, so an owned object never carries the immortal count. */
void rcgc_incref_owner_large(rcgc_object_t *o) {
    uint32_t nl = load_local(o) + 1;
    if (nl == RCGC_IMMORTAL_REFCNT_LOCAL || nl == 0) _rcgc_make_immortal(o);
    else store_local(o, nl);
}

void rcgc_brc_decref_shared(rcgc_object_t *o) {
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED), next;
    bool queue;
    do {
        queue = (shared == RCGC_REF_SHARED_INIT || shared == RCGC_REF_MAYBE_WEAKREF);
        /* Going below zero while the owner still holds references: hand this
         * reference to the owner's merge queue instead of applying it. */
        next = queue ? RCGC_REF_QUEUED : shared - ((intptr_t)1 << RCGC_REF_SHARED_SHIFT);
    } while (!__atomic_compare_exchange_n(&o->ob_ref_shared, &shared, next, true,
                                          __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    if (queue) _rcgc_brc_queue_object(o);
    else if (next == RCGC_REF_MERGED) dealloc_at_zero(o);
}

intptr_t _rcgc_brc_explicit_merge(rcgc_object_t *o, intptr_t extra) {
    uint32_t local = load_local(o);
    /* made immortal while queued (rcgc_object_immortalize stops the world,
     * so the owner sees it here): the queued reference is simply dropped */
    if (local == RCGC_IMMORTAL_REFCNT_LOCAL) return 1;
    store_local(o, 0);
    store_tid(o, 0);
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED), merged;
    do {
        merged = SHARED((shared >> RCGC_REF_SHARED_SHIFT) + (intptr_t)local + extra, RCGC_REF_MERGED);
    } while (!__atomic_compare_exchange_n(&o->ob_ref_shared, &shared, merged, true,
                                          __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    return merged >> RCGC_REF_SHARED_SHIFT;
}

void _rcgc_brc_dealloc_merged(rcgc_object_t *o) { dealloc_at_zero(o); }

/* ---- resurrection ------------------------------------------------------------------ */

void _rcgc_resurrect_start(rcgc_object_t *o) {
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    store_tid(o, rcgc_thread_id());
    store_local(o, 1);
    __atomic_store_n(&o->ob_ref_shared, shared & RCGC_REF_MAYBE_WEAKREF, __ATOMIC_RELAXED);
}

bool _rcgc_resurrect_end(rcgc_object_t *o) {
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_ACQUIRE);
    if (rcgc_is_owned_by_current_thread(o) && load_local(o) == 1 &&
        (shared >> RCGC_REF_SHARED_SHIFT) == 0 && FLAGS_OF(shared) <= RCGC_REF_MAYBE_WEAKREF) {
        store_local(o, 0);
        return false;
    }
    if (rcgc_is_immortal(o)) return true;
    /* Someone kept a reference: drop ours like any owner decref would. */
    if (rcgc_is_owned_by_current_thread(o)) {
        uint32_t local = load_local(o) - 1;
        store_local(o, local);
        if (local == 0) {
            store_tid(o, 0);
            intptr_t merged;
            do {
                merged = (shared & ~(intptr_t)RCGC_REF_SHARED_FLAG_MASK) | RCGC_REF_MERGED;
            } while (!__atomic_compare_exchange_n(&o->ob_ref_shared, &shared, merged, true,
                                                  __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
            if (merged == RCGC_REF_MERGED) return false; /* the other reference went away */
            return true;
        }
        /* still owned: readers and weakrefs may try-incref it again */
        __atomic_fetch_or(&o->ob_ref_shared, (intptr_t)RCGC_REF_MAYBE_WEAKREF, __ATOMIC_RELAXED);
        return true;
    }
    intptr_t n = _rcgc_brc_explicit_merge(o, -1);
    return n > 0;
}

/* ---- trashcan links: through ob_tid, as CPython does ------------------------------- */

void _rcgc_trash_push(uintptr_t *head, rcgc_object_t *o) {
    if (rcgc_object_is_gc(o) && rcgc_gc_is_tracked(o)) {
        rcgc_gc_untrack(o);
        o->ob_flags |= 0x80u; /* remember: re-track on pop */
    }
    store_tid(o, *head);
    *head = (uintptr_t)o;
}

rcgc_object_t *_rcgc_trash_pop(uintptr_t *head) {
    rcgc_object_t *o = (rcgc_object_t *)*head;
    *head = load_tid(o);
    store_tid(o, rcgc_thread_id());
    store_local(o, 0);
    if (o->ob_flags & 0x80u) {
        o->ob_flags &= (uint16_t)~0x80u;
        rcgc_gc_track(o);
    }
    return o;
}

/* ---- try-incref for lock-free readers and weakrefs --------------------------------- */

void _rcgc_weakref_enable_try_incref(rcgc_object_t *o) {
    __atomic_fetch_or(&o->ob_ref_shared, (intptr_t)RCGC_REF_MAYBE_WEAKREF, __ATOMIC_RELAXED);
}

bool _rcgc_try_incref(rcgc_object_t *o) {
    uint32_t local = load_local(o);
    if (local == RCGC_IMMORTAL_REFCNT_LOCAL) return true;
    if (rcgc_is_owned_by_current_thread(o)) {
        if (local == 0 && (__atomic_load_n(&o->ob_ref_shared, __ATOMIC_ACQUIRE) >> RCGC_REF_SHARED_SHIFT) <= 0)
            return false; /* being torn down by this thread */
        store_local(o, local + 1);
        return true;
    }
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    do {
        if (shared == 0 || shared == RCGC_REF_MERGED) return false; /* INIT or dead */
    } while (!__atomic_compare_exchange_n(&o->ob_ref_shared, &shared, shared + ((intptr_t)1 << RCGC_REF_SHARED_SHIFT),
                                          true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    return true;
}

static pthread_mutex_t wr_mutex = PTHREAD_MUTEX_INITIALIZER;
void _rcgc_wr_lock(void) { pthread_mutex_lock(&wr_mutex); }
void _rcgc_wr_unlock(void) { pthread_mutex_unlock(&wr_mutex); }

/* ---- checked paths ------------------------------------------------------------------ */

static void check_header(rcgc_object_t *o, const char *op) {
    if (RCGC_UNLIKELY(!o)) rcgc_fatal_object(NULL, "%s of NULL", op);
    if (RCGC_UNLIKELY(_rcgc_header_was_poisoned(o))) rcgc_fatal_object(o, "%s of a freed object", op);
    unsigned check = o->ob_flags >> CHECK_SHIFT;
    if (RCGC_LIKELY(check == RCGC_FT_CHECK_ALIVE && o->ob_type)) return;
    if (rcgc_is_immortal(o) && o->ob_type) return;
    if (check == RCGC_FT_CHECK_DEAD || check == 0xDDu) rcgc_fatal_object(o, "%s of a freed object", op);
    rcgc_fatal_object(o, "%s of an object with a corrupt header (bad check byte 0x%02x: freed or overwritten memory?)", op, check);
}

void rcgc_incref_checked(rcgc_object_t *o) {
    check_header(o, "incref");
    uint32_t local = load_local(o);
    if (rcgc_is_owned_by_current_thread(o)) {
        if ((int32_t)(local + 1) < 0) rcgc_incref_owner_large(o);
        else store_local(o, local + 1);
    } else if (local != RCGC_IMMORTAL_REFCNT_LOCAL)
        __atomic_fetch_add(&o->ob_ref_shared, (intptr_t)1 << RCGC_REF_SHARED_SHIFT, __ATOMIC_RELAXED);
}

void rcgc_decref_checked(rcgc_object_t *o) {
    check_header(o, "decref");
    uint32_t local = load_local(o);
    if (local == RCGC_IMMORTAL_REFCNT_LOCAL) return;
    if (rcgc_is_owned_by_current_thread(o)) {
        if (RCGC_UNLIKELY(local == 0))
            rcgc_fatal_object(o, "object has negative ref count (owner decref at 0)");
        store_local(o, --local);
        if (local == 0) rcgc_brc_merge_zero_local(o);
    } else {
        intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
        if (RCGC_UNLIKELY(shared == RCGC_REF_MERGED))
            rcgc_fatal_object(o, "object has negative ref count (decref of a merged object at 0)");
        rcgc_brc_decref_shared(o);
    }
}
