#!/usr/bin/env bash
# Job server load benchmark: wrk against the real `haven server` stack
# (internal/server, through bench/serverload) on SQLite and on PostgreSQL,
# and, side by side in the same run, against a minimal net/http
# hello-world handler, the ceiling for any Go HTTP server on this machine.
#
#   bash bench/server.sh                               # 100,000 jobs, wrk -d20s
#   JOBS=2000 DURATION=3s WARMUP=1s bash bench/server.sh   # smoke run
#   STORES=sqlite PROFILE="page poll" bash bench/server.sh
#
# For each store it seeds an empty database (`serverload seed`: JOBS
# finished jobs in job requests of 10, spread over WORKSPACES workspaces),
# starts `serverload serve --hold 0` and runs
#   wrk -t$THREADS -c$CONNS -d$DURATION --latency
# against (1) one job request page (GET, anonymous) and (2) the agent poll
# endpoint (POST /api/agent/v1/poll with the backend's token,
# bench/wrk/poll.lua; nothing is queued, so every poll answers 204), and
# against `serverload hello` just before. Each measured run follows an
# unrecorded warm-up of WARMUP. It prints requests/s, the 99th percentile
# latency and the ratio to hello-world, and the target: job request page
# >= 2,000 req/s with p99 < 50 ms on SQLite.
#
# wrk, the server and the database all run on this machine and share its
# cores (the machine file records `nproc`): the figures are for that whole
# set-up, and each run records how many cores went to the server, to wrk
# and to everything else.
#
# PROFILE="page poll" adds, after the measurements, one CPU-profiled run
# per listed endpoint on SQLite (serve --cpuprofile) and saves
# `go tool pprof -top` output next to the profiles.
#
# Raw wrk output, seed logs and the summary go to
# bench/results/<UTC date>/server-<short sha>/ (BENCH_OUT to change).
# PostgreSQL: PG_ADMIN_URL names a role that may create databases; the
# database PG_DB (haven_bench) is dropped and created, and dropped at the
# end unless KEEP_DB=1.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-100000}
WORKSPACES=${WORKSPACES:-200}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
STORES=${STORES:-"sqlite postgres"}
PROFILE=${PROFILE:-}
PORT=${PORT:-18080}
HELLO_PORT=${HELLO_PORT:-18081}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://haven:haven@127.0.0.1:5432/postgres?sslmode=disable}
PG_DB=${PG_DB:-haven_bench}
KEEP_DB=${KEEP_DB:-0}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}
export PGOPTIONS=${PGOPTIONS:---client-min-messages=warning}
SHA=$(git rev-parse --short HEAD)
OUT=${BENCH_OUT:-bench/results/$(date -u +%F)/server-$SHA}

