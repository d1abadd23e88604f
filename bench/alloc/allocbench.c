/* allocbench.c - allocator micro-benchmarks, one source for every allocator.
 *
 * Built once per allocator (allocator.md section 7.1): the allocator is picked
 * at compile time, so each is called the way a real program calls it.
 *
 *   A_RCGC      rcgc_obj_malloc / rcgc_obj_free (librcgc or librcgc_t)
 *   A_MIMALLOC  mi_malloc / mi_free (libmimalloc)
 *   A_PYMALLOC  PyObject_Malloc / PyObject_Free (libpython3.11, after Py_InitializeEx(0))
 *   A_JEMALLOC  malloc / free, linked with -ljemalloc (which replaces them)
 *   (none)      glibc malloc / free
 *
 * Modes (sizes shrink when BENCH_QUICK=1; the record names do not change):
 *   time        pairs by size with ballast, LIFO batch, FIFO batch, churn 100k / 1M
 *   pair0       32-byte pairs with BALLAST=0 (the page empties on every free)
 *   mem         RSS per live 32-byte block over 1M blocks, and RSS after freeing all
 *   mt          private alloc/free pairs in 1 and 2 threads
 *   walk        heap walk over 1M live blocks (allocators that expose a walker)
 *   cg N        N 32-byte pairs and nothing else, for callgrind (BALLAST from env)
 *
 * Compile with -O2 -fno-builtin-malloc -fno-builtin-free. Every block gets one
 * byte written and is passed through an empty asm, so no pair is optimised out.
 */
#include "../common/bench.h"

#include <pthread.h>

#if defined(A_RCGC)
#include <rcgc.h>
#define A_MALLOC(n) rcgc_obj_malloc(n)
#define A_FREE(p) rcgc_obj_free(p)
static void a_init(void) { BENCH_CHECK(rcgc_init() == 0, "rcgc_init failed"); }
static int a_thread_begin(void) { return rcgc_thread_attach(); }
static void a_thread_end(void) { rcgc_thread_detach(); }
static void a_main_release(void) { rcgc_thread_detach(); }
static void a_main_reacquire(void) { rcgc_thread_attach(); }
#if defined(__has_include)
#if __has_include(<rcgc/inspect.h>)
#include <rcgc/inspect.h>
#endif
#endif
#elif defined(A_MIMALLOC)
#include <mimalloc.h>
#define A_MALLOC(n) mi_malloc(n)
#define A_FREE(p) mi_free(p)
static void a_init(void) {}
static int a_thread_begin(void) { return 0; }
static void a_thread_end(void) {}
static void a_main_release(void) {}
static void a_main_reacquire(void) {}
#elif defined(A_PYMALLOC)
#include <Python.h>
#define A_MALLOC(n) PyObject_Malloc(n)
#define A_FREE(p) PyObject_Free(p)
static void a_init(void) { Py_InitializeEx(0); }
#define A_NO_THREADS 1 /* pymalloc needs the GIL */
#else
#include <malloc.h>
#define A_MALLOC(n) malloc(n)
#define A_FREE(p) free(p)
static void a_init(void) {}
static int a_thread_begin(void) { return 0; }
static void a_thread_end(void) {}
static void a_main_release(void) {}
static void a_main_reacquire(void) {}
#endif

static int quick;

/* ---- size tables and ballast ---------------------------------------------- */
#define MIXN 4096
static size_t mix[MIXN];

static void make_mix(void) {
    bench_rng_t r = {42};
    for (int i = 0; i < MIXN; i++) {
        uint64_t p = bench_rng_below(&r, 100), lo, hi;
        if (p < 30) lo = 16, hi = 32;
        else if (p < 65) lo = 33, hi = 64;
        else if (p < 85) lo = 65, hi = 128;
        else if (p < 95) lo = 129, hi = 256;
        else lo = 257, hi = 512;
        mix[i] = (size_t)(lo + bench_rng_below(&r, hi - lo + 1));
    }
}

/* BALLAST live blocks per 16-byte size class up to 512 (default 32), so that a
 * pair loop does not empty its page on every free. */
