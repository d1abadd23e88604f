/* test_qsbr_ft.c - QSBR and lock-free readers (free-threaded build):
 * free-threading.md §11 scenarios 10, 11, 12 and 29 (the QSBR part), the
 * stop-the-world fallbacks, the collector's hook and wrap-around.
 *
 * Every thread-side assertion uses RCGC_TEST_CHECK (aborts the process).
 * RCGC_TEST_SEED replays the randomized container stress.
 */
#include "testutil.h"
#include "internal/qsbr.h"
#include "internal/stw.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK RCGC_TEST_CHECK

static int quit_flag;
static bool quitting(void) { return __atomic_load_n(&quit_flag, __ATOMIC_ACQUIRE) != 0; }
static void set_flag(int *f, int v) { __atomic_store_n(f, v, __ATOMIC_RELEASE); }
static int get_flag(int *f) { return __atomic_load_n(f, __ATOMIC_ACQUIRE); }

static rcgc_qsbr_stats_t stats(void) {
    rcgc_qsbr_stats_t st;
    rcgc_qsbr_get_stats(&st);
    return st;
}

/* ---- the object model: boxes with a magic word and a serial ------------------------ */

#define BOX_LIVE 0x11FE11FEu
#define BOX_DEAD 0xDEADDEADu
typedef struct box {
    rcgc_object_t ob;
    uint32_t magic;     /* atomic: BOX_LIVE, BOX_DEAD once its dealloc ran */
    uint32_t slot;      /* the only container slot it is ever stored in */
    uint64_t serial;    /* unique per box; never changed after creation */
} box_t;
static long boxes_freed;
static void box_dealloc(rcgc_object_t *self) {
    __atomic_store_n(&((box_t *)self)->magic, BOX_DEAD, __ATOMIC_RELAXED);
    __atomic_fetch_add(&boxes_freed, 1, __ATOMIC_RELAXED);
    rcgc_object_free(self);
}
static const rcgc_type_t box_type = { .name = "box", .basic_size = sizeof(box_t), .dealloc = box_dealloc };

static uint64_t next_serial;
static box_t *box_new(uint32_t slot, bool lockfree) {
    box_t *b = (box_t *)rcgc_object_new(&box_type);
    CHECK(b != NULL);
    if (lockfree) rcgc_object_enable_lockfree_reads(&b->ob);
    b->magic = BOX_LIVE;
    b->slot = slot;
    b->serial = __atomic_add_fetch(&next_serial, 1, __ATOMIC_RELAXED);
    return b;
}

/* ---- sequences ------------------------------------------------------------------------ */

static void test_wrap_safe_comparisons(void **state) {
    assert_true(_rcgc_qsbr_lt(1, 3));
    assert_true(_rcgc_qsbr_lt(UINT64_MAX - 1, 1));  /* across the wrap */
    assert_false(_rcgc_qsbr_lt(1, UINT64_MAX - 1));
    assert_true(_rcgc_qsbr_leq(5, 5));
    /* Run the write sequence across 2^64 with memory pending: still freed. */
    assert_int_equal(rcgc_qsbr_process(), 0);
    _rcgc_qsbr_test_set_sequence(UINT64_MAX - 4); /* odd */
    for (int i = 0; i < 8; i++) {
        rcgc_mem_free_delayed(rcgc_mem_malloc(100), 100);
        _rcgc_qsbr_advance();
        rcgc_safepoint();
    }
    assert_int_equal(rcgc_qsbr_process(), 0);
    rcgc_qsbr_stats_t st = stats();
    assert_true(st.write_seq < 100 && (st.write_seq & 1) == 1); /* wrapped, never 0 */
    assert_true(_rcgc_qsbr_leq(st.write_seq, st.read_seq));
}

/* ---- §11 scenario 11: a paused reader blocks reuse; a detached one does not --------- */

static int r_phase, r_cmd;
static box_t *r_seen;
static uint64_t r_serial;
/* Commands: 1 = load r_seen's pointer and hold it (no safe point);
 * 2 = pass a safe point; 3 = detach (blocking) until 4; 5 = exit. */
