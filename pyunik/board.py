"""Boards: ``boards/<name>/board.toml``, loaded and validated.

A board says which machine an image is for: its plugins (with their
options), its memory, an optional default app, and how QEMU starts it::

    name = "qemu-microvm"
    description = "QEMU microvm: the smallest machine, 16550 UART console"
    arch = "x86_64"
    memory = "32M"

    [plugins]
    uart16550 = {}                  # or { port = 0x2f8 }

    [vm]
    machine = "microvm"
    args = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]

Two keys decide how the image protects itself (issue 16), both optional:
``native = "sealed"`` (the default) keeps MicroPython's native and viper
emitters and puts their code in an arena whose pages are read-write or
read-execute, never both; ``native = "off"`` leaves the emitters out.
``seal = true`` (the default) maps the image W^X (code read-execute,
read-only data and frozen bytecode read-only, everything else no-execute,
page 0 and what nobody asked for unmapped, page tables read-only after
boot). ``seal = false`` keeps the boot map of 2 MiB read-write-execute
pages and native code on the heap: it exists so that the bench can measure
what sealing costs, and is not for deployment.

Every mistake is reported as one :class:`BoardError` line naming the file,
the key and the fix, never as a traceback.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyunik import sizes
from pyunik.paths import ROOT

BOARDS_DIR = ROOT / "boards"
DEFAULT_BOARD = "qemu-microvm"

MACHINES = ("microvm", "q35", "pc")
ACCELS = ("auto", "tcg", "kvm")
NATIVE = ("sealed", "off")


class BoardError(Exception):
    """A board that cannot be used; the message is one line, ready to print."""


@dataclass(frozen=True)
class VmSettings:
    """How QEMU starts this board."""

    machine: str = "microvm"
    accel: str = "auto"
    args: tuple[str, ...] = ()
    cmdline: str = ""


@dataclass(frozen=True)
class Board:
    """A validated board file."""

    name: str
    description: str
    path: Path
    arch: str = "x86_64"
    memory: str = "32M"
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)
    app: Path | None = None
    vm: VmSettings = field(default_factory=VmSettings)
    native: str = "sealed"
    seal: bool = True

    def where_file(self) -> str:
        """The board file as error messages name it."""
        return _display(self.path)

    def where(self, key: str) -> str:
        """``file: key 'key'`` - the start of an error message about key."""
        return f"{_display(self.path)}: key '{key}'"


# The schema of board.toml: key -> (expected type, what it means).
_TOP_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "the board's name, the same as its directory"),
    "description": (str, "one line saying what the board is"),
    "arch": (str, 'the CPU architecture: "x86_64"'),
    "memory": (str, 'guest RAM as QEMU -m takes it, e.g. "32M"'),
    "plugins": (dict, "a table: plugin name = { options }"),
    "app": (str, "a directory to freeze as the default app, relative to the repository"),
    "vm": (dict, "a table: machine, accel, args, cmdline"),
    "native": (str, f"MicroPython's native/viper emitters: one of {', '.join(NATIVE)}"),
    "seal": (bool, "W^X page tables and the sealed native arena (false only to measure their cost)"),
}
_VM_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "machine": (str, f"the QEMU machine: one of {', '.join(MACHINES)}"),
    "accel": (str, f"the accelerator: one of {', '.join(ACCELS)}"),
    "args": (list, "extra QEMU arguments, a list of strings"),
    "cmdline": (str, "the kernel command line (-append)"),
}
_TYPE_NAMES = {str: "a string", dict: "a table", list: "a list", int: "an integer", bool: "true or false"}


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _check_keys(
    path: Path,
    table: dict[str, Any],
    schema: dict[str, tuple[type | tuple[type, ...], str]],
    prefix: str = "",
) -> None:
    for key, value in table.items():
        full = f"{prefix}{key}"
        if key not in schema:
            close = difflib.get_close_matches(key, schema, n=1)
            hint = (
                f"did you mean '{prefix}{close[0]}'?"
                if close
                else f"allowed keys: {', '.join(prefix + k for k in schema)}"
            )
            raise BoardError(f"{_display(path)}: key '{full}' is unknown; fix: remove it ({hint})")
        expected, meaning = schema[key]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            want = _TYPE_NAMES.get(expected, str(expected))  # type: ignore[call-overload]
            raise BoardError(f"{_display(path)}: key '{full}' is {_type_name(value)}; fix: make it {want} ({meaning})")


def _search(extra: tuple[Path, ...]) -> tuple[Path, ...]:
    """Board directories, first match wins: ``extra`` (an app's own boards/), then pyunik's."""
    return (*extra, BOARDS_DIR)


def board_names(extra: tuple[Path, ...] = ()) -> list[str]:
    """The boards in boards/ (and in the directories ``extra``), sorted."""
    return sorted({p.parent.name for d in _search(extra) for p in d.glob("*/board.toml")})


def board_path(name: str, extra: tuple[Path, ...] = ()) -> Path:
    """The board file of ``name``; an unknown name lists the known ones."""
    for directory in _search(extra):
        path = directory / name / "board.toml"
        if path.is_file():
            return path
    names = board_names(extra)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise BoardError(f"unknown board '{name}'{hint}; boards: {', '.join(names) or 'none'}")


def load(name_or_path: str | Path, extra: tuple[Path, ...] = ()) -> Board:
    """Load and validate a board by name (boards/NAME, or NAME in one of the
    board directories ``extra``, looked at first) or by file path."""
    text_path = str(name_or_path)
    if text_path.endswith(".toml") or "/" in text_path:
        path = Path(name_or_path).resolve()
        if not path.is_file():
            raise BoardError(f"{_display(path)}: no such board file")
    else:
        path = board_path(text_path, extra)
    return parse(path, path.read_text(encoding="utf-8"))


def parse(path: Path, text: str) -> Board:
    """Validate the TOML ``text`` of board file ``path``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{_display(path)}: not valid TOML: {exc}; fix the syntax there") from None

    _check_keys(path, data, _TOP_KEYS)
    for required in ("name", "description"):
        if required not in data:
            _, meaning = _TOP_KEYS[required]
            raise BoardError(f"{_display(path)}: key '{required}' is missing; fix: add {required} = ... ({meaning})")
    if path.name == "board.toml" and data["name"] != path.parent.name:
        raise BoardError(
            f"{_display(path)}: key 'name' is '{data['name']}'; fix: make it '{path.parent.name}', "
            "the name of the board's directory"
        )
    arch = data.get("arch", "x86_64")
    if arch != "x86_64":
        raise BoardError(f"{_display(path)}: key 'arch' is '{arch}'; fix: make it \"x86_64\", the only one supported")
    memory = data.get("memory", "32M")
    if not sizes.is_memory(memory):
        raise BoardError(f"{_display(path)}: key 'memory' is '{memory}'; fix: give a size like \"32M\" or \"1434K\"")

    plugins: dict[str, dict[str, Any]] = {}
    for plugin, options in data.get("plugins", {}).items():
        if not isinstance(options, dict):
            raise BoardError(
                f"{_display(path)}: key 'plugins.{plugin}' is {_type_name(options)}; "
                "fix: make it a table of options, {} when there are none"
            )
        plugins[plugin] = dict(options)

    vm_data = data.get("vm", {})
    _check_keys(path, vm_data, _VM_KEYS, prefix="vm.")
    machine = vm_data.get("machine", "microvm")
    if machine not in MACHINES:
        raise BoardError(f"{_display(path)}: key 'vm.machine' is '{machine}'; fix: use one of {', '.join(MACHINES)}")
    accel = vm_data.get("accel", "auto")
    if accel not in ACCELS:
        raise BoardError(f"{_display(path)}: key 'vm.accel' is '{accel}'; fix: use one of {', '.join(ACCELS)}")
    args = vm_data.get("args", [])
    if not all(isinstance(a, str) for a in args):
        raise BoardError(f"{_display(path)}: key 'vm.args' has a non-string item; fix: quote every argument")

    native = data.get("native", "sealed")
    if native not in NATIVE:
        raise BoardError(
            f"{_display(path)}: key 'native' is '{native}'; fix: use \"sealed\" (native and viper code in a "
            'W^X arena) or "off" (no native emitters)'
        )

    app = None
    if "app" in data:
        app = (ROOT / data["app"]).resolve()
        if not data["app"].strip() or not app.is_dir() or app == ROOT:
            raise BoardError(
                f"{_display(path)}: key 'app' is '{data['app']}', not a directory; fix: name an app directory"
            )

    return Board(
        name=data["name"],
        description=data["description"],
        path=path,
        arch=arch,
        memory=memory,
        plugins=plugins,
        app=app,
        vm=VmSettings(machine=machine, accel=accel, args=tuple(args), cmdline=vm_data.get("cmdline", "")),
        native=native,
        seal=data.get("seal", True),
    )
