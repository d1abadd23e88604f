/* gcmodel.c - see gcmodel.h. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gcmodel.h"

/* ---- registry ------------------------------------------------------------------ */

static gcm_rec_t *g_recs;
static size_t g_nrecs, g_caprecs;

static uint32_t rec_new(const rcgc_type_t *type, const char *label) {
    if (g_nrecs == g_caprecs) {
        g_caprecs = g_caprecs ? g_caprecs * 2 : 256;
        g_recs = realloc(g_recs, g_caprecs * sizeof *g_recs);
        if (!g_recs) abort();
    }
    gcm_rec_t *r = &g_recs[g_nrecs++];
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", label ? label : "?");
    r->type = type;
    return (uint32_t)g_nrecs;
}

uint32_t gcm_id(const rcgc_object_t *o) { return ((const gcm_node_t *)o)->id; }

gcm_rec_t *gcm_rec(uint32_t id) {
    if (id == 0 || id > g_nrecs) {
        fprintf(stderr, "gcmodel: bad record id %u (have %zu)\n", id, g_nrecs);
        abort();
    }
    return &g_recs[id - 1];
}

const char *gcm_label(const rcgc_object_t *o) { return gcm_rec(gcm_id(o))->label; }

gcm_rec_t *gcm_rec_by_label(const char *label) {
    for (size_t i = g_nrecs; i-- > 0;)
        if (strcmp(g_recs[i].label, label) == 0) return &g_recs[i];
    fail_msg("gcmodel: no object labelled \"%s\"", label);
    return NULL;
}

size_t gcm_rec_count(void) { return g_nrecs; }
int gcm_deallocs(const char *label) { return gcm_rec_by_label(label)->deallocs; }
int gcm_finalizes(const char *label) { return gcm_rec_by_label(label)->finalizes; }

size_t gcm_total_deallocs(void) {
    size_t n = 0;
    for (size_t i = 0; i < g_nrecs; i++) n += (size_t)g_recs[i].deallocs;
    return n;
}

size_t gcm_alive_count(void) {
    size_t n = 0;
    for (size_t i = 0; i < g_nrecs; i++) n += g_recs[i].deallocs == 0;
    return n;
}

size_t gcm_double_frees(void) {
    size_t n = 0;
    for (size_t i = 0; i < g_nrecs; i++) n += g_recs[i].deallocs > 1;
    return n;
}

void gcm_print_alive(void) {
    for (size_t i = 0; i < g_nrecs; i++)
        if (g_recs[i].deallocs == 0)
            fprintf(stderr, "gcmodel: alive #%zu %s (%s) finalizes=%d gc_clears=%d\n", i + 1,
                    g_recs[i].label, g_recs[i].type->name, g_recs[i].finalizes,
                    g_recs[i].gc_clears);
}

static void note_dealloc(gcm_node_t *n) {
    gcm_rec_t *r = gcm_rec(n->id);
    r->deallocs++;
    if (r->deallocs > 1)
        fprintf(stderr, "gcmodel: %s (%s) deallocated %d times\n", r->label, r->type->name,
                r->deallocs);
}

/* ---- LOG ------------------------------------------------------------------------ */

static char **g_log;
static size_t g_nlog, g_caplog;
static char *g_logstr;

void gcm_log(const char *fmt, ...) {
    if (g_nlog == g_caplog) {
        g_caplog = g_caplog ? g_caplog * 2 : 64;
        g_log = realloc(g_log, g_caplog * sizeof *g_log);
        if (!g_log) abort();
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) abort();
    va_end(ap);
    g_log[g_nlog++] = s;
}

size_t gcm_log_len(void) { return g_nlog; }
const char *gcm_log_at(size_t i) { return i < g_nlog ? g_log[i] : NULL; }

const char *gcm_log_str(void) {
    size_t len = 1;
    for (size_t i = 0; i < g_nlog; i++) len += strlen(g_log[i]) + 1;
    free(g_logstr);
    g_logstr = malloc(len);
    if (!g_logstr) abort();
    g_logstr[0] = '\0';
    for (size_t i = 0; i < g_nlog; i++) {
        if (i) strcat(g_logstr, ",");
        strcat(g_logstr, g_log[i]);
    }
    return g_logstr;
}

void gcm_log_clear(void) {
    for (size_t i = 0; i < g_nlog; i++) free(g_log[i]);
    g_nlog = 0;
}