static void **ballast;
static int ballast_n;
static void make_ballast(void) {
    const char *b = getenv("BALLAST");
    int per = b ? atoi(b) : 32;
    ballast = calloc((size_t)per * 32 + 1, sizeof *ballast);
    for (int c = 1; c <= 32; c++)
        for (int i = 0; i < per; i++) {
            void *p = A_MALLOC((size_t)c * 16);
            ((char *)p)[0] = 1;
            ballast[ballast_n++] = p;
        }
}

/* ---- the loops (each returns seconds) --------------------------------------- */
static double loop_pairs(size_t size, long n) {
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        void *p = A_MALLOC(size);
        ((char *)p)[0] = 1;
        bench_sink(p);
        A_FREE(p);
    }
    return bench_now() - t0;
}

static double loop_pairs_mix(long n) {
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        void *p = A_MALLOC(mix[i & (MIXN - 1)]);
        ((char *)p)[0] = 1;
        bench_sink(p);
        A_FREE(p);
    }
    return bench_now() - t0;
}

static void *lifo_arr[1000];
static double loop_lifo(long rounds) {
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < 1000; i++) {
            void *p = A_MALLOC(32);
            ((char *)p)[0] = 1;
            lifo_arr[i] = p;
        }
        for (int i = 999; i >= 0; i--) A_FREE(lifo_arr[i]);
    }
    return bench_now() - t0;
}

static double loop_fifo(void **arr, long n, long rounds) {
    double t0 = bench_now();
    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < n; i++) {
            void *p = A_MALLOC(32);
            ((char *)p)[0] = 1;
            arr[i] = p;
        }
        for (long i = 0; i < n; i++) A_FREE(arr[i]);
    }
    return bench_now() - t0;
}

static double loop_churn(long live, long steps) {
    void **arr = malloc((size_t)live * sizeof *arr);
    for (long i = 0; i < live; i++) {
        arr[i] = A_MALLOC(mix[i & (MIXN - 1)]);
        ((char *)arr[i])[0] = 1;
    }
    bench_rng_t r = {7};
    double t0 = bench_now();
    for (long s = 0; s < steps; s++) {
        long k = (long)bench_rng_below(&r, (uint64_t)live);
        A_FREE(arr[k]);
        void *p = A_MALLOC(mix[s & (MIXN - 1)]);
        ((char *)p)[0] = 1;
        arr[k] = p;
    }
    double t = bench_now() - t0;
    for (long i = 0; i < live; i++) A_FREE(arr[i]);
    free(arr);
    return t;
}

/* best of `best` runs of f */
#define BEST(best, expr)                          \
    ({                                            \
        double b_ = 1e30;                         \
        for (int k_ = 0; k_ < (best); k_++) {     \
            double t_ = (expr);                   \
            if (t_ < b_) b_ = t_;                 \
        }                                         \
        b_;                                       \
    })

/* Short loops and the best of several: on a shared machine a long loop is
 * rarely left alone for its whole length. */
static void mode_time(void) {
    long pairs = quick ? 1000000 : 2000000;
    int best = quick ? 2 : 5;
    make_ballast();
    static const int sizes[] = {16, 32, 64, 128, 256, 512};
    char name[64];
    bench_params("pairs=%ld,ballast=%s,best_of=%d", pairs, getenv("BALLAST") ? getenv("BALLAST") : "32", best);
    loop_pairs(32, pairs / 10); /* warm up */
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        double t = BEST(best, loop_pairs((size_t)sizes[i], pairs));
        snprintf(name, sizeof name, "alloc_pair_%d", sizes[i]);
        bench_result(name, "time_per_pair", t / (double)pairs * 1e9, "ns");
    }
    bench_result("alloc_pair_mix", "time_per_pair", BEST(best, loop_pairs_mix(pairs)) / (double)pairs * 1e9, "ns");

    long rounds = pairs / 1000;
    bench_params("batch=1000,rounds=%ld,size=32,best_of=%d", rounds, best);
    bench_result("alloc_lifo_1k", "time_per_pair", BEST(best, loop_lifo(rounds)) / (double)(rounds * 1000) * 1e9, "ns");

    long fn = 1000000, fr = 1;
    void **arr = malloc((size_t)fn * sizeof *arr);
    memset(arr, 0, (size_t)fn * sizeof *arr);
    bench_params("batch=%ld,rounds=%ld,size=32,best_of=%d", fn, fr, best);
    bench_result("alloc_fifo_1m", "time_per_pair", BEST(best, loop_fifo(arr, fn, fr)) / (double)(fn * fr) * 1e9, "ns");
    free(arr);

    long steps = quick ? 500000 : 2000000;
    best = quick ? 1 : 3;
    bench_params("live=100000,steps=%ld,sizes=mix16-512,best_of=%d", steps, best);
    bench_result("alloc_churn_100k", "time_per_op", BEST(best, loop_churn(100000, steps)) / (double)steps * 1e9, "ns");
    bench_params("live=1000000,steps=%ld,sizes=mix16-512,best_of=%d", steps, best);
    bench_result("alloc_churn_1m", "time_per_op", BEST(best, loop_churn(1000000, steps)) / (double)steps * 1e9, "ns");
}

