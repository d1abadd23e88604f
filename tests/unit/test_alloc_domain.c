/* test_alloc_domain.c - the RAW/MEM/OBJ domains, hooks (PEP 445 rules),
 * error reporting and allocation-failure injection. */
#include "testutil.h"
#include "internal/alloc_debug.h"
#include "internal/gc_internal.h"
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* test_enomem asks for sizes no allocator grants: under ASan and TSan that
 * must be NULL, not an abort. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);

static const struct api {
    const char *name;
    rcgc_domain_t domain;
    malloc_fn m;
    calloc_fn c;
    realloc_fn r;
    free_fn f;
} apis[] = {
    { "raw", RCGC_DOMAIN_RAW, rcgc_raw_malloc, rcgc_raw_calloc, rcgc_raw_realloc, rcgc_raw_free },
    { "mem", RCGC_DOMAIN_MEM, rcgc_mem_malloc, rcgc_mem_calloc, rcgc_mem_realloc, rcgc_mem_free },
    { "obj", RCGC_DOMAIN_OBJ, rcgc_obj_malloc, rcgc_obj_calloc, rcgc_obj_realloc, rcgc_obj_free },
};
#define NAPI 3

static void test_malloc_zero_unique(void **state) {
    (void)state;
    for (int i = 0; i < NAPI; i++) {
        void *a = apis[i].m(0), *b = apis[i].m(0);
        assert_non_null(a);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);
        void *c = apis[i].c(0, 8);
        assert_non_null(c);
        apis[i].f(a);
        apis[i].f(b);
        apis[i].f(c);
        apis[i].f(NULL); /* free(NULL) is a no-op */
    }
}

static void test_alignment_and_content(void **state) {
    (void)state;
    for (int i = 0; i < NAPI; i++) {
        unsigned char *p = apis[i].m(100);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0x5A, 100);
        p = apis[i].r(p, 5000);
        assert_non_null(p);
        for (int k = 0; k < 100; k++) assert_int_equal(p[k], 0x5A);
        p = apis[i].r(p, 10);
        assert_int_equal(p[9], 0x5A);
        apis[i].f(p);
        unsigned char *z = apis[i].c(33, 3);
        for (int k = 0; k < 99; k++) assert_int_equal(z[k], 0);
        apis[i].f(z);
        void *q = apis[i].r(NULL, 24); /* realloc(NULL) = malloc */
        assert_non_null(q);
        apis[i].f(q);
    }
}

static void test_calloc_overflow(void **state) {
    (void)state;
    for (int i = 0; i < NAPI; i++) {
        rcgc_error_clear();
        assert_null(apis[i].c(SIZE_MAX / 2, 3));
        assert_int_equal(rcgc_last_error(), RCGC_EOVERFLOW);
    }
}

/* More than any machine grants, yet positive as a signed value (Valgrind
 * flags "fishy" negative sizes as errors). */
#define HUGE_SIZE ((size_t)1 << 62)

static void test_enomem(void **state) {
    (void)state;
    /* RAW is libc in every mode except debug layers: a size no OS grants */
    rcgc_error_clear();
    assert_null(rcgc_raw_malloc(HUGE_SIZE));
    assert_int_equal(rcgc_last_error(), RCGC_ENOMEM);
    rcgc_error_clear();
    void *p = rcgc_raw_malloc(16);
    assert_null(rcgc_raw_realloc(p, HUGE_SIZE)); /* p stays valid */
    assert_int_equal(rcgc_last_error(), RCGC_ENOMEM);
    rcgc_raw_free(p);
    rcgc_error_clear();
    assert_null(rcgc_obj_malloc(HUGE_SIZE));
    assert_int_equal(rcgc_last_error(), RCGC_ENOMEM);
}

/* ---- hooks: a counting allocator that wraps the previous one ------------- */
typedef struct counting {
    rcgc_allocator_t prev;
    long mallocs, callocs, reallocs, frees;
} counting_t;

static void *cnt_malloc(void *ctx, size_t n) {
    counting_t *c = ctx;
    c->mallocs++;
    return c->prev.malloc(c->prev.ctx, n);
}
static void *cnt_calloc(void *ctx, size_t a, size_t b) {
    counting_t *c = ctx;
    c->callocs++;
    return c->prev.calloc(c->prev.ctx, a, b);
}
static void *cnt_realloc(void *ctx, void *p, size_t n) {
    counting_t *c = ctx;
    c->reallocs++;
    return c->prev.realloc(c->prev.ctx, p, n);
}
static void cnt_free(void *ctx, void *p) {
    counting_t *c = ctx;
    c->frees++;
    c->prev.free(c->prev.ctx, p);
}

