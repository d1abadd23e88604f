/* gcmodel.h - the object model of cpython-gc.md §18, shared by the collector
 * conformance tests, the randomized differential test and future GC tests.
 *
 * Every model object has the same C layout (gcm_node_t) and differs only by
 * its type descriptor:
 *
 *   gcm_Node      GC, weakrefable, named slots; traverse visits non-NULL slots,
 *                 clear stores NULL then releases; dealloc = library default.
 *   gcm_Node2     a second GC type with the same behaviour (S2).
 *   gcm_Fin       Node + PEP 442 finalizer: logs its label, then does what its
 *                 per-object fin_flags / fin_hook say (resurrect into ROOT,
 *                 collect, allocate, rewire, report an error ...).
 *   gcm_FinNoClear  Fin without clear (like a tuple) and a hand-written dealloc.
 *   gcm_Legacy    Node + legacy finalizer (del) logging "tp_del:<label>".
 *   gcm_Leaf      non-GC refcounted object (hand-written dealloc).
 *   gcm_Hidden    non-GC object owning one reference (slot 0) without traverse:
 *                 an edge the collector cannot see.
 *   gcm_Tup       immutable GC type with RCGC_TYPE_MAYBE_UNTRACK and no clear
 *                 (items in slots 0..1; hand-written dealloc).
 *   gcm_Empty     GC type whose traverse visits nothing.
 *
 * Deaths are observed without replacing the default dealloc: the library's
 * default dealloc ends with clear() on an object whose count is 0, whereas the
 * collector calls clear() on an object it holds a reference to (count >= 1).
 * The model's clear counts the first kind as the object's deallocation and
 * the second as a collector clear. Hand-written deallocs count directly.
 *
 * Every model object gets a record (label, type, counters) in a registry that
 * outlives the object, so a test can assert "freed exactly once" after the
 * object is gone. Records are looked up by id (gcm_id) or by label.
 *
 * LOG is append-only, one string per entry; gcm_log_str() joins entries with
 * ','. ROOT is a test-owned list of external references.
 *
 * Not thread-safe: callers hold the global lock (default build) as every
 * rcgc user does; the registry is only touched by the attached thread.
 */
#ifndef RCGC_TEST_GCMODEL_H
#define RCGC_TEST_GCMODEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "rcgc.h"

#define GCM_NSLOTS 6
/* Slot names. Scenarios name their fields after the CPython tests; the
 * comment next to each use gives the field name. */
enum { GCM_A = 0, GCM_B, GCM_C, GCM_D, GCM_E, GCM_F };

typedef struct gcm_node gcm_node_t;
typedef void (*gcm_fin_hook_fn)(gcm_node_t *self);

struct gcm_node {
    rcgc_object_t ob;
    uint32_t id;        /* registry id, 1-based */
    uint32_t fin_flags; /* GCM_FIN_* */
    rcgc_object_t *weaklist;
    gcm_fin_hook_fn fin_hook; /* extra behaviour of the finalizer (Fin types) */
    void *user;               /* free for the test (e.g. hook argument) */
    rcgc_object_t *slot[GCM_NSLOTS];
};

#define GCM(o) ((gcm_node_t *)(o))

/* fin_flags, applied in this order after the label is logged */
#define GCM_FIN_NOLOG 0x01u     /* do not log the label */
#define GCM_FIN_RESURRECT 0x02u /* append self to ROOT */
#define GCM_FIN_COLLECT 0x04u   /* log "collect=<rcgc_gc_collect(2)>" */
#define GCM_FIN_ALLOC 0x08u     /* allocate and drop 4 Nodes, then rcgc_safepoint() */
#define GCM_FIN_ERROR 0x10u     /* return -1 with RCGC_EUSER set */

extern const rcgc_type_t gcm_Node, gcm_Node2, gcm_Fin, gcm_FinNoClear, gcm_Legacy, gcm_Leaf,
    gcm_Hidden, gcm_Tup, gcm_Empty;

