/* alloc/trace.c - allocation tracing (tracemalloc analogue), see rcgc/trace.h.
 *
 * Two tables, both open addressing with linear probing, both from libc:
 *   sites   interned allocation sites (file:line or a backtrace) with the
 *           live size and count of their blocks; never shrinks while tracing.
 *   blocks  address -> (size, domain, site) for every traced live block;
 *           deletion by backward shift, so there are no tombstones.
 * Invariants (under tr.lock): sum over sites of size == tr.current; sum of
 * count == tr.nblocks; every block's site is in the site table; load factor
 * of both tables <= 1/2.
 *
 * domain.c calls _rcgc_trace_on_alloc / _on_free only while the TRACE
 * intercept bit is set, so nothing here runs when tracing is off.
 * Reentrancy: tl_busy keeps the tracer from tracing itself should anything
 * it calls allocate through the domains (it uses libc only, so this is a
 * guard, not a path).
 */
#define _GNU_SOURCE
#include "internal/alloc_debug.h"
#include "rcgc/trace.h"
#include <execinfo.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct site {
    uint64_t hash;
    size_t size, count;          /* live blocks from this site */
    rcgc_trace_site_t s;
} site_t;

typedef struct bentry {
    uintptr_t addr;              /* 0: empty slot */
    size_t size;
    site_t *site;
    unsigned char domain;
} bentry_t;

/* All fields protected by lock, except `on` (atomic, also mirrored in the
 * domain intercept bit) and nframes (read racily as a hint). */
static struct {
    pthread_mutex_t lock;
    bool on;
    unsigned nframes;
    site_t **sites;              /* capacity nsite_cap (power of 2) */
    size_t nsites, nsite_cap;
    bentry_t *blocks;            /* capacity nblock_cap (power of 2) */
    size_t nblocks, nblock_cap;
    size_t current, peak;
} tr = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Per-thread, touched only by their own thread: the pending site of the next
 * allocation (RCGC_TRACE_SITE; NULL = none) and the reentrancy flag. */
static RCGC_TLS const char *tl_file;
static RCGC_TLS int tl_line;
static RCGC_TLS bool tl_busy;
/* The site of the block this thread untraced last: the debug layer checks a
 * block after its free was traced and still wants to name its site. */
static RCGC_TLS struct { uintptr_t addr; const char *file; int line; void *frame0; } tl_freed;

static const char unknown_file[] = "<unknown>";
static const char backtrace_file[] = "<backtrace>";

/* ---- hashing and keys ------------------------------------------------------- */
static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h * 0xBF58476D1CE4E5B9ULL;
}

static uint64_t site_hash(const rcgc_trace_site_t *s) {
    uint64_t h = mix(0, (uint64_t)s->line);
    for (const char *c = s->file; *c; c++) h = mix(h, (unsigned char)*c);
    for (unsigned i = 0; i < s->nframes; i++) h = mix(h, (uintptr_t)s->frames[i]);
    return h ? h : 1;
}

static bool site_equal(const rcgc_trace_site_t *a, const rcgc_trace_site_t *b) {
    return a->line == b->line && a->nframes == b->nframes
           && (a->file == b->file || strcmp(a->file, b->file) == 0)
           && memcmp(a->frames, b->frames, a->nframes * sizeof(void *)) == 0;
}

static size_t addr_slot(uintptr_t a, size_t cap) {
    return (size_t)(((uint64_t)(a >> 4) * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1);
}

/* ---- the site table ------------------------------------------------------------ */
static bool sites_grow_locked(void) {
    size_t cap = tr.nsite_cap ? tr.nsite_cap * 2 : 256;
    site_t **t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < tr.nsite_cap; i++) {
        site_t *s = tr.sites[i];
        if (!s) continue;
        size_t j = (size_t)s->hash & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = s;
    }
    free(tr.sites);
    tr.sites = t;
    tr.nsite_cap = cap;
    return true;
}

static site_t *site_intern_locked(const rcgc_trace_site_t *key) {
    if ((tr.nsites + 1) * 2 > tr.nsite_cap && !sites_grow_locked()) return NULL;
    uint64_t h = site_hash(key);
    size_t j = (size_t)h & (tr.nsite_cap - 1);
    for (site_t *s; (s = tr.sites[j]) != NULL; j = (j + 1) & (tr.nsite_cap - 1))
        if (s->hash == h && site_equal(&s->s, key)) return s;
    site_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->hash = h;
    s->s = *key;
    tr.sites[j] = s;
    tr.nsites++;
    return s;
}

