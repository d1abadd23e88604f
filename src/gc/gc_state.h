/* gc/gc_state.h - the collector's state and the cross-file prototypes of
 * src/gc/ (grouped by defining file).
 *
 * Synchronisation: default build - every field is protected by the global
 * lock (only the attached thread touches it). Free-threaded build - the
 * flavour-neutral fields (thresholds, debug, callbacks, garbage list, stats)
 * are touched by attached threads only and are not yet protected against
 * concurrent writers (the free-threaded collector, a later issue, will take a
 * lock or stop the world); generations[0].count is a relaxed atomic.
 *
 * Invariants (default build, outside a collection):
 *  - generations[g].head and permanent.head are circular doubly linked lists
 *    of rcgc_gc_head_t, linked by compressed links (gc_list_default.h); the
 *    heads live in _rcgc_gc_heads, never carry flags and are never objects.
 *  - every object linked into one of them is of a GC type and has
 *    RCGC_GCBIT_TRACKED; an object is in exactly one list; TRACKED without a
 *    list (gc_next == 0) never happens, and gc_next == 0 means untracked.
 *  - RCGC_GCBIT_FROZEN is set exactly on the objects of permanent.head.
 *  - COLLECTING and UNREACHABLE are clear on every object (they are scratch
 *    bits of one collection; see collect_default.c for their life cycle).
 *  - generations[0].count >= 0 (net GC allocations since the last young
 *    collection, floored at 0); counts 1 and 2 count collections.
 *  - collecting is true exactly while rcgc_gc_collect's body runs; a nested
 *    call returns 0 at once.
 *  - scheduled is set only by allocation accounting and cleared at the next
 *    safe point, which then may or may not collect (the selection runs again).
 */
#ifndef RCGC_GC_STATE_H
#define RCGC_GC_STATE_H

#include "internal/gc_internal.h"

#ifndef RCGC_FREE_THREADED
/* List heads (default build). A compressed link must be able to name a list
 * head as well as an object, so every head lives in one static area that
 * the collector registers as index 0 of the allocator's segment table
 * (_rcgc_segtab[0], set by _rcgc_gc_init): slot k is 16 bytes, 16-byte
 * aligned, its head in its last 8 bytes, exactly as an object's pre-header
 * sits before a 16-byte aligned object; its link is k + 1 (never 0).
 * The generation heads and the permanent generation are permanent slots;
 * the temporary lists of a collection (formerly on the collector's stack)
 * have fixed slots too: a collection never nests. */
enum {
    RCGC_GC_HEAD_GEN0 = 0, /* .. RCGC_GC_HEAD_GEN0 + RCGC_GC_NUM_GENERATIONS - 1 */
    RCGC_GC_HEAD_PERMANENT = RCGC_GC_NUM_GENERATIONS,
    RCGC_GC_HEAD_UNREACHABLE, /* collect_generation */
    RCGC_GC_HEAD_FINALIZERS,  /* collect_generation */
    RCGC_GC_HEAD_FINAL,       /* collect_generation: final_unreachable */
    RCGC_GC_HEAD_WRCB,        /* _rcgc_gc_handle_weakref_callbacks */
    RCGC_GC_HEAD_SEEN,        /* _rcgc_gc_finalize_garbage */
    RCGC_GC_HEAD_COUNT
};
typedef struct rcgc_gc_head_slot {
    uint64_t unused;     /* what would be the object's granule before it */
    rcgc_gc_head_t head; /* at slot + 8 */
} __attribute__((aligned(16))) rcgc_gc_head_slot_t;
_Static_assert(sizeof(rcgc_gc_head_slot_t) == 16, "head slots are one granule");
RCGC_INTERNAL extern rcgc_gc_head_slot_t _rcgc_gc_heads[RCGC_GC_HEAD_COUNT];
static inline rcgc_gc_head_t *_rcgc_gc_head(int k) { return &_rcgc_gc_heads[k].head; }
#endif

typedef struct rcgc_generation {
#ifndef RCGC_FREE_THREADED
    rcgc_gc_head_t *head; /* circular list of tracked objects (a slot of _rcgc_gc_heads, set by
                             _rcgc_gc_init); the head never carries flags */
#endif
    int threshold;
    intptr_t count;
} rcgc_generation_t;

typedef struct rcgc_gc_callback {
    rcgc_gc_callback_fn fn;
    void *ctx;
} rcgc_gc_callback_t;

/* A growable array of owned references (the garbage list: one reference per
 * item, owned by the list). */
typedef struct rcgc_objvec {
    rcgc_object_t **items;
    size_t len, cap;
} rcgc_objvec_t;

