#!/bin/bash
# Prepares a Debian 12 machine for libvirt-vmi and builds it: installs the
# missing Debian packages (idempotent, no recommends: libvirt-daemon-system
# would pull systemd and polkit in) and builds into build/.
# Run as root. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
    # build
    gcc libc6-dev pkg-config meson ninja-build
    libglib2.0-dev libxml2-dev libyajl-dev libvirt-dev libvirt-glib-1.0-dev
    # docs and schema tools
    python3 python3-docutils libxml2-utils
    # the real thing the tests and the demo run
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
    # checks
    valgrind
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup-host: missing packages ${missing[*]}: run as root to install them" >&2
        exit 1
    fi
    echo "setup-host: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
fi

if [ ! -f build/build.ninja ]; then
    meson setup build
fi
ninja -C build
