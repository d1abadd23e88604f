/* gc/gc_ft.c - the free-threaded build's part of rcgc/gc.h around the
 * collection itself (collect_ft.c): tracking, the batched young count and
 * scheduling, runtime start/stop, freeze, and the heap walks behind
 * get_objects, visit_objects and get_referrers.
 *
 * Every walk over the heap runs with the world stopped. Walks that call user
 * code (the visitors of get_objects etc.) first collect the objects with a
 * reference each, restart the world, and then call the visitor, so that it
 * may allocate, drop references and even collect.
 */
#include "gc/gc_ft.h"
#include "internal/stw.h"
#include "internal/deferred.h"

#include <string.h>

/* ---- vectors ------------------------------------------------------------------ */

bool _rcgc_ft_vec_reserve(ft_vec_t *vec, size_t extra) {
    if (vec->cap - vec->n >= extra) return true;
    size_t cap = vec->cap ? vec->cap : 256;
    while (cap - vec->n < extra) {
        if (cap > SIZE_MAX / 2 / sizeof *vec->v) return false;
        cap *= 2;
    }
    rcgc_object_t **v = rcgc_raw_realloc(vec->v, cap * sizeof *v);
    if (!v) {
        rcgc_error_clear(); /* the collector copes: its callers see no error */
        return false;
    }
    vec->v = v;
    vec->cap = cap;
    return true;
}

void _rcgc_ft_vec_free(ft_vec_t *vec) {
    rcgc_raw_free(vec->v);
    memset(vec, 0, sizeof *vec);
}

/* ---- heap walk -------------------------------------------------------------------- */

typedef struct walk_ctx {
    size_t offset; /* pool block -> object (debug allocator: its head) */
    ft_object_fn fn;
    void *arg;
} walk_ctx_t;

static int visit_block(void *block, size_t size, void *arg) {
    walk_ctx_t *w = arg;
    if (size < w->offset + sizeof(rcgc_object_t)) return 0;
    rcgc_object_t *o = (rcgc_object_t *)((char *)block + w->offset);
    if (!ft_alive(o)) return 0;
    return w->fn(o, w->arg);
}

int _rcgc_ft_walk(bool young_only, ft_object_fn fn, void *arg) {
    walk_ctx_t w = { _rcgc_alloc_object_offset(), fn, arg };
    return young_only ? _rcgc_heap_visit_young(visit_block, &w)
                      : _rcgc_heap_visit(RCGC_HEAP_GC, visit_block, &w);
}

/* ---- tracking ------------------------------------------------------------------ */

static void track(rcgc_object_t *o) {
    uint8_t bits = __atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED);
    if (bits & RCGC_GCBIT_TRACKED) rcgc_fatal_object(o, "object already tracked by the garbage collector");
    ft_set_age(o, 0);
    /* keep FINALIZED and DEFERRED-style persistent bits only */
    __atomic_store_n(&o->ob_gc_bits,
                     (uint8_t)((bits & ~(RCGC_GCBIT_COLLECTING | RCGC_GCBIT_UNREACHABLE | RCGC_GCBIT_FROZEN |
                                         RCGC_GCBIT_SCRATCH | FT_GCBIT_QUEUED)) |
                               RCGC_GCBIT_TRACKED),
                     __ATOMIC_RELAXED);
}

void rcgc_gc_track(rcgc_object_t *o) {
    RCGC_ASSERT_OBJ(o, rcgc_object_is_gc(o), "tracking an object of a non-GC type");
    RCGC_ASSERT_OBJ(o, !(o->ob_flags & RCGC_OBF_STATIC), "tracking a statically allocated object");
    track(o);
    /* a young collection finds young objects on young pages only */
    _rcgc_pool_mark_young((const char *)o - _rcgc_alloc_object_offset());
}

void _rcgc_gc_track_new(rcgc_object_t *o) {
    /* a new object's block came from a current (young) allocation page */
    track(o);
}

void rcgc_gc_untrack(rcgc_object_t *o) {
    uint8_t bits = __atomic_load_n(&o->ob_gc_bits, __ATOMIC_RELAXED);
    if (!(bits & RCGC_GCBIT_TRACKED)) return;
    __atomic_store_n(&o->ob_gc_bits, (uint8_t)(bits & ~RCGC_GCBIT_TRACKED), __ATOMIC_RELAXED);
}

