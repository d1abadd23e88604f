/* alloc/domain.c - the RAW / MEM / OBJ domain table (CPython's PEP 445),
 * the run-time mode (RCGC_MALLOC), object allocation by heap kind, and
 * allocation-failure injection.
 *
 * Layers of one call (see internal/alloc_debug.h):
 *   entry point -> [intercept: fail injection, tracing] -> domains[d]
 *   domains[d]  =  user hooks (wrapping) -> debug layer (debug modes) -> base
 *
 * Cost when nothing is switched on: one relaxed load and a predictable branch
 * (alloc_intercept == 0), then one indirect call through the table; object
 * allocation in the default mode calls the pool directly.
 */
#include "internal/alloc_debug.h"
#include "internal/alloc_types.h"
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- state ---------------------------------------------------------------
 * domains[], mode, direct[], object_offset: written while the mode is
 * installed (once, under init_once) and by rcgc_alloc_set_allocator, both
 * documented to happen before other threads use the library; read without
 * synchronisation afterwards.
 * Until the mode is installed every table entry is a "boot" allocator that
 * installs it and calls through, so allocation before rcgc_init() works.
 * alloc_intercept: atomic bit set (RCGC_INTERCEPT_*), relaxed loads.
 */
static rcgc_allocator_t domains[RCGC_DOMAIN_COUNT];
static rcgc_alloc_mode_t mode = RCGC_ALLOC_MODE_DEFAULT;
static int explicit_mode = -1;   /* set by rcgc_alloc_set_mode before install */
static bool mode_installed;      /* written once under init_once */
static bool direct[RCGC_DOMAIN_COUNT]; /* domain d is exactly its default base */
/* fast[d] = direct[d] && alloc_intercept == 0: the entry points' only test.
 * Atomic bytes; rewritten under fast_lock whenever either input changes. */
static unsigned char fast[RCGC_DOMAIN_COUNT];
static pthread_mutex_t fast_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t object_offset;     /* debug header size in debug modes */
static unsigned alloc_intercept; /* atomic */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Pending heap kind for the OBJ base allocator (owner thread only). */
static RCGC_TLS int tl_kind = RCGC_KIND_NONE;

int _rcgc_alloc_peek_kind(void) { return tl_kind; }
void _rcgc_alloc_set_kind(int kind) { tl_kind = kind; }

static int take_kind(void) {
    int k = tl_kind;
    tl_kind = RCGC_KIND_NONE;
    return k;
}

static inline bool intercepting(void) {
    return RCGC_UNLIKELY(__atomic_load_n(&alloc_intercept, __ATOMIC_RELAXED) != 0);
}

static inline bool tracing(void) {
    return (__atomic_load_n(&alloc_intercept, __ATOMIC_RELAXED) & RCGC_INTERCEPT_TRACE) != 0;
}

/* The free entry points of the pooled domains do not test fast[d]: the
 * segment map carries "MEM and OBJ both fast" (alloc_types.h). */
static void update_fast_locked(void) {
    static int pool_free_fast = -1; /* fast_lock */
    bool quiet = __atomic_load_n(&alloc_intercept, __ATOMIC_RELAXED) == 0;
    for (int d = 0; d < RCGC_DOMAIN_COUNT; d++)
        __atomic_store_n(&fast[d], (unsigned char)(direct[d] && quiet), __ATOMIC_RELAXED);
    int f = fast[RCGC_DOMAIN_MEM] && fast[RCGC_DOMAIN_OBJ];
    if (f != pool_free_fast) {
        pool_free_fast = f;
        _rcgc_segmap_set_fast(f);
    }
}

void _rcgc_alloc_set_intercept(unsigned bit, bool on) {
    pthread_mutex_lock(&fast_lock);
    if (on) __atomic_fetch_or(&alloc_intercept, bit, __ATOMIC_SEQ_CST);
    else __atomic_fetch_and(&alloc_intercept, ~bit, __ATOMIC_SEQ_CST);
    update_fast_locked();
    pthread_mutex_unlock(&fast_lock);
}

/* A relaxed byte load (one compare with memory on x86-64, alloc_types.h). */
static inline bool is_fast(rcgc_domain_t d) {
    return RCGC_LIKELY(_rcgc_byte_nonzero(&fast[d]));
}

