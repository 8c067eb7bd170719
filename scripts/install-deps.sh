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
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-16 libclang-rt-16-dev
  python3 python3-pytest python3-requests python3-msal python3-cryptography zstd
  wrk openssl curl
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