static void test_wrap_obj_counting(void **state) {
    (void)state;
    counting_t c = { 0 };
    rcgc_alloc_get_allocator(RCGC_DOMAIN_OBJ, &c.prev);
    rcgc_allocator_t mine = { &c, cnt_malloc, cnt_calloc, cnt_realloc, cnt_free };
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &mine), 0);
    rcgc_allocator_t now;
    rcgc_alloc_get_allocator(RCGC_DOMAIN_OBJ, &now);
    assert_ptr_equal(now.ctx, &c);

    void *p = rcgc_obj_malloc(40);
    void *q = rcgc_obj_calloc(2, 8);
    p = rcgc_obj_realloc(p, 80);
    rcgc_obj_free(p);
    rcgc_obj_free(q);
    /* objects go through the OBJ domain too, GC objects included (a
     * wrapping hook keeps them in the GC heap) */
    void *o = _rcgc_alloc_object(64, RCGC_HEAP_GC);
    assert_non_null(o);
    void *o2 = _rcgc_alloc_object(48, RCGC_HEAP_OBJECT);
    assert_non_null(o2);
    _rcgc_free_object(o, RCGC_HEAP_GC);
    _rcgc_free_object(o2, RCGC_HEAP_OBJECT);
    /* other domains are untouched */
    rcgc_mem_free(rcgc_mem_malloc(8));

    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &c.prev), 0);
    assert_int_equal(c.mallocs, 3);
    assert_int_equal(c.callocs, 1);
    assert_int_equal(c.reallocs, 1);
    assert_int_equal(c.frees, 4);
}

/* A hook that replaces (never calls through). */
static long repl_live;
static void *repl_malloc(void *ctx, size_t n) { (void)ctx; repl_live++; return malloc(n ? n : 1); }
static void *repl_calloc(void *ctx, size_t a, size_t b) { (void)ctx; repl_live++; return calloc(a ? a : 1, b ? b : 1); }
static void *repl_realloc(void *ctx, void *p, size_t n) { (void)ctx; if (!p) repl_live++; return realloc(p, n ? n : 1); }
static void repl_free(void *ctx, void *p) { (void)ctx; if (p) repl_live--; free(p); }

static void test_replacing_hook_rejected_for_gc_objects(void **state) {
    (void)state;
    rcgc_allocator_t prev, mine = { NULL, repl_malloc, repl_calloc, repl_realloc, repl_free };
    rcgc_alloc_get_allocator(RCGC_DOMAIN_OBJ, &prev);
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &mine), 0);
    void *p = rcgc_obj_malloc(16); /* plain blocks: anything goes */
    assert_non_null(p);
    void *o = _rcgc_alloc_object(32, RCGC_HEAP_OBJECT); /* non-GC objects too */
    assert_non_null(o);
    rcgc_error_clear();
    assert_null(_rcgc_alloc_object(32, RCGC_HEAP_GC)); /* GC objects: must wrap */
    assert_int_equal(rcgc_last_error(), RCGC_ENOTSUP);
    assert_non_null(strstr(rcgc_last_error_message(), "wrap"));
    _rcgc_free_object(o, RCGC_HEAP_OBJECT);
    rcgc_obj_free(p);
    assert_int_equal(repl_live, 0); /* the rejected block was given back */
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &prev), 0);
}

/* A hook that wraps but shifts the block by 8 bytes: GC objects would lose
 * their 16-byte alignment, which the collector's compressed links need
 * (default build; the free-threaded build has no pre-header). */
#ifndef RCGC_FREE_THREADED
static rcgc_allocator_t shift_prev;
static long shift_live;
static void *shift_malloc(void *ctx, size_t n) {
    (void)ctx;
    char *p = shift_prev.malloc(shift_prev.ctx, n + 8);
    if (p) shift_live++;
    return p ? p + 8 : NULL;
}
static void *shift_calloc(void *ctx, size_t a, size_t b) { return shift_malloc(ctx, a * b); }
static void *shift_realloc(void *ctx, void *p, size_t n) {
    (void)ctx, (void)p, (void)n;
    return NULL;
}
static void shift_free(void *ctx, void *p) {
    (void)ctx;
    if (!p) return;
    shift_live--;
    shift_prev.free(shift_prev.ctx, (char *)p - 8);
}

