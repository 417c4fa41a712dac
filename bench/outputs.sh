#!/usr/bin/env bash
# Outputs benchmark: `haven outputs check` (the statistical disclosure
# checker, internal/disclosure) against a pandas script doing a fraction of
# its work, on two generated workloads, side by side:
#
#   big     one aggregated-looking CSV of about 150 MB (bench/outputsgen,
#           fixed seed): region, age_band, month (YYYY-MM), sex, eight
#           count columns (patients, cases, deaths, admissions, registered,
#           vaccinated, events, referrals), mostly multiples of 5, with
#           0.5% small values (1-7), 0.5% unrounded values and 0.5% zeros,
#           and pct_vaccinated. Timed:
#             haven outputs check --ignore-limits --json FILE > /dev/null
#             the same with GOMAXPROCS=1 (one core)
#             /usr/bin/python3 bench/pandas_checks.py FILE
#   tables  1,000 small tables (5-30 rows, 2-6 columns) in one folder:
#             haven outputs check --json DIR > /dev/null
#             /usr/bin/python3 bench/pandas_checks.py DIR  (one process)
#
# pandas_checks.py reads each file with pandas.read_csv and does ONLY the
# low-count check (0 < v <= 7) and the rounding check (v % 5 != 0) on the
# count columns; haven does those (C1, C3, C4) and everything else: column
# classes, zeros, totals, rates, the JSON report. haven exits 1 when it has
# findings, which it has: exit 0 or 1 is a successful run, anything else
# stops the benchmark. Before the timed runs, one untimed run of each
# (which also warms the page cache) is checked: haven's C1+C4 cells and C3
# cells per file and column must be exactly what pandas finds (0 < v <= 7,
# and v % 5 != 0 with v > 7), and pandas_checks.py's counts must match too,
# so both sides flag the same cells.
#
# Reported: wall time and max RSS from /usr/bin/time -v (CPU time beside
# them, which a busy machine disturbs less), the median of REPS interleaved
# repetitions (min-max), throughput = file size / wall time in MB/s (1 MB =
# 10^6 bytes), and the targets of the issue: haven at least 2x pandas'
# throughput and at least 200 MB/s on one core on the big file; the 1,000
# tables in under 2 s. Run from the repository root:
#
#   bash bench/outputs.sh
#
# Environment:
#   REPS=3            repetitions of every measurement (medians are reported)
#   MB=150            size of the big file (MB)
#   TABLES=1000       number of small tables
#   SEED=1            the generator's seed
#   VERIFY=1          0 to skip the untimed cross-check of haven and pandas
#   BENCH_OUT=DIR     where raw results go (default bench/results/<UTC date>)
#   BENCH_TMP=DIR     where the data is generated (default $TMPDIR or /tmp);
#                     a mktemp directory in it is removed on exit
#
# Everything runs the real interpreter, /usr/bin/python3 (a pyenv shim on
# PATH is a shell script that adds ~80 ms per start), with Debian's
# python3-pandas, installed here with apt-get when missing and running as
# root.
set -euo pipefail

