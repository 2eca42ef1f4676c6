#!/usr/bin/env bash
# Runs every test of lxrun: installs what the tests need (tests/setup.sh), then the whole
# workspace's unit, property and integration tests in release mode, and prints one total.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"
tests/setup.sh
log="$(mktemp)"
# Every test that cannot run here writes its reason here (tests/common: skip, needs_root).
export LXRUN_SKIP_LOG="$(mktemp)"
trap 'rm -f "$log" "$LXRUN_SKIP_LOG"' EXIT
status=0
cargo test --workspace --release 2>&1 | tee "$log" || status=$?
# No test may leave a process behind: neither lxrun nor a guest (whose exe is lxrun's loader).
# Only this checkout's: another checkout's lxrun (a second worktree testing at the same time),
# and the guests under it, are not this run's.
sleep 0.5
ours() { case "$1" in "$repo"/target/*/lxrun | "$repo"/target/release/lxrun) return 0 ;; esac; return 1; }
# A guest is this run's when its nearest lxrun ancestor is ours, or when it has none (orphaned).
guest_is_ours() {
    local pid=$1 up exe
    while up=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$up" ] && [ "$up" -gt 1 ]; do
        exe=$(readlink "/proc/$up/exe" 2>/dev/null) || exe=""
        case "$exe" in */lxrun) ours "$exe"; return ;; esac
        pid=$up
    done
    return 0
}
left=""
for exe in /proc/[0-9]*/exe; do
    target=$(readlink "$exe" 2>/dev/null) || continue
    pid=${exe#/proc/}; pid=${pid%/exe}
    case "$target" in
        */.lxrun-*/loader*) guest_is_ours "$pid" && left="$left /proc/$pid" ;;
        */lxrun) ours "$target" && left="$left /proc/$pid" ;;
    esac
done
if [ -n "$left" ]; then
    echo "processes left behind by the tests:$left"
    for p in $left; do tr '\0' ' ' < "$p/cmdline" 2>/dev/null; echo; done
    echo "test result: FAILED. 0 passed; 1 failed; 0 ignored (leftover processes)" >> "$log"
    status=1
fi
skipped=$(wc -l < "$LXRUN_SKIP_LOG")
if [ "$skipped" -gt 0 ]; then
    echo "skipped tests (counted as skipped, not passed):"
    sed 's/^/  /' "$LXRUN_SKIP_LOG"
fi
# As root nothing may skip for want of root: that would be a test that silently did not run.
if [ "$(id -u)" -eq 0 ] && grep -q ': needs root:' "$LXRUN_SKIP_LOG"; then
    echo "a test skipped for want of root while running as root"
    status=1
fi
awk -v s="$skipped" '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "total: %d passed, %d failed, %d skipped\n", p - s, f, i + s }' "$log"
exit "$status"
