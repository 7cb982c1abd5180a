#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The overload demo: a real PostgreSQL behind a real HTTP service, pushed to three
# times its capacity, once without spillway and once with it.
#
#   sudo tools/demo/run.sh          (or: sudo make demo, which installs and builds first)
#   sudo HOPS=2 tools/demo/run.sh   the two-hop scenario instead (tools/demo/hops.sh)
#
# Topology, all in network namespaces of this run's own (nothing in the caller's namespace):
#
#   spw-demo-PID-t0  cl-t0 198.18.10.2 ---- sw-t0 198.18.10.1 \
#   spw-demo-PID-t1  cl-t1 198.18.11.2 ---- sw-t1 198.18.11.1  >  spw-demo-PID-srv
#   spw-demo-PID-t2  cl-t2 198.18.12.2 ---- sw-t2 198.18.12.1 /    demo-backend :8080
#                                                                  PostgreSQL (unix socket)
#                                                                  spillwayd (XDP on sw-t*)
#
# Tier t's clients send from 198.19.(16t+k).1, k < SOURCES (one /24 each: the data plane
# sheds by /24 cohort, so a tier with several prefixes is shed a part at a time; with 4 of
# them a tier moved in steps of a quarter and its goodput jumped from second to second). The
# client veths carry the empty XDP program: the RSTs spillway sends back with XDP_TX for
# rejected SYNs only arrive on a veth whose peer has an XDP program (a veth drops XDP frames its peer has no XDP program for).
#
# Steps: measure the capacity C (open loop, stepped, no spillway), the idle p99 at both DB
# speeds, then each run (off: no daemon, no XDP; on: spillwayd) goes through the phases
#   warm 0.5C | overload 3C | slowdb 3C with the DB 3x slower | recover 0.5C
#   | flood 10C | after 0.5C
# with the tier mix 10/30/60 % (flood: 5/20/75 %, so tier 0 alone, 0.5C, still fits), PHASE_S
# seconds each, one open-loop load generator per tier.
# Results: build/e2e/summary.json, a side-by-side table, build/e2e/demo.png.
#
# Environment (defaults in brackets):
#   PHASE_S [20]  seconds per phase        ZERO_INTEGRATION [0]  1: the backend does not report;
#   RUNS ["off on"]                        spillway uses signals: [auto] (what it measures itself)
#   C  capacity in requests/s [measured]   POOL [20] DB connections   QUERY_MS [50]
#   WORKERS [64]  BACKLOG [256]  POOL_WAIT_MS [QUERY_MS] target of the pool wait signal  SOURCES [16, at most 16] prefixes for tiers 1 and 2 (tier 0 has one)
#   POOL_TARGET [0.95] target of the pool signal
#   OUT [build/e2e]  BUILD [build]  QUIET [0] 1: no live table
set -euo pipefail

