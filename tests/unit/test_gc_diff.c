/* test_gc_diff.c - randomized differential test of the cycle collector.
 *
 * Each episode builds a random object graph from the model of
 * tests/support/gcmodel.h (Node/Node2, Fin, resurrecting Fin, Legacy, Leaf,
 * Hidden, weak references with and without callbacks) and applies a random
 * sequence of mutations: create, link, unlink, drop / take external
 * references, empty ROOT or the garbage list, freeze / unfreeze, collect a
 * random generation, safe points with automatic collection on. Every step is
 * mirrored in a shadow graph kept in test-owned memory, and an oracle written
 * independently of the library predicts the outcome:
 *
 *   - reference counting (settle): an object dies when its count (external
 *     references + ROOT + garbage list + edges from live objects) reaches 0;
 *     an unfinalized resurrecting Fin reaching 0 resurrects into ROOT
 *     instead; finalizers and legacy finalizers run from dealloc;
 *   - a collection of generation g (cpython-gc.md §7, §8, 3.14 weakref
 *     order): examined set S = live tracked unfrozen objects of generations
 *     <= g; unreachable U = S minus everything reachable from the members
 *     referenced from outside S; quarantine Q = closure of the Legacy objects
 *     of U (n = what is left of Q after the garbage was cleared - a member
 *     only the garbage referred to dies by refcounting; its Legacy objects
 *     are then appended to the garbage list); weakrefs with
 *     a callback to U\Q are cleared, the callback runs iff the weakref is not
 *     in U\Q; finalizers of U\Q run once; what a resurrection makes reachable
 *     survives; the rest G dies (m = |G|; n excludes a quarantined weakref
 *     whose callback ran: CPython moves it off the finalizers list before
 *     measuring it); survivors move to the next
 *     generation; deaths caused by clearing G cascade by reference counting
 *     (under DEBUG_SAVEALL, in 10% of the episodes, G and all of Q go to the
 *     garbage list instead, weakrefs to G still cleared).
 *
 * Checked after every step: each object is deallocated exactly when the
 * oracle says (never twice, never while reachable); each finalizer runs at
 * most once and exactly when predicted; legacy finalizers only on refcount
 * death; weakref callbacks fire at most once, exactly when determinable
 * (the weakref and its referent dying in the same refcount cascade may go
 * either way); after collections also: collect()'s return value and the
 * collected / uncollectable split (from the GC callback), rcgc_gc_check_heap,
 * the fields of every live object, weakref referents, generation membership,
 * the freeze count, the garbage list and ROOT.
 *
 * Seeds: RCGC_TEST_SEED (printed) seeds the run; episode e uses a seed derived
 * from it. A failure prints the replay command (RCGC_TEST_SEED=.. and
 * RCGC_TEST_EPISODE=e run that episode alone; RCGC_TEST_TRACE=1 prints every
 * step). RCGC_TEST_LONG=1 runs a long soak; RCGC_TEST_EPISODES=n overrides
 * the episode count.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "testutil.h"
#include "gcmodel.h"

#define MAXOBJ 160
#define NOEDGE (-1)

typedef enum kind { K_NODE, K_FIN, K_RES, K_LEGACY, K_LEAF, K_HIDDEN, K_WEAK, K_NKINDS } kind_t;
static const char *const kind_name[] = { "Node", "Fin", "ResFin", "Legacy", "Leaf", "Hidden", "Weak" };

/* what a callback weakref's callback is expected to have done */
enum { CB_NO = 0, CB_YES = 1, CB_MAYBE = 2 };

typedef struct sobj {
    kind_t kind;
    rcgc_object_t *ptr; /* valid while !dead */
    uint32_t id;        /* registry id (model objects; 0 for weakrefs) */
    bool dead;
    int ext;            /* references held by the test (ext_refs[]) */
    int root;           /* entries in ROOT */
    int garb;           /* entries in the garbage list */
    int edge[GCM_NSLOTS]; /* slots (Node kinds: 6, Hidden: slot 0); Weak: edge[0] = ctx */
    bool finalized;     /* Fin kinds */
    bool gc_cleared;    /* clear() called by the collector (members of G) */
    int dels;           /* Legacy: expected del calls */
    int gen;            /* 0..2, -1 = unknown (resurrected by refcounting) */
    int gen_before;     /* the generation before that resurrection */
    bool frozen;
    /* weakrefs */
    int referent;
    bool has_cb;
    bool cleared;
    int cb_expect;
    bool selfdrop;      /* the callback drops one of the test's references to it */
    gcm_wcb_t *cb;
} sobj_t;