/* ---- the block table ------------------------------------------------------------ */
static bool blocks_grow_locked(void) {
    size_t cap = tr.nblock_cap ? tr.nblock_cap * 2 : 1024;
    bentry_t *t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < tr.nblock_cap; i++) {
        if (!tr.blocks[i].addr) continue;
        size_t j = addr_slot(tr.blocks[i].addr, cap);
        while (t[j].addr) j = (j + 1) & (cap - 1);
        t[j] = tr.blocks[i];
    }
    free(tr.blocks);
    tr.blocks = t;
    tr.nblock_cap = cap;
    return true;
}

static bentry_t *block_find_locked(uintptr_t a) {
    if (!tr.nblock_cap) return NULL;
    size_t mask = tr.nblock_cap - 1;
    for (size_t j = addr_slot(a, tr.nblock_cap); tr.blocks[j].addr; j = (j + 1) & mask)
        if (tr.blocks[j].addr == a) return &tr.blocks[j];
    return NULL;
}

static void account_remove_locked(bentry_t *e) {
    e->site->size -= e->size;
    e->site->count--;
    tr.current -= e->size;
    tr.nblocks--;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void block_remove_locked(bentry_t *e) {
    size_t mask = tr.nblock_cap - 1, i = (size_t)(e - tr.blocks), j = i;
    account_remove_locked(e);
    for (;;) {
        j = (j + 1) & mask;
        if (!tr.blocks[j].addr) break;
        size_t home = addr_slot(tr.blocks[j].addr, tr.nblock_cap);
        /* move j into hole i unless j's home lies cyclically in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            tr.blocks[i] = tr.blocks[j];
            i = j;
        }
    }
    tr.blocks[i].addr = 0;
}

static void block_insert_locked(uintptr_t a, size_t size, site_t *site, rcgc_domain_t d) {
    bentry_t *e = block_find_locked(a);
    if (e) {
        account_remove_locked(e); /* address reused without a traced free */
    } else {
        if ((tr.nblocks + 1) * 2 > tr.nblock_cap && !blocks_grow_locked()) return;
        size_t mask = tr.nblock_cap - 1, j = addr_slot(a, tr.nblock_cap);
        while (tr.blocks[j].addr) j = (j + 1) & mask;
        e = &tr.blocks[j];
        e->addr = a;
    }
    e->size = size;
    e->site = site;
    e->domain = (unsigned char)d;
    site->size += size;
    site->count++;
    tr.current += size;
    tr.nblocks++;
    if (tr.current > tr.peak) tr.peak = tr.current;
}

/* ---- hooks from domain.c --------------------------------------------------------- */
/* Inlined so that backtrace's frame 0 is _rcgc_trace_on_alloc. */
static inline __attribute__((always_inline)) void take_site(rcgc_trace_site_t *key) {
    key->nframes = 0;
    if (tl_file) {
        key->file = tl_file;
        key->line = tl_line;
        tl_file = NULL;
        return;
    }
    unsigned n = __atomic_load_n(&tr.nframes, __ATOMIC_RELAXED);
    key->file = n ? backtrace_file : unknown_file;
    key->line = 0;
    if (!n) return;
    /* skip this function's caller chain inside the tracer: on_alloc and the
     * domain slow path, so frames[0] is the rcgc entry point */
    void *buf[RCGC_TRACE_MAX_FRAMES + 2];
    int got = backtrace(buf, (int)n + 2);
    if (got > 2) {
        key->nframes = (unsigned)got - 2;
        memcpy(key->frames, buf + 2, key->nframes * sizeof(void *));
    }
}

RCGC_NOINLINE void _rcgc_trace_on_alloc(rcgc_domain_t d, void *p, size_t size) {
    if (tl_busy) return;
    tl_busy = true;
    rcgc_trace_site_t key;
    take_site(&key);
    pthread_mutex_lock(&tr.lock);
    if (tr.on) {
        site_t *s = site_intern_locked(&key);
        if (s) block_insert_locked((uintptr_t)p, size, s, d);
    }
    pthread_mutex_unlock(&tr.lock);
    tl_busy = false;
}

void _rcgc_trace_on_free(rcgc_domain_t d, void *p) {
    (void)d;
    if (tl_busy) return;
    pthread_mutex_lock(&tr.lock);
    bentry_t *e = tr.on ? block_find_locked((uintptr_t)p) : NULL;
    if (e) {
        const rcgc_trace_site_t *s = &e->site->s;
        tl_freed.addr = (uintptr_t)p;
        tl_freed.file = s->file;
        tl_freed.line = s->line;
        tl_freed.frame0 = s->nframes ? s->frames[0] : NULL;
        block_remove_locked(e);
    }
    pthread_mutex_unlock(&tr.lock);
}

static void format_site(const rcgc_trace_site_t *s, char *buf, size_t size) {
    if (s->nframes) snprintf(buf, size, "%s (first frame %p)", s->file, s->frames[0]);
    else snprintf(buf, size, "%s:%d", s->file, s->line);
}

int _rcgc_trace_describe(const void *p, char *buf, size_t size) {
    if (!__atomic_load_n(&tr.on, __ATOMIC_RELAXED)) return 0;
    if (tl_freed.addr == (uintptr_t)p) {
        if (tl_freed.frame0) snprintf(buf, size, "%s (first frame %p)", tl_freed.file, tl_freed.frame0);
        else snprintf(buf, size, "%s:%d", tl_freed.file, tl_freed.line);
        return 1;
    }
    if (pthread_mutex_trylock(&tr.lock) != 0) return 0;
    bentry_t *e = tr.on ? block_find_locked((uintptr_t)p) : NULL;
    if (e) format_site(&e->site->s, buf, size);
    pthread_mutex_unlock(&tr.lock);
    return e != NULL;
}

void _rcgc_trace_fork_lock(void) { pthread_mutex_lock(&tr.lock); }
void _rcgc_trace_fork_unlock(void) { pthread_mutex_unlock(&tr.lock); }

/* ---- control ------------------------------------------------------------------------ */
static void tables_free_locked(void) {
    for (size_t i = 0; i < tr.nsite_cap; i++) free(tr.sites[i]);
    free(tr.sites);
    free(tr.blocks);
    tr.sites = NULL;
    tr.blocks = NULL;
    tr.nsites = tr.nsite_cap = tr.nblocks = tr.nblock_cap = 0;
    tr.current = tr.peak = 0;
}

int rcgc_trace_start(unsigned nframes) {
    if (nframes > RCGC_TRACE_MAX_FRAMES)
        return _rcgc_fail_int(RCGC_EINVAL, "too many trace frames");
    if (nframes) {
        void *warm[1];
        backtrace(warm, 1); /* loads the unwinder now, not inside an allocation */
    }
    pthread_mutex_lock(&tr.lock);
    __atomic_store_n(&tr.nframes, nframes, __ATOMIC_RELAXED);
    bool ok = tr.on || ((tr.nsite_cap || sites_grow_locked()) && (tr.nblock_cap || blocks_grow_locked()));
    if (ok) __atomic_store_n(&tr.on, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&tr.lock);
    if (!ok) return _rcgc_fail_int(RCGC_ENOMEM, "cannot allocate the trace tables");
    _rcgc_alloc_set_intercept(RCGC_INTERCEPT_TRACE, true);
    return 0;
}

void rcgc_trace_stop(void) {
    _rcgc_alloc_set_intercept(RCGC_INTERCEPT_TRACE, false);
    pthread_mutex_lock(&tr.lock);
    __atomic_store_n(&tr.on, false, __ATOMIC_RELEASE);
    tables_free_locked();
    pthread_mutex_unlock(&tr.lock);
    tl_file = NULL;
}

bool rcgc_trace_is_tracing(void) { return __atomic_load_n(&tr.on, __ATOMIC_ACQUIRE); }

void rcgc_trace_clear(void) {
    pthread_mutex_lock(&tr.lock);
    memset(tr.blocks, 0, tr.nblock_cap * sizeof *tr.blocks);
    for (size_t i = 0; i < tr.nsite_cap; i++)
        if (tr.sites[i]) tr.sites[i]->size = tr.sites[i]->count = 0;
    tr.nblocks = tr.current = tr.peak = 0;
    pthread_mutex_unlock(&tr.lock);
}

void rcgc_trace_get_traced_memory(size_t *current, size_t *peak) {
    pthread_mutex_lock(&tr.lock);
    if (current) *current = tr.current;
    if (peak) *peak = tr.peak;
    pthread_mutex_unlock(&tr.lock);
}

void rcgc_trace_reset_peak(void) {
    pthread_mutex_lock(&tr.lock);
    tr.peak = tr.current;
    pthread_mutex_unlock(&tr.lock);
}

size_t rcgc_trace_get_overhead(void) {
    pthread_mutex_lock(&tr.lock);
    size_t n = tr.nsite_cap * sizeof(site_t *) + tr.nsites * sizeof(site_t)
               + tr.nblock_cap * sizeof(bentry_t);
    pthread_mutex_unlock(&tr.lock);
    return n;
}

void rcgc_trace_set_site(const char *file, int line) {
    if (!__atomic_load_n(&tr.on, __ATOMIC_RELAXED)) return;
    tl_file = file ? file : unknown_file;
    tl_line = line;
}

#define MALLOC_AT(prefix)                                                      \
    void *prefix##_malloc_at(size_t size, const char *file, int line) {        \
        rcgc_trace_set_site(file, line);                                       \
        void *p = prefix##_malloc(size);                                       \
        tl_file = NULL; /* not consumed if the allocation failed early */      \
        return p;                                                              \
    }
