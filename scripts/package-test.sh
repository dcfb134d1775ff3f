#!/usr/bin/env bash
# The install test. Too slow for every run of scripts/test.sh (a release build with LTO), so it is
# a command of its own:
#
#   bash scripts/package-test.sh           # build the .deb and .rpm (scripts/package.sh), then test
#   bash scripts/package-test.sh --reuse   # test the packages already in target/release/bundle/
#
# 1. checks the metadata and contents of both packages (dpkg-deb, rpm, desktop-file-validate);
# 2. installs the .deb with apt on this machine (root or sudo) and checks what it put where, and
#    runs the installed /usr/bin/geniusctl (version, status, completions, man page);
# 3. starts the INSTALLED /usr/bin/genius-account in demo mode under Xvfb in a private D-Bus
#    session and drives it through WebDriver (tests/installed.rs): the demo screen, the About
#    dialog's version and commit, a demo sign-in; screenshots in target/package-test/;
# 4. uninstalls it with `apt-get purge` and checks that every file it installed is gone and that
#    nothing new is left under /usr, /etc and /opt, while the user's data stays where it was.
set -euo pipefail
cd "$(dirname "$0")/.."

reuse=false
case "${1:-}" in
  --reuse) reuse=true ;;
  "") ;;
  *) echo "usage: $0 [--reuse]" >&2; exit 2 ;;
esac
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...: runs COMMAND, counts and reports the outcome
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "  ok: $what"
  else
    failed=$((failed + 1))
    echo "  FAILED: $what" >&2
  fi
}
has_line() { grep -qxF -- "$2" <<<"$1"; }   # has_line TEXT LINE
has_text() { grep -qF -- "$2" <<<"$1"; }    # has_text TEXT PART

bash scripts/install-deps.sh --packaging
if $reuse; then
  commit=""   # the packages may come from another commit
else
  bash scripts/package.sh
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
fi

