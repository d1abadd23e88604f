/* shapes.c - collector workloads for rcgc and bdwgc (our own ports of the
 * shapes described in landscape.md section 16 and cpython-gc.md section 15;
 * bench/py/shapes.py runs the same shapes on CPython).
 *
 *   S_RCGC    tracked rcgc objects; "collect" = rcgc_gc_collect(2) (full) or
 *             rcgc_gc_collect(0) (young)
 *   S_BDWGC   GC_MALLOC'd objects; "collect" = GC_gcollect() (bdwgc sweeps
 *             lazily: part of the freeing cost moves to later allocations)
 *
 * Modes (argv[1]; BENCH_QUICK=1 shrinks loop counts and sizes, the record
 * names stay):
 *   gc_collect              pyperformance gc_collect: 100 rings of 21 nodes
 *                           with next/prev, dropped, one timed collection
 *   gc_traversal            pyperformance gc_traversal: 1,000 lists, list k
 *                           holds k references to list k-1; timed full
 *                           collection finding nothing (and one young
 *                           collection right after building)
 *   ring_live NAME N        N live objects in rings of 10 nodes with 3 pointer
 *                           fields (next, prev, opposite); timed full collection
 *   ring_garbage NAME N     the same rings dropped: collect N objects of cyclic
 *                           garbage, freeing included
 *   young_pause NAME N      N old objects (rings, promoted by a full
 *                           collection), then many young collections of 2,000
 *                           fresh cyclic-garbage objects: min/median/p99/max
 *   dumpster NAME manual?   dumpster's single-threaded random graph mutation
 *   finalizer               disclaim_bench analogue: 4M objects each replacing
 *                           a random slot of a 32,768-entry keep array
 *   finalizer_cyclic        the same with pairs that reference each other
 *   weakref                 create+drop a weakref; clear weakrefs when referents die
 *   gc_object_bytes         RSS per tracked object, payloads of 8 to 32 bytes
 */
#include "../common/bench.h"

#include <stddef.h>

static int quick;

/* ======================================================================= */
#if defined(S_RCGC)
#include <rcgc.h>

typedef rcgc_object_t obj_t;

/* a node with 3 pointer fields (ring shape; the pyperformance node uses 2) */
typedef struct {
    rcgc_object_t ob;
    obj_t *a, *b, *c;
} node3_t;
static int node3_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    node3_t *n = (node3_t *)self;
    RCGC_VISIT(n->a, visit, arg);
    RCGC_VISIT(n->b, visit, arg);
    RCGC_VISIT(n->c, visit, arg);
    return 0;
}
static int node3_clear(rcgc_object_t *self) {
    node3_t *n = (node3_t *)self;
    RCGC_CLEAR(n->a);
    RCGC_CLEAR(n->b);
    RCGC_CLEAR(n->c);
    return 0;
}
static const rcgc_type_t node3_type = {.name = "bench.node3", .basic_size = sizeof(node3_t),
                                       .flags = RCGC_TYPE_GC, .traverse = node3_traverse,
                                       .clear = node3_clear};
/* node2 (the pyperformance node) uses fields a (next) and b (prev) only */
static int node2_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    node3_t *n = (node3_t *)self;
    RCGC_VISIT(n->a, visit, arg);
    RCGC_VISIT(n->b, visit, arg);
    return 0;
}
static int node2_clear(rcgc_object_t *self) {
    node3_t *n = (node3_t *)self;
    RCGC_CLEAR(n->a);
    RCGC_CLEAR(n->b);
    return 0;
}
static const rcgc_type_t node2_type = {.name = "bench.node2", .basic_size = offsetof(node3_t, c),
                                       .flags = RCGC_TYPE_GC, .traverse = node2_traverse,
                                       .clear = node2_clear};
static obj_t *new_node3(void) {
    obj_t *o = rcgc_object_new(&node3_type);
    BENCH_CHECK(o, "rcgc_object_new failed");
    return o;
}
static obj_t *new_node2(void) {
    obj_t *o = rcgc_object_new(&node2_type);
    BENCH_CHECK(o, "rcgc_object_new failed");
    return o;
}
/* field setters: store a NEW reference to v */
#define F(o) ((node3_t *)(o))
static inline void set_a(obj_t *o, obj_t *v) { F(o)->a = rcgc_newref(v); }
static inline void set_b(obj_t *o, obj_t *v) { F(o)->b = rcgc_newref(v); }
static inline void set_c(obj_t *o, obj_t *v) { F(o)->c = rcgc_newref(v); }
static inline void drop(obj_t *o) { rcgc_decref(o); }

/* list: variable size, n references */
typedef struct {
    rcgc_object_t ob;
    size_t n;
    obj_t *items[];
} list_t;
static int list_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    list_t *l = (list_t *)self;
    for (size_t i = 0; i < l->n; i++) RCGC_VISIT(l->items[i], visit, arg);
    return 0;
}
static int list_clear(rcgc_object_t *self) {
    list_t *l = (list_t *)self;
    for (size_t i = 0; i < l->n; i++) RCGC_CLEAR(l->items[i]);
    return 0;
}
static const rcgc_type_t list_type = {.name = "bench.list", .basic_size = sizeof(list_t),
                                      .item_size = sizeof(obj_t *), .flags = RCGC_TYPE_GC,
                                      .traverse = list_traverse, .clear = list_clear};
