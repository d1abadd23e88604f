/* scalebench.c - thread scaling of the object layer, in the style of CPython's
 * Tools/ftscalingbench (our own port, written from its published description
 * in free-threading.md section 9: every thread runs the same loop on its own
 * or on shared data; the figure is how total throughput grows with threads).
 *
 * Built for rcgc (default flavour: attached threads take turns on the global
 * lock, so nothing is expected to scale) and rcgc_t (free-threaded).
 *
 * Kinds (record scale_<kind>):
 *   private_alloc    create a tracked 2-field object and drop it (owner
 *                    incref/decref, allocator, live counts, tracking); each
 *                    thread keeps 64 objects of its own alive meanwhile
 *   shared_object    incref + decref of ONE object that no worker owns: every
 *                    operation is an atomic add on the same cache line (the
 *                    inherent limit of biased reference counting)
 *   shared_immortal  incref + decref of 8 shared immortal objects (no write)
 *   compute          16 steps of a random number generator per operation:
 *                    integer work that touches no shared data and calls no rcgc
 *                    function but rcgc_safepoint(): the scaling this machine
 *                    allows in this run (on a shared machine, other load
 *                    takes cores away), the yardstick for the others
 *   shared_lookup    look a key up in one shared hash table under its
 *                    per-object critical section (rcgc/lock.h), take a new
 *                    reference to the value, leave the section, drop the value
 *
 * Usage: scalebench KIND N1 N2 ...  (thread counts; the first one is the
 * baseline of speedup_<N>t). Each count runs best of 3 [quick: 1], every
 * thread doing the same number of operations (5M [1M]; shared_immortal 8x);
 * workers attach after a start barrier and call rcgc_safepoint() every 1,024
 * operations, as an interpreter loop would. Records: throughput_<N>t (Mops/s over all threads),
 * time_per_op_<N>t (ns, wall time / operations of one thread: flat = perfect
 * scaling), speedup_<N>t = throughput(N) / throughput(N1).
 */
#include "../common/bench.h"

#include <pthread.h>
#include <rcgc.h>

#define MAX_THREADS 64
#define N_IMMORTAL 8
#define TABLE_SLOTS 2048 /* power of two, half full */
#define TABLE_KEYS 1024

/* ---- objects ------------------------------------------------------------------ */
typedef struct {
    rcgc_object_t ob;
    rcgc_object_t *a, *b;
} pair_t;
static int pair_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    pair_t *p = (pair_t *)self;
    RCGC_VISIT(p->a, visit, arg);
    RCGC_VISIT(p->b, visit, arg);
    return 0;
}
static int pair_clear(rcgc_object_t *self) {
    pair_t *p = (pair_t *)self;
    RCGC_CLEAR(p->a);
    RCGC_CLEAR(p->b);
    return 0;
}
static const rcgc_type_t pair_type = {.name = "scale.pair", .basic_size = sizeof(pair_t),
                                      .flags = RCGC_TYPE_GC, .traverse = pair_traverse,
                                      .clear = pair_clear};

/* open-addressing table of long keys -> object values; readers and writers
 * hold the table's critical section */
typedef struct {
    rcgc_object_t ob;
    long keys[TABLE_SLOTS]; /* 0 = empty */
    rcgc_object_t *values[TABLE_SLOTS];
} table_t;
static int table_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    table_t *t = (table_t *)self;
    for (int i = 0; i < TABLE_SLOTS; i++) RCGC_VISIT(t->values[i], visit, arg);
    return 0;
}
static int table_clear(rcgc_object_t *self) {
    table_t *t = (table_t *)self;
    for (int i = 0; i < TABLE_SLOTS; i++) RCGC_CLEAR(t->values[i]);
    return 0;
}
static const rcgc_type_t table_type = {.name = "scale.table", .basic_size = sizeof(table_t),
                                       .flags = RCGC_TYPE_GC, .traverse = table_traverse,
                                       .clear = table_clear};
static inline size_t table_slot(long key) { return ((size_t)key * 0x9E3779B97F4A7C15ULL) >> 53; }
static void table_insert(table_t *t, long key, rcgc_object_t *v) {
    size_t i = table_slot(key);
    while (t->keys[i]) i = (i + 1) & (TABLE_SLOTS - 1);
    t->keys[i] = key;
    t->values[i] = rcgc_newref(v);
}
/* a new reference to key's value, or NULL */
static rcgc_object_t *table_get(table_t *t, long key) {
    rcgc_object_t *v = NULL;
    RCGC_BEGIN_CRITICAL_SECTION(t);
    for (size_t i = table_slot(key); t->keys[i]; i = (i + 1) & (TABLE_SLOTS - 1)) {
        if (t->keys[i] == key) {
            v = rcgc_newref(t->values[i]);
            break;
        }
    }
    RCGC_END_CRITICAL_SECTION();
    return v;
}