/* ---- base allocators -----------------------------------------------------
 * All return a unique non-NULL block for size 0 and NULL on failure (the
 * entry point sets the error). */
static size_t nz(size_t n) { return n ? n : 1; }

static void *libc_malloc(void *ctx, size_t n) { (void)ctx; return malloc(nz(n)); }
static void *libc_calloc(void *ctx, size_t a, size_t b) {
    (void)ctx;
    return (a == 0 || b == 0) ? calloc(1, 1) : calloc(a, b);
}
static void *libc_realloc(void *ctx, void *p, size_t n) { (void)ctx; return realloc(p, nz(n)); }
static void libc_free(void *ctx, void *p) { (void)ctx; free(p); }

static void *pool_calloc_kind(size_t a, size_t b, rcgc_heap_kind_t kind) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) return NULL;
    void *p = _rcgc_pool_malloc(nz(n), kind);
    if (p) memset(p, 0, nz(n));
    return p;
}
static void *pool_realloc_kind(void *p, size_t n, rcgc_heap_kind_t kind) {
    return p ? _rcgc_pool_realloc(p, nz(n)) : _rcgc_pool_malloc(nz(n), kind);
}

/* MEM domain: the pool's MEM heap. */
static void *mem_malloc(void *ctx, size_t n) { (void)ctx; return _rcgc_pool_malloc(nz(n), RCGC_HEAP_MEM); }
static void *mem_calloc(void *ctx, size_t a, size_t b) { (void)ctx; return pool_calloc_kind(a, b, RCGC_HEAP_MEM); }
static void *mem_realloc(void *ctx, void *p, size_t n) { (void)ctx; return pool_realloc_kind(p, n, RCGC_HEAP_MEM); }
static void mem_free(void *ctx, void *p) { (void)ctx; _rcgc_pool_free(p); }

/* OBJ domain: the pool heap named by the pending kind (objects), else the
 * non-GC object heap (plain rcgc_obj_* blocks). */
static rcgc_heap_kind_t obj_kind(void) {
    int k = take_kind();
    return k == RCGC_KIND_NONE ? RCGC_HEAP_OBJECT : (rcgc_heap_kind_t)k;
}
static void *obj_malloc(void *ctx, size_t n) { (void)ctx; return _rcgc_pool_malloc(nz(n), obj_kind()); }
static void *obj_calloc(void *ctx, size_t a, size_t b) { (void)ctx; return pool_calloc_kind(a, b, obj_kind()); }
static void *obj_realloc(void *ctx, void *p, size_t n) { (void)ctx; return pool_realloc_kind(p, n, obj_kind()); }
static void obj_free(void *ctx, void *p) { (void)ctx; take_kind(); _rcgc_pool_free(p); }

/* OBJ domain in the malloc modes: libc, except for objects of GC types, which
 * stay in the pool in every mode and flavour: the free-threaded collector
 * finds them only by walking the GC heap, and the default build's collector
 * names them by pool segment index and granule (compressed links,
 * gc/gc_list_default.h), which only pool memory has. */
static bool gc_kind_needs_pool(int kind) {
    return kind == RCGC_HEAP_GC;
}
static void *lobj_malloc(void *ctx, size_t n) {
    int k = take_kind();
    return gc_kind_needs_pool(k) ? _rcgc_pool_malloc(nz(n), RCGC_HEAP_GC) : libc_malloc(ctx, n);
}
static void *lobj_calloc(void *ctx, size_t a, size_t b) { take_kind(); return libc_calloc(ctx, a, b); }
static void *lobj_realloc(void *ctx, void *p, size_t n) { take_kind(); return libc_realloc(ctx, p, n); }
static void lobj_free(void *ctx, void *p) {
    if (gc_kind_needs_pool(take_kind())) _rcgc_pool_free(p);
    else free(p);
}

