/* rcgc/detail/refcount_ft.h - free-threaded fast paths: biased reference
 * counting (no stability promise). Included by rcgc/refcount.h only.
 *
 * Owner thread (ob_tid == rcgc_thread_id()): relaxed load and relaxed store of
 * ob_ref_local, never a read-modify-write. Other threads: one atomic add on
 * ob_ref_shared. The slow paths (owner reaching zero, a non-owner decref that
 * would take the shared count below zero, owner counts from 2^31) live in
 * src/object/refcount_ft.c.
 */
#ifndef RCGC_DETAIL_REFCOUNT_FT_H
#define RCGC_DETAIL_REFCOUNT_FT_H

#define RCGC_IMMORTAL_REFCNT_LOCAL 0xFFFFFFFFu
#define RCGC_REF_SHARED_SHIFT 2
#define RCGC_REF_SHARED_FLAG_MASK 0x3
#define RCGC_REF_SHARED_INIT 0x0      /* permits the atomic-free dealloc fast path */
#define RCGC_REF_MAYBE_WEAKREF 0x1    /* a concurrent try-incref may happen */
#define RCGC_REF_QUEUED 0x2           /* queued for the owner to merge */
#define RCGC_REF_MERGED 0x3           /* unowned: the shared field alone counts */

#include "rcgc/detail/thread_id.h"

RCGC_API void rcgc_brc_merge_zero_local(rcgc_object_t *o);
RCGC_API void rcgc_brc_decref_shared(rcgc_object_t *o);
RCGC_API void rcgc_incref_owner_large(rcgc_object_t *o);

static inline bool rcgc_is_immortal(const rcgc_object_t *o) {
    return __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED) == RCGC_IMMORTAL_REFCNT_LOCAL;
}

#if defined(__SANITIZE_THREAD__)
#define RCGC_DETAIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RCGC_DETAIL_TSAN 1
#endif
#endif

/* Ownership test of the fast paths. A plain load lets the compiler fold it
 * into the compare (one instruction instead of two); it is safe in practice
 * because ob_tid only ever changes from the caller's own id to something else
 * (merging, trashcan links) by the caller itself or, for another thread's
 * object, under a protocol that already excludes the old owner's fast paths;
 * a stale value therefore never equals the caller's id. Under ThreadSanitizer
 * the load is a relaxed atomic, so the race detector sees no plain access. */
static inline bool rcgc_is_owned_by_current_thread(const rcgc_object_t *o) {
#ifdef RCGC_DETAIL_TSAN
    return __atomic_load_n(&o->ob_tid, __ATOMIC_RELAXED) == rcgc_thread_id();
#else
    return o->ob_tid == rcgc_thread_id();
#endif
}

/* The true count: local + (shared >> 2). Exact only when no other thread is
 * changing it; immortal objects report RCGC_IMMORTAL_REFCNT_LOCAL. */
static inline intptr_t rcgc_refcnt(const rcgc_object_t *o) {
    uint32_t local = __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED);
    if (local == RCGC_IMMORTAL_REFCNT_LOCAL) return (intptr_t)local;
    intptr_t shared = __atomic_load_n(&o->ob_ref_shared, __ATOMIC_RELAXED);
    return (intptr_t)local + (shared >> RCGC_REF_SHARED_SHIFT);
}

/* Ownership is tested first: an owned object is never immortal (immortal
 * objects have ob_tid 0, and an owner count about to reach
 * RCGC_IMMORTAL_REFCNT_LOCAL is made immortal by rcgc_incref_owner_large), so
 * the owner paths need no immortal test. Counts from 2^31 up take that out of
 * line path, which keeps the test one sign check on the incremented value. */
static inline void rcgc_incref(rcgc_object_t *o) {
#if defined(RCGC_DEBUG) && RCGC_DEBUG > 0
    rcgc_incref_checked(o);
#else
    if (__builtin_expect(rcgc_is_owned_by_current_thread(o), 1)) {
        uint32_t nl = __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED) + 1;
        if (__builtin_expect((int32_t)nl < 0, 0)) rcgc_incref_owner_large(o);
        else __atomic_store_n(&o->ob_ref_local, nl, __ATOMIC_RELAXED);
    } else if (!rcgc_is_immortal(o)) {
        __atomic_fetch_add(&o->ob_ref_shared, (intptr_t)1 << RCGC_REF_SHARED_SHIFT, __ATOMIC_RELAXED);
    }
#endif
}

static inline void rcgc_decref(rcgc_object_t *o) {
#if defined(RCGC_DEBUG) && RCGC_DEBUG > 0
    rcgc_decref_checked(o);
#else
    if (__builtin_expect(rcgc_is_owned_by_current_thread(o), 1)) {
        uint32_t local = __atomic_load_n(&o->ob_ref_local, __ATOMIC_RELAXED) - 1;
        __atomic_store_n(&o->ob_ref_local, local, __ATOMIC_RELAXED);
        if (local == 0) rcgc_brc_merge_zero_local(o);
    } else if (!rcgc_is_immortal(o)) {
        rcgc_brc_decref_shared(o);
    }
#endif
}

#endif
