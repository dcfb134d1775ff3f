#!/usr/bin/env bash
# The desktop app side by side with a bare Tauri window (tools/bench/bare-tauri), both release
# builds from the same target directory, started alternately in one run on a private X display
# and D-Bus session (with a Secret Service, so the app restores its session from the keyring).
# tools/bench/app_vs_bare.py measures, prints medians and app/bare ratios, and checks:
#
# | measurement | target |
# |---|---|
# | start → first content (first rendered snapshot / DOMContentLoaded) | ≤ 1.15× the bare window |
# | start → signed-in view, session restored from the keyring | ≤ 1.3× the bare first content |
# | PSS of the process tree, 5 s after start | ≤ 1.10× the bare window's |
# | CPU time while idle, signed in, countdowns running | ≤ 0.2 s per minute |
# | the .deb (when one is built) | ≤ 4 MiB |
# | sanity bounds: window mapped < 2 s, tree PSS < 400 MiB | absolute |
#
#   bash scripts/bench-app.sh                 # build, then 5 runs each and 60 s of idle
#   BENCH_RUNS=3 BENCH_IDLE=20 bash scripts/bench-app.sh   # quicker, noisier
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${GENIUS_BENCH_INNER:-}" != 1 ]; then
  bash scripts/install-deps.sh >/dev/null
  # One invocation: the three share every dependency artifact (and the release profile).
  cargo build --release --locked -p genius-account -p bare-tauri -p geniusauth-emulator --bins
  export GENIUS_BENCH_INNER=1
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" bash "$0" "$@"
fi

# A Secret Service for the app's keyring, as in scripts/test-session.sh.
keyring_dir=$(mktemp -d)
export XDG_DATA_HOME="$keyring_dir"
eval "$(printf '\n' | gnome-keyring-daemon --unlock --components=secrets)"

target=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
version=$(cargo pkgid --locked -p genius-account | sed 's/.*[@#]//')
deb=$(ls -t "$target"/release/bundle/deb/*_"$version"_*.deb 2>/dev/null | head -n1 || true)
echo "bench-app: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
exec python3 tools/bench/app_vs_bare.py \
  --app "$target/release/genius-account" \
  --bare "$target/release/bare-tauri" \
  --emulator "$target/release/geniusauth-emulator" \
  --runs "${BENCH_RUNS:-5}" --idle "${BENCH_IDLE:-60}" ${deb:+--deb "$deb"}
