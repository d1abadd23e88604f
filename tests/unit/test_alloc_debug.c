/* test_alloc_debug.c - RCGC_MALLOC=debug|malloc|malloc_debug and the debug
 * layer's reports, plus the ASan check of pooled memory.
 *
 * The mode is fixed at the first allocation, so this program never touches
 * the library in the parent: every case forks a child that picks its mode,
 * calls rcgc_init() and runs; faulty cases must die with a report whose text
 * is checked here.
 */
#include "testutil.h"
#include "internal/alloc_debug.h"
#include "rcgc/trace.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

static void start(rcgc_alloc_mode_t mode) {
    if (rcgc_alloc_set_mode(mode) != 0 || rcgc_init() != 0) {
        fprintf(stderr, "child setup failed\n");
        _exit(3);
    }
}

/* Serial number of a debug block, read from its header (big-endian). */
static unsigned long long serial_of(const void *p) {
    const unsigned char *h = (const unsigned char *)p - RCGC_DEBUG_HEAD + 8;
    unsigned long long v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | h[i];
    return v;
}

/* Print the serial so the parent can look for it in the report. */
static void announce(const void *p) {
    fprintf(stderr, "[serial=%llu]\n", serial_of(p));
    fflush(stderr);
}

/* Run fn in a child, require it died, and that its stderr holds every
 * needle plus "serial number <N>" for the [serial=N] it announced. */
static void expect_report(rcgc_test_fn fn, const char **needles) {
    int status = 0;
    char *out = rcgc_test_run_child(fn, NULL, &status);
    assert_non_null(out);
    bool died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!died || (WIFEXITED(status) && WEXITSTATUS(status) == 3)) fprintf(stderr, "child output:\n%s\n", out);
    assert_true(died);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    for (; *needles; needles++) {
        if (!strstr(out, *needles)) fprintf(stderr, "missing \"%s\" in:\n%s\n", *needles, out);
        assert_non_null(strstr(out, *needles));
    }
    const char *ann = strstr(out, "[serial=");
    if (ann) {
        char want[64];
        snprintf(want, sizeof want, "serial number %llu\n", strtoull(ann + 8, NULL, 10));
        if (!strstr(out, want)) fprintf(stderr, "missing \"%s\" in:\n%s\n", want, out);
        assert_non_null(strstr(out, want));
    }
    free(out);
}

/* Run fn in a child that must exit 0 (checks inside use exit codes). */
static void expect_clean(rcgc_test_fn fn) {
    int status = 0;
    char *out = rcgc_test_run_child(fn, NULL, &status);
    assert_non_null(out);
    /* children end with _exit: a sanitizer report would not change the status */
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strstr(out, "Sanitizer");
    if (!ok) fprintf(stderr, "child failed (status 0x%x):\n%s\n", status, out);
    assert_true(ok);
    free(out);
}

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); _exit(4); } } while (0)

/* ---- faults and their reports ----------------------------------------------- */
static void do_overflow(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    char *p = rcgc_mem_malloc(24);
    announce(p);
    p[24] = 'A'; /* one past the end */
    rcgc_mem_free(p);
}

static void test_overflow_report(void **state) {
    (void)state;
    const char *n[] = { "buffer overflow", "24 bytes originally requested", "domain MEM ('m')",
                        "rcgc_mem_free", "41*", NULL };
    expect_report(do_overflow, n);
}

static void do_underflow(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    char *p = rcgc_raw_malloc(10);
    announce(p);
    p[-2] = 'B';
    rcgc_raw_free(p);
}

static void test_underflow_report(void **state) {
    (void)state;
    const char *n[] = { "buffer underflow", "10 bytes originally requested", "domain RAW", "42*", NULL };
    expect_report(do_underflow, n);
}

static void do_double_free(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    void *p = rcgc_obj_malloc(33);
    announce(p);
    rcgc_obj_free(p);
    rcgc_obj_free(p);
}

static void test_double_free_report(void **state) {
    (void)state;
    const char *n[] = { "double free", "33 bytes originally requested", "domain OBJ", NULL };
    expect_report(do_double_free, n);
}

static void do_wrong_domain(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    void *p = rcgc_mem_malloc(16);
    announce(p);
    rcgc_obj_free(p);
}

static void test_wrong_domain_report(void **state) {
    (void)state;
    const char *n[] = { "wrong domain", "allocated with rcgc_mem_malloc (MEM)", "freed through rcgc_obj (OBJ)",
                        NULL };
    expect_report(do_wrong_domain, n);
}

