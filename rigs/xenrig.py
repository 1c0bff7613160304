"""A real Xen 4.17 under QEMU TCG: the rig the Xen tests and ``invoke run --on xen`` use.

Why this exists: a pyunik image is a Xen PVH guest, and only the real
hypervisor and toolstack prove it (a Xen emulation is not possible on these
machines). No hardware virtualisation is needed: Debian's Xen boots under
QEMU TCG on a q35 machine with an emulated SVM+NPT CPU, with Debian's own
kernel as a PV dom0 running the real ``xl`` toolstack. Everything is fetched
with apt from Debian bookworm (nothing fetched is committed) and assembled
once under ``build/xen-rig/`` (git-ignored).

What runs::

    QEMU q35 (TCG, -cpu qemu64,+svm,+npt,+rdrand, 1 CPU, 1 GiB)
      COM1  Xen's console = dom0's hvc0 = a shell the rig drives (a socket)
      COM2  dom0's ttyS1  = the domU console (a pty: ``XenRig.serial_path``)
      virtio-9p  the rig's share dir, read-only, at /mnt/share in dom0: the
            images and xl configs of the domUs, copied in by ``create()``
    Xen 4.17 (Debian's xen-hypervisor-4.17-amd64, gunzipped)
      dom0: Debian's linux-image-*-amd64 as ELF vmlinux (PV, 256 MiB), an
            initramfs of busybox-static + xl, xenstored, xenconsoled,
            xen-init-dom0 and the libraries they load + the xen, virtio and
            9p modules; no udev, no hotplug scripts, no network
      domU: ``xl create`` of a ``type = "pvh"`` config, its console pty (from
            xenconsoled) bridged onto ttyS1, raw, both ways

Why two serial lines: Xen prints its own messages on its console (COM1), and
its console input passes through a 128-byte ring and the Ctrl-A switch; the
domU line (COM2) carries nothing but the domU's bytes, so tests read exactly
what the guest wrote and every byte (Ctrl-A..E for the raw REPL, Ctrl-C,
Ctrl-], NUL...) reaches the guest unchanged. The control line is a socket, so
the rig runs ``xl`` while a domU is attached.

Cost (measured on the 2-core bookworm machine, TCG; the machine was shared,
and under load every figure grows - up to 2x at a load average of 5):

- first ``ensure_built()``: 9.5 s (apt-get download of ~80 MB 2.4 s, the
  kernel package streamed once for the bzImage and 15 modules 6 s, the rest
  1 s); after an edit of this file it reassembles from the cached packages
  (4-10 s, no download). Cached: 0.1-0.2 ms (the manifest, this file's hash,
  three stats; no apt, no subprocess). On disk: 150 MB (80 MB of .deb).
- ``boot()``, QEMU start to a dom0 that takes commands: 7-8.5 s at a load of
  2 (Xen 1.3-2.5 s, dom0 kernel + init 5.5-6.5 s); 10-12 s at a load of 3.
- ``create()`` to the domU's first console line: 1.0-1.3 s (xl create -p
  0.6 s, the console bridge 0.3 s, xl unpause 0.2 s); shutdown seen and the
  domain destroyed: 0.5-0.9 s more. Each further domU costs the same: one
  dom0 boot serves a whole test session.

The numbers of the last run are in ``XenRig.timings`` and in
``build/xen-rig/manifest.json`` (build costs); the tests/xen session prints
its own at the end.

Typical use::

    rig = XenRig()
    rig.ensure_built()
    rig.boot()
    dom = rig.create(Path("build/xen-pvh/pyunik.elf"), "pyunik", memory_mb=32)
    # ... talk to the domU on rig.serial (pyserial) or rig.serial_path (pty)
    reason = dom.wait_shutdown(30)      # "poweroff", "crash", "reboot", ...
    rig.close()
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import tarfile
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from pyunik import sizes
from pyunik.board import ROOT
from pyunik.vm import HEADLESS, QEMU, QemuCommand, Running, VmError, require_qemu, start_with_pty
from rigs import cpio as cpio_module
from rigs import debian
from rigs.cpio import Cpio

if TYPE_CHECKING:
    import serial

XEN_VERSION = "4.17"
DEFAULT_CACHE = ROOT / "build" / "xen-rig"

#: The metapackage whose dependency names bookworm's current kernel.
KERNEL_METAPACKAGE = "linux-image-amd64"
#: Debian packages whose files make up Xen and the dom0 userland. There is no
#: package manager in the initramfs, so the libraries are named here and
#: :func:`_library_closure` proves that every DT_NEEDED is met.
PACKAGES = (
    f"xen-hypervisor-{XEN_VERSION}-amd64",
    f"xen-utils-{XEN_VERSION}",
    "xenstore-utils",
    f"libxenmisc{XEN_VERSION}",
    "libxencall1",
    "libxenevtchn1",
    "libxenforeignmemory1",
    "libxengnttab1",
    "libxenstore4",
    "libxentoollog1",
    "libxendevicemodel1",
    "libxenhypfs1",
    "libxentoolcore1",
    "libyajl2",
    "liblzma5",
    "libuuid1",
    "libzstd1",
    "zlib1g",
    "libc6",
    # glibc dlopen()s libgcc_s.so.1 (pthread_cancel, unwinding): ldd does not
    # show it, and xl dies without it.
    "libgcc-s1",
    "busybox-static",
)
XEN_BIN = f"usr/lib/xen-{XEN_VERSION}/bin"
#: The toolstack programs the dom0 runs; their library closure is checked.
PROGRAMS = (
    f"{XEN_BIN}/xl",
    f"{XEN_BIN}/xenstored",
    f"{XEN_BIN}/xenconsoled",
    f"{XEN_BIN}/xenconsole",
    f"{XEN_BIN}/xen-init-dom0",
    f"{XEN_BIN}/libxl-save-helper",
    "usr/bin/xenstore",
)
#: Kernel modules the dom0 loads (with whatever they depend on): the Xen
#: device files xl needs, virtio + 9p for the share that brings images in,
#: netback + a bridge for domUs' vifs, blkback + loop for their vbds.
MODULES = (
    "xenfs",
    "xen-evtchn",
    "xen-gntdev",
    "xen-gntalloc",
    "xen-privcmd",
    "virtio_pci",
    "9pnet_virtio",
    "9p",
    "xen-netback",
    "bridge",
    "xen-blkback",
    "loop",
)
#: The rig's own network, inside its QEMU only: dom0 on a bridge, each
#: domU's vif plugged into it by VIF_SCRIPT. No traffic leaves the rig.
RIG_BRIDGE = "xenbr0"
DOM0_ADDRESS = "10.0.3.1"
RIG_PREFIX = 24

SHARE_TAG = "pyunik"
#: The writable share for domUs' disk images (``XenRig.disks``), at
#: /mnt/disks in dom0: each image is a loop device there (BLOCK_SCRIPT) that
#: blkback serves, and the host reads the same file after the domU is gone.
DISKS_TAG = "pyunik-disks"
READY = b"PYUNIK-DOM0-READY"
#: Xen's console switch key is Ctrl-<conswitch>; "`" makes it code 0, which
#: Xen 4.17 treats as "no switch key" (its boot log then shows no "type
#: CTRL-x three times" hint): nothing typed on COM1 is swallowed.
XEN_CMDLINE = (
    "console=com1 com1=115200,8n1 conswitch=` bootscrub=0 dom0_mem=256M,max:256M dom0_max_vcpus=1 dom0_vcpus_pin"
)
DOM0_CMDLINE = "console=hvc0 rdinit=/init quiet loglevel=3"
#: Shutdown reasons ``invoke run --on xen`` turns into exit status 0.
CLEAN_ENDS = ("poweroff", "reboot", "gone")
#: xl's shutdown reason codes (libxl_shutdown_reason).
SHUTDOWN_REASONS = {0: "poweroff", 1: "reboot", 2: "suspend", 3: "crash", 4: "watchdog", 5: "soft_reset"}

# The dom0's /init. It runs as PID 1 with stdout on hvc0 (COM1), brings up the
# Xen toolstack daemons, then reads commands from hvc0 with echo off: the rig
# writes a line, the shell runs it, markers delimit the output.
INIT = r"""#!/bin/busybox sh
# The dom0 of pyunik's Xen rig (written by rigs/xenrig.py).
/bin/busybox mkdir -p /proc /sys /dev /run /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/lib/xen-@XEN@/bin HOME=/root
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /run/lock /var/lib/xen /var/lib/xenstored /var/log/xen/console /mnt/share
ln -sf /proc/self/fd /dev/fd
dmesg -n 1
while read -r m; do
    insmod "/lib/modules/pyunik/$m.ko" || echo "pyunik-rig: insmod $m failed"