static obj_t *new_list(size_t n) {
    list_t *l = (list_t *)rcgc_object_new_var(&list_type, n);
    BENCH_CHECK(l, "rcgc_object_new_var failed");
    l->n = n;
    return RCGC_OBJ(l);
}
static inline void list_set(obj_t *l, size_t i, obj_t *v) { ((list_t *)l)->items[i] = rcgc_newref(v); }

static size_t base_live;
static double pause_max_s;
static int on_gc(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    if (phase == RCGC_GC_PHASE_STOP && info->duration > pause_max_s) pause_max_s = info->duration;
    return 0;
}
static void sys_init(void) {
    BENCH_CHECK(rcgc_init() == 0, "rcgc_init failed");
    rcgc_gc_callback_add(on_gc, NULL);
    base_live = rcgc_object_live_count();
}
/* a full collection; returns what the collector says it found */
static long collect_gen(int g) {
    intptr_t r = rcgc_gc_collect(g);
    BENCH_CHECK(r >= 0, "rcgc_gc_collect(%d) failed: %s: %s", g, rcgc_error_name(rcgc_last_error()),
                rcgc_last_error_message() ? rcgc_last_error_message() : "");
    return (long)r;
}
static long collect_full(void) { return collect_gen(2); }
static long collect_young(void) { return collect_gen(0); }
static long collections(void) {
    rcgc_gc_gen_stats_t st[RCGC_GC_NUM_GENERATIONS];
    rcgc_gc_get_stats(st);
    return (long)(st[0].collections + st[1].collections + st[2].collections);
}
static void check_live(size_t expect_extra, const char *where) {
    size_t live = rcgc_object_live_count();
    BENCH_CHECK(live == base_live + expect_extra, "%s: %zu objects live, expected %zu", where, live,
                base_live + expect_extra);
}
#define CHECK_FOUND(found, n, what)                                                       \
    BENCH_CHECK((found) >= (long)(n), "%s: the collector found %ld, expected >= %ld", what, \
                (long)(found), (long)(n))
#define CHECK_NONE(found, what) \
    BENCH_CHECK((found) == 0, "%s: the collector found %ld garbage objects in a live heap", what, (long)(found))

/* ======================================================================= */
#elif defined(S_BDWGC)
#include <gc.h>
#include <gc/gc_disclaim.h>
typedef void obj_t;
typedef struct {
    void *a, *b, *c;
} node3_t;
#define F(o) ((node3_t *)(o))
static obj_t *new_node3(void) { return GC_MALLOC(sizeof(node3_t)); }
static obj_t *new_node2(void) { return GC_MALLOC(2 * sizeof(void *)); }
static inline void set_a(obj_t *o, obj_t *v) { F(o)->a = v; }
static inline void set_b(obj_t *o, obj_t *v) { F(o)->b = v; }
static inline void set_c(obj_t *o, obj_t *v) { F(o)->c = v; }
static inline void drop(obj_t *o) { (void)o; }
typedef struct {
    size_t n;
    void *items[];
} list_t;
static obj_t *new_list(size_t n) {
    list_t *l = GC_MALLOC(sizeof(list_t) + n * sizeof(void *));
    l->n = n;
    return l;
}
static inline void list_set(obj_t *l, size_t i, obj_t *v) { ((list_t *)l)->items[i] = v; }
static double pause_max_s, pause_t0;
static void on_event(GC_EventType e) {
    if (e == GC_EVENT_START) pause_t0 = bench_now();
    else if (e == GC_EVENT_END) {
        double d = bench_now() - pause_t0;
        if (d > pause_max_s) pause_max_s = d;
    }
}
static void sys_init(void) {
    GC_INIT();
    GC_set_on_collection_event(on_event);
}
static long collect_full(void) {
    GC_gcollect();
    return -1;
}
static long collections(void) { return (long)GC_get_gc_no(); }
static void check_live(size_t extra, const char *where) { (void)extra, (void)where; }
#define CHECK_FOUND(found, n, what) ((void)(found))
#define CHECK_NONE(found, what) ((void)(found))
#else
#error "pick S_RCGC or S_BDWGC"
#endif

/* Root arrays: a plain C array for rcgc (external references), a GC_MALLOC'd
 * one reachable from a static for bdwgc. */
static obj_t **roots_alloc(size_t n) {
#if defined(S_BDWGC)
    return GC_MALLOC(n * sizeof(obj_t *));
#else
    return calloc(n, sizeof(obj_t *));
#endif
}
static void roots_free(obj_t **r) {
#if defined(S_BDWGC)
    (void)r;
#else
    free(r);
#endif
}
static obj_t **volatile g_roots; /* keeps bdwgc's root array reachable */

