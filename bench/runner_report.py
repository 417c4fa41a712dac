#!/usr/bin/env python3
"""Summarise bench/runner.sh's measurements: medians, ratios, per-job
overhead and the verdict on each target, as Markdown.

Usage: runner_report.py MEASUREMENTS.txt N OUT_DIR
MEASUREMENTS.txt is runner.sh's TSV (tool, n, rep, wall_s, max_rss_kb,
attempts; wall_s NA when every attempt failed); OUT_DIR also holds
runner-failures.txt (one row per failed attempt) and the
runner-<tool>-n<N>-r<R>-rss.txt samples (t_s, outputs, vm_rss_kb,
vm_hwm_kb) taken while haven ran.
"""
import csv, glob, os, statistics, sys

WORKERS = 2
TARGET_RATIO_MAKE = 1.5
TARGET_SNAKE_SPEEDUP = 10.0
TARGET_PER_JOB_MS = 5.0
FLAT_GROWTH = 0.10  # VmRSS may grow at most 10% from 10% to 90% of jobs completed
HAVENS = (("haven", "`haven run run_all -j 2 --executor local`"),
          ("haven-inproc", "haven's runner in-process (`bench/runnerbench -j 2`)"))

meas_file, N, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = list(csv.DictReader(open(meas_file), delimiter="\t"))
fail_file = os.path.join(out, "runner-failures.txt")
fails = list(csv.DictReader(open(fail_file), delimiter="\t")) if os.path.exists(fail_file) else []
HAVENS = tuple(h for h in HAVENS if any(r["tool"] == h[0] for r in rows))


