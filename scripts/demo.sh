#!/usr/bin/env bash
# Installs what is missing, then starts the app in demo mode against the embedded emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --locked --bin genius-account

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "demo: no display found; running under Xvfb (screenshot with: DISPLAY=:99 import -window root shot.png)" >&2
  exec xvfb-run -n 99 -s "-screen 0 1280x900x24" dbus-run-session -- target/debug/genius-account --demo "$@"
fi
exec target/debug/genius-account --demo "$@"
