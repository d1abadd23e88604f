/* rcgc.h - CPython's memory management as a C library: reference counting,
 * a small-object allocator and a generational cycle collector.
 *
 * Include this one header. Link with `pkg-config --cflags --libs rcgc`
 * (default build) or `rcgc_t` (free-threaded build; its Cflags define
 * RCGC_FREE_THREADED). See README.md and docs/.
 */
#ifndef RCGC_H
#define RCGC_H

#include "rcgc/export.h"
#include "rcgc/error.h"
#include "rcgc/object.h"
#include "rcgc/refcount.h"
#include "rcgc/stackref.h"
#include "rcgc/alloc.h"
#include "rcgc/trace.h"
#include "rcgc/thread.h"
#include "rcgc/lock.h"
#include "rcgc/weakref.h"
#include "rcgc/gc.h"
#include "rcgc/qsbr.h"
#include "rcgc/inspect.h"

#endif
