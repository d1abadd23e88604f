/* rcgc/lock.h - a one-byte mutex and per-object critical sections.
 *
 * rcgc_mutex_t is a real lock in both build flavours: one byte, zero means
 * unlocked (so a zero-initialised struct holds an unlocked mutex). An
 * uncontended lock or unlock is one compare-and-swap; a contended lock yields
 * a few times and then sleeps. A thread that sleeps on a mutex first releases
 * its attachment (default build: the global lock; free-threaded build: it
 * detaches, so it never holds up a stop-the-world), and re-attaches after.
 * The mutex is not recursive and must be unlocked by the thread that locked it.
 *
 * Critical sections lock the mutex byte in an object's header (free-threaded
 * build) for the duration of a begin/end pair:
 *
 *     rcgc_critical_section_t cs;
 *     rcgc_critical_section_begin(&cs, obj);
 *     ... read or write obj's fields ...
 *     rcgc_critical_section_end(&cs);
 *
 * or, for two objects at once (locked in address order; the same object twice
 * is locked once), rcgc_critical_section2_begin(&cs2, a, b) / _end(&cs2).
 * Sections nest (the structs form a per-thread stack, so end them in reverse
 * order) and they never deadlock on each other: whenever the thread blocks
 * (rcgc_blocking_begin, detach, sleeping on a contended mutex) ALL of its
 * sections are released, and when it re-attaches the top-most one is locked
 * again; the ones below are locked again when they become the top-most. The
 * price: a section is atomic only up to the first blocking call inside it.
 * The calling thread must be attached.
 *
 * Default build: the global lock already serialises attached threads, so the
 * critical-section calls do nothing (the RCGC_BEGIN/END_CRITICAL_SECTION
 * macros compile to a plain block).
 */
#ifndef RCGC_LOCK_H
#define RCGC_LOCK_H

#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

/* bit 0: locked; bit 1: some thread may be sleeping on it. */
typedef struct rcgc_mutex {
    uint8_t _bits;
} rcgc_mutex_t;
#define RCGC_MUTEX_INIT { 0 }

/* Lock, sleeping (detached) while another thread holds it. */
RCGC_API void rcgc_mutex_lock(rcgc_mutex_t *m);
/* Lock if free; returns true if the caller now holds the mutex. */
RCGC_API bool rcgc_mutex_trylock(rcgc_mutex_t *m);
/* Unlock; wakes one sleeper (handing the lock over directly to a waiter that
 * has slept for more than 1 ms, so a busy thread cannot starve it). */
RCGC_API void rcgc_mutex_unlock(rcgc_mutex_t *m);
/* A snapshot: true if some thread holds the mutex. */
RCGC_API bool rcgc_mutex_is_locked(const rcgc_mutex_t *m);

/* Opaque to users: fields may change between versions. Keep on the stack of
 * the thread that begins it, and end it on that thread. */
typedef struct rcgc_critical_section {
    struct rcgc_critical_section *_prev; /* next one down the thread's stack */
    rcgc_mutex_t *_mutex;                /* NULL: nested on the top-most section's lock */
    rcgc_mutex_t *_mutex2;               /* two-object form only, else NULL */
    uintptr_t _flags;
} rcgc_critical_section_t;
typedef struct rcgc_critical_section2 {
    rcgc_critical_section_t _cs;
} rcgc_critical_section2_t;

RCGC_API void rcgc_critical_section_begin(rcgc_critical_section_t *cs, rcgc_object_t *o);
RCGC_API void rcgc_critical_section_end(rcgc_critical_section_t *cs);
RCGC_API void rcgc_critical_section2_begin(rcgc_critical_section2_t *cs, rcgc_object_t *a, rcgc_object_t *b);
RCGC_API void rcgc_critical_section2_end(rcgc_critical_section2_t *cs);
/* The same on any rcgc_mutex_t (e.g. one embedded in a user struct): held
 * like an object's lock, released while the thread blocks. */
RCGC_API void rcgc_critical_section_begin_mutex(rcgc_critical_section_t *cs, rcgc_mutex_t *m);

/* Block forms (CPython's Py_BEGIN/END_CRITICAL_SECTION). */
#ifdef RCGC_FREE_THREADED
#define RCGC_BEGIN_CRITICAL_SECTION(o)                                          \
    {                                                                           \
        rcgc_critical_section_t _rcgc_cs;                                       \
        rcgc_critical_section_begin(&_rcgc_cs, (rcgc_object_t *)(o));
#define RCGC_END_CRITICAL_SECTION()                                             \
        rcgc_critical_section_end(&_rcgc_cs);                                   \
    }
#define RCGC_BEGIN_CRITICAL_SECTION2(a, b)                                      \
    {                                                                           \
        rcgc_critical_section2_t _rcgc_cs2;                                     \
        rcgc_critical_section2_begin(&_rcgc_cs2, (rcgc_object_t *)(a), (rcgc_object_t *)(b));
#define RCGC_END_CRITICAL_SECTION2()                                            \
        rcgc_critical_section2_end(&_rcgc_cs2);                                 \
    }
#else
#define RCGC_BEGIN_CRITICAL_SECTION(o) {
#define RCGC_END_CRITICAL_SECTION() }
#define RCGC_BEGIN_CRITICAL_SECTION2(a, b) {
#define RCGC_END_CRITICAL_SECTION2() }
#endif

#ifdef __cplusplus
}
#endif
#endif
