"""pyunik's commands (invoke tasks). Thin: parse options, call pyunik.*.

invoke deps                      pinned upstream sources (and checks tools)
invoke build --board B           build/B/pyunik.elf
invoke run --board B             boot it under QEMU, REPL on this terminal
invoke test                      host tests + hardware-in-loop tests
invoke bench [--only B] [--quick] benchmarks: build/bench/results.json and PNG charts
invoke conformance [-- DIRS]     MicroPython's test suite on the image and on the unix port
invoke boards / invoke plugins   what is there to choose from
invoke disk.create IMG --fs lfs  a disk image (also disk.ls, disk.cat, disk.cp)
invoke clean                     remove build/
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from invoke import Collection, Context, Exit, Task, task

from pyunik import board as boards
from pyunik import build as builder
from pyunik import disk as disks
from pyunik import paths, sizes, sources, vm
from pyunik.board import ROOT, BoardError
from pyunik.build import BuildError
from pyunik.disk import DiskError
from pyunik.libvirt_domain import DomainError
from pyunik.libvirtd import LibvirtdError
from pyunik.plugins import PluginManager
from pyunik.vm import VmError

F = TypeVar("F", bound=Callable[..., Any])


def _rigs(task: str) -> None:
    """The rigs (rigs/: the Xen rig, the conformance driver) live in a checkout,
    not in an installed pyunik; one line says so instead of an ImportError."""
    if not paths.CHECKOUT:
        raise BuildError(f"{task} needs pyunik's rigs (rigs/ of a pyunik checkout); an installed pyunik has none")


def _known_errors() -> tuple[type[Exception], ...]:
    product: tuple[type[Exception], ...] = (
        BoardError,
        BuildError,
        VmError,  # the Xen rig's XenRigError too
        sources.SourcesError,
        DomainError,
        LibvirtdError,
        DiskError,
        sizes.SizeError,
    )
    if not paths.CHECKOUT:
        return product
    from rigs.conformance import ConformanceError

    return (*product, ConformanceError)


def _one_line_errors(fn: F) -> F:
    """Known errors become one line on stderr and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _known_errors() as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


@task
@_one_line_errors
def deps(c: Context) -> None:
    """Fetch the pinned upstream sources (MicroPython 1.25.0, lwIP 2.2.1) into deps/ (installed: the cache)."""
    trees = sources.ensure_sources(ROOT)
    for name, path in trees.items():
        print(f"{name}: {path}")
    missing = [tool for tool in ("make", "gcc", vm.QEMU, "readelf") if shutil.which(tool) is None]
    if missing:
        print(f"missing tools: {', '.join(missing)}; run ./bootstrap.sh", file=sys.stderr)
        raise Exit(code=2)


APP_HELP = "directory with main.py (and maybe manifest.py, app.toml) to freeze into the image"
AFTER_MAIN_HELP = "after main.py: shutdown (exit with its status) or repl (default: the app's app.toml, else shutdown)"


def _app(app: str, after_main: str) -> builder.App | None:
    if not app:
        if after_main:
            raise BuildError("--after-main goes with --app")
        return None
    return builder.App.load(Path(app), after_main or None)


def _board_dirs(app: str = "") -> tuple[Path, ...]:
    """An app's own boards/ (in the app's directory, or in the directory
    pyunik runs in), looked at before pyunik's."""
    here = [Path(app).resolve() / "boards"] if app else []
    here.append(Path.cwd().resolve() / "boards")
    return tuple(dict.fromkeys(d for d in here if d.is_dir() and d != boards.BOARDS_DIR))


def _board(name: str, app: str = "") -> boards.Board:
    """A board by name (the app's own boards/ first, then pyunik's) or a board file's path."""
    return boards.load(name, extra=_board_dirs(app))