static void do_write_after_free_heapcheck(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    unsigned char *p = rcgc_obj_malloc(40);
    announce(p);
    rcgc_obj_free(p);
    p[5] = 0x42; /* the block sits in the quarantine: still mapped */
    rcgc_alloc_check_heap();
}

static void test_write_after_free_heap_check(void **state) {
    (void)state;
    const char *n[] = { "write after free", "heap check", "40 bytes originally requested", "p+5", "42*", NULL };
    expect_report(do_write_after_free_heapcheck, n);
}

static void do_write_after_free_eviction(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    unsigned char *p = rcgc_mem_malloc(64);
    announce(p);
    rcgc_mem_free(p);
    p[63] = 0x99;
    for (int i = 0; i < 1000; i++) rcgc_mem_free(rcgc_mem_malloc(16)); /* push it out */
    fprintf(stderr, "not detected\n");
}

static void test_write_after_free_eviction(void **state) {
    (void)state;
    const char *n[] = { "write after free", "quarantine eviction", "64 bytes", "99*", NULL };
    expect_report(do_write_after_free_eviction, n);
}

static void do_heap_check_live(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    void *others[10];
    for (int i = 0; i < 10; i++) others[i] = rcgc_obj_malloc(24);
    char *p = rcgc_mem_malloc(10);
    announce(p);
    CHECK(rcgc_alloc_check_heap() >= 11); /* all fine so far */
    p[11] = 'Z';
    rcgc_alloc_check_heap();
    (void)others;
}

static void test_heap_check_finds_live_overflow(void **state) {
    (void)state;
    const char *n[] = { "buffer overflow", "heap check (live block)", "10 bytes", "domain MEM", "5a*", NULL };
    expect_report(do_heap_check_live, n);
}

static void do_check_block(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_MALLOC_DEBUG);
    char *p = rcgc_raw_malloc(7);
    announce(p);
    rcgc_alloc_check_block(p); /* fine */
    memset(p, 'x', 9);
    rcgc_alloc_check_block(p);
}

static void test_check_block_live(void **state) {
    (void)state;
    const char *n[] = { "buffer overflow", "rcgc_alloc_check_block", "7 bytes", "78*", NULL };
    expect_report(do_check_block, n);
}

static void do_object_overflow(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    unsigned char *o = _rcgc_alloc_object(48, RCGC_HEAP_GC);
    announce(o);
    o[48] = 0;
    _rcgc_free_object(o, RCGC_HEAP_GC);
}

static void test_object_overflow(void **state) {
    (void)state;
    const char *n[] = { "buffer overflow", "48 bytes", "domain OBJ", "00*", NULL };
    expect_report(do_object_overflow, n);
}

static void do_env_debug(void *arg) {
    (void)arg;
    setenv("RCGC_MALLOC", "debug", 1);
    if (rcgc_init() != 0) _exit(3);
    CHECK(rcgc_alloc_get_mode() == RCGC_ALLOC_MODE_DEBUG);
    char *p = rcgc_mem_malloc(5);
    announce(p);
    p[5] = 1;
    rcgc_mem_free(p);
}

static void test_env_selects_debug(void **state) {
    (void)state;
    const char *n[] = { "buffer overflow", "5 bytes", NULL };
    expect_report(do_env_debug, n);
}

static void do_traced_site_in_report(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    rcgc_trace_start(0);
    char *p = rcgc_obj_malloc_at(12, "victim.c", 77);
    announce(p);
    p[12] = 2;
    rcgc_obj_free(p);
}

static void test_report_names_traced_site(void **state) {
    (void)state;
    const char *n[] = { "buffer overflow", "allocated at victim.c:77", NULL };
    expect_report(do_traced_site_in_report, n);
}

