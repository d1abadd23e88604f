/* alloc/domain.c - the RAW / MEM / OBJ domain table (CPython's PEP 445).
 *
 * OWNERSHIP: extended by the allocator work (issue 3): debug mode selection
 * (RCGC_MALLOC), wrapping, tracing.
 */
#include "internal/alloc_internal.h"
#include <stdlib.h>
#include <string.h>

static void *raw_malloc(void *ctx, size_t n) { (void)ctx; return malloc(n ? n : 1); }
static void *raw_calloc(void *ctx, size_t a, size_t b) { (void)ctx; return calloc(a ? a : 1, b ? b : 1); }
static void *raw_realloc(void *ctx, void *p, size_t n) { (void)ctx; return realloc(p, n ? n : 1); }
static void raw_free(void *ctx, void *p) { (void)ctx; free(p); }

static void *pool_malloc(void *ctx, size_t n) { return _rcgc_pool_malloc(n, (rcgc_heap_kind_t)(uintptr_t)ctx); }
static void *pool_calloc(void *ctx, size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) return NULL;
    void *p = _rcgc_pool_malloc(n, (rcgc_heap_kind_t)(uintptr_t)ctx);
    if (p) memset(p, 0, n);
    return p;
}
static void *pool_realloc(void *ctx, void *p, size_t n) { (void)ctx; return _rcgc_pool_realloc(p, n); }
static void pool_free(void *ctx, void *p) { (void)ctx; _rcgc_pool_free(p); }

static rcgc_allocator_t domains[RCGC_DOMAIN_COUNT] = {
    { NULL, raw_malloc, raw_calloc, raw_realloc, raw_free },
    { (void *)(uintptr_t)RCGC_HEAP_MEM, pool_malloc, pool_calloc, pool_realloc, pool_free },
    { (void *)(uintptr_t)RCGC_HEAP_OBJECT, pool_malloc, pool_calloc, pool_realloc, pool_free },
};

static void *checked(void *p) {
    if (RCGC_UNLIKELY(!p)) return _rcgc_fail_null(RCGC_ENOMEM, "out of memory");
    return p;
}

#define DOMAIN_FUNCS(prefix, d)                                                              \
    void *prefix##_malloc(size_t n) { return checked(domains[d].malloc(domains[d].ctx, n)); } \
    void *prefix##_calloc(size_t a, size_t b) {                                               \
        size_t n;                                                                             \
        if (__builtin_mul_overflow(a, b, &n))                                                 \
            return _rcgc_fail_null(RCGC_EOVERFLOW, "calloc size overflows");                 \
        return checked(domains[d].calloc(domains[d].ctx, a, b));                              \
    }                                                                                         \
    void *prefix##_realloc(void *p, size_t n) { return checked(domains[d].realloc(domains[d].ctx, p, n)); } \
    void prefix##_free(void *p) { if (p) domains[d].free(domains[d].ctx, p); }

DOMAIN_FUNCS(rcgc_raw, RCGC_DOMAIN_RAW)
DOMAIN_FUNCS(rcgc_mem, RCGC_DOMAIN_MEM)
DOMAIN_FUNCS(rcgc_obj, RCGC_DOMAIN_OBJ)

void rcgc_alloc_get_allocator(rcgc_domain_t d, rcgc_allocator_t *out) {
    if ((unsigned)d < RCGC_DOMAIN_COUNT && out) *out = domains[d];
}

int rcgc_alloc_set_allocator(rcgc_domain_t d, const rcgc_allocator_t *a) {
    if ((unsigned)d >= RCGC_DOMAIN_COUNT || !a || !a->malloc || !a->calloc || !a->realloc || !a->free)
        return _rcgc_fail_int(RCGC_EINVAL, "invalid domain or allocator");
    domains[d] = *a;
    return 0;
}

void *_rcgc_alloc_object(size_t size, rcgc_heap_kind_t kind) {
    const rcgc_allocator_t *a = &domains[RCGC_DOMAIN_OBJ];
    void *p = (a->malloc == pool_malloc) ? _rcgc_pool_malloc(size, kind) : a->malloc(a->ctx, size);
    return checked(p);
}

void _rcgc_free_object(void *block, rcgc_heap_kind_t kind) {
    (void)kind;
    const rcgc_allocator_t *a = &domains[RCGC_DOMAIN_OBJ];
    a->free(a->ctx, block);
}

void _rcgc_alloc_init(void) {}
void _rcgc_alloc_fini(void) {}
