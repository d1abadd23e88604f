/* alloc/stats.c - allocator statistics: a snapshot taken under the segment
 * lock by walking every page descriptor (no per-allocation counters on the
 * fast paths), a printer in the style of sys._debugmallocstats(), and the
 * public collect call.
 *
 * Accounting: bytes_committed = 64 KiB x (small pages + large-run pages +
 * retained free pages) + segment headers + huge mappings + thread state;
 * pages are counted whole although a fresh page is carved (touched) lazily,
 * so RSS may be lower than bytes_committed, never much higher.
 */
#include "internal/alloc_types.h"
#include "internal/platform.h"
#include "rcgc/inspect.h"

#include <string.h>

_Static_assert(RCGC_ALLOC_CLASS_COUNT == RCGC_CLASSES, "public class count");
_Static_assert(RCGC_ALLOC_HEAP_COUNT == RCGC_HEAP_KINDS, "public heap count");
_Static_assert((int)RCGC_ALLOC_HEAP_GC == (int)RCGC_HEAP_GC, "public heap ids");

static void count_small_page(const rcgc_page_t *pg, rcgc_alloc_stats_t *st) {
    rcgc_alloc_class_stats_t *c = &st->classes[pg->cls];
    size_t used = __atomic_load_n(&pg->used, __ATOMIC_RELAXED) & ~RCGC_USED_PARKED;
    c->pages++;
    c->blocks_in_use += used;
    c->blocks_free += pg->reserved - used;
    st->small_pages++;
    st->blocks_in_use += used;
    st->bytes_in_use += used * pg->block_size;
    st->bytes_in_use_by_heap[pg->kind] += used * pg->block_size;
    st->bytes_free_in_pages += (pg->reserved - used) * (size_t)pg->block_size;
}

static void count_segment(const rcgc_segment_t *seg, rcgc_alloc_stats_t *st) {
    for (size_t i = 1; i < RCGC_PAGES_PER_SEG; i++) {
        const rcgc_page_t *pg = &seg->pages[i];
        switch (pg->state) {
        case RCGC_PAGE_SMALL: count_small_page(pg, st); break;
        case RCGC_PAGE_LARGE: st->bytes_in_use_by_heap[pg->kind] += pg->block_size; break;
        case RCGC_PAGE_HUGE: st->bytes_in_use_by_heap[pg->kind] += seg->map_size - RCGC_PAGE_SIZE; break;
        default: break;
        }
        if (seg->huge) break;
    }
}

static void stats_get_locked(rcgc_alloc_stats_t *st) {
    for (unsigned c = 0; c < RCGC_CLASSES; c++) st->classes[c].block_size = _rcgc_class_size(c);
    for (const rcgc_segment_t *seg = _rcgc_pool.all_first; seg; seg = seg->all_next) count_segment(seg, st);
    st->large_blocks = _rcgc_pool.large_blocks;
    st->large_bytes = _rcgc_pool.large_bytes;
    st->blocks_in_use += st->large_blocks;
    st->bytes_in_use += st->large_bytes;
    st->abandoned_pages = _rcgc_pool.abandoned_count;
    st->retained_pages = _rcgc_pool.retained_pages;
    st->segments = _rcgc_pool.segments;
    st->huge_segments = _rcgc_pool.huge_segments;
    st->threads = _rcgc_pool.tld_count;
    st->bytes_mapped = _rcgc_pool.bytes_mapped + _rcgc_pool.tld_bytes;
    st->bytes_committed = _rcgc_pool.bytes_committed + _rcgc_pool.tld_bytes;
    size_t ps = _rcgc_os_page_size(), header = (sizeof(rcgc_segment_t) + ps - 1) & ~(ps - 1);
    st->bytes_metadata = (_rcgc_pool.segments - _rcgc_pool.huge_segments) * header + _rcgc_pool.tld_bytes;
    st->bytes_returned = _rcgc_pool.bytes_returned;
}

void rcgc_alloc_stats_get(rcgc_alloc_stats_t *out) {
    if (out == NULL) return;
    memset(out, 0, sizeof *out);
    _rcgc_pool_lock();
    stats_get_locked(out);
    _rcgc_pool_unlock();
    out->rss_bytes = _rcgc_os_rss_bytes();
}

void rcgc_alloc_stats_print(FILE *out) {
    rcgc_alloc_stats_t st;
    rcgc_alloc_stats_get(&st);
    if (out == NULL) out = stderr;
    fprintf(out, "Small block threshold = %d, in %d size classes (16 B steps to 512 B, then 4 per doubling).\n",
            RCGC_MEDIUM_MAX, RCGC_CLASSES);
    fprintf(out, "class   size   num pages   blocks in use  avail blocks\n");
    for (unsigned c = 0; c < RCGC_CLASSES; c++) {
        const rcgc_alloc_class_stats_t *k = &st.classes[c];
        if (k->pages == 0) continue;
        fprintf(out, "%5u %6zu %11zu %15zu %13zu\n", c, k->block_size, k->pages, k->blocks_in_use,
                k->blocks_free);
    }
    fprintf(out, "# segments total / huge = %zu / %zu   # threads = %zu\n", st.segments, st.huge_segments,
            st.threads);
    fprintf(out, "# pages: small = %zu, abandoned = %zu, retained free = %zu\n", st.small_pages,
            st.abandoned_pages, st.retained_pages);
    fprintf(out, "# large blocks = %zu (%zu bytes)\n", st.large_blocks, st.large_bytes);
    fprintf(out, "# bytes in use = %zu (mem %zu, object %zu, gc %zu)\n", st.bytes_in_use,
            st.bytes_in_use_by_heap[0], st.bytes_in_use_by_heap[1], st.bytes_in_use_by_heap[2]);
    fprintf(out, "# bytes free in pages = %zu   # bytes of metadata = %zu\n", st.bytes_free_in_pages,
            st.bytes_metadata);
    fprintf(out, "# bytes committed = %zu   mapped = %zu   returned to the OS = %zu\n", st.bytes_committed,
            st.bytes_mapped, st.bytes_returned);
    fprintf(out, "# process RSS = %zu\n", st.rss_bytes);
}

void rcgc_alloc_collect(int force) { _rcgc_pool_collect(force != 0); }
