#!/usr/bin/env bash
# Installs what lxrun's integration tests need (if missing) and builds the
# test programs of linux-binaries/ into $OUT (default:
# ${CARGO_TARGET_DIR:-<repo>/target}/linux-binaries).  Idempotent.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
out="${OUT:-$target/linux-binaries}"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

# command -> Debian package providing it
declare -A needed=(
    [gcc]=gcc
    [make]=make
    [musl-gcc]=musl-tools
    [python3]=python3
    [tmux]=tmux
    [strace]=strace
    [gdb]=gdb
    [debootstrap]=debootstrap
    [curl]=curl
)
missing=()
for cmd in "${!needed[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        missing+=("${needed[$cmd]}")
    fi
done
# static glibc (libc.a) for -static / -static-pie
if ! gcc -print-file-name=libc.a 2>/dev/null | grep -q /; then
    missing+=(libc6-dev)
fi
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    missing+=(busybox-static)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "setup: toolchain present (gcc, make, musl-gcc, python3, busybox)"
fi

echo "setup: building linux-binaries into $out"
make -s -C "$repo/linux-binaries" OUT="$out" -j"$(nproc)"
echo "setup: done"