static const rcgc_allocator_t base_libc = { NULL, libc_malloc, libc_calloc, libc_realloc, libc_free };
static const rcgc_allocator_t base_mem = { NULL, mem_malloc, mem_calloc, mem_realloc, mem_free };
static const rcgc_allocator_t base_obj = { NULL, obj_malloc, obj_calloc, obj_realloc, obj_free };
static const rcgc_allocator_t base_lobj = { NULL, lobj_malloc, lobj_calloc, lobj_realloc, lobj_free };

/* ---- mode installation ---------------------------------------------------- */
static const char *const mode_names[] = { "default", "malloc", "debug", "malloc_debug" };

const char *rcgc_alloc_mode_name(rcgc_alloc_mode_t m) {
    return (unsigned)m < 4 ? mode_names[m] : "?";
}

static int parse_mode(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, mode_names[i]) == 0) return i;
    if (strcmp(name, "pymalloc") == 0) return RCGC_ALLOC_MODE_DEFAULT;
    if (strcmp(name, "pymalloc_debug") == 0) return RCGC_ALLOC_MODE_DEBUG;
    return -1;
}

static rcgc_alloc_mode_t mode_from_env(void) {
    const char *env = getenv("RCGC_MALLOC");
    if (!env || !*env) return RCGC_ALLOC_MODE_DEFAULT;
    int m = parse_mode(env);
    if (m >= 0) return (rcgc_alloc_mode_t)m;
    /* No rcgc allocation may happen here (we are inside the first one). */
    fprintf(stderr, "rcgc: ignoring unknown RCGC_MALLOC=%s "
                    "(expected default, malloc, debug or malloc_debug)\n", env);
    return RCGC_ALLOC_MODE_DEFAULT;
}

/* ---- fork ------------------------------------------------------------------
 * The tracer's and the debug quarantine's locks are held across fork() so
 * the child never inherits one locked by a thread it does not have (the
 * pool registers the same for its own lock at its first use). Both are
 * leaves (taken with no other allocator lock held), so their order among
 * themselves does not matter; what matters is that these handlers are
 * registered before the thread layer's (alloc_internal.h). */
static void fork_prepare(void) {
    _rcgc_trace_fork_lock();
    _rcgc_debug_fork_lock();
}
static void fork_release(void) {
    _rcgc_debug_fork_unlock();
    _rcgc_trace_fork_unlock();
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(fork_prepare, fork_release, fork_release); }

static bool mode_is_debug(rcgc_alloc_mode_t m) {
    return m == RCGC_ALLOC_MODE_DEBUG || m == RCGC_ALLOC_MODE_MALLOC_DEBUG;
}

static void update_direct(void) {
    static const rcgc_allocator_t *const defaults[RCGC_DOMAIN_COUNT] = { &base_libc, &base_mem, &base_obj };
    for (int d = 0; d < RCGC_DOMAIN_COUNT; d++)
        direct[d] = !mode_is_debug(mode) && domains[d].malloc == defaults[d]->malloc
                    && domains[d].free == defaults[d]->free;
    pthread_mutex_lock(&fast_lock);
    update_fast_locked();
    pthread_mutex_unlock(&fast_lock);
}

static void install_mode(void) {
    mode = explicit_mode >= 0 ? (rcgc_alloc_mode_t)explicit_mode : mode_from_env();
    bool pooled = mode == RCGC_ALLOC_MODE_DEFAULT || mode == RCGC_ALLOC_MODE_DEBUG;
    rcgc_allocator_t base[RCGC_DOMAIN_COUNT] = {
        base_libc, pooled ? base_mem : base_libc, pooled ? base_obj : base_lobj
    };
    for (int d = 0; d < RCGC_DOMAIN_COUNT; d++) {
        if (mode_is_debug(mode)) _rcgc_debug_wrap((rcgc_domain_t)d, &base[d], &domains[d]);
        else domains[d] = base[d];
    }
    object_offset = mode_is_debug(mode) ? RCGC_DEBUG_HEAD : 0;
    update_direct();
    mode_installed = true;
    pthread_once(&atfork_once, register_atfork);
}

static void ensure_init(void) { pthread_once(&init_once, install_mode); }

