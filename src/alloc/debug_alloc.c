/* alloc/debug_alloc.c - the debug layer of RCGC_MALLOC=debug|malloc_debug
 * (CPython's PYTHONMALLOC=debug hooks, with serials always on and a
 * quarantine for freed blocks).
 *
 * Block layout (h = what the inner allocator returned, p = h + 32 = what the
 * caller gets; N = requested size):
 *
 *   h+0  .. h+8    N, big-endian (reads naturally in a hex dump)
 *   h+8  .. h+16   serial number, big-endian (1, 2, ... per process)
 *   h+16           domain id: 'r' RAW, 'm' MEM, 'o' OBJ
 *   h+17           heap kind + 1 of an object (0: not an object)
 *   h+18           state: 'A' allocated, 'F' freed (in quarantine)
 *   h+19 .. p      13 bytes 0xFD (leading guard)
 *   p    .. p+N    data: 0xCD when allocated (0 for calloc), 0xDD when freed
 *   p+N  .. +16    16 bytes 0xFD (trailing guard)
 *
 * free: check id/state/guards, fill h+19 .. p+N+16 with 0xDD, state 'F',
 * park in the quarantine. A block leaves the quarantine (FIFO, bounded by
 * count and bytes) after its header and 0xDD fill are verified: damage there
 * is a write after free. realloc always moves (old block -> quarantine), so
 * stale pointers to the old block read 0xDD.
 *
 * Reports never allocate: they are formatted into a static buffer and passed
 * to rcgc_fatal_object(NULL, ...), which aborts.
 */
#include "internal/alloc_debug.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLEANBYTE 0xCD
#define DEADBYTE 0xDD
#define FORBIDDENBYTE 0xFD
#define LEAD_PAD (RCGC_DEBUG_HEAD - 19)
#define ST_LIVE 'A'
#define ST_FREED 'F'

/* One per domain; written by _rcgc_debug_wrap before threads start, then
 * read-only. */
typedef struct debug_domain {
    rcgc_allocator_t inner; /* the allocator under the debug layer */
    rcgc_domain_t domain;
    char id;                /* 'r' 'm' 'o' */
} debug_domain_t;

static debug_domain_t dbg[RCGC_DOMAIN_COUNT];
static const char dom_ids[RCGC_DOMAIN_COUNT] = { 'r', 'm', 'o' };
static const char *const dom_names[RCGC_DOMAIN_COUNT] = { "RAW", "MEM", "OBJ" };
static const char *const dom_api[RCGC_DOMAIN_COUNT] = { "rcgc_raw", "rcgc_mem", "rcgc_obj" };
static const char *const op_free[RCGC_DOMAIN_COUNT] = { "rcgc_raw_free", "rcgc_mem_free", "rcgc_obj_free" };
static const char *const op_realloc[RCGC_DOMAIN_COUNT] = { "rcgc_raw_realloc", "rcgc_mem_realloc",
                                                           "rcgc_obj_realloc" };
static uint64_t serial_counter; /* atomic */
/* RCGC_MALLOC_SERIAL_BREAK=N: the allocation that gets serial N calls
 * _rcgc_debug_serial_hit (a breakpoint target) and says so on stderr.
 * Read once by _rcgc_debug_wrap, before threads start; 0 = off. */
static uint64_t break_serial;

/* ---- header access --------------------------------------------------------- */
typedef struct block_info {
    unsigned char *h;  /* header start */
    unsigned char *p;  /* user pointer */
    size_t size;
    uint64_t serial;
    char id;
    int kind;          /* heap kind, or RCGC_KIND_NONE */
    char state;
} block_info_t;

static uint64_t to_be(uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}
static void put_be(unsigned char *at, uint64_t v) {
    v = to_be(v);
    memcpy(at, &v, 8);
}
static uint64_t get_be(const unsigned char *at) {
    uint64_t v;
    memcpy(&v, at, 8);
    return to_be(v);
}

static block_info_t read_block(const void *p) {
    block_info_t b;
    b.p = (unsigned char *)p;
    b.h = b.p - RCGC_DEBUG_HEAD;
    b.size = (size_t)get_be(b.h);
    b.serial = get_be(b.h + 8);
    b.id = (char)b.h[16];
    b.kind = (int)b.h[17] - 1;
    b.state = (char)b.h[18];
    return b;
}

