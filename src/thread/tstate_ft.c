/* thread/tstate_ft.c - thread hooks of the free-threaded build: the state
 * word (DETACHED / ATTACHED / SUSPENDED / SHUTTING_DOWN) and biased
 * reference counting's merge points.
 *
 * Any number of threads may be attached at once. Attaching registers the
 * thread's merge queue; safe points, detaching and thread exit merge what
 * other threads queued for it. Who may make which state transition is listed
 * in internal/stw.h; the stop-the-world side is thread/stw_ft.c, and
 * docs/design/threads.md explains the protocol.
 */
#include "internal/brc.h"
#include "internal/qsbr.h"
#include "internal/stw.h"

/* Attach without safe-point work: CAS DETACHED -> ATTACHED, parking on the
 * state word while a stop holds the thread SUSPENDED; then lock the top-most
 * critical section again. */
void _rcgc_tstate_attach(rcgc_tstate_t *ts) {
    int s = _rcgc_tstate_state(ts);
    for (;;) {
        switch (s) {
        case RCGC_TS_DETACHED:
            /* Check for a stop BEFORE the CAS (both seq_cst, like the
             * requester's store of the request and its scan): either the
             * requester's scan sees us ATTACHED and waits for our next safe
             * point, or we see its request here and step aside; a thread
             * that registered after the final scan always sees it. So no
             * thread but the requester is ever ATTACHED in a stopped world. */
            if (_rcgc_stw_pending_for(ts) && _rcgc_stw_suspend_self(ts)) {
                s = _rcgc_tstate_state(ts);
                break;
            }
            if (__atomic_compare_exchange_n(&ts->xstate, &s, RCGC_TS_ATTACHED, false, __ATOMIC_SEQ_CST,
                                            __ATOMIC_ACQUIRE))
                goto attached;
            break;
        case RCGC_TS_ATTACHED: /* handed over by _rcgc_start_the_world */
            goto attached;
        case RCGC_TS_SUSPENDED:
            if (__atomic_compare_exchange_n(&ts->xstate, &s, RCGC_TS_SUSPENDED | RCGC_TS_WAITING, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                s = RCGC_TS_SUSPENDED | RCGC_TS_WAITING;
            break;
        case RCGC_TS_SUSPENDED | RCGC_TS_WAITING:
            _rcgc_park(&ts->xstate, &s, sizeof s, -1, NULL, 0);
            s = _rcgc_tstate_state(ts);
            break;
        case RCGC_TS_SHUTTING_DOWN: /* attaching again after the exit hook ran */
            __atomic_compare_exchange_n(&ts->xstate, &s, RCGC_TS_DETACHED, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE);
            break;
        default:
            rcgc_fatal_object(NULL, "rcgc: corrupt thread state %d", s);
        }
    }
attached:
    if (ts->cs_top) _rcgc_cs_resume(ts);
}

/* Detach without safe-point work: release every critical section, then
 * DETACHED, or SUSPENDED right away if a stop is pending. */
void _rcgc_tstate_detach(rcgc_tstate_t *ts) {
    RCGC_ASSERT_INTERNAL(_rcgc_tstate_state(ts) == RCGC_TS_ATTACHED);
    if (ts->cs_top) _rcgc_cs_suspend_all(ts);
    if (_rcgc_stw_pending_for(ts) && _rcgc_stw_suspend_self(ts)) return;
    __atomic_store_n(&ts->xstate, RCGC_TS_DETACHED, __ATOMIC_SEQ_CST);
}

int _rcgc_flavour_attach(rcgc_tstate_t *ts) {
    if (_rcgc_brc_register(ts) != 0 || _rcgc_qsbr_register(ts) != 0) return -1;
    _rcgc_tstate_attach(ts);
    _rcgc_qsbr_attach(ts); /* online */
    return 0;
}

void _rcgc_flavour_detach(rcgc_tstate_t *ts) {
    _rcgc_brc_merge_pending(ts); /* destructors run while still attached */
    _rcgc_qsbr_detach(ts);       /* offline */
    _rcgc_tstate_detach(ts);
}

void _rcgc_flavour_safepoint(rcgc_tstate_t *ts) {
    _rcgc_qsbr_safepoint(ts); /* quiescent */
    _rcgc_brc_merge_pending(ts);
    if (RCGC_LIKELY(!__atomic_load_n(&_rcgc_stw.xrequested, __ATOMIC_RELAXED))) return;
    if (_rcgc_tstate_state(ts) != RCGC_TS_ATTACHED || !_rcgc_stw_pending_for(ts)) return;
    if (ts->cs_top) _rcgc_cs_suspend_all(ts);
    if (_rcgc_stw_suspend_self(ts)) _rcgc_tstate_attach(ts); /* parks until the restart */
    else if (ts->cs_top) _rcgc_cs_resume(ts);
}

void _rcgc_flavour_thread_exit(rcgc_tstate_t *ts) {
    /* Critical sections still on the stack of an exiting thread are
     * abandoned: unlock what they hold and forget them. */
    if (ts->cs_top && _rcgc_tstate_state(ts) == RCGC_TS_ATTACHED) _rcgc_cs_suspend_all(ts);
    ts->cs_top = NULL;
    /* Merge as an attached thread (destructors may run), which also waits
     * out a stop in progress; then leave every stop's accounting. */
    if (_rcgc_tstate_state(ts) != RCGC_TS_ATTACHED) _rcgc_tstate_attach(ts);
    _rcgc_qsbr_thread_exit(ts); /* before the drain: its decrefs may queue merges */
    _rcgc_brc_unregister(ts);
    _rcgc_stw_thread_gone(ts);
    ts->attach_depth = 0;
    ts->blocking = false;
}

void _rcgc_flavour_init(void) { _rcgc_stw_init(); }
void _rcgc_flavour_fini(void) {}
