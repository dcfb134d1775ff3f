#!/usr/bin/env bash
# Builds the Linux installers, .deb and .rpm, exactly as the release workflow's Linux job does:
# `cargo tauri build` from the repository root with the Tauri CLI that
# `scripts/install-deps.sh --packaging` installs from crates.io. Extra arguments go to
# `cargo tauri build` (e.g. `--bundles deb`).
# Prints the packages and the sizes of the packaged binary and of each package.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --packaging

bundles=(--bundles deb,rpm)
for arg in "$@"; do
  case "$arg" in -b | --bundles | --bundles=*) bundles=() ;; esac
done
# The command line goes in the same packages (/usr/bin/geniusctl, completions, man page).
bash scripts/stage-cli.sh
# Arguments after `--` go to `cargo build`: the same Cargo.lock as every other build here.
cargo tauri build ${bundles[@]+"${bundles[@]}"} "$@" -- --locked

target=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
echo "package: built from $(git rev-parse --short HEAD 2>/dev/null || echo 'an unknown commit')"
for f in "$target/release/genius-account" "$target/release/geniusctl" "$target"/release/bundle/deb/*.deb "$target"/release/bundle/rpm/*.rpm; do
  if [ -e "$f" ]; then printf '  %8s KiB  %s\n' "$(($(stat -c %s "$f") / 1024))" "$f"; fi
done
