#!/usr/bin/env bash
# The one dependency script: installs the Debian packages spin needs when any
# is missing.  Idempotent and quiet when everything is there.  make, make demo,
# make check and make bench call it first.
set -euo pipefail

PKGS=(
  # build
  gcc make meson ninja-build pkg-config
  # fuzzing and the sanitizer pass (libFuzzer ships in libclang-rt)
  clang llvm libclang-rt-14-dev
  # libraries
  libpcap-dev libcmocka-dev libsodium-dev
  # wire tests, peers and lab
  python3 python3-scapy python3-pytest iproute2 ethtool tcpdump socat
  iputils-ping procps graphviz dpdk dpdk-dev curl tcpreplay iperf3
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
