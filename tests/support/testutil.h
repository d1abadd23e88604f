/* testutil.h - helpers shared by the cmocka tests.
 *
 *  - rcgc_test_expect_fatal(fn, arg, needle...): run fn(arg) in a child
 *    process, require that it dies (fatal report, abort) and that its stderr
 *    contains every needle; used to assert misuse reports.
 *  - rcgc_test_seed(default): the seed for randomized tests (env
 *    RCGC_TEST_SEED overrides), printed so a failure can be replayed.
 *  - rcgc_test_run_on_small_stack(fn, arg, bytes): run fn on a new thread with
 *    a stack of the given size and wait for it.
 */
#ifndef RCGC_TESTUTIL_H
#define RCGC_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>
#include "rcgc.h"

typedef void (*rcgc_test_fn)(void *arg);

/* Returns the child's stderr (malloc'd, caller frees) after asserting that
 * it terminated abnormally (signal or non-zero exit). */
char *rcgc_test_run_child(rcgc_test_fn fn, void *arg, int *status_out);
/* Assert fn(arg) dies and its stderr contains each NULL-terminated needle. */
void rcgc_test_expect_fatal(rcgc_test_fn fn, void *arg, ...);

uint64_t rcgc_test_seed(uint64_t fallback);
/* xorshift64* */
static inline uint64_t rcgc_test_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int rcgc_test_run_on_small_stack(rcgc_test_fn fn, void *arg, size_t stack_bytes);

/* An assertion for any thread (cmocka's may only fail on the thread that runs
 * the test): prints the condition and aborts. */
#define RCGC_TEST_CHECK(cond)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__);    \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* Monotonic seconds. */
double rcgc_test_now(void);
/* Spin (yielding) until *flag != 0 or `seconds` pass; true if it was set. */
bool rcgc_test_wait_flag(int *flag, double seconds);

/* cmocka group setup/teardown that init and shut down the runtime. */
int rcgc_test_setup_runtime(void **state);
int rcgc_test_teardown_runtime(void **state);

#endif