/* ---- ROOT ------------------------------------------------------------------------ */

static rcgc_object_t **g_root;
static size_t g_nroot, g_caproot;

void gcm_root_push(rcgc_object_t *o) {
    if (g_nroot == g_caproot) {
        g_caproot = g_caproot ? g_caproot * 2 : 64;
        g_root = realloc(g_root, g_caproot * sizeof *g_root);
        if (!g_root) abort();
    }
    rcgc_incref(o);
    g_root[g_nroot++] = o;
}

size_t gcm_root_len(void) { return g_nroot; }
rcgc_object_t *gcm_root_at(size_t i) { return i < g_nroot ? g_root[i] : NULL; }

bool gcm_root_contains(const rcgc_object_t *o) {
    for (size_t i = 0; i < g_nroot; i++)
        if (g_root[i] == o) return true;
    return false;
}

void gcm_root_clear(void) {
    /* Like Python's list.clear(): detach the items, then release them; a
     * finalizer that appends during the release lands in the new, empty ROOT
     * and stays there. */
    rcgc_object_t **items = g_root;
    size_t n = g_nroot;
    g_root = NULL;
    g_nroot = g_caproot = 0;
    for (size_t i = 0; i < n; i++) rcgc_decref(items[i]);
    free(items);
}

/* ---- the types ---------------------------------------------------------------- */

static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    gcm_node_t *n = GCM(self);
    for (int i = 0; i < GCM_NSLOTS; i++) RCGC_VISIT(n->slot[i], visit, arg);
    return 0;
}

void gcm_note_dealloc(rcgc_object_t *o) { note_dealloc(GCM(o)); }

static void release_slots(gcm_node_t *n) {
    for (int i = 0; i < GCM_NSLOTS; i++) RCGC_CLEAR(n->slot[i]);
}

static int node_clear(rcgc_object_t *self) {
    gcm_node_t *n = GCM(self);
    if (rcgc_refcnt(self) == 0)
        note_dealloc(n); /* the default dealloc's final clear */
    else
        gcm_rec(n->id)->gc_clears++;
    release_slots(n);
    return 0;
}

static void alloc_some(void) {
    for (int i = 0; i < 4; i++) {
        rcgc_object_t *x = gcm_node("fin-alloc");
        gcm_set(x, GCM_A, x); /* garbage cycle for the collector */
        rcgc_decref(x);
    }
    rcgc_safepoint();
}

static int fin_finalize(rcgc_object_t *self) {
    gcm_node_t *n = GCM(self);
    gcm_rec_t *r = gcm_rec(n->id);
    r->finalizes++;
    uint32_t f = n->fin_flags;
    if (!(f & GCM_FIN_NOLOG)) gcm_log("%s", r->label);
    if (f & GCM_FIN_RESURRECT) gcm_root_push(self);
    if (f & GCM_FIN_COLLECT) gcm_log("collect=%ld", (long)rcgc_gc_collect(2));
    if (f & GCM_FIN_ALLOC) alloc_some();
    if (n->fin_hook) n->fin_hook(n);
    if (f & GCM_FIN_ERROR) {
        rcgc_error_set(RCGC_EUSER, "finalizer of %s failed", gcm_rec(n->id)->label);
        return -1;
    }
    return 0;
}

static void legacy_del(rcgc_object_t *self) {
    gcm_node_t *n = GCM(self);
    gcm_rec_t *r = gcm_rec(n->id);
    r->dels++;
    gcm_log("tp_del:%s", r->label);
}

/* Hand-written dealloc for the Node layout without clear (FinNoClear, Tup). */
static void manual_dealloc(rcgc_object_t *self) {
    gcm_node_t *n = GCM(self);
    rcgc_gc_untrack(self);
    if (self->ob_type->finalize && rcgc_object_call_finalizer_from_dealloc(self) < 0) return;
    if (self->ob_type->flags & RCGC_TYPE_WEAKREFABLE) rcgc_weakref_clear_refs(self);
    note_dealloc(n);
    release_slots(n);
    rcgc_object_free(self);
}

static void nongc_dealloc(rcgc_object_t *self) {
    gcm_node_t *n = GCM(self);
    note_dealloc(n);
    release_slots(n);
    rcgc_object_free(self);
}

