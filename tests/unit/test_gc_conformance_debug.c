/* test_gc_conformance_debug.c - cpython-gc.md §18 I: debug checks and
 * shutdown. Every scenario runs in a child process that starts and stops its
 * own runtime (this program never calls rcgc_init itself), so the fatal
 * report of S40 and the shutdown diagnostics of S41/S42 can be read from the
 * child's stderr. Diagnostics are routed to stderr through the output
 * channel (rcgc_set_output). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"

static void out_to_stderr(const char *text, void *ctx) {
    fputs(text, stderr);
    fflush(stderr);
}

/* ---- helpers ---------------------------------------------------------------- */

static void probe_child(void *arg) {
    if (rcgc_init() != 0) _exit(3);
    intptr_t r = rcgc_gc_collect(2);
    _exit(r == -1 && rcgc_last_error() == RCGC_ENOTSUP ? 77 : 0);
}

/* Skip when this flavour has no collector yet. */
static void skip_without_collector(void) {
    int status = 0;
    char *out = rcgc_test_run_child(probe_child, NULL, &status);
    free(out);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

typedef struct child_arg {
    unsigned flags;
    char path[64]; /* where the child writes the addresses it wants checked */
} child_arg_t;

static void tmp_path(child_arg_t *a) {
    snprintf(a->path, sizeof a->path, "/tmp/rcgc_conf_XXXXXX");
    int fd = mkstemp(a->path);
    assert_true(fd >= 0);
    close(fd);
}

static void write_addrs(const char *path, rcgc_object_t *const *objs, int n) {
    FILE *f = fopen(path, "w");
    if (!f) _exit(4);
    for (int i = 0; i < n; i++) fprintf(f, "%p\n", (void *)objs[i]);
    fclose(f);
}

/* Read the child's addresses as lower-case hex digits without "0x". */
static int read_addrs(const char *path, char hex[][32], int max) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0;
    char line[64];
    while (n < max && fgets(line, sizeof line, f)) {
        char *p = line;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2;
        size_t k = 0;
        while (isxdigit((unsigned char)p[k]) && k < 31) {
            hex[n][k] = (char)tolower((unsigned char)p[k]);
            k++;
        }
        hex[n][k] = '\0';
        n++;
    }
    fclose(f);
    unlink(path);
    return n;
}

static size_t count_occurrences(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}

/* Does the report name the refcount `want` ("refcount 1", "refcnt=1", ...)? */
static bool reports_refcount(const char *out, long want) {
    static const char *keys[] = { "refcount", "refcnt", "ref count" };
    for (size_t k = 0; k < 3; k++)
        for (const char *p = out; (p = strstr(p, keys[k])) != NULL; p++) {
            const char *q = p + strlen(keys[k]);
            int skipped = 0;
            while (*q && strchr(" :=()[]", *q) && skipped < 4) { q++; skipped++; }
            if (isdigit((unsigned char)*q) && strtol(q, NULL, 10) == want &&
                !isdigit((unsigned char)q[-1]))
                return true;
        }
    return false;
}

/* ---- S40 Refcount too small (test_refcount_errors) ------------------------------ */

static void s40_child(void *p) {
    child_arg_t *arg = p;
    if (rcgc_init() != 0) _exit(3);
    rcgc_gc_disable();
    rcgc_object_t *a = gcm_node("a");
    gcm_set_steal(a, GCM_A, gcm_leaf("l1"));
    gcm_set_steal(a, GCM_B, gcm_leaf("l2"));
    gcm_set_steal(a, GCM_C, gcm_leaf("l3"));
    rcgc_object_t *b = gcm_node("b");
    gcm_set(b, GCM_A, a); /* b.x = a */
    gcm_set(b, GCM_B, a); /* b.y = a */
    gcm_set(a, GCM_D, b); /* a.z = b */
    write_addrs(arg->path, &a, 1);
    rcgc_decref(a); /* one extra decref */
    rcgc_decref(a); /* drop a: count 1, two internal references */
    rcgc_decref(b);
    rcgc_gc_collect(2); /* must be fatal */
    fprintf(stderr, "collect returned\n");
}

static void s40_refcount_too_small(void **state) {
#if RCGC_DEBUG == 0
    skip();
#endif
    skip_without_collector();
    child_arg_t arg = { 0 };
    tmp_path(&arg);
    /* dies with the message and the type name ... */
    rcgc_test_expect_fatal(s40_child, &arg, "refcount is too small", "Node", (char *)NULL);
    /* ... and names the object's address and refcount (read from a second
     * run, whose child also writes the address it allocated) */
    int status = 0;
    char *out = rcgc_test_run_child(s40_child, &arg, &status);
    char hex[1][32];
    assert_int_equal(read_addrs(arg.path, hex, 1), 1);
    bool died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!died || !strstr(out, "refcount is too small") || !strstr(out, hex[0]) ||
        !strstr(out, "Node") || !reports_refcount(out, 1))
        fprintf(stderr, "S40 child (a = 0x%s) stderr:\n%s\n", hex[0], out);
    assert_true(died);
    assert_null(strstr(out, "collect returned"));
    assert_non_null(strstr(out, "refcount is too small"));
    assert_non_null(strstr(out, hex[0])); /* the object's address */
    assert_non_null(strstr(out, "Node"));  /* its type name */
    assert_true(reports_refcount(out, 1)); /* its refcount */
    free(out);
}

