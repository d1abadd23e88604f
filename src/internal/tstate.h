/* internal/tstate.h - the per-thread state and the runtime.
 *
 * Every thread that uses rcgc has one rcgc_tstate_t in thread-local storage
 * (initial-exec TLS, so reaching it costs one instruction). Fields without a
 * note are touched only by their own thread.
 */
#ifndef RCGC_INTERNAL_TSTATE_H
#define RCGC_INTERNAL_TSTATE_H

#include "internal/core.h"
#include <pthread.h>
#include "rcgc/detail/thread_id.h"

typedef struct rcgc_brc_queue rcgc_brc_queue_t; /* free-threaded build, brc_ft.c */

typedef struct rcgc_tstate {
    uintptr_t tid;                /* rcgc_thread_id() of this thread, 0 until first use */
    int attach_depth;             /* nested attach calls; > 0 means attached */
    bool registered;              /* in the runtime's thread list */
    /* objects created minus objects freed by this thread, not yet added to
     * runtime.live_objects (object/object.c); own thread only */
    intptr_t live_delta;
    /* trashcan (object/trashcan.c) */
    int trash_depth;              /* nested rcgc_dealloc calls on this thread */
    uintptr_t trash_later;        /* deferred deallocations, linked through the dead objects */
    /* errors (core/error.c) */
    rcgc_error_t err_code;
    char err_msg[200];
    /* free-threaded: merge queue of objects other threads asked this thread
     * (their owner) to merge; protected by the registry bucket lock. */
    rcgc_brc_queue_t *brc;
    /* the runtime's list of registered threads; protected by runtime.threads_lock */
    struct rcgc_tstate *next_thread, *prev_thread;
    /* threads and locks (docs/design/threads.md) */
    bool blocking;                /* own thread: between rcgc_blocking_begin and _end */
    struct rcgc_critical_section *cs_top; /* own thread: top of its critical-section stack */
    /* top of its stack-reference frames (object/deferred.c): written by its own
     * thread while attached; read by a collector under the global lock (default)
     * or with the world stopped (free-threaded), with runtime.threads_lock held */
    struct rcgc_frame *frame_top;
    /* free-threaded (thread/tstate_ft.c, stw_ft.c): RCGC_TS_* state word;
     * atomic; who may make each transition: internal/stw.h */
    int xstate;
    bool stw_counted;             /* runtime.threads_lock: the current stop waits for this thread */
    bool brc_held;                /* runtime.threads_lock: SUSPENDED by a detached-owner merge
                                     (brc_ft.c); a restart of the world leaves it suspended */
    /* free-threaded collector (gc/gc_ft.c): the young count, batched. The
     * owner updates gc_delta with relaxed atomic stores (rcgc_gc_get_count
     * reads it from any thread); the collector resets all four while the
     * world is stopped. gc_base: the global count this thread saw at its last
     * flush; gc_limit: flush when gc_delta reaches it; gc_scheduled: this
     * thread's flush crossed threshold 0, collect at its next safe point. */
    intptr_t gc_delta, gc_base, gc_limit;
    bool gc_scheduled;
} rcgc_tstate_t;

/* The calling thread's id (rcgc/detail/thread_id.h; the same value the
 * free-threaded build stores in ob_tid). */
static inline uintptr_t rcgc_thread_id_of_caller(void) { return rcgc_thread_id(); }

/* This thread's state (never NULL; initialised on first use). Inline: the
 * trashcan reaches it on every deallocation. */
RCGC_INTERNAL extern RCGC_TLS rcgc_tstate_t _rcgc_tls_state;
RCGC_INTERNAL void _rcgc_tstate_first_use(rcgc_tstate_t *ts);
static inline rcgc_tstate_t *_rcgc_tstate(void) {
    rcgc_tstate_t *ts = &_rcgc_tls_state;
    if (RCGC_UNLIKELY(ts->tid == 0)) _rcgc_tstate_first_use(ts);
    return ts;
}

typedef struct rcgc_runtime {
    bool initialized;             /* set by rcgc_init, cleared by rcgc_shutdown */
    pthread_mutex_t threads_lock; /* protects the thread list */
    rcgc_tstate_t *threads;       /* registered threads */
    intptr_t live_objects;        /* atomic: sum of the threads' flushed live_delta */
} rcgc_runtime_t;

RCGC_INTERNAL extern rcgc_runtime_t _rcgc_runtime;

/* Add the thread's pending live-object delta to the runtime's count
 * (object/object.c), and its young-count delta to the collector's
 * (_rcgc_gc_count_flush); called when it detaches, blocks, passes a safe
 * point or exits, so the counts are exact once the other threads are detached. */
RCGC_INTERNAL void _rcgc_live_count_flush(rcgc_tstate_t *ts);

/* Thread lifecycle hooks implemented per flavour (thread/glock_default.c,
 * thread/tstate_ft.c). */
RCGC_INTERNAL int _rcgc_flavour_attach(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_flavour_detach(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_flavour_safepoint(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_flavour_thread_exit(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_flavour_init(void);
RCGC_INTERNAL void _rcgc_flavour_fini(void);

#endif
