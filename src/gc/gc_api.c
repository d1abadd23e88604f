/* gc/gc_api.c - the flavour-neutral part of rcgc/gc.h: enable/disable,
 * thresholds and counts, debug flags, statistics, GC callbacks, the garbage
 * list, get_referents, and the shutdown report. Both builds compile this
 * file; the collector proper is collect_default.c / finalize_default.c
 * (default build) and gc_ft.c (free-threaded build).
 */
#include "gc/gc_state.h"
#include "internal/object_internal.h"
#include "internal/tstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

rcgc_gc_state_t _rcgc_gc;

static const int default_thresholds[RCGC_GC_NUM_GENERATIONS] = { 2000, 10, 10 };

void _rcgc_gc_state_reset(void) {
    _rcgc_gc_state_release();
    memset(&_rcgc_gc, 0, sizeof _rcgc_gc);
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++)
        _rcgc_gc.generations[i].threshold = default_thresholds[i];
    _rcgc_gc.enabled = true;
    _rcgc_gc.initialized = true;
}

void _rcgc_gc_state_release(void) {
    rcgc_gc_garbage_clear();
    rcgc_raw_free(_rcgc_gc.garbage.items);
    _rcgc_gc.garbage.items = NULL;
    _rcgc_gc.garbage.cap = 0;
    rcgc_raw_free(_rcgc_gc.callbacks);
    _rcgc_gc.callbacks = NULL;
    _rcgc_gc.ncallbacks = _rcgc_gc.callbacks_cap = 0;
}

double _rcgc_gc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- control ------------------------------------------------------------- */

bool rcgc_gc_enable(void) {
    bool was = _rcgc_gc.enabled;
    _rcgc_gc.enabled = true;
    return was;
}

bool rcgc_gc_disable(void) {
    bool was = _rcgc_gc.enabled;
    _rcgc_gc.enabled = false;
    return was;
}

bool rcgc_gc_is_enabled(void) { return _rcgc_gc.enabled; }

int rcgc_gc_set_threshold(int threshold0, int threshold1, int threshold2) {
    if (threshold0 < 0 || threshold1 < 0 || threshold2 < 0)
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_set_threshold: negative threshold");
    _rcgc_gc.generations[0].threshold = threshold0;
    _rcgc_gc.generations[1].threshold = threshold1;
    _rcgc_gc.generations[2].threshold = threshold2;
    _rcgc_gc_threshold_changed();
    return 0;
}

void rcgc_gc_get_threshold(int out[RCGC_GC_NUM_GENERATIONS]) {
    for (int i = 0; i < RCGC_GC_NUM_GENERATIONS; i++) out[i] = _rcgc_gc.generations[i].threshold;
}

void rcgc_gc_get_count(intptr_t out[RCGC_GC_NUM_GENERATIONS]) {
    for (int i = 1; i < RCGC_GC_NUM_GENERATIONS; i++)
        out[i] = __atomic_load_n(&_rcgc_gc.generations[i].count, __ATOMIC_RELAXED);
    out[0] = _rcgc_gc_young_count();
}

void rcgc_gc_set_debug(unsigned flags) { _rcgc_gc.debug = flags; }
unsigned rcgc_gc_get_debug(void) { return _rcgc_gc.debug; }

void rcgc_gc_get_stats(rcgc_gc_gen_stats_t out[RCGC_GC_NUM_GENERATIONS]) {
    memcpy(out, _rcgc_gc.stats, sizeof _rcgc_gc.stats);
}

/* ---- callbacks ------------------------------------------------------------- */

int rcgc_gc_callback_add(rcgc_gc_callback_fn cb, void *ctx) {
    if (!cb) return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_callback_add: callback is NULL");
    if (_rcgc_gc.ncallbacks == _rcgc_gc.callbacks_cap) {
        size_t cap = _rcgc_gc.callbacks_cap ? 2 * _rcgc_gc.callbacks_cap : 4;
        rcgc_gc_callback_t *a = rcgc_raw_realloc(_rcgc_gc.callbacks, cap * sizeof *a);
        if (!a) return _rcgc_fail_int(RCGC_ENOMEM, "rcgc_gc_callback_add: out of memory");
        _rcgc_gc.callbacks = a;
        _rcgc_gc.callbacks_cap = cap;
    }
    _rcgc_gc.callbacks[_rcgc_gc.ncallbacks++] = (rcgc_gc_callback_t){ cb, ctx };
    return 0;
}

