#!/usr/bin/env bash
# Installs what is missing, then runs every check: formatting, lints, and all tests
# (unit, loopback HTTP against the emulator, the real keyring, the real window through WebDriver).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# UI: both languages complete, nothing inline that the CSP would block.
python3 tools/ui-preview/check_i18n.py
# UI: every module parses (a stray quote in a string would leave the window blank).
for module in ui/*.js ui/render/*.js ui/state/*.js; do node --check "$module"; done
# UI: the pure state logic (the Support table's rows), by Node's own test runner.
node --test tests/ui/*.test.mjs
# Signature vectors: recomputed with Python's hashlib, independently of the Rust code.
python3 scripts/signature_vectors.py --check

# The tests get their own D-Bus session (for the Secret Service) and X display (for the window).
exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" bash scripts/test-session.sh "$@"