static int domain_of_id(char id) {
    switch (id) {
    case 'r': return RCGC_DOMAIN_RAW;
    case 'm': return RCGC_DOMAIN_MEM;
    case 'o': return RCGC_DOMAIN_OBJ;
    default: return -1;
    }
}

/* Index of the first byte in [from, from+n) that is not `byte`, or -1.
 * `byte` is 0xFD or 0xDD. Compares 256-byte chunks against a pattern with
 * memcmp (vectorised) and looks byte by byte only inside a chunk that differs. */
static const unsigned char fd_pattern[256] = { [0 ... 255] = FORBIDDENBYTE };
static const unsigned char dd_pattern[256] = { [0 ... 255] = DEADBYTE };

static long first_bad(const unsigned char *from, size_t n, unsigned char byte) {
    const unsigned char *pattern = byte == DEADBYTE ? dd_pattern : fd_pattern;
    for (size_t at = 0; at < n; at += 256) {
        size_t len = n - at < 256 ? n - at : 256;
        if (memcmp(from + at, pattern, len) == 0) continue;
        for (size_t i = at; i < at + len; i++)
            if (from[i] != byte) return (long)i;
    }
    return -1;
}
static long last_bad(const unsigned char *from, size_t n, unsigned char byte) {
    for (size_t i = n; i > 0; i--)
        if (from[i - 1] != byte) return (long)(i - 1);
    return -1;
}

/* ---- the report -------------------------------------------------------------
 * report/report_len belong to the thread that won `reporting` (atomic
 * exchange 0 -> 1); it never returns (the fatal hook aborts), so nobody else
 * ever touches them. A second reporter aborts at once. rcgc_fatal_object
 * keeps a 2 KiB buffer: rp_dump prints at most 6 lines to stay under it. */
static char report[2048];
static size_t report_len;
static int reporting;

