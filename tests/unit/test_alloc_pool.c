/* test_alloc_pool.c - the pooled allocator on one thread (plus exiting
 * threads for the walk): sizes, alignment, realloc, reuse, statistics, RSS
 * after a peak, heap walk, bad input, seeded random churn.
 * Calls the internal _rcgc_pool_* functions directly: no runtime needed.
 */
#include "testutil.h"
#include "internal/alloc_types.h"
#include "internal/platform.h"
#include "rcgc/inspect.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SCALE 8
#define RSS_UNDER_SANITIZER 1 /* shadow memory and quarantines move RSS */
#else
#define SCALE 1
#define RSS_UNDER_SANITIZER 0
#endif
/* RSS figures mean something only natively (not under a sanitizer or Valgrind,
 * which preloads its vgpreload library). */
static bool rss_reliable(void) {
    const char *pre = getenv("LD_PRELOAD");
    return !RSS_UNDER_SANITIZER && !(pre && strstr(pre, "vgpreload"));
}
#define RSS_RELIABLE rss_reliable()

static rcgc_alloc_stats_t stats_now(void) {
    rcgc_alloc_stats_t st;
    rcgc_alloc_stats_get(&st);
    return st;
}

/* Every page descriptor of every segment satisfies the counting invariant. */
static void assert_pool_valid(void) {
    _rcgc_pool_lock();
    for (rcgc_segment_t *seg = _rcgc_pool.all_first; seg; seg = seg->all_next) {
        assert_int_equal(seg->magic, RCGC_SEG_MAGIC ^ (uintptr_t)seg);
        for (size_t i = 1; i < RCGC_PAGES_PER_SEG && !seg->huge; i++)
            assert_true(_rcgc_page_is_valid(&seg->pages[i]));
    }
    _rcgc_pool_unlock();
}

/* ---- sizes, alignment, classes ------------------------------------------------ */
static void test_size_classes(void **state) {
    (void)state;
    for (size_t n = 1; n <= RCGC_MEDIUM_MAX; n++) {
        unsigned c = _rcgc_size_class(n);
        assert_true(c < RCGC_CLASSES);
        assert_true(_rcgc_class_size(c) >= n);
        if (c > 0) assert_true(_rcgc_class_size(c - 1) < n);
        assert_int_equal(_rcgc_class_size(c) % 16, 0);
    }
    assert_int_equal(_rcgc_size_class(512), 31);
    assert_int_equal(_rcgc_size_class(513), 32);
    assert_int_equal(_rcgc_size_class(RCGC_MEDIUM_MAX), RCGC_CLASSES - 1);
}

static void check_block(void *p, size_t n, rcgc_heap_kind_t kind) {
    assert_non_null(p);
    /* 16-byte aligned, except GC blocks of the default build: 8 mod 16, so that
     * the object after the 8-byte pre-header is aligned (RCGC_GC_BLOCK_OFFSET) */
    assert_int_equal((uintptr_t)p % 16, _rcgc_kind_block_offset(kind));
    if (n > RCGC_MEDIUM_MAX) assert_int_equal((uintptr_t)p % RCGC_PAGE_SIZE, _rcgc_kind_block_offset(kind));
    assert_true(_rcgc_pool_owns(p));
    assert_true(_rcgc_pool_usable_size(p) >= (n ? n : 1));
    assert_int_equal(_rcgc_pool_kind_of(p), (int)kind);
    memset(p, 0xAB, n);
}

