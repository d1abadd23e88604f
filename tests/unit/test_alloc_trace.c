/* test_alloc_trace.c - allocation tracing: sites, backtraces, totals and
 * peak, snapshots and their comparison ("top growth"), the printer. */
#define _GNU_SOURCE
#include "testutil.h"
#include "internal/alloc_debug.h"
#include "rcgc/trace.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int teardown_trace(void **state) {
    (void)state;
    rcgc_trace_stop();
    return 0;
}

static void test_off_by_default(void **state) {
    (void)state;
    assert_false(rcgc_trace_is_tracing());
    void *p = rcgc_obj_malloc(10);
    assert_int_equal(rcgc_trace_get_block(p, NULL, NULL, NULL), -1);
    rcgc_obj_free(p);
    assert_null(rcgc_trace_snapshot_take());
    assert_int_equal(rcgc_last_error(), RCGC_ESTATE);
    assert_int_equal(rcgc_trace_start(RCGC_TRACE_MAX_FRAMES + 1), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
}

static void test_sites_and_totals(void **state) {
    (void)state;
    void *before = rcgc_mem_malloc(1000); /* allocated before start: invisible */
    assert_int_equal(rcgc_trace_start(0), 0);
    assert_true(rcgc_trace_is_tracing());
    void *a = rcgc_obj_malloc_at(100, "a.c", 1);
    void *b = rcgc_mem_malloc_at(200, "b.c", 2);
    RCGC_TRACE_SITE();
    int site_line = __LINE__ - 1;
    void *c = rcgc_raw_calloc(3, 100);
    void *d = rcgc_obj_malloc(50); /* no site */
    size_t cur, peak;
    rcgc_trace_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 650);
    assert_int_equal(peak, 650);

    rcgc_domain_t dom;
    size_t size;
    rcgc_trace_site_t site;
    assert_int_equal(rcgc_trace_get_block(b, &dom, &size, &site), 0);
    assert_int_equal(dom, RCGC_DOMAIN_MEM);
    assert_int_equal(size, 200);
    assert_string_equal(site.file, "b.c");
    assert_int_equal(site.line, 2);
    assert_int_equal(rcgc_trace_get_block(c, &dom, NULL, &site), 0);
    assert_string_equal(site.file, __FILE__);
    assert_int_equal(site.line, site_line);
    assert_int_equal(dom, RCGC_DOMAIN_RAW);
    assert_int_equal(rcgc_trace_get_block(d, NULL, NULL, &site), 0);
    assert_string_equal(site.file, "<unknown>");
    assert_int_equal(rcgc_trace_get_block(before, NULL, NULL, NULL), -1);

    a = rcgc_obj_realloc(a, 400); /* keeps its site? no: realloc is a new trace */
    rcgc_trace_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 950);
    rcgc_obj_free(a);
    rcgc_mem_free(b);
    rcgc_raw_free(c);
    rcgc_trace_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 50);
    assert_int_equal(peak, 950);
    rcgc_trace_reset_peak();
    rcgc_trace_get_traced_memory(&cur, &peak);
    assert_int_equal(peak, 50);
    assert_true(rcgc_trace_get_overhead() > 0);
    rcgc_trace_stop();
    rcgc_obj_free(d); /* freed after stop: fine */
    rcgc_mem_free(before);
    rcgc_trace_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 0);
}

static void test_objects_traced(void **state) {
    (void)state;
    assert_int_equal(rcgc_trace_start(0), 0);
    RCGC_TRACE_SITE();
    void *o = _rcgc_alloc_object(64, RCGC_HEAP_GC);
    rcgc_trace_site_t site;
    size_t size;
    assert_int_equal(rcgc_trace_get_block(o, NULL, &size, &site), 0);
    assert_int_equal(size, 64);
    assert_string_equal(site.file, __FILE__);
    _rcgc_free_object(o, RCGC_HEAP_GC);
    assert_int_equal(rcgc_trace_get_block(o, NULL, NULL, NULL), -1);
}

typedef struct pair_obj {
    rcgc_object_t ob;
    rcgc_object_t *a, *b;
} pair_obj_t;
static int pair_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((pair_obj_t *)self)->a, visit, arg);
    RCGC_VISIT(((pair_obj_t *)self)->b, visit, arg);
    return 0;
}
static const rcgc_type_t pair_type = {
    .name = "pair", .basic_size = sizeof(pair_obj_t), .flags = RCGC_TYPE_GC, .traverse = pair_traverse,
};

