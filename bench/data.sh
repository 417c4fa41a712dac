#!/usr/bin/env bash
# Artificial data benchmark: `haven data generate` against a numpy/pandas
# script doing the same sampling and DataFrame.to_csv, side by side, and
# `haven data scrape` throughput.
#
# Workload: bench/data/bench12.json, a 12-column schema (an integer
# identifier, three dates, two integers, two floats, three categoricals, a
# boolean, nulls in four columns), ROWS rows (default 10 million). Timed,
# REPS times each, interleaved:
#
#   haven data generate --unreviewed --rows ROWS --output h.csv       (both cores)
#   haven data generate --unreviewed --rows ROWS --output h.parquet   (both cores)
#   /usr/bin/python3 bench/pandas_generate.py META ROWS p.csv        (numpy + to_csv)
#   haven data scrape --input h.csv --output m.json                  (input MB/s)
#
# and once, for peak memory against the row count: haven generate to CSV
# with ROWS/10 rows. Reported: median wall time (min-max), rows/s, max RSS
# (from /usr/bin/time -v), the haven/pandas ratio, and the issue's
# targets: >= 5 million rows/s to CSV, >= 10x pandas, peak memory under
# 200 MB whatever the row count, scraping >= 100 MB/s of CSV.
#
#   bash bench/data.sh                 # from the repository root
#   ROWS=1000000 REPS=1 bash bench/data.sh
#
# Raw reports go to bench/results/<UTC date>/data-*.txt (BENCH_OUT to
# change). Installs Debian's python3-pandas with apt-get when missing and
# running as root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
REPS=${REPS:-3}
PY=/usr/bin/python3
META=bench/data/bench12.json
OUT=${BENCH_OUT:-bench/results/$(date -u +%F)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export LC_ALL=C.UTF-8 NO_COLOR=1

fail() { echo "data.sh: $*" >&2; exit 1; }
if ! "$PY" -c 'import pandas, numpy' 2>/dev/null; then
	[ "$(id -u)" = 0 ] || fail "install first: sudo apt-get install -y python3-pandas python3-numpy"
	apt-get update -qq && apt-get install -y -qq python3-pandas python3-numpy time >/dev/null
fi
[ -x /usr/bin/time ] || fail "install GNU time: apt-get install -y time"

TMP=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/haven-data.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/haven" ./cmd/haven
H=$TMP/haven

{
	echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
	echo "cpu: $(nproc) x $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "go: $(go version)"
	echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (working tree has changes)')"
	echo "python: $("$PY" -c 'import sys, pandas, numpy; print(sys.version.split()[0], "pandas", pandas.__version__, "numpy", numpy.__version__)')"
	echo "rows: $ROWS, repetitions: $REPS, metadata: $META"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/data-machine.txt"

# run NAME CMD...: time one run, append "NAME wall_s max_rss_kb" to $TMP/times.
run() {
	local name=$1
	shift
	/usr/bin/time -v -o "$TMP/t" "$@" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err" >&2; fail "$name failed: $*"; }
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f", s }' "$TMP/t")
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TMP/t")
	{ echo "command: $*"; cat "$TMP/t"; echo "== stdout"; tail -5 "$TMP/out"; } >"$OUT/data-$name-$(date -u +%H%M%S).txt"
	echo "$name $wall $rss" >>"$TMP/times"
	printf '  %-16s %8.2f s  max RSS %7d KB\n' "$name" "$wall" "$rss"
}

echo "== runs"
for rep in $(seq 1 "$REPS"); do
	echo "rep $rep"
	run haven-csv "$H" data generate --unreviewed --metadata "$META" --rows "$ROWS" --output "$TMP/h.csv"
	run haven-parquet "$H" data generate --unreviewed --metadata "$META" --rows "$ROWS" --output "$TMP/h.parquet"
	run pandas-csv "$PY" bench/pandas_generate.py "$META" "$ROWS" "$TMP/p.csv"
	run haven-scrape "$H" data scrape --input "$TMP/h.csv" --output "$TMP/m.json"
done
run haven-csv-tenth "$H" data generate --unreviewed --metadata "$META" --rows "$((ROWS / 10))" --output "$TMP/small.csv"
CSV_BYTES=$(stat -c %s "$TMP/h.csv")
PANDAS_BYTES=$(stat -c %s "$TMP/p.csv")
echo "haven CSV: $CSV_BYTES bytes; pandas CSV: $PANDAS_BYTES bytes; parquet: $(stat -c %s "$TMP/h.parquet") bytes" | tee -a "$OUT/data-machine.txt"

"$PY" - "$TMP/times" "$ROWS" "$CSV_BYTES" <<'PYEOF' | tee "$OUT/data-summary.txt"
import statistics, sys
times, rows, csv_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = {}
for line in open(times):
    name, wall, rss = line.split()
    runs.setdefault(name, []).append((float(wall), int(rss)))
def med(name):
    w = [x[0] for x in runs[name]]
    return statistics.median(w), min(w), max(w), max(x[1] for x in runs[name])
print()
print(f"{'run':16} {'median s':>9} {'min-max s':>15} {'rows/s':>12} {'max RSS':>10}")
for name in ["haven-csv", "haven-parquet", "pandas-csv", "haven-scrape", "haven-csv-tenth"]:
    m, lo, hi, rss = med(name)
    n = rows // 10 if name.endswith("tenth") else rows
    extra = f"  {csv_bytes / 1e6 / m:.1f} MB/s of CSV input" if name == "haven-scrape" else ""
    print(f"{name:16} {m:9.2f} {lo:7.2f}-{hi:<7.2f} {n / m:12,.0f} {rss / 1024:8.1f} MB{extra}")
h, p = med("haven-csv")[0], med("pandas-csv")[0]
print()
print(f"haven CSV vs pandas: {p / h:.1f}x faster (target >= 10x)")
print(f"haven CSV: {rows / h / 1e6:.2f} million rows/s (target >= 5)")
print(f"peak memory: {med('haven-csv')[3] / 1024:.0f} MB at {rows:,} rows, {med('haven-csv-tenth')[3] / 1024:.0f} MB at {rows // 10:,} rows (target < 200 MB)")
print(f"scrape: {csv_bytes / 1e6 / med('haven-scrape')[0]:.1f} MB/s (target >= 100)")
PYEOF
