/* test_brc_ft.c - biased reference counting (free-threaded build): the
 * scenarios of free-threading.md §11 that do not need the collector. */
#include "testutil.h"
#include "internal/brc.h"
#include "internal/object_internal.h"
#include <pthread.h>

typedef struct item { rcgc_object_t ob; } item_t;
static int freed_count;
static uintptr_t freed_by;
static void item_dealloc(rcgc_object_t *self) {
    __atomic_fetch_add(&freed_count, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&freed_by, rcgc_thread_id(), __ATOMIC_RELAXED);
    rcgc_object_free(self);
}
static const rcgc_type_t item_type = { .name = "item", .basic_size = sizeof(item_t), .dealloc = item_dealloc };

static intptr_t shared_word(rcgc_object_t *o) { return __atomic_load_n(&o->ob_ref_shared, __ATOMIC_ACQUIRE); }

/* Run fn(arg) on a fresh attached thread and wait for it (the caller stays
 * attached: attached threads run concurrently in this flavour). */
struct call { void (*fn)(void *); void *arg; };
static void *trampoline(void *p) {
    struct call *c = p;
    rcgc_thread_attach();
    c->fn(c->arg);
    rcgc_thread_detach();
    return NULL;
}
static void on_other_thread(void (*fn)(void *), void *arg) {
    struct call c = { fn, arg };
    pthread_t th;
    pthread_create(&th, NULL, trampoline, &c);
    pthread_join(th, NULL);
}

static void test_owner_only_uses_no_shared_count(void **state) {
    freed_count = 0;
    rcgc_object_t *objs[1000];
    for (int i = 0; i < 1000; i++) objs[i] = rcgc_object_new(&item_type);
    for (int k = 0; k < 10; k++)
        for (int i = 0; i < 1000; i++) rcgc_incref(objs[i]);
    for (int k = 0; k < 10; k++)
        for (int i = 0; i < 1000; i++) rcgc_decref(objs[i]);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(shared_word(objs[i]), 0);
        assert_true(rcgc_is_owned_by_current_thread(objs[i]));
        rcgc_decref(objs[i]);
    }
    assert_int_equal(freed_count, 1000);
}

static void drop(void *arg) { rcgc_decref(arg); }
static void take(void *arg) { rcgc_incref(arg); }

/* Scenario 2: the only reference handed to another thread, which drops it. */
static void test_handoff_queues_until_owner_safepoint(void **state) {
    freed_count = 0;
    rcgc_object_t *x = rcgc_object_new(&item_type);
    on_other_thread(drop, x); /* x's only reference, given away */
    assert_int_equal(freed_count, 0);
    assert_int_equal(shared_word(x) & 3, RCGC_REF_QUEUED);
    assert_int_equal(rcgc_refcnt(x), 1); /* count unchanged: the decref is queued */
    assert_int_equal(_rcgc_brc_pending_count(_rcgc_tstate()), 1);
    rcgc_safepoint();
    assert_int_equal(freed_count, 1);
    assert_int_equal(freed_by, rcgc_thread_id());
}

/* Scenario 3: the owner drops first, the other thread frees. */
static void test_owner_first_then_other_thread_frees(void **state) {
    freed_count = 0;
    rcgc_object_t *x = rcgc_object_new(&item_type);
    on_other_thread(take, x);
    rcgc_decref(x); /* owner reaches 0 locally: merged, count 1 */
    assert_int_equal(shared_word(x), ((intptr_t)1 << 2) | RCGC_REF_MERGED);
    assert_int_equal(__atomic_load_n(&x->ob_tid, __ATOMIC_RELAXED), 0);
    assert_int_equal(freed_count, 0);
    on_other_thread(drop, x);
    assert_int_equal(freed_count, 1);
    assert_int_not_equal(freed_by, rcgc_thread_id());
}

static void drop_twice(void *arg) { rcgc_decref(arg); rcgc_decref(arg); }

/* Scenario 5: the shared count goes negative while queued. */
static void test_negative_shared_count_while_queued(void **state) {
    freed_count = 0;
    rcgc_object_t *x = rcgc_object_new(&item_type);
    rcgc_incref(x);
    rcgc_incref(x);         /* two references for the other thread */
    on_other_thread(drop_twice, x);
    assert_int_equal(shared_word(x) >> 2, -1);
    assert_int_equal(shared_word(x) & 3, RCGC_REF_QUEUED);
    rcgc_safepoint();       /* merge: 3 + (-1) - 1 = 1 */
    assert_int_equal(freed_count, 0);
    assert_int_equal(shared_word(x), ((intptr_t)1 << 2) | RCGC_REF_MERGED);
    rcgc_decref(x);
    assert_int_equal(freed_count, 1);
}