/* ---- pyperformance gc_collect --------------------------------------------- */
/* create_gc_cycles: the rings are held in a list until all are built, then
 * the list is dropped */
static void build_dl_rings(int cycles, int links) {
    obj_t **all = roots_alloc((size_t)cycles);
    g_roots = all;
    for (int c = 0; c < cycles; c++) {
        obj_t *first = new_node2(), *prev = first;
        all[c] = first;
        for (int i = 0; i < links; i++) {
            obj_t *n = new_node2();
            set_a(prev, n); /* prev.next = n */
            set_b(n, prev); /* n.prev = prev */
            if (prev != first) drop(prev);
            prev = n;
        }
        set_a(prev, first);
        set_b(first, prev);
        if (prev != first) drop(prev);
    }
    for (int c = 0; c < cycles; c++) {
        obj_t *h = all[c];
        all[c] = NULL;
        drop(h);
    }
    g_roots = NULL;
    roots_free(all);
}

static void mode_gc_collect(void) {
    int loops = quick ? 30 : 200;
    double *s = malloc((size_t)loops * sizeof *s);
    for (int l = 0; l < loops; l++) {
        collect_full();
        build_dl_rings(100, 20);
        double t0 = bench_now();
        long found = collect_full();
        s[l] = bench_now() - t0;
        CHECK_FOUND(found, 2100, "gc_collect");
        check_live(0, "gc_collect");
    }
    bench_sort(s, (size_t)loops);
    bench_write_samples("gc_collect", s, (size_t)loops);
    bench_params("cycles=100,links=20,objects=2100,loops=%d", loops);
    bench_result("gc_collect", "time_per_collection", bench_quantile_sorted(s, (size_t)loops, 0.5) * 1e6, "us");
    bench_result("gc_collect", "time_per_object", bench_quantile_sorted(s, (size_t)loops, 0.5) / 2100 * 1e9, "ns");
    free(s);
}

/* ---- pyperformance gc_traversal -------------------------------------------- */
static void mode_gc_traversal(void) {
    int levels = 1000, loops = quick ? 10 : 50;
    obj_t **lists = roots_alloc((size_t)levels);
    g_roots = lists;
    long refs = 0;
    lists[0] = new_list(0);
    for (int k = 1; k < levels; k++) {
        lists[k] = new_list((size_t)k);
        for (int i = 0; i < k; i++) list_set(lists[k], (size_t)i, lists[k - 1]);
        refs += k;
    }
    double young = -1;
#if defined(S_RCGC)
    double t0y = bench_now();
    long fy = collect_young();
    young = bench_now() - t0y;
    CHECK_NONE(fy, "gc_traversal young");
#endif
    double *s = malloc((size_t)loops * sizeof *s);
    for (int l = 0; l < loops; l++) {
        collect_full();
        double t0 = bench_now();
        long found = collect_full();
        s[l] = bench_now() - t0;
        CHECK_NONE(found, "gc_traversal");
    }
    check_live((size_t)levels, "gc_traversal");
    bench_sort(s, (size_t)loops);
    double med = bench_quantile_sorted(s, (size_t)loops, 0.5);
    bench_params("levels=%d,references=%ld,loops=%d", levels, refs, loops);
    bench_result("gc_traversal", "time_full", med * 1e3, "ms");
    bench_result("gc_traversal", "time_per_reference", med / (double)refs * 1e9, "ns");
    if (young >= 0) bench_result("gc_traversal", "time_young_after_build", young * 1e3, "ms");
    for (int k = 0; k < levels; k++) drop(lists[k]);
    roots_free(lists);
    free(s);
}

/* ---- rings of 10 nodes with 3 pointer fields ------------------------------- */
/* node i: a = next, b = prev, c = the node opposite (i + 5) */
static obj_t *build_ring(void) {
    obj_t *r[10];
    for (int i = 0; i < 10; i++) r[i] = new_node3();
    for (int i = 0; i < 10; i++) {
        set_a(r[i], r[(i + 1) % 10]);
        set_b(r[i], r[(i + 9) % 10]);
        set_c(r[i], r[(i + 5) % 10]);
    }
    for (int i = 1; i < 10; i++) drop(r[i]);
    return r[0]; /* the caller owns the head */
}
static obj_t **build_rings(size_t nrings) {
    obj_t **heads = roots_alloc(nrings);
    g_roots = heads;
    for (size_t i = 0; i < nrings; i++) heads[i] = build_ring();
    return heads;
}
static void drop_rings(obj_t **heads, size_t nrings) {
    for (size_t i = 0; i < nrings; i++) {
        obj_t *h = heads[i];
        heads[i] = NULL;
        drop(h);
    }
    g_roots = NULL;
    roots_free(heads);
}

