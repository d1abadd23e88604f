/* internal/track.h - telling AddressSanitizer and Valgrind about pooled blocks.
 *
 * A pooled allocator hands out pieces of big OS mappings, so neither ASan nor
 * memcheck can see block boundaries on their own: a use-after-free inside a
 * pool page reads "valid" memory. These inline functions describe the pool's
 * life cycle to the tools. They compile to nothing unless the build asks:
 *
 *   cmake -DRCGC_TRACK_ASAN=ON      (needs -DRCGC_SANITIZE=address[,...])
 *       -> RCGC_TRACK_ASAN=1: free blocks and uncarved page space are
 *          poisoned (__asan_poison_memory_region); a touch reports
 *          "use-after-poison".
 *   cmake -DRCGC_TRACK_VALGRIND=ON
 *       -> RCGC_TRACK_VALGRIND=1: client requests from <valgrind/memcheck.h>
 *          (Debian package `valgrind`); outside Valgrind each costs a few
 *          instructions and does nothing.
 *
 * WHERE THE POOL MUST CALL EACH FUNCTION (alloc/pool.c and below):
 *
 *  0. Memory mapped from the OS to hold blocks (a segment), right after
 *     mmap, and right before its munmap:
 *         _rcgc_track_os_map(seg, map_size);   ...   _rcgc_track_os_unmap(seg, map_size);
 *     In every AddressSanitizer build (RCGC_TRACK_ASAN or not) this registers
 *     the mapping as a LeakSanitizer root region: without it, a malloc'd
 *     buffer referenced only from a pooled object is reported as a leak
 *     (LSan does not scan anonymous mappings). os_unmap also does what
 *     span_release does (clears ASan poison). Pass the same (p, size) to both.
 *
 *  1. Page (or any span of blocks) carved for a size class, and any memory
 *     freshly obtained from the OS that will hold blocks later:
 *         _rcgc_track_span_noaccess(area, bytes);
 *     after the pool wrote its own metadata there, before any block is
 *     handed out. Covers the uncarved tail too (blocks not yet carved).
 *
 *  2. Block handed out (malloc/calloc return path, last thing before
 *     returning the pointer, after the free-list pop):
 *         _rcgc_track_block_alloc(p, usable_size, zeroed);
 *     usable_size = the block size the caller may use (class size is fine;
 *     the requested size is sharper for ASan). zeroed = true for calloc or
 *     a fresh zeroed OS page.
 *
 *  3. Block freed (first thing in the free path, before the pool writes
 *     its free-list link into the block):
 *         _rcgc_track_block_free(p, usable_size);
 *     After this the block is no-access to the tools.
 *
 *  4. Pool code reading or writing its OWN metadata inside a free block
 *     (the free-list link word) - both when pushing in free and popping in
 *     malloc, and when carving links a page:
 *         _rcgc_track_meta_open(p, sizeof(link));   ... access ...
 *         _rcgc_track_meta_close(p, sizeof(link));
 *     In malloc, pop the link (open/read/close) then call (2) for the block.
 *
 *  5. In-place realloc (block keeps its address, new usable size):
 *         _rcgc_track_block_resize(p, old_size, new_size);
 *     A moving realloc is (2) on the new block and (3) on the old one.
 *
 *  6. Page decommitted but kept mapped (madvise(MADV_DONTNEED), purge):
 *         _rcgc_track_span_noaccess(area, bytes);
 *     Page or segment unmapped (munmap) or handed back to another user:
 *         _rcgc_track_span_release(area, bytes);   (BEFORE munmap)
 *     release clears ASan poison so a later unrelated mapping at the same
 *     address does not inherit stale shadow.
 *
 * Objects in the GC heap: the free-threaded collector walks pages and reads
 * header bits of free blocks too. The walker must bracket reads of a block
 * it does not know to be live with (4) meta_open/meta_close.
 *
 * ASan granularity: poisoning is exact only for 8-byte aligned starts; pool
 * blocks are 16-byte aligned, so that holds for every call above.
 * Debug-mode and malloc-mode (RCGC_MALLOC) need none of this: the first wraps
 * the pool (its blocks are pool blocks), the second does not use the pool.
 */
#ifndef RCGC_INTERNAL_TRACK_H
#define RCGC_INTERNAL_TRACK_H

#include <stddef.h>
#include <stdbool.h>

#ifndef RCGC_TRACK_ASAN
#define RCGC_TRACK_ASAN 0
#endif
#ifndef RCGC_TRACK_VALGRIND
#define RCGC_TRACK_VALGRIND 0
#endif