static void mode_pair0(void) {
    long pairs = quick ? 1000000 : 2000000;
    int best = quick ? 2 : 5;
    loop_pairs(32, pairs / 10);
    bench_params("pairs=%ld,ballast=0,best_of=%d", pairs, best);
    bench_result("alloc_pair_32_ballast0", "time_per_pair", BEST(best, loop_pairs(32, pairs)) / (double)pairs * 1e9, "ns");
}

static void mode_mem(void) {
    long n = 1000000;
    void **arr = malloc((size_t)n * sizeof *arr);
    memset(arr, 1, (size_t)n * sizeof *arr); /* touch the pointer array first */
    size_t rss0 = bench_rss();
    for (long i = 0; i < n; i++) {
        arr[i] = A_MALLOC(32);
        memset(arr[i], 1, 32);
    }
    size_t rss1 = bench_rss();
    for (long i = 0; i < n; i++) A_FREE(arr[i]);
    size_t rss2 = bench_rss();
    bench_params("blocks=%ld,size=32", n);
    bench_result("alloc_rss_32", "bytes_per_block", (double)(rss1 - rss0) / (double)n, "B");
    bench_result("alloc_rss_32", "rss_start", (double)rss0 / 1024.0, "KiB");
    bench_result("alloc_rss_32", "rss_full", (double)rss1 / 1024.0, "KiB");
    bench_result("alloc_rss_32", "rss_after_free", (double)rss2 / 1024.0, "KiB");
    bench_result("alloc_rss_32", "rss_after_free_growth", 100.0 * ((double)rss2 - (double)rss0) / (double)rss0, "%");
    free(arr);
}

#ifndef A_NO_THREADS
typedef struct {
    long n;
    pthread_barrier_t *bar;
    int ok;
} mt_arg_t;

static void *mt_worker(void *argp) {
    mt_arg_t *a = argp;
    /* attach after the barrier: in rcgc's default flavour attaching takes the
     * global lock, so the threads run one after the other (as under a GIL) */
    pthread_barrier_wait(a->bar);
    a->ok = a_thread_begin() == 0;
    void *keep[64];
    for (int i = 0; i < 64; i++) keep[i] = A_MALLOC(32); /* per-thread ballast */
    for (long i = 0; i < a->n; i++) {
        void *p = A_MALLOC(32);
        ((char *)p)[0] = 1;
        bench_sink(p);
        A_FREE(p);
    }
    for (int i = 0; i < 64; i++) A_FREE(keep[i]);
    a_thread_end();
    return NULL;
}

static double mt_run(int nthreads, long n) {
    pthread_t th[8];
    mt_arg_t args[8];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
    for (int i = 0; i < nthreads; i++) {
        args[i] = (mt_arg_t){n, &bar, 0};
        pthread_create(&th[i], NULL, mt_worker, &args[i]);
    }
    pthread_barrier_wait(&bar);
    double t0 = bench_now();
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    double t = bench_now() - t0;
    for (int i = 0; i < nthreads; i++) BENCH_CHECK(args[i].ok, "thread attach failed");
    pthread_barrier_destroy(&bar);
    return t;
}

static void mode_mt(void) {
    long n = quick ? 2000000 : 10000000;
    int best = quick ? 1 : 3;
    a_main_release(); /* the main thread only waits */
    double t1 = BEST(best, mt_run(1, n));
    double t2 = BEST(best, mt_run(2, n));
    a_main_reacquire();
    bench_params("pairs_per_thread=%ld,size=32,best_of=%d", n, best);
    bench_result("alloc_mt_private", "time_per_pair_1t", t1 / (double)n * 1e9, "ns");
    bench_result("alloc_mt_private", "time_per_pair_2t", t2 / (double)n * 1e9, "ns");
    bench_result("alloc_mt_private", "speedup_2t", (2.0 * (double)n / t2) / ((double)n / t1), "x");
}
#endif

