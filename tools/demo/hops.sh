#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The two-hop demo: backpressure that crosses a service boundary. A client host sends
# open-loop load per tier, with naive retries, to a front service that calls a back service
# for every request; the back service's database slows 3x mid-run. Run once with spillway on
# neither host (off) and once on both (on).
#
#   sudo make demo HOPS=2      (or: sudo HOPS=2 tools/demo/run.sh, or this script)
#
# Topology, all in network namespaces of this run's own:
#
#   spw-hops-PID-cli          spw-hops-PID-front               spw-hops-PID-back
#   hc0 198.18.20.2 ------- hf0 198.18.20.1
#   loadgen per tier          demo-backend --upstream           demo-backend :8080
#   (--retries 3)             :8080          hb0 198.18.21.1 -- hk0 198.18.21.2
#                             spillwayd: XDP on hf0, TC on hb0  PostgreSQL (unix socket)
#                                                               spillwayd: TC on hk0
#                                                               example-consumer ->
#                                                               example-slow-sink 127.0.0.1:8081
#
# The job consumer example runs on the back host beside the back service: its job table is in
# the back's PostgreSQL (a database of its own per run, JOBS jobs inserted before the run), and
# the helper it pauses with reads the shed state of the daemon on its own host
# (STATE_DIR/state), which is where the sink's service is configured. The sink (the consumer's
# downstream, on loopback: the data plane never sees its traffic; the shed state is all that
# protects it) has a quota of SINK_RATE jobs/s, SINK_SLOW times less in slowdb (its own
# downstream slows with the database), and reports the quota's bucket as a pool; a consumer
# that pulls as fast as it can (MAX_INFLIGHT in flight, SINK_MS a job) offers about twice the
# slow quota. It pauses whenever its tier (sheddable) is not wholly admitted, as the sink
# refuses a partly admitted tier whole. Measured per run: the consumer's most jobs held against
# its --buffer, the sink's refusals over its quota and its most jobs in service against its
# concurrency, jobs lost (inserted, not in done, dead or left in the table) and applied twice
# (the sink's Idempotency-Key duplicates), the consumer's pauses and the sink's shed refusals.
#
# Tier t's clients send from 198.19.(16t+k).1. The front host classifies them by source
# (classify: rules), the front service's call to the back carries the tier's DSCP (46, 26,
# 0) on its socket, and the back host trusts the front's prefix's DSCP (dscp:), so the back
# enforces the tier the front chose. The front has the back as a downstream: its TC egress
# throttles new connections to the back by what the back accepts (K = 2). The back host's
# interface is in TC mode, so its rejects (RSTs) reach the front without an XDP program on
# the front's side of that veth.
#
# Every SYN that reaches the back host is captured on hk0 (tcpdump, before TC ingress, so
# refused ones count); a retransmitted SYN (same source port and sequence) is the same
# connection attempt. Retry amplification = those attempts / the requests the clients meant
# to send (loadgen's offered, retries not counted); their DSCP says the tier each carried.
#
# Phases (PHASE_S seconds each, load LOAD x C, C = POOL / QUERY_MS, mix 10/30/60 %):
#   warm | slowdb (the DB 3x slower) | recover
# Results: OUT/summary.json (retry_amplification and the consumer's figures per run), both
# daemons' -v logs (OUT/spillwayd-front.log, -back.log; lines stamped with the wall clock), a
# side-by-side table.
#
# Environment (defaults in brackets): PHASE_S [15]  LOAD [0.6]  POOL [20]  QUERY_MS [50]
#   RETRIES [3]  RUNS ["off on"]  SOURCES [4] prefixes of tiers 1 and 2  OUT [build/e2e/hops]
#   BUILD [build]  UPSTREAM_TIMEOUT_MS [500] the front's bound on a call
#   JOBS [5000]  SINK_RATE [400] jobs/s  SINK_SLOW [4]  (the consumer and its sink)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "$ROOT" && mkdir -p "${BUILD:-build}" && cd "${BUILD:-build}" && pwd)
OUT=${OUT:-$BUILD/e2e/hops}
PHASE_S=${PHASE_S:-15}
LOAD=${LOAD:-0.6}
POOL=${POOL:-20}
QUERY_MS=${QUERY_MS:-50}
RETRIES=${RETRIES:-3}
RUNS=${RUNS:-off on}
SOURCES=${SOURCES:-4}
UPSTREAM_TIMEOUT_MS=${UPSTREAM_TIMEOUT_MS:-500}
JOBS=${JOBS:-5000}
SINK_RATE=${SINK_RATE:-400}
SINK_SLOW=${SINK_SLOW:-4}
case $SOURCES in [1-9] | 1[0-6]) ;; *) echo "SOURCES must be 1 to 16, not '$SOURCES'" >&2; exit 2 ;; esac
for v in JOBS SINK_RATE SINK_SLOW; do
	case ${!v} in '' | *[!0-9]* | 0) echo "$v must be a positive integer, not '${!v}'" >&2; exit 2 ;; esac