static void *paused_reader(void *arg) {
    (void)arg;
    CHECK(rcgc_thread_attach() == 0);
    box_t *held = NULL;
    for (int done = 0; !done;) {
        int c = get_flag(&r_cmd);
        switch (c) {
        case 1:
            held = __atomic_load_n(&r_seen, __ATOMIC_ACQUIRE);
            __atomic_store_n(&r_serial, held->serial, __ATOMIC_RELAXED);
            break;
        case 2: rcgc_safepoint(); held = NULL; break;
        case 3:
            rcgc_blocking_begin();
            set_flag(&r_phase, 3);
            while (get_flag(&r_cmd) == 3) sched_yield();
            rcgc_blocking_end();
            set_flag(&r_cmd, 0); /* acknowledges command 4 */
            continue;
        case 5: done = 1; set_flag(&r_cmd, 0); continue;
        default: sched_yield(); continue;
        }
        set_flag(&r_cmd, 0);
        set_flag(&r_phase, c);
    }
    /* a raw pointer that was held across no safe point still reads the same block */
    (void)held;
    rcgc_thread_detach();
    return NULL;
}
static void reader_do(int c) {
    set_flag(&r_phase, 0);
    set_flag(&r_cmd, c);
    assert_true(rcgc_test_wait_flag(&r_phase, 30));
    assert_int_equal(get_flag(&r_phase), c);
}

static void test_paused_reader_blocks_reuse_detached_does_not(void **state) {
    rcgc_qsbr_process();
    pthread_t th;
    set_flag(&r_cmd, 0);
    pthread_create(&th, NULL, paused_reader, NULL);
    reader_do(2);
    box_t *b = box_new(0, true);
    __atomic_store_n(&r_seen, b, __ATOMIC_RELEASE);
    reader_do(1); /* the reader holds a raw pointer to b, between quiescent points */
    long freed0 = boxes_freed;
    rcgc_decref(&b->ob); /* b dies: its dealloc ran, its memory waits */
    assert_int_equal(boxes_freed, freed0 + 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rcgc_qsbr_process(), 1); /* held up by the reader */
        box_t *other = box_new(1, false);       /* same size: must not get b's block */
        assert_ptr_not_equal(other, b);
        rcgc_decref(&other->ob);
    }
    assert_int_equal(__atomic_load_n(&b->serial, __ATOMIC_RELAXED), r_serial); /* still b's bytes */
    assert_false(rcgc_object_try_incref(&b->ob)); /* dead: try-incref refuses */
    reader_do(2); /* the reader passes a safe point */
    assert_int_equal(rcgc_qsbr_process(), 0);

    /* a detached (blocking) reader never holds up reclamation */
    reader_do(3);
    box_t *c = box_new(0, true);
    rcgc_decref(&c->ob);
    assert_int_equal(rcgc_qsbr_process(), 0);
    rcgc_mem_free_delayed(rcgc_mem_malloc(4096), 4096);
    assert_int_equal(rcgc_qsbr_process(), 0);
    set_flag(&r_cmd, 4);
    while (get_flag(&r_cmd) == 4) sched_yield();
    /* the reader is back: attached and quiescent at its attach; then exits */
    set_flag(&r_cmd, 5);
    pthread_join(th, NULL);
}

/* rcgc_decref_delayed: the decref itself waits for the grace period. */
static void test_decref_delayed_waits_for_readers(void **state) {
    rcgc_qsbr_process();
    pthread_t th;
    set_flag(&r_cmd, 0);
    pthread_create(&th, NULL, paused_reader, NULL);
    box_t *b = box_new(0, true);
    __atomic_store_n(&r_seen, b, __ATOMIC_RELEASE);
    reader_do(1);
    long freed0 = boxes_freed;
    rcgc_decref_delayed(&b->ob);
    assert_int_equal(rcgc_qsbr_process(), 1);
    assert_int_equal(boxes_freed, freed0); /* still alive: the reader may incref it */
    assert_int_equal(__atomic_load_n(&b->magic, __ATOMIC_RELAXED), BOX_LIVE);
    reader_do(2);
    /* the decref ran; b's memory now waits for a grace period of its own */
    assert_int_equal(rcgc_qsbr_process(), 1);
    assert_int_equal(boxes_freed, freed0 + 1);
    reader_do(2);
    assert_int_equal(rcgc_qsbr_process(), 0);
    set_flag(&r_cmd, 5);
    pthread_join(th, NULL);
}