cd "$(dirname "$0")/.."
REPS=${REPS:-3}
MB=${MB:-150}
TABLES=${TABLES:-1000}
SEED=${SEED:-1}
VERIFY=${VERIFY:-1}
PY=/usr/bin/python3
OUT=${BENCH_OUT:-bench/results/$(date -u +%F)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export LC_ALL=C.UTF-8
export NO_COLOR=1

die() {
	echo "outputs.sh: $*" >&2
	exit 1
}

[ -x "$PY" ] || die "$PY is missing: install it with: sudo apt-get install -y python3"
missing=()
[ -x /usr/bin/time ] || missing+=(time)
"$PY" -c 'import pandas' 2>/dev/null || missing+=(python3-pandas)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "== installing ${missing[*]}"
		apt-get update && apt-get install -y "${missing[@]}"
		"$PY" -c 'import pandas' || die "$PY still cannot import pandas"
	else
		die "install first: sudo apt-get install -y ${missing[*]}"
	fi
fi

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/haven-outputs.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== build"
go build -o "$WORK/haven" ./cmd/haven
go build -o "$WORK/outputsgen" ./bench/outputsgen
HAVEN=$WORK/haven

echo "== generate (seed $SEED)"
BIG=$WORK/big.csv
DIR=$WORK/tables
"$WORK/outputsgen" -big "$BIG" -mb "$MB" -tables "$DIR" -n "$TABLES" -seed "$SEED" 2>&1 | tee "$WORK/gen.txt"
BIG_BYTES=$(stat -c %s "$BIG")
DIR_BYTES=$(find "$DIR" -name '*.csv' -printf '%s\n' | awk '{s += $1} END {print s}')
DIR_FILES=$(find "$DIR" -name '*.csv' | wc -l)
[ "$DIR_FILES" = "$TABLES" ] || die "outputsgen wrote $DIR_FILES tables, not $TABLES"

echo "== machine"
{
	echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel: $(uname -r)"
	echo "go: $(go version)"
	echo "haven: $("$HAVEN" version 2>/dev/null | head -1)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (working tree has changes)')$([ -z "$(git ls-files --others --exclude-standard 2>/dev/null | head -1)" ] || echo ' (untracked files)')"
	if ! git diff --quiet 2>/dev/null; then
		echo "changed files: $(git diff --name-only | tr '\n' ' ')"
		echo "sha256 of git diff HEAD: $(git diff HEAD | sha256sum | cut -c1-16)"
	fi
	echo "python: $PY $("$PY" -c 'import sys, pandas; print(sys.version.split()[0], "pandas", pandas.__version__)')"
	echo "work dir: $WORK ($(df -T "$WORK" | awk 'NR==2 {print $2}') on $(df "$WORK" | awk 'NR==2 {print $1}'))"
	echo "big file: $BIG_BYTES bytes, $(grep -o '[0-9]* data rows' "$WORK/gen.txt"), sha256 $(sha256sum "$BIG" | cut -c1-16)"
	echo "tables: $DIR_FILES files, $DIR_BYTES bytes"
	echo "generator: outputsgen -mb $MB -n $TABLES -seed $SEED (defaults: -small 0.005 -unrounded 0.005 -zeros 0.005)"
	echo "repetitions: $REPS (interleaved)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "busiest processes at start (top: PID USER ... %CPU %MEM TIME+ COMMAND):"
	top -bn1 -w 200 | awk 'NR > 7 && NR <= 12 { print "  " $0 }'
} | tee "$OUT/outputs-machine.txt"
if awk -v n="$(nproc)" '{ exit !($1 > n / 4) }' /proc/loadavg; then
	echo "WARNING: the machine is busy (load average $(cut -d' ' -f1 /proc/loadavg)); figures will be noisy" | tee -a "$OUT/outputs-machine.txt" >&2
fi

# wall_seconds FILE, max_rss FILE, cpu_seconds FILE: from a /usr/bin/time -v report.
wall_seconds() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$1"; }
max_rss() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }
cpu_seconds() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"; }

MEAS=$OUT/outputs-measurements.txt
printf 'workload\ttool\trep\twall_s\tmax_rss_kb\tcpu_s\texit\tbytes\n' >"$MEAS"

# measure WORKLOAD TOOL REP BYTES OKCODES CMD...: one timed run; its raw
# output goes to outputs-WORKLOAD-TOOL-rREP.txt and a row to $MEAS. A
# GOMAXPROCS=N word before CMD is set in the environment of CMD only.
# OKCODES is the list of exit statuses that count as success ("0 1").
measure() {
	local workload=$1 tool=$2 rep=$3 bytes=$4 okcodes=$5
	shift 5
	local envs=()
	while [[ $1 == *=* ]]; do
		envs+=("$1")
		shift
	done
	local raw=$OUT/outputs-$workload-$tool-r$rep.txt t=$WORK/time.txt so=$WORK/stdout.txt se=$WORK/stderr.txt rc=0
	local dest=$so
	[ "${tool%%-*}" = haven ] && dest=/dev/null
	(
		for e in "${envs[@]}"; do export "${e?}"; done
		exec /usr/bin/time -v -o "$t" "$@" >"$dest" 2>"$se"
	) || rc=$?
	{
		echo "command: ${envs[*]}${envs[*]:+ }$*"
		echo "stdout: $([ "$dest" = /dev/null ] && echo '/dev/null' || echo 'below')"
		echo "exit status: $rc (success: ${okcodes// / or })"
		echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo
		echo "== /usr/bin/time -v"
		cat "$t"
		echo
		echo "== stderr (last 20 lines)"
		tail -n 20 "$se"
		if [ "$dest" != /dev/null ]; then
			echo
			echo "== stdout (last 20 lines of $(wc -l <"$so"))"
			tail -n 20 "$so"
		fi
	} >"$raw"
	if ! [[ " $okcodes " == *" $rc "* ]]; then
		die "$workload $tool rep $rep failed with exit status $rc (expected ${okcodes// / or }): $* — see $raw"
	fi
	local wall
	wall=$(wall_seconds "$t")
	printf '  %-7s %-14s rep %d: %7ss wall, %7ss CPU, max RSS %8s KB, %8s MB/s, exit %s\n' "$workload" "$tool" "$rep" \
		"$wall" "$(cpu_seconds "$t")" "$(max_rss "$t")" \
		"$(awk -v b="$bytes" -v s="$wall" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "inf" }')" "$rc"
	printf '%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\n' "$workload" "$tool" "$rep" "$wall" "$(max_rss "$t")" "$(cpu_seconds "$t")" "$rc" "$bytes" >>"$MEAS"
}

