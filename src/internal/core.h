/* internal/core.h - the base of every library source file: the guard that
 * keeps internal headers inside the library, assertions, branch hints, TLS.
 *
 * Assertion levels (RCGC_DEBUG, set by the build):
 *   RCGC_ASSERT           level >= 1: API misuse and cheap internal checks
 *   RCGC_ASSERT_INTERNAL  level >= 2: internal invariants
 *   RCGC_ASSERT_EXPENSIVE level >= 3: whole-structure validators
 * The conditions are always compiled (type-checked) even when disabled.
 */
#ifndef RCGC_INTERNAL_CORE_H
#define RCGC_INTERNAL_CORE_H

#ifndef RCGC_BUILD_CORE
#error "src/internal headers are private to the rcgc library (define RCGC_BUILD_CORE only there)"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "rcgc.h"

#ifndef RCGC_DEBUG
#define RCGC_DEBUG 0
#endif

#define RCGC_LIKELY(x) __builtin_expect(!!(x), 1)
#define RCGC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RCGC_INTERNAL __attribute__((visibility("hidden")))
#define RCGC_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#define RCGC_NOINLINE __attribute__((noinline))

static const int rcgc_debug_level = RCGC_DEBUG;

RCGC_INTERNAL void _rcgc_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#define RCGC_ASSERT_LEVEL_(level, cond)                                          \
    ((void)((rcgc_debug_level < (level) || RCGC_LIKELY(cond))                    \
                ? 0 : (_rcgc_assert_fail(#cond, __FILE__, __LINE__), 0)))
#define RCGC_ASSERT(cond) RCGC_ASSERT_LEVEL_(1, cond)
#define RCGC_ASSERT_INTERNAL(cond) RCGC_ASSERT_LEVEL_(2, cond)
#define RCGC_ASSERT_EXPENSIVE(cond) RCGC_ASSERT_LEVEL_(3, cond)
/* Object-aware assertion: on failure reports the object (address, type,
 * refcount, gc bits) before aborting, like CPython's _PyObject_ASSERT. */
#define RCGC_ASSERT_OBJ(obj, cond, msg)                                          \
    ((void)((rcgc_debug_level < 1 || RCGC_LIKELY(cond))                          \
                ? 0 : (rcgc_fatal_object((obj), "%s (%s) at %s:%d", (msg), #cond, \
                                         __FILE__, __LINE__), 0)))

/* Diagnostics through the output channel (rcgc_set_output). */
RCGC_INTERNAL void _rcgc_output(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set the thread's error and return NULL / -1 (for one-line error returns). */
RCGC_INTERNAL void *_rcgc_fail_null(rcgc_error_t code, const char *msg);
RCGC_INTERNAL int _rcgc_fail_int(rcgc_error_t code, const char *msg);

#endif