/* Without rcgc_object_enable_lockfree_reads the memory is freed at once. */
static void test_plain_objects_are_freed_at_once(void **state) {
    rcgc_qsbr_process();
    size_t items0 = stats().thread_items;
    box_t *b = box_new(0, false);
    rcgc_decref(&b->ob);
    assert_int_equal(stats().thread_items, items0);
    box_t *l = box_new(0, true);
    rcgc_decref(&l->ob);
    assert_int_equal(stats().thread_items, items0 + 1);
    assert_int_equal(rcgc_qsbr_process(), 0); /* nobody else online */
}

/* ---- §11 scenario 10: lock-free container against a recycling writer ------------------ */

#define NSLOTS 8
static rcgc_object_t *slots[NSLOTS];
static long reads_ok, reads_retry;
static uint64_t base_seed;

static void maybe_yield(uint64_t *rng) {
    if ((rcgc_test_rand(rng) & 7) == 0) sched_yield();
}

static void *container_reader(void *arg) {
    uint64_t rng = base_seed + (uintptr_t)arg * 7919u;
    uint64_t last_serial[NSLOTS] = { 0 };
    long ok = 0, retry = 0, iter = 0;
    CHECK(rcgc_thread_attach() == 0);
    while (!quitting()) {
        if ((++iter & 15) == 0) rcgc_safepoint();
        uint32_t i = (uint32_t)(rcgc_test_rand(&rng) % NSLOTS);
        box_t *b;
        if (rcgc_test_rand(&rng) & 1) {
            /* by hand, with yields between the steps */
            box_t *p = __atomic_load_n((box_t **)&slots[i], __ATOMIC_ACQUIRE);
            if (!p) continue;
            uint64_t s1 = __atomic_load_n(&p->serial, __ATOMIC_RELAXED);
            maybe_yield(&rng);
            bool got = rcgc_object_try_incref(&p->ob);
            maybe_yield(&rng);
            /* no safe point since the load: the block still holds p's bytes */
            CHECK(__atomic_load_n(&p->serial, __ATOMIC_RELAXED) == s1);
            if (!got) {
                retry++;
                continue;
            }
            if (__atomic_load_n((box_t **)&slots[i], __ATOMIC_ACQUIRE) != p) {
                rcgc_decref(&p->ob);
                retry++;
                continue;
            }
            b = p;
        } else {
            b = (box_t *)rcgc_object_get_ref_lockfree(&slots[i]);
            if (!b) continue;
        }
        CHECK(__atomic_load_n(&b->magic, __ATOMIC_RELAXED) == BOX_LIVE); /* never dead */
        CHECK(b->slot == i);                                             /* never foreign */
        CHECK(b->serial >= last_serial[i]);                              /* never stale */
        last_serial[i] = b->serial;
        ok++;
        maybe_yield(&rng);
        rcgc_decref(&b->ob);
    }
    __atomic_fetch_add(&reads_ok, ok, __ATOMIC_RELAXED);
    __atomic_fetch_add(&reads_retry, retry, __ATOMIC_RELAXED);
    rcgc_thread_detach();
    return NULL;
}