static int no_traverse(rcgc_object_t *o, rcgc_visit_fn v, void *a) { (void)o, (void)v, (void)a; return 0; }
static const rcgc_type_t shifted_gc_type = { .name = "shifted", .basic_size = sizeof(rcgc_object_t),
                                             .flags = RCGC_TYPE_GC, .traverse = no_traverse };

static void test_misaligning_hook_rejected_for_gc_objects(void **state) {
    (void)state;
    rcgc_allocator_t mine = { NULL, shift_malloc, shift_calloc, shift_realloc, shift_free };
    rcgc_alloc_get_allocator(RCGC_DOMAIN_OBJ, &shift_prev);
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &mine), 0);
    size_t live = rcgc_object_live_count();
    rcgc_error_clear();
    assert_null(rcgc_object_new(&shifted_gc_type));
    assert_int_equal(rcgc_last_error(), RCGC_ENOTSUP);
    assert_non_null(strstr(rcgc_last_error_message(), "16-byte aligned"));
    assert_int_equal(shift_live, 0); /* the block was given back */
    assert_int_equal(rcgc_object_live_count(), live);
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_OBJ, &shift_prev), 0);
}
#else
static void test_misaligning_hook_rejected_for_gc_objects(void **state) {
    (void)state;
    skip();
}
#endif

static void test_set_allocator_invalid(void **state) {
    (void)state;
    rcgc_allocator_t a;
    rcgc_alloc_get_allocator(RCGC_DOMAIN_RAW, &a);
    rcgc_error_clear();
    assert_int_equal(rcgc_alloc_set_allocator((rcgc_domain_t)7, &a), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    a.free = NULL;
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_RAW, &a), -1);
    assert_int_equal(rcgc_alloc_set_allocator(RCGC_DOMAIN_RAW, NULL), -1);
}

