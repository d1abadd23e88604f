/* gc/gc_list_default.c - the generation lists of the default build:
 * tracking, allocation accounting and scheduling, runtime start/stop, freeze,
 * and the walks over the lists (get_objects, visit_objects, get_referrers).
 *
 * Safe points: allocation only sets _rcgc_gc.scheduled; the collection runs in
 * _rcgc_gc_run_pending(), which the thread layer calls from rcgc_safepoint(),
 * rcgc_blocking_end() and rcgc_thread_attach() (docs/design/gc.md, "Safe
 * points").
 */
#include "gc/gc_list_default.h"
#include "internal/object_internal.h"

/* ---- tracking ------------------------------------------------------------- */

static int visit_check_valid(rcgc_object_t *child, void *parent) {
    if (child->ob_check != RCGC_HEADER_MAGIC)
        rcgc_fatal_object((rcgc_object_t *)parent,
                          "tracking an object whose traverse visits an invalid object %p",
                          (void *)child);
    return 0;
}

void rcgc_gc_track(rcgc_object_t *o) {
    RCGC_ASSERT_OBJ(o, rcgc_object_is_gc(o), "tracking an object of a non-GC type");
    RCGC_ASSERT_OBJ(o, o->ob_check == RCGC_HEADER_MAGIC, "tracking a freed or corrupt object");
    RCGC_ASSERT_OBJ(o, !(o->ob_flags & RCGC_OBF_STATIC), "tracking a statically allocated object");
    if (o->ob_gc_bits & RCGC_GCBIT_TRACKED)
        rcgc_fatal_object(o, "object already tracked by the garbage collector");
    if (rcgc_debug_level >= 2) o->ob_type->traverse(o, visit_check_valid, o);
    /* keep FINALIZED and DEFERRED only: scratch bits of an earlier collection
     * must not leak into the generation lists */
    o->ob_gc_bits = (uint8_t)((o->ob_gc_bits & (RCGC_GCBIT_FINALIZED | RCGC_GCBIT_DEFERRED)) | RCGC_GCBIT_TRACKED);
    gc_list_append(AS_GC(o), _rcgc_gc.generations[0].head);
}

void rcgc_gc_untrack(rcgc_object_t *o) {
    if (!(o->ob_gc_bits & RCGC_GCBIT_TRACKED)) return;
    gc_head_t *g = AS_GC(o);
    gc_list_unlink(g);
    gc_set_unlinked(g);
    o->ob_gc_bits &= RCGC_GCBIT_FINALIZED | RCGC_GCBIT_DEFERRED;
}

bool rcgc_gc_is_tracked(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (o->ob_gc_bits & RCGC_GCBIT_TRACKED);
}

bool rcgc_gc_is_finalized(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (o->ob_gc_bits & RCGC_GCBIT_FINALIZED);
}

/* ---- accounting and scheduling ---------------------------------------------- */

void _rcgc_gc_on_alloc(void) {
    rcgc_generation_t *g0 = &_rcgc_gc.generations[0];
    g0->count++;
    if (g0->count > g0->threshold && g0->threshold && _rcgc_gc.enabled && !_rcgc_gc.collecting)
        _rcgc_gc.scheduled = true;
}

void _rcgc_gc_on_free(void) {
    if (_rcgc_gc.generations[0].count > 0) _rcgc_gc.generations[0].count--;
}

void _rcgc_gc_count_flush(struct rcgc_tstate *ts) { (void)ts; } /* counted in place */
intptr_t _rcgc_gc_young_count(void) { return _rcgc_gc.generations[0].count; }
void _rcgc_gc_reset_young_count(void) {}
void _rcgc_gc_threshold_changed(void) {}
void _rcgc_gc_track_new(rcgc_object_t *o) { rcgc_gc_track(o); }

void _rcgc_gc_run_pending(void) {
    if (RCGC_LIKELY(!_rcgc_gc.scheduled)) return;
    _rcgc_gc.scheduled = false;
    if (!_rcgc_gc.enabled || !_rcgc_gc.generations[0].threshold || _rcgc_gc.collecting) return;
    _rcgc_gc_collect_main(RCGC_GC_GENERATION_AUTO, RCGC_GC_REASON_HEAP);
}

/* ---- runtime start / stop ------------------------------------------------------ */

rcgc_gc_head_slot_t _rcgc_gc_heads[RCGC_GC_HEAD_COUNT];

void _rcgc_gc_init(void) {
    _rcgc_gc_state_reset();
    /* the head area is index 0 of the segment table: links can name heads */
    _rcgc_segtab[0] = (uintptr_t)_rcgc_gc_heads;
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) {
        _rcgc_gc.generations[i].head = _rcgc_gc_head(RCGC_GC_HEAD_GEN0 + i);
        gc_list_init(_rcgc_gc.generations[i].head);
    }
    _rcgc_gc.permanent.head = _rcgc_gc_head(RCGC_GC_HEAD_PERMANENT);
    gc_list_init(_rcgc_gc.permanent.head);
}

/* Objects still tracked at shutdown (leaked cycles, objects the embedder
 * still holds) are unlinked and marked untracked, so that a later dealloc
 * never touches the list heads of a finished (or restarted) runtime. */
static void forget_list(gc_head_t *list) {
    gc_head_t *g = GC_NEXT(list);
    while (g != list) {
        gc_head_t *next = GC_NEXT(g);
        rcgc_object_t *o = FROM_GC(g);
        gc_set_unlinked(g);
        o->ob_gc_bits &= RCGC_GCBIT_FINALIZED | RCGC_GCBIT_DEFERRED;
        g = next;
    }
    gc_list_init(list);
}

