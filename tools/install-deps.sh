#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Installs every Debian 12 package that spillway's build, tests and demo need (`make deps`).
# Idempotent and silent when everything is there already; installs only what is missing.
# Needs root only when something is missing. Does not mount bpffs: spillway does that itself
# at run time (spw_bpffs_ensure).
set -euo pipefail

packages=(
	# Build: BPF objects and skeletons, libspillway, the daemon and CLI.
	clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev pkg-config make gcc
	libyaml-dev libmicrohttpd-dev libjansson-dev libxdp-dev libpq-dev libsystemd-dev
	# Tests: cmocka, sanitizers under clang too, network namespaces and veth checks.
	libcmocka-dev libclang-rt-14-dev xdp-tools iproute2 ethtool tcpdump valgrind
	# The refusal benchmark (make bench-refusal) compares spillway with Debian's netfilter
	# front ends: an nftables netdev ingress drop, iptables raw drop and hashlimit.
	nftables iptables
	# The Python and Go clients (clients/): Debian's interpreter, pip for the offline install
	# test, and Debian's Go (1.19); neither downloads anything.
	python3 python3-pip golang-go
	# Static analysis, and the lint layer's checks (make check-format, make check-shell).
	clang-tidy cppcheck clang-format shellcheck
	# Demo: a real database pool to saturate, metrics scraping, plots, clients.
	prometheus postgresql netcat-openbsd socat curl jq
	# gnuplot-nox first: listed alone, "gnuplot" would pull in the Qt front end.
	gnuplot-nox gnuplot
	# Packaging and its tests (make deb, make image, the package test layer): the Debian
	# build tools and lintian (about 150 packages, most of them lintian's Perl), podman and
	# buildah with runc, mmdebstrap for images made from Debian packages, systemd for
	# systemd-analyze, adduser and procps that the package depends on. On a fresh 2-core
	# machine about 30 s of the install.
	dpkg-dev debhelper lintian podman buildah runc mmdebstrap uidmap systemd adduser procps
	# systemd-analyze verify looks up the unit's Documentation= man pages.
	man-db
)
# /usr/include/asm for 32-bit and BPF builds that do not add the multiarch include path;
# the package exists only on x86.
case $(dpkg --print-architecture) in
amd64 | i386) packages+=(gcc-multilib) ;;
esac

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: these packages are missing: ${missing[*]}" >&2
	echo "install-deps.sh: installing them needs root: run 'sudo make deps'" >&2
	exit 1
fi

echo "install-deps.sh: installing ${missing[*]}"

# Keep package installs from starting services (postgresql, prometheus): the demo starts
# what it needs with its own settings, and a test machine should not serve ports by surprise.
# invoke-rc.d and deb-systemd-invoke both obey policy-rc.d; exit 101 means "action forbidden".
# An existing policy-rc.d belongs to someone else and is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
# Lock timeout: wait for a concurrent apt (unattended-upgrades) instead of failing at once.
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || still+=("$pkg")
done
if [ ${#still[@]} -gt 0 ]; then
	echo "install-deps.sh: still not installed after apt-get: ${still[*]}" >&2
	exit 1
fi
echo "install-deps.sh: done"