int rcgc_gc_callback_remove(rcgc_gc_callback_fn cb, void *ctx) {
    for (size_t i = 0; i < _rcgc_gc.ncallbacks; i++) {
        if (_rcgc_gc.callbacks[i].fn == cb && _rcgc_gc.callbacks[i].ctx == ctx) {
            memmove(&_rcgc_gc.callbacks[i], &_rcgc_gc.callbacks[i + 1],
                    (_rcgc_gc.ncallbacks - i - 1) * sizeof *_rcgc_gc.callbacks);
            _rcgc_gc.ncallbacks--;
            return 0;
        }
    }
    return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_callback_remove: not registered");
}

/* Registration order; the array is re-read at each step because a callback
 * may add or remove registrations (like CPython's walk over gc.callbacks). */
void _rcgc_gc_invoke_callbacks(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info) {
    for (size_t i = 0; i < _rcgc_gc.ncallbacks; i++) {
        rcgc_gc_callback_t c = _rcgc_gc.callbacks[i];
        rcgc_gc_info_t copy = *info; /* a fresh record for every callback */
        if (c.fn(phase, &copy, c.ctx) != 0) rcgc_error_write_unraisable("GC callback", NULL);
    }
}

/* ---- the garbage list ------------------------------------------------------ */

int _rcgc_gc_garbage_append(rcgc_object_t *o) {
    rcgc_objvec_t *v = &_rcgc_gc.garbage;
    if (v->len == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 16;
        rcgc_object_t **a = rcgc_raw_realloc(v->items, cap * sizeof *a);
        if (!a) return _rcgc_fail_int(RCGC_ENOMEM, "gc: out of memory growing the garbage list");
        v->items = a;
        v->cap = cap;
    }
    v->items[v->len++] = rcgc_newref(o);
    return 0;
}

size_t rcgc_gc_garbage_count(void) { return _rcgc_gc.garbage.len; }

rcgc_object_t *rcgc_gc_garbage_item(size_t i) {
    return i < _rcgc_gc.garbage.len ? _rcgc_gc.garbage.items[i] : NULL;
}

rcgc_object_t *rcgc_gc_garbage_take(size_t i) {
    rcgc_objvec_t *v = &_rcgc_gc.garbage;
    if (i >= v->len) return NULL;
    rcgc_object_t *o = v->items[i];
    memmove(&v->items[i], &v->items[i + 1], (v->len - i - 1) * sizeof *v->items);
    v->len--;
    return o;
}

/* Items are released last-first, each removed before its release, so that
 * code run by a release (a del, a finalizer) sees a consistent list. */
void rcgc_gc_garbage_clear(void) {
    rcgc_objvec_t *v = &_rcgc_gc.garbage;
    while (v->len) {
        rcgc_object_t *o = v->items[--v->len];
        rcgc_decref(o);
    }
}

/* ---- get_referents ----------------------------------------------------------- */

int rcgc_gc_get_referents(rcgc_object_t *const *objs, size_t n, rcgc_object_visit_fn fn, void *arg) {
    if (n && !objs) return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_get_referents: objs is NULL");
    for (size_t i = 0; i < n; i++) {
        rcgc_object_t *o = objs[i];
        if (!o || !rcgc_object_is_gc(o) || !o->ob_type->traverse) continue;
        int r = o->ob_type->traverse(o, (rcgc_visit_fn)fn, arg);
        if (r) return r;
    }
    return 0;
}

/* ---- shutdown report (cpython-gc.md §11, scenario S41) ----------------------- */

