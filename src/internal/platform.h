/* internal/platform.h - the operating-system contract the allocator relies on.
 *
 * Implemented per OS (platform/os_unix.c). All calls are thread-safe, take
 * no rcgc lock, and never allocate through rcgc. Sizes passed to map / unmap /
 * decommit are multiples of _rcgc_os_page_size().
 *
 *   _rcgc_os_map_aligned(size, align)  reserve+commit `size` bytes of zeroed,
 *       read-write memory whose start is a multiple of `align` (a power of two
 *       >= the OS page size); NULL on failure. Untouched pages cost no RSS.
 *   _rcgc_os_unmap(p, size)            give a mapping (or a part) back.
 *   _rcgc_os_decommit(p, size)         drop the physical pages of a range; the
 *       range stays mapped and reads back as zeros (MADV_DONTNEED on Linux).
 *   _rcgc_os_rss_bytes()               resident set size of the process, 0 if
 *       unknown (tests and stats only).
 *   _rcgc_os_thread_exit_hook(fn)      call fn(arg) when a thread that called
 *       _rcgc_os_thread_exit_arm(arg) exits (pthread key destructor).
 */
#ifndef RCGC_INTERNAL_PLATFORM_H
#define RCGC_INTERNAL_PLATFORM_H

#include "internal/core.h"

RCGC_INTERNAL size_t _rcgc_os_page_size(void);
RCGC_INTERNAL void *_rcgc_os_map_aligned(size_t size, size_t align);
RCGC_INTERNAL void _rcgc_os_unmap(void *p, size_t size);
RCGC_INTERNAL void _rcgc_os_decommit(void *p, size_t size);
RCGC_INTERNAL size_t _rcgc_os_rss_bytes(void);

typedef void (*rcgc_os_thread_exit_fn)(void *arg);
/* Register the exit callback once (idempotent; the first fn wins). */
RCGC_INTERNAL void _rcgc_os_thread_exit_hook(rcgc_os_thread_exit_fn fn);
/* Arm (arg != NULL) or disarm (NULL) the callback for the calling thread. */
RCGC_INTERNAL void _rcgc_os_thread_exit_arm(void *arg);

#endif
