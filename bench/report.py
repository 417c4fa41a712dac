#!/usr/bin/env python3
"""Summarise bench/pipeline.sh's results.

Usage: report.py GO_BENCH.txt GO_BENCH_CPU1.txt PYYAML.tsv

Reads `go test -bench` output (several -count runs per benchmark) and the PyYAML baseline
timings, and prints Markdown tables: every benchmark's median ns/op (with min and max),
B/op, allocs/op; bytes and allocations per action for the generated projects; the
baseline side by side with Haven; and the verdict on the 5,000-action targets.
"""
import re
import statistics
import sys

LINE = re.compile(r"^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$")
TARGET_NS = 50e6  # 50 ms
# Baseline workload name -> Go benchmark name.
WORKLOADS = {
    "corpus": "BenchmarkParseCorpus",
    "chain-5000": "BenchmarkParseGenerated/shape=chain/actions=5000",
    "fan-5000": "BenchmarkParseGenerated/shape=fan/actions=5000",
}


def read_go(path):
    """{(name, procs): {unit: [values...]}} in first-seen order."""
    runs = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line.strip())
            if not m:
                continue
            name, procs, rest = m.group(1), int(m.group(2) or 1), m.group(4)
            fields = rest.split()
            d = runs.setdefault((name, procs), {})
            for val, unit in zip(fields[0::2], fields[1::2]):
                d.setdefault(unit, []).append(float(val))
    return runs


def med(d, unit):
    return statistics.median(d[unit]) if unit in d else float("nan")


def ms(ns):
    return f"{ns / 1e6:.2f} ms"


def actions_of(name):
    m = re.search(r"actions=(\d+)", name)
    return int(m.group(1)) if m else (2191 if "Corpus" in name else None)


def table(runs, title):
    print(f"### {title}\n")
    print("| benchmark | GOMAXPROCS | runs | ns/op (median) | min–max | ns/action | MB/s | B/op | allocs/op |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, procs), d in runs.items():
        ns = d["ns/op"]
        npa = f"{med(d, 'ns/action'):,.0f}" if "ns/action" in d else "–"
        print(f"| {name} | {procs} | {len(ns)} | {statistics.median(ns):,.0f} ({ms(statistics.median(ns))}) "
              f"| {min(ns) / 1e6:.2f}–{max(ns) / 1e6:.2f} ms | {npa} | {med(d, 'MB/s'):.2f} "
              f"| {med(d, 'B/op'):,.0f} | {med(d, 'allocs/op'):,.0f} |")
    print()


def main():
    go_all, go_cpu1, py_path = sys.argv[1:4]
    runs, runs1 = read_go(go_all), read_go(go_cpu1)
    py = {}
    with open(py_path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, median, lo, hi, reps, n_actions = line.split("\t")
            py[name] = (float(median), float(lo), float(hi), int(reps), int(n_actions))

    table(runs, "All benchmarks (default GOMAXPROCS)")
    table(runs1, "One core (-cpu 1)")

    print("### Memory and time per action (generated projects, default GOMAXPROCS)\n")
    print("The marginal column is the extra B/op per extra action since the next smaller size.\n")
    print("| shape | actions | B/op | B/op per action | marginal B per action | allocs/op per action | ns/op per action |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    per_action = {}
    prev = {}
    for (name, procs), d in runs.items():
        if not name.startswith("BenchmarkParseGenerated/"):
            continue
        shape = re.search(r"shape=(\w+)", name).group(1)
        n = actions_of(name)
        b = med(d, "B/op")
        per_action.setdefault(shape, []).append((n, b / n))
        marginal = "–"
        if shape in prev:
            pn, pb = prev[shape]
            marginal = f"{(b - pb) / (n - pn):,.0f}"
        prev[shape] = (n, b)
        print(f"| {shape} | {n:,} | {b:,.0f} | {b / n:,.0f} | {marginal} | {med(d, 'allocs/op') / n:.1f} "
              f"| {med(d, 'ns/op') / n:,.0f} |")
    print()

    print("### Baseline: PyYAML pure-Python SafeLoader (load only) vs Haven Parse (load + validate)\n")
    print("| workload | actions | Haven ns/op (GOMAXPROCS default) | Haven ns/op (-cpu 1) | PyYAML median (min–max, reps) "
          "| ratio PyYAML/Haven | ratio PyYAML/Haven (-cpu 1) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for wl, bench in WORKLOADS.items():
        if wl not in py:
            continue
        p_med, p_lo, p_hi, reps, n_actions = py[wl]
        h = [d for (name, _), d in runs.items() if name == bench]
        h1 = [d for (name, _), d in runs1.items() if name == bench]
        if not h:
            print(f"| {wl} | {n_actions:,} | (not run) | | {p_med:.3f} s | | |")
            continue
        hn = med(h[0], "ns/op")
        h1n = med(h1[0], "ns/op") if h1 else float("nan")
        print(f"| {wl} | {n_actions:,} | {hn:,.0f} ({ms(hn)}) | {h1n:,.0f} ({ms(h1n)}) "
              f"| {p_med:.3f} s ({p_lo:.3f}–{p_hi:.3f}, {reps}) | {p_med * 1e9 / hn:.1f}× | {p_med * 1e9 / h1n:.1f}× |")
    print()

    print("### Targets\n")
    for shape in ("chain", "fan"):
        bench = f"BenchmarkParseGenerated/shape={shape}/actions=5000"
        h1 = [d for (name, _), d in runs1.items() if name == bench]
        if h1:
            v = med(h1[0], "ns/op")
            verdict = "MET" if v < TARGET_NS else "MISSED"
            print(f"- 5,000-action {shape} on one core, default GOGC: median {ms(v)} "
                  f"(max {max(h1[0]['ns/op']) / 1e6:.2f} ms) vs target 50 ms: **{verdict}**")
        cli = [d for (name, _), d in runs1.items() if name == f"BenchmarkParseGeneratedCLI/shape={shape}/actions=5000"]
        if cli:
            v = med(cli[0], "ns/op")
            verdict = "MET" if v < TARGET_NS else "MISSED"
            print(f"- 5,000-action {shape} on one core, GOGC as `haven check` sets it (400): median {ms(v)} "
                  f"(max {max(cli[0]['ns/op']) / 1e6:.2f} ms) vs target 50 ms: **{verdict}**")
    for shape, pts in per_action.items():
        pts.sort()
        vals = [b for _, b in pts]
        spread = max(vals) / min(vals)
        verdict = "linear" if spread < 1.15 else "NOT linear"
        desc = ", ".join(f"{n:,}: {b:,.0f} B" for n, b in pts)
        print(f"- memory per action, {shape}: {desc}; max/min = {spread:.3f}: **{verdict}** (within 15%)")


if __name__ == "__main__":
    main()
