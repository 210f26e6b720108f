#!/usr/bin/env bash
# Linux installers from the PyInstaller bundle in dist/labeldesk (./run.sh package runs this):
#   dist/labeldesk_<version>_<arch>.deb     desktop entry, icons, MIME types (.dcm, .nii/.nii.gz,
#                                            project.labeldesk); installs to /opt/labeldesk,
#                                            `labeldesk` on the PATH
#   dist/labeldesk-<version>-<arch>.AppImage when `appimagetool` is on the PATH (or $APPIMAGETOOL);
#                                            otherwise the AppDir is left in build/pkg/AppDir
#                                            (the GitHub workflow builds the AppImage)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { if [ -t 2 ]; then printf '\033[1m[package]\033[0m %s\n' "$*" >&2; else printf '[package] %s\n' "$*" >&2; fi; }

VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' labeldesk/__init__.py)
BUNDLE=dist/labeldesk
[ -x "$BUNDLE/labeldesk" ] || { say "no bundle in $BUNDLE: run ./run.sh bundle first"; exit 1; }
bundled=$("$BUNDLE/labeldesk" --version)
[ "$bundled" = "labeldesk $VERSION" ] || { say "the bundle says '$bundled', the source $VERSION: rebuild it"; exit 1; }
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
STAGE=build/pkg
rm -rf "$STAGE"; mkdir -p "$STAGE"

install_tree() {  # install_tree ROOT: the files both packages share, under ROOT
  local root=$1
  mkdir -p "$root/opt" "$root/usr/bin" "$root/usr/share/applications" "$root/usr/share/mime/packages" \
           "$root/usr/share/icons/hicolor/256x256/apps" "$root/usr/share/icons/hicolor/48x48/apps" \
           "$root/usr/share/icons/hicolor/scalable/apps" "$root/usr/share/doc/labeldesk"
  cp -a "$BUNDLE" "$root/opt/labeldesk"
  ln -s ../../opt/labeldesk/labeldesk "$root/usr/bin/labeldesk"
  install -m 644 packaging/linux/labeldesk.desktop "$root/usr/share/applications/labeldesk.desktop"
  install -m 644 packaging/linux/labeldesk-mime.xml "$root/usr/share/mime/packages/labeldesk.xml"
  install -m 644 packaging/icons/labeldesk-256.png "$root/usr/share/icons/hicolor/256x256/apps/labeldesk.png"
  install -m 644 packaging/icons/labeldesk-48.png "$root/usr/share/icons/hicolor/48x48/apps/labeldesk.png"
  install -m 644 packaging/icons/labeldesk.svg "$root/usr/share/icons/hicolor/scalable/apps/labeldesk.svg"
  install -m 644 LICENSE "$root/usr/share/doc/labeldesk/copyright"
}

# ---- .deb ------------------------------------------------------------------------------------
DEB_ROOT="$STAGE/deb"
install_tree "$DEB_ROOT"
# the newest glibc symbol version any bundled binary needs = the oldest system it runs on
GLIBC=$(find "$DEB_ROOT/opt/labeldesk" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
        xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
mkdir -p "$DEB_ROOT/DEBIAN"
cat > "$DEB_ROOT/DEBIAN/control" <<CONTROL
Package: labeldesk
Version: $VERSION
Section: graphics
Priority: optional
Architecture: $ARCH
Maintainer: labeldesk maintainers <maintainers@labeldesk.invalid>
Installed-Size: $(du -sk "$DEB_ROOT" --exclude=DEBIAN | cut -f1)
Depends: libc6 (>= $GLIBC), libgl1, libegl1, libxcb1, libx11-6, libfontconfig1
Recommends: fonts-dejavu-core, shared-mime-info, desktop-file-utils, hicolor-icon-theme
Description: offline-first annotation workstation for images, video, DICOM and NIfTI
 labeldesk annotates images of any size, video, DICOM series and NIfTI volumes on the
 user's own machine, with team review through a shared folder. Every change is an op in
 a local, hash-chained audit log. No server and no network access at run time.
CONTROL
# the desktop, MIME and icon caches are refreshed by dpkg triggers of those packages
DEB="dist/labeldesk_${VERSION}_${ARCH}.deb"
# zstd: 10 % smaller than gzip -6 and faster to build (xz -6 would be 25 % smaller but takes 6 min
# on 2 cores); dpkg reads it since Debian 12 / Ubuntu 21.10, older than the glibc the bundle needs
dpkg-deb --root-owner-group -Zzstd -z9 --build "$DEB_ROOT" "$DEB" >/dev/null
say "$DEB ($(du -h "$DEB" | cut -f1); needs glibc >= $GLIBC)"

# ---- AppImage --------------------------------------------------------------------------------
APPDIR="$STAGE/AppDir"
install_tree "$APPDIR"
install -m 755 packaging/linux/AppRun "$APPDIR/AppRun"
cp packaging/linux/labeldesk.desktop "$APPDIR/labeldesk.desktop"
cp packaging/icons/labeldesk-256.png "$APPDIR/labeldesk.png"
ln -s labeldesk.png "$APPDIR/.DirIcon"
TOOL=${APPIMAGETOOL:-$(command -v appimagetool || command -v appimagetool-x86_64.AppImage || true)}
if [ -n "$TOOL" ]; then
  APPIMAGE="dist/labeldesk-${VERSION}-$(uname -m).AppImage"
  ARCH=$(uname -m) "$TOOL" --no-appstream "$APPDIR" "$APPIMAGE" >/dev/null
  say "$APPIMAGE ($(du -h "$APPIMAGE" | cut -f1))"
else
  say "AppDir ready in $APPDIR (run: $APPDIR/AppRun); no appimagetool here, so no .AppImage"
  say "(the GitHub workflow .github/workflows/installers.yml builds the AppImage)"
fi
