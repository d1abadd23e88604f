/* internal/qsbr.h - quiescent-state-based reclamation (thread/qsbr_ft.c,
 * thread/qsbr_default.c, thread/qsbr.c; docs/design/qsbr.md).
 *
 * Sequences (free-threaded): a global write sequence wr_seq, odd, starting at
 * 1, +2 per advance (a new grace period); each thread's slot holds seq, the
 * last wr_seq it saw at a quiescent point, or 0 while it is offline
 * (detached, blocking, asleep on a lock, exited). A block retired with goal
 * G = the wr_seq after an advance may be freed once every online slot has
 * seq >= G; rd_seq caches the minimum last computed. Comparisons are
 * wrap-safe (signed difference), so the 64-bit counters may wrap.
 */
#ifndef RCGC_INTERNAL_QSBR_H
#define RCGC_INTERNAL_QSBR_H

#include "internal/tstate.h"
#include "internal/alloc_internal.h"
#include "rcgc/qsbr.h"

typedef uint64_t rcgc_qsbr_seq_t;
#define RCGC_QSBR_INITIAL ((rcgc_qsbr_seq_t)1)
#define RCGC_QSBR_INCR ((rcgc_qsbr_seq_t)2)
#define RCGC_QSBR_OFFLINE ((rcgc_qsbr_seq_t)0)
/* a < b, a <= b, modulo 2^64 (valid while the two are less than 2^63 apart) */
static inline bool _rcgc_qsbr_lt(rcgc_qsbr_seq_t a, rcgc_qsbr_seq_t b) { return (int64_t)(a - b) < 0; }
static inline bool _rcgc_qsbr_leq(rcgc_qsbr_seq_t a, rcgc_qsbr_seq_t b) { return (int64_t)(a - b) <= 0; }

/* object/object.c: free the block of object o (torn down, header marked dead;
 * its type and size are still readable) through QSBR. */
RCGC_INTERNAL void _rcgc_qsbr_free_object(rcgc_object_t *o, void *block, rcgc_heap_kind_t kind);

/* Hooks (free-threaded only: thread/tstate_ft.c, stw_ft.c). */
RCGC_INTERNAL int _rcgc_qsbr_register(rcgc_tstate_t *ts); /* get a slot (detached); -1: ENOMEM */
RCGC_INTERNAL void _rcgc_qsbr_attach(rcgc_tstate_t *ts);   /* online, after the state change */
RCGC_INTERNAL void _rcgc_qsbr_detach(rcgc_tstate_t *ts);   /* offline, before it */
RCGC_INTERNAL void _rcgc_qsbr_safepoint(rcgc_tstate_t *ts); /* quiescent */
RCGC_INTERNAL void _rcgc_qsbr_thread_exit(rcgc_tstate_t *ts);
/* fork (thread/stw_ft.c, with the world stopped and threads_lock held): the
 * QSBR locks are held across fork(); the child then keeps only the calling
 * thread's slot and hands the other threads' queues to the orphan queue. */
RCGC_INTERNAL void _rcgc_qsbr_before_fork(void);
RCGC_INTERNAL void _rcgc_qsbr_after_fork_parent(void);
RCGC_INTERNAL void _rcgc_qsbr_after_fork_child(void);

/* For the collector, while the world is stopped (every other thread is
 * suspended, hence quiescent): free every pending memory block on every
 * thread's queue and the orphan queue. Delayed decrefs stay queued (they may
 * run destructors, which must wait for the restart) but are released at the
 * owner thread's next safe point. */
RCGC_INTERNAL void _rcgc_qsbr_process_all_stopped(void);

/* Tests: advance the write sequence to start near `seq` (must be odd) while
 * no other thread is attached, to exercise wrap-around; the poll result for a
 * goal. */
RCGC_INTERNAL void _rcgc_qsbr_test_set_sequence(rcgc_qsbr_seq_t seq);
RCGC_INTERNAL bool _rcgc_qsbr_poll(rcgc_qsbr_seq_t goal);
RCGC_INTERNAL rcgc_qsbr_seq_t _rcgc_qsbr_advance(void);

#endif
