#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The previous build's daemon for the upgrade fault of `make chaos`: REV (a commit) checked out
# with `git worktree add` into DIR and its spillwayd built there. Reused when DIR already holds
# a build of that commit. Prints the daemon's path.
#
#   tools/chaos/prev-build.sh REV DIR
set -euo pipefail

[[ $# -eq 2 && -n $1 ]] || { echo "usage: prev-build.sh REV DIR" >&2; exit 2; }
rev=$1
dir=$2
hash=$(git rev-parse --verify "$rev^{commit}")

if [[ -x $dir/build/spillwayd && $(git -C "$dir" rev-parse HEAD 2>/dev/null) == "$hash" ]]; then
	echo "$dir/build/spillwayd"
	exit 0
fi
# A worktree whose folder was deleted (make clean) is only a name left in git's list.
git worktree prune
if [[ -e $dir ]]; then
	git worktree remove --force "$dir" 2>/dev/null || rm -rf "$dir"
fi
git worktree add --detach "$dir" "$hash" >&2
make -C "$dir" -j2 build/spillwayd >&2
echo "$dir/build/spillwayd"