MALLOC_AT(rcgc_raw)
MALLOC_AT(rcgc_mem)
MALLOC_AT(rcgc_obj)

int rcgc_trace_get_block(const void *ptr, rcgc_domain_t *domain, size_t *size, rcgc_trace_site_t *out) {
    pthread_mutex_lock(&tr.lock);
    bentry_t *e = block_find_locked((uintptr_t)ptr);
    if (e) {
        if (domain) *domain = (rcgc_domain_t)e->domain;
        if (size) *size = e->size;
        if (out) *out = e->site->s;
    }
    pthread_mutex_unlock(&tr.lock);
    return e ? 0 : -1;
}

/* ---- snapshots ------------------------------------------------------------------------ */
typedef struct snap_entry {
    uint64_t hash;
    size_t size, count;
    rcgc_trace_site_t s;
} snap_entry_t;

struct rcgc_trace_snapshot {
    size_t n;                    /* sites with live blocks */
    size_t total, total_count;
    snap_entry_t *e;             /* sorted by hash (for compare) */
};

static int cmp_hash(const void *a, const void *b) {
    uint64_t x = ((const snap_entry_t *)a)->hash, y = ((const snap_entry_t *)b)->hash;
    return x < y ? -1 : x > y;
}

rcgc_trace_snapshot_t *rcgc_trace_snapshot_take(void) {
    if (!rcgc_trace_is_tracing()) return _rcgc_fail_null(RCGC_ESTATE, "not tracing");
    pthread_mutex_lock(&tr.lock);
    rcgc_trace_snapshot_t *snap = calloc(1, sizeof *snap);
    snap_entry_t *e = snap ? calloc(tr.nsites ? tr.nsites : 1, sizeof *e) : NULL;
    if (!e) {
        pthread_mutex_unlock(&tr.lock);
        free(snap);
        return _rcgc_fail_null(RCGC_ENOMEM, "cannot allocate a trace snapshot");
    }
    for (size_t i = 0; i < tr.nsite_cap; i++) {
        site_t *s = tr.sites[i];
        if (!s || !s->count) continue;
        e[snap->n++] = (snap_entry_t){ s->hash, s->size, s->count, s->s };
        snap->total += s->size;
        snap->total_count += s->count;
    }
    pthread_mutex_unlock(&tr.lock);
    snap->e = e;
    qsort(e, snap->n, sizeof *e, cmp_hash);
    return snap;
}