done </etc/pyunik/modules
mount -t xenfs xenfs /proc/xen
xenstored --pid-file=/run/xenstored.pid
xen-init-dom0 >/run/xen-init-dom0.log 2>&1 || echo "pyunik-rig: xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,ro @TAG@ /mnt/share || echo "pyunik-rig: no 9p share"
mkdir -p /mnt/disks
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none @DISKS@ /mnt/disks || echo "pyunik-rig: no disk share"
stty -F /dev/ttyS1 raw -echo -iexten 115200 || echo "pyunik-rig: no ttyS1"
# Keep ttyS1 open for good: when its last opener closes, the UART is shut
# down and what arrives before the next open is lost (between two bridges).
sleep 2147483647 </dev/ttyS1 >/dev/null 2>&1 &
# The rig's bridge for domUs' vifs (see VIF_SCRIPT); dom0 is @DOM0@ on it.
ip link add name @BRIDGE@ type bridge && ip addr add @DOM0@/@PREFIX@ dev @BRIDGE@ && ip link set @BRIDGE@ up \
    || echo "pyunik-rig: no bridge"
ip link set lo up
stty -echo -onlcr
echo @READY@
while :; do sh /dev/hvc0; done
"""

# Run in dom0 as `pyunik-wait NAME SECONDS`: blocks until the domain has shut
# down or crashed (each check is one `xl list -v`; in between it sleeps on a
# xenstore watch that Xen's @releaseDomain fires when any domain changes
# state, so the dom0 does not spin while the domU runs) and prints
# "STATE REASON", or "timeout" / "gone".
WAIT = r"""#!/bin/sh
name=$1
end=$(( $(date +%s) + $2 ))
while :; do
    line=$(xl list -v "$name" 2>/dev/null | tail -n +2)
    [ -n "$line" ] || { echo gone; exit 0; }
    set -- $line
    # Name ID Mem VCPUs State Time(s) UUID Reason-Code ...
    case "$5" in
        *s*|*c*) echo "$5 $8"; exit 0 ;;
    esac
    now=$(date +%s)
    [ "$now" -lt "$end" ] || { echo timeout; exit 0; }
    # At most 2 s per watch: a shutdown between the check and the watch
    # being set would otherwise not be seen until the deadline.
    secs=$(( end - now )); [ "$secs" -le 2 ] || secs=2
    timeout "$secs" xenstore-watch -n 2 @releaseDomain >/dev/null 2>&1
done
"""


# The start of pyunik-attach and pyunik-quiet (below): end the console
# bridge of the domain attached before, whose two cats' pids are the
# script's remaining arguments, and wait until they are gone.
END_BRIDGE = r"""for pid in "$@"; do kill "$pid" 2>/dev/null; done
for pid in "$@"; do  # a zombie still answers kill -0: look for its fds
    i=0
    while [ -e "/proc/$pid/fd/0" ] && [ $i -lt 100 ]; do sleep 0.01; i=$((i + 1)); done
done"""


# Run in dom0 as `pyunik-attach NAME [OLDPIDS...]`: ends the bridge of the
# domain attached before, waits for xenconsoled to give NAME's console a pty,
# and bridges that pty and ttyS1 with two cats, raw both ways. Not `xl
# console`: its client (xenconsole) quits when it reads a lone Ctrl-] (0x1d),
# hard-coded in Xen 4.17, and that byte must reach the guest like any other.
ATTACH = r"""#!/bin/sh
name=$1
shift
@END_BRIDGE@
id=$(xl domid "$name") || exit 1
i=0
while :; do
    tty=$(xenstore-read "/local/domain/$id/console/tty" 2>/dev/null)
    [ -n "$tty" ] && [ -e "$tty" ] && break
    [ $i -lt 500 ] || { echo "xenconsoled gave $name no console pty"; exit 1; }
    sleep 0.01
    i=$((i + 1))