# HOPS=2: the two-hop scenario (client, front service, back service), its own script.
if [ "${HOPS:-1}" = 2 ]; then exec bash "$(dirname "${BASH_SOURCE[0]}")/hops.sh" "$@"; fi
case ${HOPS:-1} in 1) ;; *) echo "HOPS must be 1 or 2, not '$HOPS'" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "$ROOT" && mkdir -p "${BUILD:-build}" && cd "${BUILD:-build}" && pwd)
OUT=${OUT:-$BUILD/e2e}
PHASE_S=${PHASE_S:-20}
ZERO_INTEGRATION=${ZERO_INTEGRATION:-0}
RUNS=${RUNS:-off on}
POOL=${POOL:-20}
QUERY_MS=${QUERY_MS:-50}
# Workers well above the pool (64 for 20 connections): the queue of an overload must form at
# the pool, where the backend measures how long a request waits for a connection (the
# pool_wait signal), not in the kernel's accept queue in front of the workers, which no
# report shows. With 24 workers at most 4 requests wait at the pool, about 10 ms at C: the
# pool_wait signal hardly moved however long the accept queue grew (up to BACKLOG / C, over
# 600 ms; seen: 0-28 ms in overload). 44 waiters hold about 110 ms at C, the whole queueing budget of
# tier 0 (p99 within 3x the idle p99), so a queue that matters shows in the reports.
WORKERS=${WORKERS:-64}
BACKLOG=${BACKLOG:-256}
# The pool_wait target: one query time. wait_ms is the longest wait of a 50 ms report period,
# and a pool that is only momentarily full (Poisson arrivals at half the capacity) frees a
# connection within one query time, so a longer wait means a queue; tier 0's budget (p99
# within 3x the idle p99, about two query times of queueing) still leaves a margin. Half a
# query (the old 25 ms) is within reach of a momentary full pool, and a reading of 1.1x the
# target sheds at once.
POOL_WAIT_MS=${POOL_WAIT_MS:-$QUERY_MS}
# The pool's fill target. The pool is what the service sells: at 0.85, 15 % of the
# connections idle by design and goodput stays near 0.8 C at 3C. The queue that fills a pool
# past its target shows in pool_wait, which guards tier 0's latency, so the fill may run close
# to full.
POOL_TARGET=${POOL_TARGET:-0.95}
SOURCES=${SOURCES:-16}
# Each tier's sources are /24s of its /20 (the backend's tier map): 16 at most.
case $SOURCES in [1-9] | 1[0-6]) ;; *) echo "SOURCES must be 1 to 16, not '$SOURCES'" >&2; exit 2 ;; esac
QUIET=${QUIET:-0}
PORT=8080
PHASES=(warm overload slowdb recover flood after)
PHASE_X=(0.5 3 3 0.5 10 0.5) # load as a multiple of C
# % of each phase's load per tier. At 10C tier 0 keeps 5 %, half the capacity: protection
# means tier 0 is served whatever the others send, not that tier 0 may overload by itself.
PHASE_MIX=("10 30 60" "10 30 60" "10 30 60" "10 30 60" "5 20 75" "10 30 60")
NPHASES=${#PHASES[@]}
TIER_NAMES=(critical standard sheddable)

ID=$$
NS_SRV=spw-demo-$ID-srv
NS_CLI=("spw-demo-$ID-t0" "spw-demo-$ID-t1" "spw-demo-$ID-t2")
PIN=/sys/fs/bpf/spw-demo-$ID
TMP=
PG_DATA=
PIDS=()
BACKEND_PID=
DAEMON_PID=

log() { printf '[demo %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tools/demo/lib.sh
. "$ROOT/tools/demo/lib.sh"

# ---- cleanup: always runs, never fails --------------------------------------------------------

cleanup() {
	local rc=$? ns
	set +e
	trap - EXIT INT TERM
	demo_stop_all
	for ns in "$NS_SRV" "${NS_CLI[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$PIN" 2>/dev/null
	demo_finish $rc
}
demo_traps


# ---- checks -------------------------------------------------------------------------------

demo_check_setup jq gnuplot nsenter ip socat runuser

demo_reap_stale demo
TMP=$(mktemp -d /tmp/spw-demo.XXXXXX)
chmod 755 "$TMP"
echo $ID >"$TMP/owner"
mkdir -p "$OUT"


# ---- topology -----------------------------------------------------------------------------

srv_addr() { echo "198.18.$((10 + $1)).1"; }
src_count() { if [ "$1" -eq 0 ]; then echo 1; else echo "$SOURCES"; fi; }
src_addr() { echo "198.19.$((16 * $1 + $2)).1"; }

# TIER_TARGET[t], TIER_SRC_ARGS[t]: the generators' --target and --source arguments of
# tier t, built once here.
declare -a TIER_TARGET TIER_SRC_ARGS
setup_topology() {
	local t k
	ip netns add "$NS_SRV"
	ip -n "$NS_SRV" link set lo up
	nsx "$NS_SRV" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
	for t in 0 1 2; do
		ip netns add "${NS_CLI[t]}"
		ip -n "${NS_CLI[t]}" link set lo up
		ip link add "sw-t$t" netns "$NS_SRV" type veth peer name "cl-t$t" netns "${NS_CLI[t]}"
		ip -n "$NS_SRV" addr add "$(srv_addr $t)/24" dev "sw-t$t"
		ip -n "${NS_CLI[t]}" addr add "198.18.$((10 + t)).2/24" dev "cl-t$t"
		TIER_TARGET[t]="$(srv_addr $t):$PORT"
		TIER_SRC_ARGS[t]=
		for ((k = 0; k < $(src_count $t); k++)); do
			ip -n "${NS_CLI[t]}" addr add "$(src_addr $t $k)/32" dev "cl-t$t"
			TIER_SRC_ARGS[t]+=" --source $(src_addr $t $k)"
		done
		ip -n "$NS_SRV" link set "sw-t$t" up
		ip -n "${NS_CLI[t]}" link set "cl-t$t" up
		ip -n "${NS_CLI[t]}" route add default via "$(srv_addr $t)"
		ip -n "$NS_SRV" route add "198.19.$((16 * t)).0/20" via "198.18.$((10 + t)).2"
		# Many short connections from few addresses: wide port range, reuse TIME_WAIT.
		nsx "${NS_CLI[t]}" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
			net.ipv4.tcp_tw_reuse=1
		ip -n "${NS_CLI[t]}" link set dev "cl-t$t" xdpdrv obj "$BUILD/bpf/empty_xdp.bpf.o" sec xdp
	done
}

# ---- PostgreSQL and the backend -----------------------------------------------------------


start_backend() { # REPORT_SOCKET
	local sock=$1 extra=() i
	mkdir -p "$TMP/state"
	if [ "$ZERO_INTEGRATION" = 1 ]; then
		extra=(--no-report --shed-check off)
	else
		extra=(--report-socket "$sock")
	fi
	nsenter --net="/var/run/netns/$NS_SRV" -- "$BUILD/demo-backend" --listen "0.0.0.0:$PORT" --workers "$WORKERS" \
		--db-pool "$POOL" --db "host=$TMP/pg dbname=postgres user=postgres" \
		--query-ms "$QUERY_MS" --service backend --state-dir "$TMP/state" \
		--backlog "$BACKLOG" --tier-map "198.19.0.0/20=0,198.19.16.0/20=1,198.19.32.0/20=2" \
		"${extra[@]}" >>"$TMP/backend.log" 2>&1 &
	BACKEND_PID=$!
	PIDS+=("$BACKEND_PID")
	for ((i = 0; i < 100; i++)); do
		if nsx "${NS_CLI[0]}" curl -s -o /dev/null --max-time 1 \
			"http://$(srv_addr 0):$PORT/health"; then
			return 0
		fi
		kill -0 "$BACKEND_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TMP/backend.log" >&2
	die "the backend did not come up"
}


# ---- spillwayd ------------------------------------------------------------------------------

write_config() { # FILE
	local t k sigs
	if [ "$ZERO_INTEGRATION" = 1 ]; then
		# No signals key: signals: [auto], targets learned in the warm phase.
		sigs=
	else
		# The pool's fill cannot show a queue beyond 100 %: its wait time does.
		sigs="      - {pool: db, target: $POOL_TARGET}
      - {pool_wait: db, target: ${POOL_WAIT_MS}ms}"
	fi
	{
		echo "# spillway demo, written by tools/demo/run.sh"
		echo "interfaces:"
		for t in 0 1 2; do echo "  - {name: sw-t$t, mode: xdp}"; done
		echo "tiers: [${TIER_NAMES[0]}, ${TIER_NAMES[1]}, ${TIER_NAMES[2]}]"
		echo "classify:"
		for t in 0 1 2; do
			echo "  - {cidr: 198.19.$((16 * t)).0/20, tier: ${TIER_NAMES[t]}}"
		done
		cat <<EOF
services:
  - name: backend
    port: $PORT
    default_tier: ${TIER_NAMES[2]}
    shed_action: {${TIER_NAMES[1]}: reject, ${TIER_NAMES[2]}: reject}
${sigs:+    signals:
$sigs
}controller:
  tick: 100ms
  lease: 3s
metrics:
  listen: "off"
report:
  socket: $TMP/report.sock
state_dir: $TMP/state
EOF
	} >"$1"
}

spw() { "$BUILD/spillway" --pin-root "$PIN" --state-dir "$TMP/state" "$@"; }

start_daemon() {
	local i
	write_config "$TMP/spillway.yaml"
	"$BUILD/spillway" config check "$TMP/spillway.yaml" >/dev/null ||
		die "the generated config does not validate: $TMP/spillway.yaml"
	# -v: every admit-level change is logged with the signal that moved it; each line gets
	# the wall clock (seconds since the epoch, as the run's t0) and the log is kept in OUT.
	nsenter --net="/var/run/netns/$NS_SRV" -- "$BUILD/spillwayd" -v -c "$TMP/spillway.yaml" \
		--pin-root "$PIN" > >(stamp_lines >>"$TMP/spillwayd.log") 2>&1 &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	for ((i = 0; i < 150; i++)); do
		if spw status --json --interval 100ms 2>/dev/null | jq -e '.services[0].level' \
			>/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TMP/spillwayd.log" >&2
	die "spillwayd did not come up"
}

stop_daemon() {
	stop_pid "$DAEMON_PID"
	DAEMON_PID=
	# The daemon never detaches on exit (DESIGN 4): take the program off and the pins away.
	nsx "$NS_SRV" "$BUILD/spillway" --pin-root "$PIN" detach --all --yes >/dev/null 2>&1 || true
	rm -rf "$PIN"
}

# ---- load ----------------------------------------------------------------------------------

# Starts the generators of one phase, one per tier, their arrivals from START_AT (wall-clock
# seconds): tier t gets TOTAL_RATE * MIX[t] %, its connections taking the tier's sources in
# turn. Files: DIR/NAME-tT-gen.json (result) and .live (per-second lines). One awk and no
# subshell per source: at the end of the flood, with both cores busy, the 70-odd forks that
# once built the rates and --source lists took longer than PHASE_LEAD, and tier 2's generator
# began 44-56 ms past its time.
start_load() { # DIR NAME TOTAL_RATE DURATION_S "MIX0 MIX1 MIX2" START_AT
	local dir=$1 name=$2 total=$3 dur=$4 at=$6 t rates srcs
	read -r -a rates < <(awk -v a="$total" -v m="$5" \
		'BEGIN { split(m, x, " "); for (t = 1; t <= 3; t++) printf "%.2f ", a * x[t] / 100; print "" }')
	for t in 0 1 2; do
		read -r -a srcs <<<"${TIER_SRC_ARGS[t]}"
		nsenter --net="/var/run/netns/${NS_CLI[t]}" -- "$BUILD/loadgen" --target "${TIER_TARGET[t]}" \
			--rate "${rates[t]}" --duration "$dur" --start-at "$at" "${srcs[@]}" --tier "$t" \
			--path /work --connect-timeout-ms 1000 --timeout-ms 3000 \
			--json "$dir/$name-t$t-gen.json" --live >"$dir/$name-t$t-gen.live" 2>&1 &
		LOAD_PIDS+=($!)
		PIDS+=($!)
	done
}

wait_load() {
	local p rc=0
	for p in "${LOAD_PIDS[@]}"; do wait "$p" || rc=1; done
	LOAD_PIDS=()
	return $rc
}

# ---- capacity and idle latency -------------------------------------------------------------

# Open-loop steps from 0.6x to 1.4x the pool's theoretical rate (POOL / QUERY_MS), 3 s each
# (2 s for short phases), from tier 0's address with nothing shedding. A step below capacity
# keeps its latency near the idle one; above it, the backlog grows for the whole step. Goodput
# alone would mislead (a short burst is absorbed by the queues and completes later), so C is
# the best goodput of a step with success >= 99 % and p99 <= 3x the idle p99.
measure_capacity() {
	local theo step_s x r good succ p99 best=0 f
	theo=$(awk -v p="$POOL" -v q="$QUERY_MS" 'BEGIN { printf "%d", p * 1000 / q }')
	step_s=3
	[ "$PHASE_S" -lt 15 ] && step_s=2
	mkdir -p "$TMP/cap"
	for x in 0.6 0.7 0.8 0.85 0.9 0.95 1.0 1.05 1.1 1.2 1.4; do
		r=$(awk -v t="$theo" -v x="$x" 'BEGIN { printf "%.1f", t * x }')
		f=$TMP/cap/step-$x.json
		nsx "${NS_CLI[0]}" "$BUILD/loadgen" --target "$(srv_addr 0):$PORT" --rate "$r" \
			--duration "$step_s" --source "$(src_addr 0 0)" --tier 0 --path /work \
			--connect-timeout-ms 1000 --timeout-ms 3000 --json "$f" >/dev/null 2>&1 || true
		[ -s "$f" ] || die "loadgen wrote no result in the capacity step at $r/s"
		read -r good succ p99 < <(jq -r '"\(.ok / .duration_s) \(if .offered > 0 then .ok / .offered else 0 end) \(.p99_ms // 1e9)"' "$f")
		log "capacity step: offered $r/s -> goodput $(printf %.1f "$good")/s, success $(awk -v s="$succ" 'BEGIN{printf "%.1f", s*100}') %, p99 $(printf %.1f "$p99") ms"
		if awk -v s="$succ" -v p="$p99" -v i="$IDLE_N99" 'BEGIN { exit !(s >= 0.99 && p <= 3 * i) }'; then
			best=$(awk -v a="$best" -v b="$good" 'BEGIN { print (b > a ? b : a) }')
		else
			break # past the knee
		fi
		sleep 1
	done
	C=$(awk -v b="$best" 'BEGIN { printf "%d", b }')
	[ "$C" -gt 0 ] || die "no capacity step stayed below 3x the idle p99: see $TMP/backend.log"
}

# Idle p50/p99 of one request, at the DB's current speed: `loadgen --measure-idle N`.
measure_idle() { # NAME
	local f=$TMP/idle-$1.txt
	nsx "${NS_CLI[0]}" "$BUILD/loadgen" --target "$(srv_addr 0):$PORT" --source "$(src_addr 0 0)" \
		--path /work --measure-idle "${IDLE_N:-100}" >"$f" 2>&1 ||
		{ cat "$f" >&2; die "loadgen --measure-idle failed"; }
	parse_idle "$f"
}

# Prints "P50 P99" from the idle measurement's output, whatever its layout (JSON or text).
parse_idle() {
	local f=$1 p50 p99
	if jq -e . "$f" >/dev/null 2>&1; then
		p50=$(jq -r '.p50_ms // .idle_p50_ms // empty' "$f" | tail -1)
		p99=$(jq -r '.p99_ms // .idle_p99_ms // empty' "$f" | tail -1)
	else
		p50=$(grep -oiE 'p50[^0-9]*[0-9.]+' "$f" | tail -1 | grep -oE '[0-9.]+$')
		p99=$(grep -oiE 'p99[^0-9]*[0-9.]+' "$f" | tail -1 | grep -oE '[0-9.]+$')
	fi
	[ -n "$p50" ] && [ -n "$p99" ] || { cat "$f" >&2; die "cannot read the idle p50/p99 in $f"; }
	echo "$p50 $p99"
}

# ---- sampling: admit level and pool saturation, once a second ------------------------------

# On: from `spillway status --json`. Off: no daemon, so the backend's reports go to a socat
# listener on the same socket and the last one is read.
sampler() { # FILE T0_EPOCH MODE
	local f=$1 t0=$2 mode=$3 now line
	set +e +o pipefail
	while :; do
		now=$(date +%s.%N)
		if [ "$mode" = on ]; then
			line=$(spw status --json --interval 500ms 2>/dev/null | jq -c --arg t "$now" --arg t0 "$t0" '
				.services[0] as $s |
				{t: (($t|tonumber) - ($t0|tonumber)), level: $s.level, ceiling: $s.ceiling,
				 pressure: $s.pressure,
				 pool: ([$s.signals[] | select(.kind == "pool") | .value][0]),
				 signals: [$s.signals[] | {kind, value, stale}]}' 2>/dev/null) || line=
		else
			line=$(tail -c 2000 "$TMP/reports.log" 2>/dev/null |
				grep -oE 'in_use=[0-9]+ capacity=[0-9]+' | tail -1 |
				awk -v t="$now" -v t0="$t0" '{ split($1, a, "="); split($2, b, "=");
					printf "{\"t\":%.3f,\"level\":null,\"pool\":%s}\n", t - t0,
					(b[2] > 0 ? a[2] / b[2] : "null") }')
			sleep 0.5
		fi
		[ -n "$line" ] && echo "$line" >>"$f"
		sleep 0.5
	done
}

# ---- live table ----------------------------------------------------------------------------

# Every second, per tier: the newest line of each generator's --live output (completions in
# that wall-clock second), added up over the tier's sources (p99: the largest); with the
# admit level and pool saturation of the newest sample.
live_table() { # DIR SAMPLES
	local dir=$1 samples=$2 ph extra t f n=0
	set +e +o pipefail
	while :; do
		sleep 1
		ph=$(cat "$dir/current_phase" 2>/dev/null || echo -)
		if [ $((n % 10)) -eq 0 ]; then
			printf '%-9s %4s %8s %7s %8s %8s %8s %8s   %s\n' phase tier offered/s ok/s \
				refused timeouts 5xx p99_ms "admit level, pool saturation" >&2
		fi
		n=$((n + 1))
		extra=$(tail -1 "$samples" 2>/dev/null | jq -r '"level \(.level // "-"), pool \(if .pool then (.pool * 100 | floor | tostring) + " %" else "-" end)"' 2>/dev/null || true)
		for t in 0 1 2; do
			f="$dir/$ph-t$t-gen.live"
			{ [ -f "$f" ] && grep '^tier=' "$f" | tail -1; } | awk -v ph="$ph" -v t="$t" -v x="$([ $t -eq 0 ] && echo "$extra")" '
				{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				  o += v["offered"]; ok += v["ok"]; r += v["refused"]; to += v["timeouts"];
				  e += v["5xx"]; if (v["p99_ms"] > p) p = v["p99_ms"]; seen = 1 }
				END { if (seen) printf "%-9s %4d %8d %7d %8d %8d %8d %8.1f   %s\n",
					ph, t, o, ok, r, to, e, p, x }' >&2
		done
	done
}

# ---- one run ---------------------------------------------------------------------------------

run_once() { # off|on
	local mode=$1 dir
	dir=$TMP/run-$mode
	local i x rate t0 sp ph at
	mkdir -p "$dir"
	log "run '$mode': ${PHASES[*]} at ${PHASE_X[*]} x C = $C/s, ${PHASE_S} s each"
	rm -f "$TMP/report.sock"
	if [ "$mode" = on ]; then
		start_daemon
	elif [ "$ZERO_INTEGRATION" != 1 ]; then
		# No daemon: a listener keeps the backend's reports for the pool saturation column.
		socat -u "UNIX-RECV:$TMP/report.sock" "OPEN:$TMP/reports.log,creat,append" &
		PIDS+=($!)
		sp=$!
		sleep 0.2
	fi
	start_backend "$TMP/report.sock"
	sleep 1
	t0=$(date +%s.%N)
	echo "$t0" >"$dir/t0"
	: >"$dir/samples.jsonl"
	sampler "$dir/samples.jsonl" "$t0" "$mode" &
	local sampler_pid=$!
	PIDS+=("$sampler_pid")
	local live_pid=
	if [ "$QUIET" != 1 ]; then
		live_table "$dir" "$dir/samples.jsonl" &
		live_pid=$!
		PIDS+=("$live_pid")
	fi
	LOAD_PIDS=()
	at=$(add_s "$(date +%s.%N)" "$PHASE_LEAD")
	for ((i = 0; i < NPHASES; i++)); do
		ph=${PHASES[i]}
		rate=$(awk -v c="$C" -v x="${PHASE_X[i]}" 'BEGIN { printf "%.1f", c * x }')
		# The next phase starts on schedule while this one's last requests finish.
		start_load "$dir" "$ph" "$rate" "$PHASE_S" "${PHASE_MIX[i]}" "$at"
		sleep_until "$at"
		case $ph in
		slowdb) kill -USR1 "$BACKEND_PID" ;;
		recover) kill -USR2 "$BACKEND_PID" ;;
		esac
		echo "$ph" >"$dir/current_phase"
		echo "$at" >"$dir/start-$ph"
		[ "$QUIET" = 1 ] || log "phase $ph: $rate req/s"
		at=$(add_s "$at" "$PHASE_S")
		sleep_until "$(add_s "$at" "-$PHASE_LEAD")"
	done
	wait_load || log "a load generator exited non-zero (see $dir/*.live)"
	sleep 1
	kill "$sampler_pid" ${live_pid:+"$live_pid"} 2>/dev/null || true
	wait "$sampler_pid" ${live_pid:+"$live_pid"} 2>/dev/null || true
	stop_pid "$BACKEND_PID"
	BACKEND_PID=
	if [ "$mode" = on ]; then
		stop_daemon
	elif [ -n "${sp:-}" ]; then
		stop_pid "$sp"
	fi
	collect_run "$mode"
}

# ---- results ----------------------------------------------------------------------------------

# Per run: phases -> tiers, the sources of a tier added up. p50 is the offered-weighted mean
# of the sources' p50s and p99 their largest p99 (tier 0 has one source: exact). per_second
# is summed by second, t counted from the start of the phase. Also the timeline for the plot.
collect_run() { # MODE
	local mode=$1 dir
	dir=$TMP/run-$mode
	local t0 i ph st off
	t0=$(cat "$dir/t0")
	for ((i = 0; i < NPHASES; i++)); do
		ph=${PHASES[i]}
		st=$(cat "$dir/start-$ph")
		off=$(awk -v a="$st" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
		for t in 0 1 2; do
			jq -s --argjson off "$off" --argjson t0 "$t0" '{
				offered: (map(.offered) | add), ok: (map(.ok) | add),
				refused: (map(.refused) | add), timeouts: (map(.timeouts) | add),
				http_5xx: (map(.http_5xx) | add), errors: (map(.errors) | add),
				behind: (map(.behind) | add), max_lag_ms: (map(.max_lag_ms) | max),
				rate: (map(.rate) | add), duration_s: (.[0].duration_s),
				p50_ms: ((map((.p50_ms // 0) * .ok) | add) / ([(map(.ok) | add), 1] | max)),
				p99_ms: (map(.p99_ms) | max), sources: (map(.sources) | add), start_s: $off,
				first_arrival_s: ((map(.start_unix_us) | min) / 1e6 - $t0),
				per_second: ([.[].per_second[]] | group_by(.t) | map({t: .[0].t,
					offered: (map(.offered) | add), ok: (map(.ok) | add),
					refused: (map(.refused) | add), timeouts: (map(.timeouts) | add),
					http_5xx: (map(.http_5xx) | add), p99_ms: (map(.p99_ms // 0) | max)}))
			} | .success = (if .offered > 0 then .ok / .offered else null end)' \
				"$dir/$ph-t$t"-gen.json >"$dir/$ph-t$t.json" ||
				die "cannot read the load generator's results for $mode/$ph/tier $t"
		done
		jq -n --arg ph "$ph" '{($ph): [inputs]}' "$dir/$ph"-t[012].json >"$dir/phase-$ph.json"
	done
	# Every change of the admit level, from the daemon's -v log (stamped lines): when a cut
	# landed and where, finer than the once-a-second samples.
	: >"$dir/levels.jsonl"
	if [ "$mode" = on ] && [ -f "$TMP/spillwayd.log" ]; then
		awk -v t0="$t0" 'match($0, /level [0-9]+ -> [0-9]+/) {
			split(substr($0, RSTART, RLENGTH), w, " ")
			printf "{\"t\":%.3f,\"from\":%d,\"to\":%d}\n", $1 - t0, w[2], w[4] }' \
			"$TMP/spillwayd.log" >"$dir/levels.jsonl"
	fi
	jq -s 'add' "$dir"/phase-*.json | jq --slurpfile s "$dir/samples.jsonl" \
		--slurpfile l "$dir/levels.jsonl" '{phases: ., samples: $s, levels: $l}' >"$dir/run.json"
}

write_summary() {
	local runs=() m
	for m in $RUNS; do runs+=("$TMP/run-$m/run.json"); done
	local phases x mix
	phases=$(printf '%s\n' "${PHASES[@]}" | jq -R . | jq -sc .)
	x=$(printf '%s\n' "${PHASE_X[@]}" | jq -sc .)
	mix=$(printf '%s\n' "${PHASE_MIX[@]}" | jq -R 'split(" ") | map(tonumber)' | jq -sc .)
	jq -n --argjson c "$C" --argjson ps "$PHASE_S" --arg zi "$ZERO_INTEGRATION" \
		--argjson phases "$phases" --argjson x "$x" --argjson mix "$mix" \
		--argjson pt "$POOL_TARGET" \
		--argjson i50 "$IDLE_N50" --argjson i99 "$IDLE_N99" \
		--argjson s50 "$IDLE_S50" --argjson s99 "$IDLE_S99" \
		--arg runs "$RUNS" --argjson pool "$POOL" --argjson q "$QUERY_MS" '
		($runs | split(" ") | map(select(length > 0))) as $names |
		[inputs] as $r |
		{capacity_rps: $c, phase_s: $ps, zero_integration: ($zi == "1"),
		 pool: $pool, query_ms: $q, pool_target: $pt, tier_mix_percent: $mix,
		 phases: $phases, load_x_capacity: $x,
		 idle: {normal: {p50_ms: $i50, p99_ms: $i99}, slow: {p50_ms: $s50, p99_ms: $s99}},
		 runs: ([range(0; $names | length)] | map({key: $names[.], value: $r[.]}) |
			from_entries)}' "${runs[@]}" >"$OUT/summary.json"
}

side_by_side() {
	local s=$OUT/summary.json
	echo
	echo "Capacity C = $C req/s (pool $POOL x ${QUERY_MS} ms). Idle p50/p99: normal DB $IDLE_N50/$IDLE_N99 ms, slow DB $IDLE_S50/$IDLE_S99 ms."
	echo "Success = ok / offered; p99 in ms over the phase. Tier 0 critical, 1 standard, 2 sheddable."
	jq -r --arg runs "$RUNS" '
		. as $S | ($runs | split(" ") | map(select(length > 0))) as $names |
		($names | map("| \(.) off") ) as $h |
		"phase      tier  " + ($names | map("| \(. + ":" | .[0:5]) offered     ok  refused timeout  succ%   p50   p99 ") | join("")),
		($S.phases[] as $ph | range(0; 3) as $t |
		 "\($ph | .[0:9] | . + "         " | .[0:9])  \($t)     " + ($names | map(
			$S.runs[.].phases[$ph][$t] as $x |
			"| \(" " * 5) \($x.offered | tostring | (" " * (7 - length)) + .) \($x.ok | tostring | (" " * (6 - length)) + .) \($x.refused | tostring | (" " * (8 - length)) + .) \($x.timeouts | tostring | (" " * (7 - length)) + .) \((($x.success // 0) * 1000 | round / 10) | tostring | (" " * (6 - length)) + .) \(($x.p50_ms // 0) | round | tostring | (" " * (5 - length)) + .) \(($x.p99_ms // 0) | round | tostring | (" " * (5 - length)) + .) ") | join("")))' "$s"
}

plot() {
	local m dir png=$OUT/demo.png gp=$TMP/plot.gp t i
	for m in $RUNS; do
		dir=$TMP/run-$m
		# Timeline per tier: t (s from run start), goodput, p99.
		for t in 0 1 2; do
			for ((i = 0; i < NPHASES; i++)); do
				jq -r '.start_s as $o | .per_second[] | "\($o + .t) \(.ok) \(.p99_ms)"' \
					"$dir/${PHASES[i]}-t$t.json"
			done | sort -n >"$dir/tier$t.dat"
		done
		jq -r '"\(.t) \(.pool // "NaN") \(.level // "NaN")"' "$dir/samples.jsonl" \
			>"$dir/samples.dat" 2>/dev/null || : >"$dir/samples.dat"
		[ -s "$dir/samples.dat" ] || echo "0 NaN NaN" >"$dir/samples.dat"
	done
	local nruns
	nruns=$(echo $RUNS | wc -w)
	{
		echo "set terminal pngcairo size $((700 * nruns)),1100 font 'sans,9'"
		echo "set output '$png'"
		echo "set multiplot layout 4,$nruns title 'spillway overload demo: C = $C req/s, phases of $PHASE_S s: warm 0.5C | overload 3C | slow DB 3C | recover 0.5C | flood 10C | after 0.5C'"
		# One time axis for every panel: the sampler's last sample may land past the end.
		echo "set grid; set key top left; set xlabel 'seconds'; set xrange [0:$((PHASE_S * NPHASES))]"
		for ((i = 1; i < NPHASES; i++)); do echo "set arrow from $((PHASE_S * i)),graph 0 to $((PHASE_S * i)),graph 1 nohead dt 2 lc rgb 'gray'"; done
		for m in $RUNS; do
			echo "set title 'spillway $m: goodput per tier (req/s)'; set ylabel 'ok/s'; unset logscale y"
			echo "plot '$TMP/run-$m/tier0.dat' u 1:2 w l lw 2 t 'tier 0', '$TMP/run-$m/tier1.dat' u 1:2 w l lw 2 t 'tier 1', '$TMP/run-$m/tier2.dat' u 1:2 w l lw 2 t 'tier 2'"
		done
		for m in $RUNS; do
			echo "set title 'spillway $m: p99 latency per tier (ms, log)'; set ylabel 'ms'; set logscale y"
			echo "plot '$TMP/run-$m/tier0.dat' u 1:(\$3>0?\$3:NaN) w l lw 2 t 'tier 0', '$TMP/run-$m/tier1.dat' u 1:(\$3>0?\$3:NaN) w l lw 2 t 'tier 1', '$TMP/run-$m/tier2.dat' u 1:(\$3>0?\$3:NaN) w l lw 2 t 'tier 2'"
		done
		echo "unset logscale y"
		for m in $RUNS; do
			echo "set title 'spillway $m: DB pool saturation (backend reports)'; set ylabel 'in use / capacity'; set yrange [0:1.05]"
			echo "plot '$TMP/run-$m/samples.dat' u 1:2 w l lw 2 t 'pool', $POOL_TARGET w l dt 2 t 'target'"
		done
		echo "set autoscale y"
		for m in $RUNS; do
			echo "set title 'spillway $m: admit level (96 = all admitted, 32 = tier 0 only)'; set ylabel 'level'; set yrange [0:100]"
			echo "plot '$TMP/run-$m/samples.dat' u 1:3 w steps lw 2 t 'level'"
		done
		echo "unset multiplot"
	} >"$gp"
	if gnuplot "$gp" 2>"$TMP/gnuplot.err"; then
		echo "Plot: $png"
	else
		log "gnuplot failed: $(cat "$TMP/gnuplot.err")"
	fi
}

# ---- main ----------------------------------------------------------------------------------------

main() {
	local started=$SECONDS
	setup_topology
	demo_start_postgres "$NS_SRV" $((POOL + 20))
	# Capacity and idle figures with a plain backend, nothing shedding.
	rm -f "$TMP/report.sock"
	start_backend "$TMP/report.sock"
	local idle
	idle=$(measure_idle normal)
	read -r IDLE_N50 IDLE_N99 <<<"$idle"
	kill -USR1 "$BACKEND_PID"
	sleep 0.5
	idle=$(measure_idle slow)
	read -r IDLE_S50 IDLE_S99 <<<"$idle"
	kill -USR2 "$BACKEND_PID"
	log "idle p50/p99: normal DB $IDLE_N50/$IDLE_N99 ms, slow DB $IDLE_S50/$IDLE_S99 ms"
	if [ -z "${C:-}" ]; then
		log "measuring the capacity C (open loop, stepped, spillway off)"
		measure_capacity
	fi
	log "capacity C = $C req/s"
	stop_pid "$BACKEND_PID"
	BACKEND_PID=
	local m
	for m in $RUNS; do
		run_once "$m"
		sleep 2
	done
	write_summary
	[ -f "$TMP/spillwayd.log" ] && cp "$TMP/spillwayd.log" "$OUT/spillwayd.log"
	side_by_side
	plot
	echo "Summary: $OUT/summary.json ($((SECONDS - started)) s)"
}

# On one line with the call: bash reads a script as it runs it, and a script edited during a
# run (a checkout, a rebuild) must not have its new tail executed after main returns.
main "$@"; exit $?
