#!/usr/bin/env bash
# Runner benchmark: one generated fan-out/fan-in DAG of N actions (root ->
# N-2 middles -> sink; every action a python one-liner writing one small
# output), run three ways on this machine, side by side:
#
#   make -j2                                      (the DAG as a Makefile)
#   snakemake -j2 ...                             (the DAG as a Snakefile)
#   haven run run_all -j 2 --executor local       (the DAG as project.yaml)
#
# plus the bare cost of the one-liner (N starts, one after another), and
# haven alone at several N to show how its memory behaves. With INPROC=1
# each haven run is also repeated with bench/runnerbench ("haven-inproc"):
# the same check, store, planner, runner and local executor in-process (the
# harness used for profiling; it can also retry a Prepare that lost the race
# with a concurrent Finalize's temporary file, which haven had before commit
# ccd44d3). Run from the repository root:
#
#   bash bench/runner.sh [N]          # N defaults to 1000
#
# Environment:
#   REPS=3            repetitions of every measurement (medians are reported)
#   SCALE="250 500 1000 2000"   the N of haven's memory series ("" to skip)
#   TRIES=5           attempts per haven measurement: a failed haven run is
#                     kept (raw output) and counted, then run again
#   INPROC=0          1 to also measure bench/runnerbench (haven-inproc)
#   BENCH_OUT=DIR     where raw results go (default bench/results/<UTC date>)
#   DAG_GEN=FILE      the generator (default ../shared/baselines/dag-gen.py)
#   BENCH_TMP=DIR     where the DAG copies are generated (default $TMPDIR or /tmp)
#   FRESH_FS=auto     1: every measurement runs on a file system made for it
#                     (a 2 GiB ext4 image, mkfs.ext4 defaults, loop-mounted;
#                     needs root), 0: all in BENCH_TMP; auto: 1 when possible
#
# Why a fresh file system: ext4 without a journal (this machine's root file
# system) skips every inode freed in the last 60 to 360 seconds when it
# allocates one, one lookup each, so a run that follows another run's
# deletions creates its files slower, whichever tool it is. A file system of
# its own gives every measurement the same start; mkfs.ext4's defaults
# (with a journal) are what a researcher's laptop has.
#
# Every tool runs the real interpreter, /usr/bin/python3: the Makefile and the
# Snakefile are rewritten to call it by path, and PATH starts with /usr/bin
# so that haven's local executor, which maps `python:latest python ...` to
# `python3` looked up on PATH, finds the same program (checked below with a
# one-action probe that records sys.executable). A pyenv shim on PATH is a
# shell script that costs ~80 ms per start and would hide the orchestrators'
# own overhead.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${1:-1000}
REPS=${REPS:-3}
SCALE=${SCALE-"250 500 1000 2000"}
TRIES=${TRIES:-5}
INPROC=${INPROC:-0}
FRESH_FS=${FRESH_FS:-auto}
PY=/usr/bin/python3
GEN=${DAG_GEN:-$(cd .. && pwd)/shared/baselines/dag-gen.py}
OUT=${BENCH_OUT:-bench/results/$(date -u +%F)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/haven-runner.XXXXXX")

export PATH="/usr/bin:/bin:$PATH"
export NO_COLOR=1
# Snakemake and make get no terminal either way; keep the locale fixed.
export LC_ALL=C.UTF-8

die() { echo "runner.sh: $*" >&2; exit 1; }

[ -f "$GEN" ] || die "the DAG generator $GEN is missing (set DAG_GEN)"
[ -x "$PY" ] || die "$PY is missing"
missing=()
command -v make >/dev/null || missing+=(make)
command -v snakemake >/dev/null || missing+=(snakemake)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update && apt-get install -y "${missing[@]}"
	else
		die "install first: sudo apt-get install -y ${missing[*]}"
	fi
fi
[ "$(command -v python3)" = /usr/bin/python3 ] || die "python3 on PATH is $(command -v python3), not /usr/bin/python3"

if [ "$FRESH_FS" = auto ]; then
	FRESH_FS=0
	if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null && losetup -f >/dev/null 2>&1; then
		FRESH_FS=1
	fi
fi
cleanup() {
	awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | while read -r m; do umount "$m" || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "== build"
go build -o "$WORK/haven" ./cmd/haven
go build -o "$WORK/runnerbench" ./bench/runnerbench
HAVEN=$WORK/haven
RUNNERBENCH=$WORK/runnerbench

echo "== machine"
{
	echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel: $(uname -r)"
	echo "work dir: $WORK ($(df -T "$WORK" | awk 'NR==2 {print $2}') on $(df "$WORK" | awk 'NR==2 {print $1}'))"
	echo "go: $(go version)"
	echo "haven: $("$HAVEN" version 2>/dev/null | head -1)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (working tree has changes)')$([ -z "$(git ls-files --others --exclude-standard 2>/dev/null | head -1)" ] || echo ' (untracked files)')"
	echo "make: $(make --version | head -1)"
	echo "snakemake: $(snakemake --version)"
	echo "python: $PY $("$PY" -c 'import sys; print(sys.version.split()[0])')"
	echo "N: $N; repetitions: $REPS; haven memory series: ${SCALE:-none}"
	if [ "$FRESH_FS" = 1 ]; then
		echo "file system per measurement: a fresh 2 GiB ext4 image (mkfs.ext4 defaults, with a journal), loop-mounted"
	else
		echo "file system: all measurements in $WORK"
	fi
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/runner-machine.txt"
if awk -v n="$(nproc)" '{ exit !($1 > n / 4) }' /proc/loadavg; then
	echo "WARNING: the machine is busy (load average $(cut -d' ' -f1 /proc/loadavg)); figures will be noisy" | tee -a "$OUT/runner-machine.txt" >&2
fi

# gen TOOL N: a fresh copy of the DAG for one tool, with only that tool's
# file in it; prints its directory.
gen() {
	local tool=$1 n=$2 d
	if [ "$FRESH_FS" = 1 ]; then
		local img m
		m=$(mktemp -d "$WORK/fs-$tool-n$n-XXXXXX")
		img=$m.img
		truncate -s 2G "$img"
		mkfs.ext4 -q -F "$img"
		mount -o loop "$img" "$m"
		d=$m/dag
		mkdir "$d"
	else
		d=$(mktemp -d "$WORK/$tool-n$n-XXXXXX")
	fi
	"$PY" "$GEN" "$d" "$n"
	case $tool in
	make) rm "$d/Snakefile" "$d/project.yaml"; sed -i 's#python3 -c#/usr/bin/python3 -c#' "$d/Makefile" ;;
	snakemake) rm "$d/Makefile" "$d/project.yaml"; sed -i 's#python3 -c#/usr/bin/python3 -c#' "$d/Snakefile" ;;
	haven | haven-inproc) rm "$d/Makefile" "$d/Snakefile" ;;
	esac
	echo "$d"
}

