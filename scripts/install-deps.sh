#!/usr/bin/env bash
# Installs every system package and cargo tool the project needs, skipping what is already there,
# so a second run costs a few seconds.
set -euo pipefail

# Build: Tauri v2 on Linux (webkit2gtk 4.1 and friends). Run: Xvfb, fonts with CJK glyphs.
# Tests: WebKitWebDriver, a Secret Service (gnome-keyring) on a private D-Bus, imagemagick.
# Packages (scripts/package.sh, package-test.sh): rpm to read the .rpm, desktop-file-validate.
PACKAGES=(
  build-essential pkg-config curl file
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  librsvg2-dev libxdo-dev libssl-dev libdbus-1-dev
  xvfb xauth imagemagick webkit2gtk-driver
  dbus dbus-x11 gnome-keyring libsecret-tools
  fonts-noto-cjk fonts-dejavu-core xdg-utils librsvg2-bin
  rpm desktop-file-utils
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

# Cargo tools, from crates.io, only when absent ("crate@version binary"): tauri-driver bridges
# WebDriver to the app's window; the Tauri CLI (`cargo tauri`) builds the installers and icons.
CARGO_TOOLS=(
  "tauri-driver@2.1.0 tauri-driver"
  "tauri-cli@^2 cargo-tauri"
)
for tool in "${CARGO_TOOLS[@]}"; do
  read -r spec bin <<<"$tool"
  command -v "$bin" >/dev/null 2>&1 || cargo install --locked "$spec"
done