if [ "$VERIFY" = 1 ]; then
	echo
	echo "== cross-check (untimed; also warms the page cache): haven and pandas flag the same cells"
	for target in "$BIG" "$DIR"; do
		rc=0
		"$HAVEN" outputs check --ignore-limits --json "$target" >"$WORK/verify-haven-$(basename "$target").json" 2>"$WORK/verify-haven.err" || rc=$?
		[ "$rc" = 0 ] || [ "$rc" = 1 ] || die "haven outputs check $target failed with exit status $rc: $(tail -5 "$WORK/verify-haven.err")"
		"$PY" bench/pandas_checks.py "$target" >"$WORK/verify-pandas-$(basename "$target").txt" ||
			die "pandas_checks.py $target failed"
	done
	if ! "$PY" - "$BIG" "$DIR" "$WORK" <<-'EOF' | tee "$OUT/outputs-verify.txt"; then
		# For every file and count column, compare three counts of cells:
		# recomputed here with pandas, from haven's JSON report (cell findings
		# plus the more_cells of a capped column-level finding), and from
		# pandas_checks.py's output.
		import json, os, sys
		import pandas as pd
		big, tables, work = sys.argv[1:4]
		words = {"patients", "cases", "deaths", "admissions", "registered", "vaccinated", "events", "referrals"}
		def is_count(name, dtype):
		    return pd.api.types.is_integer_dtype(dtype) and any(w in words for w in name.lower().split("_"))
		bad = 0
		for target in (big, tables):
		    base = os.path.basename(target)
		    paths = [target] if os.path.isfile(target) else [os.path.join(target, n) for n in sorted(os.listdir(target))]
		    want = {}
		    for p in paths:
		        df = pd.read_csv(p)
		        for col in df.columns:
		            s = df[col]
		            if is_count(col, s.dtype):
		                want[(os.path.basename(p), col)] = [int(((s > 0) & (s <= 7)).sum()), int(((s % 5 != 0) & (s > 7)).sum()), int((s % 5 != 0).sum())]
		    got = {k: [0, 0] for k in want}
		    report = json.load(open(f"{work}/verify-haven-{base}.json"))
		    rules = {}
		    for f in report["files"]:
		        for x in f["findings"]:
		            rules[x["rule"]] = rules.get(x["rule"], 0) + 1
		            i = {"C1": 0, "C4": 0, "C3": 1}.get(x["rule"])
		            if i is None or not x.get("column"):
		                continue
		            k = (os.path.basename(f["path"]), x["column"])
		            n = 1 if x.get("row") else (x.get("evidence") or {}).get("more_cells", 0)
		            if k not in got:
		                got[k] = [0, 0]
		            got[k][i] += n
		    script = {}
		    for line in open(f"{work}/verify-pandas-{base}.txt"):
		        if line.startswith("#"):
		            continue
		        p, col, low, unr = line.rstrip("\n").split("\t")
		        script[(os.path.basename(p), col)] = [int(low), int(unr)]
		    diff = [k for k in sorted(set(want) | set(got) | set(script))
		            if k not in want or k not in got or k not in script or got[k] != want[k][:2] or script[k] != [want[k][0], want[k][2]]]
		    bad += len(diff)
		    low = sum(v[0] for v in want.values())
		    c3 = sum(v[1] for v in want.values())
		    print(f"{base}: {len(paths)} files, {len(want)} count columns; 0 < v <= 7: {low} cells, not a multiple of 5 and > 7: {c3} cells; "
		          f"haven findings by rule: {dict(sorted(rules.items()))}; columns that differ: {len(diff)}")
		    for k in diff[:10]:
		        print(f"  {k[0]} {k[1]}: recomputed [low, unrounded>7, unrounded] {want.get(k)}, haven [C1+C4, C3] {got.get(k)}, pandas_checks.py [low, unrounded] {script.get(k)}")
		sys.exit(1 if bad else 0)
	EOF
		die "haven and pandas do not flag the same cells (see $OUT/outputs-verify.txt): the comparison would not be like for like"
	fi
fi

