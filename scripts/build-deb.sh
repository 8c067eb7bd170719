#!/usr/bin/env bash
# Builds the Debian packages ward_<version>_<arch>.deb (server, portal, ward.service) and
# ward-sensor_<version>_<arch>.deb (sensor, ward-sensor.service) from a build directory.
#   scripts/build-deb.sh [BUILD_DIR] [OUT_DIR]      (`make deb` runs it)
# Binaries come from BUILD_DIR (stripped of debug info), the portal from web/dist; Depends are
# computed by dpkg-shlibdeps from the binaries' shared libraries.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="$(cd "${1:-$ROOT/build}" && pwd)"
OUT_DIR="${2:-$BUILD_DIR/deb}"
PKG="$ROOT/packaging"
VERSION=$(sed -n 's/.*kVersion = "\(.*\)";/\1/p' "$ROOT/src/common/version.h")
ARCH=$(dpkg --print-architecture)
[ -f "$ROOT/web/dist/index.html" ] || { echo "build-deb: web/dist is missing; run make web" >&2; exit 1; }
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The #SYSTEMD# line of a maintainer script becomes the unit's enable/start/stop snippet.
maintainer_script() {  # package script unit
  local src="$PKG/deb/$1/$2" out="$3"
  awk -v snippet="$PKG/deb/$2-systemd" -v unit="$4" '
    /^#SYSTEMD#$/ { while ((getline line < snippet) > 0) { gsub(/@UNIT@/, unit, line); print line } next }
    { print }' "$src" > "$out"
  chmod 0755 "$out"
}

shlib_depends() {  # binaries...
  # dpkg-shlibdeps wants a debian/control beside it; it only reads the source stanza's name.
  local dir="$WORK/shlibs"
  mkdir -p "$dir/debian"
  printf 'Source: ward\n\nPackage: ward\nArchitecture: any\n' > "$dir/debian/control"
  (cd "$dir" && dpkg-shlibdeps -O --ignore-missing-info "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

build_package() {  # name unit binaries...
  local name="$1" unit="$2"; shift 2
  local stage="$WORK/$name"
  mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/share/doc/$name"
  for bin in "$@"; do
    install -m 0755 "$BUILD_DIR/$bin" "$stage/usr/bin/$bin"
    strip --strip-debug "$stage/usr/bin/$bin"
  done
  install -m 0644 "$PKG/systemd/$unit" "$stage/lib/systemd/system/$unit"
  install -m 0644 "$PKG/deb/copyright" "$stage/usr/share/doc/$name/copyright"
  local bins=()
  for bin in "$@"; do bins+=("$stage/usr/bin/$bin"); done
  local shlibs
  shlibs=$(shlib_depends "${bins[@]}")
  sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SHLIBS@/$shlibs/" \
      "$PKG/deb/$name/control.in" > "$stage/DEBIAN/control"
  echo "Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)" >> "$stage/DEBIAN/control"
  for script in postinst prerm postrm; do
    [ -f "$PKG/deb/$name/$script" ] && maintainer_script "$name" "$script" "$stage/DEBIAN/$script" "$unit"
  done
  [ -f "$PKG/deb/$name/conffiles" ] && install -m 0644 "$PKG/deb/$name/conffiles" "$stage/DEBIAN/conffiles"
  if [ "$name" = ward ]; then
    mkdir -p "$stage/usr/share/ward" "$stage/etc/ward"
    cp -r "$ROOT/web/dist" "$stage/usr/share/ward/web"
    install -m 0644 "$PKG/etc/server.env" "$stage/etc/ward/server.env"
    install -m 0644 "$ROOT/docs/deployment.md" "$stage/usr/share/doc/ward/deployment.md"
  else
    install -m 0644 "$PKG/deb/ward-sensor/README.Debian" "$stage/usr/share/doc/ward-sensor/README.Debian"
  fi
  find "$stage" -type d -exec chmod 0755 {} +
  dpkg-deb --root-owner-group -Zxz -z3 --build "$stage" "$OUT_DIR/${name}_${VERSION}_${ARCH}.deb" >/dev/null
  echo "$OUT_DIR/${name}_${VERSION}_${ARCH}.deb"
}

build_package ward ward.service ward
build_package ward-sensor ward-sensor.service ward-sensor
