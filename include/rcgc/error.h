/* rcgc/error.h - recoverable errors, the unraisable-error hook, fatal reports.
 *
 * A failing call returns NULL (or -1) and leaves a per-thread error that the
 * caller reads with rcgc_last_error() / rcgc_last_error_message(); nothing is
 * leaked and nothing aborts. Errors raised by user callbacks that run inside
 * the library (finalizers, clear, weakref and GC callbacks) cannot propagate:
 * they are passed to the unraisable hook (default: print to stderr, like
 * CPython's "Exception ignored in ...") and cleared.
 *
 * Misuse that means the heap is already corrupt (negative counts, decref of a
 * freed object, a refcount too small for the collector) is fatal: the library
 * prints a report naming the object (address, type name, refcount) and calls
 * the fatal hook, whose default aborts.
 */
#ifndef RCGC_ERROR_H
#define RCGC_ERROR_H

#include <stdarg.h>
#include "rcgc/object.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rcgc_error {
    RCGC_OK = 0,
    RCGC_ENOMEM = 1,    /* out of memory */
    RCGC_EINVAL = 2,    /* invalid argument */
    RCGC_EOVERFLOW = 3, /* size computation overflowed */
    RCGC_ESTATE = 4,    /* call not valid in the current state (not initialised, ...) */
    RCGC_EBUSY = 5,     /* resource busy (a collection is running, ...) */
    RCGC_EUSER = 6,     /* raised by user code (callbacks, finalizers) */
    RCGC_ENOTSUP = 7    /* not supported in this flavour or build */
} rcgc_error_t;

/* The calling thread's last error code (RCGC_OK if none) and its message
 * (a static or thread-owned string, valid until the next error). */
RCGC_API rcgc_error_t rcgc_last_error(void);
RCGC_API const char *rcgc_last_error_message(void);
/* Set / clear the calling thread's error (user callbacks use this to report). */
RCGC_API void rcgc_error_set(rcgc_error_t code, const char *fmt, ...);
RCGC_API void rcgc_error_clear(void);
/* Name of an error code ("ENOMEM"). */
RCGC_API const char *rcgc_error_name(rcgc_error_t code);

/* Unraisable errors: where: a short description ("finalizer of", "weakref
 * callback for"), obj: the object concerned (may be NULL). */
typedef void (*rcgc_unraisable_hook_fn)(rcgc_error_t code, const char *message,
                                        const char *where, rcgc_object_t *obj, void *ctx);
RCGC_API void rcgc_set_unraisable_hook(rcgc_unraisable_hook_fn hook, void *ctx);
/* Report the thread's pending error (if any) as unraisable, then clear it. */
RCGC_API void rcgc_error_write_unraisable(const char *where, rcgc_object_t *obj);

/* Fatal errors: the hook receives the full report text; it must not return
 * into the library (abort, longjmp or _exit). Default: write to stderr, abort. */
typedef void (*rcgc_fatal_hook_fn)(const char *report);
RCGC_API void rcgc_set_fatal_hook(rcgc_fatal_hook_fn hook);
/* Abort with a report about obj (may be NULL): "rcgc fatal error: <msg>" plus
 * the object's address, type name, refcount and gc bits. */
RCGC_API void rcgc_fatal_object(const rcgc_object_t *obj, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

/* Where library diagnostics go (debug flags, shutdown reports). Default stderr. */
typedef void (*rcgc_output_fn)(const char *text, void *ctx);
RCGC_API void rcgc_set_output(rcgc_output_fn out, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
