#!/usr/bin/env bash
# labeldesk set-up and launcher for Debian/Ubuntu (and other Linux with the packages present).
#   ./run.sh demo      set everything up, create the demo project and open the app on it
#   ./run.sh test      set everything up and run the test suite (offscreen)
#   ./run.sh bundle    build the PyInstaller onedir bundle (dist/labeldesk/) and run its self-test
#   ./run.sh package   bundle, then the .deb and the AppImage in dist/ (packaging/build.sh)
#   ./run.sh app ARGS  run `labeldesk ARGS` in the project's virtual environment
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
QT_LIBS="libgl1 libegl1 libxkbcommon0 libglib2.0-0 libdbus-1-3 libfontconfig1"
# The xcb platform plugin's libraries: needed to show a window, and collected into the bundle.
XCB_LIBS="libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxcb-randr0 libxcb-xfixes0 libxcb-sync1 libxcb-shm0 libxcb-xinerama0 libxcb-render0 libx11-xcb1"

# colour only when stderr is a terminal (and NO_COLOR is not set)
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\033[1m[labeldesk]\033[0m %s\n' "$*" >&2; }
else
  say() { printf '[labeldesk] %s\n' "$*" >&2; }
fi

find_python() {
  for py in ${LABELDESK_PYTHON:-} python3.12 python3.13 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

apt_busy() {  # another package manager holds (or is about to hold) the dpkg lock
  local comm
  for comm in /proc/[0-9]*/comm; do
    case "$(cat "$comm" 2>/dev/null)" in
      apt|apt-get|aptitude|dpkg|unattended-upgr|packagekitd|synaptic) return 0 ;;
    esac
  done
  return 1
}

apt_get() {  # apt-get that waits (up to 20 min) for another apt/dpkg to finish instead of failing
  local waited=0
  while apt_busy; do
    [ $waited -eq 0 ] && say "waiting for another package manager (apt/dpkg) to finish…"
    waited=$((waited + 5)); sleep 5
    if [ $waited -ge 1200 ]; then say "still locked after 20 minutes; trying anyway"; break; fi
  done
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1200 -q "$@"
}

apt_install() {  # apt_install PKG...: installs what is missing (root), or says what to run
  local missing=() log
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "not a Debian/Ubuntu system: make sure these are installed: ${missing[*]}"; return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    say "installing system packages: ${missing[*]}"
    log=$(mktemp)
    if ! apt_get install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
      if ! { apt_get update && apt_get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        say "could not install: ${missing[*]}"; exit 1
      fi
    fi
    rm -f "$log"
  else
    say "missing system packages: ${missing[*]}"
    say "install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
}

setup() {
  local py
  if ! py=$(find_python) && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    apt_install python3 python3-venv          # a minimal Debian/Ubuntu: its own python3 (3.11+)
  fi
  if ! py=$(find_python); then
    say "Python 3.11-3.13 is needed. On Debian/Ubuntu: sudo apt-get install -y python3 python3-venv"
    exit 1
  fi
  if command -v dpkg-query >/dev/null 2>&1; then
    local pyver; pyver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    "$py" -c 'import ensurepip' 2>/dev/null || apt_install "python${pyver}-venv"
    # shellcheck disable=SC2086
    apt_install $QT_LIBS
    # shellcheck disable=SC2086
    if [ -n "${DISPLAY:-}" ] || [ "${1:-}" = "xcb" ]; then apt_install $XCB_LIBS; fi
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment ($py)"
    "$py" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed" want
  want=$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing labeldesk and its dependencies into $VENV (first run takes a minute)"
    # pip and setuptools talk a lot (deprecation notices, build back-end lines): keep their output
    # in a log and say one line of our own if the install fails
    local log="$VENV/install.log"
    "$VENV/bin/python" -m pip install -q --upgrade pip >"$log" 2>&1 || true
    if ! "$VENV/bin/python" -m pip install -q -e '.[dev,medical,models]' >>"$log" 2>&1; then
      say "installing the dependencies failed: the last lines of $log:"
      tail -n 5 "$log" >&2
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
}

build_tools() {  # what PyInstaller needs beyond the venv: objdump, the xcb libraries, libpython.so
  command -v dpkg-query >/dev/null 2>&1 || return 0
  # shellcheck disable=SC2086
  apt_install binutils $XCB_LIBS
  local lib
  if ! lib=$("$VENV/bin/python" packaging/libpython.py 2>/dev/null); then
    local base; base=$("$VENV/bin/python" -c 'import sys; print(sys.base_prefix)')
    local pyver; pyver=$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$base" = "/usr" ]; then
      apt_install "libpython${pyver}"          # Debian/Ubuntu's python3: the shared library is a separate package
      lib=$("$VENV/bin/python" packaging/libpython.py)
    else
      say "this Python ($base) was built without a shared libpython, which PyInstaller needs."
      say "use the system python3 (LABELDESK_PYTHON=/usr/bin/python3 after removing $VENV), or rebuild it:"
      say "  PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install --force ${pyver}"
      exit 1
    fi
  fi
  say "bundling with $lib"
}

bundle() {
  setup
  build_tools
  rm -rf build/labeldesk dist/labeldesk
  say "building the bundle (PyInstaller; a few minutes)"
  "$VENV/bin/python" -m PyInstaller --noconfirm --log-level WARN labeldesk.spec
  say "self-test of the bundle"
  QT_QPA_PLATFORM=offscreen timeout 600 dist/labeldesk/labeldesk self-test --screenshot dist/self-test.png >dist/self-test.json
  say "bundle ready: dist/labeldesk/labeldesk ($(du -sh dist/labeldesk | cut -f1))"
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    setup
    exec "$VENV/bin/python" -m labeldesk demo "$@" ;;
  test)
    setup
    # dciodvfy checks DICOM SEG/RTSTRUCT exports in the tests (skipped with a reason where it is missing)
    command -v dciodvfy >/dev/null 2>&1 || ( apt_install dicom3tools ) || say "dicom3tools not installed: the dciodvfy checks are skipped"
    export QT_QPA_PLATFORM=offscreen
    # pycocotools (2.0.x) calls np.array(copy=False) on an object without the NumPy 2 __array__
    # signature: a third-party deprecation with nothing to act on here, printed after every run
    exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
      -W "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning" "$@" ;;
  bundle)
    bundle ;;
  package)
    [ "${1:-}" = "--no-build" ] && shift || bundle
    command -v dpkg-query >/dev/null 2>&1 && apt_install dpkg-dev fakeroot squashfs-tools desktop-file-utils
    packaging/build.sh "$@" ;;
  app)
    setup
    exec "$VENV/bin/python" -m labeldesk "$@" ;;
  *)
    echo "usage: ./run.sh [demo|test|bundle|package|app ARGS]" >&2; exit 2 ;;
esac
