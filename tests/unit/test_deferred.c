/* test_deferred.c - deferred reference counting, tagged stack references,
 * frames, and immortalization from another thread, in both flavours
 * (free-threading.md §11 scenario 23). Tests that need a collection skip()
 * while the free-threaded collector answers RCGC_ENOTSUP. */
#include "testutil.h"
#include <pthread.h>
#include <string.h>

/* ---- model: GC nodes with two slots; deaths counted per node id ------------------ */

#define MAX_NODES 4096
static int deaths[MAX_NODES]; /* deallocations of node id i (atomic) */
static int next_id = 1;

typedef struct node {
    rcgc_object_t ob;
    rcgc_object_t *a, *b;
    int id;
    bool resurrect; /* finalizer stores the object into resurrected */
} node_t;

static int node_traverse(rcgc_object_t *self, rcgc_visit_fn visit, void *arg) {
    RCGC_VISIT(((node_t *)self)->a, visit, arg);
    RCGC_VISIT(((node_t *)self)->b, visit, arg);
    return 0;
}
static int node_clear(rcgc_object_t *self) {
    RCGC_CLEAR(((node_t *)self)->a);
    RCGC_CLEAR(((node_t *)self)->b);
    return 0;
}
static void node_dealloc(rcgc_object_t *self) {
    node_t *n = (node_t *)self;
    rcgc_gc_untrack(self);
    __atomic_fetch_add(&deaths[n->id], 1, __ATOMIC_RELAXED);
    node_clear(self);
    rcgc_object_free(self);
}
static const rcgc_type_t node_type = {
    .name = "node", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC,
    .traverse = node_traverse, .clear = node_clear, .dealloc = node_dealloc,
};
/* no clear(): only its dealloc drops its references */
static const rcgc_type_t noclear_type = {
    .name = "noclear", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC,
    .traverse = node_traverse, .dealloc = node_dealloc,
};
static rcgc_object_t *resurrected;
static int fin_calls;
static int node_finalize(rcgc_object_t *self) {
    fin_calls++;
    if (((node_t *)self)->resurrect) resurrected = rcgc_newref(self);
    return 0;
}
static const rcgc_type_t fin_type = {
    .name = "fin", .basic_size = sizeof(node_t), .flags = RCGC_TYPE_GC,
    .traverse = node_traverse, .clear = node_clear, .finalize = node_finalize, .dealloc = node_dealloc,
};
static const rcgc_type_t leaf_type = { .name = "leaf", .basic_size = sizeof(node_t), .dealloc = node_dealloc };

static node_t *new_of(const rcgc_type_t *t) {
    node_t *n = (node_t *)rcgc_object_new(t);
    assert_non_null(n);
    assert_true(next_id < MAX_NODES);
    n->id = next_id++;
    return n;
}
static node_t *new_node(void) { return new_of(&node_type); }
static node_t *new_deferred(void) {
    node_t *n = new_node();
    assert_int_equal(rcgc_object_enable_deferred_refcount(&n->ob), 1);
    return n;
}
static int dead(int id) { return __atomic_load_n(&deaths[id], __ATOMIC_RELAXED); }
#define OBJ(n) (&(n)->ob)

/* A full or young collection; skips the test without a collector. */
static intptr_t collect(int generation) {
    intptr_t r = rcgc_gc_collect(generation);
    if (r < 0 && rcgc_last_error() == RCGC_ENOTSUP) skip();
    assert_true(r >= 0);
    assert_int_equal(rcgc_gc_check_heap(), 0);
    return r;
}

/* Collect what earlier tests left, so that collect()'s results are exact. */
static void flush(void) {
    rcgc_gc_collect(2);
    rcgc_error_clear();
}
/* The same, skipping at once without a collector (before frames are pushed:
 * a skipped test must not leave one behind). */
static void flush_or_skip(void) {
    if (rcgc_gc_collect(2) < 0 && rcgc_last_error() == RCGC_ENOTSUP) skip();
    rcgc_error_clear();
}

static bool is_ft(void) { return strcmp(rcgc_flavour(), "free-threaded") == 0; }

/* ---- enabling ------------------------------------------------------------------------ */