fail() { echo "server.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || fail "wrk is not installed: apt-get install -y wrk"
command -v curl >/dev/null || fail "curl is not installed: apt-get install -y curl"
[ -x /usr/bin/time ] || fail "install GNU time: apt-get install -y time"
case " $STORES " in *" postgres "*) command -v psql >/dev/null || fail "psql is needed for PostgreSQL (apt-get install -y postgresql-client), or run with STORES=sqlite" ;; esac
[[ "$PG_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || fail "PG_DB must be a plain lower-case database name (got $PG_DB)"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/haven-server.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ "$KEEP_DB" != 1 ] && [ -f "$TMP/pg-created" ]; then
		psql "$PG_ADMIN_URL" -qX -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

go build -o "$TMP/serverload" ./bench/serverload
BIN=$TMP/serverload

{
	echo "date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
	echo "cpu: $(nproc) x $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "go: $(go version)"
	echo "wrk: $(wrk -v 2>&1 | head -1)"
	case " $STORES " in *" postgres "*) echo "postgresql: $(psql "$PG_ADMIN_URL" -qXAt -c 'SHOW server_version' 2>/dev/null || echo unknown)" ;; esac
	echo "commit: $SHA$(git diff --quiet HEAD -- internal bench cmd 2>/dev/null || echo ' (working tree has changes)')"
	echo "seed: $JOBS jobs in job requests of 10, $WORKSPACES workspaces"
	echo "wrk: -t$THREADS -c$CONNS -d$DURATION --timeout $WRK_TIMEOUT --latency (warm-up $WARMUP, not recorded), loopback"
	echo "note: wrk, the server and the database share this machine's $(nproc) cores"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

# start NAME CMD...: run a server in the background until stop; its output
# goes to $OUT/NAME.log. Sets SERVER_PID.
start() {
	local name=$1
	shift
	"$@" >"$OUT/$name.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
}

# stop: end the server started last (SIGTERM, graceful) and wait for it.
stop() {
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" || fail "the server exited with status $?: see the logs in $OUT"
}

# ready URL: wait up to 30 s for URL to answer.
ready() {
	for _ in $(seq 300); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited: see the logs in $OUT"
		sleep 0.1
	done
	fail "no answer from $1 within 30 s"
}

# cpu_busy: jiffies the whole machine has spent busy (not idle or iowait).
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# proc_cpu PID: jiffies PID has used (user + system).
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# measure NAME URL [WRK ARGS...]: warm up, then the recorded wrk run;
# appends "NAME req/s p99_ms non2xx timeouts socket_errors requests
# server_cores wrk_cores other_cores" to $TMP/results. wrk leaves requests
# slower than its timeout out of the latency figures and counts them as
# timeouts. The CPU columns are cores used on average during the run: by
# the server, by wrk, and by everything else on the machine (PostgreSQL's
# processes, and any other work).
measure() {
	local name=$1 url=$2
	shift 2
	wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" --timeout "$WRK_TIMEOUT" "$@" "$url" >/dev/null
	local b0 s0 b1 s1 wall wu ws
	b0=$(cpu_busy)
	s0=$(proc_cpu "$SERVER_PID")
	/usr/bin/time -f '%e %U %S' -o "$TMP/wrk-time" \
		wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency "$@" "$url" >"$OUT/wrk-$name.txt"
	b1=$(cpu_busy)
	s1=$(proc_cpu "$SERVER_PID")
	read -r wall wu ws <"$TMP/wrk-time"
	local cpu
	cpu=$(awk -v b=$((b1 - b0)) -v s=$((s1 - s0)) -v hz="$HZ" -v wall="$wall" -v w="$(awk -v u="$wu" -v s="$ws" 'BEGIN { print u + s }')" \
		'BEGIN { printf "%.2f %.2f %.2f", s / hz / wall, w / wall, (b - s) / hz / wall - w / wall }')
	echo "cpu (cores, of $(nproc)): server, wrk, everything else: $cpu; load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/wrk-$name.txt"
	awk -v name="$name" -v cpu="$cpu" '
		function ms(v) {
			if (v ~ /us$/) return v / 1000
			if (v ~ /ms$/) return v + 0
			if (v ~ /m$/) return v * 60000
			if (v ~ /s$/) return v * 1000
			return v
		}
		/^ +99%/ { p99 = ms($2) }
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { n = $1 }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		/Socket errors:/ { timeouts = $NF; err = $0; sub(/.*Socket errors: */, "", err); sub(/, timeout.*/, "", err); gsub(/ /, "", err); if (err == "connect0,read0,write0") err = "" }
		END { printf "%s %.1f %.2f %d %d %s %d %s\n", name, rps, p99, bad, timeouts, (err == "" ? "-" : err), n, cpu }
	' "$OUT/wrk-$name.txt" | tee -a "$TMP/results" |
		awk '{ printf "  %-22s %10s req/s   p99 %9s ms   requests %s, non-2xx %s, timeouts %s, socket errors %s; cores used: server %s, wrk %s, other %s\n", $1, $2, $3, $7, $4, $5, $6, $8, $9, $10 }'
}

# check NAME WANT CURL ARGS...: the status of one request must be WANT.
check() {
	local name=$1 want=$2
	shift 2
	local got
	got=$(curl -s -o "$TMP/check.out" -w '%{http_code}' "$@")
	[ "$got" = "$want" ] || { head -c 2000 "$TMP/check.out" >&2; fail "$name answered $got, want $want"; }
}

POLL_BODY='{"agent_id":"bench-agent","agent_version":"bench","capacity":{"jobs":4,"db_jobs":2},"flags":{"db_maintenance":false,"db_maintenance_type":""},"leases":[]}'

# seed STORE: fill the store's empty database; sets DBFLAG and PAGE_PATH.
seed() {
	local st=$1
	case $st in
	sqlite)
		DBFLAG=(--data-dir "$TMP/sqlite")
		;;
	postgres)
		psql "$PG_ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
		touch "$TMP/pg-created"
		local url
		url=$(printf '%s' "$PG_ADMIN_URL" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$PG_DB#")
		DBFLAG=(--database-url "$url")
		;;
	*) fail "unknown store $st: use sqlite or postgres" ;;
	esac
	echo "== $st: seeding $JOBS jobs"
	"$BIN" seed "${DBFLAG[@]}" --jobs "$JOBS" --workspaces "$WORKSPACES" \
		--token-file "$TMP/token-$st" --base-url "http://127.0.0.1:$PORT" 2>"$OUT/seed-$st.log" | tee "$OUT/seed-$st.txt"
	PAGE_PATH=$(sed -n 's#^job request page: http://[^/]*##p' "$OUT/seed-$st.txt")
	[ -n "$PAGE_PATH" ] || fail "seed printed no job request page: see $OUT/seed-$st.txt"
	if [ "$st" = sqlite ]; then
		echo "database size: $(du -sh "$TMP/sqlite" | cut -f1)" | tee -a "$OUT/seed-$st.txt"
	fi
}