static void mode_ring_live(const char *name, long n) {
    size_t nrings = (size_t)n / 10;
    obj_t **heads = build_rings(nrings);
    collect_full(); /* promote everything to the oldest generation */
    int reps = quick ? 3 : 5;
    double best = 1e30, *s = malloc((size_t)reps * sizeof *s);
    for (int k = 0; k < reps; k++) {
        double t0 = bench_now();
        long found = collect_full();
        s[k] = bench_now() - t0;
        if (s[k] < best) best = s[k];
        CHECK_NONE(found, name);
    }
    check_live(nrings * 10, name);
    bench_sort(s, (size_t)reps);
    double med = bench_quantile_sorted(s, (size_t)reps, 0.5);
    bench_params("objects=%ld,ring=10,fields=3,collections=%d", (long)(nrings * 10), reps);
    bench_result(name, "time_full", med * 1e3, "ms");
    bench_result(name, "time_per_object", med / (double)(nrings * 10) * 1e9, "ns");
    bench_result(name, "peak_rss", (double)bench_peak_rss_kib() / 1024.0, "MiB");
    drop_rings(heads, nrings);
    collect_full();
    check_live(0, name);
    free(s);
}

static void mode_ring_garbage(const char *name, long n) {
    size_t nrings = (size_t)n / 10;
    int reps = n >= 5000000 ? 1 : (quick ? 2 : 3);
    double *s = malloc((size_t)reps * sizeof *s);
    for (int k = 0; k < reps; k++) {
        obj_t **heads = build_rings(nrings);
        drop_rings(heads, nrings);
        double t0 = bench_now();
        long found = collect_full();
        s[k] = bench_now() - t0;
        CHECK_FOUND(found, nrings * 10, name);
        check_live(0, name);
    }
    bench_sort(s, (size_t)reps);
    double med = bench_quantile_sorted(s, (size_t)reps, 0.5);
    bench_params("objects=%ld,ring=10,fields=3,collections=%d", (long)(nrings * 10), reps);
    bench_result(name, "time_full", med * 1e3, "ms");
    bench_result(name, "time_per_object", med / (double)(nrings * 10) * 1e9, "ns");
    free(s);
}

/* ---- young collections with a large old generation ------------------------- */
static void mode_young_pause(const char *name, long n) {
#if defined(S_RCGC)
    size_t nrings = (size_t)n / 10;
    obj_t **heads = build_rings(nrings);
    collect_full();
    collect_full(); /* everything is in the oldest generation now */
    int loops = quick ? 100 : 1000;
    double *s = malloc((size_t)loops * sizeof *s), *c = malloc((size_t)loops * sizeof *c);
    for (int l = 0; l < loops; l++) {
        for (int r = 0; r < 200; r++) drop(build_ring()); /* 2,000 young garbage objects */
        double c0 = bench_thread_cpu();
        double t0 = bench_now();
        long found = collect_young();
        s[l] = bench_now() - t0;
        c[l] = bench_thread_cpu() - c0;
        CHECK_FOUND(found, 2000, name);
    }
    check_live(nrings * 10, name);
    bench_params("old_objects=%ld,young_objects=2000,collections=%d", (long)(nrings * 10), loops);
    bench_report_pauses(name, s, (size_t)loops, c);
    drop_rings(heads, nrings);
    collect_full();
    free(s);
    free(c);
#else
    (void)name, (void)n;
    fprintf(stderr, "UNSUPPORTED: bdwgc has no young collection at its defaults\n");
    exit(4);
#endif
}

/* ---- dumpster's random graph mutation -------------------------------------- */
#if defined(S_RCGC)
typedef struct {
    rcgc_object_t ob;
    obj_t **v;
    size_t len, cap;
} dnode_t;
static int dnode_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    dnode_t *d = (dnode_t *)self;
    for (size_t i = 0; i < d->len; i++) RCGC_VISIT(d->v[i], visit, arg);
    return 0;
}
static int dnode_clear(rcgc_object_t *self) {
    dnode_t *d = (dnode_t *)self;
    obj_t **v = d->v;
    size_t len = d->len;
    d->v = NULL;
    d->len = d->cap = 0;
    for (size_t i = 0; i < len; i++) rcgc_decref(v[i]);
    rcgc_mem_free(v);
    return 0;
}
static const rcgc_type_t dnode_type = {.name = "bench.dnode", .basic_size = sizeof(dnode_t),
                                       .flags = RCGC_TYPE_GC, .traverse = dnode_traverse,
                                       .clear = dnode_clear};
