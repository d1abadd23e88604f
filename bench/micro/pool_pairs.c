/* bench/micro/pool_pairs.c - the allocator owner's private measuring program
 * (not part of the build; the benchmark harness in bench/ is the reference).
 *
 * Build against a Release static library (RCGC_DEBUG=0):
 *   cmake -S . -B build/alloc-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build/alloc-rel --target rcgc_static
 *   cc -O2 -fno-builtin-malloc -fno-builtin-free -DRCGC_BUILD_CORE -Iinclude -Isrc bench/micro/pool_pairs.c \
 *      build/alloc-rel/librcgc.a -lpthread -o /tmp/pool_pairs          (rcgc pool)
 *   same with -DA_OBJ (public rcgc_obj_malloc path), -DA_MIMALLOC ... -lmimalloc, -DA_LIBC [-ljemalloc]
 * Modes:
 *   pairs N SIZE     N alloc+free pairs of SIZE bytes (BALLAST=k live blocks per class, default 32)
 *   churn N LIVE     N random replacements in a live set of LIVE mixed-size blocks
 *   mem SIZE COUNT   RSS per live block; RSS after freeing everything
 *   walk N           heap walk over N live mixed-size GC blocks (rcgc only)
 *   xfree N          producer -> consumer through a 4096-slot ring: cross-thread frees
 * Instruction counts: valgrind --tool=callgrind on "pairs 1000000 32" minus "pairs 0 32", / 1e6.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#if defined(A_MIMALLOC)
#include <mimalloc.h>
#define ALLOC(n) mi_malloc(n)
#define FREE(p) mi_free(p)
#define NAME "mimalloc"
#elif defined(A_LIBC)
#define ALLOC(n) malloc(n)
#define FREE(p) free(p)
#define NAME "libc (or LD_PRELOAD / -l interposer)"
#elif defined(A_OBJ)
#include "rcgc.h"
#define ALLOC(n) rcgc_obj_malloc(n)
#define FREE(p) rcgc_obj_free(p)
#define NAME "rcgc_obj_malloc"
#else
#include "internal/alloc_internal.h"
#include "rcgc/inspect.h"
#define ALLOC(n) _rcgc_pool_malloc((n), RCGC_HEAP_OBJECT)
#define FREE(p) _rcgc_pool_free(p)
#define NAME "rcgc pool"
#define HAVE_WALK 1
#endif

static inline void keep(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long v = 0, r = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &v, &r) != 2) r = 0;
        fclose(f);
    }
    return (size_t)r * (size_t)sysconf(_SC_PAGESIZE);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t xorshift(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t mix_size(void) { /* the python-like mix of allocator.md §3.1 */
    uint64_t r = xorshift() % 100;
    if (r < 30) return 16 + xorshift() % 17;
    if (r < 65) return 33 + xorshift() % 32;
    if (r < 85) return 65 + xorshift() % 64;
    if (r < 95) return 129 + xorshift() % 128;
    return 257 + xorshift() % 256;
}

static void ballast(void) {
    const char *e = getenv("BALLAST");
    int k = e ? atoi(e) : 32;
    for (size_t size = 16; size <= 512; size += 16)
        for (int i = 0; i < k; i++) keep(ALLOC(size));
}