done
stty -F "$tty" raw -echo -iexten
cat "$tty" >/dev/ttyS1 &
out=$!
cat /dev/ttyS1 >"$tty" &
echo "console-pids $out $! $tty"
""".replace("@END_BRIDGE@", END_BRIDGE)


# Run in dom0 as `pyunik-quiet SECONDS [OLDPIDS...]`: ends the console bridge
# of the domain attached before (ATTACH's two cats), then waits until dom0
# holds nothing of any domU - no domain but Domain-0 in `xl list` (one whose
# pages Xen still frees shows as "(null)"), no backend device in xenstore, no
# vif interface, no loop device, no hotplug script running - and forgets the
# bridge's neighbour entries (an address cached from an earlier domain would
# spare the next one the ARP exchange it needs). A benchmark calls it before
# each run's clock starts, so that no run pays for its predecessor's
# teardown. Prints "quiet", or "busy: WHAT" after SECONDS.
QUIET = r"""#!/bin/sh
end=$(( $(date +%s) + $1 ))
shift
@END_BRIDGE@
while :; do
    busy=""
    [ -z "$(xl list | tail -n +3)" ] || busy="$busy domains"
    ! xenstore-ls /local/domain/0/backend 2>/dev/null | grep -q '^ ' || busy="$busy backends"
    set -- /sys/class/net/vif*; [ ! -e "$1" ] || busy="$busy vifs"
    set -- /sys/block/loop*/loop/backing_file; [ ! -e "$1" ] || busy="$busy loop-devices"
    ! ps | grep -v grep | grep -q /etc/pyunik/ || busy="$busy hotplug"
    [ -n "$busy" ] || break
    [ "$(date +%s)" -lt "$end" ] || { echo "busy:$busy"; exit 1; }
    sleep 0.05
done
ip neigh flush dev @BRIDGE@ 2>/dev/null
echo quiet
""".replace("@END_BRIDGE@", END_BRIDGE)


# libxl's hotplug script for a vif (vif = ['script=/etc/pyunik/vif-bridge']):
# Debian's vif-bridge wants bash and coreutils; this one needs only busybox.
# libxl passes the action as $1 and the vif name and xenstore path in the
# environment, and waits for hotplug-status "connected".
VIF_SCRIPT = r"""#!/bin/sh
case "$1" in
    online|add)
        ip link set dev "$vif" master @BRIDGE@ && ip link set dev "$vif" up \
            && xenstore-write "$XENBUS_PATH/hotplug-status" connected ;;
    offline|remove)
        xenstore-rm "$XENBUS_PATH/hotplug-status" 2>/dev/null; true ;;
esac
"""


# libxl's hotplug script for a vbd (disk = ['..., backendtype=phy,
# script=/etc/pyunik/block, target=FILE']): the image becomes a loop device
# and blkback is told its major:minor. Debian's block script wants bash and
# udev; this one needs only busybox. libxl passes the action as $1 and the
# backend's xenstore path in XENBUS_PATH, and waits for hotplug-status.
BLOCK_SCRIPT = r"""#!/bin/sh
fail() {
    xenstore-write "$XENBUS_PATH/hotplug-error" "$1" "$XENBUS_PATH/hotplug-status" error
    exit 1
}
case "$1" in
    add)
        target=$(xenstore-read "$XENBUS_PATH/params") || fail "no params"
        if [ -b "$target" ]; then
            dev=$target
        else
            # `losetup -f FILE` takes the first free device that it can get:
            # two disks' scripts run at once, and a name from `losetup -f`
            # alone may be taken by the other before it is used.
            i=0
            until losetup -f "$target"; do
                i=$((i + 1)); [ $i -lt 20 ] || fail "losetup $target failed"; sleep 0.1
            done
            dev=$(losetup -a | grep " $target\$" | head -n 1 | cut -d: -f1)
            [ -b "$dev" ] || fail "no loop device for $target"
        fi
        mm=$(stat -L -c '%t:%T' "$dev") || fail "stat $dev failed"
        xenstore-write "$XENBUS_PATH/physical-device" "$mm" "$XENBUS_PATH/physical-device-path" "$dev" \
            "$XENBUS_PATH/hotplug-status" connected ;;
    remove)
        dev=$(xenstore-read "$XENBUS_PATH/physical-device-path" 2>/dev/null)
        case "$dev" in /dev/loop*) losetup -d "$dev" ;; esac
        xenstore-rm "$XENBUS_PATH/hotplug-status" 2>/dev/null; true ;;
esac
"""


class XenRigError(VmError):
    """The rig could not be built, booted or driven; the message says why
    (with the tail of the dom0 console when that helps)."""


# ---- building --------------------------------------------------------------


def _recipe_hash() -> str:
    """What the assembled files depend on besides the .deb files: this
    module's source (the init, the module and package lists, the assembly
    code) and the shared helpers it assembles with (the cpio writer, the
    library closure). Editing one reassembles from the cached packages
    (seconds, no download)."""
    digest = hashlib.sha256()
    for module in (Path(__file__), Path(cpio_module.__file__), Path(debian.__file__)):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:16]


def _apt_download(packages: Iterable[str], dest: Path) -> None:
    try:
        debian.download(packages, dest)
    except debian.DebianError as exc:
        raise XenRigError(str(exc)) from None


def _kernel_package() -> str:
    try:
        return debian.kernel_package(KERNEL_METAPACKAGE)
    except debian.DebianError as exc:
        raise XenRigError(str(exc)) from None


def _elf_section(data: bytes, name: str) -> bytes:
    """One section of an ELF file by name (pyelftools); empty when it has none."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        section = ELFFile(io.BytesIO(data)).get_section_by_name(name)
    except ELFError as exc:
        raise XenRigError(f"not an ELF file: {exc}") from None
    return b"" if section is None else section.data()


def _modinfo(data: bytes) -> dict[str, str]:
    """A kernel module's .modinfo (name, depends, ...): what depmod reads."""
    info: dict[str, str] = {}
    for entry in _elf_section(data, ".modinfo").split(b"\0"):
        key, sep, value = entry.decode(errors="replace").partition("=")
        if sep and key not in info:
            info[key] = value
    return info


def _module_name(path: str) -> str:
    return Path(path).name.removesuffix(".ko").replace("-", "_")


def _load_order(wanted: Iterable[str], depends: dict[str, list[str]]) -> list[str]:
    """Modules in an order insmod accepts: every dependency first."""
    order: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in trail:
            raise XenRigError(f"module dependency cycle: {' -> '.join((*trail, name))}")
        if name not in depends:
            raise XenRigError(f"kernel module {name} is not in the kernel package (built in? renamed?)")
        for dep in depends[name]:
            visit(dep, (*trail, name))
        order.append(name)

    for name in wanted:
        visit(name.replace("-", "_"), ())
    return order


def _vmlinux_from_bzimage(bzimage: bytes) -> bytes:
    """The ELF vmlinux inside a bzImage (xz or gzip payload).

    Xen boots the ELF directly; handing it the bzImage makes Xen unpack the
    xz payload itself, which costs ~2 s of emulated CPU on every boot.
    """
    setup_sects = bzimage[0x1F1] or 4
    payload_offset = struct.unpack_from("<I", bzimage, 0x248)[0]
    payload = bzimage[(setup_sects + 1) * 512 + payload_offset :]
    if payload.startswith(b"\xfd7zXZ\0"):
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        elf = gzip.GzipFile(fileobj=__import__("io").BytesIO(payload)).read()
    else:
        raise XenRigError(f"unknown bzImage payload compression {payload[:6].hex()}")
    if not elf.startswith(b"\x7fELF"):
        raise XenRigError("the bzImage payload is not an ELF vmlinux")
    return elf


