#!/usr/bin/env bash
# Benchmarks of Haven's project.yaml parse + validate (internal/pipeline),
# run side by side with a baseline: PyYAML's pure-Python SafeLoader loading
# the same files. Run from the repository root:
#
#   bash bench/pipeline.sh
#
# Environment:
#   COUNT=5          -count for go test -bench
#   PY_REPS=7        repetitions of each PyYAML load (the median is reported)
#   BENCH_OUT=DIR    where raw results go (default: a new temporary directory)
#   HAVEN_CORPUS_DIR the shared corpus (default: ../shared/corpus beside the checkout)
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${COUNT:-5}
PY_REPS=${PY_REPS:-7}
PY=/usr/bin/python3
OUT=${BENCH_OUT:-$(mktemp -d -t haven-bench.XXXXXX)}
mkdir -p "$OUT"
CORPUS_DIR=${HAVEN_CORPUS_DIR:-$(cd .. && pwd)/shared/corpus}
CORPUS_FILE=$CORPUS_DIR/project-yaml/opensafely__disparities-comparison.yaml

if ! "$PY" -c 'import yaml' 2>/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y python3-yaml
	else
		echo "pipeline.sh: $PY has no PyYAML; install it with: sudo apt-get install -y python3-yaml" >&2
		exit 1
	fi
fi

echo "== machine"
{
	echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "go: $(go version)"
	echo "python: $("$PY" -c 'import sys, yaml; print(sys.version.split()[0], "PyYAML", yaml.__version__)')"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (working tree has changes)')"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"
if awk -v n="$(nproc)" '{ exit !($1 > n / 4) }' /proc/loadavg; then
	echo "WARNING: the machine is busy (load average $(cut -d' ' -f1 /proc/loadavg)); figures will be noisy" >&2
fi

echo
echo "== go benchmarks, default GOMAXPROCS, -count=$COUNT"
go test ./internal/pipeline -run '^$' -bench . -benchmem -count="$COUNT" | tee "$OUT/go.txt"

echo
echo "== go benchmarks, one core (-cpu 1): the corpus file, 5,000 actions, YAML decode only; -count=$COUNT"
# Two runs: a benchmark without sub-benchmarks is not reported when the
# -bench pattern has more levels than it has.
{
	go test ./internal/pipeline -run '^$' -bench 'ParseCorpus$' -benchmem -count="$COUNT" -cpu 1
	go test ./internal/pipeline -run '^$' -bench 'ParseGenerated$//actions=5000$' -benchmem -count="$COUNT" -cpu 1
	go test ./internal/pipeline -run '^$' -bench 'ParseGeneratedCLI$' -benchmem -count="$COUNT" -cpu 1
	go test ./internal/pipeline -run '^$' -bench 'DecodeYAMLOnly$' -benchmem -count="$COUNT" -cpu 1
} | tee "$OUT/go-cpu1.txt"

echo
echo "== baseline: PyYAML pure-Python SafeLoader, $PY_REPS repetitions each"
go run ./bench/genproject -shape chain -n 5000 >"$OUT/chain-5000.yaml"
go run ./bench/genproject -shape fan -n 5000 >"$OUT/fan-5000.yaml"
workloads=("chain-5000=$OUT/chain-5000.yaml" "fan-5000=$OUT/fan-5000.yaml")
if [ -f "$CORPUS_FILE" ]; then
	workloads=("corpus=$CORPUS_FILE" "${workloads[@]}")
else
	echo "(corpus file $CORPUS_FILE not found: skipping that workload)"
fi
"$PY" bench/pyyaml_load.py "$PY_REPS" "${workloads[@]}" | tee "$OUT/pyyaml.tsv"

echo
echo "== summary (raw results in $OUT)"
echo
"$PY" bench/report.py "$OUT/go.txt" "$OUT/go-cpu1.txt" "$OUT/pyyaml.tsv" | tee "$OUT/summary.md"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