typedef struct rcgc_gc_state {
    bool initialized;
    bool enabled;
    bool collecting;          /* re-entrancy guard */
    bool scheduled;           /* a collection is due at the next safe point */
    unsigned debug;           /* RCGC_GC_DEBUG_* */
    rcgc_generation_t generations[RCGC_GC_NUM_GENERATIONS];
    rcgc_generation_t permanent; /* frozen objects (threshold/count unused) */
    rcgc_gc_gen_stats_t stats[RCGC_GC_NUM_GENERATIONS];
    intptr_t long_lived_total;   /* survivors of the last full collection */
    intptr_t long_lived_pending; /* promoted into generation 2 since then */
    rcgc_objvec_t garbage;       /* rcgc_gc_garbage_*: owned references */
    rcgc_gc_callback_t *callbacks; /* registration order */
    size_t ncallbacks, callbacks_cap;
} rcgc_gc_state_t;

RCGC_INTERNAL extern rcgc_gc_state_t _rcgc_gc;

/* Pseudo-generation for rcgc's own automatic selection (CPython's
 * GENERATION_AUTO). */
#define RCGC_GC_GENERATION_AUTO (-1)

/* ---- gc_api.c (flavour-neutral) -------------------------------------------- */
/* Reset every flavour-neutral field to its default (thresholds 2000/10/10,
 * enabled, debug 0, stats 0, empty lists). */
RCGC_INTERNAL void _rcgc_gc_state_reset(void);
/* Release the garbage list and the callback registrations. */
RCGC_INTERNAL void _rcgc_gc_state_release(void);
/* Append o to the garbage list, taking a NEW reference; -1 on ENOMEM. */
RCGC_INTERNAL int _rcgc_gc_garbage_append(rcgc_object_t *o);
/* Call the GC callbacks (none for SHUTDOWN); errors go to the unraisable hook. */
RCGC_INTERNAL void _rcgc_gc_invoke_callbacks(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info);
/* Monotonic clock in seconds. */
RCGC_INTERNAL double _rcgc_gc_now(void);
/* The shutdown report on the garbage list (cpython-gc.md §11). */
RCGC_INTERNAL void _rcgc_gc_report_shutdown_garbage(void);
/* "gc: <what> <type 0xaddr>" through the output channel. */
RCGC_INTERNAL void _rcgc_gc_debug_object(const char *what, rcgc_object_t *o);
/* "gc: check_heap: <problem>: <object description>" (the heap checkers). */
RCGC_INTERNAL void _rcgc_gc_check_report(const char *problem, rcgc_object_t *o);
/* One collection (CPython's _PyGC_Collect): generation 0..2 or
 * RCGC_GC_GENERATION_AUTO; returns m + n, or 0 when one is already running
 * (on this or, free-threaded, another thread). */
RCGC_INTERNAL intptr_t _rcgc_gc_collect_main(int generation, rcgc_gc_reason_t reason);
/* The collecting flag: _rcgc_gc_begin sets it (false if it was set). */
RCGC_INTERNAL bool _rcgc_gc_begin(void);
RCGC_INTERNAL void _rcgc_gc_end(void);
RCGC_INTERNAL bool _rcgc_gc_is_collecting(void);
/* Counters before collecting generation g (cpython-gc.md §3.4): count[g+1]
 * += 1, counts 0..g := 0 (and the threads' pending young counts). */
RCGC_INTERNAL void _rcgc_gc_prepare_counts(int generation);

/* ---- per flavour (collect_default.c + gc_check_default.c + gc_list_default.c,
 *      or collect_ft.c + gc_ft.c) ------------------------------------------- */
typedef struct rcgc_gc_result {
    intptr_t collected;     /* m */
    intptr_t uncollectable; /* n */
    intptr_t candidates;    /* objects examined */
} rcgc_gc_result_t;
/* Everything between the START and STOP callbacks; counters via
 * _rcgc_gc_prepare_counts. Called with the collecting flag held. */
RCGC_INTERNAL rcgc_gc_result_t _rcgc_gc_collect_generation(int generation);
/* Tracked objects per generation and in the permanent generation. */
RCGC_INTERNAL void _rcgc_gc_generation_sizes(intptr_t sz[RCGC_GC_NUM_GENERATIONS], intptr_t *permanent);
/* RCGC_DEBUG >= 3 (gc_api.c): heap check after a collection (amortized on
 * large heaps); fatal on any problem. */
RCGC_INTERNAL void _rcgc_gc_check_after_collection(intptr_t examined);
/* The heap check of rcgc_gc_check_heap: the number of problems; *tracked :=
 * the number of tracked objects seen. */
RCGC_INTERNAL size_t _rcgc_gc_check_heap_sized(size_t *tracked);
/* count[0] as rcgc_gc_get_count reports it (>= 0), and its reset. */
RCGC_INTERNAL intptr_t _rcgc_gc_young_count(void);
RCGC_INTERNAL void _rcgc_gc_reset_young_count(void);
/* Shutdown, after the final collection: every deferred object left stops
 * being deferred, its bias released (objects only tagged stack references
 * or unknown frames kept alive are freed now; the others become ordinary
 * objects, as any object the program still holds). */
RCGC_INTERNAL void _rcgc_gc_release_deferred(void);
/* rcgc_gc_set_threshold changed threshold 0 (free-threaded: recompute the
 * calling thread's flush limit). */
RCGC_INTERNAL void _rcgc_gc_threshold_changed(void);

#endif
