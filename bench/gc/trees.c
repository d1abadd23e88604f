/* trees.c - GCBench, its cyclic variant, and binary-trees; one source for
 * every system (our own ports, written from the published descriptions in
 * docs: landscape.md sections 16.1 and 16.2).
 *
 *   T_RCGC    nodes are tracked rcgc objects owning their children; dropping a
 *             tree = decref of its root (RC frees it at once); the cyclic
 *             variant leaves it to the cycle collector at default thresholds,
 *             with a safe point after every tree (as an interpreter's eval
 *             loop would offer one)
 *   T_BDWGC   GC_MALLOC'd nodes, never freed; the array is GC_MALLOC_ATOMIC
 *   T_MALLOC  malloc + explicit recursive free (glibc; jemalloc by linking
 *             -ljemalloc; with A_MIMALLOC, mi_malloc / mi_free)
 *
 * Modes:
 *   gcbench           Ellis/Kovac/Boehm: stretch 18, long-lived 16, array of
 *                     500,000 doubles, trees of depth 4..16 step 2, built
 *                     top-down (Populate) then bottom-up (MakeTree)
 *   gcbench_cyclic    the same; every node also holds a strong reference to
 *                     its parent, so every tree is one big cycle
 *   bintrees NAME D   binary-trees at depth D (min depth 4), record name NAME
 * BENCH_QUICK=1 shrinks GCBench to stretch 14 / long-lived 12 / max 12.
 */
#include "../common/bench.h"

#include <stddef.h>

typedef struct node node_t;

#if !defined(T_RCGC)
/* bdwgc and malloc peers: a plain struct, the parent field only in the cyclic
 * variant (node_size is raised by gcbench_cyclic). */
struct node {
    node_t *left, *right;
    int i, j;
    node_t *parent;
};
static size_t node_size = offsetof(node_t, parent);
static int cyclic;
static inline void set_children(node_t *n, node_t *l, node_t *r) {
    n->left = l;
    n->right = r;
    if (cyclic) l->parent = r->parent = n;
}
#endif

#if defined(T_RCGC)
#include <rcgc.h>
struct node {
    rcgc_object_t ob;
    node_t *left, *right;
    int i, j;
    node_t *parent; /* present in the cyclic type only */
};
static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg);
static int node_clear(rcgc_object_t *self);
/* GCBench node: header + left, right, i, j */
static const rcgc_type_t gcb_type = {
    .name = "gcbench.node", .basic_size = offsetof(node_t, parent), .flags = RCGC_TYPE_GC,
    .traverse = node_traverse, .clear = node_clear};
/* cyclic variant: + parent */
static const rcgc_type_t cyc_type = {
    .name = "gcbench.cnode", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC,
    .traverse = node_traverse, .clear = node_clear};
/* binary-trees node: header + left, right */
static const rcgc_type_t bt_type = {
    .name = "bintrees.node", .basic_size = offsetof(node_t, i), .flags = RCGC_TYPE_GC,
    .traverse = node_traverse, .clear = node_clear};

static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    node_t *n = (node_t *)self;
    RCGC_VISIT(n->left, visit, arg);
    RCGC_VISIT(n->right, visit, arg);
    if (self->ob_type == &cyc_type) RCGC_VISIT(n->parent, visit, arg);
    return 0;
}
static int node_clear(rcgc_object_t *self) {
    node_t *n = (node_t *)self;
    if (self->ob_type == &cyc_type) RCGC_CLEAR(n->parent);
    RCGC_CLEAR(n->left);
    RCGC_CLEAR(n->right);
    return 0;
}

static const rcgc_type_t *cur_type = &gcb_type;
static int cyclic;
static inline node_t *new_node(void) {
    node_t *n = (node_t *)rcgc_object_new(cur_type);
    if (!n) { fprintf(stderr, "rcgc_object_new failed\n"); exit(3); }
    return n;
}
/* link child under parent: parent takes the (new) reference to child */
static inline void set_children(node_t *n, node_t *l, node_t *r) {
    n->left = l;
    n->right = r;
    if (cyclic) {
        l->parent = (node_t *)rcgc_newref(RCGC_OBJ(n));
        r->parent = (node_t *)rcgc_newref(RCGC_OBJ(n));
    }
}
static inline void drop_tree(node_t *n) { rcgc_decref(RCGC_OBJ(n)); }
static inline void safepoint(void) { rcgc_safepoint(); }
static void *alloc_array(size_t bytes) { return rcgc_mem_malloc(bytes); }
static void free_array(void *p) { rcgc_mem_free(p); }