# discard DIR: remove a DAG copy made by gen (with its file system).
discard() {
	local d=$1
	if [ "$FRESH_FS" = 1 ]; then
		umount "$(dirname "$d")"
		rm -rf "$(dirname "$d")" "$(dirname "$d").img"
	else
		rm -rf "$d" "$d.log" "$d.time"
	fi
}

# verify DIR N: every action's output is there with the right content.
verify() {
	"$PY" - "$1" "$2" <<-'EOF'
		import os, sys
		d, n = sys.argv[1], int(sys.argv[2])
		names = ["root", "sink"] + [f"a{i}" for i in range(1, n - 1)]
		# The Snakefile's middle rule writes its wildcard (7 for a7), the others the name.
		ok = lambda x, text: text == x or (x[0] == "a" and text == x[1:])
		bad = [x for x in names if not os.path.isfile(f"{d}/output/{x}.txt") or not ok(x, open(f"{d}/output/{x}.txt").read())]
		extra = len(os.listdir(f"{d}/output")) - n
		print(f"outputs: {n - len(bad)} of {n} correct, {max(extra, 0)} other files in output/")
		sys.exit(1 if bad or extra else 0)
	EOF
}

# wall_seconds FILE, max_rss FILE: values from a /usr/bin/time -v report.
wall_seconds() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$1"; }
max_rss() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }

MEAS=$OUT/runner-measurements.txt
printf 'tool\tn\trep\twall_s\tmax_rss_kb\tattempts\n' >"$MEAS"
FAILS=$OUT/runner-failures.txt
printf 'tool\tn\trep\tattempt\twall_s\toutputs_written\tfirst_internal_error\n' >"$FAILS"

