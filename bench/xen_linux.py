"""A Linux PVH domU in the Xen rig: the like-for-like base of bench/xen_http.py.

The rig's own kernel (its dom0's vmlinux: Debian's 6.1 ELF, which has the
PVH entry note) booted as a ``type = "pvh"`` domU on the rig's bridge, with
bench/linux.py's initramfs (busybox-static, the MicroPython unix port built
from the same pinned tree as pyunik, the examples' apps and what they
import), and a second gzip'd cpio member appended to it (Linux unpacks
concatenated archives) holding:

- the kernel's own xen-netfront and xen-blkfront modules (Debian builds them
  as modules), taken from the rig's kernel package;
- /xen-init (``rdinit=/xen-init``): loads them, puts ``ip=A/P`` on eth0,
  starts examples/httpd under the unix port in the background, and leaves a
  shell on the console (hvc0), which the bench drives to run its programs;
- the bench's guest programs (TCP echo to dom0, a raw sequential read).

The domU's memory is bench/linux.py's MEMORY (its QEMU guest's), not
pyunik's: it does not boot in 32 MiB.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from bench import common, linux, unixport
from rigs import debian, xenrig
from rigs.cpio import Cpio
from rigs.xenrig import Domain, XenRig

OUT = common.WORK / "xen-linux"
#: The front ends, in load order (neither depends on another module in 6.1).
MODULES = {
    "xen-netfront": "drivers/net/xen-netfront",
    "xen-blkfront": "drivers/block/xen-blkfront",
}
MEMORY_MB = xenrig.megabytes(linux.MEMORY)
READY = b"xen-init: ready"
#: Lines of the domU's console that mean it will not get to serving.
FAILURES = (*linux.FAILURES, b"xen-init: insmod")

XEN_INIT = """\
#!/bin/sh
# /xen-init of the Linux PVH domU (bench/xen_linux.py). ip=A/P and
# appopts=a=1,b=2 come from the kernel command line (unknown key=value
# parameters reach /init as environment variables).
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
export PATH=/bin HOME=/ TERM=dumb MICROPYPATH=.frozen:/lib/micropython
for m in @MODULES@; do
    insmod /lib/modules/xen/$m.ko || echo "xen-init: insmod $m failed"
done
ip link set lo up
ip link set eth0 up
ip addr add "$ip" dev eth0
echo "xen-init: eth0 $(ip -4 -o addr show dev eth0)"
export PYUNIK_CMDLINE="$(echo "$appopts" | tr , ' ')"
${upy:-micropython} /apps/httpd/main.py &
echo "xen-init: ready"
exec sh
""".replace("@MODULES@", " ".join(MODULES))


def modules(rig: XenRig) -> dict[str, Path]:
    """The front-end modules (name -> .ko) from the rig's kernel package, unpacked once."""
    deb = debian.deb_for(rig.debs, "linux-image-*-amd64")
    if deb is None:
        raise common.BenchError(f"no kernel package in {rig.debs}: build the rig first (XenRig.ensure_built)")
    target = OUT / deb.stem
    found = {ko.stem: ko for ko in target.glob("lib/modules/*/kernel/**/*.ko")}
    if not all(m in found for m in MODULES):
        debian.extract(deb, target, [f"./lib/modules/*/kernel/{path}.ko" for path in MODULES.values()])
        found = {ko.stem: ko for ko in target.glob("lib/modules/*/kernel/**/*.ko")}
    missing = [m for m in MODULES if m not in found]
    if missing:
        raise common.BenchError(f"{deb.name} has no {', '.join(missing)}.ko")
    return {m: found[m] for m in MODULES}


def initramfs(rig: XenRig, programs: dict[str, str]) -> Path:
    """bench/linux.py's network initramfs + the Xen member (see the module
    docstring); ``programs`` are {name: MicroPython source} put in /bench."""
    extra = Cpio()
    extra.file("xen-init", XEN_INIT.encode(), 0o755)
    extra.directory("lib/modules/xen")
    for name, ko in modules(rig).items():
        extra.file(f"lib/modules/xen/{name}.ko", ko.read_bytes())
    for name, source in sorted(programs.items()):
        extra.file(f"bench/{name}", source.encode())
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "initramfs-xen.cpio.gz"
    base = linux.initramfs(net=True).read_bytes()
    path.write_bytes(base + gzip.compress(extra.finish(), compresslevel=6, mtime=0))
    return path


def create(rig: XenRig, name: str, ramdisk: Path, address: str, extra_config: list[str]) -> Domain:
    """``xl create`` the Linux domU: the rig's vmlinux, ``ramdisk``, eth0 at
    ``address`` (A/P), httpd on port 80; console on the rig's serial line."""
    shutil.copyfile(ramdisk, rig.share / f"{name}.cpio.gz")
    cmdline = f"console=hvc0 quiet rdinit=/xen-init ip={address} appopts=port=80 upy=micropython"
    return rig.create(
        rig.files.vmlinux,
        name,
        memory_mb=MEMORY_MB,
        cmdline=cmdline,
        extra_config=[f'ramdisk = "/mnt/share/{name}.cpio.gz"', *extra_config],
    )


def dom0_micropython(rig: XenRig) -> str:
    """A dom0 command line that runs the host's unix-port MicroPython: the
    binary, its loader and libraries copied into the rig's share and run
    through that loader (dom0's initramfs has only what xl needs)."""
    binary = unixport.build(unixport.UPSTREAM)
    target = rig.share / "dom0-upy"
    target.mkdir(exist_ok=True)
    loader = ""
    for guest_path, host_file in linux.shared_libraries(binary).items():
        shutil.copy(host_file, target / Path(guest_path).name)  # with its mode: the loader is run
        if Path(guest_path).name.startswith("ld-linux"):
            loader = Path(guest_path).name
    if not loader:
        raise common.BenchError(f"{binary}: no ELF loader among its libraries")
    shutil.copy(binary, target / "micropython")
    where = "/mnt/share/dom0-upy"
    return f"{where}/{loader} --library-path {where} {where}/micropython"