void rcgc_trace_snapshot_free(rcgc_trace_snapshot_t *snap) {
    if (!snap) return;
    free(snap->e);
    free(snap);
}

size_t rcgc_trace_snapshot_total(const rcgc_trace_snapshot_t *snap, size_t *count) {
    if (count) *count = snap ? snap->total_count : 0;
    return snap ? snap->total : 0;
}

static unsigned long long absll(long long v) { return v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v; }

static int cmp_stat(const void *a, const void *b) {
    const rcgc_trace_stat_t *x = a, *y = b;
    unsigned long long dx = absll(x->size_diff), dy = absll(y->size_diff);
    if (dx != dy) return dx > dy ? -1 : 1;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return (x->count > y->count) ? -1 : (x->count < y->count);
}

static const snap_entry_t *snap_find(const rcgc_trace_snapshot_t *snap, const snap_entry_t *key) {
    size_t lo = 0, hi = snap ? snap->n : 0;
    while (lo < hi) { /* first entry with hash >= key->hash */
        size_t mid = lo + (hi - lo) / 2;
        if (snap->e[mid].hash < key->hash) lo = mid + 1;
        else hi = mid;
    }
    for (; snap && lo < snap->n && snap->e[lo].hash == key->hash; lo++)
        if (site_equal(&snap->e[lo].s, &key->s)) return &snap->e[lo];
    return NULL;
}

