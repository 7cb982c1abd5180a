# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# What the demo scripts (run.sh, hops.sh) share: namespaces, PostgreSQL, processes, and the
# leftovers of killed runs. Sourced; the caller defines log and die, and sets TMP, PG_BIN and
# PIDS (the background processes to end on cleanup).

from_root() { # CMD...: run from /: the postgres user may not enter the caller's folder (a
	# checkout in a private mktemp folder), and its tools complain when they cannot
	(cd / && "$@")
}

# Background processes are started with nsenter itself, never through this function: $! of
# a function run in the background is a subshell's, which signals would not reach through.
nsx() { # NS CMD...: run in a namespace's network only (bpffs and /sys stay ours)
	local ns=$1
	shift
	nsenter --net="/var/run/netns/$ns" -- "$@"
}

stop_pid() { # PID
	[ -n "${1:-}" ] || return 0
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# Phases on a wall-clock schedule. A phase's load generators are started PHASE_LEAD seconds
# ahead with `loadgen --start-at` its boundary, so the phases follow each other without a gap.
# Started at the boundary, they began 0.3-0.5 s late on a loaded 2-core machine (awk,
# nsenter and exec for each, one after the other), and the controller rightly read that pause
# as the load going away, rose to full admission, and met the next phase's load there, in
# the slow-DB phase with the database 3x slower at the same moment.
# Two seconds: one was once too short at the flood's end, when the forks of the generators'
# arguments took longer than that (start_load in run.sh).
: "${PHASE_LEAD:=2}" # seconds
add_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; } # A + B, in seconds
sleep_until() { # T: wall-clock seconds since the epoch; returns at once when T is past
	sleep "$(awk -v t="$1" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')"
}

# Each line read prefixed by the wall clock (seconds since the epoch): a daemon's -v log
# stamped this way can be read against the phases' times in the summary.
stamp_lines() {
	local l
	while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}

# Cleanup's first half: every background process, then PostgreSQL. Never fails.
demo_stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
		from_root runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 10 stop \
			>/dev/null 2>&1
	fi
	return 0
}

# Leftovers of runs that were killed with SIGKILL (their owner pid is gone): namespaces
# spw-NAME-PID-*, folders /tmp/spw-NAME.* (with an owner file), pins /sys/fs/bpf/spw-NAME-PID*.
demo_reap_stale() { # NAME
	local ns pid d
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^spw-$1-[0-9]*-" || true); do
		pid=${ns#spw-$1-}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
	done
	for d in /tmp/spw-$1.*; do
		[ -f "$d/owner" ] || continue
		pid=$(cat "$d/owner")
		kill -0 "$pid" 2>/dev/null && continue
		[ -f "$d/pg/data/postmaster.pid" ] &&
			kill -KILL "$(head -1 "$d/pg/data/postmaster.pid")" 2>/dev/null
		rm -rf "$d"
	done
	for d in /sys/fs/bpf/spw-$1-*; do
		[ -d "$d" ] || continue
		pid=${d#/sys/fs/bpf/spw-$1-}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null || rm -rf "$d"
	done
	return 0
}

# A throwaway PostgreSQL in TMP/pg, listening on its unix socket only, inside NS.
demo_start_postgres() { # NS MAX_CONNECTIONS
	mkdir -p "$TMP/pg"
	chown postgres "$TMP/pg"
	PG_DATA=$TMP/pg/data
	from_root runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust -U postgres \
		>"$TMP/pg/initdb.log" 2>&1 || { cat "$TMP/pg/initdb.log" >&2; die "initdb failed"; }
	from_root nsx "$1" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$TMP/pg/server.log" \
		-w -t 30 -o "-c listen_addresses='' -c unix_socket_directories=$TMP/pg \
		-c max_connections=$2 -c shared_buffers=32MB -c fsync=off \
		-c synchronous_commit=off" start >/dev/null ||
		{ cat "$TMP/pg/server.log" >&2; die "PostgreSQL did not start"; }
	log "PostgreSQL $(basename "$(dirname "$PG_BIN")") up in $1 (socket $TMP/pg)"
}

# Cleanup's end: TMP removed (kept with KEEP=1), a failure said, the status kept.
demo_finish() { # RC
	if [ -n "$TMP" ]; then
		if [ "${KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP" 2>/dev/null; fi
	fi
	[ "$1" -ne 0 ] && log "exit status $1 (cleaned up)"
	exit "$1"
}

# Cleanup (the caller's function) on every way out.
demo_traps() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Root, the built programs, the commands named, PostgreSQL; sets PG_BIN.
demo_check_setup() { # COMMAND...
	local b c
	[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, XDP, PostgreSQL as user postgres): sudo $0"
	for b in spillwayd spillway loadgen demo-backend bpf/empty_xdp.bpf.o; do
		[ -e "$BUILD/$b" ] || die "$BUILD/$b is missing: run 'make all $BUILD/loadgen $BUILD/demo-backend'"
	done
	for c in "$@"; do
		command -v "$c" >/dev/null || die "$c is missing: run 'sudo make deps'"
	done
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -x "$PG_BIN/initdb" ] || die "PostgreSQL is not installed (sudo make deps)"
	getent passwd postgres >/dev/null || die "no user postgres (the postgresql package creates it)"
}