static void mode_pairs(long n, size_t size) {
    ballast();
    double best = 1e30;
    for (int rep = 0; rep < (n ? 5 : 1); rep++) {
        double t0 = now();
        for (long i = 0; i < n; i++) {
            char *p = ALLOC(size);
            p[0] = 1;
            keep(p);
            FREE(p);
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    if (n) printf("%s pairs %zu B: %.2f ns/pair (best of 5)\n", NAME, size, best * 1e9 / (double)n);
}

static void mode_churn(long n, size_t live) {
    void **p = malloc(live * sizeof *p);
    for (size_t i = 0; i < live; i++) p[i] = ALLOC(mix_size());
    size_t *idx = malloc(4096 * sizeof *idx), *sz = malloc(4096 * sizeof *sz);
    for (int i = 0; i < 4096; i++) { idx[i] = xorshift() % live; sz[i] = mix_size(); }
    double t0 = now();
    for (long i = 0; i < n; i++) {
        size_t k = (idx[i & 4095] + (size_t)i * 7919) % live;
        FREE(p[k]);
        char *q = ALLOC(sz[i & 4095]);
        q[0] = 1;
        p[k] = q;
    }
    double t = now() - t0;
    printf("%s churn %zu live: %.1f ns/replacement\n", NAME, live, t * 1e9 / (double)n);
    for (size_t i = 0; i < live; i++) FREE(p[i]);
    free(p);
}

static void mode_mem(size_t size, size_t count) {
    void **p = malloc(count * sizeof *p);
    memset(p, 1, count * sizeof *p);
    size_t r0 = rss();
    for (size_t i = 0; i < count; i++) {
        p[i] = ALLOC(size);
        ((char *)p[i])[0] = 1;
    }
    size_t r1 = rss();
    for (size_t i = 0; i < count; i += 2) FREE(p[i]);
    size_t r2 = rss();
    for (size_t i = 1; i < count; i += 2) FREE(p[i]);
    size_t r3 = rss();
    printf("%s mem %zu B x %zu: %.2f B/object; rss start %zu KiB, half freed %zu KiB, all freed %zu KiB (%+.1f%%)\n",
           NAME, size, count, (double)(r1 - r0) / (double)count, r0 >> 10, r2 >> 10, r3 >> 10,
           100.0 * ((double)r3 - (double)r0) / (double)r0);
    free(p);
}

/* ---- producer -> consumer: every free is a cross-thread free ---- */
#define XRING 4096
static void *volatile xring[XRING];
static long xcount;

static void *xproducer(void *arg) {
    (void)arg;
    for (long i = 0; i < xcount; i++) {
        void *p = ALLOC(32);
        ((char *)p)[0] = 1;
        while (__atomic_load_n(&xring[i % XRING], __ATOMIC_ACQUIRE) != NULL) sched_yield();
        __atomic_store_n(&xring[i % XRING], p, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void mode_xfree(long n) {
    xcount = n;
    pthread_t t;
    double t0 = now();
    pthread_create(&t, NULL, xproducer, NULL);
    for (long i = 0; i < n; i++) {
        void *p;
        while ((p = __atomic_load_n(&xring[i % XRING], __ATOMIC_ACQUIRE)) == NULL) sched_yield();
        __atomic_store_n(&xring[i % XRING], NULL, __ATOMIC_RELEASE);
        FREE(p);
    }
    pthread_join(t, NULL);
    printf("%s producer->consumer 32 B: %.1f ns per object\n", NAME, (now() - t0) * 1e9 / (double)n);
}

#ifdef HAVE_WALK
static int count_visit(void *block, size_t size, void *arg) {
    (void)block, (void)size;
    ++*(size_t *)arg;
    return 0;
}

static void walk_time(const char *what, size_t live) {
    double best = 1e30;
    size_t seen = 0;
    for (int rep = 0; rep < 5; rep++) {
        seen = 0;
        double t0 = now();
        _rcgc_heap_visit(RCGC_HEAP_GC, count_visit, &seen);
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("%s walk %s: %.2f ns/live object (visited %zu of %zu)\n", NAME, what, best * 1e9 / (double)live, seen,
           live);
}

static void mode_walk(size_t n) {
    void **p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = _rcgc_pool_malloc(mix_size(), RCGC_HEAP_GC);
    walk_time("all live", n);
    for (size_t i = 0; i < n; i += 3) _rcgc_pool_free(p[i]); /* free lists to walk: the bitmap path */
    walk_time("a third freed", n - (n + 2) / 3);
    free(p);
}
#endif

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: pairs N SIZE | churn N LIVE | mem SIZE COUNT | walk N | xfree N\n");
        return 2;
    }
    long a = argc > 2 ? atol(argv[2]) : 0, b = argc > 3 ? atol(argv[3]) : 0;
    if (!strcmp(argv[1], "pairs")) mode_pairs(a, (size_t)(b ? b : 32));
    else if (!strcmp(argv[1], "churn")) mode_churn(a, (size_t)b);
    else if (!strcmp(argv[1], "mem")) mode_mem((size_t)a, (size_t)b);
    else if (!strcmp(argv[1], "xfree")) mode_xfree(a);
#ifdef HAVE_WALK
    else if (!strcmp(argv[1], "walk")) mode_walk((size_t)a);
    else if (!strcmp(argv[1], "stats")) { mode_mem((size_t)a, (size_t)b); rcgc_alloc_stats_print(stdout); }
#endif
    else return 2;
    return 0;
}