static sobj_t S[MAXOBJ];
static int nobj;
/* ext_refs: every reference the test holds, as shadow indices */
static int ext_refs[4096];
static int n_ext;
static uint64_t g_rng;
static uint64_t g_base_seed;
static long g_episode, g_step;
static bool g_trace;
static bool g_auto;
static bool g_mix_legacy, g_mix_hidden; /* kinds allowed in this episode */
static bool g_saveall;                  /* DEBUG_SAVEALL during this episode */
static size_t g_events_seen;
static long g_stat_collections, g_stat_collected, g_stat_uncollectable, g_stat_objects;
static long g_stat_cb_freed, g_stat_resurrected, g_stat_callbacks;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "test_gc_diff: episode %ld step %ld: ", g_episode, g_step);       \
            fprintf(stderr, __VA_ARGS__);                                                     \
            fprintf(stderr, "\n  check: %s\n  replay: RCGC_TEST_SEED=%llu RCGC_TEST_EPISODE=%ld " \
                    "RCGC_TEST_TRACE=1 ./test_gc_diff\n", #cond,                              \
                    (unsigned long long)g_base_seed, g_episode);                              \
            fail_msg("differential check failed (episode %ld step %ld)", g_episode, g_step);  \
        }                                                                                     \
    } while (0)

#define TRACE(...)                                                   \
    do {                                                             \
        if (g_trace) {                                               \
            fprintf(stderr, "[ep %ld step %ld] ", g_episode, g_step); \
            fprintf(stderr, __VA_ARGS__);                            \
            fputc('\n', stderr);                                     \
        }                                                            \
    } while (0)

static uint64_t rnd(void) { return rcgc_test_rand(&g_rng); }
static int rndn(int n) { return (int)(rnd() % (uint64_t)n); }
static bool chance(int percent) { return rndn(100) < percent; }

static bool is_gc(kind_t k) { return k != K_LEAF && k != K_HIDDEN; }
static bool has_slots(kind_t k) { return k <= K_LEGACY; }
static int nslots(kind_t k) { return has_slots(k) ? GCM_NSLOTS : (k == K_HIDDEN || k == K_WEAK) ? 1 : 0; }
static bool weakrefable(kind_t k) { return k <= K_LEGACY; }

/* ---- the reference-counting oracle ------------------------------------------ */

/* Reference counts of every live object: external references + ROOT +
 * garbage list + edges from live objects. */
static void all_counts(int *cnt) {
    for (int i = 0; i < nobj; i++) cnt[i] = S[i].dead ? 0 : S[i].ext + S[i].root + S[i].garb;
    for (int j = 0; j < nobj; j++) {
        if (S[j].dead) continue;
        for (int e = 0; e < nslots(S[j].kind); e++)
            if (S[j].edge[e] >= 0) cnt[S[j].edge[e]]++;
    }
}

static void kill_edges(int i) {
    for (int e = 0; e < GCM_NSLOTS; e++) S[i].edge[e] = NOEDGE;
}

/* Weakrefs to objects that died in this cascade (`died` marks them): a
 * callback weakref alive at the start is cleared; it must have fired if it
 * survived the cascade, and may have fired if it died in it too. */
static bool callback_ran(int w);

static bool weakrefs_after_deaths(const bool *died, const bool *was_alive) {
    bool released = false;
    for (int w = 0; w < nobj; w++) {
        if (S[w].kind != K_WEAK || !was_alive[w] || S[w].cleared) continue;
        int r = S[w].referent;
        if (r < 0 || !died[r]) continue;
        S[w].cleared = true;
        if (!S[w].has_cb) continue;
        S[w].cb_expect = S[w].dead ? CB_MAYBE : CB_YES;
        if (!S[w].dead) released |= callback_ran(w);
    }
    return released;
}

/* One pass of reference counting: peel objects whose count is 0. Returns
 * true if a callback released a reference (another pass is needed). */
static bool settle_once(void) {
    int cnt[MAXOBJ];
    bool died[MAXOBJ] = { false }, was_alive[MAXOBJ];
    int queue[MAXOBJ * (GCM_NSLOTS + 2)], qh = 0, qt = 0;
    all_counts(cnt);
    for (int i = 0; i < nobj; i++) {
        was_alive[i] = !S[i].dead;
        if (!S[i].dead && cnt[i] == 0) queue[qt++] = i;
    }
    while (qh < qt) {
        int x = queue[qh++];
        if (S[x].dead || cnt[x] != 0) continue;
        if (S[x].kind == K_RES && !S[x].finalized) {
            S[x].finalized = true; /* resurrects itself into ROOT */
            S[x].root++;
            cnt[x]++;
            if (!S[x].frozen && S[x].gen >= 0) {
                S[x].gen_before = S[x].gen;
                S[x].gen = -1;
            }
            continue;
        }
        if (S[x].kind == K_FIN || S[x].kind == K_RES) S[x].finalized = true;
        if (S[x].kind == K_LEGACY) S[x].dels++;
        S[x].dead = true;
        died[x] = true;
        for (int e = 0; e < nslots(S[x].kind); e++) {
            int y = S[x].edge[e];
            if (y >= 0 && --cnt[y] == 0) queue[qt++] = y;
        }
        kill_edges(x);
    }
    return weakrefs_after_deaths(died, was_alive);
}

