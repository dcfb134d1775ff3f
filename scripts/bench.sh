#!/usr/bin/env bash
# Runs the benchmarks: speed targets are checked here, never by timed tests. Each bench prints
# its measurements and exits non-zero when a documented target is missed (for the Support view:
# crates/support/benches/support.rs). Extra arguments go to cargo, e.g. `-p support`.
set -euo pipefail
cd "$(dirname "$0")/.."

scope=(--workspace)
for arg in "$@"; do
  case "$arg" in
    -p | -p* | --package | --package=*) scope=() ; break ;;
  esac
done
exec cargo bench ${scope[@]+"${scope[@]}"} --locked "$@"