done
PORT=8080
PHASES=(warm slowdb recover)
MIX=(10 30 60)
TIER_NAMES=(critical standard sheddable)
# The DSCP of each tier's calls: EF, AF31, best effort.
DSCP=(46 26 0)
# Front workers: one per call in flight. At LOAD x C with up to RETRIES + 1 attempts per
# request, each bounded by about twice UPSTREAM_TIMEOUT_MS (connect, then the answer): up to
# 240 x 4 x 1 s. With 384 the front itself queued in the off run, and its clients timed out
# (3 s) instead of getting the 503s a naive client retries.
FRONT_WORKERS=1024
# The back's workers well above its pool, as in the one-hop demo: its queue forms at the pool.
BACK_WORKERS=64
# The consumer and its sink: the sink's service time and concurrency; the consumer's buffer
# and jobs in flight (its tier at the sink: sheddable). At SINK_MS a job MAX_INFLIGHT in
# flight offer up to 200 jobs/s: half the quota, twice the slow one.
SINK_PORT=8081
METRICS_PORT=9478
SINK_MS=20
SINK_CAPACITY=8
BUFFER=16
MAX_INFLIGHT=4
CONSUMER_TIER=2

ID=$$
NS_CLI=spw-hops-$ID-cli
NS_FRONT=spw-hops-$ID-front
NS_BACK=spw-hops-$ID-back
CLI_ADDR=198.18.20.2
FRONT_ADDR=198.18.20.1
FRONT_UP=198.18.21.1
BACK_ADDR=198.18.21.2
TMP=
PG_DATA=
PIDS=()

log() { printf '[hops %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=tools/demo/lib.sh
. "$ROOT/tools/demo/lib.sh"

cleanup() {
	local rc=$? ns
	set +e
	trap - EXIT INT TERM
	demo_stop_all
	for ns in "$NS_CLI" "$NS_FRONT" "$NS_BACK"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "/sys/fs/bpf/spw-hops-$ID-front" "/sys/fs/bpf/spw-hops-$ID-back" 2>/dev/null
	demo_finish $rc
}
demo_traps


demo_check_setup jq nsenter ip runuser tcpdump curl
for b in example-consumer example-slow-sink; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: run 'make all'"
done

demo_reap_stale hops
TMP=$(mktemp -d /tmp/spw-hops.XXXXXX)
chmod 755 "$TMP"
echo $ID >"$TMP/owner"
mkdir -p "$OUT"

src_count() { if [ "$1" -eq 0 ]; then echo 1; else echo "$SOURCES"; fi; }
src_addr() { echo "198.19.$((16 * $1 + $2)).1"; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }

# TIER_SRC_ARGS[t]: the generators' --source arguments of tier t, built once here (forks at
# a phase's start delay its generators; see start_load in run.sh).
declare -a TIER_SRC_ARGS
setup_topology() {
	local ns t k
	for ns in "$NS_CLI" "$NS_FRONT" "$NS_BACK"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip link add hf0 netns "$NS_FRONT" type veth peer name hc0 netns "$NS_CLI"
	ip link add hb0 netns "$NS_FRONT" type veth peer name hk0 netns "$NS_BACK"
	ip -n "$NS_CLI" addr add "$CLI_ADDR/24" dev hc0
	for t in 0 1 2; do
		TIER_SRC_ARGS[t]=
		for ((k = 0; k < $(src_count $t); k++)); do
			ip -n "$NS_CLI" addr add "$(src_addr $t $k)/32" dev hc0
			TIER_SRC_ARGS[t]+=" --source $(src_addr $t $k)"
		done
	done
	ip -n "$NS_FRONT" addr add "$FRONT_ADDR/24" dev hf0
	ip -n "$NS_FRONT" addr add "$FRONT_UP/24" dev hb0
	ip -n "$NS_BACK" addr add "$BACK_ADDR/24" dev hk0
	ip -n "$NS_CLI" link set hc0 up
	ip -n "$NS_FRONT" link set hf0 up
	ip -n "$NS_FRONT" link set hb0 up
	ip -n "$NS_BACK" link set hk0 up
	ip -n "$NS_CLI" route add default via "$FRONT_ADDR"
	ip -n "$NS_FRONT" route add 198.19.0.0/16 via "$CLI_ADDR"
	for ns in "$NS_CLI" "$NS_FRONT" "$NS_BACK"; do
		# Many short connections from few addresses: wide port range, reuse TIME_WAIT. The
		# ports this scenario listens on are kept out of it: a connection's local port (or
		# its TIME_WAIT, a minute long) on 127.0.0.1:$METRICS_PORT made the next daemon's
		# bind fail with EADDRINUSE and the daemon exit (seen in a clean-clone CI run).
		nsx "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1 \
			net.ipv4.ip_local_reserved_ports="$PORT,$SINK_PORT,$METRICS_PORT" \
			net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
	done
	# The front's rejects (XDP_TX on hf0) only arrive on a veth whose peer has XDP.
	ip -n "$NS_CLI" link set dev hc0 xdpdrv obj "$BUILD/bpf/empty_xdp.bpf.o" sec xdp
}


wait_http() { # NS URL PID LOG
	local i
	for ((i = 0; i < 100; i++)); do
		nsx "$1" curl -s -o /dev/null --max-time 1 "$2" && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	cat "$4" >&2
	die "$2 did not come up"
}

start_services() { # MODE
	local dir=$TMP/run-$1 tiermap='' t
	mkdir -p "$TMP/state-back" "$TMP/state-front"
	nsenter --net="/var/run/netns/$NS_BACK" -- "$BUILD/demo-backend" --listen "0.0.0.0:$PORT" --workers "$BACK_WORKERS" \
		--db-pool "$POOL" --db "host=$TMP/pg dbname=postgres user=postgres" \
		--query-ms "$QUERY_MS" --service backend --state-dir "$TMP/state-back" \
		--backlog 256 --report-socket "$TMP/report-back.sock" --default-tier 2 \
		>>"$dir/back.log" 2>&1 &
	BACK_PID=$!
	PIDS+=("$BACK_PID")
	for t in 0 1 2; do tiermap+="${tiermap:+,}198.19.$((16 * t)).0/20=$t"; done
	nsenter --net="/var/run/netns/$NS_FRONT" -- "$BUILD/demo-backend" --listen "0.0.0.0:$PORT" --workers "$FRONT_WORKERS" \
		--upstream "$BACK_ADDR:$PORT" --upstream-timeout-ms "$UPSTREAM_TIMEOUT_MS" \
		--upstream-dscp "$(
			IFS=,
			echo "${DSCP[*]}"
		)" --service front --state-dir "$TMP/state-front" --no-report --backlog 1024 \
		--tier-map "$tiermap" >>"$dir/front.log" 2>&1 &
	FRONT_PID=$!
	PIDS+=("$FRONT_PID")
	wait_http "$NS_FRONT" "http://$BACK_ADDR:$PORT/health" "$BACK_PID" "$dir/back.log"
	wait_http "$NS_CLI" "http://$FRONT_ADDR:$PORT/health" "$FRONT_PID" "$dir/front.log"
}