def values(tool, n, col):
    return [float(r[col]) for r in rows if r["tool"] == tool and int(r["n"]) == n and r[col] != "NA"]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs, fmt):
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(med(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def attempts(tool, n):
    """(failed attempts, all attempts) of a tool at n."""
    f = sum(1 for r in fails if r["tool"] == tool and int(r["n"]) == n)
    ok = len(values(tool, n, "wall_s"))
    return f, f + ok


def verdict(ok):
    return "met" if ok else "**missed**"


wall = {t: values(t, N, "wall_s") for t in ("make", "snakemake", "haven", "haven-inproc", "bare")}
rss = {t: values(t, N, "max_rss_kb") for t in ("make", "snakemake", "haven", "haven-inproc")}
m = {t: med(v) for t, v in wall.items()}
bare_ms = m["bare"] * 1000 / N
reps = max(len(v) for v in wall.values())

print(f"### {N} actions, 2 workers: median of up to {reps} successful runs (min–max)\n")
print("| | wall time (s) | max RSS (MB) | per job per worker (wall × 2 / N) | beyond the bare process | failed runs |")
print("|---|---|---|---|---|---|")
for t, label in (("make", "`make -j2`"), ("snakemake", "`snakemake -j2`")) + HAVENS:
    slot = m[t] * 1000 * WORKERS / N
    f, a = attempts(t, N)
    print(f"| {label} | {spread(wall[t], '{:.2f}')} | {spread([x / 1024 for x in rss[t]], '{:.1f}')} | "
          f"{slot:.1f} ms | {slot - bare_ms:+.1f} ms | {f} of {a} |")
print(f"| the one-liner {N} times in a row (bare process cost) | {spread(wall['bare'], '{:.2f}')} | | {bare_ms:.1f} ms per start | | |")
print()

print("| target | " + " | ".join(f"`{t}`" for t, _ in HAVENS) + " |")
print("|---|" + "---|" * len(HAVENS))
cells = {"ratio": [], "speed": [], "over": [], "beyond": [], "fail": []}
for t, _ in HAVENS:
    if not wall[t]:
        for k in cells:
            cells[k].append("no successful run")
        continue
    ratio_make = m[t] / m["make"]
    speedup = m["snakemake"] / m[t]
    overhead = (m[t] - m["make"]) * WORKERS * 1000 / N
    beyond = m[t] * WORKERS * 1000 / N - bare_ms
    cells["ratio"].append(f"{ratio_make:.2f}× — {verdict(ratio_make <= TARGET_RATIO_MAKE)}")
    cells["speed"].append(f"{speedup:.2f}× — {verdict(speedup >= TARGET_SNAKE_SPEEDUP)}")
    cells["over"].append(f"{overhead:.1f} ms — {verdict(overhead <= TARGET_PER_JOB_MS)}")
    cells["beyond"].append(f"{beyond:.1f} ms — {verdict(beyond <= TARGET_PER_JOB_MS)}")
    f, a = attempts(t, N)
    cells["fail"].append(f"{f} of {a}")
print(f"| haven / make wall time ≤ {TARGET_RATIO_MAKE}× | " + " | ".join(cells["ratio"]) + " |")
print(f"| snakemake / haven wall time ≥ {TARGET_SNAKE_SPEEDUP:.0f}× | " + " | ".join(cells["speed"]) + " |")
print(f"| per-job overhead (haven − make) × 2 / N ≤ {TARGET_PER_JOB_MS:.0f} ms | " + " | ".join(cells["over"]) + " |")
print(f"| per-job time beyond the bare process, haven × 2 / N − bare / N ≤ {TARGET_PER_JOB_MS:.0f} ms | " + " | ".join(cells["beyond"]) + " |")
print("| runs that failed (each was run again, up to TRIES attempts) | " + " | ".join(cells["fail"]) + " |")
print()

# Memory series.
print("### haven against the number of actions\n")
print("| N | | wall time (s) | per job per worker | max RSS (MB) | VmRSS at 10% / 50% / 90% of outputs done (MB) | failed runs |")
print("|---|---|---|---|---|---|---|")
growth = {}
for n in sorted({int(r["n"]) for r in rows if r["tool"].startswith("haven")}):
    for t, _ in HAVENS:
        w, r = values(t, n, "wall_s"), values(t, n, "max_rss_kb")
        at = {0.1: [], 0.5: [], 0.9: []}
        for fn in sorted(glob.glob(os.path.join(out, f"runner-{t}-n{n}-r*-rss.txt"))):
            samples = list(csv.DictReader(open(fn), delimiter="\t"))
            if not samples or int(samples[-1]["outputs"]) < 0.9 * n:
                continue  # a failed run's samples
            for frac in at:
                hit = [s for s in samples if int(s["outputs"]) >= frac * n]
                if hit:
                    at[frac].append(float(hit[0]["vm_rss_kb"]) / 1024)
        if at[0.1] and at[0.9]:
            growth[(t, n)] = med(at[0.9]) / med(at[0.1]) - 1
        samp = " / ".join(f"{med(v):.1f}" if v else "n/a" for v in at.values())
        f, a = attempts(t, n)
        per = f"{med(w) * 1000 * WORKERS / n:.1f} ms" if w else "n/a"
        print(f"| {n} | `{t}` | {spread(w, '{:.2f}')} | {per} | {spread([x / 1024 for x in r], '{:.1f}')} | {samp} | {f} of {a} |")
print()
for t, _ in HAVENS:
    g = {n: v for (tt, n), v in growth.items() if tt == t}
    if g:
        worst = max(g.values())
        print(f"`{t}`: VmRSS growth from 10% to 90% of outputs done (median run; flat means ≤ {FLAT_GROWTH:.0%}): "
              + ", ".join(f"N={n}: {v:+.0%}" for n, v in sorted(g.items()))
              + f" — {verdict(worst <= FLAT_GROWTH)}")
    rs = [(n, med(values(t, n, "max_rss_kb")) / 1024) for n in sorted({int(r['n']) for r in rows if r['tool'] == t}) if values(t, n, "max_rss_kb")]
    if len(rs) > 1:
        (n0, r0), (n1, r1) = rs[0], rs[-1]
        print(f"`{t}`: max RSS from N={n0} to N={n1}: {r0:.1f} → {r1:.1f} MB "
              f"({(r1 - r0) / (n1 - n0) * 1024:.1f} KB per extra action, {r1 / r0:.2f}×)")
    print()

if fails:
    print("### failed runs\n")
    print("| tool | N | rep | attempt | wall (s) | outputs written | first internal error |")
    print("|---|---|---|---|---|---|---|")
    for r in fails:
        print(f"| {r['tool']} | {r['n']} | {r['rep']} | {r['attempt']} | {r['wall_s']} | {r['outputs_written']} | {r['first_internal_error'].replace('|', '/')} |")
