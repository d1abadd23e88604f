/* rcgc/alloc.h - memory domains and their allocators (CPython's PEP 445).
 *
 * Three domains, as in CPython:
 *   RAW  general purpose, callable without being attached (PyMem_RawMalloc);
 *   MEM  general purpose buffers of attached threads (PyMem_Malloc);
 *   OBJ  small objects (PyObject_Malloc); rcgc_object_new allocates here.
 * Each domain's allocator can be read, replaced or wrapped (for tracing).
 * malloc(0) returns a unique non-NULL pointer. Failure returns NULL and sets
 * RCGC_ENOMEM (or RCGC_EOVERFLOW for calloc overflow).
 */
#ifndef RCGC_ALLOC_H
#define RCGC_ALLOC_H

#include <stddef.h>
#include <limits.h>
#include "rcgc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rcgc_domain {
    RCGC_DOMAIN_RAW = 0,
    RCGC_DOMAIN_MEM = 1,
    RCGC_DOMAIN_OBJ = 2
} rcgc_domain_t;
#define RCGC_DOMAIN_COUNT 3

typedef struct rcgc_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} rcgc_allocator_t;

RCGC_API void *rcgc_raw_malloc(size_t size);
RCGC_API void *rcgc_raw_calloc(size_t nelem, size_t elsize);
RCGC_API void *rcgc_raw_realloc(void *ptr, size_t size);
RCGC_API void rcgc_raw_free(void *ptr);

RCGC_API void *rcgc_mem_malloc(size_t size);
RCGC_API void *rcgc_mem_calloc(size_t nelem, size_t elsize);
RCGC_API void *rcgc_mem_realloc(void *ptr, size_t size);
RCGC_API void rcgc_mem_free(void *ptr);

RCGC_API void *rcgc_obj_malloc(size_t size);
RCGC_API void *rcgc_obj_calloc(size_t nelem, size_t elsize);
RCGC_API void *rcgc_obj_realloc(void *ptr, size_t size);
RCGC_API void rcgc_obj_free(void *ptr);

/* Read / replace a domain's allocator. Replace only before the first
 * allocation in that domain, or wrap the current one (keep what get returned
 * and call through it). */
RCGC_API void rcgc_alloc_get_allocator(rcgc_domain_t domain, rcgc_allocator_t *out);
RCGC_API int rcgc_alloc_set_allocator(rcgc_domain_t domain, const rcgc_allocator_t *alloc);

/* Hook rules (docs/design/alloc-debug.md):
 *  - get/set apply the run-time mode first (see below), so a hook installed
 *    by the user sits on top of the debug layer, never under it.
 *  - Set hooks before other threads use the library; the table is not locked.
 *  - Objects: rcgc_object_new allocates through the OBJ domain. Objects of
 *    GC types must live in the GC heap (the collector walks it), so for them
 *    an OBJ hook must WRAP: call the allocator that get returned, with the
 *    same or a larger size, exactly once per call. A hook that returns
 *    memory of its own for a GC object has that block freed through its own
 *    free and the allocation fails with RCGC_ENOTSUP. Non-GC objects and
 *    plain rcgc_obj_* blocks may come from anywhere. */

/* ---- Run-time mode: env RCGC_MALLOC=default|malloc|debug|malloc_debug ----
 * Read once, at rcgc_init() or the first allocation, whichever comes first.
 *   default       RAW: libc; MEM, OBJ: the pool.
 *   malloc        every domain from libc malloc, for ASan/Valgrind/LSan runs
 *                 (free-threaded build: objects of GC types stay in the GC
 *                 heap, which the collector must walk).
 *   debug         default + debug hooks on every domain: guard bytes (0xFD),
 *                 fills (0xCD new, 0xDD freed), domain id, serial, size;
 *                 freed blocks wait in a bounded quarantine. Any damage is a
 *                 fatal report with a hex dump naming the block's serial;
 *                 RCGC_MALLOC_SERIAL_BREAK=N then reports (and gives a
 *                 breakpoint target for) the allocation of serial N.
 *   malloc_debug  malloc + the same debug hooks. */
typedef enum rcgc_alloc_mode {
    RCGC_ALLOC_MODE_DEFAULT = 0,
    RCGC_ALLOC_MODE_MALLOC = 1,
    RCGC_ALLOC_MODE_DEBUG = 2,
    RCGC_ALLOC_MODE_MALLOC_DEBUG = 3
} rcgc_alloc_mode_t;

/* Choose the mode in code (wins over RCGC_MALLOC). Only before rcgc_init()
 * and before the first allocation: afterwards RCGC_ESTATE. */
RCGC_API int rcgc_alloc_set_mode(rcgc_alloc_mode_t mode);
/* The same by name ("debug"); unknown name: RCGC_EINVAL. */
RCGC_API int rcgc_alloc_set_mode_name(const char *name);
RCGC_API rcgc_alloc_mode_t rcgc_alloc_get_mode(void);
RCGC_API const char *rcgc_alloc_mode_name(rcgc_alloc_mode_t mode);

/* Debug mode: check one live block of any domain (guards, header, domain);
 * a damaged or freed block is a fatal report. No-op in other modes. */
RCGC_API void rcgc_alloc_check_block(const void *ptr);
/* Debug modes: verify every block waiting in the free quarantine (catches
 * writes after free now rather than when the block leaves) and, in mode
 * `debug`, every live MEM/OBJ block (guards and header). Fatal report on
 * damage; returns the number of blocks checked (0 in other modes). Call it
 * while no other thread allocates or frees (the pool walk needs that). */
RCGC_API size_t rcgc_alloc_check_heap(void);

/* ---- Allocation-failure injection (tests; works in every mode) -----------
 * Counts allocation calls (malloc, calloc, realloc of every domain and object
 * allocation) and makes chosen ones fail as if out of memory: NULL +
 * RCGC_ENOMEM. Thread-safe; costs one predictable branch when off.
 * Typical use, failing every site of an operation in turn:
 *     for (n = 1;; n++) {
 *         rcgc_alloc_set_fail_after(n);
 *         int rc = operation();
 *         bool injected = rcgc_alloc_fail_injected() > 0;
 *         rcgc_alloc_set_fail_after(0);
 *         ...check rc failed cleanly if injected...
 *         if (!injected) break;
 *     } */
typedef struct rcgc_alloc_fail_spec {
    unsigned long after;  /* fail the after-th counted call from now (1 = next); 0 = off */
    unsigned long repeat; /* then fail this many more calls in a row (ULONG_MAX: all) */
    unsigned domains;     /* mask of 1u << rcgc_domain_t to count; 0 = every domain */
} rcgc_alloc_fail_spec_t;
RCGC_API void rcgc_alloc_set_fail_spec(const rcgc_alloc_fail_spec_t *spec); /* NULL: off */
/* Shorthand: fail only the n-th allocation from now (0: off). */
RCGC_API void rcgc_alloc_set_fail_after(unsigned long n);
/* Failures injected since the last set_fail_* call. */
RCGC_API unsigned long rcgc_alloc_fail_injected(void);
/* A general predicate, consulted after the counter: return nonzero to fail
 * this call. Runs on the allocating thread, must not allocate. NULL: off. */
typedef int (*rcgc_alloc_fail_fn)(rcgc_domain_t domain, size_t size, void *ctx);
RCGC_API void rcgc_alloc_set_fail_hook(rcgc_alloc_fail_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