static bool tup_may_untrack(rcgc_object_t *self) {
    gcm_node_t *n = GCM(self);
    int items = (int)(uintptr_t)n->user;
    for (int i = 0; i < items; i++) {
        rcgc_object_t *it = n->slot[i];
        if (!it) return false;
        if (rcgc_object_is_gc(it) && rcgc_gc_is_tracked(it)) return false;
    }
    return true;
}

static int empty_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) { return 0; }

#define GCM_WEAK (RCGC_TYPE_GC | RCGC_TYPE_WEAKREFABLE)
#define GCM_WLO offsetof(gcm_node_t, weaklist)

const rcgc_type_t gcm_Node = {
    .name = "Node", .basic_size = sizeof(gcm_node_t), .flags = GCM_WEAK,
    .weaklist_offset = GCM_WLO, .traverse = node_traverse, .clear = node_clear,
};
const rcgc_type_t gcm_Node2 = {
    .name = "Node2", .basic_size = sizeof(gcm_node_t), .flags = GCM_WEAK,
    .weaklist_offset = GCM_WLO, .traverse = node_traverse, .clear = node_clear,
};
const rcgc_type_t gcm_Fin = {
    .name = "Fin", .basic_size = sizeof(gcm_node_t), .flags = GCM_WEAK,
    .weaklist_offset = GCM_WLO, .traverse = node_traverse, .clear = node_clear,
    .finalize = fin_finalize,
};
const rcgc_type_t gcm_FinNoClear = {
    .name = "FinNoClear", .basic_size = sizeof(gcm_node_t), .flags = GCM_WEAK,
    .weaklist_offset = GCM_WLO, .traverse = node_traverse, .finalize = fin_finalize,
    .dealloc = manual_dealloc,
};
const rcgc_type_t gcm_Legacy = {
    .name = "Legacy", .basic_size = sizeof(gcm_node_t), .flags = GCM_WEAK,
    .weaklist_offset = GCM_WLO, .traverse = node_traverse, .clear = node_clear,
    .del = legacy_del,
};
const rcgc_type_t gcm_Leaf = {
    .name = "Leaf", .basic_size = sizeof(gcm_node_t), .dealloc = nongc_dealloc,
};
const rcgc_type_t gcm_Hidden = {
    .name = "Hidden", .basic_size = sizeof(gcm_node_t), .dealloc = nongc_dealloc,
};
const rcgc_type_t gcm_Tup = {
    .name = "Tup", .basic_size = sizeof(gcm_node_t),
    .flags = RCGC_TYPE_GC | RCGC_TYPE_MAYBE_UNTRACK, .traverse = node_traverse,
    .dealloc = manual_dealloc, .may_untrack = tup_may_untrack,
};
const rcgc_type_t gcm_Empty = {
    .name = "Empty", .basic_size = sizeof(gcm_node_t), .flags = RCGC_TYPE_GC,
    .traverse = empty_traverse, .dealloc = manual_dealloc,
};

/* ---- construction ---------------------------------------------------------------- */

rcgc_object_t *gcm_new(const rcgc_type_t *type, const char *label) {
    rcgc_object_t *o = rcgc_object_new(type);
    if (!o) fail_msg("rcgc_object_new(%s) failed: %s", type->name, rcgc_last_error_message());
    GCM(o)->id = rec_new(type, label);
    return o;
}

rcgc_object_t *gcm_node(const char *label) { return gcm_new(&gcm_Node, label); }
rcgc_object_t *gcm_node2(const char *label) { return gcm_new(&gcm_Node2, label); }
rcgc_object_t *gcm_legacy(const char *label) { return gcm_new(&gcm_Legacy, label); }
rcgc_object_t *gcm_leaf(const char *label) { return gcm_new(&gcm_Leaf, label); }

rcgc_object_t *gcm_fin(const char *label, uint32_t fin_flags) {
    rcgc_object_t *o = gcm_new(&gcm_Fin, label);
    GCM(o)->fin_flags = fin_flags;
    return o;
}

rcgc_object_t *gcm_hidden(const char *label, rcgc_object_t *value) {
    rcgc_object_t *o = gcm_new(&gcm_Hidden, label);
    GCM(o)->slot[0] = rcgc_xnewref(value);
    return o;
}

rcgc_object_t *gcm_tup(const char *label, rcgc_object_t *a, rcgc_object_t *b) {
    rcgc_object_t *o = gcm_new(&gcm_Tup, label);
    GCM(o)->slot[0] = rcgc_xnewref(a);
    GCM(o)->slot[1] = rcgc_xnewref(b);
    GCM(o)->user = (void *)(uintptr_t)(b ? 2 : 1);
    return o;
}

