#!/usr/bin/env bash
# Runs the benchmarks: speed targets are checked here, never by timed tests. Each bench prints
# its measurements and exits non-zero when a documented target is missed (for the Support view:
# crates/support/benches/support.rs; the app's start-up and memory: scripts/bench-app.sh).
# Extra arguments go to cargo, e.g. `-p support` (which skips the app's footprint).
set -euo pipefail
cd "$(dirname "$0")/.."

scope=(--workspace)
for arg in "$@"; do
  case "$arg" in
    -p | -p* | --package | --package=*) scope=() ; break ;;
  esac
done
cargo bench ${scope[@]+"${scope[@]}"} --locked "$@"
# The whole app's start-up time and memory (scripts/bench-app.sh), unless a package was named.
if [ ${#scope[@]} -gt 0 ]; then
  bash scripts/bench-app.sh
fi
