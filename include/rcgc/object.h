/* rcgc/object.h - the object header and the type descriptor.
 *
 * Every rcgc object starts with an rcgc_object_t header, embedded as the
 * first member of the user's struct:
 *
 *     typedef struct { rcgc_object_t ob; node_t *next; } node_t;
 *
 * The header layout depends on the build flavour (see docs/design/object-header.md):
 *
 *   default build (16 bytes)            free-threaded build (32 bytes)
 *   +0  uint32 ob_refcnt                +0  uintptr ob_tid       owner thread
 *   +4  uint8  ob_gc_bits               +8  uint16 ob_flags
 *   +5  uint8  ob_flags                 +10 uint8  ob_mutex     per-object lock
 *   +6  uint16 ob_check                 +11 uint8  ob_gc_bits
 *   +8  type*  ob_type                  +12 uint32 ob_ref_local  owner's count
 *                                       +16 intptr ob_ref_shared other threads' count << 2 | state
 *                                       +24 type*  ob_type
 *
 * Objects of collector-aware types (RCGC_TYPE_GC) carry collector linkage in
 * front of the header (a "pre-header"); its size and content belong to the
 * collector and are not part of the public ABI.
 *
 * Ownership rules, as in CPython: every function documents whether it returns
 * a NEW reference (the caller must release it), a BORROWED one (valid while
 * its owner keeps it) or STEALS an argument (takes over the caller's reference).
 */
#ifndef RCGC_OBJECT_H
#define RCGC_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "rcgc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rcgc_object rcgc_object_t;
typedef struct rcgc_type rcgc_type_t;

#ifdef RCGC_FREE_THREADED
/* Invariants (free-threaded):
 *  - ob_tid: id of the owning thread, or 0 when the object is unowned (its
 *    counts were merged) or immortal. Written by the owner, or by anyone once
 *    the shared state is MERGED; read with relaxed atomics.
 *  - ob_ref_local: the owner's count, written only by the owner thread (relaxed
 *    atomic stores, never read-modify-write). UINT32_MAX means immortal.
 *  - ob_ref_shared: (count << 2) | state, updated only with atomic RMW by
 *    non-owners. The count may be negative; local + (shared >> 2) is the true
 *    reference count.
 *  - ob_gc_bits: collector bits; written by the owner or under stop-the-world.
 *  - ob_mutex: the per-object lock byte (rcgc/thread.h critical sections). */
struct rcgc_object {
    uintptr_t ob_tid;
    uint16_t ob_flags;
    uint8_t ob_mutex;
    uint8_t ob_gc_bits;
    uint32_t ob_ref_local;
    intptr_t ob_ref_shared;
    const rcgc_type_t *ob_type;
};
#define RCGC_OBJECT_HEADER_SIZE 32
#else
/* Invariants (default build; every field is protected by the global lock):
 *  - ob_refcnt: the reference count. Bit 31 set means immortal: incref and
 *    decref never write such an object (PEP 683). A mortal count that reaches
 *    2^31 saturates into immortality instead of overflowing.
 *  - ob_gc_bits: collector bits (RCGC_GCBIT_*), meaningful for GC types only.
 *  - ob_flags: RCGC_OBF_* (static allocation, heap provenance).
 *  - ob_check: RCGC_HEADER_MAGIC while the object is alive, RCGC_HEADER_DEAD
 *    after it was torn down; debug builds check it on every decref. */
struct rcgc_object {
    uint32_t ob_refcnt;
    uint8_t ob_gc_bits;
    uint8_t ob_flags;
    uint16_t ob_check;
    const rcgc_type_t *ob_type;
};
#define RCGC_OBJECT_HEADER_SIZE 16
#endif

/* ob_flags */
#define RCGC_OBF_STATIC 0x01u   /* statically allocated: immortal, never freed */
#define RCGC_OBF_IMMORTAL 0x02u /* made immortal at run time (rcgc_object_immortalize) */
#define RCGC_OBF_LOCKFREE_READS 0x04u /* free-threaded: memory freed through QSBR (rcgc/qsbr.h) */

/* ob_gc_bits. TRACKED/FINALIZED/DEFERRED persist between collections; the others are
 * collector scratch and are zero outside a collection. */
