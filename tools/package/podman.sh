#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# podman with the project's own image store, so images built for the tests stay under the
# build folder (`make clean` removes them) and never mix with the host's:
#
#   tools/package/podman.sh BUILD PODMAN-ARGS...
#
# Storage: BUILD/containers/storage, run state BUILD/containers/run. Settings
# (BUILD/containers/containers.conf, written here):
#   - runc, not crun: crun refuses hosts that mount cgroup v1 controllers beside a v2
#     hierarchy that has controllers of its own; runc runs there and everywhere else;
#   - cgroupfs: there may be no systemd to ask for cgroups;
#   - ulimits no higher than this shell's: podman's defaults (1M open files and processes)
#     need CAP_SYS_RESOURCE to set, which a root without it (in a VM or a container) lacks.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD PODMAN-ARGS..." >&2; exit 2; }
build=$(mkdir -p "$1/containers" && cd "$1/containers" && pwd)
shift

nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
# podman lowers its own process limit to 32768 when it cannot raise it: ask no more.
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then
	nproc=32768
fi
[ "$nofile" = unlimited ] && nofile=1048576
conf=$build/containers.conf
cat >"$conf.new" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
if cmp -s "$conf.new" "$conf"; then rm -f "$conf.new"; else mv "$conf.new" "$conf"; fi

export CONTAINERS_CONF=$conf
exec podman --root "$build/storage" --runroot "$build/run" "$@"