/* Reference counting after a mutation. */
static void settle(void) {
    while (settle_once()) {
    }
}

/* ---- checks ------------------------------------------------------------------- */

static void check_counters(void) {
    for (int i = 0; i < nobj; i++) {
        sobj_t *o = &S[i];
        if (!o->dead && is_gc(o->kind))
            CHECK(rcgc_gc_is_tracked(o->ptr), "#%d %s is alive but untracked", i, kind_name[o->kind]);
        if (o->kind == K_WEAK) {
            if (o->has_cb) {
                int fired = o->cb->fired;
                CHECK(fired <= 1, "weakref #%d callback fired %d times", i, fired);
                if (o->cb_expect == CB_NO)
                    CHECK(fired == 0, "weakref #%d callback fired but must not have", i);
                if (o->cb_expect == CB_YES)
                    CHECK(fired == 1, "weakref #%d callback did not fire", i);
            }
            continue; /* its death is witnessed by its context Leaf */
        }
        gcm_rec_t *r = gcm_rec(o->id);
        CHECK(r->deallocs == (o->dead ? 1 : 0), "#%d %s: %d deallocations, expected %d", i,
              kind_name[o->kind], r->deallocs, o->dead ? 1 : 0);
        if (o->kind == K_FIN || o->kind == K_RES)
            CHECK(r->finalizes == (o->finalized ? 1 : 0), "#%d %s: finalizer ran %d times, expected %d",
                  i, kind_name[o->kind], r->finalizes, o->finalized ? 1 : 0);
        if (o->kind == K_LEGACY)
            CHECK(r->dels == o->dels, "#%d Legacy: del ran %d times, expected %d", i, r->dels,
                  o->dels);
        /* the collector clears the final garbage only, each object at most
         * once (one may die of an earlier clear before its turn) */
        if (has_slots(o->kind))
            CHECK(r->gc_clears <= (o->gc_cleared ? 1 : 0), "#%d %s: cleared by the collector %d "
                  "times, at most %d allowed", i, kind_name[o->kind], r->gc_clears,
                  o->gc_cleared ? 1 : 0);
    }
}

typedef struct genmap { rcgc_object_t *v[4 * MAXOBJ]; size_t n; } genmap_t;
static genmap_t g_gens[3];

static int gen_visit(rcgc_object_t *o, void *arg) {
    genmap_t *m = arg;
    if (m->n < 4 * MAXOBJ) m->v[m->n] = o;
    m->n++;
    return 0;
}

static int actual_gen(rcgc_object_t *p) {
    for (int g = 0; g < 3; g++)
        for (size_t k = 0; k < g_gens[g].n && k < 4 * MAXOBJ; k++)
            if (g_gens[g].v[k] == p) return g;
    return -1;
}

static void load_gens(void) {
    for (int g = 0; g < 3; g++) {
        g_gens[g].n = 0;
        CHECK(rcgc_gc_get_objects(g, gen_visit, &g_gens[g]) == 0, "get_objects(%d) failed", g);
    }
}

/* Generations of objects resurrected in place are implementation-defined:
 * take them from the collector (they must be in exactly one generation). */
static void resolve_unknown_gens(void) {
    load_gens();
    for (int i = 0; i < nobj; i++) {
        if (S[i].dead || !is_gc(S[i].kind) || S[i].frozen || S[i].gen >= 0) continue;
        S[i].gen = actual_gen(S[i].ptr);
        CHECK(S[i].gen >= 0, "#%d %s resurrected by refcounting is in no generation (tracked: %d, "
              "freeze count %zu)", i, kind_name[S[i].kind], (int)rcgc_gc_is_tracked(S[i].ptr),
              rcgc_gc_get_freeze_count());
    }
}

static int garbage_count_of(rcgc_object_t *p) {
    int n = 0;
    for (size_t k = 0; k < rcgc_gc_garbage_count(); k++) n += rcgc_gc_garbage_item(k) == p;
    return n;
}

static int root_count_of(rcgc_object_t *p) {
    int n = 0;
    for (size_t k = 0; k < gcm_root_len(); k++) n += gcm_root_at(k) == p;
    return n;
}