#define RCGC_GCBIT_TRACKED 0x01u     /* linked into a generation */
#define RCGC_GCBIT_FINALIZED 0x02u   /* finalize has run (PEP 442); never cleared */
#define RCGC_GCBIT_COLLECTING 0x04u  /* member of the set being collected */
#define RCGC_GCBIT_UNREACHABLE 0x08u /* in the tentatively unreachable set */
#define RCGC_GCBIT_FROZEN 0x10u      /* in the permanent generation */
#define RCGC_GCBIT_SCRATCH 0x20u     /* free for one collector phase */
#define RCGC_GCBIT_DEFERRED 0x40u    /* deferred reference counting (rcgc/stackref.h): the
                                        count holds one extra "bias" reference, so only the
                                        collector frees the object; persists like TRACKED */

#define RCGC_HEADER_MAGIC 0xC0DEu /* default build: ob_check of a live object */
#define RCGC_HEADER_DEAD 0xDEADu  /* default build: ob_check after teardown */
#define RCGC_FT_CHECK_ALIVE 0xC0u /* free-threaded: high byte of ob_flags, live */
#define RCGC_FT_CHECK_DEAD 0xDEu  /* free-threaded: high byte of ob_flags, freed */

/* ---- the type descriptor ------------------------------------------------ */

/* Called once for every reference an object holds. Return 0 to continue, or a
 * non-zero value that traverse must stop at and return. */
typedef int (*rcgc_visit_fn)(rcgc_object_t *child, void *arg);
/* Visit every reference the object owns (NULL fields are skipped by
 * RCGC_VISIT). Must not change reference counts or allocate. */
typedef int (*rcgc_traverse_fn)(rcgc_object_t *self, rcgc_visit_fn visit, void *arg);
/* Drop the object's references using rcgc_clear_ref (store NULL, then
 * release). Return 0, or -1 after rcgc_error_set(): the error is reported
 * through the unraisable hook and the collection goes on. */
typedef int (*rcgc_clear_fn)(rcgc_object_t *self);
/* PEP 442 finalizer: may resurrect the object, runs at most once per object.
 * Return 0, or -1 after rcgc_error_set() (reported, never propagated). */
typedef int (*rcgc_finalize_fn)(rcgc_object_t *self);
/* Legacy finalizer (CPython's tp_del): its presence makes cyclic garbage
 * uncollectable (it goes to the garbage list); run on refcount death only. */
typedef void (*rcgc_del_fn)(rcgc_object_t *self);
/* Tear the object down when its count reaches zero. NULL selects
 * rcgc_object_default_dealloc. A hand-written dealloc must untrack first,
 * then may call rcgc_object_call_finalizer_from_dealloc (and return if it
 * resurrected the object), rcgc_weakref_clear_refs, release its fields, and
 * finally rcgc_object_free. */
typedef void (*rcgc_dealloc_fn)(rcgc_object_t *self);
/* Optional (RCGC_TYPE_MAYBE_UNTRACK): return true if the object can no longer
 * be part of a cycle, e.g. an immutable tuple holding only untracked objects;
 * the collector then untracks it (CPython's _PyTuple_MaybeUntrack). */
typedef bool (*rcgc_may_untrack_fn)(rcgc_object_t *self);

/* type flags */
#define RCGC_TYPE_GC 0x0001u            /* may form cycles: has traverse, is tracked */
#define RCGC_TYPE_WEAKREFABLE 0x0002u   /* weaklist_offset names the weak-list slot */
#define RCGC_TYPE_MAYBE_UNTRACK 0x0004u /* may_untrack is set */
#define RCGC_TYPE_NO_AUTO_TRACK 0x0008u /* rcgc_object_new leaves GC objects untracked */
#define RCGC_TYPE_IMMORTAL_TYPE 0x0010u /* internal: the type descriptor is static */

/* A type descriptor. Usually a static const object. All callbacks are
 * optional except that RCGC_TYPE_GC requires traverse. */
struct rcgc_type {
    const char *name;           /* shown in reports and dumps */
    size_t basic_size;          /* bytes of the fixed part, header included */
    size_t item_size;           /* bytes per item of variable-size objects (0 = fixed) */
    uint32_t flags;             /* RCGC_TYPE_* */
    size_t weaklist_offset;     /* offset of an rcgc_object_t* weak-list slot (WEAKREFABLE) */
    rcgc_traverse_fn traverse;  /* tp_traverse */
    rcgc_clear_fn clear;        /* tp_clear */
    rcgc_finalize_fn finalize;  /* tp_finalize (PEP 442) */
    rcgc_del_fn del;            /* tp_del (legacy finalizer) */
    rcgc_dealloc_fn dealloc;    /* tp_dealloc; NULL = rcgc_object_default_dealloc */
    rcgc_may_untrack_fn may_untrack;
    void *user;                 /* free for the embedder */
};

