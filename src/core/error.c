/* core/error.c - per-thread errors, the unraisable hook, fatal reports and
 * the output channel.
 *
 * The fatal path allocates nothing and takes no lock: it formats into a static
 * buffer (snprintf does not allocate for these formats) and writes with
 * write(2), so it is safe from inside the allocator or the collector.
 */
#include "internal/tstate.h"
#include "internal/object_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rcgc_unraisable_hook_fn unraisable_hook; /* set before threads start */
static void *unraisable_ctx;
static rcgc_fatal_hook_fn fatal_hook;
static rcgc_output_fn output_fn;
static void *output_ctx;

static const char *const error_names[] = {
    "OK", "ENOMEM", "EINVAL", "EOVERFLOW", "ESTATE", "EBUSY", "EUSER", "ENOTSUP",
};

const char *rcgc_error_name(rcgc_error_t code) {
    if ((unsigned)code < sizeof error_names / sizeof error_names[0]) return error_names[code];
    return "E?";
}

rcgc_error_t rcgc_last_error(void) { return _rcgc_tstate()->err_code; }

const char *rcgc_last_error_message(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    return ts->err_code == RCGC_OK ? "" : ts->err_msg;
}

void rcgc_error_set(rcgc_error_t code, const char *fmt, ...) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    ts->err_code = code;
    if (!fmt) fmt = rcgc_error_name(code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ts->err_msg, sizeof ts->err_msg, fmt, ap);
    va_end(ap);
}

void rcgc_error_clear(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    ts->err_code = RCGC_OK;
    ts->err_msg[0] = '\0';
}

void *_rcgc_fail_null(rcgc_error_t code, const char *msg) {
    rcgc_error_set(code, "%s", msg);
    return NULL;
}

int _rcgc_fail_int(rcgc_error_t code, const char *msg) {
    rcgc_error_set(code, "%s", msg);
    return -1;
}

/* ---- output channel ----------------------------------------------------- */

void rcgc_set_output(rcgc_output_fn out, void *ctx) {
    output_fn = out;
    output_ctx = ctx;
}

void _rcgc_output(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (output_fn) {
        output_fn(buf, output_ctx);
    } else {
        fputs(buf, stderr);
        fflush(stderr);
    }
}

/* ---- unraisable errors ------------------------------------------------------ */

void rcgc_set_unraisable_hook(rcgc_unraisable_hook_fn hook, void *ctx) {
    unraisable_hook = hook;
    unraisable_ctx = ctx;
}

void rcgc_error_write_unraisable(const char *where, rcgc_object_t *obj) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (ts->err_code == RCGC_OK) return;
    rcgc_error_t code = ts->err_code;
    char msg[sizeof ts->err_msg];
    memcpy(msg, ts->err_msg, sizeof msg);
    rcgc_error_clear();
    if (unraisable_hook) {
        unraisable_hook(code, msg, where, obj, unraisable_ctx);
        return;
    }
    if (obj)
        _rcgc_output("rcgc: error ignored in %s <%s %p>: %s: %s\n", where ? where : "?",
                     obj->ob_type ? obj->ob_type->name : "?", (void *)obj, rcgc_error_name(code), msg);
    else
        _rcgc_output("rcgc: error ignored in %s: %s: %s\n", where ? where : "?", rcgc_error_name(code), msg);
}

/* ---- fatal errors -------------------------------------------------------------- */

void rcgc_set_fatal_hook(rcgc_fatal_hook_fn hook) { fatal_hook = hook; }

int _rcgc_object_describe(const rcgc_object_t *o, char *buf, size_t size) {
    if (!o) return snprintf(buf, size, "object: NULL");
    const rcgc_type_t *t = o->ob_type;
    /* The type pointer may be garbage in a corrupt header: only print its name
     * if the pointer looks like one (non-NULL, aligned). */
    const char *name = (t && ((uintptr_t)t & 7) == 0) ? t->name : NULL;
#ifdef RCGC_FREE_THREADED
    return snprintf(buf, size,
                    "object address  : %p\nobject type     : %s\nobject refcount : %ld (local %u, shared %ld, state %ld)\n"
                    "object owner    : 0x%lx\nobject gc bits  : 0x%02x",
                    (const void *)o, name ? name : "<invalid type>", (long)rcgc_refcnt(o),
                    o->ob_ref_local, (long)(o->ob_ref_shared >> 2), (long)(o->ob_ref_shared & 3),
                    (unsigned long)o->ob_tid, o->ob_gc_bits);
#else
    return snprintf(buf, size,
                    "object address  : %p\nobject type     : %s\nobject refcount : %ld\n"
                    "object gc bits  : 0x%02x\nobject check    : 0x%04x%s",
                    (const void *)o, name ? name : "<invalid type>", (long)(int32_t)o->ob_refcnt,
                    o->ob_gc_bits, o->ob_check,
                    o->ob_check == RCGC_HEADER_MAGIC ? "" :
                    o->ob_check == RCGC_HEADER_DEAD ? " (freed)" : " (corrupt)");
#endif
}

static void write_all(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

void rcgc_fatal_object(const rcgc_object_t *obj, const char *fmt, ...) {
    static char report[2048];
    int n = snprintf(report, sizeof report, "rcgc fatal error: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(report + n, sizeof report - (size_t)n, fmt, ap);
    va_end(ap);
    if (obj && n < (int)sizeof report - 2) {
        report[n++] = '\n';
        n += _rcgc_object_describe(obj, report + n, sizeof report - (size_t)n);
    }
    if (n < (int)sizeof report - 1) strcat(report, "\n");
    if (fatal_hook) fatal_hook(report);
    write_all(report);
    abort();
}

void _rcgc_assert_fail(const char *expr, const char *file, int line) {
    rcgc_fatal_object(NULL, "assertion failed: %s at %s:%d", expr, file, line);
}