static void check_full(void) {
    check_counters();
    load_gens();
    int cnt[MAXOBJ];
    all_counts(cnt);
    size_t tracked = 0, frozen = 0, garb = 0, root = 0;
    for (int i = 0; i < nobj; i++) {
        sobj_t *o = &S[i];
        if (o->dead) continue;
        garb += (size_t)o->garb;
        root += (size_t)o->root;
        CHECK(garbage_count_of(o->ptr) == o->garb, "#%d %s: in the garbage list %d times, expected %d",
              i, kind_name[o->kind], garbage_count_of(o->ptr), o->garb);
        CHECK(root_count_of(o->ptr) == o->root, "#%d: in ROOT %d times, expected %d", i,
              root_count_of(o->ptr), o->root);
        if (has_slots(o->kind) || o->kind == K_HIDDEN) {
            for (int e = 0; e < nslots(o->kind); e++) {
                rcgc_object_t *want = o->edge[e] >= 0 ? S[o->edge[e]].ptr : NULL;
                CHECK(GCM(o->ptr)->slot[e] == want, "#%d %s: slot %d changed (%p, expected %p)", i,
                      kind_name[o->kind], e, (void *)GCM(o->ptr)->slot[e], (void *)want);
            }
        }
        if (o->kind == K_WEAK) {
            rcgc_object_t *want = o->cleared ? NULL : S[o->referent].ptr;
            CHECK(rcgc_weakref_peek(o->ptr) == want, "weakref #%d reads %p, expected %p (referent #%d)",
                  i, (void *)rcgc_weakref_peek(o->ptr), (void *)want, o->referent);
        }
        CHECK(rcgc_refcnt(o->ptr) == cnt[i], "#%d %s: refcount %ld, expected %d", i,
              kind_name[o->kind], (long)rcgc_refcnt(o->ptr), cnt[i]);
        if (!is_gc(o->kind)) continue;
        if (o->frozen) {
            frozen++;
            CHECK(actual_gen(o->ptr) == -1, "frozen #%d is listed in generation %d", i,
                  actual_gen(o->ptr));
        } else if (o->gen >= 0) {
            tracked++;
            CHECK(actual_gen(o->ptr) == o->gen, "#%d %s: in generation %d, expected %d", i,
                  kind_name[o->kind], actual_gen(o->ptr), o->gen);
        }
    }
    CHECK(rcgc_gc_get_freeze_count() == frozen, "freeze count %zu, expected %zu",
          rcgc_gc_get_freeze_count(), frozen);
    CHECK(rcgc_gc_garbage_count() == garb, "garbage list holds %zu, expected %zu",
          rcgc_gc_garbage_count(), garb);
    CHECK(gcm_root_len() == root, "ROOT holds %zu, expected %zu", gcm_root_len(), root);
    int ext[MAXOBJ] = { 0 };
    for (int k = 0; k < n_ext; k++) ext[ext_refs[k]]++;
    for (int i = 0; i < nobj; i++)
        CHECK(ext[i] == S[i].ext, "#%d: the test holds %d references, the shadow says %d", i, ext[i],
              S[i].ext);
    (void)tracked;
}

/* ---- the collection oracle ----------------------------------------------------- */

typedef struct prediction { intptr_t m, n; } prediction_t;

static void closure_within(bool *set, const bool *within) {
    bool changed = true;
    while (changed) {
        changed = false;
        for (int x = 0; x < nobj; x++) {
            if (!set[x]) continue;
            for (int e = 0; e < nslots(S[x].kind); e++) {
                int y = S[x].edge[e];
                if (y >= 0 && within[y] && !set[y]) { set[y] = true; changed = true; }
            }
        }
    }
}

/* Members of `set` referenced from outside it (count > internal edges). */
static void anchored_in(const bool *set, bool *out) {
    int cnt[MAXOBJ], internal[MAXOBJ] = { 0 };
    all_counts(cnt);
    for (int y = 0; y < nobj; y++) {
        if (!set[y]) continue;
        for (int e = 0; e < nslots(S[y].kind); e++)
            if (S[y].edge[e] >= 0) internal[S[y].edge[e]]++;
    }
    for (int x = 0; x < nobj; x++) out[x] = set[x] && cnt[x] > internal[x];
}