#if defined(A_MIMALLOC)
static bool walk_visit(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
                       size_t block_size, void *arg) {
    if (block) {
        ++*(long *)arg;
        bench_sink(block);
    }
    return true;
}
static long walk_all(void) {
    long c = 0;
    mi_heap_visit_blocks(mi_heap_get_default(), true, walk_visit, &c);
    return c;
}
#define HAVE_WALK 1
#elif defined(A_RCGC) && defined(RCGC_INSPECT_H)
static int walk_visit(void *block, size_t block_size, void *arg) {
    ++*(long *)arg;
    bench_sink(block);
    return 0;
}
static long walk_all(void) {
    long c = 0;
    for (int h = 0; h < RCGC_ALLOC_HEAP_COUNT; h++) rcgc_heap_visit_blocks((rcgc_alloc_heap_t)h, walk_visit, &c);
    return c;
}
#define HAVE_WALK 1
#endif

#ifdef HAVE_WALK
static double walk_best(long expect) {
    double best = 1e30;
    long seen = 0;
    for (int k = 0; k < (quick ? 2 : 5); k++) {
        double t0 = bench_now();
        seen = walk_all();
        double t = bench_now() - t0;
        if (t < best) best = t;
    }
    BENCH_CHECK(seen >= expect, "walker saw %ld of %ld blocks", seen, expect);
    return best;
}

/* alloc_walk_1m: 1M live mixed-size blocks, pages full;
 * alloc_walk_1m_holes: 1.5M allocated, every third freed (1M live), so the
 * walker has to skip free blocks inside pages */
static void mode_walk(void) {
    long n = 1000000;
    void **arr = malloc((size_t)n * 3 / 2 * sizeof *arr);
    for (long i = 0; i < n; i++) {
        arr[i] = A_MALLOC(mix[i & (MIXN - 1)]);
        ((char *)arr[i])[0] = 1;
    }
    double t = walk_best(n);
    bench_params("live=%ld,sizes=mix16-512", n);
    bench_result("alloc_walk_1m", "time_per_object", t / (double)n * 1e9, "ns");
    for (long i = 0; i < n; i++) A_FREE(arr[i]);
    long m = n * 3 / 2, live = 0;
    for (long i = 0; i < m; i++) {
        arr[i] = A_MALLOC(mix[i & (MIXN - 1)]);
        ((char *)arr[i])[0] = 1;
    }
    for (long i = 0; i < m; i++)
        if (i % 3 == 2) A_FREE(arr[i]);
        else live++;
    t = walk_best(live);
    bench_params("live=%ld,freed=%ld,sizes=mix16-512", live, m - live);
    bench_result("alloc_walk_1m_holes", "time_per_object", t / (double)live * 1e9, "ns");
    free(arr);
}
#else
static void mode_walk(void) {
    fprintf(stderr, "UNSUPPORTED: no heap walker in this allocator\n");
    exit(4);
}
#endif

/* callgrind counts only inside this function (--toggle-collect=cg_loop*):
 * the pairs and the loop around them, nothing of start-up */
void cg_loop(long n) __attribute__((noinline, noclone));
void cg_loop(long n) {
    for (long i = 0; i < n; i++) {
        void *p = A_MALLOC(32);
        ((char *)p)[0] = 1;
        bench_sink(p);
        A_FREE(p);
    }
}

static void mode_cg(long n) {
    make_ballast();
    cg_loop(n);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "time";
    quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) != 0;
    a_init();
    make_mix();
    if (!strcmp(mode, "time")) mode_time();
    else if (!strcmp(mode, "pair0")) mode_pair0();
    else if (!strcmp(mode, "mem")) mode_mem();
    else if (!strcmp(mode, "mt")) {
#ifdef A_NO_THREADS
        fprintf(stderr, "UNSUPPORTED: pymalloc needs the GIL\n");
        return 4;
#else
        mode_mt();
#endif
    } else if (!strcmp(mode, "walk")) mode_walk();
    else if (!strcmp(mode, "cg")) mode_cg(bench_arg(argc, argv, 2, 1000000));
    else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