static void test_sizes_and_alignment(void **state) {
    (void)state;
    static const size_t sizes[] = { 0, 1, 8, 15, 16, 17, 31, 32, 33, 100, 255, 256, 511, 512, 513, 640, 641,
                                    1000, 4096, 10000, 16383, 16384, 16385, 65536, 65537, 300000,
                                    (size_t)1 << 20, ((size_t)1 << 20) + 1, (size_t)5 << 20 };
    void *ptrs[sizeof sizes / sizeof sizes[0]][RCGC_HEAP_KINDS];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int k = 0; k < RCGC_HEAP_KINDS; k++) {
            ptrs[i][k] = _rcgc_pool_malloc(sizes[i], (rcgc_heap_kind_t)k);
            check_block(ptrs[i][k], sizes[i], (rcgc_heap_kind_t)k);
        }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int k = 0; k < RCGC_HEAP_KINDS; k++) _rcgc_pool_free(ptrs[i][k]);
    _rcgc_pool_free(NULL);
    /* impossible requests fail cleanly */
    assert_null(_rcgc_pool_malloc(SIZE_MAX, RCGC_HEAP_MEM));
    assert_null(_rcgc_pool_malloc((size_t)1 << 62, RCGC_HEAP_OBJECT));
    assert_null(_rcgc_pool_malloc(SIZE_MAX - RCGC_PAGE_SIZE, RCGC_HEAP_GC));
    int x;
    assert_false(_rcgc_pool_owns(&x));
    assert_int_equal(_rcgc_pool_usable_size(&x), 0);
    assert_int_equal(_rcgc_pool_kind_of(NULL), -1);
    assert_pool_valid();
}

static void test_distinct_blocks(void **state) {
    (void)state;
    enum { N = 5000 };
    char **p = calloc(N, sizeof *p);
    for (int i = 0; i < N; i++) {
        p[i] = _rcgc_pool_malloc(48, RCGC_HEAP_OBJECT);
        memset(p[i], i & 0xff, 48);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 48; j++) assert_int_equal((unsigned char)p[i][j], i & 0xff);
    for (int i = 0; i < N; i++) _rcgc_pool_free(p[i]);
    free(p);
}

/* ---- realloc ---------------------------------------------------------------------- */
static void test_pool_realloc(void **state) {
    (void)state;
    unsigned char *p = _rcgc_pool_realloc(NULL, 10);
    check_block(p, 10, RCGC_HEAP_MEM);
    for (int i = 0; i < 10; i++) p[i] = (unsigned char)i;
    size_t sizes[] = { 16, 100, 600, 5000, 40000, 2000000, 300, 12 };
    size_t prev = 10;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        p = _rcgc_pool_realloc(p, sizes[s]);
        assert_non_null(p);
        assert_true(_rcgc_pool_usable_size(p) >= sizes[s]);
        size_t keep = prev < sizes[s] ? prev : sizes[s];
        for (size_t i = 0; i < keep; i++) assert_int_equal(p[i], (unsigned char)i);
        for (size_t i = keep; i < sizes[s]; i++) p[i] = (unsigned char)i;
        prev = sizes[s];
    }
    /* in place when the block still fits */
    void *q = _rcgc_pool_realloc(p, 11);
    assert_ptr_equal(q, p);
    _rcgc_pool_free(q);
    void *g = _rcgc_pool_malloc(64, RCGC_HEAP_GC);
    g = _rcgc_pool_realloc(g, 1000);
    assert_int_equal(_rcgc_pool_kind_of(g), RCGC_HEAP_GC);
    _rcgc_pool_free(g);
}

/* ---- reuse: a steady alloc/free pattern takes no new memory ------------------------ */
static void test_reuse(void **state) {
    (void)state;
    enum { N = 10000 };
    void **p = calloc(N, sizeof *p);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) p[i] = _rcgc_pool_malloc(32 + (size_t)(i % 4) * 16, RCGC_HEAP_MEM);
        for (int i = 0; i < N; i++) _rcgc_pool_free(p[i]);
    }
    rcgc_alloc_stats_t a = stats_now();
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) p[i] = _rcgc_pool_malloc(32 + (size_t)(i % 4) * 16, RCGC_HEAP_MEM);
        for (int i = N - 1; i >= 0; i--) _rcgc_pool_free(p[i]);
    }
    rcgc_alloc_stats_t b = stats_now();
    assert_true(b.segments <= a.segments);
    assert_true(b.bytes_mapped <= a.bytes_mapped);
    /* alloc/free pairs reuse the same few blocks */
    void *x = _rcgc_pool_malloc(32, RCGC_HEAP_MEM);
    _rcgc_pool_free(x);
    for (int i = 0; i < 100000; i++) _rcgc_pool_free(_rcgc_pool_malloc(32, RCGC_HEAP_MEM));
    rcgc_alloc_stats_t c = stats_now();
    assert_int_equal(c.segments, b.segments);
    free(p);
}