static prediction_t oracle_collect(int g) {
    /* Unknown generations were resolved before the call that collected; one
     * left means a resurrection during an earlier collection of the same
     * call: assume it stayed where it was (rcgc keeps it tracked in place). */
    for (int x = 0; x < nobj; x++)
        if (!S[x].dead && is_gc(S[x].kind) && !S[x].frozen && S[x].gen < 0) S[x].gen = S[x].gen_before;
    const int old = g < 2 ? g + 1 : 2;
    bool inS[MAXOBJ] = { false }, reach[MAXOBJ], U[MAXOBJ] = { false }, Q[MAXOBJ] = { false };
    bool U2[MAXOBJ] = { false }, surv[MAXOBJ], G[MAXOBJ] = { false };
    for (int x = 0; x < nobj; x++)
        inS[x] = !S[x].dead && is_gc(S[x].kind) && !S[x].frozen && S[x].gen <= g;
    anchored_in(inS, reach);
    closure_within(reach, inS);
    for (int x = 0; x < nobj; x++) U[x] = inS[x] && !reach[x];
    /* legacy quarantine */
    for (int x = 0; x < nobj; x++) Q[x] = U[x] && S[x].kind == K_LEGACY;
    closure_within(Q, U);
    bool moved[MAXOBJ] = { false }; /* quarantined weakrefs queued for callbacks */
    for (int x = 0; x < nobj; x++) U2[x] = U[x] && !Q[x];
    /* weakref callbacks (3.14): only weakrefs with a callback to U2 */
    bool cb_released = false;
    for (int w = 0; w < nobj; w++) {
        if (S[w].dead || S[w].kind != K_WEAK || !S[w].has_cb || S[w].cleared) continue;
        if (!U2[S[w].referent]) continue;
        S[w].cleared = true;
        if (!U2[w]) {
            S[w].cb_expect = CB_YES;
            g_stat_callbacks++;
            S[w].gen = old; /* queued, then moved to the older generation */
            S[w].frozen = false;
            /* A quarantined weakref leaves the finalizers list when it is
             * queued, and n is measured at the end (gc.c: handle_weakrefs
             * moves it; n = size of finalizers after delete_garbage). */
            moved[w] = Q[w];
            cb_released |= callback_ran(w);
        }
    }
    /* weakrefs freed by their own callbacks count as collected */
    intptr_t m_cb = 0;
    if (cb_released) {
        bool before[MAXOBJ] = { false };
        for (int x = 0; x < nobj; x++) before[x] = !S[x].dead;
        settle();
        for (int x = 0; x < nobj; x++) {
            if (!before[x] || !S[x].dead) continue;
            CHECK(S[x].kind == K_WEAK || S[x].kind == K_LEAF, "oracle: #%d died of a callback", x);
            m_cb += S[x].kind == K_WEAK;
            g_stat_cb_freed += S[x].kind == K_WEAK;
        }
    }
    /* finalizers */
    for (int x = 0; x < nobj; x++) {
        if (!U2[x] || S[x].finalized) continue;
        if (S[x].kind == K_FIN) S[x].finalized = true;
        if (S[x].kind == K_RES) { S[x].finalized = true; S[x].root++; g_stat_resurrected++; }
    }
    /* resurrection */
    anchored_in(U2, surv);
    closure_within(surv, U2);
    intptr_t m = m_cb;
    for (int x = 0; x < nobj; x++) {
        G[x] = U2[x] && !surv[x];
        m += G[x];
    }
    if (g_trace)
        for (int x = 0; x < nobj; x++)
            if (inS[x])
                TRACE("  #%d %s gen %d: %s", x, kind_name[S[x].kind], S[x].gen,
                      reach[x] ? "reachable" : Q[x] ? "quarantined" : surv[x] ? "resurrected"
                                                                    : "garbage");
    /* survivors move to the older generation */
    for (int x = 0; x < nobj; x++)
        if ((reach[x] || Q[x] || surv[x]) && inS[x]) S[x].gen = old;
    /* clear_weakrefs(G), then clear G: G dies, the rest settles */
    bool was_alive[MAXOBJ] = { false }, died[MAXOBJ] = { false };
    for (int x = 0; x < nobj; x++) was_alive[x] = !S[x].dead;
    for (int w = 0; w < nobj; w++) {
        if (S[w].dead || S[w].kind != K_WEAK || S[w].cleared) continue;
        if (G[w] || G[S[w].referent]) S[w].cleared = true; /* no callback */
    }
    for (int x = 0; x < nobj; x++) {
        if (!G[x]) continue;
        if (g_saveall) { /* kept in the garbage list instead of cleared */
            S[x].garb++;
            S[x].gen = old;
            continue;
        }
        S[x].dead = true;
        S[x].gc_cleared = true;
        died[x] = true;
        kill_edges(x);
    }
    weakrefs_after_deaths(died, was_alive); /* all already cleared: no callbacks */
    settle();
    /* Epilogue: n = what is left of the quarantine (a member only referenced
     * by cleared garbage died by refcounting meanwhile, its del ran); its
     * Legacy objects go to the garbage list. */
    intptr_t n = 0;
    for (int x = 0; x < nobj; x++) {
        if (!Q[x] || S[x].dead || moved[x]) continue;
        n++;
        if (S[x].kind == K_LEGACY || g_saveall) S[x].garb++;
    }
    prediction_t p = { m, n };
    return p;
}

/* Compare the collections reported since the last call with the oracle.
 * Returns the prediction for the last one. */
