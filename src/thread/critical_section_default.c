/* thread/critical_section_default.c - critical sections of the default build
 * (no-ops: the global lock serialises attached threads) and what "detach
 * while sleeping" means here: release the global lock.
 *
 * A thread sleeping on a contended rcgc_mutex_t releases the global lock if
 * it holds it (its attach depth is positive and it is not between
 * rcgc_blocking_begin and _end, rcgc_tstate_t.blocking) and takes it back
 * after; no safe-point work (collections, hand-off requests) runs there.
 */
#include "internal/lock.h"
#include "internal/tstate.h"

void rcgc_critical_section_begin(rcgc_critical_section_t *cs, rcgc_object_t *o) { (void)cs; (void)o; }
void rcgc_critical_section_begin_mutex(rcgc_critical_section_t *cs, rcgc_mutex_t *m) { (void)cs; (void)m; }
void rcgc_critical_section_end(rcgc_critical_section_t *cs) { (void)cs; }
void rcgc_critical_section2_begin(rcgc_critical_section2_t *cs, rcgc_object_t *a, rcgc_object_t *b) {
    (void)cs; (void)a; (void)b;
}
void rcgc_critical_section2_end(rcgc_critical_section2_t *cs) { (void)cs; }

bool _rcgc_holds_global_lock(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    return ts->attach_depth > 0 && !ts->blocking;
}

bool _rcgc_park_detach(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (ts->attach_depth <= 0 || ts->blocking) return false;
    ts->blocking = true;
    _rcgc_flavour_detach(ts);
    return true;
}

void _rcgc_park_reattach(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    _rcgc_flavour_attach(ts);
    ts->blocking = false;
}