/* ---- statistics --------------------------------------------------------------------- */
static void test_stats_consistency(void **state) {
    (void)state;
    enum { N = 3000 };
    rcgc_alloc_stats_t a = stats_now();
    void *p[N];
    for (int i = 0; i < N; i++) p[i] = _rcgc_pool_malloc(200, RCGC_HEAP_OBJECT);
    void *big = _rcgc_pool_malloc(100000, RCGC_HEAP_MEM);
    rcgc_alloc_stats_t b = stats_now();
    unsigned c = _rcgc_size_class(200);
    assert_int_equal(b.classes[c].blocks_in_use - a.classes[c].blocks_in_use, N);
    assert_int_equal(b.classes[c].block_size, 208);
    assert_int_equal(b.bytes_in_use_by_heap[RCGC_HEAP_OBJECT] - a.bytes_in_use_by_heap[RCGC_HEAP_OBJECT],
                     (size_t)N * 208);
    assert_int_equal(b.large_blocks - a.large_blocks, 1);
    assert_true(b.large_bytes - a.large_bytes >= 100000);
    assert_true(b.bytes_committed >= b.bytes_in_use);
    assert_true(b.bytes_mapped >= b.bytes_committed);
    /* pages hold exactly their blocks: in use + free == pages x blocks per page,
     * where a GC page (default build) holds (RCGC_PAGE_SIZE - RCGC_GC_BLOCK_OFFSET) /
     * block size: one block fewer when the size divides the page. The class
     * statistics do not split pages by kind, so for those classes the total
     * lies between the two products (equal for every other class). */
    for (unsigned k = 0; k < RCGC_CLASSES; k++) {
        size_t bs = b.classes[k].block_size, total = b.classes[k].blocks_in_use + b.classes[k].blocks_free;
        assert_true(total <= b.classes[k].pages * (RCGC_PAGE_SIZE / bs));
        assert_true(total >= b.classes[k].pages * ((RCGC_PAGE_SIZE - RCGC_GC_BLOCK_OFFSET) / bs));
    }
    for (int i = 0; i < N; i++) _rcgc_pool_free(p[i]);
    _rcgc_pool_free(big);
    rcgc_alloc_stats_t d = stats_now();
    assert_int_equal(d.classes[c].blocks_in_use, a.classes[c].blocks_in_use);
    assert_int_equal(d.large_blocks, a.large_blocks);
    assert_int_equal(d.bytes_in_use, a.bytes_in_use);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rcgc_alloc_stats_print(f);
    fclose(f);
    assert_non_null(strstr(buf, "bytes committed"));
    free(buf);
}

/* committed accounting agrees with RSS, loosely */
static void test_stats_track_rss(void **state) {
    (void)state;
    size_t n = (size_t)400000 / SCALE;
    void **p = malloc(n * sizeof *p);
    memset(p, 0, n * sizeof *p);
    rcgc_alloc_stats_t a = stats_now();
    for (size_t i = 0; i < n; i++) p[i] = _rcgc_pool_malloc(64, RCGC_HEAP_MEM);
    rcgc_alloc_stats_t b = stats_now();
    double committed = (double)(b.bytes_committed - a.bytes_committed);
    double rss = (double)b.rss_bytes - (double)a.rss_bytes;
    double want = (double)n * 64;
    printf("# 64 B x %zu: committed +%.0f, rss +%.0f, wanted %.0f\n", n, committed, rss, want);
    /* pages earlier tests left committed (retained free pages, the current
     * page of the class) are reused without new commitment */
    assert_true(committed + (double)((a.retained_pages + 1) * RCGC_PAGE_SIZE) >= want);
    assert_true(committed < want * 1.05 + 1048576);
    if (a.rss_bytes && RSS_RELIABLE) assert_true(rss > want * 0.9 && rss < want * 1.1 + 1048576);
    for (size_t i = 0; i < n; i++) _rcgc_pool_free(p[i]);
    free(p);
}

