#!/bin/sh
# Set up everything pyunik needs on a Debian machine, as root: Debian
# packages (QEMU, the C toolchain, Xen's public headers, libvirt, gdb), a Python virtual
# environment in .venv with pyunik and its test tools, and the pinned
# upstream sources in deps/. Safe to run again: it only does what is missing.
set -eu
cd "$(dirname "$0")"

APT_PACKAGES="qemu-system-x86 qemu-user gcc make binutils patch libxen-dev python3 python3-venv \
dpkg-dev xz-utils git ca-certificates busybox-static iproute2 iputils-ping wrk \
libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libxml2-utils libvirt-dev pkgconf python3-dev \
gdb mtools dnsmasq-base"

missing=""
for pkg in $APT_PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ]; then
    echo "bootstrap: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.pyunik-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: installing pyunik and its tools into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test,bench,rigs]'
    touch "$stamp"
fi

.venv/bin/invoke deps
