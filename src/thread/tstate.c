/* thread/tstate.c - the runtime's lifecycle and per-thread states
 * (flavour-neutral part; the flavour hooks live in glock_default.c and
 * tstate_ft.c).
 */
#include "internal/tstate.h"
#include "internal/alloc_internal.h"
#include "internal/gc_internal.h"

#include <string.h>

rcgc_runtime_t _rcgc_runtime = { .threads_lock = PTHREAD_MUTEX_INITIALIZER };

RCGC_TLS rcgc_tstate_t _rcgc_tls_state;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void thread_exit_cb(void *arg) {
    rcgc_tstate_t *ts = arg;
    _rcgc_flavour_thread_exit(ts);
    _rcgc_live_count_flush(ts);
    pthread_mutex_lock(&_rcgc_runtime.threads_lock);
    if (ts->registered) {
        if (ts->prev_thread) ts->prev_thread->next_thread = ts->next_thread;
        else _rcgc_runtime.threads = ts->next_thread;
        if (ts->next_thread) ts->next_thread->prev_thread = ts->prev_thread;
        ts->registered = false;
    }
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
}

static void make_exit_key(void) { pthread_key_create(&exit_key, thread_exit_cb); }

void _rcgc_tstate_first_use(rcgc_tstate_t *ts) { ts->tid = rcgc_thread_id_of_caller(); }

/* Put the thread on the runtime's list and arrange for the exit hook. */
static void register_thread(rcgc_tstate_t *ts) {
    if (ts->registered) return;
    pthread_once(&exit_key_once, make_exit_key);
    pthread_setspecific(exit_key, ts);
    pthread_mutex_lock(&_rcgc_runtime.threads_lock);
    ts->prev_thread = NULL;
    ts->next_thread = _rcgc_runtime.threads;
    if (ts->next_thread) ts->next_thread->prev_thread = ts;
    _rcgc_runtime.threads = ts;
    ts->registered = true;
    pthread_mutex_unlock(&_rcgc_runtime.threads_lock);
}

int rcgc_init_checked(unsigned flavour_tag, size_t header_size) {
    if (flavour_tag != RCGC_FLAVOUR_TAG || header_size != sizeof(rcgc_object_t))
        return _rcgc_fail_int(RCGC_EINVAL,
                              "rcgc headers and library are of different flavours "
                              "(use the rcgc_t package for the free-threaded library)");
    if (_rcgc_runtime.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc is already initialized");
    _rcgc_alloc_init();
    _rcgc_gc_init();
    _rcgc_flavour_init();
    _rcgc_runtime.initialized = true;
    return rcgc_thread_attach();
}

int rcgc_shutdown(void) {
    if (!_rcgc_runtime.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc is not initialized");
    rcgc_tstate_t *ts = _rcgc_tstate();
    _rcgc_gc_fini();
    while (ts->attach_depth > 0) rcgc_thread_detach();
    _rcgc_flavour_fini();
    _rcgc_alloc_fini();
    _rcgc_runtime.initialized = false;
    return 0;
}

bool rcgc_is_initialized(void) { return _rcgc_runtime.initialized; }

const char *rcgc_flavour(void) {
#ifdef RCGC_FREE_THREADED
    return "free-threaded";
#else
    return "default";
#endif
}

int rcgc_thread_attach(void) {
    if (!_rcgc_runtime.initialized) return _rcgc_fail_int(RCGC_ESTATE, "rcgc is not initialized");
    rcgc_tstate_t *ts = _rcgc_tstate();
    if (ts->attach_depth++ > 0) return 0;
    register_thread(ts);
    if (_rcgc_flavour_attach(ts) != 0) {
        ts->attach_depth--;
        return -1;
    }
    _rcgc_gc_run_pending();
    return 0;
}

void rcgc_thread_detach(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    RCGC_ASSERT(ts->attach_depth > 0);
    if (ts->attach_depth <= 0 || --ts->attach_depth > 0) return;
    _rcgc_live_count_flush(ts);
    _rcgc_flavour_detach(ts);
}

bool rcgc_thread_is_attached(void) { return _rcgc_tstate()->attach_depth > 0; }

void rcgc_blocking_begin(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    RCGC_ASSERT(ts->attach_depth > 0);
    ts->blocking = true;
    _rcgc_live_count_flush(ts);
    _rcgc_flavour_detach(ts);
}

void rcgc_blocking_end(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    _rcgc_flavour_attach(ts);
    ts->blocking = false;
    rcgc_safepoint();
}

void rcgc_safepoint(void) {
    rcgc_tstate_t *ts = _rcgc_tstate();
    _rcgc_live_count_flush(ts);
    _rcgc_flavour_safepoint(ts);
    _rcgc_gc_run_pending();
}

/* Fallback thread id for platforms without a readable thread pointer: the
 * address of a thread-local variable (unique per live thread, never an object
 * address). */
uintptr_t rcgc_thread_id_slow(void) {
    static _Thread_local char anchor;
    return (uintptr_t)&anchor;
}