static prediction_t process_events(bool manual, int manual_gen) {
    prediction_t last = { -1, -1 };
    int seen_manual = 0;
    while (g_events_seen < gcm_event_count()) {
        const gcm_event_t *start = gcm_event_at(g_events_seen);
        const gcm_event_t *stop = gcm_event_at(g_events_seen + 1);
        CHECK(start->phase == RCGC_GC_PHASE_START && stop && stop->phase == RCGC_GC_PHASE_STOP,
              "unpaired GC callback events");
        g_events_seen += 2;
        int g = start->info.generation;
        CHECK(g >= 0 && g <= 2, "collection of generation %d", g);
        CHECK(stop->info.generation == g, "start/stop generations differ");
        if (start->info.reason == RCGC_GC_REASON_MANUAL) {
            seen_manual++;
            CHECK(manual && g == manual_gen, "unexpected manual collection of generation %d", g);
        } else {
            CHECK(g_auto, "automatic collection while automatic collection is off");
        }
        prediction_t p = oracle_collect(g);
        TRACE("collection g%d (%s): predicted m=%ld n=%ld, reported %ld/%ld", g,
              start->info.reason == RCGC_GC_REASON_MANUAL ? "manual" : "auto", (long)p.m,
              (long)p.n, (long)stop->info.collected, (long)stop->info.uncollectable);
        /* In trace mode a count mismatch is reported after the full state
         * check, which names the objects that differ. */
        if (g_trace && (stop->info.collected != p.m || stop->info.uncollectable != p.n)) {
            TRACE("COUNT MISMATCH; checking the state first");
            check_full();
        }
        CHECK(stop->info.collected == p.m, "generation %d: collected %ld, oracle %ld", g,
              (long)stop->info.collected, (long)p.m);
        CHECK(stop->info.uncollectable == p.n, "generation %d: uncollectable %ld, oracle %ld", g,
              (long)stop->info.uncollectable, (long)p.n);
        g_stat_collections++;
        g_stat_collected += p.m;
        g_stat_uncollectable += p.n;
        last = p;
    }
    CHECK(seen_manual == (manual ? 1 : 0), "%d manual collections reported", seen_manual);
    return last;
}

/* ---- operations ------------------------------------------------------------------ */

static int pick_alive(bool (*pred)(kind_t)) {
    int cand[MAXOBJ], n = 0;
    for (int i = 0; i < nobj; i++)
        if (!S[i].dead && (!pred || pred(S[i].kind))) cand[n++] = i;
    return n ? cand[rndn(n)] : -1;
}

static bool pred_slots(kind_t k) { return has_slots(k) || k == K_HIDDEN; }
static bool pred_wref(kind_t k) { return weakrefable(k); }

static int new_shadow(kind_t k, rcgc_object_t *p) {
    sobj_t *o = &S[nobj];
    memset(o, 0, sizeof *o);
    o->kind = k;
    o->ptr = p;
    o->id = k == K_WEAK ? 0 : gcm_id(p);
    o->gen = is_gc(k) ? 0 : -1;
    o->referent = NOEDGE;
    kill_edges(nobj);
    g_stat_objects++;
    return nobj++;
}


/* The oracle's side of a weakref callback that ran: a self-dropping one has
 * released one of the test's references (its hook already took the entry
 * out of ext_refs). Returns true if it did. */
static bool callback_ran(int w) {
    if (!S[w].selfdrop || S[w].ext == 0) return false;
    S[w].ext--;
    return true;
}

/* Hook of self-dropping callbacks (S15 in random graphs). */
static void wcb_selfdrop(rcgc_object_t *wr, gcm_wcb_t *cb) {
    int i = (int)(intptr_t)cb->arg;
    for (int k = 0; k < n_ext; k++)
        if (ext_refs[k] == i) {
            ext_refs[k] = ext_refs[--n_ext];
            rcgc_decref(wr);
            return;
        }
}

static void ext_push(int i) {
    CHECK(n_ext < 4096, "too many external references");
    ext_refs[n_ext++] = i;
    S[i].ext++;
}

static void op_create(void) {
    if (nobj >= MAXOBJ - 2) return;
    int r = rndn(100);
    kind_t k = r < 36 ? K_NODE : r < 48 ? K_FIN : r < 56 ? K_RES : r < 60 ? K_LEGACY
             : r < 70 ? K_LEAF : r < 78 ? K_HIDDEN : K_WEAK;
    /* A Legacy or Hidden object in the giant component of a dense random
     * graph makes most of it uncollectable: some episodes go without. */
    if ((k == K_LEGACY && !g_mix_legacy) || (k == K_HIDDEN && !g_mix_hidden)) k = K_NODE;
    rcgc_object_t *p;
    int i;
    switch (k) {
    case K_NODE: p = gcm_new(chance(50) ? &gcm_Node : &gcm_Node2, NULL); break;
    case K_FIN: p = gcm_fin(NULL, GCM_FIN_NOLOG); break;
    case K_RES: p = gcm_fin(NULL, GCM_FIN_NOLOG | GCM_FIN_RESURRECT); break;
    case K_LEGACY: p = gcm_legacy(NULL); break;
    case K_LEAF: p = gcm_leaf(NULL); break;
    case K_HIDDEN: p = gcm_hidden(NULL, NULL); break;
    case K_WEAK: {
        int ref = pick_alive(pred_wref);
        if (ref < 0) return;
        bool cb = chance(60), selfdrop = cb && chance(35);
        rcgc_object_t *ctx = gcm_leaf(NULL); /* witnesses the weakref's death */
        p = gcm_weakref(S[ref].ptr, cb ? "w" : NULL, selfdrop ? wcb_selfdrop : NULL,
                        (void *)(intptr_t)nobj /* its index, see new_shadow */, ctx);
        gcm_drop(ctx);
        i = new_shadow(K_WEAK, p);
        int c = new_shadow(K_LEAF, ctx);
        S[i].edge[0] = c;
        S[i].referent = ref;
        S[i].has_cb = cb;
        S[i].selfdrop = selfdrop;
        S[i].cb = cb ? gcm_wcb("w") : NULL;
        S[i].cb_expect = CB_NO;
        ext_push(i);
        TRACE("create #%d Weak -> #%d%s (ctx #%d)", i, ref,
              selfdrop ? " with self-dropping callback" : cb ? " with callback" : "", c);
        return;
    }
    default: return;
    }
    i = new_shadow(k, p);
    ext_push(i);
    TRACE("create #%d %s", i, kind_name[k]);
}

