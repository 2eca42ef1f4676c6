#!/usr/bin/env bash
# Stress run of the swap race (linux-binaries/swaprace): a directory and a symlink to / swapped
# with RENAME_EXCHANGE in a loop while other threads read a host secret's path through the name
# and create files beside it. Runs it natively (where it escapes, to show the race is real) and
# under lxrun --root with each backend; prints the counts. A stress run, not a test.
#   bench/race.sh [ITERATIONS]   (default 1000000 reads per run; as root, with the Debian root)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
iters="${1:-1000000}"
lxrun="$repo/target/x86_64-unknown-linux-gnu/release/lxrun"
root="$(ls -d /var/cache/lxrun-tests/debian-*/ | head -1)"
bin="$repo/target/linux-binaries/static"
[ -x "$bin/swaprace" ] || make -s -C "$repo/linux-binaries" OUT="$repo/target/linux-binaries" VARIANTS=static
secret_dir="$(mktemp -d /tmp/lxrun-race-secret.XXXXXX)"
trap 'rm -rf "$secret_dir"' EXIT
echo "HOST-SECRET-$RANDOM" > "$secret_dir/secret"
work="$(mktemp -d)"
echo "native:         $(cd "$work" && "$bin/swaprace" "$secret_dir/secret" "$iters" || true)"
rm -rf "$work"; find "$secret_dir" -name "made-*" -delete
for backend in seccomp seccomp-ptrace ptrace; do
    out=$("$lxrun" --backend "$backend" --root "$root" --bind="$bin:/lxbin:ro" -- /bin/sh -c \
        "d=\$(mktemp -d) && cd \$d && /lxbin/swaprace $secret_dir/secret $iters; cd /; rm -rf \$d" || true)
    made=$(find "$secret_dir" -name 'made-*' | wc -l)
    find "$secret_dir" -name "made-*" -delete
    printf '%-15s %s (files made in the host directory: %s)\n' "$backend:" "$out" "$made"
done
