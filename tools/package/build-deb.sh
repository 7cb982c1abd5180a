#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the Debian packages (`make deb`) from a copy of the tree, so the build never writes
# into it and builds what a source package would hold:
#
#   tools/package/build-deb.sh OUT [VERSION]
#
# OUT gets the .deb files, the .changes and .buildinfo, build.log (dpkg-buildpackage) and
# lintian.txt (lintian -I on the .changes, overridden tags not shown; an error or a warning
# fails the build).
# VERSION, when given, is a changelog entry added in the copy only: the upgrade test's second,
# higher version. Nothing is rebuilt when the files (and VERSION) are the same as last time.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 OUT [VERSION]" >&2; exit 2; }
out=$1
version=${2:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The tree's files: in a git checkout those git tracks or would track (ignored ones, such as
# build/, are left out), as they are in the working tree; elsewhere everything but build/.
files() {
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$root" ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				[ -f "$root/$f" ] && printf '%s\0' "$f"
			done
	else
		(cd "$root" && find . -path ./build -prune -o -type f -printf '%P\0')
	fi
}

hash=$(cd "$root" && { files | sort -z | xargs -0 sha256sum; echo "version=$version"; } |
	sha256sum | cut -c1-32)
if [ -f "$out/source.hash" ] && [ "$(cat "$out/source.hash")" = "$hash" ] &&
	compgen -G "$out/*.changes" >/dev/null; then
	echo "build-deb: $out is up to date"
	exit 0
fi

find "$out" -mindepth 1 -delete
src=$out/src/spillway
mkdir -p "$src"
(cd "$root" && files | tar --null -T - -cf -) | tar -xf - -C "$src"

if [ -n "$version" ]; then
	log=$src/debian/changelog
	maint=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$log" | head -n1)
	{
		printf 'spillway (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Rebuild with a higher version, to test upgrades.\n\n'
		printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
		cat "$log"
	} >"$log.new"
	mv "$log.new" "$log"
fi

# A calling make's variables (BUILD above all, which `make clean` removes) must not reach the
# package's own make.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES BUILD
echo "build-deb: dpkg-buildpackage in $src (log: $out/build.log)"
if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
fi
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
find "$out/src" -maxdepth 1 -name '*.ddeb' -exec mv {} "$out"/ \;
rm -rf "$out/src"

echo "build-deb: lintian"
rc=0
lintian --info --fail-on error,warning "$out"/*.changes >"$out/lintian.txt" 2>&1 || rc=$?
cat "$out/lintian.txt"
if [ $rc -ne 0 ]; then
	echo "build-deb: lintian found errors or warnings (exit $rc)" >&2
	exit 1
fi
echo "$hash" >"$out/source.hash"
ls "$out"/*.deb
