#!/usr/bin/env bash
# The desktop app's footprint, measured on the release build (the one the installers ship):
# started in demo mode (the embedded emulator running) on a private X display and D-Bus session,
# three times; the median of each measurement is checked against its target.
#
# | measurement | target | why |
# |---|---|---|
# | start → main window mapped | < 2 s | the window comes up at once |
# | memory (PSS) of the app process, 5 s after start | < 100 MiB | the Rust side stays small |
# | memory (PSS) of the app and its WebKit processes | < 400 MiB | what the user's machine pays |
#
#   bash scripts/bench-app.sh            # build the release binary, then measure
#   bash scripts/bench-app.sh BINARY     # measure this binary (e.g. /usr/bin/genius-account)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >/dev/null
if [ $# -ge 1 ]; then
  binary=$1
else
  cargo build --release --locked --bin genius-account
  target=$(cargo metadata --locked --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  binary="$target/release/genius-account"
fi
[ -x "$binary" ] || { echo "bench-app: $binary is not an executable" >&2; exit 2; }

# One run, on the display and D-Bus session xvfb-run and dbus-run-session give it:
# prints "window_ms app_kib total_kib".
one_run() {
  local home
  home=$(mktemp -d)
  local tag="--bench-run=$home"
  local start end app pids total pss
  start=$(date +%s%N)
  XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" XDG_CACHE_HOME="$home/cache" \
    "$binary" --demo "$tag" >/dev/null 2>"$home/app.log" &
  app=$!
  end=""
  for _ in $(seq 400); do
    if xwininfo -root -tree 2>/dev/null | grep -q '"Genius Account"'; then
      end=$(date +%s%N)
      break
    fi
    sleep 0.025
  done
  if [ -z "$end" ]; then
    echo "bench-app: no window within 10 s; the app said:" >&2
    cat "$home/app.log" >&2
    kill "$app" 2>/dev/null || true
    exit 1
  fi
  sleep 5
  # The app and every process under it (WebKit's network and web processes).
  pids=$app
  local frontier=$app
  while [ -n "$frontier" ]; do
    local next=""
    for p in $frontier; do next="$next $(pgrep -P "$p" | tr '\n' ' ' || true)"; done
    next=$(echo $next)
    pids="$pids $next"
    frontier=$next
  done
  total=0
  for p in $pids; do
    pss=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${pss:-0}))
  done
  local app_pss
  app_pss=$(awk '/^Pss:/ { print $2 }' "/proc/$app/smaps_rollup")
  kill "$app" 2>/dev/null || true
  wait "$app" 2>/dev/null || true
  pkill -f -- "$tag" 2>/dev/null || true
  rm -rf "$home"
  echo "$(((end - start) / 1000000)) $app_pss $total"
}

if [ "${GENIUS_BENCH_INNER:-}" != 1 ]; then
  export GENIUS_BENCH_INNER=1
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" bash "$0" "$binary"
fi

echo "bench-app: $binary"
runs=()
for i in 1 2 3; do
  runs+=("$(one_run)")
  echo "  run $i: window ${runs[-1]%% *} ms, app $(echo "${runs[-1]}" | awk '{ printf "%d", $2 / 1024 }') MiB, with WebKit $(echo "${runs[-1]}" | awk '{ printf "%d", $3 / 1024 }') MiB"
done
median() { printf '%s\n' "${runs[@]}" | awk -v c="$1" '{ print $c }' | sort -n | sed -n 2p; }
window_ms=$(median 1)
app_mib=$(($(median 2) / 1024))
total_mib=$(($(median 3) / 1024))

failed=0
check() { # name value unit limit
  if [ "$2" -lt "$4" ]; then
    printf '  ok      %-44s %6s %-3s (target < %s)\n' "$1" "$2" "$3" "$4"
  else
    printf '  MISSED  %-44s %6s %-3s (target < %s)\n' "$1" "$2" "$3" "$4"
    failed=1
  fi
}
echo "medians:"
check "start → window mapped" "$window_ms" ms 2000
check "app process memory (PSS)" "$app_mib" MiB 100
check "app + WebKit processes memory (PSS)" "$total_mib" MiB 400
exit "$failed"