/* The documented way to attribute objects: RCGC_TRACE_SITE() names the next
 * allocation of this thread, here the one inside rcgc_object_new. */
static void test_object_new_site(void **state) {
    (void)state;
    assert_int_equal(rcgc_trace_start(0), 0);
    rcgc_trace_snapshot_t *before = rcgc_trace_snapshot_take();
    rcgc_object_t *objs[20];
    int line = 0;
    for (int i = 0; i < 20; i++) {
        RCGC_TRACE_SITE(); line = __LINE__;
        objs[i] = rcgc_object_new(&pair_type);
        assert_non_null(objs[i]);
    }
    rcgc_trace_snapshot_t *after = rcgc_trace_snapshot_take();
    rcgc_trace_stat_t st[4];
    size_t n = rcgc_trace_snapshot_compare(after, before, st, 4);
    assert_true(n >= 1);
    assert_string_equal(st[0].site->file, __FILE__);
    assert_int_equal(st[0].site->line, line);
    assert_int_equal(st[0].count_diff, 20);
    assert_true(st[0].size_diff >= (long long)(20 * sizeof(pair_obj_t)));
    for (int i = 0; i < 20; i++) rcgc_decref(objs[i]);
    rcgc_trace_snapshot_t *freed = rcgc_trace_snapshot_take();
    n = rcgc_trace_snapshot_compare(freed, before, st, 4);
    for (size_t i = 0; i < n && i < 4; i++) assert_int_equal(st[i].size_diff, 0);
    rcgc_trace_snapshot_free(before);
    rcgc_trace_snapshot_free(after);
    rcgc_trace_snapshot_free(freed);
}

static void leak_some(void **keep, int n, int line) {
    for (int i = 0; i < n; i++) keep[i] = rcgc_mem_malloc_at(32, "leaky.c", line);
}

static void test_snapshot_diff_top_growth(void **state) {
    (void)state;
    assert_int_equal(rcgc_trace_start(0), 0);
    void *steady[10], *grow[100], *small[5], *gone = rcgc_obj_malloc_at(500, "gone.c", 9);
    leak_some(steady, 10, 10);
    rcgc_trace_snapshot_t *s1 = rcgc_trace_snapshot_take();
    assert_non_null(s1);
    size_t count;
    assert_int_equal(rcgc_trace_snapshot_total(s1, &count), 500 + 320);
    assert_int_equal(count, 11);

    leak_some(grow, 100, 20);
    leak_some(small, 5, 30);
    rcgc_obj_free(gone);
    rcgc_trace_snapshot_t *s2 = rcgc_trace_snapshot_take();

    rcgc_trace_stat_t st[10];
    size_t n = rcgc_trace_snapshot_compare(s2, s1, st, 10);
    assert_int_equal(n, 4); /* lines 10, 20, 30 and gone.c */
    assert_string_equal(st[0].site->file, "leaky.c");
    assert_int_equal(st[0].site->line, 20);
    assert_int_equal(st[0].size_diff, 3200);
    assert_int_equal(st[0].count_diff, 100);
    assert_string_equal(st[1].site->file, "gone.c");
    assert_int_equal(st[1].size_diff, -500);
    assert_int_equal(st[1].size, 0);
    assert_int_equal(st[2].site->line, 30);
    assert_int_equal(st[2].size_diff, 160);
    assert_int_equal(st[3].site->line, 10);
    assert_int_equal(st[3].size_diff, 0);

    n = rcgc_trace_snapshot_stats(s2, st, 2); /* largest first, truncated */
    assert_int_equal(n, 3);
    assert_int_equal(st[0].site->line, 20);
    assert_int_equal(st[1].site->line, 10);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rcgc_trace_print_diff(s2, s1, 10, f);
    fclose(f);
    assert_non_null(strstr(text, "top 4 growth"));
    assert_non_null(strstr(text, "#1: leaky.c:20: size=3200 B (+3200 B), count=100 (+100), average=32 B"));
    assert_non_null(strstr(text, "gone.c:9: size=0 B (-500 B)"));
    free(text);

    rcgc_trace_stop(); /* snapshots outlive the tracer */
    assert_int_equal(rcgc_trace_snapshot_total(s2, NULL), 320 + 3200 + 160);
    rcgc_trace_snapshot_free(s1);
    rcgc_trace_snapshot_free(s2);
    for (int i = 0; i < 10; i++) rcgc_mem_free(steady[i]);
    for (int i = 0; i < 100; i++) rcgc_mem_free(grow[i]);
    for (int i = 0; i < 5; i++) rcgc_mem_free(small[i]);
}

