#!/usr/bin/env bash
# Builds (once) the Debian test root that the foreign-root tests run in, and prints its path.
# The suite is newer than the host's (trixie: glibc 2.41 on a bookworm host with 2.36), so a
# host library can never stand in for the guest's by accident. Cached outside the repository,
# keyed by this script's hash: edit the script and a fresh root is built.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
hash="$(sha256sum "$here/debian-root.sh" | cut -c1-12)"
cache="${LXRUN_TEST_CACHE:-/var/cache/lxrun-tests}"
root="$cache/debian-trixie-$hash"
suite=trixie
mirror="${LXRUN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages=bash,coreutils,python3,python3-venv,perl,gcc,libc6-dev,make,git,sqlite3,busybox,xz-utils,bzip2,file,procps

if [ -f "$root/.complete" ]; then
    echo "$root"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "debian-root: debootstrap needs root to build $root" >&2
    exit 1
fi
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
mkdir -p "$cache"
rm -rf "$root.tmp"
echo "debian-root: debootstrap $suite into $root (a few minutes, once)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$root.tmp" "$mirror" >"$cache/debootstrap-$hash.log" 2>&1 || {
    tail -20 "$cache/debootstrap-$hash.log" >&2
    exit 1
}
# Older roots of other hashes are stale.
find "$cache" -maxdepth 1 -name 'debian-trixie-*' ! -name "debian-trixie-$hash*" -exec rm -rf {} + 2>/dev/null || true
touch "$root.tmp/.complete"
mv "$root.tmp" "$root"
echo "$root"
