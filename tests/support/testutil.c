/* testutil.c - see testutil.h. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

char *rcgc_test_run_child(rcgc_test_fn fn, void *arg, int *status_out) {
    int fds[2];
    if (pipe(fds) != 0) return NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        fflush(stderr);
        _exit(0); /* survived: the caller's assertion will fail */
    }
    close(fds[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 512) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (status_out) *status_out = status;
    return buf;
}

void rcgc_test_expect_fatal(rcgc_test_fn fn, void *arg, ...) {
    int status = 0;
    char *out = rcgc_test_run_child(fn, arg, &status);
    assert_non_null(out);
    bool died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!died) fprintf(stderr, "child survived; its stderr:\n%s\n", out);
    assert_true(died);
    va_list ap;
    va_start(ap, arg);
    const char *needle;
    while ((needle = va_arg(ap, const char *)) != NULL) {
        if (!strstr(out, needle)) fprintf(stderr, "missing \"%s\" in child stderr:\n%s\n", needle, out);
        assert_non_null(strstr(out, needle));
    }
    va_end(ap);
    free(out);
}

uint64_t rcgc_test_seed(uint64_t fallback) {
    const char *env = getenv("RCGC_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : fallback;
    if (seed == 0) seed = 0x9E3779B97F4A7C15ULL;
    printf("[seed] RCGC_TEST_SEED=%llu\n", (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

struct small_stack_call { rcgc_test_fn fn; void *arg; };

static void *small_stack_main(void *p) {
    struct small_stack_call *c = p;
    rcgc_thread_attach();
    c->fn(c->arg);
    rcgc_thread_detach();
    return NULL;
}

int rcgc_test_run_on_small_stack(rcgc_test_fn fn, void *arg, size_t stack_bytes) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (pthread_attr_setstacksize(&attr, stack_bytes) != 0) return -1;
    struct small_stack_call call = { fn, arg };
    pthread_t th;
    /* The calling (attached) thread lets the worker take the global lock. */
    rcgc_blocking_begin();
    int rc = pthread_create(&th, &attr, small_stack_main, &call);
    if (rc == 0) pthread_join(th, NULL);
    rcgc_blocking_end();
    pthread_attr_destroy(&attr);
    return rc;
}

int rcgc_test_setup_runtime(void **state) {
    (void)state;
    return rcgc_init() == 0 ? 0 : -1;
}

int rcgc_test_teardown_runtime(void **state) {
    (void)state;
    return rcgc_shutdown() == 0 ? 0 : -1;
}

double rcgc_test_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool rcgc_test_wait_flag(int *flag, double seconds) {
    double end = rcgc_test_now() + seconds;
    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
        if (rcgc_test_now() > end) return false;
        sched_yield();
    }
    return true;
}