/* Boot allocators: the table's initial content. */
static void *boot_malloc(void *ctx, size_t n) {
    ensure_init();
    rcgc_allocator_t *a = &domains[(uintptr_t)ctx];
    return a->malloc(a->ctx, n);
}
static void *boot_calloc(void *ctx, size_t x, size_t y) {
    ensure_init();
    rcgc_allocator_t *a = &domains[(uintptr_t)ctx];
    return a->calloc(a->ctx, x, y);
}
static void *boot_realloc(void *ctx, void *p, size_t n) {
    ensure_init();
    rcgc_allocator_t *a = &domains[(uintptr_t)ctx];
    return a->realloc(a->ctx, p, n);
}
static void boot_free(void *ctx, void *p) {
    ensure_init();
    rcgc_allocator_t *a = &domains[(uintptr_t)ctx];
    a->free(a->ctx, p);
}
#define BOOT(d) { (void *)(uintptr_t)(d), boot_malloc, boot_calloc, boot_realloc, boot_free }
static rcgc_allocator_t domains[RCGC_DOMAIN_COUNT] = { BOOT(0), BOOT(1), BOOT(2) };

int rcgc_alloc_set_mode(rcgc_alloc_mode_t m) {
    if ((unsigned)m > RCGC_ALLOC_MODE_MALLOC_DEBUG)
        return _rcgc_fail_int(RCGC_EINVAL, "unknown allocator mode");
    if (__atomic_load_n(&mode_installed, __ATOMIC_ACQUIRE))
        return _rcgc_fail_int(RCGC_ESTATE, "allocator mode already in use (set it before rcgc_init)");
    explicit_mode = (int)m;
    return 0;
}

int rcgc_alloc_set_mode_name(const char *name) {
    int m = name ? parse_mode(name) : -1;
    if (m < 0) return _rcgc_fail_int(RCGC_EINVAL, "unknown allocator mode name");
    return rcgc_alloc_set_mode((rcgc_alloc_mode_t)m);
}

rcgc_alloc_mode_t rcgc_alloc_get_mode(void) {
    ensure_init();
    return mode;
}

size_t _rcgc_alloc_object_offset(void) {
    ensure_init();
    return object_offset;
}

/* ---- failure injection ----------------------------------------------------
 * countdown: calls left until the first failure (0: counter off or spent);
 * repeat: failures still to inject after it (ULONG_MAX: forever). All fields
 * atomic; fn/ctx are set by the test thread while no other thread allocates. */
static struct {
    unsigned long countdown, repeat, injected;
    unsigned domains;
    rcgc_alloc_fail_fn fn;
    void *ctx;
} fail;