/* Scenario 6: the owner exits; the other thread merges in place. */
static rcgc_object_t *orphan;
static void create_orphan(void *arg) { orphan = rcgc_object_new(&item_type); }

static void test_dead_owner_merges_in_place(void **state) {
    freed_count = 0;
    on_other_thread(create_orphan, NULL); /* its owner has exited */
    assert_int_equal(freed_count, 0);
    rcgc_decref(orphan); /* would queue; the owner is gone: merged here */
    assert_int_equal(freed_count, 1);
    assert_int_equal(freed_by, rcgc_thread_id());
}

/* Scenario 9: an owner count pushed past UINT32_MAX becomes immortal. */
static void test_local_overflow_makes_immortal(void **state) {
    rcgc_object_t *x = rcgc_object_new(&item_type);
    _rcgc_refcnt_set(x, (intptr_t)RCGC_IMMORTAL_REFCNT_LOCAL - 2);
    rcgc_incref(x);
    assert_false(rcgc_is_immortal(x));
    rcgc_incref(x);
    assert_true(rcgc_is_immortal(x));
    for (int i = 0; i < 10; i++) rcgc_decref(x);
    assert_true(rcgc_is_immortal(x));
}

/* Owner counts from 2^31 up take rcgc_incref's out-of-line path: they keep
 * counting exactly, and an owned object never carries the immortal count
 * (the fast paths test ownership first and skip the immortal test). */
static void test_owner_count_past_2_31_stays_exact(void **state) {
    freed_count = 0;
    rcgc_object_t *x = rcgc_object_new(&item_type);
    intptr_t start = ((intptr_t)1 << 31) - 3;
    _rcgc_refcnt_set(x, start);
    for (int i = 0; i < 10; i++) rcgc_incref(x);
    assert_int_equal(rcgc_refcnt(x), start + 10);
    assert_true(rcgc_is_owned_by_current_thread(x));
    for (int i = 0; i < 10; i++) rcgc_decref(x);
    assert_int_equal(rcgc_refcnt(x), start);
    _rcgc_refcnt_set(x, (intptr_t)RCGC_IMMORTAL_REFCNT_LOCAL - 1);
    rcgc_incref(x); /* reaches the immortal value: saturates */
    assert_true(rcgc_is_immortal(x));
    assert_false(rcgc_is_owned_by_current_thread(x));
    assert_int_equal(__atomic_load_n(&x->ob_tid, __ATOMIC_RELAXED), 0);
    rcgc_decref(x);
    assert_true(rcgc_is_immortal(x));
    assert_int_equal(freed_count, 0);
}

/* Scenario 4: the owner's last decref races non-owner incref/decref pairs. */
#define RACERS 3
#define PAIRS 100000
static rcgc_object_t *raced;
static void race_pairs(void *arg) {
    for (int i = 0; i < PAIRS; i++) {
        rcgc_incref(raced);
        rcgc_decref(raced);
        if (i % 1024 == 0) rcgc_safepoint();
    }
    rcgc_decref(raced); /* this thread's own reference */
}
static void *racer_main(void *arg) {
    rcgc_thread_attach();
    race_pairs(arg);
    rcgc_thread_detach();
    return NULL;
}

static void test_owner_decref_races_other_threads(void **state) {
    uint64_t seed = rcgc_test_seed(4);
    for (int round = 0; round < 20; round++) {
        freed_count = 0;
        raced = rcgc_object_new(&item_type);
        for (int i = 0; i < RACERS; i++) rcgc_incref(raced);
        pthread_t th[RACERS];
        for (int i = 0; i < RACERS; i++) pthread_create(&th[i], NULL, racer_main, NULL);
        for (uint64_t spin = rcgc_test_rand(&seed) % 20000; spin > 0; spin--) __asm__ volatile("" ::: "memory");
        rcgc_decref(raced); /* the owner's own reference */
        for (int i = 0; i < RACERS; i++) pthread_join(th[i], NULL);
        rcgc_safepoint(); /* merge anything the racers queued */
        assert_int_equal(freed_count, 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_only_uses_no_shared_count),
        cmocka_unit_test(test_handoff_queues_until_owner_safepoint),
        cmocka_unit_test(test_owner_first_then_other_thread_frees),
        cmocka_unit_test(test_negative_shared_count_while_queued),
        cmocka_unit_test(test_dead_owner_merges_in_place),
        cmocka_unit_test(test_local_overflow_makes_immortal),
        cmocka_unit_test(test_owner_count_past_2_31_stays_exact),
        cmocka_unit_test(test_owner_decref_races_other_threads),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