# ---- spillway on both hosts -----------------------------------------------------------------

write_front_config() { # FILE
	local t
	{
		echo "# spillway on the front host, written by tools/demo/hops.sh"
		echo "interfaces: [{name: hf0, mode: xdp}, {name: hb0, mode: tc}]"
		echo "tiers: [${TIER_NAMES[0]}, ${TIER_NAMES[1]}, ${TIER_NAMES[2]}]"
		echo "classify:"
		for t in 0 1 2; do echo "  - {cidr: 198.19.$((16 * t)).0/20, tier: ${TIER_NAMES[t]}}"; done
		# The map gives the throttle the tier of the front's own calls (their DSCP).
		echo "dscp: {trusted_sources: [$FRONT_UP/32], map: {${DSCP[0]}: ${TIER_NAMES[0]}, ${DSCP[1]}: ${TIER_NAMES[1]}}}"
		cat <<EOF
services:
  - name: front
    port: $PORT
    default_tier: ${TIER_NAMES[2]}
    shed_action: {${TIER_NAMES[1]}: reject, ${TIER_NAMES[2]}: reject}
    mark_egress: {${TIER_NAMES[0]}: ${DSCP[0]}, ${TIER_NAMES[1]}: ${DSCP[1]}, ${TIER_NAMES[2]}: ${DSCP[2]}}
    # The front holds no scarce resource of its own: the back sheds, the throttle keeps
    # the refused calls' retries on this host.
    signals:
      - {in_flight: 100000}
downstreams:
  - {name: back, dest: $BACK_ADDR:$PORT, k: 2.0, window_s: 1, tier: ${TIER_NAMES[2]}}
controller: {tick: 100ms, lease: 3s}
metrics: {listen: "127.0.0.1:$METRICS_PORT"}
report: {socket: $TMP/report-front.sock}
state_dir: $TMP/state-front
EOF
	} >"$1"
}

