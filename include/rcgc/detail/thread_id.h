/* rcgc/detail/thread_id.h - a cheap, non-zero id of the calling thread that
 * can never equal an object address: the thread pointer (the address of the
 * thread's TLS block). One instruction on x86-64 and AArch64. */
#ifndef RCGC_DETAIL_THREAD_ID_H
#define RCGC_DETAIL_THREAD_ID_H

#include <stdint.h>
#include "rcgc/export.h"

RCGC_API uintptr_t rcgc_thread_id_slow(void);

static inline uintptr_t rcgc_thread_id(void) {
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
    /* the same load as below, but visible to the optimiser: repeated calls
     * in one function share one load */
    return (uintptr_t)__builtin_thread_pointer();
#elif defined(__x86_64__) && defined(__linux__)
    uintptr_t tid;
    __asm__("movq %%fs:0, %0" : "=r"(tid));
    return tid;
#elif defined(__aarch64__)
    return (uintptr_t)__builtin_thread_pointer();
#else
    return rcgc_thread_id_slow();
#endif
}

#endif