/* ---- RSS after a peak --------------------------------------------------------------- */
static void test_rss_returns_after_peak(void **state) {
    (void)state;
    if (_rcgc_os_rss_bytes() == 0 || !RSS_RELIABLE) skip();
    size_t n = (size_t)1000000 / SCALE;
    void **p = malloc(n * sizeof *p);
    memset(p, 1, n * sizeof *p); /* touched before the first reading (not 0: gcc would make it calloc) */
    _rcgc_pool_collect(true);
    size_t rss0 = _rcgc_os_rss_bytes();
    for (size_t i = 0; i < n; i++) p[i] = _rcgc_pool_malloc(32, RCGC_HEAP_OBJECT);
    size_t peak = _rcgc_os_rss_bytes();
    for (size_t i = 0; i < n; i++) _rcgc_pool_free(p[i]);
    size_t after = _rcgc_os_rss_bytes();
    rcgc_alloc_stats_t st = stats_now();
    printf("# rss start %zu KiB, peak %zu KiB, after free %zu KiB (returned %zu KiB so far)\n", rss0 >> 10,
           peak >> 10, after >> 10, st.bytes_returned >> 10);
    assert_true(peak > rss0 + n * 32 * 9 / 10);
    assert_true(after <= rss0 + rss0 / 10);
    _rcgc_pool_collect(true);
    size_t forced = _rcgc_os_rss_bytes();
    printf("# after forced collect %zu KiB\n", forced >> 10);
    assert_true(forced <= after);
    free(p);
}

/* ---- heap walk -------------------------------------------------------------------------- */
typedef struct walk_state {
    size_t count;
    uintptr_t last;
    bool ordered;
    void **expect; /* sorted */
    size_t nexpect;
    size_t unexpected;
} walk_state_t;

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static int walk_visit(void *block, size_t size, void *arg) {
    walk_state_t *w = arg;
    if ((uintptr_t)block <= w->last) w->ordered = false;
    w->last = (uintptr_t)block;
    w->count++;
    assert_true(size >= 16);
    if (w->expect && !bsearch(&block, w->expect, w->nexpect, sizeof(void *), cmp_ptr)) w->unexpected++;
    return 0;
}

static walk_state_t walk(rcgc_heap_kind_t kind, void **expect, size_t nexpect) {
    walk_state_t w = { .ordered = true, .expect = expect, .nexpect = nexpect };
    if (expect) qsort(expect, nexpect, sizeof(void *), cmp_ptr);
    assert_int_equal(_rcgc_heap_visit(kind, walk_visit, &w), 0);
    return w;
}

static int stop_at_three(void *block, size_t size, void *arg) {
    (void)block, (void)size;
    return ++*(int *)arg == 3 ? 42 : 0;
}

#define WALK_N 20000
static void *walk_thread_blocks[WALK_N];
static void *walk_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < WALK_N; i++) walk_thread_blocks[i] = _rcgc_pool_malloc(16 + (size_t)(i % 7) * 24, RCGC_HEAP_GC);
    return NULL; /* exits with every block live: its pages are abandoned */
}

