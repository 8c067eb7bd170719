#!/usr/bin/env bash
# Installs the Debian packages Ward builds and tests with. Idempotent: asks apt only for what is missing.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.74-dev libboost-program-options1.74-dev
  libssl-dev libsqlite3-dev libargon2-dev libzstd-dev zlib1g-dev
  libsimdjson-dev rapidjson-dev libre2-dev libyaml-cpp-dev libhyperscan-dev
  libcli11-dev libfmt-dev
  libnftables-dev libyara-dev libarchive-dev nftables iproute2 util-linux
  librdkafka-dev kcat
  libpqxx-dev postgresql
  clickhouse-server clickhouse-client
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-16 libclang-rt-16-dev
  python3 python3-pytest python3-requests python3-msal python3-cryptography python3-azure zstd
  wrk openssl curl
  chromium nodejs
)
# npm packages pinned by a package-lock.json, installed once (again when the lock file changes):
#   tools/azurite: the Azure Storage emulator the streaming tests deliver to;
#   web: the portal (Vite, Preact, AG Grid, Chart.js, CodeMirror) and playwright-core, which drives
#   Debian's Chromium in the browser tests (it downloads no browser).
npm_ci() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/$1"
  [ -f "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] && return 0
  command -v npm >/dev/null || { echo "install-deps: npm is missing (Node.js is needed for $1)" >&2; return 1; }
  echo "install-deps: installing $1's npm packages" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm_ci tools/azurite
npm_ci web