/* ---- the registry ---------------------------------------------------------- */
typedef struct gcm_rec {
    char label[32];
    const rcgc_type_t *type;
    int deallocs;  /* deallocations (must end at 0 or 1) */
    int finalizes; /* finalizer calls */
    int dels;      /* legacy finalizer calls */
    int gc_clears; /* clear() calls on a live object (by the collector) */
} gcm_rec_t;

uint32_t gcm_id(const rcgc_object_t *o);
const char *gcm_label(const rcgc_object_t *o);
gcm_rec_t *gcm_rec(uint32_t id);
/* The most recent record with that label (aborts the test if none). */
gcm_rec_t *gcm_rec_by_label(const char *label);
size_t gcm_rec_count(void);
int gcm_deallocs(const char *label);
int gcm_finalizes(const char *label);
/* Sum of deallocs over every record (a "freed exactly once" census). */
size_t gcm_total_deallocs(void);
/* Number of records whose deallocs is 0. */
size_t gcm_alive_count(void);
/* Total of records with deallocs > 1 (must stay 0). */
size_t gcm_double_frees(void);
/* For test-local types built on gcm_node_t and created with gcm_new: report
 * the object's deallocation (call from its dealloc, or from its clear when
 * rcgc_refcnt(o) == 0 under the default dealloc). */
void gcm_note_dealloc(rcgc_object_t *o);
/* Print the records of live objects to stderr (debugging aid). */
void gcm_print_alive(void);

/* ---- construction (each returns a NEW reference) -------------------------- */
rcgc_object_t *gcm_new(const rcgc_type_t *type, const char *label);
rcgc_object_t *gcm_node(const char *label);
rcgc_object_t *gcm_node2(const char *label);
rcgc_object_t *gcm_fin(const char *label, uint32_t fin_flags);
rcgc_object_t *gcm_legacy(const char *label);
rcgc_object_t *gcm_leaf(const char *label);
/* value: BORROWED, the Hidden takes its own reference (may be NULL). */
rcgc_object_t *gcm_hidden(const char *label, rcgc_object_t *value);
/* a, b: BORROWED (b may be NULL for a 1-tuple). */
rcgc_object_t *gcm_tup(const char *label, rcgc_object_t *a, rcgc_object_t *b);

/* ---- fields ------------------------------------------------------------------ */
/* o.slot[i] = v: take a reference to v (may be NULL), store, release old. */
void gcm_set(rcgc_object_t *o, int i, rcgc_object_t *v);
/* o.slot[i] = v, stealing the caller's reference to v. */
void gcm_set_steal(rcgc_object_t *o, int i, rcgc_object_t *v);
rcgc_object_t *gcm_get(rcgc_object_t *o, int i); /* BORROWED */
void gcm_drop(rcgc_object_t *o);                 /* release the test's reference */

/* ---- weak references ----------------------------------------------------- */
typedef struct gcm_wcb gcm_wcb_t;
typedef void (*gcm_wcb_hook_fn)(rcgc_object_t *wr, gcm_wcb_t *cb);
struct gcm_wcb {
    char label[32];
    int fired;    /* callback calls */
    uint32_t flags;
    gcm_wcb_hook_fn hook; /* extra behaviour after logging */
    void *arg;            /* free for the hook */
    gcm_wcb_t *next_;     /* model bookkeeping */
};
#define GCM_WCB_NOLOG 0x01u /* do not log "cb:<label>" */
#define GCM_WCB_ERROR 0x02u /* return -1 with RCGC_EUSER set */

/* Weak reference to referent (BORROWED). cb_label NULL: no callback; else a
 * callback that logs "cb:<label>", runs hook, counts in gcm_wcb(label)->fired.
 * ctx (BORROWED, may be NULL) is the weakref's context object. NEW reference. */
rcgc_object_t *gcm_weakref(rcgc_object_t *referent, const char *cb_label, gcm_wcb_hook_fn hook,
                           void *arg, rcgc_object_t *ctx);
gcm_wcb_t *gcm_wcb(const char *label); /* most recent callback with the label */
/* The referent's label, or "NULL" once cleared (for logging). */
const char *gcm_deref_label(rcgc_object_t *wr);

