/* test_alloc_threads.c - the pooled allocator across threads: producer ->
 * consumer cross-thread frees, many threads freeing each other's blocks,
 * parked (full) pages found again after remote frees, abandoned pages of
 * exited threads reclaimed. Sizes shrink under sanitizers; TSan-clean in the
 * free-threaded flavour. Calls _rcgc_pool_* directly (no runtime needed).
 */
#include "testutil.h"
#include "internal/alloc_types.h"
#include "rcgc/inspect.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SCALE 10
#else
#define SCALE 1
#endif

static rcgc_alloc_stats_t stats_now(void) {
    rcgc_alloc_stats_t st;
    rcgc_alloc_stats_get(&st);
    return st;
}

/* ---- a bounded queue of blocks between threads --------------------------------------- */
#define RING 1024
typedef struct ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *slot[RING];
    size_t head, tail;
    bool done;
} ring_t;

static void ring_init(ring_t *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void ring_put(ring_t *r, void *p) {
    pthread_mutex_lock(&r->mu);
    while (r->tail - r->head == RING) pthread_cond_wait(&r->cv, &r->mu);
    r->slot[r->tail++ % RING] = p;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void *ring_get(ring_t *r) {
    pthread_mutex_lock(&r->mu);
    while (r->tail == r->head && !r->done) pthread_cond_wait(&r->cv, &r->mu);
    void *p = r->tail == r->head ? NULL : r->slot[r->head++ % RING];
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return p;
}

static void ring_close(ring_t *r) {
    pthread_mutex_lock(&r->mu);
    r->done = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- producer -> consumer ------------------------------------------------------------------ */
typedef struct pc_arg {
    ring_t *ring;
    long count;
    unsigned seed;
    long consumed;
} pc_arg_t;

static void *producer(void *argp) {
    pc_arg_t *a = argp;
    uint64_t s = a->seed;
    for (long i = 0; i < a->count; i++) {
        size_t n = 8 + rcgc_test_rand(&s) % 300;
        unsigned char *p = _rcgc_pool_malloc(n, (rcgc_heap_kind_t)(i % 3));
        assert_non_null(p);
        p[0] = (unsigned char)n;
        p[n - 1] = 0x5a;
        ring_put(a->ring, p);
    }
    return NULL;
}

static void *consumer(void *argp) {
    pc_arg_t *a = argp;
    unsigned char *p;
    while ((p = ring_get(a->ring)) != NULL) {
        size_t n = _rcgc_pool_usable_size(p);
        assert_true(n >= 8);
        _rcgc_pool_free(p);
        a->consumed++;
    }
    return NULL;
}

static void test_producer_consumer(void **state) {
    (void)state;
    rcgc_alloc_stats_t before = stats_now();
    ring_t ring;
    ring_init(&ring);
    enum { PRODUCERS = 3, CONSUMERS = 2 };
    pc_arg_t pa[PRODUCERS], ca[CONSUMERS];
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    long per = 200000 / SCALE;
    for (int i = 0; i < CONSUMERS; i++) {
        ca[i] = (pc_arg_t){ .ring = &ring };
        pthread_create(&ct[i], NULL, consumer, &ca[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pa[i] = (pc_arg_t){ .ring = &ring, .count = per, .seed = 1234u + (unsigned)i };
        pthread_create(&pt[i], NULL, producer, &pa[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(pt[i], NULL);
    ring_close(&ring);
    long total = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(ct[i], NULL);
        total += ca[i].consumed;
    }
    assert_int_equal(total, per * PRODUCERS);
    _rcgc_pool_collect(true);
    rcgc_alloc_stats_t after = stats_now();
    assert_int_equal(after.bytes_in_use, before.bytes_in_use);
    assert_int_equal(after.abandoned_pages, 0);
    printf("# producer/consumer: %ld blocks, %zu pages reclaimed so far, %zu segments now\n", total,
           (size_t)_rcgc_pool.pages_reclaimed, after.segments);
}

/* ---- many threads freeing each other's blocks through shared slots ------------------------ */
#define SHARED_SLOTS 4096
static void *shared_slot[SHARED_SLOTS];

typedef struct mix_arg {
    uint64_t seed;
    long steps;
} mix_arg_t;

static void *mixer(void *argp) {
    mix_arg_t *a = argp;
    uint64_t s = a->seed;
    void *mine[64] = { 0 };
    for (long i = 0; i < a->steps; i++) {
        uint64_t r = rcgc_test_rand(&s);
        size_t n = 1 + (r >> 8) % 700;
        rcgc_heap_kind_t kind = (rcgc_heap_kind_t)((r >> 20) % 3);
        if (r % 4 == 0) { /* swap a block through a shared slot: frees land on other threads' pages */
            void *p = _rcgc_pool_malloc(n, kind);
            memset(p, 0x11, n);
            void *old = __atomic_exchange_n(&shared_slot[(r >> 32) % SHARED_SLOTS], p, __ATOMIC_ACQ_REL);
            if (old) _rcgc_pool_free(old);
        } else { /* private churn */
            size_t k = (r >> 40) % 64;
            if (mine[k]) _rcgc_pool_free(mine[k]);
            mine[k] = _rcgc_pool_malloc(n, kind);
            memset(mine[k], 0x22, n);
        }
    }
    for (int k = 0; k < 64; k++) if (mine[k]) _rcgc_pool_free(mine[k]);
    return NULL;
}

static void test_many_threads(void **state) {
    (void)state;
    uint64_t seed = rcgc_test_seed(0xa11c0de5ULL);
    printf("# many-threads seed %llu\n", (unsigned long long)seed);
    rcgc_alloc_stats_t before = stats_now();
    enum { THREADS = 8 };
    pthread_t t[THREADS];
    mix_arg_t a[THREADS];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < THREADS; i++) {
            a[i] = (mix_arg_t){ .seed = seed + (uint64_t)(round * THREADS + i) * 7919u, .steps = 150000 / SCALE };
            pthread_create(&t[i], NULL, mixer, &a[i]);
        }
        for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    }
    for (int i = 0; i < SHARED_SLOTS; i++) {
        if (shared_slot[i]) _rcgc_pool_free(shared_slot[i]);
        shared_slot[i] = NULL;
    }
    _rcgc_pool_collect(true);
    rcgc_alloc_stats_t after = stats_now();
    assert_int_equal(after.bytes_in_use, before.bytes_in_use);
    assert_int_equal(after.abandoned_pages, 0);
}

/* ---- a thread's full pages come back after remote frees --------------------------------- */
typedef struct full_arg {
    void **blocks;
    size_t n;
    pthread_barrier_t *bar;
    size_t committed_growth;
} full_arg_t;

static void *fill_then_refill(void *argp) {
    full_arg_t *a = argp;
    for (size_t i = 0; i < a->n; i++) a->blocks[i] = _rcgc_pool_malloc(96, RCGC_HEAP_OBJECT);
    pthread_barrier_wait(a->bar); /* the main thread frees every block (remotely) */
    pthread_barrier_wait(a->bar);
    size_t before = stats_now().small_pages;
    for (size_t i = 0; i < a->n; i++) a->blocks[i] = _rcgc_pool_malloc(96, RCGC_HEAP_OBJECT);
    size_t after = stats_now().small_pages;
    a->committed_growth = after - before;
    for (size_t i = 0; i < a->n; i++) _rcgc_pool_free(a->blocks[i]);
    return NULL;
}

static void test_parked_pages_reused(void **state) {
    (void)state;
    size_t n = 60000 / SCALE;
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    full_arg_t a = { .blocks = calloc(n, sizeof(void *)), .n = n, .bar = &bar };
    pthread_t t;
    pthread_create(&t, NULL, fill_then_refill, &a);
    pthread_barrier_wait(&bar);
    for (size_t i = 0; i < n; i++) _rcgc_pool_free(a.blocks[i]);
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
    printf("# refill after remote frees took %zu new pages\n", a.committed_growth);
    assert_true(a.committed_growth <= 1);
    pthread_barrier_destroy(&bar);
    free(a.blocks);
}

/* ---- abandoned pages: walked, freed remotely, reclaimed ------------------------------------ */
static void *leave_blocks(void *argp) {
    void **out = argp;
    for (int i = 0; i < 5000; i++) out[i] = _rcgc_pool_malloc(40, RCGC_HEAP_GC);
    return NULL;
}

static void *take_page(void *argp) {
    size_t *reclaimed = argp;
    _rcgc_pool_lock();
    size_t before = _rcgc_pool.pages_reclaimed;
    _rcgc_pool_unlock();
    void *p = _rcgc_pool_malloc(40, RCGC_HEAP_GC);
    _rcgc_pool_lock();
    *reclaimed = _rcgc_pool.pages_reclaimed - before;
    _rcgc_pool_unlock();
    _rcgc_pool_free(p);
    return NULL;
}

static int count_block(void *b, size_t n, void *arg) {
    (void)b, (void)n;
    ++*(size_t *)arg;
    return 0;
}

static void test_abandon_reclaim(void **state) {
    (void)state;
    void **blocks = calloc(5000, sizeof(void *));
    pthread_t t;
    size_t base = 0, count = 0;
    _rcgc_heap_visit(RCGC_HEAP_GC, count_block, &base);
    pthread_create(&t, NULL, leave_blocks, blocks);
    pthread_join(t, NULL);
    _rcgc_heap_visit(RCGC_HEAP_GC, count_block, &count);
    assert_int_equal(count - base, 5000);
    for (int i = 0; i < 5000; i += 2) _rcgc_pool_free(blocks[i]); /* half of each page freed */
    size_t reclaimed = 0;
    _rcgc_pool_lock();
    size_t abandoned = _rcgc_pool.abandoned_count;
    _rcgc_pool_unlock();
    assert_true(abandoned > 0);
    pthread_create(&t, NULL, take_page, &reclaimed);
    pthread_join(t, NULL);
    assert_int_equal(reclaimed, 1);
    count = 0;
    _rcgc_heap_visit(RCGC_HEAP_GC, count_block, &count);
    assert_int_equal(count - base, 2500);
    for (int i = 1; i < 5000; i += 2) _rcgc_pool_free(blocks[i]);
    _rcgc_pool_collect(true);
    assert_int_equal(stats_now().abandoned_pages, 0);
    free(blocks);
}

/* ---- owners exit while other threads are freeing into their parked pages ----------------- */
typedef struct exit_arg {
    ring_t *ring;
    long count;
} exit_arg_t;

static void *alloc_and_exit(void *argp) {
    exit_arg_t *a = argp;
    for (long i = 0; i < a->count; i++) ring_put(a->ring, _rcgc_pool_malloc(24 + (size_t)(i % 5) * 40, RCGC_HEAP_GC));
    return NULL; /* exits while the consumers still free its blocks */
}

static void test_exit_during_remote_frees(void **state) {
    (void)state;
    rcgc_alloc_stats_t before = stats_now();
    for (int round = 0; round < 6; round++) {
        ring_t ring;
        ring_init(&ring);
        enum { OWNERS = 3, FREERS = 2 };
        pthread_t ot[OWNERS], ft[FREERS];
        pc_arg_t fa[FREERS];
        exit_arg_t oa = { .ring = &ring, .count = 30000 / SCALE };
        for (int i = 0; i < FREERS; i++) {
            fa[i] = (pc_arg_t){ .ring = &ring };
            pthread_create(&ft[i], NULL, consumer, &fa[i]);
        }
        for (int i = 0; i < OWNERS; i++) pthread_create(&ot[i], NULL, alloc_and_exit, &oa);
        for (int i = 0; i < OWNERS; i++) pthread_join(ot[i], NULL);
        ring_close(&ring);
        for (int i = 0; i < FREERS; i++) pthread_join(ft[i], NULL);
        assert_int_equal(fa[0].consumed + fa[1].consumed, oa.count * OWNERS);
    }
    _rcgc_pool_collect(true);
    rcgc_alloc_stats_t after = stats_now();
    assert_int_equal(after.bytes_in_use, before.bytes_in_use);
    assert_int_equal(after.abandoned_pages, 0);
}

/* ---- fork while another thread allocates -------------------------------------------------- */
static volatile int fork_stop;
static void *busy_alloc(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&fork_stop, __ATOMIC_RELAXED))
        _rcgc_pool_free(_rcgc_pool_malloc(20000, RCGC_HEAP_MEM)); /* large: takes the segment lock */
    return NULL;
}

static void test_fork_while_allocating(void **state) {
    (void)state;
    pthread_t t;
    pthread_create(&t, NULL, busy_alloc, NULL);
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        if (pid == 0) { /* the child must be able to allocate (no inherited held lock) */
            void *p = _rcgc_pool_malloc(30000, RCGC_HEAP_MEM), *q = _rcgc_pool_malloc(64, RCGC_HEAP_GC);
            _rcgc_pool_free(p);
            _rcgc_pool_free(q);
            _exit(p && q ? 0 : 1);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    __atomic_store_n(&fork_stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_consumer),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_parked_pages_reused),
        cmocka_unit_test(test_abandon_reclaim),
        cmocka_unit_test(test_exit_during_remote_frees),
        cmocka_unit_test(test_fork_while_allocating),
    };
    return cmocka_run_group_tests_name("alloc_threads", tests, NULL, NULL);
}
