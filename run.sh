#!/usr/bin/env bash
# labeldesk set-up and launcher for Debian/Ubuntu (and other Linux with the packages present).
#   ./run.sh demo     set everything up, create the demo project and open the app on it
#   ./run.sh test     set everything up and run the test suite (offscreen)
#   ./run.sh bundle   build the PyInstaller onedir bundle and run its self-test
#   ./run.sh app ARGS run `labeldesk ARGS` in the project's virtual environment
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
QT_LIBS="libgl1 libegl1 libxkbcommon0 libglib2.0-0 libdbus-1-3 libfontconfig1"
XCB_LIBS="libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0 libxcb-xkb1"

say() { printf '\033[1m[labeldesk]\033[0m %s\n' "$*" >&2; }

find_python() {
  for py in python3.12 python3.13 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

apt_install() {  # apt_install PKG...: installs what is missing (root), or says what to run
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "not a Debian/Ubuntu system: make sure these libraries are installed: ${missing[*]}"; return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    say "installing system packages: ${missing[*]}"
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
    fi
  else
    say "missing system packages: ${missing[*]}"
    say "install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
}

setup() {
  local py
  if ! py=$(find_python); then
    say "Python 3.11-3.13 is needed. On Debian/Ubuntu: sudo apt-get install -y python3 python3-venv"
    exit 1
  fi
  if command -v dpkg-query >/dev/null 2>&1; then
    local pyver; pyver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    "$py" -c 'import ensurepip' 2>/dev/null || apt_install "python${pyver}-venv"
    # shellcheck disable=SC2086
    apt_install $QT_LIBS
    if [ -n "${DISPLAY:-}" ] || [ "${1:-}" = "xcb" ]; then apt_install $XCB_LIBS; fi
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment ($py)"
    "$py" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed" want
  want=$(cat pyproject.toml | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing labeldesk and its dependencies into $VENV (first run takes a minute)"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e '.[dev,medical,models]'
    echo "$want" > "$stamp"
  fi
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    setup
    exec "$VENV/bin/python" -m labeldesk demo "$@" ;;
  test)
    setup
    export QT_QPA_PLATFORM=offscreen
    exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@" ;;
  bundle)
    setup
    rm -rf build/labeldesk dist/labeldesk
    "$VENV/bin/python" -m PyInstaller --noconfirm --log-level WARN labeldesk.spec
    QT_QPA_PLATFORM=offscreen timeout 600 dist/labeldesk/labeldesk self-test --screenshot dist/self-test.png
    say "bundle ready: dist/labeldesk/labeldesk" ;;
  app)
    setup
    exec "$VENV/bin/python" -m labeldesk "$@" ;;
  *)
    echo "usage: ./run.sh [demo|test|bundle|app ARGS]" >&2; exit 2 ;;
esac