for st in $STORES; do
	echo "== hello-world (before $st)"
	start "hello-$st" "$BIN" hello --listen "127.0.0.1:$HELLO_PORT"
	ready "http://127.0.0.1:$HELLO_PORT/"
	measure "hello-$st" "http://127.0.0.1:$HELLO_PORT/"
	stop

	seed "$st"
	echo "== $st: serve --hold 0"
	start "serve-$st" "$BIN" serve "${DBFLAG[@]}" --listen "127.0.0.1:$PORT" --hold 0
	ready "http://127.0.0.1:$PORT/health-check"
	check "the job request page" 200 "http://127.0.0.1:$PORT$PAGE_PATH"
	echo "  page $PAGE_PATH: $(wc -c <"$TMP/check.out") bytes"
	check "the agent poll" 204 -X POST -H "Authorization: Bearer $(cat "$TMP/token-$st")" -H 'Content-Type: application/json' \
		--data "$POLL_BODY" "http://127.0.0.1:$PORT/api/agent/v1/poll"
	measure "$st-page" "http://127.0.0.1:$PORT$PAGE_PATH"
	HAVEN_AGENT_TOKEN=$(cat "$TMP/token-$st") measure "$st-poll" "http://127.0.0.1:$PORT/api/agent/v1/poll" -s bench/wrk/poll.lua
	stop
	echo "$st $PAGE_PATH" >>"$TMP/pages"
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

