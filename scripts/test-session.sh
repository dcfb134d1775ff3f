#!/usr/bin/env bash
# Runs inside the test D-Bus session and X display made by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# A Secret Service for the keyring tests: gnome-keyring with an empty-password login keyring.
if command -v gnome-keyring-daemon >/dev/null; then
  export GENIUS_TEST_KEYRING_DIR
  GENIUS_TEST_KEYRING_DIR=$(mktemp -d)
  export XDG_DATA_HOME="$GENIUS_TEST_KEYRING_DIR"
  eval "$(printf '\n' | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
fi

# `-p <crate>` narrows the run (`bash scripts/test-session.sh -p account`); cargo would ignore it
# next to --workspace, so the whole workspace is the default only when no package is named.
scope=(--workspace)
for arg in "$@"; do
  case "$arg" in
    --) break ;;
    -p | -p* | --package | --package=*) scope=() ; break ;;
  esac
done
cargo test ${scope[@]+"${scope[@]}"} --locked "$@"
