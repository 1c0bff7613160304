"""A Linux guest from Debian packages: Debian's kernel + an initramfs with busybox and the unix port.

The comparison the seed's claim ("Mirage boots in 50 ms where a Linux VM
takes 500 ms") calls for, built here rather than assumed:

- the kernel is Debian's own (the package linux-image-amd64 depends on),
  fetched with `apt-get download` into build/bench/linux/ when the bench runs
  (never committed) and unpacked with dpkg-deb - only /boot/vmlinuz, not the
  400 MB of modules, which a guest with its devices built in does not need.
  It boots as the uncompressed ELF vmlinux taken out of that bzImage (as the
  Xen rig does for its dom0: rigs.xenrig), through the same PVH entry as
  pyunik, so that a boot time measures the OS and not an xz decompressor
  under TCG; the bzImage is booted too, as a labelled second figure;
- the initramfs (gzip, as Debian's own are) holds busybox-static (from the
  host's package, see bootstrap.sh), the MicroPython unix port built from
  the same pinned tree as pyunik with the glibc libraries it links against,
  asyncio from the same tree, the device-side benchmark programs, and an
  /init that either execs the REPL (timed to its first prompt like pyunik)
  or runs one program (or a shell script, e.g. perf.sh: all of perf_bench)
  and powers off through isa-debug-exit with the program's status. Both
  unix-port builds are there (bench/unixport.py): `micropython` as upstream
  builds it, `micropython-tuned` with pyunik's settings; `upy=` on the
  kernel command line picks the one /init runs;
- for the network benchmark, the kernel's own virtio and virtio_net modules
  (Debian builds them as modules: VIRTIO_NET=m, VIRTIO_MMIO=m, VIRTIO_PCI=m),
  taken from the same .deb, and the examples/ apps with what they import
  (pyunik's frozen cmdline module, netup, a pvboot stand-in). With
  ``net=dhcp`` on the kernel command line /init loads the modules, brings
  eth0 up and takes a DHCP lease with busybox udhcpc, which stays in the
  background renewing it (as pyunik's lwIP does), or with ``ip=ADDR/PREFIX
  gw=GW`` sets that address (pyunik's words for it); ``appopts=a=1,b=2`` becomes
  the app's "kernel command line" ``a=1 b=2`` (PYUNIK_CMDLINE).

It boots under the same QEMU settings as pyunik's board (pyunik.vm.qemu_command).
The cpio archive is written in Python (rigs/cpio.py): no cpio package needed.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from pathlib import Path

from bench import common, unixport
from pyunik import board as boards
from pyunik import vm
from rigs import debian
from rigs.cpio import Cpio
from rigs.xenrig import XenRigError, _vmlinux_from_bzimage

OUT = common.WORK / "linux"
#: The guest's -m in every benchmark that runs it: comfortably above its least
#: memory (it does not boot at pyunik's 32M); pyunik is booted at it too for the boot ratio.
MEMORY = "256M"
BUSYBOX = Path("/bin/busybox")
#: What the guest's kernel command line always carries: the console on COM1,
#: quiet (printing is not what is timed), and on a panic QEMU exits at once
#: (with -no-reboot) instead of waiting for the harness's deadline.
KERNEL_ARGS = "console=ttyS0 quiet panic=-1 rdinit=/init"


def tsc_khz() -> int | None:
    """The host's TSC rate in kHz, when /proc/cpuinfo states it (constant, known frequency).

    Under TCG the guest's TSC counts at the host's rate. Told so
    (tsc_early_khz=), Debian's kernel needs no PIT calibration; without it, on
    a busy host the calibration often fails ("tsc: Unable to calibrate
    against PIT", and microvm has no HPET or PM timer to fall back on) and
    the kernel then hangs before userspace - seen here in most boots at a
    load average of 5 on 2 CPUs.
    """
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flag_line = re.search(r"^flags\s*:(.*)$", info, re.M)
    flags = set(flag_line.group(1).split()) if flag_line else set()
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)
    if mhz is None or not {"constant_tsc", "tsc_known_freq"} <= flags:
        return None
    return round(float(mhz.group(1)) * 1000)


def kernel_args() -> str:
    khz = tsc_khz()
    return KERNEL_ARGS + (f" tsc_early_khz={khz}" if khz else "")


#: Kernel console lines that mean the guest will never get to a prompt.
FAILURES = (b"Kernel panic", b"Out of memory", b"not syncing")

INIT = """\
#!/bin/sh
# /init of the benchmark guest. No arguments: the MicroPython REPL on the
# console (the harness times its first prompt). With arguments (the kernel
# command line after --): run micropython with them, then power off through
# isa-debug-exit (port 0xf4) with its exit status.
# upy= on the kernel command line (the kernel hands it to /init as an
# environment variable) names the unix-port build: micropython or micropython-tuned.
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
export PATH=/bin HOME=/ TERM=dumb MICROPYPATH=.frozen:/lib/micropython
# Unknown key=value kernel parameters reach /init as environment variables.
if [ -n "$net" ]; then
    for m in %(modules)s; do
        insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
    done
    ip link set lo up
    ip link set eth0 up
    if [ -n "$ip" ]; then
        # ip=ADDR/PREFIX gw=GW, the words pyunik reads (Debian's kernel has no IP_PNP).
        ip addr add "$ip" dev eth0
        if [ -n "$gw" ]; then ip route add default via "$gw"; fi
    else
        # Without -q udhcpc goes to the background once bound and renews the lease.
        udhcpc -i eth0 -s /bin/udhcpc.script -t 20 -T 1 -A 1 -n >/dev/null || echo "init: no DHCP lease"
    fi
    echo "init: eth0 $(ip -4 -o addr show dev eth0)"
fi
if [ -n "$disk" ]; then
    # disk=ext4|vfat: the virtio-blk disk /dev/vda mounted at /mnt (the disk
    # benchmark), its mount time from /proc/uptime (10 ms resolution); disk=raw: not mounted.
    for m in %(disk_modules)s; do
        [ -d /sys/module/$m ] || insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
    done
    if [ "$disk" != raw ]; then
        mkdir -p /mnt
        before=$(cut -d ' ' -f 1 /proc/uptime)
        mount -t "$disk" /dev/vda /mnt || echo "init: mount of /dev/vda ($disk) failed"
        echo "init: mounted $disk in $before $(cut -d ' ' -f 1 /proc/uptime)"
    fi
fi
export PYUNIK_CMDLINE="$(echo "$appopts" | tr , ' ')"
upy=${upy:-micropython}
if [ $# -eq 0 ]; then
    exec $upy
fi
case "$1" in
    *.sh) sh "$@" ;;
    *) $upy "$@" ;;
