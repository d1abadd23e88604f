/* thread/tstate_ft.c - thread hooks of the free-threaded build.
 *
 * Any number of threads may be attached at once. Attaching registers the
 * thread's merge queue (biased reference counting); safe points, detaching
 * and thread exit merge what other threads queued for it. Stop-the-world and
 * thread states for the free-threaded collector are the free-threading work
 * (issue 6).
 */
#include "internal/brc.h"

int _rcgc_flavour_attach(rcgc_tstate_t *ts) { return _rcgc_brc_register(ts); }

void _rcgc_flavour_detach(rcgc_tstate_t *ts) { _rcgc_brc_merge_pending(ts); }

void _rcgc_flavour_safepoint(rcgc_tstate_t *ts) { _rcgc_brc_merge_pending(ts); }

void _rcgc_flavour_thread_exit(rcgc_tstate_t *ts) {
    ts->attach_depth = 0;
    _rcgc_brc_unregister(ts);
}

void _rcgc_flavour_init(void) {}
void _rcgc_flavour_fini(void) {}