/* ---- shared state ---------------------------------------------------------------- */
static rcgc_object_t *hot;                  /* shared_object */
static rcgc_object_t *immortals[N_IMMORTAL]; /* shared_immortal */
static table_t *table;                      /* shared_lookup */
static rcgc_object_t *table_values[TABLE_KEYS];

typedef enum { K_PRIVATE, K_SHARED, K_IMMORTAL, K_LOOKUP, K_COMPUTE, K_COUNT } kind_t;
static const char *const kind_names[] = {"private_alloc", "shared_object", "shared_immortal", "shared_lookup",
                                         "compute"};

typedef struct {
    kind_t kind;
    long n, seed;
    pthread_barrier_t *bar;
    long found;
    int ok;
    double t_start, t_end; /* after the barrier (attach included), after the loop */
} worker_t;

static int run_private(long n) {
    /* per-thread live objects, so a pair does not empty its page on every
     * free (as in allocbench's mt mode) */
    rcgc_object_t *keep[64];
    for (int i = 0; i < 64; i++)
        if (!(keep[i] = rcgc_object_new(&pair_type))) return 0;
    for (long i = 0; i < n; i++) {
        rcgc_object_t *o = rcgc_object_new(&pair_type);
        if (!o) return 0;
        bench_sink(o);
        rcgc_decref(o);
        if ((i & 1023) == 1023) rcgc_safepoint();
    }
    for (int i = 0; i < 64; i++) rcgc_decref(keep[i]);
    return 1;
}
static void run_shared(long n) {
    for (long i = 0; i < n; i++) {
        rcgc_incref(hot);
        BENCH_BARRIER();
        rcgc_decref(hot);
        if ((i & 1023) == 1023) rcgc_safepoint();
    }
}
static void run_immortal(long n) {
    for (long i = 0; i < n; i++) {
        rcgc_object_t *o = immortals[i & (N_IMMORTAL - 1)];
        rcgc_incref(o);
        BENCH_BARRIER();
        rcgc_decref(o);
        if ((i & 1023) == 1023) rcgc_safepoint();
    }
}
static long run_lookup(long n, long seed) {
    bench_rng_t rng = {(uint64_t)seed};
    long found = 0;
    for (long i = 0; i < n; i++) {
        long key = 1 + (long)bench_rng_below(&rng, TABLE_KEYS);
        rcgc_object_t *v = table_get(table, key);
        if (v) {
            found++;
            bench_sink(v);
            rcgc_decref(v);
        }
        if ((i & 1023) == 1023) rcgc_safepoint();
    }
    return found;
}

static uint64_t run_compute(long n, long seed) {
    bench_rng_t rng = {(uint64_t)seed};
    uint64_t acc = 0;
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < 16; k++) acc += bench_rng_u64(&rng) >> 60;
        BENCH_BARRIER();
        if ((i & 1023) == 1023) rcgc_safepoint();
    }
    return acc;
}

static void *worker_main(void *p) {
    worker_t *w = p;
    /* attach after the barrier: in the default flavour attaching takes the
     * global lock, so the workers take turns (as under a GIL) */
    pthread_barrier_wait(w->bar);
    w->t_start = bench_now();
    if (rcgc_thread_attach() != 0) return NULL;
    w->ok = 1;
    switch (w->kind) {
    case K_PRIVATE: w->ok = run_private(w->n); break;
    case K_SHARED: run_shared(w->n); break;
    case K_IMMORTAL: run_immortal(w->n); break;
    case K_LOOKUP: w->found = run_lookup(w->n, w->seed); break;
    case K_COMPUTE: w->found = (long)run_compute(w->n, w->seed); break;
    case K_COUNT: break;
    }
    w->t_end = bench_now();
    rcgc_thread_detach();
    return NULL;
}

/* wall time for nthreads workers doing n operations each, from the first
 * worker's start to the last one's end (the main thread's own wake-up after
 * the barrier is not timed); the main thread waits detached */
static double run_threads(kind_t kind, int nthreads, long n) {
    pthread_t th[MAX_THREADS];
    worker_t w[MAX_THREADS];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker_t){kind, n, 12345 + i, &bar, 0, 0, 0, 0};
        BENCH_CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0, "pthread_create failed");
    }
    rcgc_thread_detach();
    pthread_barrier_wait(&bar);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    rcgc_thread_attach();
    double first = 1e30, last = 0;
    for (int i = 0; i < nthreads; i++) {
        if (w[i].t_start < first) first = w[i].t_start;
        if (w[i].t_end > last) last = w[i].t_end;
    }
    double t = last - first;
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < nthreads; i++) {
        BENCH_CHECK(w[i].ok, "worker %d failed (attach or allocation: %s)", i, rcgc_error_name(rcgc_last_error()));
        if (kind == K_LOOKUP) BENCH_CHECK(w[i].found == n, "worker %d found %ld of %ld keys", i, w[i].found, n);
    }
    return t;
}