esac
status=$?
printf "\\\\$(printf %03o $status)" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
"""

#: Load order of the virtio core and its transports (each after what it uses).
VIRTIO_CORE = (
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
)
#: Load order of the virtio and virtio-net modules.
NET_MODULES = (
    *VIRTIO_CORE,
    "failover",
    "net_failover",
    "virtio_net",
)
#: Load order of virtio-blk and the filesystems the disk benchmark mounts (ext4, vfat).
DISK_MODULES = (
    *VIRTIO_CORE,
    "virtio_blk",
    "crc16",
    "mbcache",
    "crc32c_generic",
    "jbd2",
    "ext4",
    "fat",
    "vfat",
    "nls_cp437",
    "nls_utf8",
    "nls_ascii",  # vfat's default iocharset in Debian's kernel
)
INIT = INIT.replace("%(modules)s", " ".join(NET_MODULES)).replace("%(disk_modules)s", " ".join(DISK_MODULES))

UDHCPC_SCRIPT = """\
#!/bin/sh
# busybox udhcpc's hook: put the lease on the interface ($mask is a prefix length).
case "$1" in
deconfig) ip addr flush dev "$interface" ;;
bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$router" ]; then ip route replace default via "${router%% *}" dev "$interface"; fi
    ;;
esac
"""

BUSYBOX_APPLETS = (
    "sh",
    "mount",
    "printf",
    "dd",
    "poweroff",
    "cat",
    "echo",
    "tr",
    "insmod",
    "ip",
    "udhcpc",
    "sleep",
    "tail",
    "basename",
    "mkdir",
    "cut",
)

#: /bench/perf.sh HEAP ROUNDS: every perf_bench program (bench/interpreter.py
#: assembles them into /bench/perf/) with each unix-port build, a fresh process
#: each; one line per run: "PERF <program> <build> <the program's last line>".
PERF_SH = """\
heap=$1
rounds=$2
i=0
while [ $i -lt $rounds ]; do
    for f in /bench/perf/*.py; do
        for b in micropython micropython-tuned; do
            echo "PERF $(basename $f .py) $b $($b -X heapsize=$heap $f 2>&1 | tail -n 1)"
        done
    done
    i=$((i + 1))
done
"""
#: /bench/dd.sh MIB (the disk benchmark): busybox dd with O_DIRECT on the raw
#: disk, MIB MiB written then read; times from /proc/uptime (10 ms resolution).
DD_SH = """\
mib=$1
t0=$(cut -d ' ' -f 1 /proc/uptime)
dd if=/dev/zero of=/dev/vda bs=1M count=$mib oflag=direct 2>/dev/null
t1=$(cut -d ' ' -f 1 /proc/uptime)
echo "DD write $mib $t0 $t1"
t0=$(cut -d ' ' -f 1 /proc/uptime)
dd if=/dev/vda of=/dev/null bs=1M count=$mib iflag=direct 2>/dev/null
t1=$(cut -d ' ' -f 1 /proc/uptime)
echo "DD read $mib $t0 $t1"
"""
#: The name of each unix-port build in the guest.
GUEST_BINARIES = {unixport.UPSTREAM: "micropython", unixport.TUNED: "micropython-tuned"}
#: How the guest's kernel is booted: the ELF vmlinux (the headline) or Debian's bzImage.
VMLINUX, BZIMAGE = "vmlinux", "bzImage"


def kernel_package() -> str:
    """The versioned kernel package Debian's linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64)."""
    try:
        return debian.kernel_package()
    except debian.DebianError as exc:
        raise common.BenchError(str(exc)) from None


#: Where each module the guests load lives under lib/modules/*/kernel/ in the kernel's .deb.
MODULE_PATHS = (
    "drivers/virtio/*",
    "drivers/net/virtio_net",
    "drivers/net/net_failover",
    "net/core/failover",
    "drivers/block/virtio_blk",
    "lib/crc16",
    "fs/mbcache",
    "crypto/crc32c_generic",
    "fs/jbd2/jbd2",
    "fs/ext4/ext4",
    "fs/fat/*",
    "fs/nls/nls_cp437",
    "fs/nls/nls_utf8",
    "fs/nls/nls_ascii",
)