static bool fail_counter_hits(void) {
    unsigned long c = __atomic_load_n(&fail.countdown, __ATOMIC_RELAXED);
    while (c > 0) {
        if (__atomic_compare_exchange_n(&fail.countdown, &c, c - 1, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return c == 1;
    }
    unsigned long r = __atomic_load_n(&fail.repeat, __ATOMIC_RELAXED);
    while (r > 0) {
        if (r == ULONG_MAX) return true;
        if (__atomic_compare_exchange_n(&fail.repeat, &r, r - 1, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return true;
    }
    return false;
}

bool _rcgc_alloc_should_fail(rcgc_domain_t d, size_t size) {
    if (RCGC_LIKELY(!(__atomic_load_n(&alloc_intercept, __ATOMIC_RELAXED) & RCGC_INTERCEPT_FAIL)))
        return false;
    if (fail.domains && !(fail.domains & (1u << d))) return false;
    bool hit = fail_counter_hits();
    if (!hit && fail.fn) hit = fail.fn(d, size, fail.ctx) != 0;
    if (hit) __atomic_fetch_add(&fail.injected, 1, __ATOMIC_RELAXED);
    return hit;
}

static void fail_update_intercept(void) {
    bool on = __atomic_load_n(&fail.countdown, __ATOMIC_RELAXED) > 0
              || __atomic_load_n(&fail.repeat, __ATOMIC_RELAXED) > 0 || fail.fn;
    _rcgc_alloc_set_intercept(RCGC_INTERCEPT_FAIL, on);
}

void rcgc_alloc_set_fail_spec(const rcgc_alloc_fail_spec_t *spec) {
    rcgc_alloc_fail_spec_t off = { 0, 0, 0 };
    if (!spec || spec->after == 0) spec = &off;
    fail.domains = spec->domains;
    __atomic_store_n(&fail.repeat, spec->repeat, __ATOMIC_RELAXED);
    __atomic_store_n(&fail.countdown, spec->after, __ATOMIC_RELAXED);
    __atomic_store_n(&fail.injected, 0, __ATOMIC_RELAXED);
    fail_update_intercept();
}

void rcgc_alloc_set_fail_after(unsigned long n) {
    rcgc_alloc_fail_spec_t spec = { n, 0, 0 };
    rcgc_alloc_set_fail_spec(&spec);
}

unsigned long rcgc_alloc_fail_injected(void) {
    return __atomic_load_n(&fail.injected, __ATOMIC_RELAXED);
}

void rcgc_alloc_set_fail_hook(rcgc_alloc_fail_fn fn, void *ctx) {
    fail.ctx = ctx;
    fail.fn = fn;
    __atomic_store_n(&fail.injected, 0, __ATOMIC_RELAXED);
    fail_update_intercept();
}

/* ---- entry points ---------------------------------------------------------- */
static inline void *checked(void *p) {
    if (RCGC_UNLIKELY(!p)) return _rcgc_fail_null(RCGC_ENOMEM, "out of memory");
    return p;
}

static void *injected_oom(void) {
    return _rcgc_fail_null(RCGC_ENOMEM, "out of memory (injected failure)");
}

static RCGC_NOINLINE void *slow_malloc(rcgc_domain_t d, size_t n) {
    if (_rcgc_alloc_should_fail(d, n)) return injected_oom();
    rcgc_allocator_t *a = &domains[d];
    void *p = a->malloc(a->ctx, n);
    if (p && tracing()) _rcgc_trace_on_alloc(d, p, n);
    return checked(p);
}

static RCGC_NOINLINE void *slow_calloc(rcgc_domain_t d, size_t x, size_t y) {
    if (_rcgc_alloc_should_fail(d, x * y)) return injected_oom();
    rcgc_allocator_t *a = &domains[d];
    void *p = a->calloc(a->ctx, x, y);
    if (p && tracing()) _rcgc_trace_on_alloc(d, p, x * y);
    return checked(p);
}

/* A block that moves is untracked after the move: a racing allocation that
 * reuses the old address in between could lose its trace (rare, tracing
 * only). */
static RCGC_NOINLINE void *slow_realloc(rcgc_domain_t d, void *p, size_t n) {
    if (_rcgc_alloc_should_fail(d, n)) return injected_oom();
    rcgc_allocator_t *a = &domains[d];
    void *q = a->realloc(a->ctx, p, n);
    if (q && tracing()) {
        if (p) _rcgc_trace_on_free(d, p);
        _rcgc_trace_on_alloc(d, q, n);
    }
    return checked(q);
}

/* The default base of domain d, called without the table (d is a constant
 * after inlining, so the switch folds away). */
static inline void *direct_malloc(rcgc_domain_t d, size_t n) {
    switch (d) {
    case RCGC_DOMAIN_RAW: return malloc(nz(n));
    case RCGC_DOMAIN_MEM: return _rcgc_pool_malloc(nz(n), RCGC_HEAP_MEM);
    default: return _rcgc_pool_malloc(nz(n), RCGC_HEAP_OBJECT);
    }
}

static inline void direct_free(rcgc_domain_t d, void *p) {
    if (d == RCGC_DOMAIN_RAW) free(p);
    else if (p) _rcgc_pool_free(p);
}

static RCGC_NOINLINE void *table_malloc(rcgc_domain_t d, size_t n) {
    if (intercepting()) return slow_malloc(d, n);
    rcgc_allocator_t *a = &domains[d];
    return checked(a->malloc(a->ctx, n));
}

static RCGC_NOINLINE void table_free(rcgc_domain_t d, void *p) {
    if (!p) return;
    if (tracing()) _rcgc_trace_on_free(d, p);
    rcgc_allocator_t *a = &domains[d];
    a->free(a->ctx, p);
}

/* Everything but the inlined pool fast paths: the table, the hooks, the
 * debug layer, tracing, failure injection, and the pool's own slow paths. */
/* (argument order: the fast path hands its own arguments on unmoved) */
static RCGC_NOINLINE void *dom_malloc_slow(size_t n, rcgc_domain_t d) {
    if (is_fast(d)) return checked(direct_malloc(d, n));
    return table_malloc(d, n);
}

static RCGC_NOINLINE void dom_free_slow(void *p, rcgc_domain_t d) {
    if (is_fast(d)) direct_free(d, p);
    else table_free(d, p);
}

/* Fast path: one byte load (fast[d]: default base, nothing intercepting),
 * then, for the pooled domains, the pool's fast path inlined here, so a
 * default-mode pair is two calls from the caller and no call inside the
 * library. Anything else goes to the out-of-line slow paths above. */
static inline void *dom_malloc(rcgc_domain_t d, size_t n) {
    if (d == RCGC_DOMAIN_RAW) { /* libc underneath: no frame of ours in between */
        if (is_fast(d)) return checked(malloc(nz(n)));
        return table_malloc(d, n);
    }
    if (is_fast(d)) {
        void *p = _rcgc_pool_try_malloc(n, d == RCGC_DOMAIN_MEM ? RCGC_HEAP_MEM : RCGC_HEAP_OBJECT);
        if (RCGC_LIKELY(p != NULL)) return p;
    }
    return dom_malloc_slow(n, d);
}

static inline void dom_free(rcgc_domain_t d, void *p) {
    if (d == RCGC_DOMAIN_RAW) {
        if (is_fast(d)) free(p);
        else table_free(d, p);
        return;
    }
    /* no is_fast(d): _rcgc_pool_try_free fails unless MEM and OBJ are fast */
    if (_rcgc_pool_try_free(p)) return;
    dom_free_slow(p, d);
}

static inline void *dom_calloc(rcgc_domain_t d, size_t x, size_t y) {
    size_t n;
    if (__builtin_mul_overflow(x, y, &n))
        return _rcgc_fail_null(RCGC_EOVERFLOW, "calloc size overflows");
    if (intercepting()) return slow_calloc(d, x, y);
    rcgc_allocator_t *a = &domains[d];
    return checked(a->calloc(a->ctx, x, y));
}

static inline void *dom_realloc(rcgc_domain_t d, void *p, size_t n) {
    if (intercepting()) return slow_realloc(d, p, n);
    rcgc_allocator_t *a = &domains[d];
    return checked(a->realloc(a->ctx, p, n));
}

void *rcgc_raw_malloc(size_t n) { return dom_malloc(RCGC_DOMAIN_RAW, n); }
void *rcgc_raw_calloc(size_t a, size_t b) { return dom_calloc(RCGC_DOMAIN_RAW, a, b); }
void *rcgc_raw_realloc(void *p, size_t n) { return dom_realloc(RCGC_DOMAIN_RAW, p, n); }
void rcgc_raw_free(void *p) { dom_free(RCGC_DOMAIN_RAW, p); }

void *rcgc_mem_malloc(size_t n) { return dom_malloc(RCGC_DOMAIN_MEM, n); }
void *rcgc_mem_calloc(size_t a, size_t b) { return dom_calloc(RCGC_DOMAIN_MEM, a, b); }
void *rcgc_mem_realloc(void *p, size_t n) { return dom_realloc(RCGC_DOMAIN_MEM, p, n); }
void rcgc_mem_free(void *p) { dom_free(RCGC_DOMAIN_MEM, p); }

void *rcgc_obj_malloc(size_t n) { return dom_malloc(RCGC_DOMAIN_OBJ, n); }
void *rcgc_obj_calloc(size_t a, size_t b) { return dom_calloc(RCGC_DOMAIN_OBJ, a, b); }
void *rcgc_obj_realloc(void *p, size_t n) { return dom_realloc(RCGC_DOMAIN_OBJ, p, n); }
void rcgc_obj_free(void *p) { dom_free(RCGC_DOMAIN_OBJ, p); }

/* ---- hooks ----------------------------------------------------------------- */
void rcgc_alloc_get_allocator(rcgc_domain_t d, rcgc_allocator_t *out) {
    ensure_init();
    if ((unsigned)d < RCGC_DOMAIN_COUNT && out) *out = domains[d];
}

int rcgc_alloc_set_allocator(rcgc_domain_t d, const rcgc_allocator_t *a) {
    if ((unsigned)d >= RCGC_DOMAIN_COUNT || !a || !a->malloc || !a->calloc || !a->realloc || !a->free)
        return _rcgc_fail_int(RCGC_EINVAL, "invalid domain or allocator");
    ensure_init();
    domains[d] = *a;
    update_direct();
    return 0;
}

/* ---- objects ----------------------------------------------------------------
 * Rule (alloc.h): the kind travels to the base allocator in tl_kind; if it is
 * still pending when the OBJ chain returns, a hook replaced the allocator
 * instead of wrapping it, which GC objects cannot accept. */
static RCGC_NOINLINE void *alloc_object_slow(size_t size, rcgc_heap_kind_t kind) {
    if (_rcgc_alloc_should_fail(RCGC_DOMAIN_OBJ, size)) return injected_oom();
    rcgc_allocator_t *a = &domains[RCGC_DOMAIN_OBJ];
    tl_kind = (int)kind;
    void *p = a->malloc(a->ctx, size);
    bool bypassed = take_kind() != RCGC_KIND_NONE;
    if (p && bypassed && kind == RCGC_HEAP_GC) {
        a->free(a->ctx, p);
        return _rcgc_fail_null(RCGC_ENOTSUP, "an OBJ allocator hook must wrap the previous "
                                             "allocator for objects of GC types");
    }
    if (p && tracing()) _rcgc_trace_on_alloc(RCGC_DOMAIN_OBJ, p, size);
    return checked(p);
}

static RCGC_NOINLINE void free_object_slow(void *block, rcgc_heap_kind_t kind) {
    if (is_fast(RCGC_DOMAIN_OBJ)) {
        _rcgc_pool_free(block);
        return;
    }
    if (!block) return;
    if (tracing()) _rcgc_trace_on_free(RCGC_DOMAIN_OBJ, block);
    rcgc_allocator_t *a = &domains[RCGC_DOMAIN_OBJ];
    tl_kind = (int)kind;
    a->free(a->ctx, block);
    tl_kind = RCGC_KIND_NONE;
}

static RCGC_NOINLINE void *alloc_object_slow_fast_mode(size_t size, rcgc_heap_kind_t kind) {
    return checked(_rcgc_pool_malloc(size, kind));
}

void *_rcgc_alloc_object(size_t size, rcgc_heap_kind_t kind) {
    if (is_fast(RCGC_DOMAIN_OBJ)) {
        void *p = _rcgc_pool_try_malloc(size, kind);
        if (RCGC_LIKELY(p != NULL)) return p;
        return alloc_object_slow_fast_mode(size, kind);
    }
    return alloc_object_slow(size, kind);
}

void _rcgc_free_object(void *block, rcgc_heap_kind_t kind) {
    if (_rcgc_pool_try_free(block)) return; /* only while OBJ is fast (dom_free) */
    free_object_slow(block, kind);
}

/* ---- checks, init ------------------------------------------------------------ */
void rcgc_alloc_check_block(const void *p) {
    if (p && mode_is_debug(rcgc_alloc_get_mode())) _rcgc_debug_check_block(p);
}

size_t rcgc_alloc_check_heap(void) {
    rcgc_alloc_mode_t m = rcgc_alloc_get_mode();
    if (!mode_is_debug(m)) return 0;
    size_t n = _rcgc_debug_check_quarantine();
    if (m == RCGC_ALLOC_MODE_DEBUG) n += _rcgc_debug_check_pool_heaps();
    return n;
}

/* At rcgc_init (and at the first allocation, for programs that use the
 * allocator alone): install the mode, and register the pool's fork handlers
 * and ours. */
void _rcgc_alloc_init(void) {
    ensure_init();
    _rcgc_pool_ensure_init();
    pthread_once(&atfork_once, register_atfork);
}

void _rcgc_alloc_fini(void) {
    if (mode_installed && mode_is_debug(mode)) _rcgc_debug_flush();
}
