#!/usr/bin/env bash
# Runs every test of lxrun: installs what the tests need (tests/setup.sh), then the whole
# workspace's unit, property and integration tests in release mode.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export PATH="$HOME/.cargo/bin:$PATH"
tests/setup.sh
cargo test --workspace --release
