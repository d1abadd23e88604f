/* internal/brc.h - biased reference counting's merge queues (free-threaded
 * build; thread/brc_ft.c).
 *
 * A non-owner decref that would take an object's shared count below zero
 * while its owner still holds references does not apply the decref: it hands
 * the reference to the owner's merge queue, and the owner merges the counts
 * (local + shared - 1) at its next safe point (rcgc_safepoint, detach,
 * blocking_begin, thread exit). If the owner has exited, the queueing thread
 * merges in place.
 *
 * Registry: RCGC_BRC_BUCKETS buckets keyed by thread id, each with a mutex
 * that protects the bucket's list and every queue in it. A thread registers
 * at its first attach and unregisters at exit after draining its queue, so
 * while a queue is found in its bucket (lock held) its owner's thread state
 * is alive. A bucket mutex may be held while taking runtime.threads_lock
 * (detached-owner merge) and the allocator's locks (queue growth), never
 * the other way round (docs/design/threads.md §3).
 *
 * Who merges a queued object (docs/design/threads.md §7):
 *  - the owner, at its next safe point, detach, blocking_begin or exit;
 *  - the queueing thread, at once, if the owner is DETACHED: it holds the
 *    owner SUSPENDED (_rcgc_stw_hold_detached) while it merges the owner's
 *    whole queue, then drops the references after letting it go;
 *  - the queueing thread, in place, if the owner has exited;
 *  - the queueing thread under a stop-the-world, if the queue cannot grow;
 *  - the collector, under its stop, through _rcgc_brc_merge_all_stopped.
 */
#ifndef RCGC_INTERNAL_BRC_H
#define RCGC_INTERNAL_BRC_H

#include "internal/tstate.h"

#define RCGC_BRC_BUCKETS 257

struct rcgc_brc_queue {
    uintptr_t tid;                 /* owner's thread id (immutable) */
    rcgc_tstate_t *owner;          /* owner's thread state (immutable; alive while listed) */
    struct rcgc_brc_queue *next;   /* bucket list: bucket mutex */
    rcgc_object_t **items;         /* objects to merge: bucket mutex */
    size_t len, cap;               /* bucket mutex */
    int requested;                 /* atomic: non-empty, owner should merge */
};

RCGC_INTERNAL void _rcgc_brc_queue_object(rcgc_object_t *o);
RCGC_INTERNAL intptr_t _rcgc_brc_explicit_merge(rcgc_object_t *o, intptr_t extra);
RCGC_INTERNAL void _rcgc_brc_dealloc_merged(rcgc_object_t *o);
RCGC_INTERNAL int _rcgc_brc_register(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_brc_merge_pending(rcgc_tstate_t *ts);
RCGC_INTERNAL void _rcgc_brc_unregister(rcgc_tstate_t *ts);
/* fork (thread/stw_ft.c's atfork child handler): re-initialise the bucket
 * mutexes and drop the other threads' queues. */
RCGC_INTERNAL void _rcgc_brc_after_fork_child(rcgc_tstate_t *self);
/* With the world stopped by the caller: merge every thread's queue, dropping
 * the queued references; on_zero(o, arg) gets each object whose count
 * reached 0 (MERGED with count 0, not deallocated: the caller decides, and
 * must not run destructors before the world restarts). */
RCGC_INTERNAL void _rcgc_brc_merge_all_stopped(void (*on_zero)(rcgc_object_t *o, void *arg), void *arg);
/* The collector, with the world stopped: how many objects wait in all the
 * queues, and hand each of them to fn with its queued reference (the
 * reference is fn's from then on; nothing is merged); the queues are empty
 * afterwards. fn runs under a bucket lock: it must not allocate or block. */
RCGC_INTERNAL size_t _rcgc_brc_pending_total(void);
RCGC_INTERNAL void _rcgc_brc_drain_all(void (*fn)(rcgc_object_t *o, void *arg), void *arg);
/* Number of objects waiting in ts's queue (tests). */
RCGC_INTERNAL size_t _rcgc_brc_pending_count(rcgc_tstate_t *ts);

#endif