def _shown(path: Path) -> str:
    """A path as the user can use it: from the current directory when under it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def _report(image: builder.Image) -> None:
    sizes = builder.section_sizes(image.elf)
    print(
        f"{_shown(image.elf)}: plugins {', '.join(image.plugins)}"
        + (f"; app {image.app.path.name} (after main: {image.app.after_main})" if image.app else "")
    )
    print("  " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + f"; stripped {image.stripped.stat().st_size} bytes")
    frozen = builder.frozen_sizes(image)
    print(f"  frozen bytecode {sum(frozen.values())} bytes: " + ", ".join(f"{k} {v}" for k, v in frozen.items()))


@task(
    help={
        "board": f"board name from boards/ (default {boards.DEFAULT_BOARD})",
        "app": APP_HELP,
        "after-main": AFTER_MAIN_HELP,
        "jobs": "parallel compile jobs (default: all cores)",
        "verbose": "show every compiler command",
        "seed": "shuffle the link order of objects and functions with this seed (code placed differently per seed)",
    }
)
@_one_line_errors
def build(
    c: Context,
    board: str = boards.DEFAULT_BOARD,
    app: str = "",
    after_main: str = "",
    jobs: int = 0,
    verbose: bool = False,
    seed: int = -1,
) -> None:
    """Build one PVH ELF for a board: build/BOARD/pyunik.elf; prints its sizes."""
    from pyunik import progress

    if seed < -1:
        raise SystemExit(f"error: --seed {seed}: a seed is a number >= 0")
    loaded, chosen = _board(board, app), _app(app, after_main)
    with progress.build_reporter() as report:
        image = builder.build(
            loaded, app=chosen, jobs=jobs or None, verbose=verbose, report=report, seed=None if seed < 0 else seed
        )
    _report(image)


@task(
    help={
        "board": f"board name from boards/ (default {boards.DEFAULT_BOARD})",
        "app": APP_HELP,
        "after-main": AFTER_MAIN_HELP,
        "accel": "tcg or kvm (default: the board's, auto = kvm only with VMX/SVM)",
        "memory": "guest RAM, as QEMU -m (default: the board's)",
        "cmdline": "kernel options (-append) before the app's arguments; words after -- become sys.argv[1:]",
        "on": "qemu (default: QEMU boots the image), xen (a PVH domU of real Xen 4.17, itself under QEMU) "
        "or libvirt (a transient domain of the libvirtd at qemu:///system)",
        "net": "a NIC (repeatable): user, user:hostfwd=tcp:127.0.0.1:8080-:80, or tap:IFNAME",
        "disk": "a disk image for the guest (virtio-blk); repeat for more disks",
    },
    iterable=["net", "disk"],
)
@_one_line_errors
def run(
    c: Context,
    board: str = boards.DEFAULT_BOARD,
    app: str = "",
    after_main: str = "",
    accel: str = "",
    memory: str = "",
    cmdline: str = "",
    on: str = "qemu",
    net: list[str] | None = None,
    disk: list[str] | None = None,
) -> None:
    """Build and boot under QEMU, console on this terminal (Ctrl-] quits); exits with the guest's status.

    `invoke run --app DIR -- a b` passes a, b to the app as sys.argv[1:].
    `--on xen` boots it as a PVH domU of the Xen rig (rigs/xenrig.py); exit status 1 when it crashed.
    `--on libvirt` creates a transient libvirt domain from `invoke libvirt-xml`'s XML and attaches to
    its console; exit status 1 when libvirt saw a crash (any guest status but 0, see pyunik/libvirt_domain.py).
    """
    if on not in ("qemu", "xen", "libvirt"):
        raise BuildError(f"--on {on!r}: use qemu, xen or libvirt")
    loaded = _board(board, app)
    image = builder.build(loaded, app=_app(app, after_main))
    line = " ".join(part for part in (loaded.vm.cmdline, cmdline) if part)
    if c.remainder.strip():
        line = f"{line} -- {c.remainder.strip()}".strip()
    if on == "xen":
        _rigs("run --on xen")
        from rigs import xenrig

        status = xenrig.run_interactive(image.elf, loaded.name, memory=memory or loaded.memory, cmdline=line)
        if status:
            raise Exit(code=status)
        return
    if on == "libvirt":
        from pyunik import libvirt_domain

        nics = [libvirt_domain.Nic.parse(spec) for spec in net or []]
        xml = libvirt_domain.render(
            loaded,
            image.elf,
            _domain_name(image),
            memory=memory or None,
            cmdline=line,
            nics=nics,
            plugin_args=image.qemu_args,
        )
        print(f"creating libvirt domain {_domain_name(image)}; Ctrl-] quits", file=sys.stderr)
        ended = libvirt_domain.run_interactive(xml)
        print(f"\r\n[libvirt: {ended}]", file=sys.stderr)
        if "crashed" in ended:
            raise Exit(code=1)
        return
    command = vm.qemu_command(
        loaded,
        image.elf,
        serial="stdio",
        accel=accel or None,
        memory=memory or None,
        cmdline=line,
        plugin_args=image.qemu_args,
        net=net or (),
        extra=vm.disk_args(loaded, [Path(d) for d in disk or []]),
    )
    print(f"booting {loaded.name} ({command.accel}); Ctrl-] quits", file=sys.stderr)
    status = vm.run_interactive(command)
    print(f"\r\n[guest exit status {status}]", file=sys.stderr)
    if status:
        raise Exit(code=status)


@task(
    help={
        "board": f"board name from boards/ (default {boards.DEFAULT_BOARD})",
        "app": APP_HELP,
        "memory": "guest RAM, as QEMU -m (default: the board's)",
        "cmdline": "kernel options (-append)",
        "break": "where gdb stops first (default pvboot_main)",
    }
)
@_one_line_errors
def debug(
    c: Context,
    board: str = boards.DEFAULT_BOARD,
    app: str = "",
    memory: str = "",
    cmdline: str = "",
    break_: str = "pvboot_main",
) -> None:
    """Boot under QEMU's gdbstub and debug with gdb (the unstripped ELF, tools/gdb/pyunik.py helpers).

    The console is on a pty printed at the start; the useful gdb commands are in pyunik/debug.py.
    """
    from pyunik import debug as debugger

    if shutil.which(debugger.GDB) is None:
        raise VmError("gdb not found; fix: ./bootstrap.sh installs Debian's gdb")
    loaded = _board(board, app)
    image = builder.build(loaded, app=_app(app, ""))
    port = vm.free_port()
    command = vm.qemu_command(
        loaded,
        image.elf,
        memory=memory or None,
        cmdline=cmdline or None,
        plugin_args=image.qemu_args,
        gdb_port=port,
        wait_for_gdb=True,
    )
    running = vm.start_with_pty(command)
    try:
        print(f"console: {running.pty} (python -m serial.tools.miniterm {running.pty}); gdbstub 127.0.0.1:{port}")
        debugger.run_gdb(image.elf, port, [f"break {break_}", "continue"])
    finally:
        running.close()


@task(
    help={
        "unit": "host unit tests only (no image is booted)",
        "k": "only tests matching this pytest -k expression",
    }
)
def test(c: Context, unit: bool = False, k: str = "") -> None:
    """Run the host unit tests and the hardware-in-loop tests (QEMU).

    Ends with the skipped tests and why (-ra, and tests/conftest.py's list);
    with CI=true (as .ci/run sets) a skipped ci_required test fails the run.
    """
    args = [sys.executable, "-m", "pytest", "-ra", "tests/unit" if unit else "tests"]
    if k:
        args += ["-k", k]
    result = subprocess.run(args, cwd=ROOT)
    if result.returncode:
        raise Exit(code=result.returncode)


@task(
    help={
        "board": f"board name from boards/ (default {boards.DEFAULT_BOARD})",
        "dirs": "test directories of MicroPython's tests/, comma-separated (or after --); "
        "default: rigs/conformance.py's FULL_DIRS",
        "jobs": "parallel compile jobs (default: all cores)",
    }
)
@_one_line_errors
def conformance(c: Context, board: str = boards.DEFAULT_BOARD, dirs: str = "", jobs: int = 0) -> None:
    """MicroPython's own tests on the booted image and on the unix port, side by side.

    `invoke conformance -- basics float` runs those directories only. Reports and the
    failure lists go to build/conformance/BOARD/; tests pyunik deliberately does not run
    are in tests/conformance/skip.txt. Exits 1 if a test does worse on pyunik than on unix.
    """
    _rigs("conformance")
    from rigs import conformance as suite

    chosen = suite.split_dirs(f"{dirs} {c.remainder}") or suite.FULL_DIRS
    report = suite.run(boards.load(board), chosen, jobs=jobs or None, progress=print)
    print(suite.format_report(report))
    if report.regressions:
        raise Exit(code=1)


@task(
    help={
        "only": "comma-separated subset of: boot, size, memory, interpreter, asyncio, net, disk, xen, seal, entropy",
        "quick": "fewer runs and coarser bisection: under 5 minutes, what CI runs",
        "out": "directory for results.json and the PNGs (default build/bench)",
    }
)
@_one_line_errors
def bench(c: Context, only: str = "", quick: bool = False, out: str = "") -> None:
    """Benchmarks side by side (pyunik, a PVH floor, a Linux guest, the unix port): build/bench/results.json + PNGs."""
    from bench import common as bench_common
    from bench import run as bench_run

    status = bench_run.run(only, quick, Path(out) if out else bench_common.WORK)
    if status:
        raise Exit(code=status)


@task(name="boards")
@_one_line_errors
def list_boards(c: Context) -> None:
    """List the boards with their descriptions."""
    for name in boards.board_names(_board_dirs()):
        print(f"{name:16} {_board(name).description}")


@task(help={"board": "only the plugins this board selects, in init order"})
@_one_line_errors
def plugins(c: Context, board: str = "") -> None:
    """List plugins: capabilities, requirements and origin (built-in or package)."""
    manager = PluginManager()
    if board:
        chosen = [sel.plugin for sel in manager.resolve(_board(board))]
    else:
        chosen = sorted(manager.plugins.values(), key=lambda p: p.name)
    for plugin in chosen:
        info = plugin.info
        print(f"{info.name:16} {info.description}")
        print(
            f"{'':16} provides: {', '.join(info.provides) or '-'}; requires: {', '.join(info.requires) or '-'}; "
            f"from: {plugin.origin}"
        )


@task(
    name="xl-config",
    help={
        "board": "board to build (default xen-pvh)",
        "app": APP_HELP,
        "name": "domain name (default: pyunik-BOARD, or pyunik-APP)",
        "memory": "MiB of RAM (default: the board's memory)",
        "cmdline": "kernel command line; words after -- are the app's sys.argv[1:]",
        "output": "where to write it (default: beside the image, pyunik.cfg)",
        "net": "a vif, as xl's vif settings, e.g. bridge=xenbr0 (repeatable)",
        "disk": "a raw disk image, seen as xvda, xvdb ... (repeatable)",
    },
    iterable=["net", "disk"],
)
@_one_line_errors
def xl_config(
    c: Context,
    board: str = "xen-pvh",
    app: str = "",
    name: str = "",
    memory: int = 0,
    cmdline: str = "",
    output: str = "",
    net: list[str] | None = None,
    disk: list[str] | None = None,
) -> None:
    """Build the image and write an xl domain config for a real Xen host (type = "pvh")."""
    from pyunik import xlconfig

    loaded = _board(board, app)
    image = builder.build(loaded, app=_app(app, ""))
    memory_mb = memory or sizes.mebibytes(loaded.memory)
    domain = name or f"pyunik-{image.app.path.name if image.app else loaded.name}"
    try:
        text = xlconfig.render(
            image.elf,
            domain,
            memory_mb,
            cmdline=cmdline or loaded.vm.cmdline,
            nets=net or (),
            disks=[Path(d) for d in disk or ()],
        )
    except ValueError as exc:
        raise BuildError(str(exc)) from None
    target = Path(output) if output else image.elf.with_name("pyunik.cfg")
    target.write_text(text)
    print(f"{target}: xl create {target}")


def _domain_name(image: builder.Image) -> str:
    return f"pyunik-{image.app.path.name if image.app else image.board.name}"


@task(
    name="libvirt-xml",
    help={
        "board": f"board to build (default {boards.DEFAULT_BOARD})",
        "app": APP_HELP,
        "name": "domain name (default: pyunik-BOARD, or pyunik-APP)",
        "memory": "guest RAM, as QEMU -m (default: the board's)",
        "cmdline": "kernel command line; words after -- are the app's sys.argv[1:]",
        "net": "a virtio NIC: user, tap:IF, network:NAME or bridge:BR (repeatable)",
        "disk": "a raw disk image as a virtio disk (repeatable)",
        "on-crash": "what libvirt does when the guest fails: preserve (default), destroy, restart, ...",
        "output": "where to write it (default: beside the image, pyunik.xml)",
    },
    iterable=["net", "disk"],
)
@_one_line_errors
def libvirt_xml(
    c: Context,
    board: str = boards.DEFAULT_BOARD,
    app: str = "",
    name: str = "",
    memory: str = "",
    cmdline: str = "",
    net: list[str] | None = None,
    disk: list[str] | None = None,
    on_crash: str = "preserve",
    output: str = "",
) -> None:
    """Build the image and write a libvirt domain XML for it (virsh create FILE)."""
    from pyunik import libvirt_domain

    loaded = _board(board, app)
    nics = [libvirt_domain.Nic.parse(spec) for spec in net or []]
    disks = [Path(d) for d in disk or []]
    for image_file in disks:
        if not image_file.is_file():
            raise DomainError(f"--disk {image_file}: no such file; fix: give a raw disk image")
    image = builder.build(loaded, app=_app(app, ""))
    text = libvirt_domain.render(
        loaded,
        image.elf,
        name or _domain_name(image),
        memory=memory or None,
        cmdline=cmdline or loaded.vm.cmdline,
        nics=nics,
        disks=disks,
        plugin_args=image.qemu_args,
        on_crash=on_crash,
    )
    target = Path(output) if output else image.elf.with_name("pyunik.xml")
    target.write_text(text)
    print(f"{target}: virsh create {target} --console")


@task
def clean(c: Context) -> None:
    """Remove build/ (deps/ stays: it is the pinned sources, slow to fetch)."""
    shutil.rmtree(builder.BUILD_ROOT, ignore_errors=True)


@task(
    name="create",
    help={
        "image": "the image file to write",
        "fs": "lfs (littlefs, the default: power-loss safe) or fat (for interchange)",
        "size": "size, e.g. 16M (a multiple of 4 KiB)",
        "from": "a directory whose files go into the image",
    },
)
@_one_line_errors
def disk_create(c: Context, image: str, fs: str = "lfs", size: str = "16M", from_: str = "") -> None:
    """A new disk image with an empty filesystem (littlefs-python or mtools), maybe filled from a directory."""
    disks.create(Path(image), fs, disks.parse_size(size), Path(from_) if from_ else None)
    print(f"{image}: {fs}, {disks.parse_size(size)} bytes")


@task(name="ls", help={"image": "a disk image"})
@_one_line_errors
def disk_ls(c: Context, image: str) -> None:
    """List every file and directory in a disk image, with sizes."""
    for entry in disks.walk(Path(image)):
        print(f"{'dir' if entry.is_dir else entry.size:>10}  {entry.path}")


@task(name="cat", help={"image": "a disk image", "path": "the file inside it, e.g. /log.txt"})
@_one_line_errors
def disk_cat(c: Context, image: str, path: str) -> None:
    """Print a file of a disk image."""
    sys.stdout.buffer.write(disks.read(Path(image), path))
    sys.stdout.flush()


@task(
    name="cp",
    help={"image": "a disk image", "src": "a host file, or :PATH inside the image", "dst": "the same"},
)
@_one_line_errors
def disk_cp(c: Context, image: str, src: str, dst: str) -> None:
    """Copy a file into (`cp IMG host.txt :/a.txt`) or out of (`cp IMG :/a.txt host.txt`) a disk image."""
    if src.startswith(":") and not dst.startswith(":"):
        Path(dst).write_bytes(disks.read(Path(image), src[1:]))
    elif dst.startswith(":") and not src.startswith(":"):
        disks.write(Path(image), dst[1:], Path(src).read_bytes())
    else:
        raise DiskError("disk.cp: one side must be :PATH inside the image, the other a host file")


# Every task above is top-level but the disk ones, a collection: `invoke disk.create ...`.
_DISK_TASKS = (disk_create, disk_ls, disk_cat, disk_cp)
ns = Collection(*(t for t in list(globals().values()) if isinstance(t, Task) and t not in _DISK_TASKS))
ns.add_collection(Collection("disk", *_DISK_TASKS))
