#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs each libFuzzer harness for FUZZ_S seconds (default 60) and prints, per target, the
# executions, the coverage (libFuzzer's cov: edges and ft: features) and the crashes.
#
#   tools/fuzz/run.sh BUILD_DIR TARGET...
#
# A target starts from its seed corpus (tests/fuzz/corpus/TARGET/, never written) and its
# regression cases; what it learns goes to BUILD_DIR/fuzz/corpus/TARGET/, kept between runs, and
# a crashing input to BUILD_DIR/fuzz/crash/TARGET/ (copy it to tests/fuzz/regress/TARGET/ once
# fixed; each run starts it empty). Exits non-zero when any target crashed, leaked, or did not run.
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR TARGET..." >&2; exit 2; }
build=$1
shift
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${FUZZ_S:-60}
failed=0
summary=()

for t in "$@"; do
	bin=$build/fuzz/fuzz_$t
	work=$build/fuzz/corpus/$t
	crash=$build/fuzz/crash/$t
	log=$build/fuzz/$t.log
	rm -rf "$crash"
	mkdir -p "$work" "$crash"
	dirs=("$work" "$src/tests/fuzz/corpus/$t")
	[ -d "$src/tests/fuzz/regress/$t" ] && dirs+=("$src/tests/fuzz/regress/$t")
	echo "==> fuzz $t: ${secs}s"
	# -rss_limit_mb: a harness that grows without bound is a finding too.
	"$bin" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
		-artifact_prefix="$crash/" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
	crashes=$(find "$crash" -type f | wc -l)
	line=$(printf '%-8s %12s execs  cov %6s  ft %6s  crashes %s' "$t" "${execs:-?}" \
		"${cov:-?}" "${ft:-?}" "$crashes")
	if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ] || [ -z "$execs" ]; then
		line="$line  FAILED (exit $rc, log $log)"
		failed=$((failed + 1))
		grep -m5 -E 'ERROR|SUMMARY|property failed' "$log"
	fi
	echo "$line"
	summary+=("$line")
done

echo
echo "fuzz: ${secs}s per target"
printf '  %s\n' "${summary[@]}"
[ "$failed" -eq 0 ]