static void op_link(void) {
    int src = pick_alive(pred_slots);
    if (src < 0) return;
    int e = rndn(nslots(S[src].kind));
    int dst = chance(15) ? NOEDGE : pick_alive(NULL);
    if (chance(10)) dst = src; /* self-cycles */
    TRACE("link #%d.%d = #%d", src, e, dst);
    gcm_set(S[src].ptr, e, dst >= 0 ? S[dst].ptr : NULL);
    bool released = S[src].edge[e] != NOEDGE;
    S[src].edge[e] = dst;
    if (released) settle(); /* nothing can die when no reference was released */
}

/* Two-way link between two objects: the usual way cycles form. */
static void op_cycle(void) {
    int a = pick_alive(pred_slots), b = pick_alive(pred_slots);
    if (a < 0 || b < 0) return;
    int ea = rndn(nslots(S[a].kind)), eb = rndn(nslots(S[b].kind));
    TRACE("cycle #%d.%d = #%d, #%d.%d = #%d", a, ea, b, b, eb, a);
    gcm_set(S[a].ptr, ea, S[b].ptr);
    S[a].edge[ea] = b;
    settle();
    if (S[a].dead || S[b].dead) return;
    gcm_set(S[b].ptr, eb, S[a].ptr);
    S[b].edge[eb] = a;
    settle();
}

static void op_drop(void) {
    if (n_ext == 0) return;
    int k = rndn(n_ext);
    int i = ext_refs[k];
    ext_refs[k] = ext_refs[--n_ext];
    TRACE("drop #%d %s", i, kind_name[S[i].kind]);
    S[i].ext--;
    gcm_drop(S[i].ptr);
    settle();
}

static void op_take(void) {
    int i = pick_alive(NULL);
    if (i < 0) return;
    TRACE("take #%d", i);
    rcgc_incref(S[i].ptr);
    ext_push(i);
}

static void op_root_clear(void) {
    TRACE("ROOT clear");
    gcm_root_clear();
    for (int i = 0; i < nobj; i++) S[i].root = 0;
    settle();
}

static void op_garbage_clear(void) {
    TRACE("garbage clear");
    rcgc_gc_garbage_clear();
    for (int i = 0; i < nobj; i++) S[i].garb = 0;
    settle();
}

static void op_freeze(void) {
    TRACE("freeze");
    rcgc_gc_freeze();
    for (int i = 0; i < nobj; i++)
        if (!S[i].dead && is_gc(S[i].kind)) S[i].frozen = true;
}

static void op_unfreeze(void) {
    TRACE("unfreeze");
    rcgc_gc_unfreeze();
    for (int i = 0; i < nobj; i++)
        if (!S[i].dead && S[i].frozen) { S[i].frozen = false; S[i].gen = 2; }
}

static void op_collect_gen(int g) {
    TRACE("collect(%d)", g);
    resolve_unknown_gens();
    intptr_t r = gcm_collect(g);
    prediction_t p = process_events(true, g);
    CHECK(r == p.m + p.n, "collect(%d) returned %ld, oracle %ld + %ld", g, (long)r, (long)p.m,
          (long)p.n);
    check_full();
}

static void op_collect(void) { op_collect_gen(rndn(3)); }

static void op_safepoint(void) {
    TRACE("safepoint");
    resolve_unknown_gens();
    gcm_safepoint();
    process_events(false, 0);
    check_full();
}

static void op_toggle_auto(void) {
    g_auto = !g_auto;
    TRACE("automatic collection %s", g_auto ? "on" : "off");
    if (g_auto) {
        static const int th[] = { 2, 5, 12, 40 };
        rcgc_gc_set_threshold(th[rndn(4)], rndn(3), rndn(3));
        rcgc_gc_enable();
    } else {
        rcgc_gc_disable();
    }
}

/* ---- an episode ------------------------------------------------------------------ */

