#!/usr/bin/env bash
# Installs what the compatibility matrix's cases need (if missing) on a Debian host, on top of
# what the tests need (tests/setup.sh also builds linux-binaries). Idempotent.
#   compat/setup.sh && cargo run --release -p lxrun-compat -- --quick
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The PATH the cases run with comes first, so the tools found are the ones they will use.
export PATH="/usr/local/bin:/usr/bin:/bin:$PATH"
"$repo/tests/setup.sh"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

# command -> Debian package providing it
declare -A needed=(
    [proot]=proot
    [sqlite3]=sqlite3
    [perl]=perl
    [git]=git
    [xz]=xz-utils
    [bzip2]=bzip2
    [file]=file
    [ps]=procps
    [strace]=strace
    [setpriv]=util-linux
    [script]=bsdutils
    [iconv]=libc-bin
)
missing=()
for cmd in "${!needed[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
        missing+=("${needed[$cmd]}")
    fi
done
# python3 -m venv (with pip) needs ensurepip
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "compat setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "compat setup: every tool the cases use is present"
fi