# sample PID DIR FILE: every 0.2 s, haven's RSS and the outputs finished so
# far, with shell builtins only (no process is started per sample; the
# pause is a timed read on a FIFO that nobody writes).
us() { local t=${1/./}; echo $((10#$t)); }
sample() {
	local pid=$1 dir=$2 file=$3 t0 now k v rss hwm fifo=$WORK/sample.fifo.$BASHPID
	mkfifo "$fifo"
	exec 9<>"$fifo"
	t0=${EPOCHREALTIME/./}
	printf 't_s\toutputs\tvm_rss_kb\tvm_hwm_kb\n' >"$file"
	shopt -s nullglob
	while [ -r "/proc/$pid/status" ]; do
		rss='' hwm=''
		{ while read -r k v _; do
			case $k in VmHWM:) hwm=$v ;; VmRSS:) rss=$v ;; esac
		done <"/proc/$pid/status"; } 2>/dev/null || true
		local f=("$dir"/output/*.txt)
		now=${EPOCHREALTIME/./}
		now=$((10#$now - 10#$t0))
		[ -n "$rss" ] && printf '%d.%02d\t%d\t%s\t%s\n' $((now / 1000000)) $((now % 1000000 / 10000)) "${#f[@]}" "$rss" "$hwm" >>"$file"
		read -r -t 0.2 -u 9 _ || true
	done
	exec 9<&-
	rm -f "$fifo"
}
elapsed() { local a=${1/./} b=${2/./}; local d=$((10#$a - 10#$b)); printf '%d.%06d' $((d / 1000000)) $((d % 1000000)); }

# measure TOOL N REP: one timed run in a fresh copy; appends a row.
measure() {
	local tool=$1 n=$2 rep=$3 attempt d raw log rc
	for ((attempt = 1; attempt <= TRIES; attempt++)); do
		d=$(gen "$tool" "$n")
		raw=$OUT/runner-$tool-n$n-r$rep.txt
		[ "$attempt" -gt 1 ] && raw=$OUT/runner-$tool-n$n-r$rep-attempt$attempt.txt
		log=$d.log
		local cmd
		case $tool in
		make) cmd=(make -j2) ;;
		snakemake) cmd=(snakemake -j2 --quiet all --scheduler greedy --drop-metadata) ;;
		haven) cmd=("$HAVEN" run run_all -j 2 --executor local) ;;
		haven-inproc) cmd=("$RUNNERBENCH" -dir . -j 2 -retry-prepare-race) ;;
		esac
		rc=0
		if [ "$tool" = haven ] || [ "$tool" = haven-inproc ]; then
			(cd "$d" && exec /usr/bin/time -v -o "$d.time" "${cmd[@]}" >"$log" 2>&1) &
			local sub=$! hpid=''
			for _ in $(seq 200); do
				hpid=$(cat "/proc/$sub/task/$sub/children" 2>/dev/null | awk '{print $1}')
				[ -n "$hpid" ] && break
				sleep 0.01
			done
			[ -n "$hpid" ] && sample "$hpid" "$d" "$OUT/runner-$tool-n$n-r$rep-rss.txt" &
			local spid=$!
			wait "$sub" || rc=$?
			wait "$spid" 2>/dev/null || true
		else
			(cd "$d" && /usr/bin/time -v -o "$d.time" "${cmd[@]}" >"$log" 2>&1) || rc=$?
		fi
		local check ok=0
		check=$(verify "$d" "$n") || ok=1
		{
			echo "command (in a fresh copy of the DAG, N=$n): ${cmd[*]}"
			echo "exit status: $rc"
			echo "$check"
			echo
			echo "== /usr/bin/time -v"
			cat "$d.time"
			echo
			echo "== output: last 15 of $(wc -l <"$log") lines"
			tail -n 15 "$log"
			if [ "$tool" = haven ] && { [ "$rc" != 0 ] || [ "$ok" != 0 ]; }; then
				echo
				echo "== haven: lines about jobs that did not complete"
				grep -E '^[A-Za-z0-9_]+: (Internal error|.*failed)' "$log" | grep -v 'another job failed' | head -20 || true
			fi
			if [ "$tool" = haven-inproc ]; then
				echo
				echo "== runnerbench's own line"
				grep '^runnerbench:' "$log" || true
			fi
		} >"$raw"
		printf '  %-9s N=%-5d rep %d attempt %d: %6ss, max RSS %6s KB, exit %s, %s\n' "$tool" "$n" "$rep" "$attempt" \
			"$(wall_seconds "$d.time")" "$(max_rss "$d.time")" "$rc" "$check"
		if [ "$rc" = 0 ] && [ "$ok" = 0 ]; then
			printf '%s\t%d\t%d\t%s\t%s\t%d\n' "$tool" "$n" "$rep" "$(wall_seconds "$d.time")" "$(max_rss "$d.time")" "$attempt" >>"$MEAS"
			discard "$d"
			return 0
		fi
		echo "  (failed run kept in $raw)"
		printf '%s\t%d\t%d\t%d\t%s\t%s\t%s\n' "$tool" "$n" "$rep" "$attempt" "$(wall_seconds "$d.time")" \
			"$(shopt -s nullglob; f=("$d"/output/*.txt); echo ${#f[@]})" \
			"$(grep -m1 -E '^[A-Za-z0-9_]+: Internal error' "$log" | cut -c1-200)" >>"$FAILS"
		discard "$d"
		if [ "$tool" != haven ] && [ "$tool" != haven-inproc ]; then
			die "$tool failed on the generated DAG; see $raw"
		fi
	done
	printf '%s\t%d\t%d\tNA\tNA\t%d\n' "$tool" "$n" "$rep" "$TRIES" >>"$MEAS"
}

# bare N REP: the one-liner N times, one after another, in a fresh copy.
bare() {
	local n=$1 rep=$2 d t0 t1 i
	d=$(gen make "$n")
	cd "$d"
	t0=$EPOCHREALTIME
	"$PY" -c "open('output/root.txt','w').write('root')"
	for ((i = 1; i <= n - 2; i++)); do
		"$PY" -c "open('output/a$i.txt','w').write('a$i')"
	done
	"$PY" -c "open('output/sink.txt','w').write('sink')"
	t1=$EPOCHREALTIME
	cd - >/dev/null
	verify "$d" "$n" >/dev/null || die "the bare loop did not write every output"
	local s
	s=$(elapsed "$t1" "$t0")
	printf '  bare      N=%-5d rep %d: %ss (%s ms per start)\n' "$n" "$rep" "$s" "$(awk -v s="$s" -v n="$n" 'BEGIN {printf "%.2f", s * 1000 / n}')"
	printf 'bare\t%d\t%d\t%s\tNA\t1\n' "$n" "$rep" "$s" >>"$MEAS"
	discard "$d"
}

echo
echo "== checks"
d=$(gen haven "$N")
(cd "$d" && "$HAVEN" check) 2>&1 | tee "$OUT/runner-check.txt"
discard "$d"
# Which interpreter does haven's local executor start? A one-action probe.
probe=$WORK/probe
mkdir -p "$probe/output"
cat >"$probe/project.yaml" <<-'EOF'
	version: '3.0'
	expectations:
	  population_size: 10
	actions:
	  probe:
	    run: python:latest python -c "import sys; open('output/probe.txt','w').write(sys.executable)"
	    outputs:
	      moderately_sensitive:
	        f: output/probe.txt
EOF
(cd "$probe" && "$HAVEN" run run_all -j 2 --executor local >"$probe.log" 2>&1) || die "the probe failed: $(tail -5 "$probe.log")"
interp=$(cat "$probe/output/probe.txt")
echo "haven's local executor runs python as: $interp" | tee -a "$OUT/runner-machine.txt"
[ "$("$PY" -c 'import os, sys; print(os.path.realpath(sys.argv[1]))' "$interp")" = "$(readlink -f "$PY")" ] || die "haven runs $interp, not $PY"

echo
echo "== comparison at N=$N, $REPS repetitions (interleaved)"
for ((rep = 1; rep <= REPS; rep++)); do
	measure make "$N" "$rep"
	measure snakemake "$N" "$rep"
	measure haven "$N" "$rep"
	if [ "$INPROC" = 1 ]; then measure haven-inproc "$N" "$rep"; fi
	bare "$N" "$rep"
done

if [ -n "$SCALE" ]; then
	echo
	echo "== haven's memory at N in: $SCALE"
	for n in $SCALE; do
		[ "$n" = "$N" ] && continue # measured above
		for ((rep = 1; rep <= REPS; rep++)); do
			measure haven "$n" "$rep"
			if [ "$INPROC" = 1 ]; then measure haven-inproc "$n" "$rep"; fi
		done
	done
fi

echo
echo "== summary (raw results in $OUT)"
"$PY" bench/runner_report.py "$MEAS" "$N" "$OUT" | tee "$OUT/runner-summary.txt"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/runner-machine.txt"
