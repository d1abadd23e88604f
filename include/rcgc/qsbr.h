/* rcgc/qsbr.h - lock-free readers and delayed freeing (QSBR).
 *
 * A lock-free reader loads a pointer from a shared slot without taking a
 * lock, then takes a reference with rcgc_object_try_incref and checks that
 * the slot still holds the same object. Between the load and the try-incref
 * the object may die; its memory must then stay readable, with a header at
 * the same place, until the reader is done. rcgc guarantees that with
 * quiescent-state-based reclamation (docs/design/qsbr.md):
 *
 *   - a thread is quiescent (holds no raw pointer loaded from a shared slot)
 *     at every safe point (rcgc_safepoint, attach, blocking_end) and offline
 *     while detached (rcgc_thread_detach, rcgc_blocking_begin, asleep on a
 *     lock): a detached thread never holds up reclamation;
 *   - memory retired with rcgc_mem_free_delayed, and the memory of objects
 *     for which rcgc_object_enable_lockfree_reads was called, is freed only
 *     once every attached thread has passed a safe point since it was retired.
 *
 * So a reader must not keep a raw pointer across a safe point or a detach;
 * a reference it took with try-incref it may keep as long as it likes.
 *
 * Free-threaded build: retired blocks wait in a per-thread queue bounded by a
 * count and a number of bytes (rcgc_qsbr_set_limits); past either bound the
 * thread asks for a grace period and frees what it can at its next safe point.
 * Default build: only one thread is attached at a time, and every other
 * thread is at a safe point or detached, so delayed frees and decrefs happen
 * at once and the queues stay empty; the API is the same.
 */
#ifndef RCGC_QSBR_H
#define RCGC_QSBR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "rcgc/export.h"
#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Make o readable by lock-free readers: try-incref from other threads becomes
 * valid (free-threaded: the MAYBE_WEAKREF state), and when o dies its memory
 * is freed through QSBR. Call it while no other thread can reach o (right
 * after rcgc_object_new, before storing o into a shared slot). Immortal and
 * static objects need nothing. Attached threads only. */
RCGC_API void rcgc_object_enable_lockfree_reads(rcgc_object_t *o);

/* Try to take a reference on an object reached without holding a reference
 * (a lock-free slot). true: the caller now owns a NEW reference; false: o is
 * dead or being torn down. After a success the caller must check that the
 * slot still holds o (the block may meanwhile hold another object of the same
 * type that was put there); rcgc_object_get_ref_lockfree does all of it.
 * o must have had lock-free reads enabled (or be immortal) and the caller
 * must be attached and have loaded o since its last safe point. */
RCGC_API bool rcgc_object_try_incref(rcgc_object_t *o);

/* Load *slot (acquire), try-incref, re-check the slot; retry while it
 * changed under us. NEW reference, or NULL when the slot holds NULL. Writers
 * store into the slot with release semantics (or under a lock) and drop the
 * old value only after the store. */
RCGC_API rcgc_object_t *rcgc_object_get_ref_lockfree(rcgc_object_t *const *slot);

/* Free a block of rcgc_mem_malloc once no lock-free reader can still hold it.
 * size: its size for the byte bound (0: the library looks it up for pool
 * blocks). NULL is ignored. Attached threads only. */
RCGC_API void rcgc_mem_free_delayed(void *p, size_t size);

/* Release a reference (STEALS it) once every attached thread has passed a safe
 * point; the decref, and any destructor it triggers, runs at a safe point of
 * the calling thread (or of another thread if it exits first). NULL is
 * ignored. Default build: an ordinary decref, at once. */
RCGC_API void rcgc_decref_delayed(rcgc_object_t *o);

/* Per-thread bounds of the delayed-free queue: past max_items items or
 * max_bytes bytes the thread starts a grace period and frees at its next safe
 * point. Both must be > 0 (else RCGC_EINVAL, -1). Defaults: 256 items, 1 MiB.
 * Process-wide; threads see a change at their next retire. */
#define RCGC_QSBR_DEFAULT_MAX_ITEMS 256
#define RCGC_QSBR_DEFAULT_MAX_BYTES ((size_t)1 << 20)
RCGC_API int rcgc_qsbr_set_limits(size_t max_items, size_t max_bytes);
RCGC_API void rcgc_qsbr_get_limits(size_t *max_items, size_t *max_bytes);

typedef struct rcgc_qsbr_stats {
    size_t thread_items;       /* waiting in the calling thread's queue */
    size_t thread_bytes;
    size_t orphan_items;       /* left by exited threads, processed by the others */
    size_t orphan_bytes;
    size_t total_bytes;        /* waiting anywhere (all queues) */
    size_t peak_total_bytes;   /* highest total_bytes since the last reset */
    uint64_t write_seq;        /* global write sequence (odd; +2 per grace period) */
    uint64_t read_seq;         /* every attached thread has passed this sequence */
    uint64_t advances;         /* grace periods started */
    uint64_t freed;            /* items freed or released after their grace period */
    uint64_t stw_barriers;     /* stops of the world used as a grace period (hard bound, OOM) */
    uint64_t oom_fallbacks;    /* items freed after a barrier because no queue chunk could be allocated */
} rcgc_qsbr_stats_t;

/* Statistics (free-threaded; the default build reports zeros). */
RCGC_API void rcgc_qsbr_get_stats(rcgc_qsbr_stats_t *out);
/* Restart peak_total_bytes from the current total. */
RCGC_API void rcgc_qsbr_reset_peak(void);
/* Free now what the calling thread's queue (and the orphan queue) can free:
 * starts a grace period if needed and polls once; never waits. Runs delayed
 * decrefs (destructors), so call it where a decref would be allowed. Returns
 * the number of items still waiting in the calling thread's queue. */
RCGC_API size_t rcgc_qsbr_process(void);

#ifdef __cplusplus
}
#endif

#endif