/* ---- fields ------------------------------------------------------------------ */

void gcm_set(rcgc_object_t *o, int i, rcgc_object_t *v) {
    rcgc_xincref(v);
    RCGC_SETREF(GCM(o)->slot[i], v);
}

void gcm_set_steal(rcgc_object_t *o, int i, rcgc_object_t *v) { RCGC_SETREF(GCM(o)->slot[i], v); }
rcgc_object_t *gcm_get(rcgc_object_t *o, int i) { return GCM(o)->slot[i]; }
void gcm_drop(rcgc_object_t *o) { rcgc_decref(o); }

/* ---- weak references ----------------------------------------------------- */

static gcm_wcb_t *g_wcbs;

static int wcb_call(rcgc_object_t *wr, rcgc_object_t *ctx, void *data) {
    gcm_wcb_t *cb = data;
    cb->fired++;
    if (!(cb->flags & GCM_WCB_NOLOG)) gcm_log("cb:%s", cb->label);
    if (cb->hook) cb->hook(wr, cb);
    if (cb->flags & GCM_WCB_ERROR) {
        rcgc_error_set(RCGC_EUSER, "weakref callback %s failed", cb->label);
        return -1;
    }
    return 0;
}

rcgc_object_t *gcm_weakref(rcgc_object_t *referent, const char *cb_label, gcm_wcb_hook_fn hook,
                           void *arg, rcgc_object_t *ctx) {
    gcm_wcb_t *cb = NULL;
    if (cb_label) {
        cb = calloc(1, sizeof *cb);
        if (!cb) abort();
        snprintf(cb->label, sizeof cb->label, "%s", cb_label);
        cb->hook = hook;
        cb->arg = arg;
        cb->next_ = g_wcbs;
        g_wcbs = cb;
    }
    rcgc_object_t *wr = rcgc_weakref_new(referent, cb ? wcb_call : NULL, ctx, cb);
    if (!wr) fail_msg("rcgc_weakref_new failed: %s", rcgc_last_error_message());
    return wr;
}

gcm_wcb_t *gcm_wcb(const char *label) {
    for (gcm_wcb_t *cb = g_wcbs; cb; cb = cb->next_)
        if (strcmp(cb->label, label) == 0) return cb;
    fail_msg("gcmodel: no weakref callback labelled \"%s\"", label);
    return NULL;
}

const char *gcm_deref_label(rcgc_object_t *wr) {
    rcgc_object_t *o = rcgc_weakref_peek(wr);
    return o ? gcm_label(o) : "NULL";
}

static void wcbs_free(void) {
    while (g_wcbs) {
        gcm_wcb_t *n = g_wcbs->next_;
        free(g_wcbs);
        g_wcbs = n;
    }
}

/* ---- events and unraisable errors ------------------------------------------ */

static gcm_event_t *g_events;
static size_t g_nevents, g_capevents, g_nstops;

static int event_cb(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    if (g_nevents == g_capevents) {
        g_capevents = g_capevents ? g_capevents * 2 : 64;
        g_events = realloc(g_events, g_capevents * sizeof *g_events);
        if (!g_events) abort();
    }
    g_events[g_nevents].phase = phase;
    g_events[g_nevents].info = *info;
    g_nevents++;
    if (phase == RCGC_GC_PHASE_STOP) g_nstops++;
    return 0;
}

size_t gcm_event_count(void) { return g_nevents; }
const gcm_event_t *gcm_event_at(size_t i) { return i < g_nevents ? &g_events[i] : NULL; }
size_t gcm_collections_seen(void) { return g_nstops; }
void gcm_events_clear(void) { g_nevents = 0; g_nstops = 0; }

typedef struct unraisable {
    char where[96];
    char message[160];
    rcgc_object_t *obj;
} unraisable_t;
static unraisable_t *g_unr;
static size_t g_nunr, g_capunr;

static void unraisable_hook(rcgc_error_t code, const char *message, const char *where,
                            rcgc_object_t *obj, void *ctx) {
    if (g_nunr == g_capunr) {
        g_capunr = g_capunr ? g_capunr * 2 : 16;
        g_unr = realloc(g_unr, g_capunr * sizeof *g_unr);
        if (!g_unr) abort();
    }
    unraisable_t *u = &g_unr[g_nunr++];
    snprintf(u->where, sizeof u->where, "%s", where ? where : "");
    snprintf(u->message, sizeof u->message, "%s", message ? message : "");
    u->obj = obj;
}

