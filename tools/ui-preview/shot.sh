#!/usr/bin/env bash
# Screenshot the UI in every state with headless Chromium and the mock Tauri API.
#   tools/ui-preview/shot.sh              # all states
#   tools/ui-preview/shot.sh signed-in    # only shots whose name contains "signed-in"
#   tools/ui-preview/shot.sh --test       # run the in-page behaviour checks (selftest.js)
# Output: tools/ui-preview/shots/*.png (+ console.log with any console/CSP messages).
# Needs python3 and chromium (apt-get install -y chromium).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${OUT:-$HERE/shots}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
FILTER=${1:-}
CHROME=${CHROME:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$CHROME" ] || { echo "chromium not found: apt-get install -y chromium" >&2; exit 1; }

mkdir -p "$OUT"
: > "$OUT/console.log"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$ROOT" >/dev/null 2>&1 &
SERVER=$!
PROFILE=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$PROFILE"' EXIT
for _ in $(seq 50); do
  python3 - "$PORT" <<'PY' 2>/dev/null && break
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
  sleep 0.1
done

shot() { # name query [W,H] [extra chromium flag]
  local name=$1 query=$2 size=${3:-900,640} extra=${4:---no-default-browser-check}
  [[ -z "$FILTER" || "$name" == *"$FILTER"* ]] || return 0
  local log
  log=$("$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --force-device-scale-factor=1 \
    --user-data-dir="$PROFILE" --window-size="$size" --virtual-time-budget=4000 \
    --enable-logging=stderr --v=0 "$extra" \
    --screenshot="$OUT/$name.png" \
    "http://127.0.0.1:$PORT/tools/ui-preview/preview.html?$query" 2>&1 || true)
  if grep -E "CONSOLE|Content Security Policy|Uncaught" <<<"$log" >/dev/null; then
    { echo "== $name"; grep -E "CONSOLE|Content Security Policy|Uncaught" <<<"$log"; } >> "$OUT/console.log"
  fi
  echo "$OUT/$name.png"
}

if [ "$FILTER" = "--test" ]; then
  python3 "$HERE/check_i18n.py" || exit 1
  "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --window-size=900,640 --virtual-time-budget=60000 --dump-dom \
    "http://127.0.0.1:$PORT/tools/ui-preview/preview.html?state=signed-out&demo=1&latency=150&selftest=1" 2>/dev/null \
    | python3 -c 'import sys,re,html; m=re.search(r"<pre id=\"selftest\">(.*?)</pre>", sys.stdin.read(), re.S); r=html.unescape(m.group(1)) if m else "FAIL no report"; print(r); sys.exit(1 if "FAIL" in r else 0)'
  exit $?
fi

for lang in zh-CN en; do
  l=${lang%%-*}
  for theme in light dark; do
    t="lang=$lang&theme=$theme"
    shot "$l-$theme-setup"              "state=setup&$t"
    shot "$l-$theme-setup-errors"       "state=setup&ui=setup-errors&$t"
    shot "$l-$theme-signed-out"         "state=signed-out&$t"
    shot "$l-$theme-signed-out-demo"    "state=signed-out&demo=1&$t"
    shot "$l-$theme-pending"            "state=pending&$t"
    shot "$l-$theme-signed-in"          "state=signed-in&$t"
    shot "$l-$theme-edit-payload"       "state=signed-in&ui=edit-payload&$t"
    shot "$l-$theme-revoke"             "state=signed-in&ui=revoke&$t"
    shot "$l-$theme-expired"            "state=expired&$t"
    shot "$l-$theme-offline"            "state=offline&$t"
    shot "$l-$theme-error"              "state=signed-in&error=server&$t"
    shot "$l-$theme-storage"            "state=signed-out&storage=unavailable&$t"
    shot "$l-$theme-small-signed-in"    "state=signed-in&$t" 640,480
    shot "$l-$theme-small-setup"        "state=setup&$t" 640,480
    shot "$l-$theme-small-signed-out"   "state=signed-out&demo=1&$t" 640,480
  done
  t="lang=$lang&theme=light"
  shot "$l-forget"              "state=signed-in&ui=forget&$t"
  shot "$l-edit-payload-over"   "state=signed-in&ui=edit-payload-over&$t"
  shot "$l-expiring"            "state=expiring&storage=file&$t"
  shot "$l-profile-menu"        "state=signed-in&ui=profile-menu&$t"
  shot "$l-profile-edit"        "state=signed-in&ui=profile-edit&$t"
  shot "$l-profile-add"         "state=signed-in&ui=profile-add&$t"
  shot "$l-delete-profile"      "state=signed-in&ui=delete-profile&$t"
  shot "$l-noaccess-noavatar"   "state=signed-in&noaccess=1&badavatar=1&nogroups=1&$t"
  shot "$l-copy"                "state=signed-in&ui=copy&$t"
  shot "$l-paste"               "state=signed-out&ui=paste&$t"
  shot "$l-revoke-fail"         "state=signed-in&ui=revoke-fail&$t"
  shot "$l-demo-signed-in"      "state=signed-out&demo=1&ui=demo-signin&$t"
  shot "$l-small-edit-payload"  "state=signed-in&ui=edit-payload&$t" 640,480
  shot "$l-small-revoke"        "state=signed-in&ui=revoke&$t" 640,480
  shot "$l-small-error"         "state=offline&error=server&storage=file&$t" 640,480
done
# Support and Audit log views
for lang in zh-CN en; do
  l=${lang%%-*}
  for theme in light dark; do
    t="lang=$lang&theme=$theme"
    shot "$l-$theme-support-empty"      "state=signed-in&ui=support&$t"
    shot "$l-$theme-support-rows"       "state=signed-in&support=rows&ui=support&$t"
    shot "$l-$theme-support-done"       "state=signed-in&support=done&ui=support&$t"
    shot "$l-$theme-audit"              "state=signed-in&support=done&ui=audit&$t"
  done
  t="lang=$lang&theme=light"
  shot "$l-support-paste"         "state=signed-out&ui=support-paste&$t"
  shot "$l-support-confirm"       "state=signed-in&support=rows&ui=support-confirm&$t"
  shot "$l-support-running"       "state=signed-in&support=running&revokeMs=4000&ui=support&$t"
  shot "$l-support-details"       "state=signed-in&support=done&ui=support-details&$t"
  shot "$l-support-filter"        "state=signed-in&support=done&ui=support-filter&$t"
  shot "$l-support-many"          "state=signed-in&support=many&ui=support&$t"
  shot "$l-support-many-scrolled" "state=signed-in&support=many&ui=support-scrolled&$t"
  shot "$l-audit-empty"           "state=signed-in&audit=empty&ui=audit&$t"
  shot "$l-small-support-done"    "state=signed-in&support=done&ui=support&$t" 640,480
  shot "$l-small-audit"           "state=signed-in&ui=audit&$t" 640,480
done
# theme "system" following the OS dark preference
shot "system-dark-signed-in" "state=signed-in&lang=en&theme=system" 900,640 --blink-settings=preferredColorScheme=0
if [ -s "$OUT/console.log" ]; then echo "console messages: $OUT/console.log"; fi
