#!/bin/bash
# Prepares a Debian 12 machine for libvirt-vmi and builds it: installs the
# missing Debian packages (idempotent, no recommends: libvirt-daemon-system
# would pull systemd and polkit in), creates the QEMU user, libvirt's
# directories and the /dev/kvm access libvirtd needs, and builds into build/.
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
    # qemu-img: the qcow2 disk of the snapshot tests
    qemu-utils
    # checks, benchmarks, and the QMP client of docs/qemu-kvmi.rst's example
    valgrind python3-libvirt socat python3-pyflakes
    # ss: a test looks at a socket's queue
    iproute2
    # apparmor_parser, for tests/apparmortest.c
    apparmor
    # the fuzzing build (tests/fuzz): clang and its libFuzzer runtime
    clang libclang-rt-14-dev
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

# What libvirt-daemon-system would have created (without its systemd and
# polkit): the QEMU user and its groups, libvirt's directories, and a
# /dev/kvm that the QEMU user can open. The tests start their own libvirtd
# in private mount namespaces (tests/lib/vmilibvirt.py): nothing here
# touches the host's libvirt configuration.
need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "setup-host: $1: run as root" >&2
        exit 1
    fi
}
for group in kvm libvirt-qemu; do
    if ! getent group "$group" >/dev/null; then
        need_root "missing group $group"
        groupadd -r "$group"
    fi
done
if ! getent passwd libvirt-qemu >/dev/null; then
    need_root "missing user libvirt-qemu"
    useradd -r -g kvm -G libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin \
        -c "Libvirt Qemu" libvirt-qemu
elif ! id -nG libvirt-qemu | tr ' ' '\n' | grep -qx libvirt-qemu; then
    need_root "user libvirt-qemu is not in group libvirt-qemu"
    usermod -a -G libvirt-qemu libvirt-qemu
fi
for dir in /var/log/libvirt:0700 /var/lib/libvirt:0755 /var/cache/libvirt:0711; do
    if [ ! -d "${dir%:*}" ]; then
        need_root "missing directory ${dir%:*}"
        install -d -m "${dir#*:}" "${dir%:*}"
    fi
done
# Machines reset /dev/kvm to 0600 root: redo it every run.
if [ -c /dev/kvm ] && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
    need_root "/dev/kvm is not usable by group kvm"
    chgrp kvm /dev/kvm
    chmod 0660 /dev/kvm
fi

# Debian's libvirt AppArmor profiles, for tests/apparmortest.c to compile
# the hook's rules with: unpacked from libvirt-daemon-system, not installed
# (with --no-install-recommends it still pulls systemd-sysv, iptables and
# a libvirtd service). A host that has the package uses its own files.
AA_CACHE=/var/cache/libvirt-vmi-tests/libvirt-daemon-system
if [ ! -f /etc/apparmor.d/abstractions/libvirt-qemu ] &&
   [ ! -f "$AA_CACHE/etc/apparmor.d/abstractions/libvirt-qemu" ]; then
    need_root "missing $AA_CACHE"
    tmp=$(mktemp -d)
    download="apt-get download -q -o APT::Sandbox::User=root libvirt-daemon-system"
    (cd "$tmp" && $download) || { apt-get update -q && (cd "$tmp" && $download); }
    dpkg-deb -x "$tmp"/libvirt-daemon-system_*.deb "$tmp/x"
    mkdir -p "$AA_CACHE/etc"
    cp -r "$tmp/x/etc/apparmor.d" "$AA_CACHE/etc/"
    rm -rf "$tmp"
fi

if [ ! -f build/build.ninja ]; then
    meson setup build
fi
ninja -C build
