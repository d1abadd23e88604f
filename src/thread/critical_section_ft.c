/* thread/critical_section_ft.c - per-object critical sections (free-threaded
 * build) and what "detach while sleeping" means in this flavour.
 *
 * Each thread keeps its sections on a stack (rcgc_tstate_t.cs_top, linked
 * through the users' rcgc_critical_section_t structs, own thread only).
 * Invariants: the sections whose locks are held (flag CS_HELD) are a prefix
 * of the stack from the top; a CS_HELD section records (in _mutex/_mutex2)
 * only mutexes this thread holds, so suspend_all unlocks exactly those; while
 * the thread is attached and not inside begin or resume, the top-most section
 * is held and records all its mutexes.
 *  - suspend_all (detach, blocking, sleeping on a mutex, a stop): unlock every
 *    held section from the top down and clear CS_HELD;
 *  - resume (attach): lock the top-most section again;
 *  - end: pop, unlock, and resume the section below if it was suspended.
 * Begin's slow path pushes the section with no mutex recorded yet, then
 * locks; sleeping there releases everything below (so two threads each
 * holding one object and wanting the other's both proceed). The two-object
 * form locks in address order and records the first mutex as soon as it is
 * held, so sleeping on the second releases the first as well.
 * A section begun on a mutex the top-most section already holds is a no-op
 * (_mutex stays NULL and it is not pushed).
 */
#include "internal/stw.h"

#define CS_HELD 1u

static rcgc_mutex_t *obj_mutex(rcgc_object_t *o) { return (rcgc_mutex_t *)&o->ob_mutex; }

static void lock_detaching(rcgc_mutex_t *m) {
    if (!rcgc_mutex_trylock(m)) _rcgc_mutex_lock_timed(m, -1, RCGC_PARK_DETACH);
}

static bool top_holds(const rcgc_tstate_t *ts, const rcgc_mutex_t *m) {
    const rcgc_critical_section_t *top = ts->cs_top;
    return top && (top->_flags & CS_HELD) && (top->_mutex == m || top->_mutex2 == m);
}

static rcgc_tstate_t *attached_tstate(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    RCGC_ASSERT(_rcgc_tstate_state(ts) == RCGC_TS_ATTACHED && "critical sections need an attached thread");
    return ts;
}

static void push(rcgc_tstate_t *ts, rcgc_critical_section_t *cs) {
    cs->_mutex = cs->_mutex2 = NULL;
    cs->_prev = ts->cs_top;
    cs->_flags = CS_HELD;
    ts->cs_top = cs;
}

static void make_noop(rcgc_critical_section_t *cs) {
    cs->_prev = NULL;
    cs->_mutex = cs->_mutex2 = NULL;
    cs->_flags = 0;
}

void rcgc_critical_section_begin_mutex(rcgc_critical_section_t *cs, rcgc_mutex_t *m) {
    rcgc_tstate_t *ts = attached_tstate();
    if (top_holds(ts, m)) {
        make_noop(cs);
        return;
    }
    push(ts, cs);
    lock_detaching(m);
    cs->_mutex = m;
}

void rcgc_critical_section_begin(rcgc_critical_section_t *cs, rcgc_object_t *o) {
    rcgc_critical_section_begin_mutex(cs, obj_mutex(o));
}

void rcgc_critical_section2_begin(rcgc_critical_section2_t *cs2, rcgc_object_t *a, rcgc_object_t *b) {
    rcgc_mutex_t *m1 = obj_mutex(a), *m2 = obj_mutex(b);
    if (m1 == m2) {
        rcgc_critical_section_begin_mutex(&cs2->_cs, m1);
        return;
    }
    if ((uintptr_t)m1 > (uintptr_t)m2) {
        rcgc_mutex_t *t = m1;
        m1 = m2;
        m2 = t;
    }
    rcgc_tstate_t *ts = attached_tstate();
    rcgc_critical_section_t *cs = &cs2->_cs;
    if (top_holds(ts, m1) && top_holds(ts, m2)) {
        make_noop(cs);
        return;
    }
    push(ts, cs);
    lock_detaching(m1);
    cs->_mutex = m1;
    lock_detaching(m2);
    cs->_mutex2 = m2;
}

void rcgc_critical_section_end(rcgc_critical_section_t *cs) {
    if (!cs->_mutex) return; /* nested on the section below: nothing was pushed */
    rcgc_tstate_t *ts = _rcgc_tstate();
    RCGC_ASSERT(ts->cs_top == cs && "critical sections must end in reverse order");
    ts->cs_top = cs->_prev;
    if (cs->_flags & CS_HELD) {
        if (cs->_mutex2) rcgc_mutex_unlock(cs->_mutex2);
        rcgc_mutex_unlock(cs->_mutex);
    }
    cs->_flags = 0;
    if (ts->cs_top && !(ts->cs_top->_flags & CS_HELD)) _rcgc_cs_resume(ts);
}

void rcgc_critical_section2_end(rcgc_critical_section2_t *cs2) { rcgc_critical_section_end(&cs2->_cs); }

void _rcgc_cs_suspend_all(rcgc_tstate_t *ts) {
    for (rcgc_critical_section_t *c = ts->cs_top; c && (c->_flags & CS_HELD); c = c->_prev) {
        c->_flags &= ~(uintptr_t)CS_HELD;
        if (c->_mutex2) rcgc_mutex_unlock(c->_mutex2);
        if (c->_mutex) rcgc_mutex_unlock(c->_mutex);
    }
}

/* Lock the top-most section again. Locking may sleep and so detach and
 * re-attach, which suspends and resumes recursively. The invariant that makes
 * that work, here as in begin: a section marked CS_HELD records only mutexes
 * this thread holds. So the mutexes are taken out of the section and put
 * back one by one as they are locked: a nested suspend_all unlocks exactly
 * those, and a nested resume locks exactly those again. */
void _rcgc_cs_resume(rcgc_tstate_t *ts) {
    rcgc_critical_section_t *c = ts->cs_top;
    if (!c || (c->_flags & CS_HELD)) return;
    rcgc_mutex_t *m1 = c->_mutex, *m2 = c->_mutex2;
    c->_mutex = c->_mutex2 = NULL;
    c->_flags |= CS_HELD;
    if (m1) {
        lock_detaching(m1);
        c->_mutex = m1;
    }
    if (m2) {
        lock_detaching(m2);
        c->_mutex2 = m2;
    }
}

/* ---- sleeping on a contended lock ---------------------------------------------- */

bool _rcgc_park_detach(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (_rcgc_tstate_state(ts) != RCGC_TS_ATTACHED) return false;
    _rcgc_tstate_detach(ts);
    return true;
}

void _rcgc_park_reattach(void) { _rcgc_tstate_attach(_rcgc_tstate()); }

bool _rcgc_holds_global_lock(void) { return false; }