/* ---- LOG ------------------------------------------------------------------------ */
void gcm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t gcm_log_len(void);
const char *gcm_log_at(size_t i);
/* Entries joined with ',' (static buffer, valid until the next call). */
const char *gcm_log_str(void);
void gcm_log_clear(void);

/* ---- ROOT ------------------------------------------------------------------------ */
void gcm_root_push(rcgc_object_t *o); /* takes a new reference */
size_t gcm_root_len(void);
rcgc_object_t *gcm_root_at(size_t i); /* BORROWED */
bool gcm_root_contains(const rcgc_object_t *o);
/* Release every entry, like Python's list.clear(): entries appended by
 * finalizers during the release stay (call again to release them). */
void gcm_root_clear(void);

/* ---- collector helpers ---------------------------------------------------- */
/* rcgc_gc_collect(g), then assert rcgc_gc_check_heap() == 0. Not for use
 * inside finalizers or callbacks (call rcgc_gc_collect there). */
intptr_t gcm_collect(int generation);
/* rcgc_safepoint(); if a collection ran, assert the heap is sound. */
void gcm_safepoint(void);
/* Scenario setup of §18: automatic collection off, thresholds (2000,10,10),
 * debug flags 0, garbage list empty, one collect(), LOG, ROOT and registry
 * empty, unraisable hook and event recorder installed. Calls cmocka skip()
 * when the collector reports RCGC_ENOTSUP. */
void gcm_begin(void);
/* Scenario teardown: remove hooks, empty ROOT and the garbage list, collect,
 * check that nothing was deallocated twice. */
void gcm_end(void);
/* cmocka per-test setup/teardown: the test body calls gcm_begin() itself (so
 * that skip() works); gcm_teardown runs gcm_end() unless the test already
 * did, also after a failed assertion, so the next test starts clean. */
int gcm_setup(void **state);
int gcm_teardown(void **state);
/* True when this flavour has no collector yet (collect -> -1/ENOTSUP). */
bool gcm_collector_unsupported(void);

/* Stats */
void gcm_stats(rcgc_gc_gen_stats_t out[RCGC_GC_NUM_GENERATIONS]);
/* Assert the change of generation g's stats since the snapshot `before`
 * (needs cmocka.h in the including file). */
#define GCM_ASSERT_STATS_DELTA(before, g, d_collections, d_collected, d_uncollectable)          \
    do {                                                                                     \
        rcgc_gc_gen_stats_t now_[RCGC_GC_NUM_GENERATIONS];                                   \
        rcgc_gc_get_stats(now_);                                                             \
        assert_int_equal(now_[(g)].collections - (before)[(g)].collections, (d_collections));  \
        assert_int_equal(now_[(g)].collected - (before)[(g)].collected, (d_collected));        \
        assert_int_equal(now_[(g)].uncollectable - (before)[(g)].uncollectable,              \
                         (d_uncollectable));                                                 \
    } while (0)

/* ---- GC callback events (recorded from gcm_begin on) ------------------------- */
typedef struct gcm_event {
    rcgc_gc_phase_t phase;
    rcgc_gc_info_t info;
} gcm_event_t;
size_t gcm_event_count(void);
const gcm_event_t *gcm_event_at(size_t i);
/* Number of "stop" events so far (= collections that ran since gcm_begin). */
size_t gcm_collections_seen(void);
void gcm_events_clear(void);

/* ---- unraisable errors (recorded from gcm_begin on) -------------------------- */
size_t gcm_unraisable_count(void);
const char *gcm_unraisable_where(size_t i);
const char *gcm_unraisable_message(size_t i);
rcgc_object_t *gcm_unraisable_obj(size_t i); /* address only, may be dead */

/* ---- misc ------------------------------------------------------------------------ */
/* Heap census used by tests: number of tracked objects in generation g (-1: all). */
size_t gcm_count_objects(int generation);
bool gcm_in_objects(int generation, const rcgc_object_t *o);

#endif
