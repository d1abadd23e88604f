/* rcgc/detail/refcount_default.h - default-build fast paths (no stability promise).
 * Included by rcgc/refcount.h only. The caller holds the global lock. */
#ifndef RCGC_DETAIL_REFCOUNT_DEFAULT_H
#define RCGC_DETAIL_REFCOUNT_DEFAULT_H

#define RCGC_IMMORTAL_REFCNT 0xC0000000u /* stored in immortal objects */
#define RCGC_IMMORTAL_BIT 0x80000000u    /* set => immortal */

static inline bool rcgc_is_immortal(const rcgc_object_t *o) {
    return (o->ob_refcnt & RCGC_IMMORTAL_BIT) != 0;
}

static inline intptr_t rcgc_refcnt(const rcgc_object_t *o) {
    return (intptr_t)o->ob_refcnt;
}

static inline void rcgc_incref(rcgc_object_t *o) {
#if defined(RCGC_DEBUG) && RCGC_DEBUG > 0
    rcgc_incref_checked(o);
#else
    uint32_t r = o->ob_refcnt;
    if (r & RCGC_IMMORTAL_BIT) return;
    o->ob_refcnt = r + 1; /* 2^31 - 1 + 1 saturates into immortality */
#endif
}

static inline void rcgc_decref(rcgc_object_t *o) {
#if defined(RCGC_DEBUG) && RCGC_DEBUG > 0
    rcgc_decref_checked(o);
#else
    uint32_t r = o->ob_refcnt;
    if (r & RCGC_IMMORTAL_BIT) return;
    o->ob_refcnt = --r;
    if (r == 0) rcgc_dealloc(o);
#endif
}

#endif