/* ---- S41 Uncollectable at shutdown (test_garbage_at_shutdown) ------------------- */

static int gccb_to_stderr(rcgc_gc_phase_t phase, const rcgc_gc_info_t *info, void *ctx) {
    fprintf(stderr, "GCCB\n");
    return 0;
}

static void s41_child(void *p) {
    child_arg_t *arg = p;
    if (rcgc_init() != 0) _exit(3);
    rcgc_set_output(out_to_stderr, NULL);
    rcgc_gc_disable();
    rcgc_object_t *x[2];
    x[0] = gcm_legacy("first");
    x[1] = gcm_legacy("second");
    gcm_set(x[0], GCM_A, x[0]);      /* X1.x = X1 */
    gcm_set_steal(x[0], GCM_B, x[1]); /* X1.y = new Legacy("second") */
    write_addrs(arg->path, x, 2);
    gcm_drop(x[0]);
    rcgc_gc_set_debug(arg->flags);
    rcgc_gc_callback_add(gccb_to_stderr, NULL);
    int rc = rcgc_shutdown();
    fprintf(stderr, "shutdown=%d LOG=[%s]\n", rc, gcm_log_str());
    fflush(stderr);
    _exit(0);
}

static char *run_s41(unsigned flags, char hex[2][32]) {
    child_arg_t arg = { .flags = flags };
    tmp_path(&arg);
    int status = 0;
    char *out = rcgc_test_run_child(s41_child, &arg, &status);
    assert_int_equal(read_addrs(arg.path, hex, 2), 2);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "S41 child (flags %u) failed; stderr:\n%s\n", flags, out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(out, "shutdown=0 LOG=[]")); /* tp_del never called */
    assert_null(strstr(out, "GCCB"));                   /* no GC callbacks */
    return out;
}

static void s41_uncollectable_at_shutdown(void **state) {
    skip_without_collector();
    char hex[2][32];

    /* flags 0: one diagnostic with the hint, no listing */
    char *out = run_s41(0, hex);
    if (count_occurrences(out, "2 uncollectable objects at shutdown") != 1)
        fprintf(stderr, "S41 (flags 0) stderr:\n%s\n", out);
    assert_int_equal(count_occurrences(out, "2 uncollectable objects at shutdown"), 1);
    assert_non_null(strstr(out, "DEBUG_UNCOLLECTABLE")); /* the hint */
    assert_null(strstr(out, hex[0]));
    assert_null(strstr(out, hex[1]));
    assert_null(strstr(out, "gc: uncollectable <"));
    free(out);

    /* DEBUG_UNCOLLECTABLE: no hint, both listed, one "uncollectable" line per
     * object from the shutdown collection */
    out = run_s41(RCGC_GC_DEBUG_UNCOLLECTABLE, hex);
    if (count_occurrences(out, "2 uncollectable objects at shutdown") != 1 ||
        count_occurrences(out, "gc: uncollectable <") != 2)
        fprintf(stderr, "S41 (DEBUG_UNCOLLECTABLE) stderr:\n%s\n", out);
    assert_int_equal(count_occurrences(out, "2 uncollectable objects at shutdown"), 1);
    assert_null(strstr(out, "DEBUG_UNCOLLECTABLE"));
    assert_int_equal(count_occurrences(out, "gc: uncollectable <"), 2);
    for (int i = 0; i < 2; i++) {
        char line[128];
        snprintf(line, sizeof line, "gc: uncollectable <Legacy 0x%s>", hex[i]);
        assert_non_null(strstr(out, line));
        assert_int_equal(count_occurrences(out, hex[i]), 2); /* that line + the listing */
    }
    free(out);

    /* DEBUG_SAVEALL: no diagnostic */
    out = run_s41(RCGC_GC_DEBUG_SAVEALL, hex);
    assert_null(strstr(out, "uncollectable objects at shutdown"));
    free(out);
}

/* ---- S42 Finalizers run at shutdown (test_gc_main_module_at_shutdown, ...) ---------- */

static void s42_child(void *p) {
    if (rcgc_init() != 0) _exit(3);
    rcgc_set_output(out_to_stderr, NULL);
    rcgc_gc_disable();
    rcgc_object_t *C = gcm_fin("C", 0);
    gcm_set(C, GCM_A, C);
    gcm_drop(C); /* the embedder drops every root */
    rcgc_gc_callback_add(gccb_to_stderr, NULL);
    int rc = rcgc_shutdown();
    fprintf(stderr, "shutdown=%d LOG=[%s] finalizes=%d deallocs=%d\n", rc, gcm_log_str(),
            gcm_finalizes("C"), gcm_deallocs("C"));
    fflush(stderr);
    _exit(0);
}

static void s42_finalizers_at_shutdown(void **state) {
    skip_without_collector();
    int status = 0;
    char *out = rcgc_test_run_child(s42_child, NULL, &status);
    if (!strstr(out, "shutdown=0 LOG=[C] finalizes=1 deallocs=1") || strstr(out, "GCCB"))
        fprintf(stderr, "S42 child stderr:\n%s\n", out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(out, "shutdown=0 LOG=[C] finalizes=1 deallocs=1"));
    assert_null(strstr(out, "GCCB"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(s40_refcount_too_small),
        cmocka_unit_test(s41_uncollectable_at_shutdown),
        cmocka_unit_test(s42_finalizers_at_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