static obj_t *dn_new(void) {
    obj_t *o = rcgc_object_new(&dnode_type);
    BENCH_CHECK(o, "rcgc_object_new failed");
    return o;
}
static void dn_push(obj_t *o, obj_t *v) { /* v: STOLEN */
    dnode_t *d = (dnode_t *)o;
    if (d->len == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4;
        obj_t **nv = rcgc_mem_realloc(d->v, nc * sizeof *nv);
        BENCH_CHECK(nv, "realloc failed");
        d->v = nv;
        d->cap = nc;
    }
    d->v[d->len++] = v;
}
static size_t dn_len(obj_t *o) { return ((dnode_t *)o)->len; }
static obj_t *dn_swap_remove(obj_t *o, size_t j) { /* returns the reference */
    dnode_t *d = (dnode_t *)o;
    obj_t *x = d->v[j];
    d->v[j] = d->v[--d->len];
    return x;
}
#define DN_CLONE(o) rcgc_newref(o)
#else
typedef struct {
    void **v;
    size_t len, cap;
} dnode_t;
static obj_t *dn_new(void) { return GC_MALLOC(sizeof(dnode_t)); }
static void dn_push(obj_t *o, obj_t *v) {
    dnode_t *d = o;
    if (d->len == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4;
        d->v = GC_REALLOC(d->v, nc * sizeof(void *));
        d->cap = nc;
    }
    d->v[d->len++] = v;
}
static size_t dn_len(obj_t *o) { return ((dnode_t *)o)->len; }
static obj_t *dn_swap_remove(obj_t *o, size_t j) {
    dnode_t *d = o;
    void *x = d->v[j];
    d->v[j] = d->v[--d->len];
    d->v[d->len] = NULL;
    return x;
}
#define DN_CLONE(o) (o)
#endif

static void mode_dumpster(const char *name, int manual) {
    long ops = quick ? 200000 : 1000000;
    bench_rng_t rng = {12345};
#if defined(S_RCGC)
    if (manual) rcgc_gc_disable();
#else
    if (manual) {
        fprintf(stderr, "UNSUPPORTED: manual mode is an rcgc variant\n");
        exit(4);
    }
#endif
    size_t cap = 1024, n = 0;
    obj_t **roots = roots_alloc(cap);
    g_roots = roots;
    long c0 = collections(), created = 50, links = 0;
    double t0 = bench_now();
    for (int i = 0; i < 50; i++) roots[n++] = dn_new();
    for (long it = 0; it < ops; it++) {
        if (n == cap) {
#if defined(S_BDWGC)
            roots = GC_REALLOC(roots, 2 * cap * sizeof *roots);
            g_roots = roots;
#else
            roots = realloc(roots, 2 * cap * sizeof *roots);
#endif
            cap *= 2;
        }
        if (n == 0) {
            roots[n++] = dn_new();
            created++;
        } else {
            switch (bench_rng_below(&rng, 4)) {
            case 0: /* create */
                roots[n++] = dn_new();
                created++;
                break;
            case 1: /* link */
                if (n > 1) {
                    size_t from = (size_t)bench_rng_below(&rng, n);
                    size_t to = (size_t)bench_rng_below(&rng, n);
                    dn_push(roots[from], DN_CLONE(roots[to]));
                    links++;
                }
                break;
            case 2: { /* drop a root */
                size_t k = (size_t)bench_rng_below(&rng, n);
                obj_t *x = roots[k];
                roots[k] = roots[--n];
                roots[n] = NULL;
                drop(x);
                break;
            }
            case 3: { /* unlink */
                size_t k = (size_t)bench_rng_below(&rng, n);
                size_t len = dn_len(roots[k]);
                if (len) drop(dn_swap_remove(roots[k], (size_t)bench_rng_below(&rng, len)));
                break;
            }
            }
        }
#if defined(S_RCGC)
        rcgc_safepoint();
#endif
    }
    while (n > 0) {
        obj_t *x = roots[--n];
        roots[n] = NULL;
        drop(x);
    }
    collect_full();
    double t = bench_now() - t0;
    long ncoll = collections() - c0;
    check_live(0, name);
    /* created/links identify the operation sequence: the same in every port */
    bench_params("ops=%ld,seed=12345,start=50,mode=%s,created=%ld,links=%ld", ops, manual ? "manual" : "default",
                 created, links);
    bench_result(name, "time", t * 1e3, "ms");
    bench_result(name, "peak_rss", (double)bench_peak_rss_kib() / 1024.0, "MiB");
    bench_result(name, "collections", (double)ncoll, "count");
    bench_result(name, "max_pause", pause_max_s * 1e3, "ms");
#if defined(S_RCGC)
    if (manual) rcgc_gc_enable();
#endif
}

/* ---- finalizers (disclaim_bench analogue) ------------------------------------ */
#define KEEP_CNT 32768
static long finalized;

#if defined(S_RCGC)
typedef struct {
    rcgc_object_t ob;
    obj_t *keep_link; /* a pair's partner (cyclic variant); unused otherwise */
    int i;
} fobj_t;
static int fobj_finalize(rcgc_object_t *self) {
    fobj_t *f = (fobj_t *)self;
    if (f->i == 109) {
        f->i = 110;
        finalized++;
    }
    return 0;
}
static int fobj_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((fobj_t *)self)->keep_link, visit, arg);
    return 0;
}
static int fobj_clear(rcgc_object_t *self) {
    RCGC_CLEAR(((fobj_t *)self)->keep_link);
    return 0;
}
static const rcgc_type_t fin_type = {.name = "bench.fin", .basic_size = sizeof(fobj_t), .finalize = fobj_finalize};
static const rcgc_type_t nofin_type = {.name = "bench.nofin", .basic_size = sizeof(fobj_t)};
static const rcgc_type_t cfin_type = {.name = "bench.cfin", .basic_size = sizeof(fobj_t), .flags = RCGC_TYPE_GC,
                                      .traverse = fobj_traverse, .clear = fobj_clear, .finalize = fobj_finalize};