#if RCGC_TRACK_ASAN
#  if defined(__SANITIZE_ADDRESS__)
#    define RCGC_TRACK_HAVE_ASAN_ 1
#  elif defined(__has_feature)
#    if __has_feature(address_sanitizer)
#      define RCGC_TRACK_HAVE_ASAN_ 1
#    endif
#  endif
#  ifndef RCGC_TRACK_HAVE_ASAN_
#    error "RCGC_TRACK_ASAN needs an AddressSanitizer build (-DRCGC_SANITIZE=address)"
#  endif
#  include <sanitizer/asan_interface.h>
#endif
#if RCGC_TRACK_VALGRIND
#  include <valgrind/memcheck.h>
#endif

/* LeakSanitizer roots: in any ASan build, with or without RCGC_TRACK_ASAN. */
#if defined(__SANITIZE_ADDRESS__)
#  define RCGC_TRACK_LSAN_ 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define RCGC_TRACK_LSAN_ 1
#  endif
#endif
#ifdef RCGC_TRACK_LSAN_
#  include <sanitizer/lsan_interface.h>
#endif

/* True when any tool annotation is compiled in. */
static const bool rcgc_track_enabled = (RCGC_TRACK_ASAN || RCGC_TRACK_VALGRIND);

/* (2) A block of `size` usable bytes at p is now owned by the caller. */
static inline void _rcgc_track_block_alloc(void *p, size_t size, bool zeroed) {
#if RCGC_TRACK_ASAN
    __asan_unpoison_memory_region(p, size);
#endif
#if RCGC_TRACK_VALGRIND
    VALGRIND_MALLOCLIKE_BLOCK(p, size, 0, zeroed ? 1 : 0);
#endif
    (void)p; (void)size; (void)zeroed;
}

/* (3) The caller gave the block back: no access until handed out again. */
static inline void _rcgc_track_block_free(void *p, size_t size) {
#if RCGC_TRACK_VALGRIND
    VALGRIND_FREELIKE_BLOCK(p, 0);
#endif
#if RCGC_TRACK_ASAN
    __asan_poison_memory_region(p, size);
#endif
    (void)p; (void)size;
}

/* (5) In-place resize of a live block. */
static inline void _rcgc_track_block_resize(void *p, size_t old_size, size_t new_size) {
#if RCGC_TRACK_VALGRIND
    VALGRIND_RESIZEINPLACE_BLOCK(p, old_size, new_size, 0);
#endif
#if RCGC_TRACK_ASAN
    if (new_size >= old_size) {
        __asan_unpoison_memory_region(p, new_size);
    } else {
        __asan_poison_memory_region((char *)p + new_size, old_size - new_size);
    }
#endif
    (void)p; (void)old_size; (void)new_size;
}

/* (4) The pool is about to touch its own bytes inside a free block. */
static inline void _rcgc_track_meta_open(void *p, size_t n) {
#if RCGC_TRACK_ASAN
    __asan_unpoison_memory_region(p, n);
#endif
#if RCGC_TRACK_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
    (void)p; (void)n;
}

/* (4) Done touching them: no access again. */
static inline void _rcgc_track_meta_close(void *p, size_t n) {
#if RCGC_TRACK_ASAN
    __asan_poison_memory_region(p, n);
#endif
#if RCGC_TRACK_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
    (void)p; (void)n;
}

/* (1)/(6) A span that holds no live block: carved page, uncarved tail,
 * decommitted page. */
static inline void _rcgc_track_span_noaccess(void *p, size_t n) {
#if RCGC_TRACK_ASAN
    __asan_poison_memory_region(p, n);
#endif
#if RCGC_TRACK_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
    (void)p; (void)n;
}

/* (6) A span leaves the pool (munmap, or given to another owner): forget it. */
static inline void _rcgc_track_span_release(void *p, size_t n) {
#if RCGC_TRACK_ASAN
    __asan_unpoison_memory_region(p, n);
#endif
#if RCGC_TRACK_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
    (void)p; (void)n;
}

/* (0) A mapping that will hold blocks: LSan scans it for pointers. */
static inline void _rcgc_track_os_map(void *p, size_t n) {
#ifdef RCGC_TRACK_LSAN_
    __lsan_register_root_region(p, n);
#endif
    (void)p; (void)n;
}

/* (0) Before munmap of a mapping passed to _rcgc_track_os_map. */
static inline void _rcgc_track_os_unmap(void *p, size_t n) {
#ifdef RCGC_TRACK_LSAN_
    __lsan_unregister_root_region(p, n);
#endif
    _rcgc_track_span_release(p, n);
}

/* True when the process runs under Valgrind (always false without
 * RCGC_TRACK_VALGRIND). */
static inline bool _rcgc_track_running_on_valgrind(void) {
#if RCGC_TRACK_VALGRIND
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

#endif