static rcgc_trace_stat_t stat_of(const snap_entry_t *n, const snap_entry_t *o) {
    const snap_entry_t *any = n ? n : o;
    size_t size = n ? n->size : 0, count = n ? n->count : 0;
    return (rcgc_trace_stat_t){ &any->s, size, count,
                                (long long)size - (long long)(o ? o->size : 0),
                                (long long)count - (long long)(o ? o->count : 0) };
}

/* All per-site stats of newer vs older (older may be NULL), sorted; *n_out
 * entries in a libc array the caller frees (NULL + n 0 on ENOMEM). */
static rcgc_trace_stat_t *compare_all(const rcgc_trace_snapshot_t *nw, const rcgc_trace_snapshot_t *old,
                                      size_t *n_out) {
    size_t cap = nw->n + (old ? old->n : 0), n = 0;
    rcgc_trace_stat_t *all = malloc((cap ? cap : 1) * sizeof *all);
    *n_out = 0;
    if (!all) return NULL;
    for (size_t i = 0; i < nw->n; i++) all[n++] = stat_of(&nw->e[i], snap_find(old, &nw->e[i]));
    for (size_t i = 0; old && i < old->n; i++)
        if (!snap_find(nw, &old->e[i])) all[n++] = stat_of(NULL, &old->e[i]);
    qsort(all, n, sizeof *all, cmp_stat);
    *n_out = n;
    return all;
}

size_t rcgc_trace_snapshot_compare(const rcgc_trace_snapshot_t *newer, const rcgc_trace_snapshot_t *older,
                                   rcgc_trace_stat_t *out, size_t max) {
    if (!newer) return 0;
    size_t n;
    rcgc_trace_stat_t *all = compare_all(newer, older, &n);
    if (!all) {
        _rcgc_fail_null(RCGC_ENOMEM, "cannot allocate the comparison");
        return 0;
    }
    memcpy(out, all, (n < max ? n : max) * sizeof *all);
    free(all);
    return n;
}

size_t rcgc_trace_snapshot_stats(const rcgc_trace_snapshot_t *snap, rcgc_trace_stat_t *out, size_t max) {
    return rcgc_trace_snapshot_compare(snap, NULL, out, max);
}

static void print_frames(const rcgc_trace_site_t *s, FILE *out) {
    char **names = backtrace_symbols(s->frames, (int)s->nframes);
    for (unsigned i = 0; i < s->nframes; i++)
        fprintf(out, "    %s\n", names ? names[i] : "?");
    free(names);
}

void rcgc_trace_print_diff(const rcgc_trace_snapshot_t *newer, const rcgc_trace_snapshot_t *older,
                           size_t limit, FILE *out) {
    if (!out) out = stderr;
    if (!newer) return;
    size_t n;
    rcgc_trace_stat_t *all = compare_all(newer, older, &n);
    if (!all) return;
    fprintf(out, "rcgc trace: top %zu %s (%zu sites)\n", limit < n ? limit : n,
            older ? "growth" : "sites", n);
    for (size_t i = 0; i < n && i < limit; i++) {
        const rcgc_trace_stat_t *st = &all[i];
        char where[256];
        format_site(st->site, where, sizeof where);
        fprintf(out, "#%zu: %s: size=%zu B", i + 1, where, st->size);
        if (older) fprintf(out, " (%+lld B)", st->size_diff);
        fprintf(out, ", count=%zu", st->count);
        if (older) fprintf(out, " (%+lld)", st->count_diff);
        fprintf(out, ", average=%zu B\n", st->count ? st->size / st->count : 0);
        if (st->site->nframes) print_frames(st->site, out);
    }
    free(all);
}