static void test_heap_walk(void **state) {
    (void)state;
    walk_state_t base = walk(RCGC_HEAP_GC, NULL, 0);
    enum { N = 30000 };
    void **p = malloc(N * sizeof *p), **live = malloc((N + WALK_N) * sizeof *p);
    size_t nlive = 0;
    for (int i = 0; i < N; i++) {
        size_t size = i % 100 == 0 ? 20000 + (size_t)i : 16 + (size_t)(i % 40) * 13;
        p[i] = _rcgc_pool_malloc(size, i % 5 ? RCGC_HEAP_GC : RCGC_HEAP_OBJECT);
    }
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) { _rcgc_pool_free(p[i]); p[i] = NULL; }
        else if (i % 5) live[nlive++] = p[i];
    }
    walk_state_t w = walk(RCGC_HEAP_GC, live, nlive);
    assert_int_equal(w.count - base.count, nlive);
    assert_int_equal(w.unexpected, base.count);
    assert_true(w.ordered);
    int seen = 0;
    assert_int_equal(_rcgc_heap_visit(RCGC_HEAP_GC, stop_at_three, &seen), 42);
    /* blocks of a thread that exited are still walked */
    pthread_t t;
    pthread_create(&t, NULL, walk_thread, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < WALK_N; i++) live[nlive++] = walk_thread_blocks[i];
    w = walk(RCGC_HEAP_GC, live, nlive);
    assert_int_equal(w.count - base.count, nlive);
    assert_true(w.ordered);
    assert_true(stats_now().abandoned_pages > 0);
    /* ...and freeing them (cross-thread frees into abandoned pages) is seen too */
    for (int i = 0; i < WALK_N; i += 2) _rcgc_pool_free(walk_thread_blocks[i]);
    w = walk(RCGC_HEAP_GC, NULL, 0);
    assert_int_equal(w.count - base.count, nlive - WALK_N / 2);
    for (int i = 1; i < WALK_N; i += 2) _rcgc_pool_free(walk_thread_blocks[i]);
    w = walk(RCGC_HEAP_GC, NULL, 0);
    assert_int_equal(w.count - base.count, nlive - WALK_N);
    _rcgc_pool_collect(false);
    assert_int_equal(stats_now().abandoned_pages, 0);
    for (int i = 0; i < N; i++) if (p[i]) _rcgc_pool_free(p[i]);
    w = walk(RCGC_HEAP_GC, NULL, 0);
    assert_int_equal(w.count, base.count);
    assert_pool_valid();
    free(p);
    free(live);
}

/* a visitor may free the block it is given */
static int free_visitor(void *block, size_t size, void *arg) {
    (void)size;
    _rcgc_pool_free(block);
    ++*(size_t *)arg;
    return 0;
}

static void test_heap_walk_visitor_frees(void **state) {
    (void)state;
    walk_state_t base = walk(RCGC_HEAP_GC, NULL, 0);
    assert_int_equal(base.count, 0);
    for (int i = 0; i < 5000; i++) (void)_rcgc_pool_malloc(24 + (size_t)(i % 3) * 100, RCGC_HEAP_GC);
    size_t n = 0;
    assert_int_equal(_rcgc_heap_visit(RCGC_HEAP_GC, free_visitor, &n), 0);
    assert_int_equal(n, 5000);
    assert_int_equal(walk(RCGC_HEAP_GC, NULL, 0).count, 0);
    assert_pool_valid();
}

/* ---- bad input ---------------------------------------------------------------------------- */
static void do_free_stack(void *arg) {
    (void)arg;
    int x;
    _rcgc_pool_free(&x);
}
static void do_double_free(void *arg) {
    (void)arg;
    void *a = _rcgc_pool_malloc(32, RCGC_HEAP_MEM), *b = _rcgc_pool_malloc(32, RCGC_HEAP_MEM);
    (void)b;
    _rcgc_pool_free(a);
    _rcgc_pool_free(a);
}
static void do_free_interior(void *arg) {
    (void)arg;
    char *a = _rcgc_pool_malloc(64, RCGC_HEAP_MEM);
    (void)_rcgc_pool_malloc(64, RCGC_HEAP_MEM);
    _rcgc_pool_free(a + 16);
}
static void do_free_header(void *arg) {
    (void)arg;
    char *a = _rcgc_pool_malloc(64, RCGC_HEAP_MEM);
    _rcgc_pool_free((void *)((uintptr_t)a & ~(uintptr_t)RCGC_SEG_MASK));
}
static void do_realloc_foreign(void *arg) {
    (void)arg;
    int x;
    (void)_rcgc_pool_realloc(&x, 10);
}