static void rp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rp(const char *fmt, ...) {
    if (report_len >= sizeof report - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(report + report_len, sizeof report - report_len, fmt, ap);
    va_end(ap);
    if (n > 0) report_len += (size_t)n;
    if (report_len >= sizeof report) report_len = sizeof report - 1;
}

/* Hex dump of [from, to) clipped to [lo, hi), 16 bytes a line, at most 6
 * lines; bytes inside [mlo, mhi) that differ from `expect` are marked '*'. */
typedef struct dump_mark { const unsigned char *mlo, *mhi; int expect; } dump_mark_t;

static void rp_dump(const unsigned char *lo, const unsigned char *hi, const unsigned char *from,
                    const unsigned char *to, dump_mark_t m) {
    if (from < lo) from = lo;
    if (to > hi) to = hi;
    from = lo + ((size_t)(from - lo) & ~(size_t)15);
    for (int line = 0; from < to && line < 6; line++, from += 16) {
        rp("    %p:", (const void *)from);
        for (const unsigned char *q = from; q < from + 16 && q < hi; q++) {
            bool bad = m.expect >= 0 && q >= m.mlo && q < m.mhi && *q != m.expect;
            rp(" %02x%s", *q, bad ? "*" : "");
        }
        rp("\n");
    }
    if (from < to) rp("    ...\n");
}

static void rp_header(const block_info_t *b, const char *what, const char *op) {
    int d = domain_of_id(b->id);
    rp("debug allocator: %s\n", what);
    rp("  detected by: %s\n", op);
    rp("  debug memory block at address p=%p: domain %s ('%c')\n", (void *)b->p,
       d >= 0 ? dom_names[d] : "unknown", (b->id >= 32 && b->id < 127) ? b->id : '?');
    rp("    %zu bytes originally requested\n", b->size);
    rp("    serial number %llu\n", (unsigned long long)b->serial);
    char where[256];
    if (_rcgc_trace_describe(b->p, where, sizeof where)) rp("    allocated at %s\n", where);
}

static void report_fatal(void) __attribute__((noreturn));
static void report_fatal(void) {
    rcgc_fatal_object(NULL, "%s", report);
}

static void report_begin(void) {
    if (__atomic_exchange_n(&reporting, 1, __ATOMIC_ACQ_REL)) abort();
    report_len = 0;
    report[0] = '\0';
}

/* ---- checks ------------------------------------------------------------------
 * Each check either returns (block fine) or ends in a fatal report. */
static void fail_pad(const block_info_t *b, const char *what, const char *op, const unsigned char *pad,
                     size_t n, long bad) {
    report_begin();
    rp_header(b, what, op);
    rp("    the %zu guard bytes at %p are not all 0xFD: first bad byte at +%ld = 0x%02x\n", n,
       (const void *)pad, bad, pad[bad]);
    rp("  hex dump of the damaged bytes (* = not 0xFD):\n");
    long last = last_bad(pad, n, FORBIDDENBYTE);
    rp_dump(b->h, b->p + b->size + RCGC_DEBUG_TAIL, pad + bad - 16, pad + last + 17,
            (dump_mark_t){ pad, pad + n, FORBIDDENBYTE });
    report_fatal();
}

static void fail_state(const block_info_t *b, const char *what, const char *op, const char *hint) {
    report_begin();
    rp_header(b, what, op);
    if (hint) rp("    %s\n", hint);
    rp("  hex dump of the header:\n");
    rp_dump(b->h, b->p + 16, b->h, b->p + 16, (dump_mark_t){ NULL, NULL, -1 });
    report_fatal();
}

/* Full check of a block the caller claims is live. expect_d < 0: any domain. */
static block_info_t check_live(const void *p, int expect_d, const char *op) {
    block_info_t b = read_block(p);
    int d = domain_of_id(b.id);
    if (b.state == ST_FREED && d >= 0)
        fail_state(&b, "double free or use of a freed block", op,
                   "the block was already freed (its data is 0xDD)");
    if (d < 0 || b.state != ST_LIVE)
        fail_state(&b, "bad header: not a debug block, or header overwritten (buffer underflow?)",
                   op, "id and state bytes are at p-16 and p-14");
    if (expect_d >= 0 && d != expect_d) {
        char msg[160];
        snprintf(msg, sizeof msg, "wrong domain: allocated with %s_malloc (%s), freed through %s (%s)",
                 dom_api[d], dom_names[d], dom_api[expect_d], dom_names[expect_d]);
        fail_state(&b, msg, op, NULL);
    }
    long bad = first_bad(b.h + 19, LEAD_PAD, FORBIDDENBYTE);
    if (bad >= 0) fail_pad(&b, "buffer underflow (leading guard damaged)", op, b.h + 19, LEAD_PAD, bad);
    bad = first_bad(b.p + b.size, RCGC_DEBUG_TAIL, FORBIDDENBYTE);
    if (bad >= 0)
        fail_pad(&b, "buffer overflow (trailing guard damaged)", op, b.p + b.size, RCGC_DEBUG_TAIL, bad);
    return b;
}

/* ---- the quarantine ----------------------------------------------------------
 * A FIFO ring of freed blocks with what their headers must still say.
 * Invariants: count <= QCAP; bytes = sum of (size + overhead) of the entries;
 * every entry's block is filled with 0xDD from h+19 to p+size+16 and has state
 * 'F'. Protected by qlock. */
#define QCAP 256
#define QBYTES ((size_t)8 << 20)

typedef struct qentry {
    unsigned char *p;
    size_t size;
    uint64_t serial;
    unsigned char id, kind;
} qentry_t;

static struct {
    pthread_mutex_t lock;
    qentry_t ring[QCAP];
    size_t head, count, bytes;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t block_bytes(size_t size) { return size + RCGC_DEBUG_HEAD + RCGC_DEBUG_TAIL; }

static void verify_freed(const qentry_t *e, const char *op) {
    block_info_t b = read_block(e->p);
    size_t n = (size_t)(e->p - b.h) - 19 + e->size + RCGC_DEBUG_TAIL;
    long bad = first_bad(b.h + 19, n, DEADBYTE);
    bool header_ok = b.size == e->size && b.serial == e->serial && (unsigned char)b.id == e->id
                     && b.h[17] == e->kind && b.state == ST_FREED;
    if (bad < 0 && header_ok) return;
    report_begin();
    b.size = e->size;
    b.serial = e->serial;
    b.id = (char)e->id;
    rp_header(&b, "write after free (freed block modified)", op);
    if (!header_ok) rp("    the header was overwritten\n");
    if (bad >= 0) {
        long last = last_bad(b.h + 19, n, DEADBYTE);
        rp("    freed bytes at p%+ld are not 0xDD (first bad byte 0x%02x)\n",
           (long)(19 - RCGC_DEBUG_HEAD) + bad, b.h[19 + bad]);
        rp("  hex dump of the damaged bytes (* = not 0xDD):\n");
        rp_dump(b.h, b.p + e->size + RCGC_DEBUG_TAIL, b.h + 19 + bad - 16, b.h + 19 + last + 17,
                (dump_mark_t){ b.h + 19, b.h + 19 + n, DEADBYTE });
    } else {
        rp_dump(b.h, b.p + 16, b.h, b.p + 16, (dump_mark_t){ NULL, NULL, -1 });
    }
    report_fatal();
}

/* Give a verified block back to its domain's inner allocator. */
static void release(const qentry_t *e) {
    debug_domain_t *dd = &dbg[domain_of_id((char)e->id)];
    _rcgc_alloc_set_kind(e->kind ? (int)e->kind - 1 : RCGC_KIND_NONE);
    dd->inner.free(dd->inner.ctx, e->p - RCGC_DEBUG_HEAD);
    _rcgc_alloc_set_kind(RCGC_KIND_NONE);
}

/* Park e; evicted blocks (at most a few) are verified and released outside
 * the lock. */
static void quarantine_push(const qentry_t *e) {
    qentry_t out[8];
    size_t nout = 0;
    pthread_mutex_lock(&q.lock);
    q.ring[(q.head + q.count) % QCAP] = *e;
    q.count++;
    q.bytes += block_bytes(e->size);
    while (nout < 8 && q.count > 1 && (q.count > QCAP - 1 || q.bytes > QBYTES)) {
        out[nout++] = q.ring[q.head];
        q.bytes -= block_bytes(q.ring[q.head].size);
        q.head = (q.head + 1) % QCAP;
        q.count--;
    }
    pthread_mutex_unlock(&q.lock);
    for (size_t i = 0; i < nout; i++) {
        verify_freed(&out[i], "quarantine eviction (block reused)");
        release(&out[i]);
    }
}

void _rcgc_debug_fork_lock(void) { pthread_mutex_lock(&q.lock); }
void _rcgc_debug_fork_unlock(void) { pthread_mutex_unlock(&q.lock); }

size_t _rcgc_debug_check_quarantine(void) {
    pthread_mutex_lock(&q.lock);
    size_t n = q.count;
    for (size_t i = 0; i < n; i++) verify_freed(&q.ring[(q.head + i) % QCAP], "heap check");
    pthread_mutex_unlock(&q.lock);
    return n;
}

void _rcgc_debug_flush(void) {
    for (;;) {
        pthread_mutex_lock(&q.lock);
        if (q.count == 0) {
            pthread_mutex_unlock(&q.lock);
            return;
        }
        qentry_t e = q.ring[q.head];
        q.head = (q.head + 1) % QCAP;
        q.count--;
        q.bytes -= block_bytes(e.size);
        pthread_mutex_unlock(&q.lock);
        verify_freed(&e, "quarantine flush at shutdown");
        release(&e);
    }
}

/* ---- the allocator functions ----------------------------------------------- */
RCGC_NOINLINE void _rcgc_debug_serial_hit(const void *p, uint64_t serial) {
    char line[160];
    int n = snprintf(line, sizeof line, "rcgc debug allocator: serial number %llu allocated at p=%p "
                     "(RCGC_MALLOC_SERIAL_BREAK; breakpoint: _rcgc_debug_serial_hit)\n",
                     (unsigned long long)serial, p);
    if (n > 0) fputs(line, stderr);
    __asm__ volatile("" ::: "memory"); /* keep the call and its arguments */
}

static void *debug_alloc(void *ctx, size_t n, bool zero) {
    debug_domain_t *dd = ctx;
    size_t total;
    if (__builtin_add_overflow(n, (size_t)(RCGC_DEBUG_HEAD + RCGC_DEBUG_TAIL), &total)) return NULL;
    int kind = dd->domain == RCGC_DOMAIN_OBJ ? _rcgc_alloc_peek_kind() : RCGC_KIND_NONE;
    unsigned char *h = dd->inner.malloc(dd->inner.ctx, total);
    if (!h) return NULL;
    unsigned char *p = h + RCGC_DEBUG_HEAD;
    put_be(h, n);
    uint64_t serial = __atomic_add_fetch(&serial_counter, 1, __ATOMIC_RELAXED);
    put_be(h + 8, serial);
    h[16] = (unsigned char)dd->id;
    h[17] = (unsigned char)(kind + 1);
    h[18] = ST_LIVE;
    memset(h + 19, FORBIDDENBYTE, LEAD_PAD);
    memset(p, zero ? 0 : CLEANBYTE, n);
    memset(p + n, FORBIDDENBYTE, RCGC_DEBUG_TAIL);
    if (RCGC_UNLIKELY(serial == break_serial)) _rcgc_debug_serial_hit(p, serial);
    return p;
}

static void *debug_malloc(void *ctx, size_t n) { return debug_alloc(ctx, n, false); }

static void *debug_calloc(void *ctx, size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) return NULL;
    return debug_alloc(ctx, n, true);
}

static void debug_release_block(debug_domain_t *dd, block_info_t *b) {
    memset(b->h + 19, DEADBYTE, (size_t)(b->p - b->h) - 19 + b->size + RCGC_DEBUG_TAIL);
    b->h[18] = ST_FREED;
    qentry_t e = { b->p, b->size, b->serial, (unsigned char)b->id, b->h[17] };
#ifdef RCGC_FREE_THREADED
    /* The free-threaded collector walks the GC heap and must not see a
     * quarantined (0xDD) block as an object: give those back at once. */
    if (b->kind == RCGC_HEAP_GC) {
        release(&e);
        return;
    }
#endif
    (void)dd;
    quarantine_push(&e);
}

static void debug_free(void *ctx, void *p) {
    debug_domain_t *dd = ctx;
    if (!p) return;
    block_info_t b = check_live(p, (int)dd->domain, op_free[dd->domain]);
    debug_release_block(dd, &b);
}

static void *debug_realloc(void *ctx, void *p, size_t n) {
    debug_domain_t *dd = ctx;
    if (!p) return debug_alloc(ctx, n, false);
    block_info_t b = check_live(p, (int)dd->domain, op_realloc[dd->domain]);
    _rcgc_alloc_set_kind(b.kind);
    unsigned char *np = debug_alloc(ctx, n, false);
    _rcgc_alloc_set_kind(RCGC_KIND_NONE);
    if (!np) return NULL;
    memcpy(np, p, n < b.size ? n : b.size);
    debug_release_block(dd, &b);
    return np;
}

void _rcgc_debug_wrap(rcgc_domain_t d, const rcgc_allocator_t *inner, rcgc_allocator_t *out) {
    const char *brk = getenv("RCGC_MALLOC_SERIAL_BREAK");
    if (brk && *brk) break_serial = strtoull(brk, NULL, 10);
    dbg[d].inner = *inner;
    dbg[d].domain = d;
    dbg[d].id = dom_ids[d];
    *out = (rcgc_allocator_t){ &dbg[d], debug_malloc, debug_calloc, debug_realloc, debug_free };
}

/* Live blocks of the pool heaps (debug mode over the pool): every pool block
 * of these heaps is a debug block, because the mode is installed before the
 * first allocation and nothing outside alloc/ calls the pool directly. */
static int visit_live(void *block, size_t block_size, void *arg) {
    (void)block_size;
    unsigned char *h = block;
    if (h[18] == ST_FREED) return 0; /* quarantined: verified with the quarantine */
    check_live(h + RCGC_DEBUG_HEAD, -1, "heap check (live block)");
    (*(size_t *)arg)++;
    return 0;
}

size_t _rcgc_debug_check_pool_heaps(void) {
    size_t n = 0;
    for (int k = RCGC_HEAP_MEM; k <= RCGC_HEAP_GC; k++) _rcgc_heap_visit((rcgc_heap_kind_t)k, visit_live, &n);
    return n;
}

void _rcgc_debug_check_block(const void *p) {
    block_info_t b = read_block(p);
    if (b.state == ST_FREED && domain_of_id(b.id) >= 0) {
        qentry_t e = { b.p, b.size, b.serial, (unsigned char)b.id, b.h[17] };
        verify_freed(&e, "rcgc_alloc_check_block");
        fail_state(&b, "use of a freed block", "rcgc_alloc_check_block",
                   "the block was freed (its data is 0xDD)");
    }
    check_live(p, -1, "rcgc_alloc_check_block");
}
