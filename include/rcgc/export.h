/* rcgc/export.h - symbol visibility and the library version. */
#ifndef RCGC_EXPORT_H
#define RCGC_EXPORT_H

#define RCGC_VERSION_MAJOR 0
#define RCGC_VERSION_MINOR 1
#define RCGC_VERSION_PATCH 0
#define RCGC_VERSION ((RCGC_VERSION_MAJOR * 10000) + (RCGC_VERSION_MINOR * 100) + RCGC_VERSION_PATCH)

#if defined(_WIN32)
#  if defined(RCGC_BUILD_CORE) && defined(RCGC_SHARED_BUILD)
#    define RCGC_API __declspec(dllexport)
#  else
#    define RCGC_API
#  endif
#else
#  define RCGC_API __attribute__((visibility("default")))
#endif

/* The flavour this header set was configured for; checked by rcgc_init(). */
#ifdef RCGC_FREE_THREADED
#  define RCGC_FLAVOUR_TAG 2u
#else
#  define RCGC_FLAVOUR_TAG 1u
#endif

#endif