/* Visit a child inside a traverse function (skips NULL, stops on non-zero). */
#define RCGC_VISIT(child, visit, arg)                                    \
    do {                                                                 \
        rcgc_object_t *rcgc_vchild_ = (rcgc_object_t *)(child);          \
        if (rcgc_vchild_) {                                              \
            int rcgc_vres_ = (visit)(rcgc_vchild_, (arg));               \
            if (rcgc_vres_) return rcgc_vres_;                           \
        }                                                                \
    } while (0)

#define RCGC_OBJ(p) ((rcgc_object_t *)(p))

/* Header of variable-size objects (types with item_size > 0): the item count
 * follows the object header, as CPython's PyVarObject does. */
typedef struct rcgc_var_object {
    rcgc_object_t ob;
    size_t ob_size; /* number of items, set by rcgc_object_new_var */
} rcgc_var_object_t;

static inline const rcgc_type_t *rcgc_type_of(const rcgc_object_t *o) { return o->ob_type; }
static inline bool rcgc_type_is_gc(const rcgc_type_t *t) { return (t->flags & RCGC_TYPE_GC) != 0; }
static inline bool rcgc_object_is_gc(const rcgc_object_t *o) { return rcgc_type_is_gc(o->ob_type); }

/* ---- creating and destroying objects ------------------------------------ */

/* Allocate and initialise an object of a fixed-size type: zero-filled, count 1,
 * and (for GC types without RCGC_TYPE_NO_AUTO_TRACK) tracked. NEW reference,
 * or NULL with rcgc_last_error() == RCGC_ENOMEM / RCGC_EINVAL. Never runs a
 * collection (collections run only at safe points). */
RCGC_API rcgc_object_t *rcgc_object_new(const rcgc_type_t *type);
/* Same for a variable-size type: basic_size + nitems * item_size bytes. */
RCGC_API rcgc_object_t *rcgc_object_new_var(const rcgc_type_t *type, size_t nitems);
/* Give a statically allocated object its header: immortal, never freed, never
 * tracked. The memory must outlive every use. */
RCGC_API void rcgc_object_init_static(rcgc_object_t *o, const rcgc_type_t *type);
/* Make a live object immortal (PEP 683): incref/decref stop writing it and it
 * is never freed by counting. GC types are untracked first; a deferred object
 * (rcgc/stackref.h) stops being deferred. Any attached thread may call it, the
 * owner or not: the free-threaded build stops the world around the change. */
RCGC_API void rcgc_object_immortalize(rcgc_object_t *o);
/* True if o is immortal (static, immortalized, or saturated count). */
RCGC_API bool rcgc_object_is_immortal(const rcgc_object_t *o);
/* Free the memory of an object whose teardown is done (for hand-written
 * deallocs). Untracks it if it is still tracked. */
RCGC_API void rcgc_object_free(rcgc_object_t *o);
/* The dealloc used when a type leaves dealloc NULL: untrack; run finalize if
 * any (stops if it resurrects); clear weak references (callbacks run); call
 * del if any (stops if it resurrects); clear; free. */
RCGC_API void rcgc_object_default_dealloc(rcgc_object_t *o);
/* Run the PEP 442 finalizer from a dealloc (count must be 0). Returns 0 to go
 * on tearing down, -1 if the finalizer resurrected the object: the dealloc must
 * then return at once. */
RCGC_API int rcgc_object_call_finalizer_from_dealloc(rcgc_object_t *o);
/* Run the finalizer once if it has not run yet (the collector uses this). */
RCGC_API void rcgc_object_call_finalizer(rcgc_object_t *o);
/* Usable size in bytes of an object's memory (basic + items). */
RCGC_API size_t rcgc_object_size(const rcgc_object_t *o);
/* Number of live objects allocated through rcgc_object_new*, all types. Exact
 * when the other threads are detached (each thread batches its changes and
 * adds them at detach, blocking_begin, safe points and exit). */
RCGC_API size_t rcgc_object_live_count(void);

#ifdef __cplusplus
}
#endif
#endif /* RCGC_OBJECT_H */
