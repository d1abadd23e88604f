#!/usr/bin/env python3
"""bench-report.py - turn the samples of tools/run-bench.sh into
build/bench/results.json, build/bench/results.md, PNG plots (gnuplot) and
docs/performance.md. Every figure in those files comes from raw.tsv, i.e. from
a run the reader can repeat with `make bench`; nothing is typed in by hand.

raw.tsv:    R <benchmark> <system> <metric> <value> <unit> <params> <rep>
status.tsv: <job> <system> <status> <why>   (jobs that recorded nothing)
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

SYSTEMS = ["rcgc", "rcgc_t", "cpython", "bdwgc", "glibc", "mimalloc", "jemalloc", "pymalloc"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=ROOT, timeout=20).stdout.strip()
    except Exception:
        return ""


def parse_params(p):
    d = {}
    if p and p != "-":
        for kv in p.split(","):
            k, _, v = kv.partition("=")
            d[k] = v
    return d


def load(raw_path):
    groups = {}
    order = []
    with open(raw_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 7 or parts[0] != "R":
                continue
            _, bench, system, metric, value, unit, params = parts[:7]
            try:
                v = float(value)
            except ValueError:
                continue
            key = (bench, system, metric, unit)
            if key not in groups:
                groups[key] = {"values": [], "params": parse_params(params)}
                order.append(key)
            groups[key]["values"].append(v)
    records = []
    for key in order:
        bench, system, metric, unit = key
        vals = groups[key]["values"]
        records.append({
            "benchmark": bench, "system": system, "metric": metric,
            "value": round(statistics.median(vals), 6), "unit": unit, "n": len(vals),
            "min": round(min(vals), 6), "max": round(max(vals), 6),
            "params": groups[key]["params"],
        })
    return records


def load_status(path):
    st = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) >= 4:
                    st.setdefault((p[0], p[1]), (p[2], p[3]))
    return st


class Results:
    def __init__(self, records, status):
        self.r = {(x["benchmark"], x["system"], x["metric"]): x for x in records}
        self.records = records
        self.status = status

    def get(self, bench, system, metric):
        return self.r.get((bench, system, metric))

    def why(self, bench, system):
        """Why (bench, system) has no record: the job status, if any."""
        for (job, sys_), (state, why) in self.status.items():
            if sys_ == system and (job == bench or bench.startswith(job)):
                return "%s (%s)" % (why, state)
        # jobs are named after a family: alloc_time covers alloc_pair_*, ...
        fam = {"alloc_pair": "alloc_time", "alloc_lifo": "alloc_time", "alloc_fifo": "alloc_time",
               "alloc_churn": "alloc_time", "alloc_rss": "alloc_mem", "alloc_mt": "alloc_mt",
               "alloc_walk": "alloc_walk", "weakref": "weakref"}
        for pre, job in fam.items():
            if bench.startswith(pre) and (job, system) in self.status:
                state, why = self.status[(job, system)]
                return "%s (%s)" % (why, state)
        return "no record in this run"


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    return "%.3g" % v


def cell(rec):
    if not rec:
        return "-"
    if rec["n"] > 1 and rec["min"] != rec["max"]:
        return "%s (%s–%s)" % (fmt(rec["value"]), fmt(rec["min"]), fmt(rec["max"]))
    return fmt(rec["value"])


def params_str(p):
    return ", ".join("%s=%s" % kv for kv in p.items() if kv[0] not in ("best_of",))


# ---- targets -------------------------------------------------------------------
def targets(R, quick):
    """One line per target of the allocator and collector issues."""
    out = []

    def line(group, target, ok, figure, note=""):
        out.append({"group": group, "target": target, "status": ok, "figure": figure, "note": note})

    def missing(group, target, needs):
        by_reason = {}
        for bench, system, metric in needs:
            if not R.get(bench, system, metric):
                why = re.sub(r"^check failed: CHECK FAILED \([^)]*\): ", "check failed: ", R.why(bench, system))
                why = re.sub(r"(?<!\w)(gc_collect|gc_traversal|ring_\w+|young_pause_\w+|dumpster\w*|finalizer\w*): ", "", why)
                by_reason.setdefault(why, []).append("%s/%s" % (bench, system))
        line(group, target, "not measurable yet", "-",
             "; ".join("%s: %s" % (", ".join(who), why) for why, who in by_reason.items()))

    def at(rec):
        p = rec["params"]
        keys = [k for k in ("objects", "old_objects", "live", "blocks", "pairs", "pairs_per_thread", "levels") if k in p]
        s = ", ".join("%s=%s" % (k, p[k]) for k in keys)
        return (" [%s]" % s) if s else ""

    def ratio_target(group, target, bench, metric, peer, limit, better="le", unit=""):
        a, b = R.get(bench, "rcgc", metric), R.get(bench, peer, metric)
        if not a or not b:
            return missing(group, target, [(bench, "rcgc", metric), (bench, peer, metric)])
        ratio = a["value"] / b["value"] if b["value"] else float("inf")
        ok = ratio <= limit if better == "le" else ratio >= limit
        line(group, target, "met" if ok else "not met",
             "rcgc %s %s vs %s %s %s = %.2f×%s" % (fmt(a["value"]), a["unit"], peer, fmt(b["value"]), b["unit"], ratio, at(a)))

    def abs_target(group, target, bench, system, metric, limit, better="le", peers=()):
        a = R.get(bench, system, metric)
        if not a:
            return missing(group, target, [(bench, system, metric)])
        ok = {"le": a["value"] <= limit, "lt": a["value"] < limit, "ge": a["value"] >= limit}[better]
        ps = [(p, R.get(bench, p, metric)) for p in peers]
        ptxt = "; ".join("%s %s" % (p, fmt(x["value"])) for p, x in ps if x)
        line(group, target, "met" if ok else "not met",
             "%s %s %s%s%s" % (system, fmt(a["value"]), a["unit"], at(a), (" (peers: %s)" % ptxt) if ptxt else ""))

    G = "allocator"
    abs_target(G, "32-byte alloc+free pair ≤ 60 instructions (callgrind, ballast 32)", "alloc_pair_32_instr", "rcgc",
               "instructions_per_pair", 60, peers=("mimalloc", "jemalloc", "pymalloc", "glibc"))
    ai, gi = R.get("alloc_pair_32_instr", "rcgc", "instructions_per_pair"), R.get("alloc_pair_32_instr", "glibc", "instructions_per_pair")
    if ai and gi and out[-1]["status"] in ("met", "not met"):
        out[-1]["note"] = "%.2f× glibc (allocator.md 7.3 also asks ≤ 0.5× glibc)" % (ai["value"] / gi["value"])
    abs_target(G, "32-byte alloc+free pair, ballast 0 (reported; gate is ballast 32)", "alloc_pair_32_instr_ballast0", "rcgc",
               "instructions_per_pair", 60, peers=("mimalloc", "jemalloc", "pymalloc", "glibc"))
    ratio_target(G, "32-byte alloc+free pair no slower than mimalloc (wall time)", "alloc_pair_32", "time_per_pair", "mimalloc", 1.0)
    ratio_target(G, "random replacement in a live set of 1M blocks no slower than jemalloc", "alloc_churn_1m", "time_per_op", "jemalloc", 1.0)
    abs_target(G, "bytes per live 32-byte block ≤ 1.02×32 = 32.64", "alloc_rss_32", "rcgc", "bytes_per_block", 32.64,
               peers=("mimalloc", "jemalloc", "pymalloc", "glibc"))
    abs_target(G, "RSS after freeing everything within 10% of start", "alloc_rss_32", "rcgc", "rss_after_free_growth", 10,
               peers=("mimalloc", "jemalloc", "pymalloc", "glibc"))
    abs_target(G, "heap walk ≤ 5 ns/object over 1M live objects", "alloc_walk_1m", "rcgc", "time_per_object", 5, peers=("mimalloc",))
    h, hm = R.get("alloc_walk_1m_holes", "rcgc", "time_per_object"), R.get("alloc_walk_1m_holes", "mimalloc", "time_per_object")
    if h and out[-1]["status"] in ("met", "not met"):
        out[-1]["note"] = "with every third block freed (alloc_walk_1m_holes): rcgc %s ns%s" % (
            fmt(h["value"]), (", mimalloc %s ns" % fmt(hm["value"])) if hm else "")

    G = "collector"
    ratio_target(G, "full collection of 1M live objects (rings of 10, 3 pointer fields) ≤ 1.0× bdwgc", "ring_live_1m", "time_full", "bdwgc", 1.0)
    ratio_target(G, "full collection of 1M live objects ≤ 0.25× CPython", "ring_live_1m", "time_full", "cpython", 0.25)
    ratio_target(G, "collecting 1M objects of cyclic garbage, freeing included, ≤ 0.2× CPython", "ring_garbage_1m", "time_full", "cpython", 0.2)
    ratio_target(G, "gc_traversal shape ≤ 0.25× CPython (full collection)", "gc_traversal", "time_full", "cpython", 0.25)
    abs_target(G, "young collection with 10M old objects: p99 < 100 µs (wall clock)", "young_pause_10m", "rcgc", "pause_p99", 100,
               better="lt", peers=("cpython",))
    cp = R.get("young_pause_10m", "rcgc", "pause_cpu_p99")
    if cp and out[-1]["status"] in ("met", "not met"):
        out[-1]["note"] = "thread CPU time p99 %s us (excludes time descheduled by other processes)" % fmt(cp["value"])
    # header + linkage = RSS per object beyond the payload (smallest over four payloads, so no
    # size-class rounding) minus the pool's own per-block page metadata, which the same run
    # measures in alloc_rss_32 (RSS per 32-byte block - 32)
    tgt = "memory per tracked object ≤ 24 bytes of header+linkage"
    ov, blk = R.get("gc_object_bytes", "rcgc", "overhead_per_object"), R.get("alloc_rss_32", "rcgc", "bytes_per_block")
    if ov and blk:
        meta = max(0.0, blk["value"] - 32)
        hl = ov["value"] - meta
        peers = "; ".join("%s %s B" % (p, fmt(x["value"])) for p, x in
                          (("cpython", R.get("gc_object_bytes", "cpython", "overhead_per_object")),
                           ("bdwgc", R.get("gc_object_bytes", "bdwgc", "overhead_per_object"))) if x)
        om = [(p, R.get("gc_object_bytes", p, "overhead_mean")) for p in ("rcgc", "cpython", "bdwgc")]
        line(G, tgt, "met" if hl <= 24 else "not met",
             "rcgc %.1f B: RSS per object beyond the payload %s B (smallest over payloads 8/16/24/32) − %.2f B of "
             "pool page metadata per block (alloc_rss_32: %s B per 32-byte block); header %s B (peers, RSS beyond "
             "payload: %s)" % (hl, fmt(ov["value"]), meta, fmt(blk["value"]),
                               fmt(R.get("gc_object_bytes", "rcgc", "header_bytes")["value"]) if R.get("gc_object_bytes", "rcgc", "header_bytes") else "?",
                               peers),
             "mean over the four payloads, size-class rounding included: " +
             ", ".join("%s %s B" % (p, fmt(x["value"])) for p, x in om if x))
    else:
        missing(G, tgt, [("gc_object_bytes", "rcgc", "overhead_per_object"), ("alloc_rss_32", "rcgc", "bytes_per_block")])

    G = "free-threaded"
    a, b = R.get("incref_decref", "rcgc_t", "time_per_pair"), R.get("incref_decref", "rcgc", "time_per_pair")
    ai, bi = R.get("incref_decref_instr", "rcgc_t", "instructions_per_pair"), R.get("incref_decref_instr", "rcgc", "instructions_per_pair")
    tgt = "owner incref/decref pair ≤ 1.2× default (verdict on callgrind instructions, the stable count; wall time shown)"
    if ai and bi:
        ratio = ai["value"] / bi["value"]
        wall = ""
        if a and b:
            wall = "; wall time %s ns vs %s ns = %.2f×" % (fmt(a["value"]), fmt(b["value"]), a["value"] / b["value"])
        line(G, tgt, "met" if ratio <= 1.2 else "not met",
             "rcgc_t %s vs rcgc %s instructions per pair = %.2f×%s" % (fmt(ai["value"]), fmt(bi["value"]), ratio, wall))
    elif a and b:
        ratio = a["value"] / b["value"]
        line(G, tgt, "met" if ratio <= 1.2 else "not met",
             "rcgc_t %s ns vs rcgc %s ns = %.2f× (wall time; no instruction counts in this run)" % (fmt(a["value"]), fmt(b["value"]), ratio))
    else:
        missing(G, tgt, [("incref_decref_instr", "rcgc_t", "instructions_per_pair"), ("incref_decref_instr", "rcgc", "instructions_per_pair")])
    a, b = R.get("gcbench", "rcgc_t", "time"), R.get("gcbench", "rcgc", "time")
    if a and b:
        ratio = a["value"] / b["value"]
        line(G, "GCBench single-threaded ≤ 1.10× default", "met" if ratio <= 1.10 else "not met",
             "rcgc_t %s ms vs rcgc %s ms = %.2f×" % (fmt(a["value"]), fmt(b["value"]), ratio))
    else:
        missing(G, "GCBench single-threaded ≤ 1.10× default", [("gcbench", "rcgc_t", "time"), ("gcbench", "rcgc", "time")])
    # the free-threaded collector (bench programs call it and record nothing while it fails)
    abs_target(G, "young collection with 10M old objects: p99 < 100 µs (wall clock), as in the default build",
               "young_pause_10m", "rcgc_t", "pause_p99", 100, better="lt", peers=("rcgc",))
    cp = R.get("young_pause_10m", "rcgc_t", "pause_cpu_p99")
    if cp and out[-1]["status"] in ("met", "not met"):
        out[-1]["note"] = "thread CPU time p99 %s us" % fmt(cp["value"])
    tgt = "full collection ns/object ≤ 1.2× default (live heap of 1M objects)"
    a, b = R.get("ring_live_1m", "rcgc_t", "time_per_object"), R.get("ring_live_1m", "rcgc", "time_per_object")
    if a and b:
        ratio = a["value"] / b["value"]
        ga, gb = R.get("ring_garbage_1m", "rcgc_t", "time_per_object"), R.get("ring_garbage_1m", "rcgc", "time_per_object")
        line(G, tgt, "met" if ratio <= 1.2 else "not met",
             "rcgc_t %s ns vs rcgc %s ns = %.2f×%s" % (fmt(a["value"]), fmt(b["value"]), ratio, at(a)),
             ("cyclic garbage, freeing included (ring_garbage_1m): rcgc_t %s ns vs rcgc %s ns" % (fmt(ga["value"]), fmt(gb["value"])))
             if ga and gb else "")
    else:
        missing(G, tgt, [("ring_live_1m", "rcgc_t", "time_per_object"), ("ring_live_1m", "rcgc", "time_per_object")])
    abs_target(G, "2 threads private alloc/free ≥ 1.8× one thread (throughput)", "alloc_mt_private", "rcgc_t", "speedup_2t", 1.8,
               better="ge", peers=("rcgc", "mimalloc", "jemalloc", "glibc"))
    # two threads need two free cores: say so when no peer scaled either
    sp = [R.get("alloc_mt_private", p, "speedup_2t") for p in ("mimalloc", "jemalloc", "glibc")]
    sp = [x["value"] for x in sp if x]
    if sp and max(sp) < 1.5 and out[-1]["status"] in ("met", "not met"):
        out[-1]["note"] = ("no peer reached 1.5× either (best %.2f×): this run did not have two idle cores, "
                           "so the figure says little about rcgc_t" % max(sp))
    # the scaling suite (bench/mt/scalebench.c): objects, not just allocator blocks
    yard = R.get("scale_compute", "rcgc_t", "speedup_2t")

    def yardstick():
        if not yard:
            return ""
        return ("compute-only yardstick in the same run: %.2f×%s" %
                (yard["value"], " (under 1.5×: this run did not have two idle cores, so the figure says little)"
                 if yard["value"] < 1.5 else ""))
    abs_target(G, "2 threads creating and dropping private tracked objects ≥ 1.8× one thread (scale_private_alloc)",
               "scale_private_alloc", "rcgc_t", "speedup_2t", 1.8, better="ge", peers=("rcgc",))
    if out[-1]["status"] in ("met", "not met"):
        out[-1]["note"] = yardstick()
    tgt = "one object shared by all threads: the inherent limit of biased reference counting (measured, no target)"
    recs = sorted(((int(m[len("speedup_"):-1]), x) for (b, sy, m), x in R.r.items()
                   if b == "scale_shared_object" and sy == "rcgc_t" and m.startswith("speedup_")), key=lambda t: t[0])
    one = R.get("scale_shared_object", "rcgc_t", "time_per_op_1t")
    if recs and one:
        line(G, tgt, "reported",
             "rcgc_t %s ns per incref+decref pair with 1 thread (non-owner: two atomic adds); throughput %s" %
             (fmt(one["value"]), ", ".join("%s× at %d threads" % (fmt(x["value"]), n) for n, x in recs)),
             "every pair writes the same cache line, so it cannot scale; shared immortal objects do not write "
             "(scale_shared_immortal), nor do objects a thread owns; " + yardstick())
    else:
        missing(G, tgt, [("scale_shared_object", "rcgc_t", "speedup_2t")])
    for t in out:
        if quick and t["status"] in ("met", "not met"):
            t["note"] = (t["note"] + "; " if t["note"] else "") + "quick mode: sizes reduced, indicative only"
    return out


# ---- plots -----------------------------------------------------------------------
PLOT_SYSTEMS = ["rcgc", "rcgc_t", "bdwgc", "cpython"]
COLORS = {"rcgc": "#9400d3", "rcgc_t": "#e69f00", "bdwgc": "#009e73", "cpython": "#56b4e9", "glibc": "#0072b2",
          "mimalloc": "#d55e00", "jemalloc": "#f0e442", "pymalloc": "#cc79a7"}


def lc(system):
    return " lc rgb '%s'" % COLORS.get(system, "#000000")


def write_series(R, out_dir, bench_prefix, metric):
    """data file per system: objects value min max"""
    files = {}
    for s in PLOT_SYSTEMS:
        rows = []
        for size in ("100k", "1m", "10m"):
            rec = R.get("%s_%s" % (bench_prefix, size), s, metric)
            if rec and "objects" in rec["params"]:
                rows.append((float(rec["params"]["objects"]), rec["value"], rec["min"], rec["max"]))
        if rows:
            path = os.path.join(out_dir, "plot-%s.%s.dat" % (bench_prefix, s))
            with open(path, "w") as f:
                for r in rows:
                    f.write("%g %g %g %g\n" % r)
            files[s] = path
    return files


def gnuplot(script):
    if not shutil.which("gnuplot"):
        return None
    p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True, timeout=60)
    return p.stdout if p.returncode == 0 else None


def plots(R, out_dir, samples_dir):
    made, ascii_art = [], {}
    # cost per object vs heap size, live and garbage
    for prefix, title in (("ring_live", "full collection of a live heap"),
                          ("ring_garbage", "collecting cyclic garbage (freeing included)")):
        files = write_series(R, out_dir, prefix, "time_per_object")
        if not files:
            continue
        plot_cmd = ", ".join("'%s' using 1:2:3:4 with yerrorlines%s title '%s'" % (p, lc(s), s) for s, p in files.items())
        common = ("set logscale x; set logscale y; set xlabel 'objects (rings of 10 nodes, 3 pointer fields)'; "
                  "set ylabel 'ns per object'; set key outside right; set grid;\n")
        png = os.path.join(out_dir, "cost_per_object_%s.png" % prefix)
        if gnuplot("set terminal pngcairo size 900,500 noenhanced; set output '%s'; set title '%s: cost per object vs heap size';\n%splot %s\n"
                   % (png, title, common, plot_cmd)) is not None or os.path.exists(png):
            if not os.path.exists(png):  # pngcairo missing: fall back to the png terminal
                gnuplot("set terminal png size 900,500; set output '%s'; set title '%s';\n%splot %s\n" % (png, title, common, plot_cmd))
            if os.path.exists(png):
                made.append(png)
        txt = gnuplot("set terminal dumb size 100,28 noenhanced; set title '%s: ns per object vs objects';\n%splot %s\n"
                      % (title, common.replace("set key outside right;", "set key top right;"),
                         re.sub(r" lc rgb '#[0-9a-f]+'", "", plot_cmd.replace("yerrorlines", "linespoints"))))
        if txt:
            ascii_art[prefix] = txt
    # pause distributions: one CDF per benchmark with per-collection samples
    by_bench = {}
    if samples_dir and os.path.isdir(samples_dir):
        for fn in sorted(os.listdir(samples_dir)):
            m = re.match(r"(.+)\.([a-z_]+)\.txt$", fn)
            if m and m.group(2) in SYSTEMS:
                by_bench.setdefault(m.group(1), {})[m.group(2)] = os.path.join(samples_dir, fn)
    titles = {"young_pause_10m": "young collections with a large old generation",
              "gc_collect": "pyperformance gc_collect: one full collection of 2,100 garbage objects"}
    for bench, sfiles in sorted(by_bench.items()):
        def count(p):
            with open(p) as f:
                return sum(1 for _ in f)
        plot_cmd = ", ".join("'%s' using 1:($0/%d) with lines lw 2%s title '%s'" % (p, max(1, count(p) - 1), lc(s), s)
                             for s, p in sfiles.items())
        common = ("set logscale x; set xlabel 'pause (us, wall clock)'; set ylabel 'fraction of collections <= x'; "
                  "set key bottom right; set grid; set yrange [0:1];\n")
        title = titles.get(bench, bench)
        png = os.path.join(out_dir, "pause_distribution_%s.png" % bench)
        gnuplot("set terminal pngcairo size 900,500 noenhanced; set output '%s'; set title '%s (CDF)';\n%splot %s\n"
                % (png, title, common, plot_cmd))
        if not os.path.exists(png):
            gnuplot("set terminal png size 900,500; set output '%s';\n%splot %s\n" % (png, common, plot_cmd))
        if os.path.exists(png):
            made.append(png)
        txt = gnuplot("set terminal dumb size 100,28 noenhanced; set title '%s (CDF)';\n%splot %s\n"
                      % (title, common, re.sub(r" lw 2 lc rgb '#[0-9a-f]+'", "", plot_cmd)))
        if txt:
            ascii_art["pauses:" + bench] = (title, txt)
    # allocator pairs by size
    rows = []
    names = ["alloc_pair_16", "alloc_pair_32", "alloc_pair_64", "alloc_pair_128", "alloc_pair_256", "alloc_pair_512",
             "alloc_pair_mix", "alloc_lifo_1k", "alloc_fifo_1m", "alloc_churn_100k", "alloc_churn_1m"]
    allocs = [s for s in ("rcgc", "rcgc_t", "glibc", "mimalloc", "jemalloc", "pymalloc")
              if any(R.get(n, s, "time_per_pair") or R.get(n, s, "time_per_op") for n in names)]
    if allocs:
        path = os.path.join(out_dir, "plot-alloc.dat")
        with open(path, "w") as f:
            f.write("bench " + " ".join(allocs) + "\n")
            for n in names:
                vals = []
                for s in allocs:
                    rec = R.get(n, s, "time_per_pair") or R.get(n, s, "time_per_op")
                    vals.append(str(rec["value"]) if rec else "NaN")
                f.write(n.replace("alloc_", "") + " " + " ".join(vals) + "\n")
        png = os.path.join(out_dir, "alloc_time.png")
        cols = ", ".join("'%s' using %d:xtic(1)%s title columnheader(%d)" % (path, i + 2, lc(allocs[i]), i + 2)
                         for i in range(len(allocs)))
        gnuplot("set terminal pngcairo size 1100,500 noenhanced; set output '%s'; set style data histograms; set style fill solid 0.8 border -1;"
                "set logscale y; set ylabel 'ns per pair / per op'; set title 'allocator loops (lower is better)'; set key outside right;"
                "set xtics rotate by -30; set grid ytics;\nplot %s\n" % (png, cols))
        if os.path.exists(png):
            made.append(png)
    return made, ascii_art


# ---- markdown ----------------------------------------------------------------------
SECTIONS = [
    ("Allocator", lambda b: b.startswith("alloc_")),
    ("Reference counting", lambda b: b.startswith("incref")),
    ("GCBench and binary-trees", lambda b: b.startswith("gcbench") or b.startswith("binary_trees")),
    ("Collector shapes", lambda b: b.startswith(("gc_", "ring_", "young_"))),
    ("Graph mutation, finalizers, weak references", lambda b: b.startswith(("dumpster", "finalizer", "weakref"))),
    ("Thread scaling", lambda b: b.startswith("scale_")),
]

SCALE_KINDS = ["compute", "private_alloc", "shared_object", "shared_immortal", "shared_lookup"]


def scaling_table(R):
    """Speedup over one thread per kind and thread count (scalebench), both flavours."""
    counts = sorted({int(m.split("_")[-1][:-1]) for (b, s, m) in R.r if b.startswith("scale_") and
                     m.startswith("throughput_")})
    if not counts:
        return ""
    lines = ["| workload | system | ns/op, 1 thread | " + " | ".join("%d threads" % n for n in counts[1:]) + " |",
             "|---|---|---|" + "---|" * len(counts[1:])]
    for k in SCALE_KINDS:
        for s in ("rcgc", "rcgc_t"):
            one = R.get("scale_" + k, s, "time_per_op_%dt" % counts[0])
            if not one:
                continue
            cells = []
            for n in counts[1:]:
                x = R.get("scale_" + k, s, "speedup_%dt" % n)
                cells.append(("%s×" % fmt(x["value"])) if x else "-")
            lines.append("| %s | %s | %s | %s |" % (k, s, fmt(one["value"]), " | ".join(cells)))
    return "\n".join(lines) + "\n"



def results_table(records):
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in records)]
    keys = []
    params = {}
    for r in records:
        k = (r["benchmark"], r["metric"], r["unit"])
        if k not in keys:
            keys.append(k)
        params.setdefault(r["benchmark"], r["params"])
    by = {(r["benchmark"], r["metric"], r["system"]): r for r in records}
    lines = []
    done = set()
    for title, pred in SECTIONS + [("Other", lambda b: True)]:
        ks = [k for k in keys if pred(k[0]) and k not in done]
        if not ks:
            continue
        done.update(ks)
        lines.append("\n### %s\n" % title)
        lines.append("| benchmark | metric | unit | " + " | ".join(systems) + " |")
        lines.append("|---|---|---|" + "---|" * len(systems))
        for b, m, u in ks:
            lines.append("| %s | %s | %s | %s |" % (b, m, u, " | ".join(cell(by.get((b, m, s))) for s in systems)))
    lines.append("\nSizes used (params of each benchmark's records):\n")
    for b in sorted(params):
        lines.append("- `%s`: %s" % (b, params_str(params[b]) or "-"))
    return "\n".join(lines) + "\n"


def environment(args):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    cpu = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
    except OSError:
        pass
    commit = sh("git rev-parse --short HEAD") or "unknown"
    dirty = sh("git status --porcelain --untracked-files=no -- src include bench tools CMakeLists.txt")
    pk = []
    for p in ("libgc1", "libmimalloc2.0", "libjemalloc2", "libpython3.11", "valgrind", "gnuplot-nox"):
        v = sh("dpkg-query -W -f='${Version}' %s 2>/dev/null" % p)
        if v:
            pk.append("%s %s" % (p, v))
    pyv = sh("%s -c 'import sys; print(sys.version.split()[0])'" % (shutil.which("python3") if not os.path.exists("/usr/bin/python3") else "/usr/bin/python3"))
    return {
        "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "machine": "%s, %s cores, %s RAM, %s %s" % (cpu or platform.processor(), os.cpu_count(), mem, platform.system(), platform.release()),
        "compiler": sh("cc --version | head -1"),
        "commit": args.commit or (commit + (" (+ uncommitted changes in src/include/bench/tools)" if dirty else "")),
        "peers": ", ".join(pk) + ("; CPython %s (/usr/bin/python3)" % pyv if pyv else ""),
        "mode": "quick (BENCH_QUICK=1: reduced sizes, 1 repetition)" if args.quick else "full",
        "elapsed": "%s s" % args.elapsed if args.elapsed else "?",
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--doc")
    ap.add_argument("--samples")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--commit", help="the commit measured (default: HEAD now)")
    args = ap.parse_args()

    records = load(args.raw)
    status = load_status(args.status)
    R = Results(records, status)
    env = environment(args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(records, f, indent=1)
    tg = targets(R, args.quick)
    with open(os.path.join(args.out, "targets.json"), "w") as f:
        json.dump(tg, f, indent=1)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(env, f, indent=1)
    made, ascii_art = plots(R, args.out, args.samples)

    head = []
    head.append("- mode: %s; run time %s; %s" % (env["mode"], env["elapsed"], env["date"]))
    head.append("- machine: %s" % env["machine"])
    head.append("- compiler: %s" % env["compiler"])
    head.append("- commit: %s" % env["commit"])
    head.append("- peers: %s" % env["peers"])
    table = results_table(records)
    tlines = ["| group | target | figure | status |", "|---|---|---|---|"]
    for t in tg:
        fig = t["figure"] + ((" — " + t["note"]) if t["note"] else "")
        tlines.append("| %s | %s | %s | **%s** |" % (t["group"], t["target"], fig.replace("|", "/"), t["status"]))
    failures = ["| job | system | state | why |", "|---|---|---|---|"]
    for (job, system), (state, why) in sorted(status.items()):
        failures.append("| %s | %s | %s | %s |" % (job, system, state, why.replace("|", "/")))

    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("# rcgc benchmark results\n\n" + "\n".join(head) + "\n\nCells: median (min–max) over n repetitions.\n")
        f.write("\n## Targets\n\n" + "\n".join(tlines) + "\n")
        f.write("\n## Results\n" + table)
        if len(failures) > 2:
            f.write("\n## Jobs that recorded nothing\n\n" + "\n".join(failures) + "\n")
    print("wrote %s (%d records), results.md, %d plots" % (os.path.join(args.out, "results.json"), len(records), len(made)))

    if args.doc:
        rel = os.path.relpath(args.out, os.path.dirname(os.path.abspath(args.doc)))
        d = []
        d.append("# Performance\n")
        d.append("<!-- Generated by tools/bench-report.py from build/bench/results.json (`make bench`); do not edit by hand. -->\n")
        d.append("Every figure below comes from `make bench` (`tools/run-bench.sh`): one C source per workload, one binary "
                 "per system, systems alternating within each repetition; cells are the median with (min–max) over the "
                 "repetitions. Workloads and each peer's setup: [bench/README.md](../bench/README.md).\n")
        d.append("\n".join(head) + "\n")
        d.append("## Targets (allocator and collector issues)\n")
        d.append("A target whose subject is missing, not built, or fails its benchmark's correctness check is "
                 "reported as *not measurable yet*, never as met. Wall-clock comparisons on a shared 2-core machine "
                 "swing by ±10% or more; the callgrind instruction counts are deterministic.\n")
        d.append("\n".join(tlines) + "\n")
        d.append("## Plots\n")
        if made:
            d.append("PNG files (gnuplot) written next to results.json: " +
                     ", ".join("[%s](%s/%s)" % (os.path.basename(p), rel, os.path.basename(p)) for p in made) + ".\n")
        for k, title in (("ring_live", "Full collection of a live heap: ns per object vs heap size"),
                         ("ring_garbage", "Collecting cyclic garbage (freeing included): ns per object vs heap size")):
            if k in ascii_art:
                d.append("### %s\n\n```\n%s\n```\n" % (title, ascii_art[k].rstrip()))
        for k in sorted(ascii_art):
            if k.startswith("pauses:"):
                title, txt = ascii_art[k]
                d.append("### Pause distribution: %s (CDF)\n\n```\n%s\n```\n" % (title, txt.rstrip()))
        st = scaling_table(R)
        if st:
            d.append("## Thread scaling\n")
            d.append("`bench/mt/scalebench.c` (ftscalingbench-style): every thread runs the same loop; cells are the "
                     "throughput with N threads over the throughput with one (ideal = N), wall time from the first "
                     "worker's start to the last one's end. `compute` touches nothing shared and is the yardstick "
                     "of what this run's machine allowed; in the default build attached threads take turns on the "
                     "global lock, so nothing scales there by design. `shared_object` is one object incref'd and "
                     "decref'd by every thread (not its owner): the inherent limit of biased reference counting.\n")
            d.append(st)
        d.append("## Reading the numbers\n")
        d.append("- bdwgc sweeps lazily: its timed `GC_gcollect()` marks the live data and queues garbage for reuse; "
                 "most of the cost of freeing garbage is paid by later allocations, so `ring_garbage_*` and `gc_collect` "
                 "show bdwgc's marking cost, while rcgc and CPython free every object inside the collection.\n"
                 "- Wall-clock pause tails (`pause_p99`, `pause_max`, `max_pause`) include time the thread was "
                 "descheduled; on a shared machine that is often a whole scheduler slice (4 ms or more). "
                 "`pause_cpu_*` are the same pauses in thread CPU time.\n"
                 "- `alloc_mt_private` needs two idle cores; compare rcgc_t with the peers of the same run.\n"
                 "- Sizes are in the `params` of every record (table below); the heaviest jobs (binary-trees at "
                 "depth 21, 10M-object heaps) run once per `make bench` (n = 1).\n")
        d.append("## All results\n\nCells: median (min–max) over n repetitions.\n" + table)
        if len(failures) > 2:
            d.append("\n## Jobs that recorded nothing in this run\n\n" + "\n".join(failures) + "\n")
        with open(args.doc, "w") as f:
            f.write("\n".join(d))
        print("wrote %s" % args.doc)


if __name__ == "__main__":
    main()