static void setup(kind_t kind) {
    if (kind == K_SHARED) {
        hot = rcgc_object_new(&pair_type);
        BENCH_CHECK(hot, "rcgc_object_new failed");
    } else if (kind == K_IMMORTAL) {
        for (int i = 0; i < N_IMMORTAL; i++) {
            immortals[i] = rcgc_object_new(&pair_type);
            BENCH_CHECK(immortals[i], "rcgc_object_new failed");
            rcgc_object_immortalize(immortals[i]);
        }
    } else if (kind == K_LOOKUP) {
        table = (table_t *)rcgc_object_new(&table_type);
        BENCH_CHECK(table, "rcgc_object_new failed");
        for (long k = 1; k <= TABLE_KEYS; k++) {
            rcgc_object_t *v = rcgc_object_new(&pair_type);
            BENCH_CHECK(v, "rcgc_object_new failed");
            table_insert(table, k, v);
            table_values[k - 1] = v;
            rcgc_decref(v); /* the table holds it */
        }
    }
}

int main(int argc, char **argv) {
    int quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) != 0;
    BENCH_CHECK(argc >= 3, "usage: scalebench KIND N1 [N2 ...]");
    kind_t kind = K_PRIVATE;
    int known = 0;
    for (int k = 0; k < K_COUNT; k++)
        if (!strcmp(argv[1], kind_names[k])) kind = (kind_t)k, known = 1;
    BENCH_CHECK(known, "unknown kind %s", argv[1]);
    int counts[MAX_THREADS], ncounts = 0;
    for (int i = 2; i < argc && ncounts < MAX_THREADS; i++) {
        int c = atoi(argv[i]);
        BENCH_CHECK(c >= 1 && c <= MAX_THREADS, "thread count %s out of 1..%d", argv[i], MAX_THREADS);
        counts[ncounts++] = c;
    }
    long n = quick ? 1000000 : 5000000;
    if (kind == K_IMMORTAL) n *= 8; /* ~1 ns per operation: keep each run over a few ms */
    int best_of = quick ? 1 : 3;

    BENCH_CHECK(rcgc_init() == 0, "rcgc_init failed");
    setup(kind);
    size_t base_live = rcgc_object_live_count();
    intptr_t hot_count = hot ? rcgc_refcnt(hot) : 0;
    intptr_t value_count = table ? rcgc_refcnt(table_values[0]) : 0;

    double best[MAX_THREADS];
    for (int c = 0; c < ncounts; c++) {
        best[c] = 1e30;
        for (int r = 0; r < best_of; r++) {
            double t = run_threads(kind, counts[c], n);
            if (t < best[c]) best[c] = t;
        }
    }
    /* the work was done: counts balanced, private objects all freed */
    BENCH_CHECK(rcgc_object_live_count() == base_live, "%zu objects live, expected %zu",
                rcgc_object_live_count(), base_live);
    if (hot) BENCH_CHECK(rcgc_refcnt(hot) == hot_count, "shared count %ld, expected %ld", (long)rcgc_refcnt(hot), (long)hot_count);
    if (table)
        for (int k = 0; k < TABLE_KEYS; k++)
            BENCH_CHECK(rcgc_refcnt(table_values[k]) == value_count, "value %d count changed", k);
    for (int i = 0; i < N_IMMORTAL; i++)
        if (immortals[i]) BENCH_CHECK(rcgc_is_immortal(immortals[i]), "immortal %d lost", i);

    char name[64];
    snprintf(name, sizeof name, "scale_%s", kind_names[kind]);
    bench_params("ops_per_thread=%ld,best_of=%d,cpus=%ld", n, best_of, sysconf(_SC_NPROCESSORS_ONLN));
    double base = 0;
    for (int c = 0; c < ncounts; c++) {
        double tput = (double)counts[c] * (double)n / best[c];
        char m[48];
        snprintf(m, sizeof m, "throughput_%dt", counts[c]);
        bench_result(name, m, tput / 1e6, "Mops/s");
        snprintf(m, sizeof m, "time_per_op_%dt", counts[c]);
        bench_result(name, m, best[c] / (double)n * 1e9, "ns");
        if (c == 0) base = tput;
        else {
            snprintf(m, sizeof m, "speedup_%dt", counts[c]);
            bench_result(name, m, tput / base, "x");
        }
    }
    if (hot) rcgc_decref(hot);
    if (table) rcgc_decref(RCGC_OBJ(table));
    return 0;
}