static const rcgc_type_t cnofin_type = {.name = "bench.cnofin", .basic_size = sizeof(fobj_t), .flags = RCGC_TYPE_GC,
                                        .traverse = fobj_traverse, .clear = fobj_clear};
/* model: 0 = finalizer, 2 = none; returns seconds */
static double fin_run(long count, int model, int cyclic) {
    obj_t **keep = calloc(KEEP_CNT, sizeof *keep);
    bench_rng_t rng = {1};
    finalized = 0;
    const rcgc_type_t *t = cyclic ? (model == 0 ? &cfin_type : &cnofin_type) : (model == 0 ? &fin_type : &nofin_type);
    double t0 = bench_now();
    for (long i = 0; i < count; i++) {
        fobj_t *o = (fobj_t *)rcgc_object_new(t);
        BENCH_CHECK(o, "rcgc_object_new failed");
        o->i = 109;
        if (cyclic) { /* a pair referencing each other */
            fobj_t *p = (fobj_t *)rcgc_object_new(t);
            BENCH_CHECK(p, "rcgc_object_new failed");
            p->i = 109;
            p->keep_link = rcgc_newref(RCGC_OBJ(o));
            o->keep_link = RCGC_OBJ(p);
        }
        size_t k = (size_t)bench_rng_below(&rng, KEEP_CNT);
        obj_t *old = keep[k];
        keep[k] = RCGC_OBJ(o);
        if (old) rcgc_decref(old);
        if (cyclic) rcgc_safepoint();
    }
    for (size_t k = 0; k < KEEP_CNT; k++)
        if (keep[k]) rcgc_decref(keep[k]);
    rcgc_gc_collect(2);
    double dt = bench_now() - t0;
    free(keep);
    check_live(0, "finalizer");
    long objs = cyclic ? 2 * count : count;
    BENCH_CHECK(model != 0 || finalized == objs, "finalized %ld of %ld objects", finalized, objs);
    return dt;
}
#define FIN_MODELS_RCGC 1
#else
typedef struct {
    void *keep_link;
    int i;
} fobj_t;
static void fin_proc(void *obj, void *cd) {
    fobj_t *f = obj;
    if (f->i == 109) {
        f->i = 110;
        finalized++;
    }
}
static int GC_CALLBACK disclaim_proc(void *obj, void *cd) {
    fin_proc(obj, cd);
    return 0;
}
static struct GC_finalizer_closure fclos = {(GC_finalization_proc)fin_proc, NULL};
/* model: 0 = GC_REGISTER_FINALIZER_NO_ORDER, 1 = GC_finalized_malloc, 2 = none */
static double fin_run(long count, int model, int cyclic) {
    void **keep = GC_MALLOC(KEEP_CNT * sizeof(void *));
    g_roots = keep;
    bench_rng_t rng = {1};
    finalized = 0;
    double t0 = bench_now();
    for (long i = 0; i < count; i++) {
        fobj_t *o = model == 1 ? GC_finalized_malloc(sizeof(fobj_t), &fclos) : GC_MALLOC(sizeof(fobj_t));
        o->i = 109;
        if (model == 0) GC_REGISTER_FINALIZER_NO_ORDER(o, fin_proc, NULL, NULL, NULL);
        if (cyclic) {
            fobj_t *p = model == 1 ? GC_finalized_malloc(sizeof(fobj_t), &fclos) : GC_MALLOC(sizeof(fobj_t));
            p->i = 109;
            if (model == 0) GC_REGISTER_FINALIZER_NO_ORDER(p, fin_proc, NULL, NULL, NULL);
            p->keep_link = o;
            o->keep_link = p;
        }
        keep[bench_rng_below(&rng, KEEP_CNT)] = o;
    }
    memset(keep, 0, KEEP_CNT * sizeof(void *));
    GC_gcollect();
    GC_invoke_finalizers();
    double dt = bench_now() - t0;
    g_roots = NULL;
    return dt;
}
#endif

