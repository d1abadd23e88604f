/* rcgc/thread.h - the runtime, threads, the global lock and safe points.
 *
 * rcgc_init() starts the runtime and attaches the calling thread. Every other
 * thread that touches rcgc objects attaches first and detaches when done.
 *
 * Default build: "attached" means "holds the global lock" (CPython's GIL).
 * Only one attached thread runs at a time; rcgc_blocking_begin/end release the
 * lock around blocking work (CPython's Py_BEGIN/END_ALLOW_THREADS), and
 * rcgc_safepoint() hands the lock to a waiting thread when it has been held
 * for longer than the switch interval (5 ms).
 *
 * Free-threaded build: any number of threads may be attached at once;
 * "detached" threads (blocked, or between attach/detach pairs) do not hold up
 * a stop-the-world request. Long-running code without safe points must detach.
 *
 * Safe points: rcgc_safepoint(), rcgc_blocking_end(), rcgc_thread_attach()
 * and rcgc_gc_collect(). A collection scheduled by allocation (thresholds) runs
 * only there, never inside an allocation.
 */
#ifndef RCGC_THREAD_H
#define RCGC_THREAD_H

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start the runtime and attach the calling thread. Returns 0, or -1 with
 * RCGC_EINVAL if the headers and library are of different flavours (a
 * free-threaded program linked against librcgc, or the reverse), RCGC_ESTATE
 * if already running. */
RCGC_API int rcgc_init_checked(unsigned flavour_tag, size_t header_size);
static inline int rcgc_init(void) {
    return rcgc_init_checked(RCGC_FLAVOUR_TAG, sizeof(rcgc_object_t));
}
/* Stop the runtime: final full collection (no GC callbacks), finalizers of
 * collectable cycles run, a report of uncollectable objects, then the
 * library's own state is released. The caller must be the attached thread
 * that called rcgc_init(); other threads must have detached. */
RCGC_API int rcgc_shutdown(void);
RCGC_API bool rcgc_is_initialized(void);
/* Which flavour the library was built as: "default" or "free-threaded". */
RCGC_API const char *rcgc_flavour(void);

/* Attach the calling thread (default build: acquire the global lock, waiting
 * for it). Returns 0, or -1 (RCGC_ESTATE when the runtime is not running,
 * RCGC_ENOMEM). Nested attach calls are counted. */
RCGC_API int rcgc_thread_attach(void);
/* Detach (default build: release the global lock). */
RCGC_API void rcgc_thread_detach(void);
/* True if the calling thread is attached (default build: holds the lock). */
RCGC_API bool rcgc_thread_is_attached(void);
/* Release the lock / detach around blocking work; the thread must not touch
 * rcgc objects in between. blocking_end re-attaches and is a safe point. */
RCGC_API void rcgc_blocking_begin(void);
RCGC_API void rcgc_blocking_end(void);
/* Serve pending work: a scheduled collection, a lock hand-off (default build),
 * merge requests and stop-the-world requests (free-threaded build). */
RCGC_API void rcgc_safepoint(void);

#ifdef __cplusplus
}
#endif
#endif
