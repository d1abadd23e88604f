/* internal/alloc_debug.h - the domain layer's internal seams: the debug
 * allocator (alloc/debug_alloc.c), the tracer (alloc/trace.c), failure
 * injection and the object-heap hand-off (alloc/domain.c).
 *
 * Call chain of one allocation (domain.c):
 *
 *   entry (rcgc_obj_malloc, _rcgc_alloc_object, ...)
 *     -> [intercept: failure injection, tracing]  only when alloc_intercept != 0
 *     -> domain table: user hooks (wrapping) -> debug layer -> base allocator
 *        base: libc (RAW, malloc mode) or the pool (MEM, OBJ)
 */
#ifndef RCGC_INTERNAL_ALLOC_DEBUG_H
#define RCGC_INTERNAL_ALLOC_DEBUG_H

#include "internal/alloc_internal.h"

/* ---- debug layer (debug_alloc.c) ----------------------------------------- */

/* Bytes of the debug header before the user pointer and of the trailing
 * guard after the data (layout in debug_alloc.c and the design doc). */
#define RCGC_DEBUG_HEAD 32
#define RCGC_DEBUG_TAIL 16

/* Fill *out with the debug layer for domain d wrapped around *inner. Called
 * once per domain while the mode is installed (before threads start). */
RCGC_INTERNAL void _rcgc_debug_wrap(rcgc_domain_t d, const rcgc_allocator_t *inner,
                                    rcgc_allocator_t *out);
/* Check a live debug block (any domain); fatal report on damage. */
RCGC_INTERNAL void _rcgc_debug_check_block(const void *p);
/* Verify the quarantine; returns the number of blocks checked. */
RCGC_INTERNAL size_t _rcgc_debug_check_quarantine(void);
/* Check every live block of the pool heaps (debug mode over the pool only);
 * same threading rule as _rcgc_heap_visit. Returns the number checked. */
RCGC_INTERNAL size_t _rcgc_debug_check_pool_heaps(void);
/* Breakpoint target (`break _rcgc_debug_serial_hit`): called when the block
 * with serial RCGC_MALLOC_SERIAL_BREAK is allocated; also prints a line. */
RCGC_INTERNAL void _rcgc_debug_serial_hit(const void *p, uint64_t serial);
/* Verify and release every quarantined block (runtime shutdown). */
RCGC_INTERNAL void _rcgc_debug_flush(void);
/* fork: hold the quarantine lock across it (domain.c's atfork handlers). */
RCGC_INTERNAL void _rcgc_debug_fork_lock(void);
RCGC_INTERNAL void _rcgc_debug_fork_unlock(void);

/* ---- object heap hand-off (domain.c) -------------------------------------
 * _rcgc_alloc_object / _rcgc_free_object pass the heap kind to the base
 * allocator through a thread-local "pending kind" (the public allocator
 * signature has no room for it). The base consumes it; a layer that keeps a
 * block for later (the debug quarantine) peeks at it and restores it. */
#define RCGC_KIND_NONE (-1)
RCGC_INTERNAL int _rcgc_alloc_peek_kind(void);
RCGC_INTERNAL void _rcgc_alloc_set_kind(int kind);

/* Offset from the start of a pool block to the object, for heap walkers:
 * RCGC_DEBUG_HEAD in the debug modes, 0 otherwise. Fixed once the mode is
 * installed. */
RCGC_INTERNAL size_t _rcgc_alloc_object_offset(void);

/* ---- failure injection (domain.c) ----------------------------------------
 * True if this allocation must fail (counts the call). For allocation sites
 * that do not go through a domain (OS mappings, internal tables): call it
 * first and fail as for a real OOM. Cheap when injection is off. */
RCGC_INTERNAL bool _rcgc_alloc_should_fail(rcgc_domain_t d, size_t size);

/* Interception bits: while any is set the entry points take the slow path. */
#define RCGC_INTERCEPT_FAIL 1u
#define RCGC_INTERCEPT_TRACE 2u
RCGC_INTERNAL void _rcgc_alloc_set_intercept(unsigned bit, bool on);

/* ---- tracer (trace.c) -----------------------------------------------------
 * Called by domain.c's slow path after the real allocation succeeded / before
 * the real free; never with the tracer's own memory (it uses libc). */
RCGC_INTERNAL void _rcgc_trace_on_alloc(rcgc_domain_t d, void *p, size_t size);
RCGC_INTERNAL void _rcgc_trace_on_free(rcgc_domain_t d, void *p);
/* Write "traced at file:line" for a live block into buf (debug reports);
 * never blocks or allocates; returns 0 when unknown. */
RCGC_INTERNAL int _rcgc_trace_describe(const void *p, char *buf, size_t size);
/* fork: hold the tracer's lock across it (domain.c's atfork handlers). */
RCGC_INTERNAL void _rcgc_trace_fork_lock(void);
RCGC_INTERNAL void _rcgc_trace_fork_unlock(void);

#endif