static void mode_finalizer(int cyclic) {
    const char *name = cyclic ? "finalizer_cyclic" : "finalizer";
    long count = quick ? 256 * 1024 : 4L * 1024 * 1024;
    if (cyclic) count /= 2; /* pairs */
    long objs = cyclic ? 2 * count : count;
    int reps = 1; /* run-bench.sh repeats the process */
    double t_none = 1e30, t_fin = 1e30, t_rec = 1e30;
    long fin_count = 0, rec_count = 0;
#if defined(S_BDWGC)
    GC_init_finalized_malloc();
    (void)disclaim_proc;
#endif
    for (int r = 0; r < reps; r++) {
        double t = fin_run(count, 2, cyclic);
        if (t < t_none) t_none = t;
        t = fin_run(count, 0, cyclic);
        fin_count = finalized;
        if (t < t_fin) t_fin = t;
#if defined(S_BDWGC)
        t = fin_run(count, 1, cyclic);
        rec_count = finalized;
        if (t < t_rec) t_rec = t;
#endif
    }
    bench_params("objects=%ld,keep=%d,layout=%s,best_of=%d", objs, KEEP_CNT, cyclic ? "pairs" : "single", reps);
    bench_result(name, "finalized_fraction", (double)fin_count / (double)objs, "ratio");
    bench_result(name, "time_per_object_none", t_none / (double)objs * 1e9, "ns");
    if (fin_count > 0)
        bench_result(name, "time_per_finalized_marginal", (t_fin - t_none) / (double)fin_count * 1e9, "ns");
#if defined(S_BDWGC)
    if (rec_count > 0)
        bench_result(name, "time_per_finalized_marginal_on_reclaim", (t_rec - t_none) / (double)rec_count * 1e9, "ns");
#else
    (void)t_rec, (void)rec_count;
#endif
}

/* ---- weak references ---------------------------------------------------------- */
static void mode_weakref(void) {
    long n = quick ? 200000 : 1000000;
#if defined(S_RCGC)
    typedef struct {
        rcgc_object_t ob;
        obj_t *weaklist;
    } wobj_t;
    static const rcgc_type_t wtype = {.name = "bench.weakable", .basic_size = sizeof(wobj_t),
                                      .flags = RCGC_TYPE_WEAKREFABLE, .weaklist_offset = offsetof(wobj_t, weaklist)};
    obj_t *target = rcgc_object_new(&wtype);
    BENCH_CHECK(target, "rcgc_object_new failed");
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        obj_t *w = rcgc_weakref_new(target, NULL, NULL, NULL);
        BENCH_CHECK(w, "rcgc_weakref_new failed");
        rcgc_decref(w);
    }
    double t_create = bench_now() - t0;
    BENCH_CHECK(rcgc_weakref_count(target) == 0, "weakrefs left behind");
    rcgc_decref(target);

    obj_t **objs = malloc((size_t)n * sizeof *objs), **wrs = malloc((size_t)n * sizeof *wrs);
    /* baseline: drop n referents without weakrefs */
    for (long i = 0; i < n; i++) objs[i] = rcgc_object_new(&wtype);
    t0 = bench_now();
    for (long i = 0; i < n; i++) rcgc_decref(objs[i]);
    double t_plain = bench_now() - t0;
    for (long i = 0; i < n; i++) {
        objs[i] = rcgc_object_new(&wtype);
        wrs[i] = rcgc_weakref_new(objs[i], NULL, NULL, NULL);
        BENCH_CHECK(wrs[i], "rcgc_weakref_new failed");
    }
    t0 = bench_now();
    for (long i = 0; i < n; i++) rcgc_decref(objs[i]);
    double t_weak = bench_now() - t0;
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(rcgc_weakref_peek(wrs[i]) == NULL, "weakref %ld not cleared", i);
        rcgc_decref(wrs[i]);
    }
    check_live(0, "weakref");
    free(objs);
    free(wrs);
#else
    void **target = GC_MALLOC(16), **links = GC_MALLOC_ATOMIC((size_t)n * sizeof(void *));
    void **objs = GC_MALLOC((size_t)n * sizeof(void *));
    g_roots = (obj_t **)objs;
    objs[0] = target;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        links[i] = (void *)GC_HIDE_POINTER(target);
        GC_general_register_disappearing_link(&links[i], target);
        GC_unregister_disappearing_link(&links[i]);
    }
    double t_create = bench_now() - t0;
    /* clearing: n live referents are dropped at once; the collection that
     * finds them dead clears their links. Baseline: the same without links. */
    for (long i = 0; i < n; i++) objs[i] = GC_MALLOC(16);
    GC_gcollect();
    memset(objs, 0, (size_t)n * sizeof(void *));
    t0 = bench_now();
    GC_gcollect();
    double t_plain = bench_now() - t0;
    for (long i = 0; i < n; i++) {
        objs[i] = GC_MALLOC(16);
        links[i] = (void *)GC_HIDE_POINTER(objs[i]);
        GC_general_register_disappearing_link(&links[i], objs[i]);
    }
    GC_gcollect();
    memset(objs, 0, (size_t)n * sizeof(void *));
    t0 = bench_now();
    GC_gcollect();
    double t_weak = bench_now() - t0;
    long cleared = 0;
    for (long i = 0; i < n; i++) cleared += links[i] == NULL;
    BENCH_CHECK(cleared > n * 9 / 10, "only %ld of %ld links cleared", cleared, n);
#endif
    bench_params("weakrefs=%ld", n);
    bench_result("weakref_create", "time_per_weakref", t_create / (double)n * 1e9, "ns");
    bench_result("weakref_clear", "time_per_weakref_marginal", (t_weak - t_plain) / (double)n * 1e9, "ns");
    bench_result("weakref_clear", "time_per_referent", t_weak / (double)n * 1e9, "ns");
}