static void test_mode_fixed_after_init(void **state) {
    (void)state;
    const char *env = getenv("RCGC_MALLOC");
    if (!env || !*env) assert_int_equal(rcgc_alloc_get_mode(), RCGC_ALLOC_MODE_DEFAULT);
    rcgc_error_clear();
    assert_int_equal(rcgc_alloc_set_mode(RCGC_ALLOC_MODE_DEBUG), -1);
    assert_int_equal(rcgc_last_error(), RCGC_ESTATE);
    assert_int_equal(rcgc_alloc_set_mode_name("bogus"), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_string_equal(rcgc_alloc_mode_name(RCGC_ALLOC_MODE_MALLOC_DEBUG), "malloc_debug");
    assert_string_equal(rcgc_alloc_mode_name(RCGC_ALLOC_MODE_DEFAULT), "default");
}

/* ---- failure injection ----------------------------------------------------- */
static void test_fail_after_n(void **state) {
    (void)state;
    rcgc_alloc_set_fail_after(3);
    void *a = rcgc_raw_malloc(8), *b = rcgc_mem_malloc(8);
    assert_non_null(a);
    assert_non_null(b);
    rcgc_error_clear();
    assert_null(rcgc_obj_malloc(8)); /* the 3rd */
    assert_int_equal(rcgc_last_error(), RCGC_ENOMEM);
    assert_int_equal(rcgc_alloc_fail_injected(), 1);
    void *c = rcgc_obj_malloc(8); /* only one failure */
    assert_non_null(c);
    rcgc_alloc_set_fail_after(0);
    assert_int_equal(rcgc_alloc_fail_injected(), 0);
    rcgc_raw_free(a);
    rcgc_mem_free(b);
    rcgc_obj_free(c);
}

static void test_fail_spec_repeat_and_domains(void **state) {
    (void)state;
    rcgc_alloc_fail_spec_t spec = { 2, 2, 1u << RCGC_DOMAIN_MEM };
    rcgc_alloc_set_fail_spec(&spec);
    void *r = rcgc_raw_malloc(8); /* RAW: not counted */
    assert_non_null(r);
    void *m1 = rcgc_mem_malloc(8);
    assert_non_null(m1);
    assert_null(rcgc_mem_calloc(1, 8));       /* 2nd MEM call fails ... */
    assert_null(rcgc_mem_realloc(m1, 64));    /* ... and 2 more */
    assert_null(rcgc_mem_malloc(8));
    void *m2 = rcgc_mem_malloc(8);            /* then it stops */
    assert_non_null(m2);
    void *o = rcgc_obj_calloc(0, 0);          /* OBJ: not counted */
    assert_non_null(o);
    rcgc_obj_free(o);
    assert_int_equal(rcgc_alloc_fail_injected(), 3);
    rcgc_alloc_set_fail_spec(NULL);
    rcgc_raw_free(r);
    rcgc_mem_free(m1); /* the failed realloc left m1 valid */
    rcgc_mem_free(m2);
}

static int fail_big(rcgc_domain_t d, size_t size, void *ctx) {
    (void)d;
    return size >= *(size_t *)ctx;
}

static void test_fail_hook(void **state) {
    (void)state;
    size_t limit = 1000;
    rcgc_alloc_set_fail_hook(fail_big, &limit);
    void *a = rcgc_obj_malloc(999);
    assert_non_null(a);
    assert_null(rcgc_obj_malloc(1000));
    assert_null(_rcgc_alloc_object(4096, RCGC_HEAP_GC));
    assert_int_equal(rcgc_last_error(), RCGC_ENOMEM);
    assert_int_equal(rcgc_alloc_fail_injected(), 2);
    rcgc_alloc_set_fail_hook(NULL, NULL);
    rcgc_obj_free(a);
}

/* An "operation" with several allocation sites that cleans up on failure. */
static int build_three(void **out) {
    void *a = rcgc_raw_malloc(10);
    if (!a) return -1;
    void *b = rcgc_mem_calloc(4, 4);
    if (!b) { rcgc_raw_free(a); return -1; }
    void *c = _rcgc_alloc_object(32, RCGC_HEAP_OBJECT);
    if (!c) { rcgc_mem_free(b); rcgc_raw_free(a); return -1; }
    rcgc_raw_free(a);
    rcgc_mem_free(b);
    *out = c;
    return 0;
}

static void test_fail_every_site(void **state) {
    (void)state;
    int sites = 0;
    for (unsigned long n = 1;; n++) {
        void *obj = NULL;
        rcgc_alloc_set_fail_after(n);
        rcgc_error_clear();
        int rc = build_three(&obj);
        bool injected = rcgc_alloc_fail_injected() > 0;
        rcgc_alloc_set_fail_after(0);
        if (!injected) {
            assert_int_equal(rc, 0);
            _rcgc_free_object(obj, RCGC_HEAP_OBJECT);
            break;
        }
        assert_int_equal(rc, -1);
        assert_int_equal(rcgc_last_error(), RCGC_ENOMEM);
        sites++;
    }
    assert_int_equal(sites, 3);
}

static void test_object_offset(void **state) {
    (void)state;
    size_t off = _rcgc_alloc_object_offset();
    bool dbg = rcgc_alloc_get_mode() == RCGC_ALLOC_MODE_DEBUG
               || rcgc_alloc_get_mode() == RCGC_ALLOC_MODE_MALLOC_DEBUG;
    assert_int_equal(off, dbg ? RCGC_DEBUG_HEAD : 0);
    void *o = _rcgc_alloc_object(48, RCGC_HEAP_GC);
    assert_non_null(o);
    /* GC blocks are 8 mod 16 in the default build (in every mode, the debug
     * header being 32 bytes): the object after the 8-byte pre-header is
     * 16-byte aligned */
    assert_int_equal((uintptr_t)o % 16, RCGC_GC_BLOCK_OFFSET);
    assert_int_equal(((uintptr_t)o + RCGC_GC_PREHEADER_SIZE) % 16, 0);
    _rcgc_free_object(o, RCGC_HEAP_GC);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malloc_zero_unique),
        cmocka_unit_test(test_alignment_and_content),
        cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_enomem),
        cmocka_unit_test(test_wrap_obj_counting),
        cmocka_unit_test(test_replacing_hook_rejected_for_gc_objects),
        cmocka_unit_test(test_misaligning_hook_rejected_for_gc_objects),
        cmocka_unit_test(test_set_allocator_invalid),
        cmocka_unit_test(test_mode_fixed_after_init),
        cmocka_unit_test(test_fail_after_n),
        cmocka_unit_test(test_fail_spec_repeat_and_domains),
        cmocka_unit_test(test_fail_hook),
        cmocka_unit_test(test_fail_every_site),
        cmocka_unit_test(test_object_offset),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