/* ---- modes that must work ------------------------------------------------------ */
static void do_debug_fills(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    CHECK(rcgc_alloc_get_mode() == RCGC_ALLOC_MODE_DEBUG);
    CHECK(_rcgc_alloc_object_offset() == RCGC_DEBUG_HEAD);
    unsigned char *p = rcgc_mem_malloc(20);
    CHECK(((uintptr_t)p & 15) == 0);
    for (int i = 0; i < 20; i++) CHECK(p[i] == 0xCD);  /* fresh: clean byte */
    for (int i = 20; i < 36; i++) CHECK(p[i] == 0xFD); /* trailing guard */
    unsigned char *z = rcgc_mem_calloc(4, 5);
    for (int i = 0; i < 20; i++) CHECK(z[i] == 0);
    memset(p, 7, 20);
    unsigned char *q = rcgc_mem_realloc(p, 40); /* always moves */
    CHECK(q != p);
    for (int i = 0; i < 20; i++) CHECK(q[i] == 7);
    for (int i = 20; i < 40; i++) CHECK(q[i] == 0xCD);
    for (int i = 0; i < 20; i++) CHECK(p[i] == 0xDD);  /* old block: dead bytes */
    unsigned long long s1 = serial_of(q), s2 = serial_of(z);
    CHECK(s1 > s2);
    rcgc_alloc_check_block(q);
    rcgc_mem_free(q);
    rcgc_mem_free(z);
    CHECK(rcgc_alloc_check_heap() >= 3);
    void *o = _rcgc_alloc_object(64, RCGC_HEAP_GC);
    void *o2 = _rcgc_alloc_object(64, RCGC_HEAP_OBJECT);
    CHECK(o && o2);
    _rcgc_free_object(o, RCGC_HEAP_GC);
    _rcgc_free_object(o2, RCGC_HEAP_OBJECT);
    for (int i = 0; i < 2000; i++) rcgc_obj_free(rcgc_obj_malloc((size_t)i % 300)); /* quarantine cycles */
    CHECK(rcgc_shutdown() == 0);
    _exit(0);
}

static void test_debug_mode_fills_and_quarantine(void **state) {
    (void)state;
    expect_clean(do_debug_fills);
}

/* Threads allocate, realloc and free through the debug layer at once: the
 * quarantine, the serial counter and the eviction checks must hold up
 * (run under TSan in the free-threaded build). */
static void *debug_churn(void *arg) {
    uint64_t seed = (uintptr_t)arg;
    rcgc_thread_attach();
    void *keep[32] = { 0 };
    for (int i = 0; i < 3000; i++) {
        uint64_t r = rcgc_test_rand(&seed);
        unsigned k = (unsigned)(r & 31);
        size_t n = (size_t)(r >> 40) % 200;
        if (keep[k]) {
            rcgc_obj_free(keep[k]);
            keep[k] = NULL;
            void *t = rcgc_raw_realloc(rcgc_raw_malloc(8), n + 1); /* RAW, realloc path */
            rcgc_raw_free(t);
        } else {
            keep[k] = rcgc_obj_malloc(n);
            if (keep[k]) memset(keep[k], 1, n);
        }
    }
    for (int k = 0; k < 32; k++) rcgc_obj_free(keep[k]);
    rcgc_thread_detach();
    return NULL;
}

static void do_debug_threads(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    rcgc_blocking_begin(); /* let the workers attach (default flavour's global lock) */
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++) pthread_create(&th[i], NULL, debug_churn, (void *)(i + 1));
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    rcgc_blocking_end();
    CHECK(rcgc_alloc_check_heap() > 0);
    CHECK(rcgc_shutdown() == 0);
    _exit(0);
}

static void test_debug_mode_threads(void **state) {
    (void)state;
    expect_clean(do_debug_threads);
}

/* fork() while other threads keep the debug quarantine's and the tracer's
 * locks busy: the grandchild must be able to allocate, free, trace and check
 * (the allocator holds both locks across fork). The busy threads hold the
 * locks without holding blocks (a block only another thread pointed to would
 * be a leak in the grandchild, which memcheck reports): verifying a full
 * quarantine holds its lock a long time. */
static int fork_quit;
static void *locked_churn(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&fork_quit, __ATOMIC_ACQUIRE)) {
        rcgc_alloc_check_heap();
        rcgc_trace_reset_peak();
    }
    return NULL;
}

static int grandchild_work(void) {
    for (int i = 0; i < 100; i++) {
        void *p = rcgc_raw_malloc(64), *q = rcgc_mem_malloc(64);
        if (!p || !q) return 20;
        rcgc_raw_free(p);
        rcgc_mem_free(q);
    }
    void *keep = rcgc_raw_malloc(5000);
    size_t cur = 0;
    rcgc_trace_get_traced_memory(&cur, NULL);
    if (!keep || cur < 5000) return 21;
    rcgc_raw_free(keep);
    if (rcgc_alloc_check_heap() == 0) return 22;
    return 0;
}