static void test_lockfree_container_never_returns_dead_or_foreign(void **state) {
    base_seed = rcgc_test_seed(20261124);
    long iters = getenv("RCGC_TEST_LONG") ? 2000000 : 40000;
    for (uint32_t i = 0; i < NSLOTS; i++) slots[i] = &box_new(i, true)->ob;
    __atomic_store_n(&quit_flag, 0, __ATOMIC_RELEASE);
    reads_ok = reads_retry = 0;
    enum { NR = 3 };
    pthread_t th[NR];
    for (int r = 0; r < NR; r++) pthread_create(&th[r], NULL, container_reader, (void *)(intptr_t)(r + 1));
    uint64_t rng = base_seed;
    rcgc_qsbr_stats_t st0 = stats();
    for (long n = 0; n < iters; n++) {
        uint32_t i = (uint32_t)(rcgc_test_rand(&rng) % NSLOTS);
        box_t *nb = box_new(i, true);
        rcgc_object_t *old = __atomic_exchange_n(&slots[i], &nb->ob, __ATOMIC_ACQ_REL);
        maybe_yield(&rng);
        rcgc_decref(old); /* usually dies here: its memory goes through QSBR */
        /* same-size objects take whatever block the allocator has free */
        box_t *junk[3];
        for (int k = 0; k < 3; k++) junk[k] = box_new(NSLOTS + 1, false);
        for (int k = 0; k < 3; k++) {
            junk[k]->magic = 0xBADu;
            rcgc_decref(&junk[k]->ob);
        }
        rcgc_safepoint();
    }
    __atomic_store_n(&quit_flag, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    for (int r = 0; r < NR; r++) pthread_join(th[r], NULL);
    rcgc_blocking_end();
    for (uint32_t i = 0; i < NSLOTS; i++) rcgc_decref(slots[i]);
    rcgc_qsbr_stats_t st = stats();
    print_message("[qsbr] %ld writes, %ld reads ok, %ld retries, %llu grace periods, %llu items freed, "
                  "%llu barriers\n", iters, reads_ok, reads_retry,
                  (unsigned long long)(st.advances - st0.advances), (unsigned long long)(st.freed - st0.freed),
                  (unsigned long long)(st.stw_barriers - st0.stw_barriers));
    assert_true(reads_ok > 0);
    assert_true(st.freed - st0.freed > 0);
    assert_int_equal(rcgc_qsbr_process(), 0);
}

/* ---- §11 scenario 12: retiring large blocks at a high rate; thread churn ------------------ */

#define BIG (64 * 1024)
#define LIMIT_BYTES (256 * 1024)
static int retirers_go;
static void *retirer(void *arg) {
    long n = (long)(intptr_t)arg;
    CHECK(rcgc_thread_attach() == 0);
    while (!get_flag(&retirers_go)) rcgc_safepoint();
    for (long i = 0; i < n; i++) {
        void *p = rcgc_mem_malloc(BIG);
        CHECK(p != NULL);
        memset(p, 1, 64);
        rcgc_mem_free_delayed(p, BIG);
        rcgc_safepoint();
    }
    rcgc_thread_detach(); /* exit: what is left goes to the orphan queue */
    return NULL;
}

static size_t run_retirers(int nthreads, long per_thread) {
    rcgc_qsbr_process();
    size_t base = stats().total_bytes;
    rcgc_qsbr_reset_peak();
    set_flag(&retirers_go, 0);
    pthread_t th[8];
    for (int t = 0; t < nthreads; t++) pthread_create(&th[t], NULL, retirer, (void *)(intptr_t)per_thread);
    set_flag(&retirers_go, 1);
    rcgc_blocking_begin();
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
    rcgc_blocking_end();
    rcgc_qsbr_process();
    rcgc_qsbr_stats_t st = stats();
    assert_int_equal(st.orphan_items, 0);
    assert_int_equal(st.total_bytes, base);
    return st.peak_total_bytes - base;
}

static void test_large_blocks_keep_peak_bounded(void **state) {
    assert_int_equal(rcgc_qsbr_set_limits(RCGC_QSBR_DEFAULT_MAX_ITEMS, LIMIT_BYTES), 0);
    size_t one = run_retirers(1, 400);
    uint64_t b0 = stats().stw_barriers;
    size_t eight = run_retirers(8, 400);
    /* Per thread: under twice the limit before a safe point, plus the block
     * retired since; 8 threads hold at most 8 times that. Without the byte
     * bound, 256 items of 64 KiB (16 MiB per thread) could wait. */
    size_t per_thread_bound = 2 * LIMIT_BYTES + BIG;
    print_message("[qsbr] peak pending: 1 thread %zu KiB, 8 threads %zu KiB (bound %zu KiB), %llu barriers\n",
                  one / 1024, eight / 1024, 8 * per_thread_bound / 1024,
                  (unsigned long long)(stats().stw_barriers - b0));
    assert_true(one <= per_thread_bound);
    assert_true(eight <= 8 * per_thread_bound);
    rcgc_qsbr_set_limits(RCGC_QSBR_DEFAULT_MAX_ITEMS, RCGC_QSBR_DEFAULT_MAX_BYTES);
}

static void *short_lived(void *arg) {
    (void)arg;
    CHECK(rcgc_thread_attach() == 0);
    for (int i = 0; i < 3; i++) rcgc_mem_free_delayed(rcgc_mem_malloc(512), 512);
    rcgc_object_t *o = &box_new(0, true)->ob;
    rcgc_decref(o);
    rcgc_thread_detach();
    return NULL;
}

/* gh-130794: exited threads' queues must not pile up. */
static void test_thread_churn_leaves_no_growing_queue(void **state) {
    long nthreads = getenv("RCGC_TEST_LONG") ? 100000 : 20000;
    enum { BATCH = 4 };
    rcgc_qsbr_process();
    size_t base = stats().total_bytes, max_orphans = 0;
    rcgc_blocking_begin(); /* the main thread is offline while it waits */
    for (long n = 0; n < nthreads; n += BATCH) {
        pthread_t th[BATCH];
        for (int k = 0; k < BATCH; k++) CHECK(pthread_create(&th[k], NULL, short_lived, NULL) == 0);
        for (int k = 0; k < BATCH; k++) pthread_join(th[k], NULL);
        rcgc_qsbr_stats_t st = stats();
        if (st.orphan_items > max_orphans) max_orphans = st.orphan_items;
    }
    rcgc_blocking_end();
    print_message("[qsbr] %ld short-lived threads: at most %zu orphaned items\n", nthreads, max_orphans);
    /* each exiting thread frees what every online thread has passed: what is
     * left is at most a few batches' worth (4 items per thread) */
    assert_true(max_orphans <= 4 * BATCH * 4);
    rcgc_qsbr_process();
    assert_int_equal(stats().orphan_items, 0);
    assert_int_equal(stats().total_bytes, base);
}

/* ---- stop-the-world: the collector's hook and the out-of-memory fallback ------------------ */

static int holder_phase;
static box_t *holder_box;
static void *retire_then_block(void *arg) {
    (void)arg;
    CHECK(rcgc_thread_attach() == 0);
    for (int i = 0; i < 5; i++) rcgc_mem_free_delayed(rcgc_mem_malloc(1000), 1000);
    holder_box = box_new(0, true);
    rcgc_decref_delayed(&holder_box->ob);
    CHECK(stats().thread_items == 6);
    rcgc_blocking_begin(); /* offline, items still queued (the main thread is not quiescent) */
    set_flag(&holder_phase, 1);
    while (get_flag(&holder_phase) != 2) sched_yield();
    rcgc_blocking_end();
    CHECK(stats().thread_items == 1); /* the decref stayed */
    /* and is released at one of this thread's safe points, once the main
     * thread (attached until it joins us) has passed one or detached */
    while (rcgc_qsbr_process() != 0) sched_yield();
    rcgc_thread_detach();
    return NULL;
}

static void process_all_stopped(bool by_collector) {
    rcgc_qsbr_process();
    long freed0 = boxes_freed;
    size_t base = stats().total_bytes;
    set_flag(&holder_phase, 0);
    pthread_t th;
    pthread_create(&th, NULL, retire_then_block, NULL);
    rcgc_blocking_begin();
    assert_true(rcgc_test_wait_flag(&holder_phase, 30));
    rcgc_blocking_end();
    assert_true(stats().total_bytes >= base + 5000);
    if (by_collector) {
        assert_true(rcgc_gc_collect(2) >= 0);
    } else {
        _rcgc_stop_the_world();
        _rcgc_qsbr_process_all_stopped();
        _rcgc_start_the_world();
    }
    assert_int_equal(stats().total_bytes, base); /* memory freed; the decref is 0 bytes */
    assert_int_equal(boxes_freed, freed0);        /* no destructor ran while stopped */
    set_flag(&holder_phase, 2);
    rcgc_blocking_begin();
    pthread_join(th, NULL);
    rcgc_blocking_end();
    assert_int_equal(boxes_freed, freed0 + 1);
}

static void test_process_all_stopped_frees_every_queue(void **state) { process_all_stopped(false); }
/* the free-threaded collector calls it in its first pause */
static void test_collection_frees_pending_memory(void **state) { process_all_stopped(true); }

static void test_chunk_oom_falls_back_to_stop_the_world(void **state) {
    rcgc_qsbr_process();
    assert_int_equal(rcgc_qsbr_set_limits(100000, (size_t)1 << 30), 0);
    /* fill the current chunk and the spare so that the next push needs a new one */
    int n = 0;
    rcgc_alloc_fail_spec_t spec = { .after = 1, .repeat = 0, .domains = 1u << RCGC_DOMAIN_RAW };
    uint64_t oom0 = stats().oom_fallbacks;
    rcgc_error_clear();
    size_t items_before;
    for (;;) {
        void *p = rcgc_mem_malloc(64);
        assert_non_null(p);
        items_before = stats().thread_items;
        rcgc_alloc_set_fail_spec(&spec); /* the next RAW allocation fails: a new chunk */
        rcgc_mem_free_delayed(p, 64);
        bool injected = rcgc_alloc_fail_injected() > 0;
        rcgc_alloc_set_fail_spec(NULL);
        if (injected) break;
        assert_true(++n < 1000);
    }
    assert_int_equal(stats().oom_fallbacks, oom0 + 1);
    assert_int_equal(stats().thread_items, items_before); /* freed at once, not queued */
    assert_int_equal(rcgc_last_error(), RCGC_OK);         /* the caller's error state untouched */
    rcgc_qsbr_set_limits(RCGC_QSBR_DEFAULT_MAX_ITEMS, RCGC_QSBR_DEFAULT_MAX_BYTES);
    assert_int_equal(rcgc_qsbr_process(), 0);
}

/* ---- §11 scenario 29: fork with QSBR users in flight ------------------------------------- */

static void *busy_retirer(void *arg) {
    (void)arg;
    CHECK(rcgc_thread_attach() == 0);
    while (!quitting()) {
        rcgc_mem_free_delayed(rcgc_mem_malloc(256), 256);
        box_t *b = box_new(0, true);
        rcgc_decref_delayed(&b->ob);
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static int fork_child(void) {
    /* a failure here must show as a signal, not as cmocka's recovery */
    signal(SIGABRT, SIG_DFL);
    signal(SIGSEGV, SIG_DFL);
    /* the other threads' queues were handed to this process's orphan queue */
    for (int i = 0; i < 1000; i++) {
        rcgc_mem_free_delayed(rcgc_mem_malloc(300), 300);
        rcgc_object_t *o = &box_new(0, true)->ob;
        rcgc_decref(o);
        rcgc_safepoint();
    }
    if (rcgc_qsbr_process() != 0) return 10;
    rcgc_qsbr_stats_t st = stats();
    if (st.orphan_items != 0) return 11;
    if (st.thread_items != 0) return 12;
    _rcgc_stop_the_world();
    _rcgc_qsbr_process_all_stopped();
    _rcgc_start_the_world();
    return 0;
}

static void test_fork_child_can_use_qsbr(void **state) {
    __atomic_store_n(&quit_flag, 0, __ATOMIC_RELEASE);
    pthread_t th[2];
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, busy_retirer, NULL);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 50; i++) {
            rcgc_mem_free_delayed(rcgc_mem_malloc(128), 128);
            rcgc_safepoint();
        }
        pid_t pid = fork();
        if (pid == 0) _exit(fork_child());
        assert_true(pid > 0);
        int status = 0;
        rcgc_blocking_begin();
        pid_t r = waitpid(pid, &status, 0);
        rcgc_blocking_end();
        assert_int_equal(r, pid);
        if (WIFSIGNALED(status)) fail_msg("fork child died of signal %d", WTERMSIG(status));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    __atomic_store_n(&quit_flag, 1, __ATOMIC_RELEASE);
    rcgc_blocking_begin();
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    rcgc_blocking_end();
    assert_int_equal(rcgc_qsbr_process(), 0);
    assert_int_equal(stats().orphan_items, 0);
}

int main(void) {
    alarm(600);
    if (getenv("RCGC_TEST_FILTER")) cmocka_set_test_filter(getenv("RCGC_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_safe_comparisons),
        cmocka_unit_test(test_paused_reader_blocks_reuse_detached_does_not),
        cmocka_unit_test(test_decref_delayed_waits_for_readers),
        cmocka_unit_test(test_plain_objects_are_freed_at_once),
        cmocka_unit_test(test_lockfree_container_never_returns_dead_or_foreign),
        cmocka_unit_test(test_large_blocks_keep_peak_bounded),
        cmocka_unit_test(test_thread_churn_leaves_no_growing_queue),
        cmocka_unit_test(test_process_all_stopped_frees_every_queue),
        cmocka_unit_test(test_collection_frees_pending_memory),
        cmocka_unit_test(test_chunk_oom_falls_back_to_stop_the_world),
        cmocka_unit_test(test_fork_child_can_use_qsbr),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