meta=$(cargo metadata --locked --format-version 1 --no-deps)
field() { python3 -c 'import json, sys; m = json.load(sys.stdin); p = next(p for p in m["packages"] if p["name"] == "genius-account"); print(eval(sys.argv[1]))' "$1" <<<"$meta"; }
version=$(field 'p["version"]')
repository=$(field 'p["repository"]')
target=$(field 'm["target_directory"]')
arch=$(dpkg --print-architecture)
deb=$(ls -t "$target"/release/bundle/deb/*_"${version}_${arch}".deb 2>/dev/null | head -n1 || true)
rpm=$(ls -t "$target"/release/bundle/rpm/*-"${version}"-*.rpm 2>/dev/null | head -n1 || true)
[ -n "$deb" ] && [ -n "$rpm" ] || {
  echo "package-test: no .deb/.rpm of version $version in $target/release/bundle (run without --reuse)" >&2
  exit 1
}
work=$(mktemp -d)
chmod 755 "$work"   # apt reads the .deb as its unprivileged _apt user
installed=false
cleanup() {
  if $installed; then
    echo "package-test: removing the package after a failure" >&2
    $SUDO apt-get purge -y -q genius-account >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== the .deb: $deb"
info=$(dpkg-deb -f "$deb")
echo "$info" | sed 's/^/    /'
f() { dpkg-deb -f "$deb" "$1"; }
check "Package: genius-account" [ "$(f Package)" = genius-account ]
check "Version: $version" [ "$(f Version)" = "$version" ]
check "Architecture: $arch" [ "$(f Architecture)" = "$arch" ]
check "Maintainer names NCUHOME" has_text "$(f Maintainer)" "NCUHOME"
check "Section: utils" [ "$(f Section)" = utils ]
check "Homepage: $repository" [ "$(f Homepage)" = "$repository" ]
check "Depends on libwebkit2gtk-4.1-0" has_text "$(f Depends)" "libwebkit2gtk-4.1-0"
check "Depends on libgtk-3-0" has_text "$(f Depends)" "libgtk-3-0"
check "Description" has_text "$(f Description)" "Desktop account manager for GeniusAuth"
# Paths as dpkg-deb lists them, without the leading "./" that some builders write and others don't.
contents=$(dpkg-deb -c "$deb" | awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); sub(/^\.\//, ""); print }')
desktop_path="usr/share/applications/Genius Account.desktop"
for path in usr/bin/genius-account "$desktop_path" usr/share/doc/genius-account/copyright \
  usr/share/icons/hicolor/32x32/apps/genius-account.png \
  usr/share/icons/hicolor/64x64/apps/genius-account.png \
  usr/share/icons/hicolor/128x128/apps/genius-account.png \
  usr/share/icons/hicolor/256x256@2/apps/genius-account.png \
  usr/share/icons/hicolor/512x512/apps/genius-account.png \
  usr/bin/geniusctl usr/share/bash-completion/completions/geniusctl \
  usr/share/zsh/vendor-completions/_geniusctl usr/share/fish/vendor_completions.d/geniusctl.fish \
  usr/share/man/man1/geniusctl.1.gz; do
  check "contains /$path" has_line "$contents" "$path"
done
check "/usr/bin/geniusctl is executable in the .deb" \
  bash -c 'dpkg-deb -c "$1" | grep -E "^-rwxr-xr-x .* (\./)?usr/bin/geniusctl$" >/dev/null' _ "$deb"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards "*$desktop_path"
desktop="$work/$desktop_path"
[ -f "$desktop" ] || desktop="$work/./$desktop_path"
check "desktop entry is valid (desktop-file-validate)" desktop-file-validate "$desktop"
entry=$(cat "$desktop")
for line in "Name=Genius Account" "Exec=genius-account" "Icon=genius-account" "Categories=Utility;" \
  "Comment[zh_CN]=GeniusAuth（南昌大学家园工作室统一身份认证）的桌面账户管理工具"; do
  check "desktop entry: $line" has_line "$entry" "$line"
done
check "desktop entry has an English Comment" grep -q '^Comment=Desktop account manager' "$desktop"

echo "== the .rpm: $rpm"
rpm -qip "$rpm" 2>/dev/null | sed 's/^/    /'
q() { rpm -qp --queryformat "%{$1}" "$rpm" 2>/dev/null; }
check "Name: genius-account" [ "$(q NAME)" = genius-account ]
check "Version: $version" [ "$(q VERSION)" = "$version" ]
check "License: MIT" [ "$(q LICENSE)" = MIT ]
check "URL: $repository" [ "$(q URL)" = "$repository" ]
check "Summary" has_text "$(q SUMMARY)" "Desktop account manager for GeniusAuth"
requires=$(rpm -qpR "$rpm" 2>/dev/null)
check "Requires libwebkit2gtk-4.1.so.0" has_text "$requires" "libwebkit2gtk-4.1.so.0"
check "Requires libgtk-3.so.0" has_text "$requires" "libgtk-3.so.0"
files=$(rpm -qpl "$rpm" 2>/dev/null)
for path in /usr/bin/genius-account "/usr/share/applications/Genius Account.desktop" \
  /usr/share/licenses/genius-account/LICENSE /usr/share/icons/hicolor/512x512/apps/genius-account.png \
  /usr/bin/geniusctl /usr/share/bash-completion/completions/geniusctl \
  /usr/share/zsh/site-functions/_geniusctl /usr/share/fish/vendor_completions.d/geniusctl.fish \
  /usr/share/man/man1/geniusctl.1.gz; do
  check "contains $path" has_line "$files" "$path"
done

echo "== install with apt"
if dpkg-query -W -f='${db:Status-Abbrev}' genius-account 2>/dev/null | grep -q '^.i'; then
  echo "package-test: genius-account is already installed; purging it first" >&2
  $SUDO apt-get purge -y -q genius-account
fi
# What is on the system before, to compare with after the purge (apt's own caches aside).
snapshot() { $SUDO find /usr /etc /opt -xdev 2>/dev/null | LC_ALL=C sort; }
snapshot >"$work/before.txt"
dpkg-query -W -f='${Package}\n' | LC_ALL=C sort >"$work/packages-before.txt"
cp "$deb" "$work/genius-account.deb"
chmod 644 "$work/genius-account.deb"
installed=true
$SUDO apt-get install -y -q "$work/genius-account.deb"
dpkg-query -W -f='${Package}\n' | LC_ALL=C sort >"$work/packages-after.txt"
pulled=$(comm -13 "$work/packages-before.txt" "$work/packages-after.txt" | grep -vx genius-account || true)
[ -z "$pulled" ] || echo "  (apt also installed: $(echo $pulled))"
check "dpkg says installed" [ "$(dpkg-query -W -f='${db:Status-Abbrev}' genius-account)" = "ii " ]
dpkg -L genius-account >"$work/owned.txt"
check "/usr/bin/genius-account is executable" [ -x /usr/bin/genius-account ]
check "the desktop entry is installed" [ -f "/usr/share/applications/Genius Account.desktop" ]
check "the icon is installed" [ -f /usr/share/icons/hicolor/128x128/apps/genius-account.png ]
size=$(stat -c %s /usr/bin/genius-account)
echo "  installed binary: $((size / 1024)) KiB; .deb $(($(stat -c %s "$deb") / 1024)) KiB; .rpm $(($(stat -c %s "$rpm") / 1024)) KiB"

echo "== run the installed geniusctl"
check "/usr/bin/geniusctl is executable" [ -x /usr/bin/geniusctl ]
check "geniusctl --version says $version" has_text "$(/usr/bin/geniusctl --version)" "$version"
# No app settings in an empty home: status names the problem and exits 4 (no such profile).
empty="$work/empty-home"
mkdir -p "$empty"
status_rc=0
status_out=$(env -i PATH=/usr/bin:/bin HOME="$empty" XDG_CONFIG_HOME="$empty/config" \
  XDG_DATA_HOME="$empty/data" /usr/bin/geniusctl status 2>&1) || status_rc=$?
echo "    geniusctl status: exit $status_rc: $status_out"
check "geniusctl status without the app's settings exits 4" [ "$status_rc" = 4 ]
check "the installed bash completion is what geniusctl generates" \
  bash -c 'diff <(/usr/bin/geniusctl completions bash) /usr/share/bash-completion/completions/geniusctl'
check "the bash completion loads and completes geniusctl" \
  bash -c '. /usr/share/bash-completion/completions/geniusctl && complete -p geniusctl >/dev/null'
check "the zsh completion is installed" grep -q '^#compdef geniusctl' /usr/share/zsh/vendor-completions/_geniusctl
check "the fish completion is installed" grep -q 'complete -c geniusctl' /usr/share/fish/vendor_completions.d/geniusctl.fish
check "the man page is a roff page for geniusctl" \
  bash -c 'zcat /usr/share/man/man1/geniusctl.1.gz | grep -q "^\.TH geniusctl 1"'

echo "== run the installed app (WebDriver, Xvfb, private D-Bus)"
home="$work/home"
mkdir -p "$home/runtime"
chmod 700 "$home/runtime"
run_installed() {
  env GENIUS_INSTALLED_BINARY=/usr/bin/genius-account GENIUS_INSTALLED_HOME="$home" \
    GENIUS_EXPECTED_VERSION="$version" ${commit:+GENIUS_EXPECTED_COMMIT="$commit"} \
    GENIUS_INSTALLED_SHOTS="$target/package-test" \
    XDG_RUNTIME_DIR="$home/runtime" XDG_DATA_HOME="$home/data" XDG_CACHE_HOME="$home/cache" \
    XDG_CONFIG_HOME="$home/config" \
    dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" \
    cargo test --locked --test installed -- --nocapture
}
check "the installed binary shows the demo, its version${commit:+ and commit $commit}, and signs in" run_installed
data="$home/data/club.ncuhome.genius-account"
check "it kept its data in $data" [ -d "$data" ]

echo "== uninstall with apt-get purge"
# shellcheck disable=SC2086 # $pulled is a list of package names
$SUDO apt-get purge -y -q genius-account $pulled
installed=false
check "dpkg no longer knows the package" \
  bash -c "! dpkg-query -W -f='\${db:Status-Abbrev}' genius-account 2>/dev/null | grep -q '^.i'"
left=()
while IFS= read -r path; do
  [ "$path" = /. ] && continue
  # A directory it shared with other packages (/usr/bin, …) rightly stays.
  if [ -e "$path" ] || [ -L "$path" ]; then
    [ -d "$path" ] && ! [ -L "$path" ] && grep -qxF -- "$path" "$work/before.txt" && continue
    left+=("$path")
  fi
done <"$work/owned.txt"
check "every file the package installed is gone" [ ${#left[@]} -eq 0 ]
[ ${#left[@]} -eq 0 ] || printf '    left: %s\n' "${left[@]}" >&2
snapshot >"$work/after.txt"
# New since before the install, not owned by any package (apt run by someone else meanwhile),
# and not a cache the system rebuilds for every package (icons, desktop entries, MIME types).
new=$(comm -13 "$work/before.txt" "$work/after.txt" |
  grep -vE '/(icon-theme\.cache|mimeinfo\.cache|ld\.so\.cache)$|/__pycache__(/|$)' || true)
stray=()
while IFS= read -r path; do
  [ -n "$path" ] || continue
  dpkg -S "$path" >/dev/null 2>&1 || stray+=("$path")
done <<<"$new"
check "nothing new is left under /usr, /etc, /opt" [ ${#stray[@]} -eq 0 ]
[ ${#stray[@]} -eq 0 ] || printf '    left: %s\n' "${stray[@]}" >&2
check "/usr/bin/genius-account is gone" [ ! -e /usr/bin/genius-account ]
check "/usr/bin/geniusctl is gone" [ ! -e /usr/bin/geniusctl ]
check "the user's data is kept ($data)" [ -d "$data" ]

echo "package-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