static void do_fork_with_busy_locks(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEBUG);
    CHECK(rcgc_trace_start(0) == 0);
    for (int i = 0; i < 300; i++) rcgc_raw_free(rcgc_raw_malloc(16)); /* fill the quarantine */
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, locked_churn, NULL);
    for (int round = 0; round < 40; round++) {
        pid_t pid = fork();
        if (pid == 0) _exit(grandchild_work());
        CHECK(pid > 0);
        int status = 0;
        pid_t r = 0;
        for (int ms = 0; ms < 30000 && (r = waitpid(pid, &status, WNOHANG)) == 0; ms++) usleep(1000);
        if (r == 0) {
            kill(pid, SIGKILL);
            fprintf(stderr, "grandchild hung in round %d\n", round);
            _exit(4);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "grandchild failed in round %d: status 0x%x\n", round, status);
            _exit(5);
        }
    }
    __atomic_store_n(&fork_quit, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    rcgc_trace_stop();
    _exit(0);
}

static void test_fork_while_debug_and_trace_locks_busy(void **state) {
    (void)state;
    expect_clean(do_fork_with_busy_locks);
}

static void do_serial_break(void *arg) {
    (void)arg;
    setenv("RCGC_MALLOC_SERIAL_BREAK", "3", 1);
    start(RCGC_ALLOC_MODE_DEBUG);
    void *a = rcgc_raw_malloc(1), *b = rcgc_raw_malloc(2), *c = rcgc_raw_malloc(3);
    fprintf(stderr, "[third=%p]\n", c);
    rcgc_raw_free(a);
    rcgc_raw_free(b);
    rcgc_raw_free(c);
    _exit(0);
}

static void test_serial_break(void **state) {
    (void)state;
    int status = 0;
    char *out = rcgc_test_run_child(do_serial_break, NULL, &status);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char want[96];
    const char *third = strstr(out, "[third=");
    assert_non_null(third);
    snprintf(want, sizeof want, "serial number 3 allocated at p=%.*s", (int)strcspn(third + 7, "]"), third + 7);
    if (!strstr(out, want)) fprintf(stderr, "missing \"%s\" in:\n%s\n", want, out);
    assert_non_null(strstr(out, want));
    free(out);
}

static void do_malloc_mode(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_MALLOC);
    CHECK(rcgc_alloc_get_mode() == RCGC_ALLOC_MODE_MALLOC);
    CHECK(_rcgc_alloc_object_offset() == 0);
    void *a = rcgc_raw_malloc(0), *b = rcgc_mem_malloc(0), *c = rcgc_obj_malloc(0);
    CHECK(a && b && c && a != b && b != c);
    void *o = _rcgc_alloc_object(64, RCGC_HEAP_GC), *o2 = _rcgc_alloc_object(32, RCGC_HEAP_OBJECT);
    CHECK(o && o2);
    _rcgc_free_object(o, RCGC_HEAP_GC);
    _rcgc_free_object(o2, RCGC_HEAP_OBJECT);
    rcgc_raw_free(a);
    rcgc_mem_free(b);
    rcgc_obj_free(c);
    rcgc_error_clear();
    CHECK(rcgc_mem_calloc(SIZE_MAX / 4, 8) == NULL && rcgc_last_error() == RCGC_EOVERFLOW);
    rcgc_alloc_check_block(a == b ? a : NULL); /* no-op outside debug */
    CHECK(rcgc_alloc_check_heap() == 0);
    CHECK(rcgc_shutdown() == 0);
    _exit(0);
}

static void test_malloc_mode(void **state) {
    (void)state;
    expect_clean(do_malloc_mode);
}

static void do_set_mode_late(void *arg) {
    (void)arg;
    void *p = rcgc_raw_malloc(1); /* installs the mode from the environment */
    CHECK(rcgc_alloc_set_mode(RCGC_ALLOC_MODE_DEBUG) == -1 && rcgc_last_error() == RCGC_ESTATE);
    rcgc_raw_free(p);
    _exit(0);
}

static void test_set_mode_after_first_allocation(void **state) {
    (void)state;
    expect_clean(do_set_mode_late);
}

/* ---- AddressSanitizer sees use-after-free ----------------------------------------
 * Pooled memory: only if the pool poisons freed blocks (src/internal/track.h,
 * call sites 2-4). Until it does, the child exits 77 and the test is skipped
 * with a message unless require_pool_tracking (on: the pool is annotated). */
static const bool require_pool_tracking = true;

#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>

static void uaf_in_mode(rcgc_alloc_mode_t mode) {
    start(mode);
    void *keep = rcgc_obj_malloc(32); /* keeps the page in use */
    volatile char *p = rcgc_obj_malloc(32);
    p[0] = 1;
    rcgc_obj_free((void *)p);
    if (mode == RCGC_ALLOC_MODE_DEFAULT && !__asan_address_is_poisoned((void *)p)) _exit(77);
    fprintf(stderr, "read %d\n", p[1]); /* must be reported */
    rcgc_obj_free(keep);
}
static void do_asan_uaf_pool(void *arg) { (void)arg; uaf_in_mode(RCGC_ALLOC_MODE_DEFAULT); }
static void do_asan_uaf_malloc(void *arg) { (void)arg; uaf_in_mode(RCGC_ALLOC_MODE_MALLOC); }

