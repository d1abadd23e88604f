#!/usr/bin/env python3
"""CPython peer for the rcgc benchmarks: the same shapes and sizes as
bench/gc/trees.c and bench/gc/shapes.c, written in plain Python, timing only
the part that corresponds (for collector workloads: gc.collect()).

Run with the system interpreter (/usr/bin/python3); output lines are
    R <benchmark> cpython <metric> <value> <unit> <params>
and the script exits 3 (printing nothing) when a correctness check fails.

Nodes are __slots__ classes, so each object is a 16-byte PyObject header, its
slots and a 16-byte PyGC_Head, the closest CPython analogue of an rcgc object.
"""
import array
import gc
import os
import resource
import sys
import time
import weakref

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0")
SYSTEM = "cpython"
PARAMS = "-"
now = time.perf_counter


def params(**kw):
    global PARAMS
    PARAMS = ",".join("%s=%s" % (k, v) for k, v in kw.items()) or "-"


def result(bench, metric, value, unit):
    print("R\t%s\t%s\t%s\t%.6g\t%s\t%s" % (bench, SYSTEM, metric, value, unit, PARAMS), flush=True)


def check(cond, msg):
    if not cond:
        sys.stderr.write("CHECK FAILED: %s\n" % msg)
        sys.exit(3)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_samples(bench, s):
    d = os.environ.get("BENCH_SAMPLES_DIR")
    if d:
        with open(os.path.join(d, "%s.%s.txt" % (bench, SYSTEM)), "w") as f:
            f.writelines("%.3f\n" % (x * 1e6) for x in sorted(s))


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else v[(len(v) - 1) // 2]


class GcWatch:
    """Counts collections and the longest one through gc.callbacks."""

    def __init__(self):
        self.max_pause = 0.0
        self.count = 0
        self.t0 = 0.0
        gc.callbacks.append(self.cb)

    def cb(self, phase, info):
        if phase == "start":
            self.t0 = now()
        else:
            self.count += 1
            d = now() - self.t0
            if d > self.max_pause:
                self.max_pause = d


# ---- wyrand + Lemire, identical to bench/common/bench.h --------------------
M64 = (1 << 64) - 1


def wyrand_stream(seed, n):
    s = seed
    out = array.array("Q", bytes(8 * n))
    for i in range(n):
        s = (s + 0xA0761D6478BD642F) & M64
        t = s * (s ^ 0xE7037ED1A0B428DB)
        out[i] = (t & M64) ^ (t >> 64)
    return out


# ---- GCBench ----------------------------------------------------------------
class Node:
    __slots__ = ("left", "right", "i", "j")

    def __init__(self, left=None, right=None):
        self.left = left
        self.right = right
        self.i = 0
        self.j = 0


class CNode:
    __slots__ = ("left", "right", "i", "j", "parent")

    def __init__(self, left=None, right=None):
        self.left = left
        self.right = right
        self.i = 0
        self.j = 0
        self.parent = None


def gcbench(name, cyclic):
    stretch, long_lived_d, array_size, min_d, max_d = (14, 12, 500000, 4, 12) if QUICK else (18, 16, 500000, 4, 16)
    N = CNode if cyclic else Node

    def tree_size(i):
        return (1 << (i + 1)) - 1

    def num_iters(i):
        return 2 * tree_size(stretch) // tree_size(i)

    if cyclic:
        def populate(depth, node):
            if depth <= 0:
                return
            depth -= 1
            node.left = l = N()
            node.right = r = N()
            l.parent = node
            r.parent = node
            populate(depth, l)
            populate(depth, r)

        def make_tree(depth):
            if depth <= 0:
                return N()
            n = N(make_tree(depth - 1), make_tree(depth - 1))
            n.left.parent = n
            n.right.parent = n
            return n
    else:
        def populate(depth, node):
            if depth <= 0:
                return
            depth -= 1
            node.left = N()
            node.right = N()
            populate(depth, node.left)
            populate(depth, node.right)

        def make_tree(depth):
            if depth <= 0:
                return N()
            return N(make_tree(depth - 1), make_tree(depth - 1))

    def count(n):
        return 1 + count(n.left) + count(n.right) if n is not None else 0

    w = GcWatch()
    t0 = now()
    t = make_tree(stretch)
    t = None
    long_lived = N()
    populate(long_lived_d, long_lived)
    array = [0.0] * array_size
    for i in range(1, array_size // 2):
        array[i] = 1.0 / i
    for d in range(min_d, max_d + 1, 2):
        for _ in range(num_iters(d)):
            t = N()
            populate(d, t)
            t = None
        for _ in range(num_iters(d)):
            t = make_tree(d)
            t = None
    check(array[1000] == 1.0 / 1000, "array")
    elapsed = now() - t0
    check(count(long_lived) == tree_size(long_lived_d), "long-lived tree")
    params(stretch=stretch, long_lived=long_lived_d, array=array_size, min=min_d, max=max_d,
           node_bytes=sys.getsizeof(N()))
    result(name, "time", elapsed * 1e3, "ms")
    result(name, "peak_rss", peak_rss_mib(), "MiB")
    result(name, "collections", w.count, "count")
    result(name, "max_pause", w.max_pause * 1e3, "ms")


# ---- binary-trees -----------------------------------------------------------
class BNode:
    __slots__ = ("left", "right")

    def __init__(self, left=None, right=None):
        self.left = left
        self.right = right


def bt_make(d):
    if d <= 0:
        return BNode()
    return BNode(bt_make(d - 1), bt_make(d - 1))


def bt_check(n):
    return 1 + bt_check(n.left) + bt_check(n.right) if n.left is not None else 1


def bintrees(name, n):
    w = GcWatch()
    min_d = 4
    max_d = max(min_d + 2, n)
    t0 = now()
    total = 0
    s = bt_make(max_d + 1)
    total += bt_check(s)
    s = None
    long_lived = bt_make(max_d)
    for d in range(min_d, max_d + 1, 2):
        iters = 1 << (max_d - d + min_d)
        c = 0
        for _ in range(iters):
            t = bt_make(d)
            c += bt_check(t)
            t = None
        check(c == iters * ((1 << (d + 1)) - 1), "depth %d" % d)
        total += c
    total += bt_check(long_lived)
    elapsed = now() - t0
    params(depth=max_d, min_depth=min_d, nodes=total)
    result(name, "time", elapsed * 1e3, "ms")
    result(name, "peak_rss", peak_rss_mib(), "MiB")
    result(name, "collections", w.count, "count")
    result(name, "max_pause", w.max_pause * 1e3, "ms")


# ---- pyperformance gc_collect / gc_traversal --------------------------------
class DNode:
    __slots__ = ("next", "prev")

    def __init__(self):
        self.next = None
        self.prev = None


def create_gc_cycles(cycles, links):
    all_cycles = []
    for _ in range(cycles):
        first = DNode()
        all_cycles.append(first)
        prev = first
        for _ in range(links):
            n = DNode()
            prev.next = n
            n.prev = prev
            prev = n
        prev.next = first
        first.prev = prev
    return all_cycles


def gc_collect_bench():
    loops = 30 if QUICK else 200
    s = []
    for _ in range(loops):
        gc.collect()
        all_cycles = create_gc_cycles(100, 20)
        del all_cycles
        t0 = now()
        found = gc.collect()
        s.append(now() - t0)
        check(found >= 2100, "gc_collect found %d" % found)
    write_samples("gc_collect", s)
    params(cycles=100, links=20, objects=2100, loops=loops)
    m = median(s)
    result("gc_collect", "time_per_collection", m * 1e6, "us")
    result("gc_collect", "time_per_object", m / 2100 * 1e9, "ns")


def gc_traversal_bench():
    levels, loops = 1000, (10 if QUICK else 50)
    gc.collect()
    lists = [[]]
    refs = 0
    for k in range(1, levels):
        lists.append([lists[-1]] * k)
        refs += k
    t0 = now()
    fy = gc.collect(0)
    young = now() - t0
    check(fy == 0, "young found %d" % fy)
    s = []
    for _ in range(loops):
        gc.collect()
        t0 = now()
        found = gc.collect()
        s.append(now() - t0)
        check(found == 0, "gc_traversal found %d" % found)
    m = median(s)
    params(levels=levels, references=refs, loops=loops)
    result("gc_traversal", "time_full", m * 1e3, "ms")
    result("gc_traversal", "time_per_reference", m / refs * 1e9, "ns")
    result("gc_traversal", "time_young_after_build", young * 1e3, "ms")


# ---- rings of 10 nodes with 3 pointer fields ---------------------------------
class RNode:
    __slots__ = ("a", "b", "c")


def build_ring():
    r = [RNode() for _ in range(10)]
    for i in range(10):
        n = r[i]
        n.a = r[(i + 1) % 10]
        n.b = r[(i + 9) % 10]
        n.c = r[(i + 5) % 10]
    return r[0]


def ring_live(name, n):
    gc.disable()  # builds are untimed; collections below are explicit
    heads = [build_ring() for _ in range(n // 10)]
    gc.collect()
    reps = 3 if QUICK else 5
    s = []
    for _ in range(reps):
        t0 = now()
        found = gc.collect()
        s.append(now() - t0)
        check(found == 0, "ring_live found %d" % found)
    m = median(s)
    params(objects=len(heads) * 10, ring=10, fields=3, collections=reps)
    result(name, "time_full", m * 1e3, "ms")
    result(name, "time_per_object", m / (len(heads) * 10) * 1e9, "ns")
    result(name, "peak_rss", peak_rss_mib(), "MiB")


def ring_garbage(name, n):
    gc.disable()
    reps = 1 if n >= 5000000 else (2 if QUICK else 3)
    s = []
    for _ in range(reps):
        heads = [build_ring() for _ in range(n // 10)]
        heads = None
        t0 = now()
        found = gc.collect()
        s.append(now() - t0)
        check(found >= (n // 10) * 10, "ring_garbage found %d" % found)
    m = median(s)
    params(objects=(n // 10) * 10, ring=10, fields=3, collections=reps)
    result(name, "time_full", m * 1e3, "ms")
    result(name, "time_per_object", m / ((n // 10) * 10) * 1e9, "ns")


def young_pause(name, n):
    gc.disable()  # only the explicit young collections run
    heads = [build_ring() for _ in range(n // 10)]
    gc.collect()
    gc.collect()
    loops = 100 if QUICK else 1000
    s = []
    c = []
    cpu = time.thread_time
    for _ in range(loops):
        for _ in range(200):
            build_ring()
        c0 = cpu()
        t0 = now()
        found = gc.collect(0)
        s.append(now() - t0)
        c.append(cpu() - c0)
        check(found >= 2000, "young collection found %d" % found)
    s.sort()
    c.sort()
    params(old_objects=len(heads) * 10, young_objects=2000, collections=loops)
    q = lambda p: s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]
    result(name, "pause_min", s[0] * 1e6, "us")
    result(name, "pause_median", q(0.5) * 1e6, "us")
    result(name, "pause_p99", q(0.99) * 1e6, "us")
    result(name, "pause_max", s[-1] * 1e6, "us")
    qc = lambda p: c[min(len(c) - 1, int(p * (len(c) - 1) + 0.5))]
    result(name, "pause_cpu_median", qc(0.5) * 1e6, "us")
    result(name, "pause_cpu_p99", qc(0.99) * 1e6, "us")
    result(name, "pause_cpu_max", c[-1] * 1e6, "us")
    write_samples(name, s)


# ---- dumpster's random graph mutation ----------------------------------------
class MNode:
    __slots__ = ("v",)

    def __init__(self):
        self.v = []


def dumpster(name):
    ops = 200000 if QUICK else 1000000
    stream = wyrand_stream(12345, 3 * ops + 16)  # untimed: the same draws as the C port
    pos = [0]

    def below(n):
        x = stream[pos[0]]
        pos[0] += 1
        m = x * n
        lo = m & M64
        if lo < n:
            t = ((1 << 64) - n) % n
            while lo < t:
                x = stream[pos[0]]
                pos[0] += 1
                m = x * n
                lo = m & M64
        return m >> 64

    w = GcWatch()
    created, links = 50, 0
    t0 = now()
    roots = [MNode() for _ in range(50)]
    for _ in range(ops):
        n = len(roots)
        if n == 0:
            roots.append(MNode())
            created += 1
            continue
        op = below(4)
        if op == 0:
            roots.append(MNode())
            created += 1
        elif op == 1:
            if n > 1:
                f = below(n)
                t = below(n)
                roots[f].v.append(roots[t])
                links += 1
        elif op == 2:
            k = below(n)
            roots[k] = roots[-1]
            roots.pop()
        else:
            k = below(n)
            v = roots[k].v
            if v:
                j = below(len(v))
                v[j] = v[-1]
                v.pop()
    roots = None
    gc.collect()
    elapsed = now() - t0
    params(ops=ops, seed=12345, start=50, mode="default", created=created, links=links)
    result(name, "time", elapsed * 1e3, "ms")
    result(name, "peak_rss", peak_rss_mib(), "MiB")
    result(name, "collections", w.count, "count")
    result(name, "max_pause", w.max_pause * 1e3, "ms")


# ---- finalizers ---------------------------------------------------------------
FINALIZED = [0]


class FObj:
    __slots__ = ("keep_link", "i")

    def __init__(self):
        self.keep_link = None
        self.i = 109

    def __del__(self):
        if self.i == 109:
            self.i = 110
            FINALIZED[0] += 1


class PObj:
    __slots__ = ("keep_link", "i")

    def __init__(self):
        self.keep_link = None
        self.i = 109


def fin_run(count, cls, cyclic, draws):
    keep = [None] * 32768
    FINALIZED[0] = 0
    t0 = now()
    for k in draws:
        o = cls()
        if cyclic:
            p = cls()
            p.keep_link = o
            o.keep_link = p
        keep[k] = o
    o = p = keep = None
    gc.collect()
    return now() - t0


def finalizer(cyclic):
    name = "finalizer_cyclic" if cyclic else "finalizer"
    count = 256 * 1024 if QUICK else 4 * 1024 * 1024
    if cyclic:
        count //= 2
    objs = 2 * count if cyclic else count
    raw = wyrand_stream(1, count)
    draws = [(x * 32768) >> 64 for x in raw]  # 32768 divides 2^64: no rejection
    reps = 1  # run-bench.sh repeats the process
    t_none = t_fin = 1e30
    fin = 0
    for _ in range(reps):
        t_none = min(t_none, fin_run(count, PObj, cyclic, draws))
        t_fin = min(t_fin, fin_run(count, FObj, cyclic, draws))
        fin = FINALIZED[0]
    check(fin == objs, "finalized %d of %d" % (fin, objs))
    params(objects=objs, keep=32768, layout="pairs" if cyclic else "single", best_of=reps)
    result(name, "finalized_fraction", fin / objs, "ratio")
    result(name, "time_per_object_none", t_none / objs * 1e9, "ns")
    result(name, "time_per_finalized_marginal", (t_fin - t_none) / fin * 1e9, "ns")


# ---- weak references -------------------------------------------------------------
class WObj:
    __slots__ = ("__weakref__",)


def weakref_bench():
    n = 200000 if QUICK else 1000000
    target = WObj()
    ref = weakref.ref
    t0 = now()
    for _ in range(n):
        ref(target)
    t_create = now() - t0
    objs = [WObj() for _ in range(n)]
    t0 = now()
    for i in range(n):
        objs[i] = None
    t_plain = now() - t0
    objs = [WObj() for _ in range(n)]
    wrs = [ref(o) for o in objs]
    t0 = now()
    for i in range(n):
        objs[i] = None
    t_weak = now() - t0
    check(all(w() is None for w in wrs), "weakrefs not cleared")
    params(weakrefs=n)
    result("weakref_create", "time_per_weakref", t_create / n * 1e9, "ns")
    result("weakref_clear", "time_per_weakref_marginal", (t_weak - t_plain) / n * 1e9, "ns")
    result("weakref_clear", "time_per_referent", t_weak / n * 1e9, "ns")


# ---- memory per tracked object ---------------------------------------------------
class S1:
    __slots__ = ("a",)


class S2:
    __slots__ = ("a", "b")


class S3:
    __slots__ = ("a", "b", "c")


class S4:
    __slots__ = ("a", "b", "c", "d")


def object_bytes():
    """RSS per tracked object for payloads of 8..32 bytes (1..4 slots), as in
    bench/gc/shapes.c: overhead = RSS per object - payload; the smallest over
    the four payloads is header + linkage, the mean includes size-class rounding."""
    n = 1000000
    gc.disable()
    arr = [None] * (4 * n)
    per = []
    for k, cls in enumerate((S1, S2, S3, S4)):
        r0 = rss_bytes()
        base = k * n
        for i in range(n):
            arr[base + i] = cls()
        per.append((rss_bytes() - r0) / n)
    over = [p - 8 * (k + 1) for k, p in enumerate(per)]
    params(objects=n, payloads="8/16/24/32")
    result("gc_object_bytes", "overhead_per_object", min(over), "B")
    result("gc_object_bytes", "overhead_mean", sum(over) / 4, "B")
    for k, p in enumerate(per):
        result("gc_object_bytes", "bytes_per_object_p%d" % (8 * (k + 1)), p, "B")
    result("gc_object_bytes", "header_bytes", 16, "B")


def main():
    sys.setrecursionlimit(100000)
    a = sys.argv[1:]
    mode = a[0] if a else "gc_collect"
    name = a[1] if len(a) > 1 else mode
    n = int(a[2]) if len(a) > 2 else 1000000
    if mode == "gcbench":
        gcbench("gcbench", False)
    elif mode == "gcbench_cyclic":
        gcbench("gcbench_cyclic", True)
    elif mode == "bintrees":
        bintrees(name, n)
    elif mode == "gc_collect":
        gc_collect_bench()
    elif mode == "gc_traversal":
        gc_traversal_bench()
    elif mode == "ring_live":
        ring_live(name, n)
    elif mode == "ring_garbage":
        ring_garbage(name, n)
    elif mode == "young_pause":
        young_pause(name, n)
    elif mode == "dumpster":
        if len(a) > 2 and a[2] == "manual":
            sys.stderr.write("UNSUPPORTED: manual mode is an rcgc variant\n")
            sys.exit(4)
        dumpster(name)
    elif mode == "finalizer":
        finalizer(False)
    elif mode == "finalizer_cyclic":
        finalizer(True)
    elif mode == "weakref":
        weakref_bench()
    elif mode == "gc_object_bytes":
        object_bytes()
    else:
        sys.stderr.write("unknown mode %s\n" % mode)
        sys.exit(2)


if __name__ == "__main__":
    main()