# Profiles on SQLite, after the measurements (a profiled server is a
# little slower).
if [ -n "$PROFILE" ]; then
	case " $STORES " in *" sqlite "*) ;; *) fail "PROFILE needs sqlite in STORES" ;; esac
	PAGE_PATH=$(awk '$1 == "sqlite" { print $2 }' "$TMP/pages")
	for what in $PROFILE; do
		echo "== sqlite: CPU profile of the $what"
		start "serve-profile-$what" "$BIN" serve --data-dir "$TMP/sqlite" --listen "127.0.0.1:$PORT" --hold 0 --cpuprofile "$OUT/cpu-sqlite-$what.pprof"
		ready "http://127.0.0.1:$PORT/health-check"
		case $what in
		page) wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency "http://127.0.0.1:$PORT$PAGE_PATH" >"$OUT/wrk-profile-$what.txt" ;;
		poll) HAVEN_AGENT_TOKEN=$(cat "$TMP/token-sqlite") wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout "$WRK_TIMEOUT" --latency -s bench/wrk/poll.lua "http://127.0.0.1:$PORT/api/agent/v1/poll" >"$OUT/wrk-profile-$what.txt" ;;
		*) fail "PROFILE lists page and poll only (got $what)" ;;
		esac
		stop
		go tool pprof -top -nodecount=60 "$BIN" "$OUT/cpu-sqlite-$what.pprof" >"$OUT/pprof-sqlite-$what-flat.txt" 2>/dev/null
		go tool pprof -top -cum -nodecount=80 "$BIN" "$OUT/cpu-sqlite-$what.pprof" >"$OUT/pprof-sqlite-$what-cum.txt" 2>/dev/null
		echo "  $OUT/pprof-sqlite-$what-{flat,cum}.txt"
	done
fi

awk -v nproc="$(nproc)" '
	{ rps[$1] = $2; p99[$1] = $3; bad[$1] = $4; tmo[$1] = $5; err[$1] = $6; n[$1] = $7; cpu[$1] = $8 " / " $9 " / " $10; order[++k] = $1 }
	function row(st, ep, key, ratio) {
		p = (n[key] > tmo[key]) ? sprintf("%10.2f", p99[key]) : sprintf("%10s", "n/a")
		printf "%-10s %-24s %10.0f %s %14s %9d %9d %9d   %s\n", st, ep, rps[key], p, ratio, n[key], bad[key], tmo[key], cpu[key]
	}
	END {
		printf "\n%-10s %-24s %10s %10s %14s %9s %9s %9s   %s\n", "store", "endpoint", "req/s", "p99 ms", "vs hello-world", "requests", "non-2xx", "timeouts", "cores: server / wrk / other"
		for (i = 1; i <= k; i++) {
			key = order[i]
			split(key, parts, "-")
			if (parts[1] == "hello") continue
			st = parts[1]
			h = rps["hello-" st]
			row(st, (parts[2] == "page" ? "job request page" : "agent poll (204)"), key, (h > 0 ? sprintf("%.3fx", rps[key] / h) : "-"))
		}
		for (i = 1; i <= k; i++) {
			key = order[i]
			if (key ~ /^hello-/) row("-", "hello (before " substr(key, 7) ")", key, "1x")
		}
		if ("sqlite-page" in rps) {
			ok = rps["sqlite-page"] >= 2000 && p99["sqlite-page"] < 50 && tmo["sqlite-page"] == 0
			printf "\ntarget, job request page on SQLite: >= 2,000 req/s and p99 < 50 ms: %s (%.0f req/s, p99 %.2f ms)\n", (ok ? "MET" : "MISSED"), rps["sqlite-page"], p99["sqlite-page"]
		}
		for (i = 1; i <= k; i++) {
			key = order[i]
			if (bad[key] > 0 || tmo[key] > 0 || err[key] != "-")
				printf "WARNING: %s: %d non-2xx answers, %d timeouts (wrk --timeout '"$WRK_TIMEOUT"'; not in the latency figures), socket errors %s\n", key, bad[key], tmo[key], err[key]
		}
		printf "note: wrk and the server (and the database) share this machine'"'"'s %d cores; \"other\" is every other process (PostgreSQL'"'"'s for the postgres rows, and any work besides this benchmark)\n", nproc
	}
' "$TMP/results" | tee "$OUT/summary.txt"
echo "raw results: $OUT"