bool rcgc_gc_is_tracked(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (ft_bits(o) & RCGC_GCBIT_TRACKED);
}

bool rcgc_gc_is_finalized(const rcgc_object_t *o) {
    return rcgc_object_is_gc(o) && (ft_bits(o) & RCGC_GCBIT_FINALIZED);
}

/* ---- the young count ---------------------------------------------------------------
 * Each thread counts GC allocations minus frees in gc_delta and adds it to
 * generations[0].count (atomic) when it reaches gc_limit or -GC_BATCH. The
 * limit is what is left below threshold 0 (at most GC_BATCH), so a single
 * thread schedules a collection at exactly the allocation the default build
 * would, and k threads within threshold + GC_BATCH * k. A free lowers the
 * count only while this thread's view of it (gc_base + gc_delta) is positive:
 * the default build's floor at 0, exact for one thread. */
#define GC_BATCH 512

static intptr_t load_ip(const intptr_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static void store_ip(intptr_t *p, intptr_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

static void young_flush(rcgc_tstate_t *ts) {
    intptr_t d = load_ip(&ts->gc_delta);
    intptr_t base = __atomic_add_fetch(&_rcgc_gc.generations[0].count, d, __ATOMIC_RELAXED);
    store_ip(&ts->gc_delta, 0);
    ts->gc_base = base;
    intptr_t threshold = _rcgc_gc.generations[0].threshold;
    /* past the threshold (a collection is due, or cannot run: disabled,
     * running elsewhere) a full batch again, not a flush per allocation */
    intptr_t left = threshold && base <= threshold ? threshold - base + 1 : GC_BATCH;
    ts->gc_limit = left > GC_BATCH ? GC_BATCH : left;
    if (threshold && base > threshold && _rcgc_gc.enabled && !_rcgc_gc_is_collecting())
        ts->gc_scheduled = true;
}

void _rcgc_gc_on_alloc(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    intptr_t d = load_ip(&ts->gc_delta) + 1;
    store_ip(&ts->gc_delta, d);
    if (RCGC_UNLIKELY(d >= ts->gc_limit)) young_flush(ts);
}

void _rcgc_gc_on_free(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    intptr_t d = load_ip(&ts->gc_delta);
    if (ts->gc_base + d <= 0) {
        /* the floor, against a fresh view: other threads may have counted */
        ts->gc_base = load_ip(&_rcgc_gc.generations[0].count);
        if (ts->gc_base + d <= 0) return;
    }
    store_ip(&ts->gc_delta, --d);
    if (RCGC_UNLIKELY(d <= -GC_BATCH)) young_flush(ts);
}

void _rcgc_gc_count_flush(struct rcgc_tstate *ts) {
    if (load_ip(&ts->gc_delta)) young_flush(ts);
}

intptr_t _rcgc_gc_young_count(void) {
    intptr_t n = load_ip(&_rcgc_gc.generations[0].count);
    pthread_mutex_lock(&_rcgc_runtime.threads_lock);
    for (rcgc_tstate_t *t = _rcgc_runtime.threads; t; t = t->next_thread) n += load_ip(&t->gc_delta);
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
    rcgc_tstate_t *self = _rcgc_tstate();
    if (!self->registered) n += load_ip(&self->gc_delta);
    return n > 0 ? n : 0;
}

static void reset_thread_count(rcgc_tstate_t *t) {
    store_ip(&t->gc_delta, 0);
    t->gc_base = 0;
    t->gc_limit = 0; /* the next allocation flushes and computes the limit */
}

/* With the world stopped (or no other thread attached). */
void _rcgc_gc_reset_young_count(void) {
    pthread_mutex_lock(&_rcgc_runtime.threads_lock);
    for (rcgc_tstate_t *t = _rcgc_runtime.threads; t; t = t->next_thread) reset_thread_count(t);
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
    reset_thread_count(_rcgc_tstate());
}

void _rcgc_gc_threshold_changed(void) { _rcgc_tstate()->gc_limit = 0; }

void _rcgc_gc_run_pending(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (RCGC_LIKELY(!ts->gc_scheduled)) return;
    ts->gc_scheduled = false;
    if (!_rcgc_gc.enabled || !_rcgc_gc.generations[0].threshold || _rcgc_gc_is_collecting()) return;
    _rcgc_gc_collect_main(RCGC_GC_GENERATION_AUTO, RCGC_GC_REASON_HEAP);
}

/* ---- runtime start / stop ------------------------------------------------------------ */

void _rcgc_gc_init(void) {
    _rcgc_gc_state_reset();
    _rcgc_gc_reset_young_count();
}

static int forget_object(rcgc_object_t *o, void *arg) {
    (void)arg;
    if (ft_bits(o) & RCGC_GCBIT_TRACKED) ft_clear_bits(o, RCGC_GCBIT_TRACKED | RCGC_GCBIT_FROZEN);
    return 0;
}

static int gather_deferred(rcgc_object_t *o, void *arg) {
    if (!_rcgc_deferred_bias(o)) return 0;
    if (!_rcgc_ft_vec_push(arg, o)) return 1; /* out of memory: the rest keep their bias */
    _rcgc_deferred_disable_keep_ref(o); /* its bias is ours now */
    return 0;
}

/* After the shutdown collection, as in the default build: deferred objects
 * still alive stop being deferred and their bias is released (objects kept
 * only by the bias, tagged references or an invalid frame die now). */
void _rcgc_gc_release_deferred(void) {
    if (!_rcgc_deferred_in_use()) return;
    ft_vec_t v = { 0 };
    _rcgc_stop_the_world();
    _rcgc_ft_walk(false, gather_deferred, &v);
    _rcgc_start_the_world();
    for (size_t i = 0; i < v.n; i++) rcgc_decref(v.v[i]);
    _rcgc_ft_vec_free(&v);
}

void _rcgc_gc_fini(void) {
    if (!_rcgc_gc.initialized) return;
    _rcgc_gc_collect_main(RCGC_GC_NUM_GENERATIONS - 1, RCGC_GC_REASON_SHUTDOWN);
    _rcgc_gc_release_deferred();
    _rcgc_gc_report_shutdown_garbage();
    _rcgc_gc_state_release();
    /* as the default build does: what is still tracked is forgotten, so a
     * later runtime does not examine objects of this one */
    _rcgc_stop_the_world();
    _rcgc_ft_walk(false, forget_object, NULL);
    _rcgc_start_the_world();
    _rcgc_gc.initialized = false;
}

/* ---- freeze ------------------------------------------------------------------------ */

typedef struct freeze_arg {
    bool freeze;
} freeze_arg_t;

static int visit_freeze(rcgc_object_t *o, void *arg) {
    freeze_arg_t *f = arg;
    unsigned b = ft_bits(o);
    if (!(b & RCGC_GCBIT_TRACKED)) return 0;
    if (f->freeze) {
        if (!(b & RCGC_GCBIT_FROZEN)) ft_set_bits(o, RCGC_GCBIT_FROZEN);
    } else if (b & RCGC_GCBIT_FROZEN) {
        ft_clear_bits(o, RCGC_GCBIT_FROZEN);
        ft_set_age(o, RCGC_GC_NUM_GENERATIONS - 1); /* into the oldest generation */
    }
    return 0;
}

static void freeze_walk(bool freeze) {
    freeze_arg_t f = { freeze };
    _rcgc_stop_the_world();
    _rcgc_ft_walk(false, visit_freeze, &f);
    if (freeze) {
        for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++)
            __atomic_store_n(&_rcgc_gc.generations[i].count, 0, __ATOMIC_RELAXED);
        _rcgc_gc_reset_young_count();
    }
    _rcgc_start_the_world();
}

void rcgc_gc_freeze(void) {
    if (_rcgc_gc.initialized) freeze_walk(true);
}

void rcgc_gc_unfreeze(void) {
    if (_rcgc_gc.initialized) freeze_walk(false);
}

static int count_frozen(rcgc_object_t *o, void *arg) {
    unsigned b = ft_bits(o);
    *(size_t *)arg += (b & (RCGC_GCBIT_TRACKED | RCGC_GCBIT_FROZEN)) == (RCGC_GCBIT_TRACKED | RCGC_GCBIT_FROZEN);
    return 0;
}

size_t rcgc_gc_get_freeze_count(void) {
    if (!_rcgc_gc.initialized) return 0;
    size_t n = 0;
    _rcgc_stop_the_world();
    _rcgc_ft_walk(false, count_frozen, &n);
    _rcgc_start_the_world();
    return n;
}

typedef struct sizes_arg {
    intptr_t sz[RCGC_GC_NUM_GENERATIONS];
    intptr_t permanent;
} sizes_arg_t;

static int count_generation(rcgc_object_t *o, void *arg) {
    sizes_arg_t *s = arg;
    unsigned b = ft_bits(o);
    if (!(b & RCGC_GCBIT_TRACKED)) return 0;
    if (b & RCGC_GCBIT_FROZEN) s->permanent++;
    else s->sz[ft_age(o)]++;
    return 0;
}

void _rcgc_gc_generation_sizes(intptr_t sz[RCGC_GC_NUM_GENERATIONS], intptr_t *permanent) {
    sizes_arg_t s;
    memset(&s, 0, sizeof s);
    _rcgc_stop_the_world();
    _rcgc_ft_walk(false, count_generation, &s);
    _rcgc_start_the_world();
    memcpy(sz, s.sz, sizeof s.sz);
    *permanent = s.permanent;
}

/* ---- walks with user code: snapshot, restart, visit -------------------------------- */

typedef struct snapshot {
    int generation;     /* -1: all; -2: all, frozen included */
    rcgc_object_t *const *targets; /* get_referrers */
    size_t ntargets;
    ft_vec_t objs;
    bool oom;
} snapshot_t;

static int visit_is_target(rcgc_object_t *child, void *arg) {
    const snapshot_t *s = arg;
    for (size_t i = 0; i < s->ntargets; i++)
        if (s->targets[i] == child) return 1;
    return 0;
}

static int snapshot_object(rcgc_object_t *o, void *arg) {
    snapshot_t *s = arg;
    unsigned b = ft_bits(o);
    /* the garbage of a collection in progress is not shown (the default
     * build's collector holds it on a list of its own) */
    if ((b & (RCGC_GCBIT_TRACKED | RCGC_GCBIT_COLLECTING)) != RCGC_GCBIT_TRACKED) return 0;
    if (s->generation != -2 && (b & RCGC_GCBIT_FROZEN)) return 0;
    if (s->generation >= 0 && (int)ft_age(o) != s->generation) return 0;
    if (s->targets && o->ob_type->traverse(o, visit_is_target, s) != 1) return 0;
    if (!_rcgc_ft_vec_push(&s->objs, o)) {
        s->oom = true;
        return 1;
    }
    rcgc_incref(o);
    return 0;
}

/* Collect the matching objects (a reference each) with the world stopped,
 * then call fn on each with the world running; every reference is released. */
static int snapshot_visit(snapshot_t *s, rcgc_object_visit_fn fn, void *arg, const char *what) {
    _rcgc_stop_the_world();
    _rcgc_ft_walk(false, snapshot_object, s);
    _rcgc_start_the_world();
    int r = 0;
    for (size_t i = 0; i < s->objs.n; i++) {
        if (r == 0 && !s->oom) r = fn(s->objs.v[i], arg);
        rcgc_decref(s->objs.v[i]);
    }
    _rcgc_ft_vec_free(&s->objs);
    if (s->oom) return _rcgc_fail_int(RCGC_ENOMEM, what);
    return r;
}

int rcgc_gc_get_objects(int generation, rcgc_object_visit_fn fn, void *arg) {
    if (generation < -1 || generation >= RCGC_GC_NUM_GENERATIONS)
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_get_objects: generation must be -1 or 0..2");
    if (!_rcgc_gc.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc_gc_get_objects: rcgc is not initialized");
    snapshot_t s = { .generation = generation };
    return snapshot_visit(&s, fn, arg, "rcgc_gc_get_objects: out of memory");
}

int rcgc_gc_visit_objects(rcgc_object_visit_fn fn, void *arg) {
    if (!_rcgc_gc.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc_gc_visit_objects: rcgc is not initialized");
    bool was_enabled = _rcgc_gc.enabled;
    _rcgc_gc.enabled = false;
    snapshot_t s = { .generation = -2 };
    int r = snapshot_visit(&s, fn, arg, "rcgc_gc_visit_objects: out of memory");
    _rcgc_gc.enabled = was_enabled;
    return r;
}

int rcgc_gc_get_referrers(rcgc_object_t *const *objs, size_t n, rcgc_object_visit_fn fn, void *arg) {
    if (n && !objs) return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_get_referrers: objs is NULL");
    if (!_rcgc_gc.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc_gc_get_referrers: rcgc is not initialized");
    if (n == 0) return 0;
    snapshot_t s = { .generation = -1, .targets = objs, .ntargets = n };
    return snapshot_visit(&s, fn, arg, "rcgc_gc_get_referrers: out of memory");
}
