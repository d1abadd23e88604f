/* internal/stw.h - thread states and stop-the-world (free-threaded build;
 * thread/tstate_ft.c, thread/stw_ft.c, docs/design/threads.md).
 *
 * Thread states (rcgc_tstate_t.xstate, atomic) and who may change them:
 *
 *   DETACHED  -> ATTACHED    the thread itself (CAS), after checking that no
 *                            stop is pending
 *   DETACHED  -> SUSPENDED   the thread itself, under threads_lock, instead of
 *                            attaching when a stop is pending
 *   ATTACHED  -> DETACHED    the thread itself
 *   ATTACHED  -> SUSPENDED   the thread itself, under threads_lock, when a
 *                            stop is requested (safe point, detach, attach)
 *   DETACHED  -> SUSPENDED   the stopping thread (CAS, under threads_lock)
 *   SUSPENDED -> SUSPENDED|WAITING   the thread itself (CAS): it wants to
 *                            attach and parks on the state word
 *   SUSPENDED -> DETACHED    the restarting thread (CAS, under threads_lock)
 *   SUSPENDED|WAITING -> ATTACHED    the restarting thread (CAS, under
 *                            threads_lock): attachment is handed over, so a
 *                            thread that waited through a stop runs before the
 *                            next stop can suspend it (no starvation by a
 *                            thread stopping the world in a loop)
 *   DETACHED  -> SUSPENDED   a thread merging the queue of a detached owner
 *                            (brc_ft.c), CAS under threads_lock, only while no
 *                            stop is requested; sets brc_held
 *   SUSPENDED[|WAITING] -> DETACHED|ATTACHED   that merging thread, under
 *                            threads_lock, clearing brc_held; if another
 *                            thread requested a stop meanwhile the thread
 *                            stays SUSPENDED and that stop's restart resumes
 *                            it (a restart skips threads with brc_held set)
 *   ATTACHED  -> SHUTTING_DOWN      the thread itself at exit, under threads_lock
 *   SHUTTING_DOWN -> DETACHED       the thread itself, if it attaches again
 *
 * A stop waits for every registered thread except the requester to be
 * SUSPENDED or SHUTTING_DOWN; while the world is stopped no thread but the
 * requester is ATTACHED (a thread that registers after the final scan, or a
 * SHUTTING_DOWN one that attaches again, is DETACHED until it suspends itself
 * on its way to attaching).
 */
#ifndef RCGC_INTERNAL_STW_H
#define RCGC_INTERNAL_STW_H

#include "internal/tstate.h"
#include "internal/lock.h"

#define RCGC_TS_DETACHED 0
#define RCGC_TS_ATTACHED 1
#define RCGC_TS_SUSPENDED 2
#define RCGC_TS_SHUTTING_DOWN 3
#define RCGC_TS_WAITING 4 /* with SUSPENDED: parked in attach */

#define RCGC_STW_REPOLL_NS 1000000 /* the requester re-scans every 1 ms */

/* The stop-the-world state. All fields are protected by runtime.threads_lock
 * except: mutex (itself a lock: serialises requesters), xrequested and
 * xrequester (written under threads_lock, read without it at safe points
 * with atomics), event (atomic). */
typedef struct rcgc_stw {
    rcgc_mutex_t mutex;          /* held by the requester from stop to start */
    int xrequested;              /* a stop is requested or in effect */
    rcgc_tstate_t *xrequester;   /* its thread state (exempt from suspension) */
    bool world_stopped;          /* every other thread is suspended */
    int remaining;               /* threads with stw_counted set */
    rcgc_event_t event;          /* set when remaining reaches 0 */
    uint64_t stops;              /* completed stops (statistics, tests) */
} rcgc_stw_t;

RCGC_INTERNAL extern rcgc_stw_t _rcgc_stw;

/* Stop every other registered thread at a safe point or while detached.
 * The caller may be attached (it keeps running) or not. Two requesters
 * serialise. Not reentrant. */
RCGC_INTERNAL void _rcgc_stop_the_world(void);
/* Restart the threads stopped by this thread's _rcgc_stop_the_world. */
RCGC_INTERNAL void _rcgc_start_the_world(void);
RCGC_INTERNAL bool _rcgc_world_is_stopped(void);

/* thread/stw_ft.c, for tstate_ft.c: the calling thread (ATTACHED, or
 * DETACHED and about to attach) saw a request; under threads_lock, if it is
 * still pending, switch to SUSPENDED and account for it. Returns true if the
 * thread is now SUSPENDED. */
RCGC_INTERNAL bool _rcgc_stw_suspend_self(rcgc_tstate_t *ts);
/* Detached-owner merge (brc_ft.c): suspend one DETACHED thread so that it
 * cannot attach (it parks if it tries) while another thread merges its
 * objects' counts. Fails (false) if t is not DETACHED or a stop is requested.
 * The caller must know t's state stays allocated (it holds t's registry
 * bucket lock, which t needs to exit). */
RCGC_INTERNAL bool _rcgc_stw_hold_detached(rcgc_tstate_t *t);
/* Undo _rcgc_stw_hold_detached: resume t (handing attachment over if it
 * waits in attach), or leave it to the stop requested meanwhile. */
RCGC_INTERNAL void _rcgc_stw_release_held(rcgc_tstate_t *t);
/* The calling thread is exiting: ATTACHED -> SHUTTING_DOWN. */
RCGC_INTERNAL void _rcgc_stw_thread_gone(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_stw_init(void);

static inline bool _rcgc_stw_pending_for(const rcgc_tstate_t *ts) {
    return __atomic_load_n(&_rcgc_stw.xrequested, __ATOMIC_SEQ_CST) &&
           __atomic_load_n(&_rcgc_stw.xrequester, __ATOMIC_RELAXED) != ts;
}

/* thread/tstate_ft.c: state changes without safe-point work (no merges):
 * used by parking (critical_section_ft.c) and by the flavour hooks. */
RCGC_INTERNAL void _rcgc_tstate_attach(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_tstate_detach(rcgc_tstate_t *ts);
static inline int _rcgc_tstate_state(const rcgc_tstate_t *ts) {
    return __atomic_load_n(&ts->xstate, __ATOMIC_ACQUIRE);
}

/* thread/critical_section_ft.c */
RCGC_INTERNAL void _rcgc_cs_suspend_all(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_cs_resume(rcgc_tstate_t *ts);

#endif