static void expect_asan_uaf(rcgc_test_fn fn) {
    int status = 0;
    char *out = rcgc_test_run_child(fn, NULL, &status);
    assert_non_null(out);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        free(out);
        fprintf(stderr, "the pool does not poison freed blocks yet (track.h not called)\n");
        if (require_pool_tracking) fail();
        skip();
    }
    bool reported = strstr(out, "AddressSanitizer")
                    && (strstr(out, "use-after-poison") || strstr(out, "heap-use-after-free"));
    if (!reported) fprintf(stderr, "no ASan report; child stderr:\n%s\n", out);
    free(out);
    assert_true(reported);
}

/* LeakSanitizer must scan pool memory: a malloc'd buffer referenced only
 * from a pooled block is not a leak. Needs the pool to call
 * _rcgc_track_os_map (track.h, call site 0); until then the test skips with
 * a message. Set require_lsan_roots once it does. */
static const bool require_lsan_roots = true;
static void **lsan_holder;

static void do_lsan_root(void *arg) {
    (void)arg;
    start(RCGC_ALLOC_MODE_DEFAULT);
    lsan_holder = rcgc_obj_malloc(16);
    lsan_holder[0] = malloc(100);
    _exit(__lsan_do_recoverable_leak_check() ? 77 : 0);
}

static void test_lsan_scans_pool_memory(void **state) {
    (void)state;
    int status = 0;
    char *out = rcgc_test_run_child(do_lsan_root, NULL, &status);
    assert_non_null(out);
    bool leaked = WIFEXITED(status) && WEXITSTATUS(status) == 77;
    free(out);
    if (leaked) {
        fprintf(stderr, "LSan does not scan pool segments yet (_rcgc_track_os_map not called)\n");
        if (require_lsan_roots) fail();
        skip();
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

static void test_asan_sees_pool_use_after_free(void **state) {
    (void)state;
#ifndef HAVE_ASAN
    skip();
#else
    expect_asan_uaf(do_asan_uaf_pool);
#endif
}

static void test_asan_sees_malloc_mode_use_after_free(void **state) {
    (void)state;
#ifndef HAVE_ASAN
    (void)require_pool_tracking;
    skip();
#else
    expect_asan_uaf(do_asan_uaf_malloc);
#endif
}

#ifndef HAVE_ASAN
static void test_lsan_scans_pool_memory(void **state) {
    (void)state;
    skip();
}
#endif

/* RCGC_TEST_POOL_UAF=1: read a freed pooled block and exit; tools/memcheck.sh
 * --selftest runs this under memcheck and requires an "Invalid read". */
static int pool_uaf_selftest(void) {
    if (rcgc_init() != 0) return 3;
    void *keep = rcgc_obj_malloc(32);
    volatile char *p = rcgc_obj_malloc(32);
    p[0] = 1;
    rcgc_obj_free((void *)p);
    int v = p[1];
    rcgc_obj_free(keep);
    return v == 12345;
}

int main(void) {
    if (getenv("RCGC_TEST_POOL_UAF")) return pool_uaf_selftest();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow_report),
        cmocka_unit_test(test_underflow_report),
        cmocka_unit_test(test_double_free_report),
        cmocka_unit_test(test_wrong_domain_report),
        cmocka_unit_test(test_write_after_free_heap_check),
        cmocka_unit_test(test_write_after_free_eviction),
        cmocka_unit_test(test_check_block_live),
        cmocka_unit_test(test_heap_check_finds_live_overflow),
        cmocka_unit_test(test_object_overflow),
        cmocka_unit_test(test_env_selects_debug),
        cmocka_unit_test(test_report_names_traced_site),
        cmocka_unit_test(test_debug_mode_fills_and_quarantine),
        cmocka_unit_test(test_debug_mode_threads),
        cmocka_unit_test(test_serial_break),
        cmocka_unit_test(test_fork_while_debug_and_trace_locks_busy),
        cmocka_unit_test(test_malloc_mode),
        cmocka_unit_test(test_set_mode_after_first_allocation),
        cmocka_unit_test(test_asan_sees_pool_use_after_free),
        cmocka_unit_test(test_asan_sees_malloc_mode_use_after_free),
        cmocka_unit_test(test_lsan_scans_pool_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
