/* rcgc/trace.h - allocation tracing (CPython's tracemalloc).
 *
 * Off by default, and then free: the allocation entry points test one flag.
 * rcgc_trace_start() records, for every block allocated from then on in any
 * domain (objects included), its size and where it came from:
 *   - a site given by the caller: RCGC_TRACE_SITE() before the allocating
 *     call (it names the next allocation of this thread), or the *_at
 *     variants below; file must be a string with static storage (__FILE__);
 *   - else, with nframes > 0, a backtrace of up to nframes return addresses;
 *   - else the site "<unknown>".
 * Blocks allocated before start are invisible, as in tracemalloc.
 *
 * Snapshots hold per-site totals (size and count of live blocks); comparing
 * two gives the growth per site, the leak finder:
 *     rcgc_trace_start(0);
 *     rcgc_trace_snapshot_t *a = rcgc_trace_snapshot_take();
 *     ... work ...
 *     rcgc_trace_snapshot_t *b = rcgc_trace_snapshot_take();
 *     rcgc_trace_print_diff(b, a, 10, stderr);   top 10 growth
 *
 * Thread-safe (one lock around the tables). The tracer's own memory comes
 * from libc, never from the domains, and is not traced.
 */
#ifndef RCGC_TRACE_H
#define RCGC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "rcgc/export.h"
#include "rcgc/alloc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RCGC_TRACE_MAX_FRAMES 32

/* Start tracing (nframes 0..RCGC_TRACE_MAX_FRAMES: frames captured when no
 * site was given). Already tracing: only nframes changes. -1 + RCGC_EINVAL
 * for too many frames, RCGC_ENOMEM if the tables cannot be created. */
RCGC_API int rcgc_trace_start(unsigned nframes);
/* Stop and forget every trace (snapshots already taken stay valid). */
RCGC_API void rcgc_trace_stop(void);
RCGC_API bool rcgc_trace_is_tracing(void);
/* Forget every trace but keep tracing (current and peak drop to 0). */
RCGC_API void rcgc_trace_clear(void);

/* Bytes in traced live blocks now and at the peak since start/reset. */
RCGC_API void rcgc_trace_get_traced_memory(size_t *current, size_t *peak);
RCGC_API void rcgc_trace_reset_peak(void);
/* Bytes the tracer itself uses (tables). */
RCGC_API size_t rcgc_trace_get_overhead(void);

/* Name the site of this thread's next allocation. */
RCGC_API void rcgc_trace_set_site(const char *file, int line);
#define RCGC_TRACE_SITE() rcgc_trace_set_site(__FILE__, __LINE__)

RCGC_API void *rcgc_raw_malloc_at(size_t size, const char *file, int line);
RCGC_API void *rcgc_mem_malloc_at(size_t size, const char *file, int line);
RCGC_API void *rcgc_obj_malloc_at(size_t size, const char *file, int line);
#define RCGC_RAW_MALLOC(n) rcgc_raw_malloc_at((n), __FILE__, __LINE__)
#define RCGC_MEM_MALLOC(n) rcgc_mem_malloc_at((n), __FILE__, __LINE__)
#define RCGC_OBJ_MALLOC(n) rcgc_obj_malloc_at((n), __FILE__, __LINE__)

/* Where a live block came from (one trace). */
typedef struct rcgc_trace_site {
    const char *file;                   /* "<unknown>" or "<backtrace>" if none given */
    int line;
    unsigned nframes;                   /* captured return addresses, 0 if a site was given */
    void *frames[RCGC_TRACE_MAX_FRAMES];
} rcgc_trace_site_t;

/* Trace of a live block: 0 and *out filled, or -1 if the block is not traced. */
RCGC_API int rcgc_trace_get_block(const void *ptr, rcgc_domain_t *domain, size_t *size,
                                  rcgc_trace_site_t *out);

/* ---- snapshots ------------------------------------------------------------- */
typedef struct rcgc_trace_snapshot rcgc_trace_snapshot_t;

/* Per-site statistics; in a comparison the *_diff fields are new - old. */
typedef struct rcgc_trace_stat {
    const rcgc_trace_site_t *site; /* owned by the snapshot */
    size_t size;                   /* live bytes from this site */
    size_t count;                  /* live blocks from this site */
    long long size_diff;
    long long count_diff;
} rcgc_trace_stat_t;

/* NULL + RCGC_ENOMEM on failure; RCGC_ESTATE if not tracing. */
RCGC_API rcgc_trace_snapshot_t *rcgc_trace_snapshot_take(void);
RCGC_API void rcgc_trace_snapshot_free(rcgc_trace_snapshot_t *snap);
/* Totals of a snapshot. */
RCGC_API size_t rcgc_trace_snapshot_total(const rcgc_trace_snapshot_t *snap, size_t *count);
/* The snapshot's sites, largest size first: fills up to max entries, returns
 * how many sites there are. */
RCGC_API size_t rcgc_trace_snapshot_stats(const rcgc_trace_snapshot_t *snap,
                                          rcgc_trace_stat_t *out, size_t max);
/* Per-site difference new - old (sites of either), largest |size_diff| first
 * (ties: larger size first); same fill/return rule. The entries point into
 * the snapshots: keep both alive while using them. */
RCGC_API size_t rcgc_trace_snapshot_compare(const rcgc_trace_snapshot_t *newer,
                                            const rcgc_trace_snapshot_t *older,
                                            rcgc_trace_stat_t *out, size_t max);
/* Print the top `limit` sites of newer (older == NULL) or the top growth
 * newer vs older, one line each:
 *   #1: file.c:42: size=3200 B (+3200 B), count=100 (+100), average=32 B
 * Backtrace sites print their frames (symbolised with backtrace_symbols). */
RCGC_API void rcgc_trace_print_diff(const rcgc_trace_snapshot_t *newer,
                                    const rcgc_trace_snapshot_t *older, size_t limit, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