@dataclass
class _KernelFiles:
    release: str
    vmlinux: bytes
    modules: dict[str, bytes]  # name -> .ko, in load order


def _read_kernel_deb(deb: Path) -> _KernelFiles:
    """Stream the kernel package's files once: the bzImage and the modules
    the dom0 needs (with their dependencies, resolved from each module's
    .modinfo as depmod would - so neither depmod nor 400 MB on disk is
    needed). A dependency outside the directories kept on the first pass is
    picked up by a second pass."""
    keep_dirs = ("/kernel/drivers/xen/", "/kernel/fs/", "/kernel/net/9p/", "/kernel/drivers/virtio/", "/kernel/lib/")

    def stream(keep: Any) -> tuple[bytes, str, dict[str, list[str]], dict[str, bytes]]:
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        bzimage, release = b"", ""
        depends: dict[str, list[str]] = {}
        kept: dict[str, bytes] = {}
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                path = member.name
                if re.fullmatch(r"\./boot/vmlinuz-.*", path):
                    release = path.split("vmlinuz-", 1)[1]
                    bzimage = tar.extractfile(member).read()  # type: ignore[union-attr]
                elif path.endswith(".ko"):
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    name = _module_name(path)
                    info = _modinfo(data)
                    depends[name] = [d.replace("-", "_") for d in info.get("depends", "").split(",") if d]
                    if keep(path, name):
                        kept[name] = data
        if proc.wait():
            raise XenRigError(f"dpkg-deb --fsys-tarfile {deb.name} failed")
        return bzimage, release, depends, kept

    bzimage, release, depends, kept = stream(lambda path, _name: any(d in path for d in keep_dirs))
    if not bzimage:
        raise XenRigError(f"{deb.name} has no boot/vmlinuz-*")
    order = _load_order(MODULES, depends)
    missing = [name for name in order if name not in kept]
    if missing:
        _, _, _, more = stream(lambda _path, name: name in missing)
        kept.update(more)
    return _KernelFiles(release, _vmlinux_from_bzimage(bzimage), {name: kept[name] for name in order})


def _library_closure(root: Path, programs: Iterable[str], libdirs: Iterable[str]) -> dict[str, Path]:
    """The shared libraries ``programs`` load (rigs.debian.library_closure):
    only these go into the initramfs (glibc alone brings dozens more). glibc
    dlopen()s libgcc_s.so.1 (pthread_cancel, unwinding): no DT_NEEDED names
    it, and xl dies without it."""
    try:
        return debian.library_closure(root, programs, libdirs, dlopened=("libgcc_s.so.1",))
    except debian.DebianError as exc:
        raise XenRigError(f"dom0 {exc}; add their packages to PACKAGES") from None


@dataclass(frozen=True)
class RigFiles:
    """What ``ensure_built`` produces: QEMU's -kernel, and the two multiboot
    modules Xen gets (dom0's kernel and its initramfs)."""

    xen: Path
    vmlinux: Path
    initrd: Path


# ---- running ---------------------------------------------------------------