static void test_bad_input(void **state) {
    (void)state;
    rcgc_test_expect_fatal(do_free_stack, NULL, "did not allocate", NULL);
    rcgc_test_expect_fatal(do_double_free, NULL, "double free", NULL);
    rcgc_test_expect_fatal(do_free_header, NULL, "not an allocated block", NULL);
    rcgc_test_expect_fatal(do_realloc_foreign, NULL, "did not allocate", NULL);
    if (rcgc_debug_level >= 1) rcgc_test_expect_fatal(do_free_interior, NULL, "not the start of a block", NULL);
}

/* ---- seeded random churn -------------------------------------------------------------------- */
static size_t churn_size(uint64_t *s) {
    uint64_t r = rcgc_test_rand(s) % 1000;
    if (r < 700) return 2 + rcgc_test_rand(s) % 128; /* >= 2: first and last byte differ */
    if (r < 950) return 2 + rcgc_test_rand(s) % 511;
    if (r < 995) return 513 + rcgc_test_rand(s) % 16000;
    return 16385 + rcgc_test_rand(s) % 200000;
}

static void test_random_churn(void **state) {
    (void)state;
    uint64_t seed = rcgc_test_seed(0x5eed1234ULL), s = seed;
    printf("# churn seed %llu (RCGC_TEST_SEED to replay)\n", (unsigned long long)seed);
    enum { SLOTS = 4096 };
    unsigned char *p[SLOTS] = { 0 };
    size_t sz[SLOTS] = { 0 };
    rcgc_alloc_stats_t a = stats_now();
    long steps = 400000 / SCALE;
    for (long step = 0; step < steps; step++) {
        size_t i = rcgc_test_rand(&s) % SLOTS;
        if (p[i]) {
            assert_int_equal(p[i][0], (unsigned char)i);
            assert_int_equal(p[i][sz[i] - 1], (unsigned char)(i * 7));
            if (rcgc_test_rand(&s) % 8 == 0) {
                size_t n = churn_size(&s);
                p[i] = _rcgc_pool_realloc(p[i], n);
                assert_int_equal(p[i][0], (unsigned char)i);
                sz[i] = n;
                p[i][n - 1] = (unsigned char)(i * 7);
                continue;
            }
            _rcgc_pool_free(p[i]);
            p[i] = NULL;
        } else {
            sz[i] = churn_size(&s);
            rcgc_heap_kind_t kind = (rcgc_heap_kind_t)(rcgc_test_rand(&s) % 3);
            p[i] = _rcgc_pool_malloc(sz[i], kind);
            assert_non_null(p[i]);
            assert_int_equal((uintptr_t)p[i] % 16, _rcgc_kind_block_offset(kind));
            p[i][0] = (unsigned char)i;
            p[i][sz[i] - 1] = (unsigned char)(i * 7);
        }
        if (step % 50000 == 0) assert_pool_valid();
    }
    for (size_t i = 0; i < SLOTS; i++) if (p[i]) _rcgc_pool_free(p[i]);
    rcgc_alloc_stats_t b = stats_now();
    assert_int_equal(b.bytes_in_use, a.bytes_in_use);
    assert_pool_valid();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_classes),
        cmocka_unit_test(test_sizes_and_alignment),
        cmocka_unit_test(test_distinct_blocks),
        cmocka_unit_test(test_pool_realloc),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_stats_consistency),
        cmocka_unit_test(test_stats_track_rss),
        cmocka_unit_test(test_rss_returns_after_peak),
        cmocka_unit_test(test_heap_walk_visitor_frees),
        cmocka_unit_test(test_heap_walk),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_random_churn),
    };
    return cmocka_run_group_tests_name("alloc_pool", tests, NULL, NULL);
}