static double max_pause;
static int on_gc(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    if (phase == RCGC_GC_PHASE_STOP && info->duration > max_pause) max_pause = info->duration;
    return 0;
}
static size_t base_live;
static void sys_init(void) {
    BENCH_CHECK(rcgc_init() == 0, "rcgc_init failed");
    rcgc_gc_callback_add(on_gc, NULL);
    base_live = rcgc_object_live_count();
}
static long collections(void) {
    rcgc_gc_gen_stats_t st[RCGC_GC_NUM_GENERATIONS];
    rcgc_gc_get_stats(st);
    return (long)(st[0].collections + st[1].collections + st[2].collections);
}
/* after everything was dropped: the heap must be empty again (and the
 * collector must work: a flavour whose collector fails records nothing, since
 * its times would leave out the collections the others pay for) */
static void final_check(void) {
    BENCH_CHECK(rcgc_gc_collect(2) >= 0, "rcgc_gc_collect(2) failed: %s: %s", rcgc_error_name(rcgc_last_error()),
                rcgc_last_error_message() ? rcgc_last_error_message() : "");
    size_t live = rcgc_object_live_count();
    BENCH_CHECK(live == base_live, "%zu objects still live after the final collection (expected %zu)",
                live, base_live);
}
#define HAVE_PAUSES 1

#elif defined(T_BDWGC)
#include <gc.h>
static inline node_t *new_node(void) { return (node_t *)GC_MALLOC(node_size); }
static inline void drop_tree(node_t *n) { (void)n; }
static inline void safepoint(void) {}
static void *alloc_array(size_t bytes) { return GC_MALLOC_ATOMIC(bytes); }
static void free_array(void *p) { (void)p; }
static double max_pause, pause_t0;
static void on_event(GC_EventType e) {
    if (e == GC_EVENT_START) pause_t0 = bench_now();
    else if (e == GC_EVENT_END) {
        double d = bench_now() - pause_t0;
        if (d > max_pause) max_pause = d;
    }
}
static void sys_init(void) {
    GC_INIT();
    GC_set_on_collection_event(on_event);
}
static long collections(void) { return (long)GC_get_gc_no(); }
static void final_check(void) {}
#define HAVE_PAUSES 1

#else /* T_MALLOC */
#if defined(A_MIMALLOC)
#include <mimalloc.h>
#define N_MALLOC mi_malloc
#define N_CALLOC mi_calloc
#define N_FREE mi_free
#else
#define N_MALLOC malloc
#define N_CALLOC calloc
#define N_FREE free
#endif
static inline node_t *new_node(void) { return (node_t *)N_CALLOC(1, node_size); }
static void drop_tree(node_t *n) {
    if (n->left) drop_tree(n->left);
    if (n->right) drop_tree(n->right);
    N_FREE(n);
}
static inline void safepoint(void) {}
static void *alloc_array(size_t bytes) { return N_MALLOC(bytes); }
static void free_array(void *p) { N_FREE(p); }
static void sys_init(void) {}
static long collections(void) { return 0; }
static void final_check(void) {}
#endif

/* ---- GCBench --------------------------------------------------------------- */
static int kStretchTreeDepth = 18, kLongLivedTreeDepth = 16, kArraySize = 500000,
           kMinTreeDepth = 4, kMaxTreeDepth = 16;

static long tree_size(int i) { return (1L << (i + 1)) - 1; }
static long num_iters(int i) { return 2 * tree_size(kStretchTreeDepth) / tree_size(i); }

/* top-down: children of an existing node, recursively */
static void populate(int depth, node_t *n) {
    if (depth <= 0) return;
    depth--;
    set_children(n, new_node(), new_node());
    populate(depth, n->left);
    populate(depth, n->right);
}
/* bottom-up: children first, then the parent */
static node_t *make_tree(int depth) {
    if (depth <= 0) return new_node();
    node_t *l = make_tree(depth - 1);
    node_t *r = make_tree(depth - 1);
    node_t *n = new_node();
    set_children(n, l, r);
    return n;
}
static void time_construction(int depth) {
    long iters = num_iters(depth);
    for (long i = 0; i < iters; i++) {
        node_t *t = new_node();
        populate(depth, t);
        drop_tree(t);
        safepoint();
    }
    for (long i = 0; i < iters; i++) {
        node_t *t = make_tree(depth);
        drop_tree(t);
        safepoint();
    }
}
static long count_nodes(node_t *n) {
    return n ? 1 + count_nodes(n->left) + count_nodes(n->right) : 0;
}

