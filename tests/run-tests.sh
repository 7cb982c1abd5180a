#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs the test binaries of each layer and adds up their cmocka results.
#
#   tests/run-tests.sh BUILD_DIR [lint|unit|bpf|netns|package]...
#
# Layers run in the order given (default: lint, unit, bpf, netns, package). lint is two tests:
# `make check-format` (the C sources against .clang-format) and `make check-shell` (the shell
# scripts against shellcheck), each passed when it exits 0. Every executable in
# BUILD_DIR/tests/LAYER/ runs with a timeout, its output shown as it comes. Counts come from
# cmocka's summary lines; a binary that crashes, times out, exits non-zero without reporting a
# failure, or prints no summary counts as one failed test, and so does a test source with no
# binary, a layer with no tests, and a bpf or netns layer run without root: nothing is skipped
# quietly. The package layer (dpkg, systemd in a container, the container image) needs root too.
# The last line is "N passed, N failed"; the exit status is non-zero when anything
# failed or nothing ran.
#
# Environment: SPW_TEST_TIMEOUT, seconds per binary (default 600).
set -uo pipefail

usage() {
	echo "usage: $0 BUILD_DIR [lint|unit|bpf|netns|package]..." >&2
	exit 2
}

[ $# -ge 1 ] || usage
build=$1
shift
if [ ! -d "$build" ]; then
	echo "error: build folder '$build' does not exist (run make first)" >&2
	exit 2
fi

layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(lint unit bpf netns package)
for layer in "${layers[@]}"; do
	case $layer in
	lint | unit | bpf | netns | package) ;;
	*) echo "error: unknown test layer '$layer' (lint, unit, bpf, netns or package)" >&2; usage ;;
	esac
done

src_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=${SPW_TEST_TIMEOUT:-600}
passed=0
failed=0
failures=()

# The lines of a failed binary's output that say which test failed and why: cmocka's, the
# end-to-end checks' ("e2e: FAIL: ..."), the BPF table tests' ("ERROR: case", "    failed:").
why_lines='FAIL: |^\[  ERROR   \]|^\[   LINE   \]|^\[  FAILED  \] [^0-9]|^ERROR: |^    failed: '
why_max=24

log=$(mktemp)
trap 'rm -f "$log"' EXIT

fail() { # NAME REASON...: one failed test that cmocka could not report
	local name=$1
	shift
	echo "FAIL: $name: $*"
	failures+=("$name: $*")
	failed=$((failed + 1))
}

run_one() { # LAYER BINARY
	local layer=$1 bin=$2 name rc n_pass=0 n_fail=0 n_skip=0 summaries=0 line n
	name="$layer/$(basename "$bin")"

	echo "==> $name"
	# stdout format is what the summary parser reads; cmocka can be told to write XML or TAP.
	# --kill-after: a test stuck in a syscall after SIGTERM still ends.
	CMOCKA_MESSAGE_OUTPUT=stdout timeout --kill-after=10 "$timeout_s" "$bin" 2>&1 </dev/null |
		tee "$log"
	rc=${PIPESTATUS[0]}

	# cmocka prints one summary per group: "[  PASSED  ] 3 test(s)." and, when some failed,
	# "[  FAILED  ] 1 test(s), listed below:" (the per-test "[  FAILED  ] name" lines that
	# follow carry no count and are not matched).
	while IFS= read -r line; do
		if [[ $line =~ ^\[\ \ PASSED\ \ \]\ ([0-9]+)\ test\(s\) ]]; then
			n=${BASH_REMATCH[1]}
			n_pass=$((n_pass + n))
			summaries=$((summaries + 1))
		elif [[ $line =~ ^\[\ \ FAILED\ \ \]\ ([0-9]+)\ test\(s\) ]]; then
			n=${BASH_REMATCH[1]}
			n_fail=$((n_fail + n))
		elif [[ $line =~ ^\[\ \ SKIPPED\ \]\ ([0-9]+)\ test\(s\) ]]; then
			n=${BASH_REMATCH[1]}
			n_skip=$((n_skip + n))
		fi
	done <"$log"

	passed=$((passed + n_pass))
	failed=$((failed + n_fail))
	if [ "$n_fail" -gt 0 ]; then
		failures+=("$name: $n_fail test(s) failed")
		# And why, repeated here: a CI that keeps only the output's tail loses the lines of
		# a long test (an end-to-end check's FAIL among a hundred), which come before.
		while IFS= read -r line; do
			failures+=("  $line")
		done < <(grep -E "$why_lines" "$log" | head -n "$why_max")
	fi
	# A skipped test did not show the feature works: on this project's machines nothing may be.
	if [ "$n_skip" -gt 0 ]; then
		fail "$name" "$n_skip test(s) skipped (skipping counts as failing here)"
	fi

	if [ "$rc" -eq 124 ]; then
		fail "$name" "timed out after ${timeout_s}s"
	elif [ "$rc" -eq 137 ]; then
		fail "$name" "killed (SIGKILL: ignored the timeout's SIGTERM, or out of memory)"
	elif [ "$rc" -gt 128 ]; then
		fail "$name" "killed by signal $((rc - 128))"
	elif [ "$summaries" -eq 0 ]; then
		fail "$name" "printed no cmocka summary (exit status $rc)"
	elif [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
		# e.g. LeakSanitizer or a failed group setup after the summary said all passed.
		fail "$name" "exited with status $rc although no test reported a failure"
	fi
}

# The lint layer: one test per check, a make target passed when it exits 0. The first lines of
# its complaints say where; all of them could be thousands.
lint_check() { # TARGET LINES WHY
	echo "==> lint/$1"
	make -C "$src_root/.." -s --no-print-directory "$1" 2>&1 | head -n "$2"
	if [ "${PIPESTATUS[0]}" -eq 0 ]; then
		echo "PASS: lint/$1"
		passed=$((passed + 1))
	else
		fail "lint/$1" "$3"
	fi
}

run_lint() {
	echo "=== lint"
	lint_check check-format 40 "sources not laid out as .clang-format says (make format fixes them)"
	lint_check check-shell 60 "shell scripts with shellcheck warnings (make check-shell lists them)"
}

run_layer() { # LAYER
	local layer=$1 dir=$build/tests/$1 src base bins=()

	echo "=== $layer tests"
	if [ "$layer" != unit ] && [ "$(id -u)" -ne 0 ]; then
		fail "$layer" "needs root (BPF programs, network namespaces, dpkg): run 'sudo make test'"
		return
	fi

	if [ -d "$dir" ]; then
		while IFS= read -r -d '' bin; do
			bins+=("$bin")
		done < <(find "$dir" -maxdepth 1 -type f -name 'test_*' -perm -u+x -print0 | sort -z)
	fi
	# A test source without its binary was not built: that is a failure, not an absence.
	for src in "$src_root/$layer"/test_*.c; do
		[ -e "$src" ] || continue
		base=$(basename "$src" .c)
		[ -x "$dir/$base" ] || fail "$layer/$base" "not built ($dir/$base is missing)"
	done
	if [ ${#bins[@]} -eq 0 ]; then
		fail "$layer" "no test binaries in $dir"
		return
	fi
	for bin in "${bins[@]}"; do
		run_one "$layer" "$bin"
	done
}

for layer in "${layers[@]}"; do
	if [ "$layer" = lint ]; then
		run_lint
	else
		run_layer "$layer"
	fi
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