static RCGC_NOINLINE void *alloc_from_here(void) { return rcgc_obj_malloc(24); }

static void test_backtrace_sites(void **state) {
    (void)state;
    assert_int_equal(rcgc_trace_start(8), 0);
    void *p = alloc_from_here(), *q = alloc_from_here();
    rcgc_trace_site_t s1, s2;
    assert_int_equal(rcgc_trace_get_block(p, NULL, NULL, &s1), 0);
    assert_int_equal(rcgc_trace_get_block(q, NULL, NULL, &s2), 0);
    assert_string_equal(s1.file, "<backtrace>");
    assert_true(s1.nframes >= 2 && s1.nframes <= 8);
    /* both allocations share one interned site (same call chain) except for
     * the return address inside this function */
    rcgc_trace_snapshot_t *snap = rcgc_trace_snapshot_take();
    rcgc_trace_stat_t st[4];
    size_t n = rcgc_trace_snapshot_stats(snap, st, 4);
    assert_true(n >= 1 && n <= 2);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rcgc_trace_print_diff(snap, NULL, 5, f);
    fclose(f);
    assert_non_null(strstr(text, "<backtrace>"));
    free(text);
    rcgc_trace_snapshot_free(snap);
    rcgc_obj_free(p);
    rcgc_obj_free(q);
}

static void test_many_blocks_and_clear(void **state) {
    (void)state;
    enum { N = 20000 };
    void **v = malloc(N * sizeof *v);
    assert_int_equal(rcgc_trace_start(0), 0);
    for (int i = 0; i < N; i++) v[i] = rcgc_obj_malloc_at((size_t)(i % 64) + 1, "many.c", i % 7);
    size_t cur, want = 0;
    for (int i = 0; i < N; i++) want += (size_t)(i % 64) + 1;
    rcgc_trace_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, want);
    for (int i = 0; i < N; i += 2) rcgc_obj_free(v[i]); /* exercises backward-shift deletion */
    for (int i = 1; i < N; i += 2) assert_int_equal(rcgc_trace_get_block(v[i], NULL, NULL, NULL), 0);
    for (int i = 0; i < N; i += 2) want -= (size_t)(i % 64) + 1;
    rcgc_trace_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, want);
    rcgc_trace_clear();
    rcgc_trace_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    assert_int_equal(rcgc_trace_get_block(v[1], NULL, NULL, NULL), -1);
    for (int i = 1; i < N; i += 2) rcgc_obj_free(v[i]);
    free(v);
}

/* Threads allocate and free concurrently while tracing. */
static void *thread_churn(void *arg) {
    (void)arg;
    void *keep[64];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 64; i++) keep[i] = rcgc_raw_malloc_at(16, "thread.c", 1);
        for (int i = 0; i < 64; i++) rcgc_raw_free(keep[i]);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    assert_int_equal(rcgc_trace_start(0), 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_churn, NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    size_t cur, peak;
    rcgc_trace_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 0);
    assert_true(peak >= 64 * 16 && peak <= 4 * 64 * 16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_off_by_default, teardown_trace),
        cmocka_unit_test_teardown(test_sites_and_totals, teardown_trace),
        cmocka_unit_test_teardown(test_objects_traced, teardown_trace),
        cmocka_unit_test_teardown(test_object_new_site, teardown_trace),
        cmocka_unit_test_teardown(test_snapshot_diff_top_growth, teardown_trace),
        cmocka_unit_test_teardown(test_backtrace_sites, teardown_trace),
        cmocka_unit_test_teardown(test_many_blocks_and_clear, teardown_trace),
        cmocka_unit_test_teardown(test_threads, teardown_trace),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