/* The records every tree workload reports: time, peak RSS, and (systems with
 * a collector) the number of collections and the longest pause. */
static void report_run(const char *name, double t, long peak_kib, long ncoll) {
    bench_result(name, "time", t * 1e3, "ms");
    bench_result(name, "peak_rss", (double)peak_kib / 1024.0, "MiB");
#if defined(HAVE_PAUSES)
    bench_result(name, "collections", (double)ncoll, "count");
    bench_result(name, "max_pause", max_pause * 1e3, "ms");
#else
    (void)ncoll;
#endif
}

static void gcbench(const char *name) {
    double t0 = bench_now();
    node_t *stretch = make_tree(kStretchTreeDepth); /* stretch the heap */
    drop_tree(stretch);
    safepoint();
    node_t *long_lived = new_node();
    populate(kLongLivedTreeDepth, long_lived);
    safepoint();
    double *array = alloc_array(sizeof(double) * (size_t)kArraySize);
    for (int i = 0; i < kArraySize / 2; i++) array[i] = 1.0 / i;
    for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2) time_construction(d);
    BENCH_CHECK(long_lived != NULL && array[1000] == 1.0 / 1000, "long-lived data lost");
    double t = bench_now() - t0;
    long peak = bench_peak_rss_kib();
    long ncoll = collections();
    BENCH_CHECK(count_nodes(long_lived) == tree_size(kLongLivedTreeDepth), "long-lived tree damaged");
    drop_tree(long_lived);
    free_array(array);
    final_check();
    bench_params("stretch=%d,long_lived=%d,array=%d,min=%d,max=%d,node_bytes=%zu", kStretchTreeDepth,
                 kLongLivedTreeDepth, kArraySize, kMinTreeDepth, kMaxTreeDepth,
#if defined(T_RCGC)
                 cur_type->basic_size
#else
                 node_size
#endif
    );
    report_run(name, t, peak, ncoll);
}

/* ---- binary-trees ---------------------------------------------------------- */
static node_t *bt_make(int depth) {
    if (depth <= 0) return new_node();
    node_t *l = bt_make(depth - 1);
    node_t *r = bt_make(depth - 1);
    node_t *n = new_node();
    set_children(n, l, r);
    return n;
}
static long bt_check(node_t *n) { return n->left ? 1 + bt_check(n->left) + bt_check(n->right) : 1; }

static void bintrees(const char *name, int n) {
    int min_depth = 4, max_depth = n > min_depth + 2 ? n : min_depth + 2;
    double t0 = bench_now();
    long total = 0;
    node_t *stretch = bt_make(max_depth + 1);
    total += bt_check(stretch);
    drop_tree(stretch);
    safepoint();
    node_t *long_lived = bt_make(max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + min_depth), check = 0;
        for (long i = 0; i < iters; i++) {
            node_t *t = bt_make(d);
            check += bt_check(t);
            drop_tree(t);
            safepoint();
        }
        BENCH_CHECK(check == iters * tree_size(d), "depth %d: check %ld", d, check);
        total += check;
    }
    total += bt_check(long_lived);
    double t = bench_now() - t0;
    long peak = bench_peak_rss_kib();
    long ncoll = collections();
    drop_tree(long_lived);
    final_check();
    bench_params("depth=%d,min_depth=%d,nodes=%ld", max_depth, min_depth, total);
    report_run(name, t, peak, ncoll);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "gcbench";
    int quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) != 0;
    if (quick) kStretchTreeDepth = 14, kLongLivedTreeDepth = 12, kMaxTreeDepth = 12;
    sys_init();
    if (!strcmp(mode, "gcbench")) {
        gcbench("gcbench");
    } else if (!strcmp(mode, "gcbench_cyclic")) {
#if defined(T_MALLOC)
        fprintf(stderr, "UNSUPPORTED: the cyclic variant measures a collector\n");
        return 4;
#else
        cyclic = 1;
#if defined(T_RCGC)
        cur_type = &cyc_type;
#else
        node_size = sizeof(node_t);
#endif
        gcbench("gcbench_cyclic");
#endif
    } else if (!strcmp(mode, "bintrees")) {
#if defined(T_RCGC)
        cur_type = &bt_type;
#elif !defined(T_RCGC)
        node_size = offsetof(node_t, i);
#endif
        bintrees(argc > 2 ? argv[2] : "binary_trees", (int)bench_arg(argc, argv, 3, 21));
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
