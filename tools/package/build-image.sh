#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Container images from Debian packages only, built with podman into the project's own store
# (tools/package/podman.sh); no image is pulled from a registry:
#
#   tools/package/build-image.sh BUILD [daemonset|systemd]...
#
#   daemonset (the default)  the DaemonSet's image, localhost/spillway:VERSION: the
#                            Containerfile deploy/container/Containerfile on a Debian 12 root
#                            file system made by mmdebstrap with the spillway package's
#                            dependencies, so installing the package fetches nothing
#   systemd                  a Debian 12 root file system with systemd as init and the same
#                            dependencies, for the systemd test (tests/package/test_systemd.c),
#                            which installs the packages in it
#
# Needs the packages in BUILD/deb (make deb). Each root file system is cached in
# BUILD/image/ under a hash of what went into it (suite, packages, apt sources): a second run
# costs a podman build whose layers are cached. Writes the image's name to BUILD/image/KIND.
set -euo pipefail
shopt -s inherit_errexit

[ $# -ge 1 ] || { echo "usage: $0 BUILD [daemonset|systemd]..." >&2; exit 2; }
build=$(mkdir -p "$1" && cd "$1" && pwd)
shift
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(daemonset)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
suite=bookworm
img=$build/image
mkdir -p "$img"

pod() { bash "$root/tools/package/podman.sh" "$build" "$@"; }

deb=$(compgen -G "$build/deb/spillway_*.deb" | head -n1 || true)
if [ -z "$deb" ]; then
	echo "build-image: no spillway_*.deb in $build/deb: run 'make deb' first" >&2
	exit 1
fi
version=$(dpkg-deb -f "$deb" Version)

# The package's dependencies by name (the first of alternatives), and adduser's for postinst.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' |
	grep -v '^$' | sort -u | paste -sd, -)

# The host's apt sources, so the root file system comes from the archive this host uses.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && grep -qE '^[^#[:space:]]' "$f" && sources+=("$f")
done
if [ ${#sources[@]} -eq 0 ]; then
	echo "build-image: no apt sources in /etc/apt to build a root file system from" >&2
	exit 1
fi

# rootfs NAME PACKAGES: prints the image name of a cached (or new) root file system.
rootfs() {
	local name=$1 pkgs=$2 key tar image t0
	key=$({ echo "$suite minbase $pkgs"; cat "${sources[@]}"; } | sha256sum | cut -c1-16)
	tar=$img/rootfs-$name-$key.tar
	image=localhost/spillway-rootfs-$name:$key
	if [ ! -s "$tar" ]; then
		t0=$SECONDS
		echo "build-image: mmdebstrap $suite ($name: $pkgs)" >&2
		rm -f "$img"/rootfs-"$name"-*.tar
		# One download cache for every root file system: the second fetches only its own.
		mkdir -p "$img/debs"
		if ! mmdebstrap --variant=minbase --format=tar --include="$pkgs" \
			--setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
			--setup-hook="sync-in '$img/debs' /var/cache/apt/archives" \
			--customize-hook="sync-out /var/cache/apt/archives '$img/debs'" \
			"$suite" "$tar.tmp" "${sources[@]}" >"$img/mmdebstrap-$name.log" 2>&1; then
			tail -n 30 "$img/mmdebstrap-$name.log" >&2
			rm -f "$tar.tmp"
			exit 1
		fi
		mv "$tar.tmp" "$tar"
		echo "build-image: $tar in $((SECONDS - t0)) s" >&2
	fi
	if ! pod image exists "$image"; then
		pod import --quiet "$tar" "$image" >/dev/null
	fi
	echo "$image"
}

for kind in "${kinds[@]}"; do
	case $kind in
	daemonset)
		base=$(rootfs daemonset "$deps")
		ctx=$img/context
		rm -rf "$ctx"
		mkdir -p "$ctx"
		cp "$deb" "$ctx/"
		name=localhost/spillway:$version
		# --network=none: everything comes from the base and the context.
		pod build --quiet --pull=never --network=none --build-arg BASE="$base" --build-arg APT_UPDATE=0 \
			-t "$name" -f "$root/deploy/container/Containerfile" "$ctx" >/dev/null
		;;
	systemd)
		name=$(rootfs systemd "$deps,systemd,systemd-sysv,dbus,iproute2")
		;;
	*)
		echo "build-image: unknown image '$kind' (daemonset or systemd)" >&2
		exit 2
		;;
	esac
	echo "$name" >"$img/$kind"
	echo "build-image: $kind: $name"
done
