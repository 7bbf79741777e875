#!/usr/bin/env bash
# Installs the Debian packages mapprof builds, tests and benchmarks with.
# Idempotent and silent when everything is present; runs `apt-get update` once, only when
# something is missing. The one list of dependencies: the Makefile and .ci/run call this.
# With the argument fuzz, also what make fuzz needs (clang and its libFuzzer runtime).
set -eu

PKGS=(
  build-essential pkg-config
  libunwind-dev libdw-dev libelf-dev
  libprotobuf-c-dev protobuf-c-compiler zlib1g-dev
  libglib2.0-dev
  golang-go google-perftools heaptrack libjemalloc-dev
  valgrind time python3
)
if [ "${1:-}" = fuzz ]; then PKGS+=(clang libclang-rt-dev); fi

missing=()
for p in "${PKGS[@]}"; do
  # dpkg-query answers "install ok installed" only for fully installed packages.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