void _rcgc_gc_fini(void) {
    if (!_rcgc_gc.initialized) return;
    _rcgc_gc_collect_main(RCGC_GC_NUM_GENERATIONS - 1, RCGC_GC_REASON_SHUTDOWN);
    _rcgc_gc_release_deferred();
    _rcgc_gc_report_shutdown_garbage();
    _rcgc_gc_state_release();
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) forget_list(_rcgc_gc.generations[i].head);
    forget_list(_rcgc_gc.permanent.head);
    _rcgc_gc.initialized = false;
}

/* ---- freeze ---------------------------------------------------------------------- */

static void set_frozen(gc_head_t *list, bool frozen) {
    for (gc_head_t *g = GC_NEXT(list); g != list; g = GC_NEXT(g)) {
        if (frozen) gc_set_bits(FROM_GC(g), RCGC_GCBIT_FROZEN);
        else gc_clear_bits(FROM_GC(g), RCGC_GCBIT_FROZEN);
    }
}

void rcgc_gc_freeze(void) {
    if (!_rcgc_gc.initialized) return;
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) {
        gc_head_t *h = _rcgc_gc.generations[i].head;
        set_frozen(h, true);
        gc_list_merge(h, _rcgc_gc.permanent.head);
        _rcgc_gc.generations[i].count = 0;
    }
}

void rcgc_gc_unfreeze(void) {
    if (!_rcgc_gc.initialized) return;
    set_frozen(_rcgc_gc.permanent.head, false);
    gc_list_merge(_rcgc_gc.permanent.head, _rcgc_gc.generations[RCGC_GC_NUM_GENERATIONS - 1].head);
}

size_t rcgc_gc_get_freeze_count(void) {
    if (!_rcgc_gc.initialized) return 0;
    return (size_t)gc_list_size(_rcgc_gc.permanent.head);
}

/* ---- walks ------------------------------------------------------------------------- */

static int walk_list(gc_head_t *list, rcgc_object_visit_fn fn, void *arg) {
    gc_head_t *next;
    for (gc_head_t *g = GC_NEXT(list); g != list; g = next) {
        next = GC_NEXT(g);
        int r = fn(FROM_GC(g), arg);
        if (r) return r;
    }
    return 0;
}

int rcgc_gc_get_objects(int generation, rcgc_object_visit_fn fn, void *arg) {
    if (generation < -1 || generation >= RCGC_GC_NUM_GENERATIONS)
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_get_objects: generation must be -1 or 0..2");
    if (!_rcgc_gc.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc_gc_get_objects: rcgc is not initialized");
    if (generation >= 0) return walk_list(_rcgc_gc.generations[generation].head, fn, arg);
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) {
        int r = walk_list(_rcgc_gc.generations[i].head, fn, arg);
        if (r) return r;
    }
    return 0;
}

/* Visit one list holding a reference on the current object and on the next,
 * so that the visitor may drop references and allocate. The walk of a list
 * ends early if the object it stands on was untracked by the visitor. */
static int visit_list_owned(gc_head_t *list, rcgc_object_visit_fn fn, void *arg) {
    gc_head_t *g = GC_NEXT(list);
    if (g == list) return 0;
    rcgc_object_t *o = FROM_GC(g);
    rcgc_incref(o);
    for (;;) {
        int r = fn(o, arg);
        gc_head_t *next = (o->ob_gc_bits & RCGC_GCBIT_TRACKED) ? GC_NEXT(AS_GC(o)) : list;
        rcgc_object_t *no = next != list ? FROM_GC(next) : NULL;
        if (no) rcgc_incref(no);
        rcgc_decref(o);
        if (r || !no) {
            if (no) rcgc_decref(no);
            return r;
        }
        o = no;
    }
}

int rcgc_gc_visit_objects(rcgc_object_visit_fn fn, void *arg) {
    if (!_rcgc_gc.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc_gc_visit_objects: rcgc is not initialized");
    bool was_enabled = _rcgc_gc.enabled;
    _rcgc_gc.enabled = false;
    int r = 0;
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS && !r; i++)
        r = visit_list_owned(_rcgc_gc.generations[i].head, fn, arg);
    if (!r) r = visit_list_owned(_rcgc_gc.permanent.head, fn, arg);
    _rcgc_gc.enabled = was_enabled;
    return r;
}

typedef struct referrer_query {
    rcgc_object_t *const *objs;
    size_t n;
} referrer_query_t;

static int visit_is_target(rcgc_object_t *child, void *arg) {
    const referrer_query_t *q = arg;
    for (size_t i = 0; i < q->n; i++)
        if (q->objs[i] == child) return 1;
    return 0;
}

int rcgc_gc_get_referrers(rcgc_object_t *const *objs, size_t n, rcgc_object_visit_fn fn, void *arg) {
    if (n && !objs) return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_get_referrers: objs is NULL");
    if (!_rcgc_gc.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc_gc_get_referrers: rcgc is not initialized");
    referrer_query_t q = { objs, n };
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) {
        gc_head_t *list = _rcgc_gc.generations[i].head, *next;
        for (gc_head_t *g = GC_NEXT(list); g != list; g = next) {
            next = GC_NEXT(g);
            rcgc_object_t *o = FROM_GC(g);
            if (o->ob_type->traverse(o, visit_is_target, &q) == 1) {
                int r = fn(o, arg);
                if (r) return r;
            }
        }
    }
    return 0;
}