write_back_config() { # FILE
	cat >"$1" <<EOF
# spillway on the back host, written by tools/demo/hops.sh
interfaces: [{name: hk0, mode: tc}]
tiers: [${TIER_NAMES[0]}, ${TIER_NAMES[1]}, ${TIER_NAMES[2]}]
dscp: {trusted_sources: [$FRONT_UP/32], map: {${DSCP[0]}: ${TIER_NAMES[0]}, ${DSCP[1]}: ${TIER_NAMES[1]}}}
services:
  - name: backend
    port: $PORT
    default_tier: ${TIER_NAMES[2]}
    shed_action: {${TIER_NAMES[1]}: reject, ${TIER_NAMES[2]}: reject}
    signals:
      - {pool: db, target: 0.95}
      - {pool_wait: db, target: ${QUERY_MS}ms}
  # The consumer's sink: its quota's bucket half spent is the target, so the consumer is
  # paused well before the bucket is empty.
  - name: sink
    port: $SINK_PORT
    default_tier: ${TIER_NAMES[2]}
    signals:
      - {pool: sink, target: 0.5}
controller: {tick: 100ms, lease: 3s}
metrics: {listen: "127.0.0.1:$METRICS_PORT"}
report: {socket: $TMP/report-back.sock}
state_dir: $TMP/state-back
EOF
}

start_daemon() { # NS NAME CONFIG
	local ns=$1 name=$2 cfg=$3 pin=/sys/fs/bpf/spw-hops-$ID-$2 i pid
	"$BUILD/spillway" config check "$cfg" >/dev/null ||
		die "the generated config does not validate: $cfg"
	# -v: every admit-level change with the estimates that sized it, each line stamped with
	# the wall clock; both runs' logs are kept in OUT (an outlier's cause is in them).
	nsenter --net="/var/run/netns/$ns" -- "$BUILD/spillwayd" -v -c "$cfg" --pin-root "$pin" \
		> >(stamp_lines >>"$TMP/spillwayd-$name.log") 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 150; i++)); do
		nsx "$ns" curl -s -o /dev/null --max-time 1 http://127.0.0.1:$METRICS_PORT/metrics && break
		kill -0 "$pid" 2>/dev/null || { cat "$TMP/spillwayd-$name.log" >&2; die "spillwayd ($name) exited"; }
		sleep 0.1
	done
	eval "DAEMON_$name=$pid"
}

stop_daemon() { # NS NAME
	local pid
	eval "pid=\${DAEMON_$2:-}"
	stop_pid "$pid"
	nsx "$1" "$BUILD/spillway" --pin-root "/sys/fs/bpf/spw-hops-$ID-$2" detach --all --yes \
		>/dev/null 2>&1 || true
	rm -rf "/sys/fs/bpf/spw-hops-$ID-$2"
}

