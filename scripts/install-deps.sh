#!/usr/bin/env bash
# Installs every system package and cargo tool the project needs, skipping what is already there,
# so a second run costs a few seconds.
#   bash scripts/install-deps.sh              # build, run and test
#   bash scripts/install-deps.sh --packaging  # also the Tauri CLI, for the installers
set -euo pipefail

packaging=false
case "${1:-}" in
  --packaging) packaging=true ;;
  "") ;;
  *) echo "usage: $0 [--packaging]" >&2; exit 2 ;;
esac

# The Rust toolchain comes from rustup (https://rustup.rs), with rustfmt and clippy for the checks.
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo is missing; install the Rust toolchain with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
fi

# Build: Tauri v2 on Linux (webkit2gtk 4.1 and friends). Run: Xvfb, fonts with CJK glyphs.
# Tests: WebKitWebDriver, a Secret Service (gnome-keyring) on a private D-Bus, imagemagick;
# benchmarks: xwininfo (x11-utils) to see the window come up; strace for the durability tests
# (they watch the fsync order and slow down writes to the settings and secrets files).
# Packages (scripts/package.sh, package-test.sh): rpm to read the .rpm, desktop-file-validate.
PACKAGES=(
  build-essential pkg-config curl file python3
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  librsvg2-dev libxdo-dev libssl-dev libdbus-1-dev
  xvfb xauth x11-utils imagemagick webkit2gtk-driver
  dbus dbus-x11 gnome-keyring libsecret-tools
  fonts-noto-cjk fonts-dejavu-core xdg-utils librsvg2-bin
  rpm desktop-file-utils strace
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node.js checks the UI's modules (syntax); any node on PATH will do, else Debian's.
if ! command -v node >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs \
    || { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs; }
fi

# The accessibility check of the e2e suite (tests/e2e/a11y.rs) injects axe-core into the real
# window: a pinned release from the npm registry, kept in tests/e2e/vendor/ (ignored by git, never
# shipped: ui/ does not see it). npm verifies the tarball against the registry's integrity hash.
AXE_VERSION=4.14.1
AXE_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/vendor"
axe_installed() {
  [ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] &&
    grep -q "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json" 2>/dev/null
}
if ! axe_installed; then
  if ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm \
      || { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm; }
  fi
  echo "install-deps: installing axe-core@$AXE_VERSION into $AXE_DIR"
  mkdir -p "$AXE_DIR"
  npm install --prefix "$AXE_DIR" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
    "axe-core@$AXE_VERSION" >/dev/null
  axe_installed || { echo "install-deps: axe-core@$AXE_VERSION did not install" >&2; exit 1; }
fi

# Cargo tools, from crates.io, only when absent ("crate@version binary"): tauri-driver bridges
# WebDriver to the app's window; the Tauri CLI (`cargo tauri`) builds the installers and icons,
# and only the packaging scripts need it (it takes minutes to build).
CARGO_TOOLS=("tauri-driver@2.1.0 tauri-driver")
if $packaging; then CARGO_TOOLS+=("tauri-cli@^2 cargo-tauri"); fi
for tool in "${CARGO_TOOLS[@]}"; do
  read -r spec bin <<<"$tool"
  command -v "$bin" >/dev/null 2>&1 || cargo install --locked "$spec"
done