size_t gcm_unraisable_count(void) { return g_nunr; }
const char *gcm_unraisable_where(size_t i) { return i < g_nunr ? g_unr[i].where : NULL; }
const char *gcm_unraisable_message(size_t i) { return i < g_nunr ? g_unr[i].message : NULL; }
rcgc_object_t *gcm_unraisable_obj(size_t i) { return i < g_nunr ? g_unr[i].obj : NULL; }

/* ---- collector helpers ---------------------------------------------------- */

intptr_t gcm_collect(int generation) {
    intptr_t r = rcgc_gc_collect(generation);
    size_t problems = rcgc_gc_check_heap();
    if (problems) fail_msg("rcgc_gc_check_heap() found %zu problems after collect(%d)", problems,
                           generation);
    return r;
}

void gcm_safepoint(void) {
    size_t before = g_nstops;
    rcgc_safepoint();
    if (g_nstops != before) {
        size_t problems = rcgc_gc_check_heap();
        if (problems) fail_msg("rcgc_gc_check_heap() found %zu problems after an automatic "
                               "collection", problems);
    }
}

void gcm_stats(rcgc_gc_gen_stats_t out[RCGC_GC_NUM_GENERATIONS]) { rcgc_gc_get_stats(out); }

bool gcm_collector_unsupported(void) {
    intptr_t r = rcgc_gc_collect(2);
    return r == -1 && rcgc_last_error() == RCGC_ENOTSUP;
}

static bool g_hooks_on;

/* Records (and weakref callback data) are dropped only when no model object
 * is alive any more: a leaked object that dies later must still find them. */
static void registry_reset(void) {
    if (gcm_alive_count() != 0) return;
    g_nrecs = 0;
    wcbs_free();
}

void gcm_begin(void) {
    if (gcm_collector_unsupported()) skip();
    rcgc_gc_disable();
    rcgc_gc_set_threshold(2000, 10, 10);
    rcgc_gc_set_debug(0);
    while (gcm_root_len()) gcm_root_clear();
    rcgc_gc_garbage_clear();
    assert_int_equal(gcm_collect(2) >= 0, 1);
    rcgc_gc_garbage_clear();
    registry_reset();
    gcm_log_clear();
    gcm_events_clear();
    g_nunr = 0;
    rcgc_set_unraisable_hook(unraisable_hook, NULL);
    if (!g_hooks_on) assert_int_equal(rcgc_gc_callback_add(event_cb, NULL), 0);
    g_hooks_on = true;
    rcgc_error_clear();
}

void gcm_end(void) {
    if (g_hooks_on) rcgc_gc_callback_remove(event_cb, NULL);
    g_hooks_on = false;
    rcgc_gc_disable();
    rcgc_gc_set_threshold(2000, 10, 10);
    rcgc_gc_set_debug(0);
    while (gcm_root_len()) gcm_root_clear();
    rcgc_gc_garbage_clear();
    rcgc_gc_collect(2);
    rcgc_gc_garbage_clear();
    rcgc_set_unraisable_hook(NULL, NULL);
    size_t dbl = gcm_double_frees();
    registry_reset();
    gcm_log_clear();
    if (dbl) fail_msg("%zu model objects were deallocated more than once", dbl);
}

int gcm_setup(void **state) {
    (void)state;
    return 0; /* gcm_begin runs inside the test body so that skip() works */
}

int gcm_teardown(void **state) {
    (void)state;
    if (g_hooks_on) gcm_end();
    return 0;
}

/* ---- misc ------------------------------------------------------------------------ */

typedef struct find_arg { const rcgc_object_t *target; size_t count; bool found; } find_arg_t;

static int count_visit(rcgc_object_t *o, void *arg) {
    find_arg_t *f = arg;
    f->count++;
    if (o == f->target) f->found = true;
    return 0;
}

size_t gcm_count_objects(int generation) {
    find_arg_t f = { NULL, 0, false };
    rcgc_gc_get_objects(generation, count_visit, &f);
    return f.count;
}

bool gcm_in_objects(int generation, const rcgc_object_t *o) {
    find_arg_t f = { o, 0, false };
    rcgc_gc_get_objects(generation, count_visit, &f);
    return f.found;
}