/* ---- memory per tracked object ---------------------------------------------- */
/* Objects with k pointer fields (k = 1..4: payload 8..32 bytes). */
#if defined(S_RCGC)
typedef struct {
    rcgc_object_t ob;
    obj_t *f[4];
} nodek_t;
static int nodek_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    size_t k = (uintptr_t)self->ob_type->user;
    for (size_t i = 0; i < k; i++) RCGC_VISIT(((nodek_t *)self)->f[i], visit, arg);
    return 0;
}
static int nodek_clear(rcgc_object_t *self) {
    size_t k = (uintptr_t)self->ob_type->user;
    for (size_t i = 0; i < k; i++) RCGC_CLEAR(((nodek_t *)self)->f[i]);
    return 0;
}
#define NODEK_TYPE(k)                                                                         \
    {.name = "bench.node" #k, .basic_size = sizeof(rcgc_object_t) + (k) * sizeof(obj_t *),  \
     .flags = RCGC_TYPE_GC, .traverse = nodek_traverse, .clear = nodek_clear, .user = (void *)(uintptr_t)(k)}
static const rcgc_type_t nodek_types[4] = {NODEK_TYPE(1), NODEK_TYPE(2), NODEK_TYPE(3), NODEK_TYPE(4)};
static obj_t *new_nodek(int k) { return rcgc_object_new(&nodek_types[k - 1]); }
#else
static obj_t *new_nodek(int k) { return GC_MALLOC((size_t)k * sizeof(void *)); }
#endif

/* RSS per tracked object for payloads of 8, 16, 24 and 32 bytes (1M objects
 * each, all kept alive so every batch takes fresh memory). The overhead
 * (RSS per object minus payload) is header + collector linkage + size-class
 * rounding; the rounding differs by payload (rcgc: 16-byte header + 8-byte
 * compressed linkage, 40 bytes at payload 16, round up to 48; CPython's 48 do
 * not), so the figure for "header + linkage" is the smallest overhead over the
 * four payloads, and the mean is what an even mix of these sizes pays. */
static void mode_object_bytes(void) {
    long n = 1000000;
    obj_t **arr = roots_alloc((size_t)n * 4);
    /* touch the pointer array first (volatile stores: a memset of zeros after
     * calloc may be optimised away, and the first stores would then land in
     * the measured batch) */
    for (long i = 0; i < 4 * n; i++) ((obj_t *volatile *)arr)[i] = NULL;
    g_roots = arr;
    double per[4], best = 1e30, mean = 0;
    for (int k = 1; k <= 4; k++) {
        size_t rss0 = bench_rss();
        for (long i = 0; i < n; i++) {
            arr[(k - 1) * n + i] = new_nodek(k);
            BENCH_CHECK(arr[(k - 1) * n + i], "allocation failed");
        }
        per[k - 1] = (double)(bench_rss() - rss0) / (double)n;
        double over = per[k - 1] - 8.0 * k;
        if (over < best) best = over;
        mean += over / 4;
    }
    bench_params("objects=%ld,payloads=8/16/24/32", n);
    bench_result("gc_object_bytes", "overhead_per_object", best, "B");
    bench_result("gc_object_bytes", "overhead_mean", mean, "B");
    for (int k = 1; k <= 4; k++) {
        char m[64];
        snprintf(m, sizeof m, "bytes_per_object_p%d", 8 * k);
        bench_result("gc_object_bytes", m, per[k - 1], "B");
    }
#if defined(S_RCGC)
    bench_result("gc_object_bytes", "header_bytes", (double)sizeof(rcgc_object_t), "B");
    for (long i = 0; i < 4 * n; i++) rcgc_decref(arr[i]);
    check_live(0, "gc_object_bytes");
#else
    bench_result("gc_object_bytes", "header_bytes", 0, "B");
#endif
    roots_free(arr);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "gc_collect";
    quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) != 0;
    sys_init();
    const char *name = argc > 2 ? argv[2] : mode;
    long n = bench_arg(argc, argv, 3, 1000000);
    if (!strcmp(mode, "gc_collect")) mode_gc_collect();
    else if (!strcmp(mode, "gc_traversal")) mode_gc_traversal();
    else if (!strcmp(mode, "ring_live")) mode_ring_live(name, n);
    else if (!strcmp(mode, "ring_garbage")) mode_ring_garbage(name, n);
    else if (!strcmp(mode, "young_pause")) mode_young_pause(name, n);
    else if (!strcmp(mode, "dumpster")) mode_dumpster(name, argc > 3 && !strcmp(argv[3], "manual"));
    else if (!strcmp(mode, "finalizer")) mode_finalizer(0);
    else if (!strcmp(mode, "finalizer_cyclic")) mode_finalizer(1);
    else if (!strcmp(mode, "weakref")) mode_weakref();
    else if (!strcmp(mode, "gc_object_bytes")) mode_object_bytes();
    else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
