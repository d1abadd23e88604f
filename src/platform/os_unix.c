/* platform/os_unix.c - the OS contract of internal/platform.h for Linux and
 * other POSIX systems: anonymous mmap, madvise, /proc/self/statm, pthread keys.
 */
#define _GNU_SOURCE
#include "internal/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t os_page_size;

size_t _rcgc_os_page_size(void) {
    size_t ps = __atomic_load_n(&os_page_size, __ATOMIC_RELAXED);
    if (RCGC_UNLIKELY(ps == 0)) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&os_page_size, ps, __ATOMIC_RELAXED);
    }
    return ps;
}

static void *os_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Map size + align, then trim the unaligned head and the tail: at most three
 * system calls, and no window in which another thread could take the range. */
void *_rcgc_os_map_aligned(size_t size, size_t align) {
    RCGC_ASSERT((align & (align - 1)) == 0 && size % _rcgc_os_page_size() == 0);
    void *p = os_map(size);
    if (p == NULL) return NULL;
    if (((uintptr_t)p & (align - 1)) == 0) return p;
    munmap(p, size);
    size_t over = size + align;
    char *raw = os_map(over);
    if (raw == NULL) return NULL;
    char *aligned = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    size_t head = (size_t)(aligned - raw), tail = over - head - size;
    if (head) munmap(raw, head);
    if (tail) munmap(aligned + size, tail);
    return aligned;
}

void _rcgc_os_unmap(void *p, size_t size) {
    if (p && size) munmap(p, size);
}

void _rcgc_os_decommit(void *p, size_t size) {
    if (size == 0) return;
    while (madvise(p, size, MADV_DONTNEED) != 0 && errno == EAGAIN) {
    }
}

size_t _rcgc_os_rss_bytes(void) {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long vsz = 0, rss = 0;
    if (sscanf(buf, "%lu %lu", &vsz, &rss) != 2) return 0;
    return (size_t)rss * _rcgc_os_page_size();
}

/* ---- thread exit --------------------------------------------------------- */
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static rcgc_os_thread_exit_fn exit_fn;

static void exit_trampoline(void *arg) {
    if (arg && exit_fn) exit_fn(arg);
}

static void exit_key_create(void) {
    if (pthread_key_create(&exit_key, exit_trampoline) != 0) exit_fn = NULL;
}

void _rcgc_os_thread_exit_hook(rcgc_os_thread_exit_fn fn) {
    if (exit_fn == NULL) exit_fn = fn;
    pthread_once(&exit_once, exit_key_create);
}

void _rcgc_os_thread_exit_arm(void *arg) {
    pthread_setspecific(exit_key, arg);
}