def kernel_modules(names: Sequence[str]) -> dict[str, Path]:
    """Modules (name -> .ko) from the kernel's .deb, unpacked once next to its vmlinuz."""
    _, package = kernel()
    target = OUT / package
    found = {ko.stem: ko for ko in target.glob("lib/modules/*/kernel/**/*.ko")}
    if not all(m in found for m in names):
        deb = debian.deb_for(OUT / "debs", package)
        if deb is None:
            raise common.BenchError(f"no {package}_*.deb in {OUT / 'debs'}")
        debian.extract(deb, target, [f"./lib/modules/*/kernel/{w}.ko" for w in MODULE_PATHS])
        found = {ko.stem: ko for ko in target.glob("lib/modules/*/kernel/**/*.ko")}
    missing = [m for m in names if m not in found]
    if missing:
        raise common.BenchError(f"{package} has no {', '.join(missing)}.ko")
    return {m: found[m] for m in names}


def net_modules() -> dict[str, Path]:
    """The virtio-net modules (name -> .ko)."""
    return kernel_modules(NET_MODULES)


#: The network examples and what they import, as the unix port finds them in the guest.
APPS = ("httpd", "echo")
APP_LIBRARY = (
    common.ROOT / "examples" / "httpd" / "netup.py",
    common.ROOT / "port" / "frozen" / "cmdline.py",
    common.ROOT / "bench" / "unixshim" / "pvboot.py",
)