void _rcgc_gc_report_shutdown_garbage(void) {
    size_t n = _rcgc_gc.garbage.len;
    if (!n || (_rcgc_gc.debug & RCGC_GC_DEBUG_SAVEALL)) return;
    if (!(_rcgc_gc.debug & RCGC_GC_DEBUG_UNCOLLECTABLE)) {
        _rcgc_output("gc: %zu uncollectable objects at shutdown; use "
                     "rcgc_gc_set_debug(RCGC_GC_DEBUG_UNCOLLECTABLE) to list them\n", n);
        return;
    }
    _rcgc_output("gc: %zu uncollectable objects at shutdown\n", n);
    for (size_t i = 0; i < n; i++) {
        rcgc_object_t *o = _rcgc_gc.garbage.items[i];
        _rcgc_output("      <%s %p>\n", o->ob_type->name, (void *)o);
    }
}

/* ---- the collection driver (both flavours) ------------------------------------
 * Selection, callbacks, DEBUG_STATS output, statistics and the caller's
 * pending error around the flavour's _rcgc_gc_collect_generation. */

bool _rcgc_gc_begin(void) {
    bool expected = false;
    return __atomic_compare_exchange_n(&_rcgc_gc.collecting, &expected, true, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
}

void _rcgc_gc_end(void) { __atomic_store_n(&_rcgc_gc.collecting, false, __ATOMIC_RELEASE); }

bool _rcgc_gc_is_collecting(void) { return __atomic_load_n(&_rcgc_gc.collecting, __ATOMIC_ACQUIRE); }

/* CPython's gc_select_generation: the oldest generation whose count passed
 * its threshold; generation 2 only under the 25% rule. -1 if none. */
static int select_generation(void) {
    intptr_t count[RCGC_GC_NUM_GENERATIONS];
    rcgc_gc_get_count(count);
    for (int i = RCGC_GC_NUM_GENERATIONS - 1; i >= 0; i--) {
        if (count[i] > _rcgc_gc.generations[i].threshold) {
            if (i == RCGC_GC_NUM_GENERATIONS - 1 &&
                _rcgc_gc.long_lived_pending < _rcgc_gc.long_lived_total / 4)
                continue;
            return i;
        }
    }
    return -1;
}

/* Counters before collecting generation g (cpython-gc.md §3.4). */
void _rcgc_gc_prepare_counts(int generation) {
    if (generation + 1 < RCGC_GC_NUM_GENERATIONS) _rcgc_gc.generations[generation + 1].count += 1;
    for (int i = 0; i <= generation; i++) __atomic_store_n(&_rcgc_gc.generations[i].count, 0, __ATOMIC_RELAXED);
    _rcgc_gc_reset_young_count();
}

static void print_start_stats(int generation) {
    intptr_t sz[RCGC_GC_NUM_GENERATIONS], permanent;
    _rcgc_gc_generation_sizes(sz, &permanent);
    _rcgc_output("gc: collecting generation %d...\n", generation);
    _rcgc_output("gc: objects in each generation: %lld %lld %lld\n", (long long)sz[0],
                 (long long)sz[1], (long long)sz[2]);
    _rcgc_output("gc: objects in permanent generation: %lld\n", (long long)permanent);
}

/* The caller's pending error survives a collection (CPython saves and
 * restores the current exception around it); an error that user code left
 * set without reporting it is reported as unraisable ("garbage collection"),
 * or dropped silently at shutdown. */
typedef struct saved_error {
    rcgc_error_t code;
    char msg[200];
} saved_error_t;

static void save_error(saved_error_t *e) {
    e->code = rcgc_last_error();
    if (e->code != RCGC_OK) snprintf(e->msg, sizeof e->msg, "%s", rcgc_last_error_message());
    rcgc_error_clear();
}

static void restore_error(const saved_error_t *e, rcgc_gc_reason_t reason) {
    if (rcgc_last_error() != RCGC_OK) {
        if (reason == RCGC_GC_REASON_SHUTDOWN) rcgc_error_clear();
        else rcgc_error_write_unraisable("garbage collection", NULL);
    }
    if (e->code != RCGC_OK) rcgc_error_set(e->code, "%s", e->msg);
}

static void record_stats(int generation, const rcgc_gc_result_t *r, double elapsed) {
    rcgc_gc_gen_stats_t *st = &_rcgc_gc.stats[generation];
    st->collections += 1;
    st->collected += r->collected;
    st->uncollectable += r->uncollectable;
    st->candidates += r->candidates;
    st->duration += elapsed;
}

intptr_t _rcgc_gc_collect_main(int generation, rcgc_gc_reason_t reason) {
    if (!_rcgc_gc_begin()) return 0;
    if (generation == RCGC_GC_GENERATION_AUTO) {
        generation = select_generation();
        if (generation < 0) {
            _rcgc_gc_end();
            return 0;
        }
    }
    saved_error_t saved;
    save_error(&saved);
    rcgc_gc_info_t info = { .generation = generation, .reason = reason };
    if (reason != RCGC_GC_REASON_SHUTDOWN) _rcgc_gc_invoke_callbacks(RCGC_GC_PHASE_START, &info);

    bool stats = (_rcgc_gc.debug & RCGC_GC_DEBUG_STATS) != 0;
    if (stats) print_start_stats(generation);
    double t0 = _rcgc_gc_now();
    rcgc_gc_result_t r = _rcgc_gc_collect_generation(generation);
    double elapsed = _rcgc_gc_now() - t0;
    if (stats)
        _rcgc_output("gc: done, %lld unreachable, %lld uncollectable, %.4fs elapsed\n",
                     (long long)(r.collected + r.uncollectable), (long long)r.uncollectable, elapsed);
    record_stats(generation, &r, elapsed);
    if (rcgc_debug_level >= 3) _rcgc_gc_check_after_collection(r.candidates);

    if (reason != RCGC_GC_REASON_SHUTDOWN) {
        info.collected = r.collected;
        info.uncollectable = r.uncollectable;
        info.candidates = r.candidates;
        info.duration = elapsed;
        _rcgc_gc_invoke_callbacks(RCGC_GC_PHASE_STOP, &info);
    }
    restore_error(&saved, reason);
    _rcgc_gc_end();
    return r.collected + r.uncollectable;
}

intptr_t rcgc_gc_collect(int generation) {
    if (generation < 0 || generation >= RCGC_GC_NUM_GENERATIONS)
        return _rcgc_fail_int(RCGC_EINVAL, "rcgc_gc_collect: invalid generation");
    if (!_rcgc_gc.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc_gc_collect: rcgc is not initialized");
    return _rcgc_gc_collect_main(generation, RCGC_GC_REASON_MANUAL);
}

/* ---- heap checks (both flavours; the check itself is per flavour) -------------- */

size_t rcgc_gc_check_heap(void) {
    if (!_rcgc_gc.initialized) return 0;
    size_t tracked;
    return _rcgc_gc_check_heap_sized(&tracked);
}

/* RCGC_DEBUG >= 3: after a collection that examined `examined` objects. Small
 * heaps are checked every time; above RCGC_GC_CHECK_ALWAYS tracked objects the
 * check runs once the collections since the last one examined as many
 * objects as the heap held then, so checking costs at most about as much as
 * collecting (a check after each of 59,000 young collections of a
 * 2-million-object heap would be quadratic). Full collections examine the
 * whole heap and are always checked. */
#define RCGC_GC_CHECK_ALWAYS 10000

void _rcgc_gc_check_after_collection(intptr_t examined) {
    static size_t last_heap, debt;
    debt += (size_t)examined;
    if (last_heap > RCGC_GC_CHECK_ALWAYS && debt < last_heap) return;
    debt = 0;
    size_t problems = _rcgc_gc_check_heap_sized(&last_heap);
    if (problems) rcgc_fatal_object(NULL, "gc: heap check after a collection found %zu problems", problems);
}

void _rcgc_gc_debug_object(const char *what, rcgc_object_t *o) {
    _rcgc_output("gc: %s <%s %p>\n", what, o->ob_type->name, (void *)o);
}

void _rcgc_gc_check_report(const char *problem, rcgc_object_t *o) {
    char buf[256];
    if (_rcgc_object_describe(o, buf, sizeof buf) < 0) buf[0] = '\0';
    _rcgc_output("gc: check_heap: %s: %s\n", problem, buf);
}