static void test_enable_errors_and_idempotence(void **state) {
    node_t *leaf = new_of(&leaf_type);
    rcgc_error_clear();
    assert_int_equal(rcgc_object_enable_deferred_refcount(OBJ(leaf)), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_int_equal(rcgc_object_enable_deferred_refcount(NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    int leaf_id = leaf->id;
    rcgc_decref(OBJ(leaf));
    assert_int_equal(dead(leaf_id), 1);

    node_t *n = new_node();
    assert_false(rcgc_object_is_deferred(OBJ(n)));
    assert_int_equal(rcgc_object_enable_deferred_refcount(OBJ(n)), 1);
    assert_true(rcgc_object_is_deferred(OBJ(n)));
    assert_int_equal(rcgc_refcnt(OBJ(n)), 2); /* ours + the bias */
    assert_int_equal(rcgc_object_enable_deferred_refcount(OBJ(n)), 0);
    assert_int_equal(rcgc_refcnt(OBJ(n)), 2);
    /* tracking again keeps the bit */
    rcgc_gc_untrack(OBJ(n));
    assert_true(rcgc_object_is_deferred(OBJ(n)));
    rcgc_gc_track(OBJ(n));
    assert_true(rcgc_object_is_deferred(OBJ(n)));
    assert_int_equal(rcgc_gc_check_heap(), 0);
    rcgc_decref(OBJ(n));

    static node_t *keep;
    keep = new_node();
    rcgc_object_immortalize(OBJ(keep));
    assert_true(rcgc_object_is_immortal(OBJ(keep)));
    assert_int_equal(rcgc_object_enable_deferred_refcount(OBJ(keep)), 0);
    assert_false(rcgc_object_is_deferred(OBJ(keep)));
    /* immortalizing a deferred object ends its deferral */
    node_t *d = new_deferred();
    rcgc_object_immortalize(OBJ(d));
    assert_true(rcgc_object_is_immortal(OBJ(d)));
    assert_false(rcgc_object_is_deferred(OBJ(d)));
    assert_false(rcgc_gc_is_tracked(OBJ(d)));
}

/* ---- counting never frees a deferred object ---------------------------------------- */

struct drop_arg { rcgc_object_t *o; };
static void *drop_on_thread(void *p) {
    rcgc_thread_attach();
    rcgc_decref(((struct drop_arg *)p)->o);
    rcgc_safepoint();
    rcgc_thread_detach();
    return NULL;
}

/* Run a thread that attaches, drops one reference to o and exits. */
static void drop_elsewhere(rcgc_object_t *o) {
    struct drop_arg a = { o };
    pthread_t th;
    rcgc_blocking_begin();
    assert_int_equal(pthread_create(&th, NULL, drop_on_thread, &a), 0);
    pthread_join(th, NULL);
    rcgc_blocking_end();
}

static void test_never_freed_by_refcounting(void **state) {
    flush();
    node_t *n = new_deferred();
    for (int i = 0; i < 100; i++) rcgc_incref(OBJ(n));
    for (int i = 0; i < 100; i++) rcgc_decref(OBJ(n));
    rcgc_incref(OBJ(n));
    drop_elsewhere(OBJ(n)); /* a non-owner's decref */
    rcgc_safepoint();       /* merges, if it was queued */
    rcgc_decref(OBJ(n));    /* our last reference */
    assert_int_equal(dead(n->id), 0);
    assert_int_equal(rcgc_refcnt(OBJ(n)), 1); /* the bias */
    assert_true(rcgc_gc_is_tracked(OBJ(n)));
    assert_int_equal(rcgc_gc_check_heap(), 0);
    int id = n->id;
    assert_int_equal(collect(2), 1);
    assert_int_equal(dead(id), 1);
}

/* Debug builds report a release past the bias (the count reaching zero). */
static void over_release(void *arg) {
    rcgc_decref(arg);
    rcgc_decref(arg);
}
static void test_over_release_is_reported(void **state) {
    if (RCGC_DEBUG == 0) skip();
    node_t *n = new_deferred();
    rcgc_test_expect_fatal(over_release, OBJ(n), "deferred object", "node", NULL);
    rcgc_decref(OBJ(n));
}

/* ---- collections ---------------------------------------------------------------------- */

static void test_freed_by_collection_once_unreachable(void **state) {
    flush();
    node_t *n = new_deferred();
    node_t *h = new_node();
    h->a = OBJ(n); /* steals our reference */
    int nid = n->id, hid = h->id;
    assert_int_equal(collect(0), 0);
    assert_int_equal(collect(2), 0);
    assert_int_equal(dead(nid), 0);
    rcgc_decref(OBJ(h)); /* h dies by counting; n keeps its bias */
    assert_int_equal(dead(hid), 1);
    assert_int_equal(dead(nid), 0);
    assert_int_equal(collect(2), 1);
    assert_int_equal(dead(nid), 1);
    assert_int_equal(collect(2), 0);
    assert_int_equal(dead(nid), 1);
}

static void test_young_collection_frees_deferred(void **state) {
    flush();
    node_t *n = new_deferred();
    int id = n->id;
    rcgc_decref(OBJ(n));
    assert_int_equal(collect(0), 1);
    assert_int_equal(dead(id), 1);
}

static void test_tagged_stackref_alone_keeps_alive(void **state) {
    flush_or_skip();
    for (int gen = 0; gen <= 2; gen += 2) { /* young (update_refs) and full (fused) detection */
        node_t *n = new_deferred();
        int id = n->id;
        rcgc_stackref_t slots[2] = { rcgc_stackref_null(), rcgc_stackref_null() };
        rcgc_frame_t f = { .slots = slots, .sp = 2 };
        assert_int_equal(rcgc_frame_push(&f), 0);
        slots[1] = rcgc_stackref_steal(OBJ(n)); /* our reference becomes an uncounted one */
        assert_true(rcgc_stackref_is_tagged(slots[1]));
        assert_int_equal(rcgc_refcnt(OBJ(n)), 1); /* the bias alone */
        assert_int_equal(collect(gen), 0);
        assert_int_equal(collect(2), 0);
        assert_int_equal(dead(id), 0);
        /* a slot above sp is not live */
        f.sp = 1;
        assert_int_equal(collect(2), 1);
        assert_int_equal(dead(id), 1);
        assert_int_equal(rcgc_frame_pop(&f), 0);
    }
}

static void test_tagged_stackref_on_another_frame_and_after_pop(void **state) {
    flush_or_skip();
    node_t *n = new_deferred();
    int id = n->id;
    rcgc_stackref_t outer_slot = rcgc_stackref_new(OBJ(n));
    rcgc_frame_t outer = { .slots = &outer_slot, .sp = 1 };
    rcgc_frame_t inner = { .slots = NULL, .sp = 0 };
    assert_int_equal(rcgc_frame_push(&outer), 0);
    assert_int_equal(rcgc_frame_push(&inner), 0);
    rcgc_decref(OBJ(n));
    assert_int_equal(collect(2), 0); /* found in the outer frame */
    assert_int_equal(rcgc_frame_pop(&inner), 0);
    assert_int_equal(rcgc_frame_pop(&outer), 0);
    assert_int_equal(dead(id), 0);
    assert_int_equal(collect(2), 1);
    assert_int_equal(dead(id), 1);
}

static void test_invalid_sp_keeps_every_deferred_object(void **state) {
    flush_or_skip();
    node_t *a = new_deferred(), *b = new_deferred(), *p = new_node();
    int aid = a->id, bid = b->id, pid = p->id;
    b->a = rcgc_newref(OBJ(b)); /* a self-cycle */
    rcgc_decref(OBJ(a));
    rcgc_decref(OBJ(b));
    p->a = rcgc_newref(OBJ(p)); /* an ordinary cycle still dies */
    rcgc_decref(OBJ(p));
    rcgc_frame_t f = { .slots = NULL, .sp = RCGC_FRAME_SP_INVALID };
    assert_int_equal(rcgc_frame_push(&f), 0);
    assert_int_equal(collect(0), 1);
    assert_int_equal(collect(2), 0);
    assert_int_equal(dead(pid), 1);
    assert_int_equal(dead(aid) + dead(bid), 0);
    f.sp = 0; /* known again: the next collection frees them */
    assert_int_equal(collect(2), 2);
    assert_int_equal(dead(aid), 1);
    assert_int_equal(dead(bid), 1);
    assert_int_equal(rcgc_frame_pop(&f), 0);
}

static void test_cycles_through_deferred_objects(void **state) {
    flush_or_skip();
    /* two deferred objects */
    node_t *a = new_deferred(), *b = new_deferred();
    a->a = rcgc_newref(OBJ(b));
    b->a = rcgc_newref(OBJ(a));
    int aid = a->id, bid = b->id;
    rcgc_decref(OBJ(a));
    rcgc_decref(OBJ(b));
    assert_int_equal(collect(2), 2);
    assert_int_equal(dead(aid) + dead(bid), 2);

    /* a deferred and a counted object; a deferred one hanging off a cycle */
    node_t *d = new_deferred(), *p = new_node(), *leafd = new_deferred();
    d->a = rcgc_newref(OBJ(p));
    p->a = rcgc_newref(OBJ(d));
    p->b = OBJ(leafd);
    int did = d->id, pid = p->id, lid = leafd->id;
    rcgc_decref(OBJ(d));
    rcgc_decref(OBJ(p));
    assert_int_equal(collect(0), 3);
    assert_int_equal(dead(did) + dead(pid) + dead(lid), 3);

    /* a deferred object without clear(): freed once the cycle releases it */
    node_t *q = new_of(&noclear_type);
    assert_int_equal(rcgc_object_enable_deferred_refcount(OBJ(q)), 1);
    node_t *r = new_node();
    q->a = rcgc_newref(OBJ(r));
    r->a = OBJ(q);
    int qid = q->id, rid = r->id;
    rcgc_decref(OBJ(r));
    assert_int_equal(collect(2), 2);
    assert_int_equal(dead(qid), 1);
    assert_int_equal(dead(rid), 1);

    /* a cycle dies; the deferred object it held survives by a stack slot */
    node_t *c1 = new_node(), *c2 = new_node(), *e = new_deferred();
    c1->a = rcgc_newref(OBJ(c2));
    c2->a = rcgc_newref(OBJ(c1));
    c2->b = rcgc_newref(OBJ(e));
    rcgc_stackref_t slot = rcgc_stackref_steal(OBJ(e));
    rcgc_frame_t f = { .slots = &slot, .sp = 1 };
    assert_int_equal(rcgc_frame_push(&f), 0);
    int eid = e->id, c1id = c1->id;
    rcgc_decref(OBJ(c1));
    rcgc_decref(OBJ(c2));
    assert_int_equal(collect(2), 2);
    assert_int_equal(dead(c1id), 1);
    assert_int_equal(dead(eid), 0);
    assert_true(rcgc_object_is_deferred(OBJ(e)));
    assert_int_equal(rcgc_refcnt(OBJ(e)), 1);
    assert_int_equal(rcgc_frame_pop(&f), 0);
    assert_int_equal(collect(2), 1);
    assert_int_equal(dead(eid), 1);
}

/* The resurrection check accounts for the bias too: a deferred object whose
 * finalizer does not resurrect it dies in the same collection; one that does
 * survives (finalizer run once) and dies later. The flavours differ in the
 * details: the default build keeps a resurrected object deferred (it dies at
 * a later collection) and counts the other as collected; the free-threaded
 * collector ends deferral on all garbage before finalizers run, so the
 * resurrected object dies by counting, and the other, left with only the
 * collector's reference, is released uncounted (collect_ft.c, find_dead). */
static void test_finalizers_and_resurrection(void **state) {
    flush();
    node_t *x = new_of(&fin_type), *y = new_of(&fin_type);
    assert_int_equal(rcgc_object_enable_deferred_refcount(OBJ(x)), 1);
    assert_int_equal(rcgc_object_enable_deferred_refcount(OBJ(y)), 1);
    y->resurrect = true;
    int xid = x->id, yid = y->id;
    fin_calls = 0;
    rcgc_decref(OBJ(x));
    rcgc_decref(OBJ(y));
    assert_int_equal(collect(2), is_ft() ? 0 : 1);
    assert_int_equal(fin_calls, 2);
    assert_int_equal(dead(xid), 1);
    assert_int_equal(dead(yid), 0);
    assert_ptr_equal(resurrected, OBJ(y));
    assert_int_equal(rcgc_object_is_deferred(OBJ(y)), !is_ft());
    RCGC_CLEAR(resurrected);
    if (!is_ft()) {
        assert_int_equal(dead(yid), 0);
        assert_int_equal(collect(2), 1);
    }
    assert_int_equal(fin_calls, 2);
    assert_int_equal(dead(yid), 1);
}

/* The heap checker discounts the bias: a missing reference to a deferred
 * object is "refcount is too small" although the raw count looks enough. */
static void test_heap_check_accounts_for_the_bias(void **state) {
    node_t *d = new_deferred(), *p = new_node(), *q = new_node();
    p->a = OBJ(d); /* steals */
    q->a = OBJ(d); /* BUG on purpose: no incref */
    assert_int_equal(rcgc_refcnt(OBJ(d)), 2);
    assert_int_equal(rcgc_gc_check_heap(), 1);
    rcgc_incref(OBJ(d)); /* repair */
    assert_int_equal(rcgc_gc_check_heap(), 0);
    rcgc_decref(OBJ(p));
    rcgc_decref(OBJ(q));
}

/* ---- stack references --------------------------------------------------------------- */

static void test_stackref_counts_are_exact(void **state) {
    /* counted object: every stack reference is one reference */
    node_t *p = new_node();
    intptr_t base = rcgc_refcnt(OBJ(p));
    rcgc_stackref_t r = rcgc_stackref_new(OBJ(p));
    assert_false(rcgc_stackref_is_tagged(r));
    assert_ptr_equal(rcgc_stackref_get(r), OBJ(p));
    assert_int_equal(rcgc_refcnt(OBJ(p)), base + 1);
    rcgc_stackref_t r2 = rcgc_stackref_dup(r);
    assert_int_equal(rcgc_refcnt(OBJ(p)), base + 2);
    rcgc_stackref_close(r2);
    assert_int_equal(rcgc_refcnt(OBJ(p)), base + 1);
    rcgc_object_t *o = rcgc_stackref_to_object(r);
    assert_int_equal(rcgc_refcnt(OBJ(p)), base + 2);
    rcgc_decref(o);
    rcgc_stackref_t r3 = rcgc_stackref_steal(rcgc_newref(OBJ(p)));
    assert_false(rcgc_stackref_is_tagged(r3));
    assert_int_equal(rcgc_refcnt(OBJ(p)), base + 2);
    rcgc_stackref_close(r3);
    o = rcgc_stackref_into_object(r); /* r's reference, handed over */
    assert_int_equal(rcgc_refcnt(OBJ(p)), base + 1);
    rcgc_decref(o);
    assert_int_equal(rcgc_refcnt(OBJ(p)), base);

    /* deferred object: stack references are free */
    node_t *d = new_deferred();
    base = rcgc_refcnt(OBJ(d));
    r = rcgc_stackref_new(OBJ(d));
    assert_true(rcgc_stackref_is_tagged(r));
    assert_ptr_equal(rcgc_stackref_get(r), OBJ(d));
    r2 = rcgc_stackref_dup(r);
    assert_int_equal(r2.bits, r.bits);
    rcgc_stackref_close(r2);
    assert_int_equal(rcgc_refcnt(OBJ(d)), base);
    o = rcgc_stackref_to_object(r);
    assert_int_equal(rcgc_refcnt(OBJ(d)), base + 1);
    rcgc_decref(o);
    r3 = rcgc_stackref_steal(rcgc_newref(OBJ(d)));
    assert_true(rcgc_stackref_is_tagged(r3));
    assert_int_equal(rcgc_refcnt(OBJ(d)), base);
    o = rcgc_stackref_into_object(r3);
    assert_int_equal(rcgc_refcnt(OBJ(d)), base + 1);
    rcgc_decref(o);
    rcgc_stackref_close(r);
    assert_int_equal(rcgc_refcnt(OBJ(d)), base);
    rcgc_decref(OBJ(d));

    /* immortal and non-GC objects; the NULL reference */
    static node_t *imm;
    imm = new_node();
    rcgc_object_immortalize(OBJ(imm));
    r = rcgc_stackref_new(OBJ(imm));
    assert_true(rcgc_stackref_is_tagged(r));
    rcgc_stackref_close(r);
    node_t *leaf = new_of(&leaf_type);
    r = rcgc_stackref_steal(OBJ(leaf));
    assert_false(rcgc_stackref_is_tagged(r));
    assert_int_equal(rcgc_refcnt(OBJ(leaf)), 1);
    int lid = leaf->id;
    rcgc_stackref_close(r);
    assert_int_equal(dead(lid), 1);
    rcgc_stackref_t nul = rcgc_stackref_null();
    assert_true(rcgc_stackref_is_null(nul));
    assert_false(rcgc_stackref_is_tagged(nul));
    assert_null(rcgc_stackref_get(nul));
    assert_true(rcgc_stackref_is_null(rcgc_stackref_dup(nul)));
    rcgc_stackref_close(nul);
}

static void *push_unattached(void *p) {
    rcgc_frame_t *f = p;
    rcgc_error_clear();
    int rc = rcgc_frame_push(f);
    return (void *)(intptr_t)(rc == -1 && rcgc_last_error() == RCGC_ESTATE);
}

static void test_frame_push_pop(void **state) {
    assert_null(rcgc_frame_top());
    rcgc_frame_t f1 = { .slots = NULL, .sp = 0 }, f2 = { .slots = NULL, .sp = 0 };
    assert_int_equal(rcgc_frame_push(&f1), 0);
    assert_int_equal(rcgc_frame_push(&f2), 0);
    assert_ptr_equal(rcgc_frame_top(), &f2);
    assert_ptr_equal(f2.prev, &f1);
    rcgc_error_clear();
    assert_int_equal(rcgc_frame_pop(&f1), -1); /* not the top */
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    assert_int_equal(rcgc_frame_pop(&f2), 0);
    assert_int_equal(rcgc_frame_pop(&f1), 0);
    assert_null(rcgc_frame_top());
    assert_int_equal(rcgc_frame_pop(&f1), -1);
    assert_int_equal(rcgc_frame_push(NULL), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    rcgc_frame_t bad = { .slots = NULL, .sp = 3 };
    assert_int_equal(rcgc_frame_push(&bad), -1);
    assert_int_equal(rcgc_last_error(), RCGC_EINVAL);
    /* a thread that is not attached cannot push */
    pthread_t th;
    void *ok;
    assert_int_equal(pthread_create(&th, NULL, push_unattached, &f1), 0);
    pthread_join(th, &ok);
    assert_true(ok != NULL);
}

/* ---- immortalization by a thread that does not own the object ---------------------- */

struct imm_arg {
    rcgc_object_t *o;
    int started, done;
};

static void *immortalize_on_thread(void *p) {
    struct imm_arg *a = p;
    rcgc_thread_attach();
    __atomic_store_n(&a->started, 1, __ATOMIC_RELEASE);
    rcgc_object_immortalize(a->o);
    RCGC_TEST_CHECK(rcgc_object_is_immortal(a->o));
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    rcgc_thread_detach();
    return NULL;
}

static void *churn_non_owner(void *p) {
    struct imm_arg *a = p;
    rcgc_thread_attach();
    while (!__atomic_load_n(&a->done, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 100; i++) rcgc_incref(a->o);
        for (int i = 0; i < 100; i++) rcgc_decref(a->o);
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

/* The owner keeps writing its count (and a non-owner the shared count)
 * while another thread immortalizes the object: none of their writes may
 * undo the change, and the owner's final release must not free it. */
static void test_immortalize_from_another_thread(void **state) {
    for (int round = 0; round < 20; round++) {
        node_t *n = new_node();
        struct imm_arg a = { OBJ(n), 0, 0 };
        pthread_t imm, churn;
        assert_int_equal(pthread_create(&churn, NULL, churn_non_owner, &a), 0);
        assert_int_equal(pthread_create(&imm, NULL, immortalize_on_thread, &a), 0);
        double deadline = rcgc_test_now() + 60;
        while (!__atomic_load_n(&a.done, __ATOMIC_ACQUIRE)) {
            for (int i = 0; i < 1000; i++) rcgc_incref(OBJ(n));
            for (int i = 0; i < 1000; i++) rcgc_decref(OBJ(n));
            rcgc_safepoint();
            assert_true(rcgc_test_now() < deadline);
        }
        rcgc_blocking_begin();
        pthread_join(imm, NULL);
        pthread_join(churn, NULL);
        rcgc_blocking_end();
        assert_true(rcgc_object_is_immortal(OBJ(n)));
        assert_false(rcgc_gc_is_tracked(OBJ(n)));
        for (int i = 0; i < 10; i++) rcgc_decref(OBJ(n));
        assert_true(rcgc_object_is_immortal(OBJ(n)));
        assert_int_equal(dead(n->id), 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enable_errors_and_idempotence),
        cmocka_unit_test(test_never_freed_by_refcounting),
        cmocka_unit_test(test_over_release_is_reported),
        cmocka_unit_test(test_freed_by_collection_once_unreachable),
        cmocka_unit_test(test_young_collection_frees_deferred),
        cmocka_unit_test(test_tagged_stackref_alone_keeps_alive),
        cmocka_unit_test(test_tagged_stackref_on_another_frame_and_after_pop),
        cmocka_unit_test(test_invalid_sp_keeps_every_deferred_object),
        cmocka_unit_test(test_cycles_through_deferred_objects),
        cmocka_unit_test(test_finalizers_and_resurrection),
        cmocka_unit_test(test_heap_check_accounts_for_the_bias),
        cmocka_unit_test(test_stackref_counts_are_exact),
        cmocka_unit_test(test_frame_push_pop),
        cmocka_unit_test(test_immortalize_from_another_thread),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