def kernel() -> tuple[Path, str]:
    """(vmlinuz, package name): downloaded and unpacked once into build/bench/linux/."""
    package = kernel_package()
    found = sorted((OUT / package / "boot").glob("vmlinuz-*")) if (OUT / package).is_dir() else []
    if found:
        return found[0], package
    debs = OUT / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    common.log(f"fetching {package} (apt-get download) into {debs.relative_to(common.ROOT)}")
    try:
        debian.download([package], debs)
    except debian.DebianError as exc:
        raise common.BenchError(str(exc)) from None
    deb = debian.deb_for(debs, package)
    if deb is None:
        raise common.BenchError(f"apt-get download left no {package}_*.deb in {debs}")
    target = OUT / package
    debian.extract(deb, target, ["./boot/vmlinuz-*"])
    found = sorted((target / "boot").glob("vmlinuz-*"))
    if not found:
        raise common.BenchError(f"{deb.name} has no /boot/vmlinuz-*")
    return found[0], package


def vmlinux() -> Path:
    """The uncompressed ELF vmlinux of the same package, taken out of its bzImage once."""
    vmlinuz, package = kernel()
    target = OUT / package / "vmlinux"
    if not target.exists():
        try:
            data = _vmlinux_from_bzimage(vmlinuz.read_bytes())
        except XenRigError as exc:
            raise common.BenchError(f"{vmlinuz}: {exc}") from None
        target.with_suffix(".tmp").write_bytes(data)
        target.with_suffix(".tmp").rename(target)
    return target


def shared_libraries(binary: Path) -> dict[str, Path]:
    """{path in the guest: file on the host} for each library ``binary`` loads, loader included."""
    try:
        return debian.library_closure(Path("/"), [str(binary.resolve()).lstrip("/")], HOST_LIBDIRS)
    except debian.DebianError as exc:
        raise common.BenchError(f"{binary}: {exc}") from None


#: Where the host's loader finds libraries (Debian, x86_64).
HOST_LIBDIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64")


def _busybox() -> Path:
    data = BUSYBOX.read_bytes() if BUSYBOX.exists() else b""
    if not data.startswith(b"\x7fELF") or b"/lib64/ld-linux" in data[:4096]:
        raise common.BenchError(
            f"{BUSYBOX} is missing or not static: install Debian's busybox-static (./bootstrap.sh does)"
        )
    return BUSYBOX


_initramfs: dict[tuple[bool, bool], Path] = {}


def initramfs(net: bool = False, disk: bool = False) -> Path:
    """build/bench/linux/initramfs[-net].cpio.gz, written once per run (it takes a fraction of a second).

    Both unix-port builds, the perf_bench programs and the benchmark
    programs; with ``net`` also the virtio-net modules and the network apps,
    with ``disk`` the virtio-blk, ext4 and vfat modules (the boot, memory and
    asyncio benchmarks keep the smaller archive).
    """
    from bench import interpreter  # the perf_bench programs as assembled for every platform

    if (net, disk) in _initramfs:
        return _initramfs[net, disk]
    archive = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "bench", "bench/perf", "lib", "lib64", "lib/x86_64-linux-gnu"):
        archive.directory(d)
    archive.char_device("dev/console", 5, 1)
    archive.file("init", INIT.encode(), 0o755)
    archive.file("bin/busybox", _busybox().read_bytes(), 0o755)
    for applet in BUSYBOX_APPLETS:
        archive.symlink(f"bin/{applet}", "busybox")
    libraries: dict[str, Path] = {}
    for which, name in GUEST_BINARIES.items():
        binary = unixport.build(which)
        archive.file(f"bin/{name}", binary.read_bytes(), 0o755)
        libraries.update(shared_libraries(binary))
    for guest_path, host_file in sorted(libraries.items()):
        archive.file(guest_path, host_file.read_bytes(), 0o755)
    archive.file("bench/perf.sh", PERF_SH.encode(), 0o755)
    for path in interpreter.programs():
        archive.file(f"bench/perf/{path.name}", interpreter.script(path).encode())
    # asyncio from the pinned tree, as the unix port finds it under qemu-user (unixport.env()).
    archive.directory("lib/micropython")
    archive.directory("lib/micropython/asyncio")
    for module in sorted((unixport.ASYNCIO_PARENT / "asyncio").glob("*.py")):
        archive.file(f"lib/micropython/asyncio/{module.name}", module.read_bytes())
    for prog in sorted(common.PROGRAMS.glob("*.py")):
        archive.file(f"bench/{prog.name}", prog.read_bytes())
    if net:
        _add_network(archive)
    if disk:
        if not net:
            archive.directory("lib/modules")
        for name, ko in kernel_modules(DISK_MODULES).items():
            if not net or name not in NET_MODULES:  # the virtio core is there already with net
                archive.file(f"lib/modules/{name}.ko", ko.read_bytes())
        archive.file("bench/dd.sh", DD_SH.encode(), 0o755)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / ("initramfs" + ("-net" if net else "") + ("-disk" if disk else "") + ".cpio.gz")
    path.write_bytes(gzip.compress(archive.finish(), compresslevel=6, mtime=0))
    _initramfs[net, disk] = path
    return path


