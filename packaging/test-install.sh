#!/usr/bin/env bash
# Install the .deb into a clean root and run `labeldesk self-test` from the installed path (CI).
#   packaging/test-install.sh dist/labeldesk_<version>_<arch>.deb
# With root, debootstrap and a reachable Debian mirror: a minimal Debian 12 root (debootstrap
# --variant=minbase), `apt-get install ./labeldesk.deb` inside it (so the package's Depends are
# what makes it run), the self-test inside the chroot, as a normal user. Otherwise (or with
# LABELDESK_INSTALL_TEST=extract): `dpkg -x` into an empty folder and the self-test from there.
# Both check the desktop entry, the MIME types and the icons that were installed, and that the
# installed app reports the version of the source.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { if [ -t 2 ]; then printf '\033[1m[install-test]\033[0m %s\n' "$*" >&2; else printf '[install-test] %s\n' "$*" >&2; fi; }
DEB=${1:?usage: packaging/test-install.sh PACKAGE.deb}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' labeldesk/__init__.py)
MODE=${LABELDESK_INSTALL_TEST:-chroot}
SUITE=${LABELDESK_INSTALL_SUITE:-bookworm}
MIRROR=${LABELDESK_INSTALL_MIRROR:-http://deb.debian.org/debian}
WORK=$(mktemp -d /tmp/labeldesk-install-test.XXXXXX)
ROOT="$WORK/root"
MOUNTS=()
cleanup() {
  local m
  for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

need() { "$@" || { say "FAILED: $*"; exit 1; }; }

check_files() {  # check_files ROOT: what the package put in place
  local root=$1
  need test -x "$root/opt/labeldesk/labeldesk"
  need test -L "$root/usr/bin/labeldesk"
  need grep -q '^Exec=labeldesk open %F' "$root/usr/share/applications/labeldesk.desktop"
  need grep -q 'application/x-nifti' "$root/usr/share/applications/labeldesk.desktop"
  need grep -q '[*].nii.gz' "$root/usr/share/mime/packages/labeldesk.xml"
  need grep -q '[*].dcm' "$root/usr/share/mime/packages/labeldesk.xml"
  need test -s "$root/usr/share/icons/hicolor/256x256/apps/labeldesk.png"
  need test -f "$root/opt/labeldesk/_internal/PySide6/Qt/plugins/platforms/libqxcb.so"
  need compgen -G "$root/opt/labeldesk/_internal/libxcb-cursor.so.*" >/dev/null
  need compgen -G "$root/opt/labeldesk/_internal/libxkbcommon-x11.so.*" >/dev/null
  if command -v desktop-file-validate >/dev/null 2>&1; then
    need desktop-file-validate --no-hints "$root/usr/share/applications/labeldesk.desktop"
  fi
  say "desktop entry, MIME types, icons, xcb plugin and its libraries are in place"
}

selftest_json_ok() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); bad=[k for k,v in d["checks"].items() if not v["ok"]]; print("self-test:", len(d["checks"]), "checks,", "failed: " + ", ".join(bad) if bad else "all passed"); sys.exit(0 if d["ok"] and d["labeldesk"]==sys.argv[2] and d["frozen"] else 1)' "$1" "$VERSION"
}

make_root() {  # a minimal Debian root in $ROOT; 1 when that cannot be done here
  [ "$(id -u)" -eq 0 ] && command -v debootstrap >/dev/null 2>&1 || return 1
  say "debootstrap $SUITE (minbase) into $ROOT"
  if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -5 "$WORK/debootstrap.log" >&2; return 1
  fi
}

chroot_test() {
  local m
  # /dev/shm as on a workstation: joblib (the pixel classifier's forest) uses it for its workers
  for m in proc sys dev dev/pts dev/shm; do
    [ -d "/$m" ] || continue
    mount --bind "/$m" "$ROOT/$m"; MOUNTS+=("$ROOT/$m")
  done
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  cp "$DEB" "$ROOT/tmp/labeldesk.deb"
  say "apt-get install ./labeldesk.deb inside the clean root (resolves its Depends)"
  if ! chroot "$ROOT" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/labeldesk.deb' \
      >"$WORK/apt.log" 2>&1; then
    tail -20 "$WORK/apt.log" >&2; say "FAILED: installing the package"; exit 1
  fi
  check_files "$ROOT"
  need test "$(chroot "$ROOT" labeldesk --version)" = "labeldesk $VERSION"
  need test -f "$ROOT/usr/share/mime/application/x-nifti.xml"      # the MIME trigger ran
  chroot "$ROOT" useradd -m tester
  say "labeldesk self-test as a normal user in the clean root"
  need chroot "$ROOT" su tester -c 'cd && QT_QPA_PLATFORM=offscreen timeout 600 labeldesk self-test >self-test.json'
  need selftest_json_ok "$ROOT/home/tester/self-test.json"
  # a real X display (Xvfb) with only what the package depends on: the bundled xcb plugin and
  # its libraries must be enough to show the window
  if chroot "$ROOT" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends xvfb xauth' \
      >"$WORK/apt-x.log" 2>&1; then
    if chroot "$ROOT" dpkg-query -W -f='${Status}' libxcb-cursor0 2>/dev/null | grep -q "ok installed"; then
      say "note: libxcb-cursor0 is installed in the root; the xcb check then does not prove the bundled copy"
    fi
    need chroot "$ROOT" su tester -c 'cd && labeldesk init xcb-check >/dev/null && QT_QPA_PLATFORM=xcb xvfb-run -a labeldesk gui xcb-check --screenshot xcb.png >/dev/null 2>xcb.err || { cat xcb.err >&2; exit 1; }'
    need test -s "$ROOT/home/tester/xcb.png"
    say "the window opened on an X display through the bundled xcb plugin"
  else
    say "note: could not install xvfb in the clean root; the xcb check was skipped"
  fi
}

extract_test() {
  say "dpkg -x into an empty folder ($1)"
  mkdir -p "$ROOT"
  dpkg -x "$DEB" "$ROOT"
  check_files "$ROOT"
  need test "$("$ROOT/usr/bin/labeldesk" --version)" = "labeldesk $VERSION"
  need sh -c "cd '$WORK' && HOME='$WORK' QT_QPA_PLATFORM=offscreen timeout 600 '$ROOT/usr/bin/labeldesk' self-test >'$WORK/self-test.json'"
  need selftest_json_ok "$WORK/self-test.json"
}

if [ "$MODE" = chroot ] && make_root; then
  chroot_test
else
  rm -rf "$ROOT"
  extract_test "$([ "$MODE" = chroot ] && echo "no debootstrap or no Debian mirror here" || echo "LABELDESK_INSTALL_TEST=$MODE")"
fi
say "installed package passed: $DEB"