metrics() { nsx "$1" curl -s --max-time 2 http://127.0.0.1:$METRICS_PORT/metrics; }

# ---- the job consumer and its sink, on the back host ------------------------------------------

jobs_sql() { # MODE SQL: one statement on the run's job database, its rows unaligned
	"$PG_BIN/psql" -h "$TMP/pg" -U postgres -d "spwjobs_$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"
}

start_jobs() { # MODE: a fresh job table with JOBS jobs, the sink, then the consumer
	local dir=$TMP/run-$1 conn="host=$TMP/pg dbname=spwjobs_$1 user=postgres"
	"$PG_BIN/createdb" -h "$TMP/pg" -U postgres "spwjobs_$1" || die "createdb spwjobs_$1 failed"
	"$BUILD/example-consumer" --db "$conn" --init || die "example-consumer --init failed"
	jobs_sql "$1" "INSERT INTO spw_jobs (payload) SELECT 'job ' || g FROM generate_series(1, $JOBS) g" \
		>/dev/null || die "cannot insert the jobs"
	nsenter --net="/var/run/netns/$NS_BACK" -- "$BUILD/example-slow-sink" --port "$SINK_PORT" \
		--capacity "$SINK_CAPACITY" --service-ms "$SINK_MS" --rate "$SINK_RATE" \
		--slow-factor "$SINK_SLOW" --service sink --state-dir "$TMP/state-back" \
		--report-socket "$TMP/report-back.sock" >>"$dir/sink.log" 2>&1 &
	SINK_PID=$!
	PIDS+=("$SINK_PID")
	wait_http "$NS_BACK" "http://127.0.0.1:$SINK_PORT/stats" "$SINK_PID" "$dir/sink.log"
	nsenter --net="/var/run/netns/$NS_BACK" -- "$BUILD/example-consumer" --db "$conn" \
		--sink "127.0.0.1:$SINK_PORT" --service sink --tier "$CONSUMER_TIER" \
		--state-dir "$TMP/state-back" --buffer "$BUFFER" --max-inflight "$MAX_INFLIGHT" \
		--pause-below 1000 --resume-at 1000 --exit-when-empty >"$dir/consumer.log" 2>&1 &
	CONSUMER_PID=$!
	PIDS+=("$CONSUMER_PID")
}

# The consumer stops (what it holds goes back to the table), the sink's counters are read.
stop_jobs() { # MODE
	local dir=$TMP/run-$1
	stop_pid "$CONSUMER_PID"
	nsx "$NS_BACK" curl -s --max-time 2 "http://127.0.0.1:$SINK_PORT/stats" >"$dir/sink-stats.txt" ||
		die "the sink did not answer /stats"
	stop_pid "$SINK_PID"
}

# "a=1 b=2" (after an optional "name: ") as a JSON object of numbers.
kv_json() { sed 's/^[a-z]*: //' | tr ' ' '\n' | grep '=' | jq -R 'split("=") | {(.[0]): (.[1] | tonumber)}' | jq -s add; }

collect_jobs() { # MODE: the consumer's figures, in run-MODE/consumer.json
	local dir=$TMP/run-$1 c k by_phase
	c=$(grep '^consumer: ' "$dir/consumer.log" | tail -1 | kv_json)
	[ -n "$c" ] && [ "$c" != null ] || { cat "$dir/consumer.log" >&2; die "the consumer printed no figures"; }
	k=$(kv_json <"$dir/sink-stats.txt")
	# Jobs done per phase (a job done before the load began counts as warm's).
	by_phase=$(jobs_sql "$1" "SELECT json_build_array(
		count(*) FILTER (WHERE done_at < to_timestamp($(cat "$dir/start-slowdb"))),
		count(*) FILTER (WHERE done_at >= to_timestamp($(cat "$dir/start-slowdb")) AND
			done_at < to_timestamp($(cat "$dir/start-recover"))),
		count(*) FILTER (WHERE done_at >= to_timestamp($(cat "$dir/start-recover")))) FROM spw_jobs_done")
	jq -n --argjson c "$c" --argjson k "$k" --argjson jobs "$JOBS" --argjson by_phase "$by_phase" \
		--argjson "done" "$(jobs_sql "$1" 'SELECT count(*) FROM spw_jobs_done')" \
		--argjson dead "$(jobs_sql "$1" 'SELECT count(*) FROM spw_jobs_dead')" \
		--argjson left "$(jobs_sql "$1" 'SELECT count(*) FROM spw_jobs')" \
		--argjson both "$(jobs_sql "$1" 'SELECT count(*) FROM spw_jobs_done JOIN spw_jobs_dead USING (id)')" \
		--argjson rate "$SINK_RATE" --argjson slow "$SINK_SLOW" --argjson cap "$SINK_CAPACITY" '
		{jobs: $jobs, done: $done, dead: $dead, left: $left, lost: ($jobs - $done - $dead - $left),
		 done_by_phase: $by_phase,
		 done_and_dead: $both, duplicates: $k.duplicates, sink_applied: $k.applied,
		 buffer: $c.buffer, buffer_max: $c.peak_held, max_inflight: '"$MAX_INFLIGHT"',
		 inflight_max: $c.peak_inflight, pauses: $c.pauses, resumes: $c.resumes,
		 requeued: $c.requeued, lease_lost: $c.lost,
		 sink_rate: $rate, sink_slow_rate: ($rate / $slow), sink_over_rate: $k.over_rate,
		 sink_capacity: $cap, sink_in_service_max: $k.peak, sink_over_capacity: $k.over_capacity,
		 sink_requests: $k.requests, sink_shed: $k.shed}' >"$dir/consumer.json"
}

# ---- idle latency ------------------------------------------------------------------------------

measure_idle() { # NAME: one request at a time, through both hops
	local f=$TMP/idle-$1.txt
	nsx "$NS_CLI" "$BUILD/loadgen" --target "$FRONT_ADDR:$PORT" --source "$(src_addr 0 0)" \
		--path /work --measure-idle "${IDLE_N:-100}" >"$f" 2>&1 ||
		{ cat "$f" >&2; die "loadgen --measure-idle failed"; }
	grep -oE 'p99_ms=[0-9.]+' "$f" | cut -d= -f2
}

# ---- one run -----------------------------------------------------------------------------------

run_once() { # off|on
	local mode=$1 dir=$TMP/run-$1 i ph t rate srcs cap_pid at
	mkdir -p "$dir"
	log "run '$mode': ${PHASES[*]} at $LOAD x C = $(calc "$C * $LOAD")/s, ${PHASE_S} s each, $RETRIES retries"
	if [ "$mode" = on ]; then
		write_back_config "$TMP/back.yaml"
		write_front_config "$TMP/front.yaml"
		start_daemon "$NS_BACK" back "$TMP/back.yaml"
		start_daemon "$NS_FRONT" front "$TMP/front.yaml"
	fi
	start_services "$mode"
	# Every SYN (not SYN-ACK) that reaches the back host, before its TC ingress.
	nsenter --net="/var/run/netns/$NS_BACK" -- tcpdump -i hk0 -nn -U -B 8192 -w "$dir/back-syns.pcap" \
		"tcp dst port $PORT and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn" \
		2>"$dir/tcpdump.err" &
	cap_pid=$!
	PIDS+=("$cap_pid")
	sleep 1
	[ "$mode" = on ] && { metrics "$NS_FRONT" >"$dir/front-before.prom"; metrics "$NS_BACK" >"$dir/back-before.prom"; }
	start_jobs "$mode"
	date +%s.%N >"$dir/t0"
	LOAD_PIDS=()
	at=$(add_s "$(date +%s.%N)" "$PHASE_LEAD")
	for ((i = 0; i < ${#PHASES[@]}; i++)); do
		ph=${PHASES[i]}
		for t in 0 1 2; do
			rate=$(calc "$C * $LOAD * ${MIX[t]} / 100")
			read -r -a srcs <<<"${TIER_SRC_ARGS[t]}"
			nsenter --net="/var/run/netns/$NS_CLI" -- "$BUILD/loadgen" --target "$FRONT_ADDR:$PORT" --rate "$rate" \
				--duration "$PHASE_S" --start-at "$at" "${srcs[@]}" --tier "$t" --path /work \
				--retries "$RETRIES" --connect-timeout-ms 1000 --timeout-ms 3000 \
				--json "$dir/$ph-t$t.json" >"$dir/$ph-t$t.log" 2>&1 &
			LOAD_PIDS+=($!)
			PIDS+=($!)
		done
		sleep_until "$at"
		case $ph in
		slowdb) kill -USR1 "$BACK_PID" "$SINK_PID" ;;
		recover) kill -USR2 "$BACK_PID" "$SINK_PID" ;;
		esac
		echo "$at" >"$dir/start-$ph"
		at=$(add_s "$at" "$PHASE_S")
		sleep_until "$(add_s "$at" "-$PHASE_LEAD")"
	done
	for i in "${LOAD_PIDS[@]}"; do wait "$i" || log "a load generator exited non-zero ($dir)"; done
	date +%s.%N >"$dir/end"
	sleep 1
	[ "$mode" = on ] && { metrics "$NS_FRONT" >"$dir/front-after.prom"; metrics "$NS_BACK" >"$dir/back-after.prom"; }
	kill -INT "$cap_pid" 2>/dev/null || true
	wait "$cap_pid" 2>/dev/null || true
	stop_jobs "$mode"
	stop_pid "$FRONT_PID"
	stop_pid "$BACK_PID"
	if [ "$mode" = on ]; then
		stop_daemon "$NS_FRONT" front
		stop_daemon "$NS_BACK" back
	fi
	collect_jobs "$mode"
	collect_run "$mode"
}

# ---- results -----------------------------------------------------------------------------------

# Sum of a counter's samples matching a label filter (a regex on the label set), after - before.
prom_delta() { # DIR HOST METRIC LABEL_REGEX
	local a b
	a=$(awk -v m="$3" -v r="$4" 'index($0, m "{") == 1 && $0 ~ r { s += $NF } END { print s + 0 }' "$1/$2-after.prom")
	b=$(awk -v m="$3" -v r="$4" 'index($0, m "{") == 1 && $0 ~ r { s += $NF } END { print s + 0 }' "$1/$2-before.prom")
	echo $((a - b))
}

collect_run() { # MODE
	local mode=$1 dir=$TMP/run-$1 ph t i st en tiers agree='null' starts=() syns tosfile
	# Connection attempts at the back (distinct SYNs: "TIME DSCP SRC/SEQ") by phase (by
	# capture time) and by DSCP.
	tosfile=$dir/back-syns.txt
	tcpdump -r "$dir/back-syns.pcap" -nn -tt -v 2>/dev/null |
		awk 'function hex(s, i, v) { v = 0; for (i = 1; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
		/\(tos 0x/ { match($0, /tos 0x[0-9a-f]+/); ts = $1
			dscp = int(hex(substr($0, RSTART + 6, RLENGTH - 6)) / 4); next }
		/ Flags \[S\]/ { match($0, / seq [0-9]+/)
			print ts, dscp, $1 "/" substr($0, RSTART + 5, RLENGTH - 5) }' |
		# A retransmitted SYN (same source port and sequence number) is the same attempt.
		awk '!seen[$3]++' >"$tosfile"
	for ph in "${PHASES[@]}"; do starts+=("$(cat "$dir/start-$ph")"); done
	starts+=("$(cat "$dir/end")")
	for ((i = 0; i < ${#PHASES[@]}; i++)); do
		ph=${PHASES[i]}
		st=${starts[i]}
		# The last phase's requests finish after its arrivals end: count to the end of capture.
		if ((i + 1 == ${#PHASES[@]})); then en=1e18; else en=${starts[i + 1]}; fi
		syns=$(awk -v a="$st" -v b="$en" '$1 >= a && $1 < b { n++ } END { print n + 0 }' "$tosfile")
		# first_arrival_s: when the generator began, s since t0 (the phases' gaps).
		tiers=$(jq -s --argjson t0 "$(cat "$dir/t0")" '[.[] | {offered, ok, refused, timeouts,
			http_5xx, errors, attempts, retried, p50_ms, p99_ms,
			first_arrival_s: (if .start_unix_us then .start_unix_us / 1e6 - $t0 else null end),
			success: (if .offered > 0 then .ok / .offered else null end)}]' \
			"$dir/$ph-t"[012].json)
		jq -n --arg ph "$ph" --argjson tiers "$tiers" --argjson syns "$syns" '{($ph): ({tiers: $tiers,
			back_syns: $syns, meant: ($tiers | map(.offered) | add),
			attempts: ($tiers | map(.attempts) | add)} |
			.retry_amplification = (if .meant > 0 then .back_syns / .meant else null end))}' \
			>"$dir/phase-$ph.json"
	done
	# The back's SYNs by tier, as their DSCP says (a DSCP the back's map has not: the default).
	local by_dscp
	by_dscp=$(awk -v d0="${DSCP[0]}" -v d1="${DSCP[1]}" '{ t = ($2 == d0) ? 0 : ($2 == d1) ? 1 : 2; n[t]++ }
		END { printf "[%d,%d,%d]", n[0], n[1], n[2] }' "$tosfile")
	# The front app's calls per tier (the tier it chose), from its exit line.
	local calls
	calls=$(awk '/calls tier=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n[v["tier"]] = v["ok"] + v["refused"] + v["timeout"] + v["failed"] }
		END { printf "[%d,%d,%d]", n[0], n[1], n[2] }' "$dir/front.log")
	if [ "$mode" = on ]; then
		# Counted by both spillways: the connections the front let out to the back (its
		# throttle's requests less the ones it refused on the host), by the tier it gave
		# them; the new flows the back decided on, by the tier it classified them in.
		local fr=() bk=() rq th
		for t in 0 1 2; do
			rq=$(prom_delta "$dir" front spillway_throttle_requests_total "tier=\"${TIER_NAMES[t]}\"")
			th=$(prom_delta "$dir" front spillway_throttle_throttled_total "tier=\"${TIER_NAMES[t]}\"")
			fr+=($((rq - th)))
			bk+=("$(prom_delta "$dir" back spillway_new_flows_total "service=\"backend\",tier=\"${TIER_NAMES[t]}\"")")
		done
		local thr
		thr=$(prom_delta "$dir" front spillway_throttle_throttled_total "downstream=\"back\"")
		agree=$(jq -n --argjson f "[${fr[0]},${fr[1]},${fr[2]}]" --argjson b "[${bk[0]},${bk[1]},${bk[2]}]" \
			--argjson th "$thr" '{front_sent: $f, back_decided: $b, front_throttled: $th,
			equal: ($f == $b)}')
	fi
	jq -s 'add' "$dir"/phase-*.json | jq --argjson agree "$agree" --argjson dscp "$by_dscp" \
		--slurpfile consumer "$dir/consumer.json" \
		--argjson calls "$calls" --arg drops "$(grep -oE '[0-9]+ packets dropped by kernel' "$dir/tcpdump.err" | grep -oE '^[0-9]+' || echo 0)" '
		{phases: ., back_syns: (map(.back_syns) | add), meant: (map(.meant) | add),
		 attempts: (map(.attempts) | add), back_syns_by_dscp_tier: $dscp,
		 front_calls_by_tier: $calls, capture_dropped: ($drops | tonumber),
		 tier_agreement: $agree, consumer: $consumer[0]} |
		.retry_amplification = (.back_syns / .meant) |
		.client_amplification = (.attempts / .meant)' >"$dir/run.json"
}

write_summary() {
	local runs=() m
	for m in $RUNS; do runs+=("$TMP/run-$m/run.json"); done
	jq -n --argjson c "$C" --argjson load "$LOAD" --argjson ps "$PHASE_S" --argjson rt "$RETRIES" \
		--argjson pool "$POOL" --argjson q "$QUERY_MS" --argjson i99 "$IDLE_N99" \
		--argjson s99 "$IDLE_S99" --arg runs "$RUNS" --argjson up "$UPSTREAM_TIMEOUT_MS" '
		($runs | split(" ") | map(select(length > 0))) as $names | [inputs] as $r |
		{hops: 2, capacity_rps: $c, load_x_capacity: $load, phase_s: $ps, retries: $rt,
		 pool: $pool, query_ms: $q, upstream_timeout_ms: $up, tier_mix_percent: [10, 30, 60],
		 phases: ["warm", "slowdb", "recover"],
		 consumer: {jobs: '"$JOBS"', buffer: '"$BUFFER"', max_inflight: '"$MAX_INFLIGHT"',
			sink_ms: '"$SINK_MS"', sink_rate: '"$SINK_RATE"', sink_slow_factor: '"$SINK_SLOW"',
			sink_capacity: '"$SINK_CAPACITY"'},
		 idle: {normal: {p99_ms: $i99}, slow: {p99_ms: $s99}},
		 runs: ([range(0; $names | length)] | map({key: $names[.], value: $r[.]}) | from_entries)}' \
		"${runs[@]}" >"$OUT/summary.json"
}

side_by_side() {
	jq -r --arg runs "$RUNS" '
		. as $S | ($runs | split(" ") | map(select(length > 0))) as $n |
		def col(f): $n | map($S.runs[.] | f | tostring | .[0:22] | . + (" " * (22 - length))) | join("");
		def pct: if . == null then "-" else (. * 1000 | round / 10 | tostring) + " %" end;
		def x: if . == null then "-" else (. * 100 | round / 100 | tostring) + "x" end;
		"Two hops: C = \($S.capacity_rps) req/s at the back (pool \($S.pool) x \($S.query_ms) ms), load \($S.load_x_capacity) C, \($S.retries) immediate retries, phases of \($S.phase_s) s. Idle p99 end to end: \($S.idle.normal.p99_ms) ms (slow DB \($S.idle.slow.p99_ms) ms).",
		"",
		"                                  " + ($n | map("spillway " + . + (" " * (13 - length))) | join("")),
		($S.phases[] as $ph |
		 "tier-0 success, \($ph | . + (" " * (8 - length)))          " + col(.phases[$ph].tiers[0].success | pct),
		 "tier-0 p99 / idle, \($ph | . + (" " * (8 - length)))       " + col(.phases[$ph].tiers[0].p99_ms as $p |
			(if $ph == "slowdb" then $S.idle.slow.p99_ms else $S.idle.normal.p99_ms end) as $i |
			if $p == null then "-" else "\($p | round) ms = \($p / $i | x)" end)),
		"tier-1 success, slowdb            " + col(.phases.slowdb.tiers[1].success | pct),
		"tier-2 success, slowdb            " + col(.phases.slowdb.tiers[2].success | pct),
		"retry amplification at the back   " + col(.retry_amplification | x),
		"  in slowdb                       " + col(.phases.slowdb.retry_amplification | x),
		"  SYNs at the back / meant        " + col("\(.back_syns) / \(.meant)"),
		"client attempts / meant           " + col(.client_amplification | x),
		"front calls by tier (chosen)      " + col(.front_calls_by_tier | map(tostring) | join("/")),
		"back SYNs by DSCP tier (wire)     " + col(.back_syns_by_dscp_tier | map(tostring) | join("/")),
		"tier agreement: front let out     " + col(if .tier_agreement then .tier_agreement.front_sent | map(tostring) | join("/") else "-" end),
		"                back decided      " + col(if .tier_agreement then .tier_agreement.back_decided | map(tostring) | join("/") else "-" end),
		"                equal             " + col(if .tier_agreement then .tier_agreement.equal else "-" end),
		"front throttled (on the host)     " + col(if .tier_agreement then .tier_agreement.front_throttled else "-" end),
		"",
		"Job consumer on the back host: \($S.consumer.jobs) jobs, buffer \($S.consumer.buffer), \($S.consumer.max_inflight) in flight; its sink: \($S.consumer.sink_rate) jobs/s, \($S.consumer.sink_rate / $S.consumer.sink_slow_factor) in slowdb, \($S.consumer.sink_capacity) at once.",
		"jobs done / dead / left           " + col(.consumer | "\(.done) / \(.dead) / \(.left)"),
		"  done in warm / slowdb / recover " + col(.consumer.done_by_phase | map(tostring) | join(" / ")),
		"jobs lost                         " + col(.consumer.lost),
		"jobs applied twice                " + col(.consumer.duplicates),
		"buffer max / bound                " + col(.consumer | "\(.buffer_max) / \(.buffer)"),
		"sink refused over its quota       " + col(.consumer.sink_over_rate),
		"sink in service max / capacity    " + col(.consumer | "\(.sink_in_service_max) / \(.sink_capacity)"),
		"consumer pauses                   " + col(.consumer.pauses),
		"sink shed refusals                " + col(.consumer.sink_shed)' \
		"$OUT/summary.json"
}

main() {
	local started=$SECONDS
	setup_topology
	demo_start_postgres "$NS_BACK" $((POOL + 20))
	C=$(awk -v p="$POOL" -v q="$QUERY_MS" 'BEGIN { printf "%d", p * 1000 / q }')
	mkdir -p "$TMP/run-idle"
	start_services idle
	IDLE_N99=$(measure_idle normal)
	kill -USR1 "$BACK_PID"
	sleep 0.3
	IDLE_S99=$(measure_idle slow)
	stop_pid "$FRONT_PID"
	stop_pid "$BACK_PID"
	log "idle p99 end to end: normal DB $IDLE_N99 ms, slow DB $IDLE_S99 ms; C = $C req/s"
	local m
	for m in $RUNS; do
		run_once "$m"
		sleep 1
	done
	write_summary
	cp "$TMP"/spillwayd-*.log "$OUT/" 2>/dev/null || true
	side_by_side
	echo "Summary: $OUT/summary.json ($((SECONDS - started)) s)"
}

# On one line with the call: a script edited during a run must not have its new tail run.
main "$@"; exit $?
