/* refbench.c - cost of one incref + decref pair on a live object.
 *
 *   R_RCGC     rcgc_incref / rcgc_decref (inline, from <rcgc.h>; the default or
 *              the free-threaded flavour, owner thread)
 *   R_CPYTHON  Py_INCREF / Py_DECREF from libpython3.11's headers, on a list
 *
 * Modes: `time` (ns per pair, best of 3), `shared` (the same from a thread that
 * does not own the object; rcgc only) and `cg N` (N pairs, for callgrind).
 * An empty asm with a memory clobber sits between the two calls so the compiler
 * must store and reload the count, as it would around any real call.
 */
#include "../common/bench.h"

#if defined(R_RCGC)
#include <rcgc.h>
static const rcgc_type_t plain_type = {
    .name = "bench.plain",
    .basic_size = sizeof(rcgc_object_t) + 16,
};
typedef rcgc_object_t obj_t;
static obj_t *make_obj(void) {
    BENCH_CHECK(rcgc_init() == 0, "rcgc_init failed");
    obj_t *o = rcgc_object_new(&plain_type);
    BENCH_CHECK(o != NULL, "rcgc_object_new failed");
    return o;
}
#define INC(o) rcgc_incref(o)
#define DEC(o) rcgc_decref(o)
#define COUNT(o) ((long)rcgc_refcnt(o))
#elif defined(R_CPYTHON)
#include <Python.h>
typedef PyObject obj_t;
static obj_t *make_obj(void) {
    Py_InitializeEx(0);
    return PyList_New(0);
}
#define INC(o) Py_INCREF(o)
#define DEC(o) Py_DECREF(o)
#define COUNT(o) ((long)Py_REFCNT(o))
#else
#error "pick R_RCGC or R_CPYTHON"
#endif

/* callgrind counts only inside this function (--toggle-collect=pairs*) */
void pairs(obj_t *o, long n) __attribute__((noinline, noclone));
void pairs(obj_t *o, long n) {
    for (long i = 0; i < n; i++) {
        INC(o);
        BENCH_BARRIER();
        DEC(o);
        BENCH_BARRIER();
    }
}

#if defined(R_RCGC)
#include <pthread.h>
/* incref/decref pairs from a thread that does not own the object: in the
 * free-threaded flavour every operation is an atomic add on ob_ref_shared;
 * in the default flavour the thread attaches (takes the global lock) first */
typedef struct {
    obj_t *o;
    long n;
    double t;
    int ok;
} shared_arg_t;
static void *shared_worker(void *p) {
    shared_arg_t *a = p;
    a->ok = rcgc_thread_attach() == 0;
    if (!a->ok) return NULL;
    pairs(a->o, a->n / 10);
    double t0 = bench_now();
    pairs(a->o, a->n);
    a->t = bench_now() - t0;
    rcgc_thread_detach();
    return NULL;
}
static void mode_shared(obj_t *o, int quick) {
    shared_arg_t a = {o, quick ? 20000000 : 100000000, 0, 0};
    long before = COUNT(o);
    pthread_t th;
    rcgc_thread_detach(); /* the owner waits, detached */
    pthread_create(&th, NULL, shared_worker, &a);
    pthread_join(th, NULL);
    rcgc_thread_attach();
    BENCH_CHECK(a.ok, "rcgc_thread_attach failed in the second thread");
    BENCH_CHECK(COUNT(o) == before, "count changed: %ld -> %ld", before, COUNT(o));
    bench_params("pairs=%ld,thread=non-owner", a.n);
    bench_result("incref_decref_shared", "time_per_pair", a.t / (double)a.n * 1e9, "ns");
}
#endif

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "time";
    int quick = getenv("BENCH_QUICK") && atoi(getenv("BENCH_QUICK")) != 0;
    obj_t *o = make_obj();
    long before = COUNT(o);
    if (!strcmp(mode, "shared")) {
#if defined(R_RCGC)
        mode_shared(o, quick);
        return 0;
#else
        fprintf(stderr, "UNSUPPORTED: CPython 3.11 has one reference count per object (GIL)\n");
        return 4;
#endif
    }
    if (!strcmp(mode, "cg")) {
        pairs(o, bench_arg(argc, argv, 2, 1000000));
        return 0;
    }
    long n = quick ? 20000000 : 100000000;
    pairs(o, n / 10);
    double best = 1e30;
    for (int k = 0; k < (quick ? 1 : 3); k++) {
        double t0 = bench_now();
        pairs(o, n);
        double t = bench_now() - t0;
        if (t < best) best = t;
    }
    BENCH_CHECK(COUNT(o) == before, "count changed: %ld -> %ld", before, COUNT(o));
    bench_params("pairs=%ld,best_of=%d", n, quick ? 1 : 3);
    bench_result("incref_decref", "time_per_pair", best / (double)n * 1e9, "ns");
    return 0;
}