echo
echo "== timed runs, $REPS repetitions (interleaved)"
for ((rep = 1; rep <= REPS; rep++)); do
	measure big haven "$rep" "$BIG_BYTES" "0 1" "$HAVEN" outputs check --ignore-limits --json "$BIG"
	measure big haven-1core "$rep" "$BIG_BYTES" "0 1" GOMAXPROCS=1 "$HAVEN" outputs check --ignore-limits --json "$BIG"
	measure big pandas "$rep" "$BIG_BYTES" "0" "$PY" bench/pandas_checks.py "$BIG"
	measure tables haven "$rep" "$DIR_BYTES" "0 1" "$HAVEN" outputs check --json "$DIR"
	measure tables pandas "$rep" "$DIR_BYTES" "0" "$PY" bench/pandas_checks.py "$DIR"
done

echo
echo "== summary (raw results in $OUT)"
echo
"$PY" - "$MEAS" "$TABLES" "$MB" <<-'EOF' | tee "$OUT/outputs-summary.txt"
	import csv, statistics, sys
	meas, ntables, mb = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	rows = list(csv.DictReader(open(meas), delimiter="\t"))
	def runs(w, t):
	    return [r for r in rows if r["workload"] == w and r["tool"] == t]
	def med(w, t, key):
	    return statistics.median(float(r[key]) for r in runs(w, t))
	def rng(w, t, key, scale=1.0, fmt="{:.2f}"):
	    xs = [float(r[key]) * scale for r in runs(w, t)]
	    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"
	def mbps(w, t):
	    b = float(runs(w, t)[0]["bytes"])
	    xs = [b / 1e6 / max(float(r["wall_s"]), 0.01) for r in runs(w, t)]  # time -v: 10 ms steps
	    f = lambda x: f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"
	    return statistics.median(xs), f"{f(statistics.median(xs))} ({f(min(xs))}–{f(max(xs))})"
	n = len(runs("big", "haven"))
	big_mb = float(runs("big", "haven")[0]["bytes"]) / 1e6
	tab_mb = float(runs("tables", "haven")[0]["bytes"]) / 1e6
	label = {
	    ("big", "haven"): "`haven outputs check --ignore-limits --json` (default GOMAXPROCS)",
	    ("big", "haven-1core"): "the same, `GOMAXPROCS=1`",
	    ("big", "pandas"): "`pandas_checks.py` (read_csv + low-count and rounding checks only)",
	    ("tables", "haven"): "`haven outputs check --json DIR`",
	    ("tables", "pandas"): "`pandas_checks.py DIR` (one process)",
	}
	print(f"### `haven outputs check` against pandas: median of {n} runs (min–max)")
	print()
	print("| workload | tool | wall time (s) | CPU time, user + sys (s) | throughput (MB/s) | max RSS (MB) |")
	print("|---|---|---|---|---|---|")
	for (w, t), name in label.items():
	    what = f"big CSV, {big_mb:.0f} MB" if w == "big" else f"{ntables} small tables, {tab_mb:.2f} MB"
	    print(f"| {what} | {name} | {rng(w, t, 'wall_s')} | {rng(w, t, 'cpu_s')} | {mbps(w, t)[1]} | {rng(w, t, 'max_rss_kb', 1 / 1024, '{:.0f}')} |")
	print()
	h, h1, p = mbps("big", "haven")[0], mbps("big", "haven-1core")[0], mbps("big", "pandas")[0]
	tw, tp = med("tables", "haven", "wall_s"), med("tables", "pandas", "wall_s")
	ok = lambda c: "met" if c else "**missed**"
	print("| target | measured | |")
	print("|---|---|---|")
	print(f"| big CSV: haven / pandas throughput ≥ 2× | {h / p:.2f}× ({h:.1f} / {p:.1f} MB/s) | {ok(h / p >= 2)} |")
	print(f"| big CSV: haven on one core (GOMAXPROCS=1) ≥ 200 MB/s | {h1:.1f} MB/s ({h1 / p:.2f}× pandas) | {ok(h1 >= 200)} |")
	print(f"| {ntables} small tables: haven wall time < 2 s | {tw:.2f} s | {ok(tw < 2)} |")
	print(f"| {ntables} small tables: pandas / haven wall time | {tp / max(tw, 0.01):.2f}× ({tp:.2f} / {tw:.2f} s) | |")
	print()
	print(f"MB = 10^6 bytes; throughput = file size / wall time. CPU time is user + system time of the process "
	      f"(haven's includes its garbage collector on the other core unless GOMAXPROCS=1).")
EOF
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/outputs-machine.txt"