static void teardown_episode(void) {
    if (g_auto) op_toggle_auto();
    op_unfreeze();
    /* break every edge, drop every reference: everything must die once */
    for (int i = 0; i < nobj; i++) {
        if (S[i].dead || !(has_slots(S[i].kind) || S[i].kind == K_HIDDEN)) continue;
        for (int e = 0; e < nslots(S[i].kind); e++) {
            if (S[i].dead) break;
            if (S[i].edge[e] == NOEDGE) continue;
            gcm_set(S[i].ptr, e, NULL);
            S[i].edge[e] = NOEDGE;
            settle();
        }
    }
    while (n_ext > 0) {
        int i = ext_refs[--n_ext];
        S[i].ext--;
        gcm_drop(S[i].ptr);
        settle();
    }
    op_garbage_clear();
    while (gcm_root_len()) op_root_clear(); /* resurrections land in ROOT again */
    check_counters();
    for (int i = 0; i < nobj; i++)
        CHECK(S[i].dead, "#%d %s still alive at the end of the episode", i, kind_name[S[i].kind]);
    CHECK(gcm_double_frees() == 0, "double deallocation");
    CHECK(gcm_alive_count() == 0, "%zu model objects still alive", gcm_alive_count());
}

static void run_episode(long ep) {
    g_episode = ep;
    g_step = 0;
    g_rng = g_base_seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(ep + 1));
    if (!g_rng) g_rng = 1;
    gcm_begin();
    gcm_log_clear();
    nobj = 0;
    n_ext = 0;
    g_auto = false;
    g_events_seen = gcm_event_count();
    g_mix_legacy = chance(50);
    g_mix_hidden = chance(50);
    g_saveall = chance(10);
    rcgc_gc_set_debug(g_saveall ? RCGC_GC_DEBUG_SAVEALL : 0);
    TRACE("episode: legacy %d, hidden %d, saveall %d", g_mix_legacy, g_mix_hidden, g_saveall);
    int initial = 4 + rndn(40);
    int steps = 20 + rndn(160);
    for (int i = 0; i < initial; i++, g_step++) op_create();
    for (int i = 0; i < initial * 2; i++, g_step++) op_link();
    for (int s = 0; s < steps; s++, g_step++) {
        int r = rndn(1000);
        if (r < 200) op_create();
        else if (r < 480) op_link();
        else if (r < 560) op_cycle();
        else if (r < 800) op_drop();
        else if (r < 840) op_take();
        else if (r < 870) op_collect();
        else if (r < 930) { if (g_auto) op_safepoint(); else op_link(); }
        else if (r < 950) op_toggle_auto();
        else if (r < 965) op_root_clear();
        else if (r < 975) op_garbage_clear();
        else if (r < 980) op_freeze();
        else if (r < 990) op_unfreeze();
        else op_drop();
        /* collections run only in op_collect / op_safepoint, which consume
         * their events: any other step must not have collected */
        CHECK(g_events_seen == gcm_event_count(), "a collection ran outside a safe point");
        check_counters();
    }
    /* the final collection of the episode, after dropping the test's references */
    int keep = chance(50) ? 0 : rndn(4);
    while (n_ext > keep) op_drop(), g_step++;
    if (g_auto) op_safepoint(), g_step++;
    op_collect();
    g_step++;
    /* release the resurrected objects and collect everything */
    op_root_clear();
    g_step++;
    op_collect_gen(2);
    g_step++;
    teardown_episode();
    gcm_end();
}

static void test_gc_diff(void **state) {
    if (gcm_collector_unsupported()) skip();
    g_base_seed = rcgc_test_seed(20261124);
    g_trace = getenv("RCGC_TEST_TRACE") && atoi(getenv("RCGC_TEST_TRACE"));
    long episodes = getenv("RCGC_TEST_LONG") && atoi(getenv("RCGC_TEST_LONG")) ? 400000 : 10000;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    episodes /= 2; /* < 20 s under ASan at -O0 on 2 shared cores */
#endif
    if (getenv("RCGC_TEST_EPISODES")) episodes = atol(getenv("RCGC_TEST_EPISODES"));
    long only = getenv("RCGC_TEST_EPISODE") ? atol(getenv("RCGC_TEST_EPISODE")) : -1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (only >= 0)
        run_episode(only);
    else
        for (long ep = 0; ep < episodes; ep++) run_episode(ep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("[diff] %ld episodes, %ld objects, %ld collections (%ld collected, %ld uncollectable; "
           "%ld resurrections, %ld weakref callbacks, %ld weakrefs freed by them) in %.2f s\n",
           only >= 0 ? 1 : episodes, g_stat_objects, g_stat_collections, g_stat_collected,
           g_stat_uncollectable, g_stat_resurrected, g_stat_callbacks, g_stat_cb_freed,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gc_diff, gcm_setup, gcm_teardown),
    };
    return cmocka_run_group_tests(tests, rcgc_test_setup_runtime, rcgc_test_teardown_runtime);
}
