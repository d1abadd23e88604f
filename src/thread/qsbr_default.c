/* thread/qsbr_default.c - rcgc/qsbr.h in the default build.
 *
 * One thread is attached at a time and every other thread is at a safe point
 * or detached, i.e. quiescent: whenever a thread retires memory, no lock-free
 * reader can hold a pointer into it. So retiring frees at once, a delayed
 * decref is a decref, and the queues and statistics stay empty.
 */
#include "internal/qsbr.h"

#include <string.h>

void rcgc_object_enable_lockfree_reads(rcgc_object_t *o) { (void)o; }

void rcgc_mem_free_delayed(void *p, size_t size) {
    (void)size;
    rcgc_mem_free(p);
}

void rcgc_decref_delayed(rcgc_object_t *o) {
    if (o) rcgc_decref(o);
}

void _rcgc_qsbr_free_object(rcgc_object_t *o, void *block, rcgc_heap_kind_t kind) {
    (void)o;
    _rcgc_free_object(block, kind);
}

void rcgc_qsbr_get_stats(rcgc_qsbr_stats_t *out) {
    memset(out, 0, sizeof *out);
    out->write_seq = out->read_seq = RCGC_QSBR_INITIAL;
}

void rcgc_qsbr_reset_peak(void) {}
size_t rcgc_qsbr_process(void) { return 0; }