def _add_network(archive: Cpio) -> None:
    """The virtio-net modules, udhcpc's hook, the network apps and what they import."""
    archive.directory("lib/modules")
    for name, ko in net_modules().items():
        archive.file(f"lib/modules/{name}.ko", ko.read_bytes())
    archive.file("bin/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    for module in APP_LIBRARY:
        archive.file(f"lib/micropython/{module.name}", module.read_bytes())
    archive.directory("apps")
    for app in APPS:
        archive.directory(f"apps/{app}")
        for module in sorted((common.ROOT / "examples" / app).glob("*.py")):
            if module.name != "manifest.py":
                archive.file(f"apps/{app}/{module.name}", module.read_bytes())


def argv(
    board_name: str,
    memory: str,
    init_args: str = "",
    build: str = unixport.UPSTREAM,
    image: str = VMLINUX,
    net: Sequence[str] = (),
    options: str = "",
    disks: Sequence[Path] = (),
    extra: Sequence[str] = (),
) -> list[str]:
    """QEMU argv that boots the Linux guest under the board's machine settings.

    ``init_args`` (e.g. "-X heapsize=... /bench/alloc.py") are passed to
    /init after "--"; none: the guest ends at the REPL. ``build`` picks the
    unix-port build /init runs; ``image`` the kernel: vmlinux or bzImage.
    ``net`` is a list of netdev specs for pyunik.vm (the board's NIC model on
    each), ``options`` more kernel parameters (``net=dhcp appopts=port=80``).
    ``disks`` are raw images given as pyunik's are (pyunik.vm.disk_args: the
    same drive options and device model), ``extra`` more QEMU arguments.
    """
    kernel_file = vmlinux() if image == VMLINUX else kernel()[0]
    initrd = initramfs(net=bool(net), disk=bool(disks))
    line = (
        kernel_args()
        + f" upy={GUEST_BINARIES[build]}"
        + (f" {options}" if options else "")
        + (f" -- {init_args}" if init_args else "")
    )
    board = boards.load(board_name)
    machine = ["-initrd", str(initrd), "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"]
    if (net or disks) and board.vm.machine == "microvm":
        # The modern (version 2) virtio-mmio transport pyunik's virtio plugin asks for. ACPI stays
        # on, unlike pyunik's acpi=off: Debian's kernel finds virtio-mmio devices only in the ACPI
        # tables (it is built without VIRTIO_MMIO_CMDLINE_DEVICES).
        machine += ["-global", "virtio-mmio.force-legacy=false"]
    command = vm.qemu_command(
        board,
        kernel_file,
        serial="stdio",
        memory=memory,
        cmdline=line,
        extra=machine,
        net=list(net),
    )
    return list(command.argv) + vm.disk_args(board, list(disks)) + list(extra)


def describe() -> dict[str, object]:
    """What the Linux guest is made of, for results.json."""
    vmlinuz, package = kernel()
    initrd = initramfs()
    return {
        "kernel_package": package,
        "kernel": f"vmlinux (ELF, from {vmlinuz.name}); {BZIMAGE} rows boot {vmlinuz.name} itself",
        "kernel_bytes": vmlinuz.stat().st_size,
        "vmlinux_bytes": vmlinux().stat().st_size,
        "initramfs_bytes": initrd.stat().st_size,
        "kernel_args": kernel_args(),
        "busybox": str(BUSYBOX),
    }