class _ControlLine:
    """dom0's shell on COM1 (Xen's console, dom0's hvc0), through a socket.

    A reader thread keeps draining it into ``log`` - Xen and the dom0 kernel
    may print at any time, and an unread serial line would stall Xen.
    Commands are delimited by markers that the tty never echoes (echo is off
    in dom0), and Xen's own "(XEN) ..." lines are dropped from the output.
    """

    #: The longest line typed on Xen's console (its input ring holds 128 bytes).
    TYPED_MAX = 100

    def __init__(self, sock: socket.socket, log: Path, started: float, share: Path) -> None:
        self._sock = sock
        self._share = share
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._closed = False
        self._lock = threading.Lock()
        self._seq = 0
        self.log = log
        self._log = log.open("wb")
        self._started = started
        self._at_line_start = True
        self._thread = threading.Thread(target=self._reader, name="xen-rig-dom0", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._closed = True
                    self._cond.notify_all()
                    return
                self._write_log(data)
                self._buf += data
                if len(self._buf) > 1 << 20:
                    del self._buf[: -(1 << 16)]
                self._cond.notify_all()

    def _write_log(self, data: bytes) -> None:
        """The log gets each line stamped with seconds since QEMU started:
        where a slow boot spends its time is then plain to see."""
        for piece in data.splitlines(keepends=True):
            if self._at_line_start:
                self._log.write(b"[%8.3f] " % (time.monotonic() - self._started))
            self._log.write(piece)
            self._at_line_start = piece.endswith(b"\n")
        self._log.flush()

    def _note(self, text: str) -> None:
        """A host-side line in the log (not sent to dom0): which command a
        marker belongs to, so that a command that hung can be named."""
        with self._cond:
            if not self._at_line_start:
                self._log.write(b"\n")
            self._log.write(b"[%8.3f] host: %s\n" % (time.monotonic() - self._started, text.encode(errors="replace")))
            self._at_line_start = True
            self._log.flush()

    def expect(self, pattern: re.Pattern[bytes], timeout: float) -> re.Match[bytes]:
        """Wait for ``pattern``; consumes the buffer up to the match."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = pattern.search(bytes(self._buf))  # a copy: the match outlives the del
                if found:
                    del self._buf[: found.end()]
                    return found
                if self._closed:
                    raise XenRigError(f"the Xen console closed (QEMU exited?)\n{self.tail()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise XenRigError(f"timed out after {timeout:.0f} s waiting for {pattern.pattern!r}\n{self.tail()}")
                self._cond.wait(min(remaining, 0.5))

    def run(self, command: str, timeout: float) -> tuple[int, str]:
        """Run a shell command in dom0; (exit status, output).

        Xen hands serial input to dom0 through a 128-byte ring and drops
        what does not fit (a 1500-byte line lost 14 bytes in a test), so a
        line longer than ``TYPED_MAX`` is not typed: it goes into a script
        in the 9p share and dom0 is told to source that.
        """
        with self._lock:
            self._seq += 1
            n = self._seq
            wrapped = f"echo @@B{n}@@; ( {command}\n) </dev/null 2>&1; echo @@E{n} $?@@\n"
            script = self._share / f".cmd-{n}"
            if len(wrapped) > self.TYPED_MAX or "\n" in command:
                script.write_text(wrapped)
                wrapped = f". /mnt/share/{script.name}\n"
            self._note(f"$ {command[:200]}" + (" ..." if len(command) > 200 else ""))
            self._sock.sendall(wrapped.encode())
            try:
                found = self.expect(re.compile(rb"@@B%d@@\r*\n(.*?)@@E%d (\d+)@@" % (n, n), re.S), timeout)
            finally:
                script.unlink(missing_ok=True)
        lines = found.group(1).decode(errors="replace").replace("\r", "").splitlines()
        return int(found.group(2)), "\n".join(line for line in lines if not line.startswith("(XEN)"))

    def tail(self, lines: int = 30) -> str:
        """The last lines of the console log, for error messages."""
        try:
            text = self.log.read_bytes()[-8192:].decode(errors="replace").replace("\r", "")
        except OSError:
            return ""
        return "--- dom0 console (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(timeout=2)
        self._log.close()


@dataclass
class Domain:
    """A domU created by :meth:`XenRig.create`.

    Its config preserves the domain on poweroff, reboot and crash, so that
    xl still lists it with its shutdown reason; :meth:`wait_shutdown` reads
    the reason and then destroys it.
    """

    rig: XenRig
    name: str
    #: dom0's pids of the two cats bridging this domain's console pty and ttyS1.
    console_pids: tuple[int, ...] = ()
    created_at: float = field(default_factory=time.monotonic)
    #: The host's time.monotonic() when :meth:`XenRig.create` called ``xl
    #: create`` (after copying the image and writing the config): where a
    #: "create -> ..." clock starts.
    create_called_at: float = 0.0
    _domid: int = field(default=-1, repr=False)

    @property
    def domid(self) -> int:
        """Xen's domain id (asked of xl once)."""
        if self._domid < 0:
            self._domid = int(self.rig.xl("domid", self.name).strip())
        return self._domid

    @property
    def attached(self) -> bool:
        """True while this domain's console is the one on ``rig.serial_path``."""
        return bool(self.console_pids) and self.rig._attached is self

    def attach(self) -> None:
        """Bridge this domain's console onto the rig's serial line (the
        domain attached before is detached; it keeps running)."""
        self.rig._attach(self)

    def state(self) -> str:
        """xl's state flags (r b p s c d), or "" when the domain is gone."""
        status, out = self.rig.sh(f"xl list {self.name} 2>/dev/null | tail -n +2")
        fields = out.split()
        return fields[4] if status == 0 and len(fields) > 4 else ""

    def cpu_seconds(self) -> float:
        """CPU time the domain has used so far (xl list's Time(s) column,
        0.1 s resolution)."""
        out = self.rig.xl("list", self.name)
        fields = out.strip().splitlines()[-1].split()
        return float(fields[5])

    def wait_shutdown(self, timeout: float = 60.0, destroy: bool = True) -> str:
        """Block until the domain has shut down and return xl's reason:
        "poweroff", "crash", "reboot", "suspend", "watchdog", "soft_reset"
        (or "gone" when it was destroyed meanwhile). TimeoutError if it
        still runs after ``timeout`` seconds. With ``destroy`` the preserved
        domain is destroyed afterwards.

        Note that Xen reports a triple fault of a PVH guest as "reboot".
        """
        status, out = self.rig.sh(f"pyunik-wait {self.name} {max(1, round(timeout))}", timeout=timeout + 30)
        words = out.split()
        if status or not words:
            raise XenRigError(f"pyunik-wait {self.name} failed: {out}")
        if words[0] == "timeout":
            raise TimeoutError(f"domain {self.name} still running after {timeout} s (state {self.state()})")
        if words[0] == "gone":
            return "gone"
        flags, code = words[0], words[1] if len(words) > 1 else "-"
        reason = SHUTDOWN_REASONS.get(int(code), code) if code.isdigit() else ("crash" if "c" in flags else code)
        if destroy:
            self.destroy()
        return reason

    def console_log(self) -> str:
        """All the domU wrote on its console (xenconsoled's guest log; it
        lags the serial line by xenconsoled's buffering)."""
        return self.rig.sh(f"cat /var/log/xen/console/guest-{self.name}.log")[1]

    def diagnosis(self) -> str:
        """What to show when the domain does not answer: its console log
        (xenconsoled's, independent of the serial bridge), xl's list, dom0's
        loop devices, the states of its front ends and their backends, the
        console bridge's processes, and the tail of dom0's kernel log."""
        _, state = self.rig.sh(
            f"xl list; losetup -a; "
            f"xenstore-ls -f /local/domain/0/backend 2>&1 | grep -E '/state|/params|hotplug-status'; "
            f"xenstore-ls -f /local/domain/$(xl domid {self.name})/device 2>&1 | grep /state; "
            f"xenstore-read /local/domain/$(xl domid {self.name})/console/tty; "
            f"ps -o pid,args | grep -E 'cat|xenconsoled' | grep -v grep; dmesg | tail -n 15"
        )
        return (
            f"--- {self.name}'s console log ---\n{self.console_log()}\n"
            f"--- xl, loop devices, xenstore states, console bridge (pids {self.console_pids}), dmesg ---\n{state}"
        )

    def destroy(self) -> None:
        """``xl destroy`` (no error if it is already gone). The output half
        of its console bridge ends with the pty; the input half is ended by
        the next attach."""
        self.rig.sh(f"xl destroy {self.name} 2>/dev/null; true")
        if self.rig._attached is self:
            self.rig._attached = None


class XenRig:
    """Xen 4.17 under QEMU TCG with a Debian dom0; see the module docstring.

    ``serial_path`` is the domU console's pty (pytest-embedded's ``port``,
    mpremote, pyserial); ``serial`` is a pyserial port on it, opened on first
    use. Do not read the console through both at once.

    Files: ``cache_dir`` holds the fetched packages (debs/), the assembled
    files and manifest.json; ``run_dir`` (cache_dir/runs/PID-N/) this boot's
    share and logs: qemu.log and dom0-console.log (Xen's and dom0's console,
    each line stamped with seconds since QEMU started).
    """

    _count = 0

    def __init__(self, cache_dir: Path = DEFAULT_CACHE, memory_mb: int = 1024) -> None:
        self.cache_dir = Path(cache_dir)
        self.debs = self.cache_dir / "debs"
        # Per rig, so that test sessions running at once do not meet: the
        # 9p share (images and configs) and the logs of this boot.
        XenRig._count += 1
        self.run_dir = self.cache_dir / "runs" / f"{os.getpid()}-{XenRig._count}"
        self.share = self.run_dir / "share"
        self.disks = self.run_dir / "disks"
        self.logs = self.run_dir
        self.memory_mb = memory_mb
        self.timings: dict[str, float] = {}
        self._running: Running | None = None
        self._control: _ControlLine | None = None
        self._serial: serial.SerialBase | None = None
        self._slave = -1
        self._attached: Domain | None = None
        self._bridge: tuple[int, ...] = ()

    # -- building --

    @property
    def files(self) -> RigFiles:
        return RigFiles(
            xen=self.cache_dir / f"xen-{XEN_VERSION}-amd64",
            vmlinux=self.cache_dir / "vmlinux",
            initrd=self.cache_dir / "initrd.cpio",
        )

    @property
    def manifest_path(self) -> Path:
        return self.cache_dir / "manifest.json"

    def _manifest(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.manifest_path.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def is_built(self) -> bool:
        """True when the cached files exist and match this recipe."""
        files = self.files
        return self._manifest().get("recipe") == _recipe_hash() and all(
            p.exists() for p in (files.xen, files.vmlinux, files.initrd)
        )

    def ensure_built(self, refresh: bool = False) -> RigFiles:
        """Fetch and assemble once; afterwards only check the cache.

        ``refresh`` drops the downloaded packages and fetches the current
        ones (the cache otherwise keeps the versions of its first build).
        """
        started = time.monotonic()
        if not refresh and self.is_built():
            self.timings["ensure_built"] = time.monotonic() - started
            return self.files
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # Another process may be assembling the same cache: wait for it.
        with filelock.FileLock(self.cache_dir / ".lock"):
            if refresh:
                shutil.rmtree(self.debs, ignore_errors=True)
            elif self.is_built():
                self.timings["ensure_built"] = time.monotonic() - started
                return self.files
            self._assemble(started)
        return self.files

    def _assemble(self, started: float) -> None:
        costs: dict[str, float] = {}
        self.debs.mkdir(parents=True, exist_ok=True)

        mark = time.monotonic()
        kernel_pkg = debian.deb_for(self.debs, "linux-image-*-amd64")
        wanted = [p for p in PACKAGES if debian.deb_for(self.debs, p) is None]
        if kernel_pkg is None:
            wanted.append(_kernel_package())
        if wanted:
            _apt_download(wanted, self.debs)
        kernel_deb = debian.deb_for(self.debs, "linux-image-*-amd64")
        assert kernel_deb is not None
        costs["download"] = time.monotonic() - mark

        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix="root-") as tmp:
            root = Path(tmp)
            mark = time.monotonic()
            for package in PACKAGES:
                deb = debian.deb_for(self.debs, package)
                assert deb is not None
                subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            costs["unpack"] = time.monotonic() - mark

            mark = time.monotonic()
            kernel = _read_kernel_deb(kernel_deb)
            costs["kernel"] = time.monotonic() - mark

            mark = time.monotonic()
            libdirs = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")
            libraries = _library_closure(root, PROGRAMS, libdirs)
            initrd = self._initramfs(root, libraries, kernel)
            files = self.files
            hypervisor = gzip.decompress((root / f"boot/xen-{XEN_VERSION}-amd64.gz").read_bytes())
            for path, data in ((files.xen, hypervisor), (files.vmlinux, kernel.vmlinux), (files.initrd, initrd)):
                # Atomically: a rig of another process may be reading the old one.
                tmp_path = path.with_name(path.name + ".tmp")
                tmp_path.write_bytes(data)
                tmp_path.replace(path)
            costs["assemble"] = time.monotonic() - mark

        costs["total"] = time.monotonic() - started
        manifest = {
            "recipe": _recipe_hash(),
            "kernel": kernel.release,
            "modules": list(kernel.modules),
            "debs": sorted(p.name for p in self.debs.glob("*.deb")),
            "build_seconds": {k: round(v, 2) for k, v in costs.items()},
        }
        self.manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        self.timings["ensure_built"] = costs["total"]

    def _initramfs(self, root: Path, libraries: dict[str, Path], kernel: _KernelFiles) -> bytes:
        cpio = Cpio()
        for d in ("proc", "sys", "dev", "run", "tmp", "root", "etc", "mnt/share", "var/lib", "var/log"):
            cpio.directory(d)
        cpio.symlink("var/run", "/run")
        cpio.symlink("var/lock", "/run/lock")  # xenconsole's lock file
        cpio.file("bin/busybox", (root / "bin/busybox").read_bytes(), 0o755)
        for name, source in sorted(libraries.items()):
            cpio.file(name, source.read_bytes(), 0o755)
        for program in PROGRAMS:
            cpio.file(program, (root / program).read_bytes(), 0o755)
        for tool in ("read", "write", "ls", "list", "rm", "watch", "exists", "chmod"):
            # Hard links in the package; xenstore picks the operation from argv[0].
            cpio.symlink(f"usr/bin/xenstore-{tool}", "xenstore")
        for name, data in kernel.modules.items():
            cpio.file(f"lib/modules/pyunik/{name}.ko", data)
        cpio.file("etc/pyunik/modules", "".join(f"{name}\n" for name in kernel.modules).encode())
        cpio.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        cpio.file("etc/xen/xl.conf", b"# pyunik's Xen rig: xl's defaults\n")
        init = (
            INIT.replace("@XEN@", XEN_VERSION)
            .replace("@TAG@", SHARE_TAG)
            .replace("@READY@", READY.decode())
            .replace("@BRIDGE@", RIG_BRIDGE)
            .replace("@DISKS@", DISKS_TAG)
            .replace("@DOM0@", DOM0_ADDRESS)
            .replace("@PREFIX@", str(RIG_PREFIX))
        )
        cpio.file("init", init.encode(), 0o755)
        cpio.file("etc/pyunik/vif-bridge", VIF_SCRIPT.replace("@BRIDGE@", RIG_BRIDGE).encode(), 0o755)
        cpio.file("etc/pyunik/block", BLOCK_SCRIPT.encode(), 0o755)
        cpio.file("bin/pyunik-wait", WAIT.encode(), 0o755)
        cpio.file("bin/pyunik-attach", ATTACH.encode(), 0o755)
        cpio.file("bin/pyunik-quiet", QUIET.replace("@BRIDGE@", RIG_BRIDGE).encode(), 0o755)
        return cpio.finish()

    # -- booting --

    def qemu_command(self, control_socket: Path) -> QemuCommand:
        """QEMU's argv: COM1 on a unix socket (dom0 control), COM2 on stdio
        (which start_with_pty wires to the domU console pty)."""
        files = self.files
        dom0 = f"{files.vmlinux} {DOM0_CMDLINE}".replace(",", ",,")
        argv = (
            QEMU,
            "-M",
            "q35",
            "-accel",
            "tcg",
            "-cpu",
            "qemu64,+svm,+npt,+rdrand",
            "-m",
            str(self.memory_mb),
            *HEADLESS,
            "-no-reboot",
            "-chardev",
            f"socket,id=dom0,path={control_socket},server=on,wait=on",
            "-device",
            "isa-serial,chardev=dom0,index=0",
            "-chardev",
            "stdio,id=domu,signal=off",
            "-device",
            "isa-serial,chardev=domu,index=1",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-virtfs",
            f"local,path={self.share},mount_tag={SHARE_TAG},security_model=none,readonly=on",
            "-virtfs",
            f"local,path={self.disks},mount_tag={DISKS_TAG},security_model=none",
            "-kernel",
            str(files.xen),
            "-append",
            XEN_CMDLINE,
            "-initrd",
            f"{dom0},{files.initrd}",
        )
        return QemuCommand(argv, "tcg")

    def boot(self, timeout: float = 180.0) -> None:
        """Start QEMU and wait until the dom0 shell takes commands."""
        if self._running is not None:
            return
        require_qemu()
        if not self.is_built():
            self.ensure_built()
        self._remove_stale_runs()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.share.mkdir(parents=True)
        self.disks.mkdir(parents=True)
        started = time.monotonic()
        sock_path = Path(tempfile.mkdtemp(prefix="pyunik-xen-")) / "dom0.sock"
        running = _start_qemu(self.qemu_command(sock_path), log=self.logs / "qemu.log")
        self._running = running
        self._slave = os.open(running.pty, os.O_RDWR | os.O_NOCTTY)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 20
        while True:
            try:
                sock.connect(str(sock_path))
                break
            except OSError:
                if running.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.logs / "qemu.log").read_text(errors="replace")
                    self.close()
                    raise XenRigError(f"QEMU did not start: {log.strip()}") from None
                time.sleep(0.02)
        shutil.rmtree(sock_path.parent, ignore_errors=True)
        self._control = _ControlLine(sock, self.logs / "dom0-console.log", started, self.share)
        try:
            self._control.expect(re.compile(re.escape(READY)), timeout)
            status, out = self.sh(
                "grep -q ' /mnt/share ' /proc/mounts && grep -q ' /mnt/disks ' /proc/mounts "
                "&& test -e /dev/ttyS1 && xl list"
            )
            if status:
                raise XenRigError(f"dom0 is up but not ready: {out}\n{self._control.tail()}")
        except BaseException:
            self.close()
            raise
        self.timings["boot"] = time.monotonic() - started

    def _remove_stale_runs(self) -> None:
        """Run directories of processes that are gone (their share and logs)."""
        for run in (self.cache_dir / "runs").glob("*-*"):
            pid = run.name.split("-")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(run, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._running is not None and self._running.proc.poll() is None

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The QEMU process (for ``pyunik.console.attach`` and friends)."""
        return self._need().proc

    @property
    def serial_path(self) -> str:
        """The domU console: a pty path for pyserial, pytest-embedded, mpremote."""
        return self._need().pty

    @property
    def serial(self) -> serial.SerialBase:
        """A pyserial port on the domU console (opened on first use)."""
        if self._serial is None:
            from pyunik.console import open_serial

            self._serial = open_serial(self.serial_path, timeout=1)
        return self._serial

    @property
    def console_log(self) -> Path:
        """Everything Xen and dom0 printed on COM1 during this boot."""
        return self.logs / "dom0-console.log"

    def _need(self) -> Running:
        if self._running is None:
            raise XenRigError("the rig is not booted: call boot() first")
        return self._running

    def sh(self, command: str, timeout: float = 60.0) -> tuple[int, str]:
        """Run a shell command line in dom0: (exit status, output)."""
        self._need()
        assert self._control is not None
        return self._control.run(command, timeout)

    def xl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``xl ARGS`` in dom0 and return its output; XenRigError when it fails."""
        command = "xl " + " ".join(shlex.quote(a) for a in args)
        status, out = self.sh(command, timeout)
        if status:
            raise XenRigError(f"{command} failed ({status}): {out}")
        return out

    # -- domains --

    def create(
        self,
        elf: Path,
        name: str,
        memory_mb: int = 32,
        cmdline: str = "",
        attach: bool = True,
        vcpus: int = 1,
        extra_config: Iterable[str] = (),
        before_unpause: Callable[[Domain], None] | None = None,
    ) -> Domain:
        """``xl create`` a PVH domU from ``elf``; with ``attach`` its console
        is bridged onto ``serial_path``, raw, both ways (from its first byte:
        the domain is created paused, the console connected, then unpaused).

        The config preserves the domain on poweroff, reboot and crash so that
        :meth:`Domain.wait_shutdown` can read xl's shutdown reason; that
        method then destroys it. ``before_unpause`` runs while the domain
        exists but has not run an instruction (e.g. to write xenstore nodes
        it will find at boot).
        """
        self._need()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", name):
            raise XenRigError(f"domain name {name!r}: use letters, digits, _ . -")
        if not Path(elf).is_file():
            raise XenRigError(f"{elf}: no such image")
        shutil.copyfile(elf, self.share / f"{name}.elf")
        config = [
            f'name = "{name}"',
            'type = "pvh"',
            f'kernel = "/mnt/share/{name}.elf"',
            f"memory = {memory_mb}",
            f"vcpus = {vcpus}",
            'on_poweroff = "preserve"',
            'on_reboot = "preserve"',
            'on_crash = "preserve"',
            *extra_config,
        ]
        if cmdline:
            config.append(f"cmdline = {_xl_string(cmdline)}")
        (self.share / f"{name}.cfg").write_text("\n".join(config) + "\n")
        started = time.monotonic()
        # A log left by an earlier domain of the same name would mix in.
        status, out = self.sh(
            f"rm -f /var/log/xen/console/guest-{name}.log; "
            f"xl create {'-p ' if attach or before_unpause else ''}/mnt/share/{name}.cfg >/run/{name}.create.log 2>&1 "
            f"|| {{ cat /run/{name}.create.log; false; }}",
            timeout=120,
        )
        if status:
            raise XenRigError(f"xl create {name} failed: {out}")
        created = time.monotonic()
        domain = Domain(self, name, create_called_at=started)
        if attach:
            self._attach(domain)
        attached = time.monotonic()
        if before_unpause is not None:
            before_unpause(domain)
        if attach or before_unpause is not None:
            self.xl("unpause", name)
        ended = time.monotonic()
        self.timings["create"] = ended - started
        # Its parts: xl create (-p), the console bridge, before_unpause + xl unpause.
        self.timings["create.xl_create"] = created - started
        self.timings["create.attach"] = attached - created
        self.timings["create.unpause"] = ended - attached
        return domain

    def _attach(self, domain: Domain) -> None:
        """Bridge ``domain``'s console onto ttyS1 (see ATTACH), and drop what
        the previous domain wrote that nobody read: it is not this domain's.
        When this returns, what is written to ``serial_path`` reaches the
        domain."""
        # The bridge of whichever domain was attached last, even if that
        # domain is gone: its input cat would still be reading ttyS1.
        old = " ".join(str(pid) for pid in self._bridge)
        termios.tcflush(self._slave, termios.TCIFLUSH)
        status, out = self.sh(f"pyunik-attach {domain.name} {old}")
        found = re.search(r"console-pids (\d+) (\d+)", out)
        if status or not found:
            raise XenRigError(f"the console of {domain.name} could not be bridged: {out}")
        domain.console_pids = self._bridge = (int(found.group(1)), int(found.group(2)))
        self._attached = domain

    def wait_quiet(self, timeout: float = 60.0) -> float:
        """Block until dom0 holds nothing of an earlier domU (see QUIET: no
        domain, backend, vif, loop device or hotplug script left) and return
        the seconds that took; XenRigError naming what is still there after
        ``timeout``. The console bridge of the domain attached last ends
        here (the next :meth:`create` then has none to end)."""
        old = " ".join(str(pid) for pid in self._bridge)
        started = time.monotonic()
        status, out = self.sh(f"pyunik-quiet {max(1, round(timeout))} {old}", timeout=timeout + 30)
        if status or out.split()[-1:] != ["quiet"]:
            raise XenRigError(f"dom0 did not settle in {timeout:.0f} s: {out}")
        self._bridge = ()
        self._attached = None
        return time.monotonic() - started

    def disk_config(self, images: Iterable[Path]) -> str:
        """xl's ``disk = [...]`` for images in :attr:`disks` (xvda, xvdb ...):
        blkback over a loop device in dom0 (the rig has no QEMU in dom0 for
        qdisk), made by the rig's own hotplug script."""
        specs = []
        for i, image in enumerate(images):
            image = Path(image)
            if image.parent.resolve() != self.disks.resolve() or not image.is_file():
                raise XenRigError(f"{image}: put disk images in the rig's disk share ({self.disks})")
            specs.append(
                f"'format=raw, vdev=xvd{chr(ord('a') + i)}, access=rw, backendtype=phy, "
                f"script=/etc/pyunik/block, target=/mnt/disks/{image.name}'"
            )
        return "disk = [" + ", ".join(specs) + "]"

    def domains(self) -> list[str]:
        """Names of the domUs (running or preserved after a shutdown)."""
        lines = self.xl("list").splitlines()[1:]
        return [line.split()[0] for line in lines if line.split() and line.split()[0] != "Domain-0"]

    def destroy_all(self) -> None:
        """Destroy every domU: a clean dom0 for the next test."""
        for name in self.domains():
            self.sh(f"xl destroy {name}")
        self._attached = None

    # -- ending --

    def close(self) -> None:
        """Stop QEMU and release the console."""
        if self._serial is not None:
            with contextlib.suppress(Exception):
                self._serial.close()
            self._serial = None
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._running is not None:
            self._running.close()
            self._running = None
            shutil.rmtree(self.share, ignore_errors=True)  # the logs stay, for a look afterwards
        self._attached = None
        self._bridge = ()
        if self._slave >= 0:
            with contextlib.suppress(OSError):
                os.close(self._slave)
            self._slave = -1

    def __enter__(self) -> XenRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _xl_string(text: str) -> str:
    """A string literal for an xl config file."""
    if "\n" in text or ('"' in text and "'" in text):
        raise XenRigError(f"cmdline {text!r}: no newlines, and not both quote kinds")
    return f"'{text}'" if '"' in text else f'"{text}"'


def _start_qemu(command: QemuCommand, log: Path) -> Running:
    """QEMU on a pty (pyunik.vm.start_with_pty), killed when we end."""
    try:
        return start_with_pty(command, log=log, die_with_parent=True)
    except VmError as exc:
        raise XenRigError(str(exc)) from None


def megabytes(size: str) -> int:
    """A QEMU-style size ("32M", "1434K", "1G", bytes) in whole MiB, rounded
    up: xl's memory= is in MiB."""
    try:
        return sizes.mebibytes(size)
    except sizes.SizeError as exc:
        raise XenRigError(f"memory: {exc}") from None


class _ShutdownWatch:
    """A ``Popen``-like ``poll()`` for :func:`pyunik.console.attach`: None
    while the domain runs, then 0 for a clean end (CLEAN_ENDS) and 1 for
    anything else. A thread blocks in :meth:`Domain.wait_shutdown`."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.reason = ""
        self.returncode: int | None = None
        self._thread = threading.Thread(target=self._wait, name="xen-rig-watch", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        try:
            self.reason = self.domain.wait_shutdown(timeout=30 * 24 * 3600, destroy=False)
        except (XenRigError, TimeoutError) as exc:
            self.reason = f"unknown ({exc})".splitlines()[0]
        time.sleep(0.3)  # the last bytes are still crossing xenconsoled, ttyS1 and QEMU
        self.returncode = 0 if self.reason in CLEAN_ENDS else 1

    def poll(self) -> int | None:
        return self.returncode


def run_interactive(elf: Path, name: str, memory: str = "32M", cmdline: str = "", rig: XenRig | None = None) -> int:
    """Boot the rig, create ``elf`` as a PVH domU and attach this terminal
    to its console (Ctrl-] leaves). Returns 0 when the domain powered off
    or rebooted (``machine.reset()``; QEMU's -no-reboot gives 0 too) or the
    user left, 1 when it crashed - on Xen an image's exit status 0 is
    poweroff and anything else is crash, so 1 is all that is left of it."""
    import sys
    from typing import cast

    from pyunik import console

    rig = rig or XenRig()
    try:
        if not rig.is_built():
            print("xen rig: fetching Debian's Xen, kernel and tools (once, ~15 s)", file=sys.stderr)
            rig.ensure_built()
        print("xen rig: booting Xen and dom0 under QEMU TCG (~5-10 s)", file=sys.stderr)
        rig.boot()
        domain = rig.create(elf, name, memory_mb=megabytes(memory), cmdline=cmdline)
        print(
            f"xen rig: domain {name} created (xl create to here {rig.timings['create']:.1f} s); Ctrl-] quits",
            file=sys.stderr,
        )
        watch = _ShutdownWatch(domain)
        left = console.attach(rig.serial_path, qemu=cast("subprocess.Popen[str]", watch))
        if left:
            print("\r\n[left the console; Xen is stopped]", file=sys.stderr)
            return 0
        print(f"\r\n[domain shut down: {watch.reason}]", file=sys.stderr)
        return watch.returncode or 0
    finally:
        rig.close()


@contextlib.contextmanager
def booted(cache_dir: Path = DEFAULT_CACHE) -> Iterator[XenRig]:
    """A built and booted rig, closed on exit."""
    rig = XenRig(cache_dir)
    try:
        rig.ensure_built()
        rig.boot()
        yield rig
    finally:
        rig.close()
