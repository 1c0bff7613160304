"""The plugin contract: what a pyunik plugin tells the build.

A plugin is any Python module or object registered under the ``pyunik``
entry-point group (built-in plugins are declared the same way in
pyproject.toml). It implements up to three hooks:

``pyunik_plugin()``
    Who it is: a :class:`PluginInfo` with its name, what it provides and
    requires, and the options a board may set for it. Required.
``pyunik_validate_options(board, options)``
    Extra checks on the options a board gives it, beyond the declared
    schema; returns a list of error messages (empty when all is well).
``pyunik_component(board, options)``
    What it puts into the image for this board: a :class:`Component`.
    Called only for the plugins the board selects (and what they require).

Device-side code (C sources, frozen Python) lives inside the plugin's own
package, as package data: ``pyunik_plugins/device/<name>/`` for the built-in
ones (the repository's modules/), the plugin's package for third-party ones;
the plugin only says when and how it goes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pyunik.board import Board

PROJECT = "pyunik"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Capabilities of which a board may have only one provider.
#: (Consoles and wall clocks may be several: each finds its hardware at run
#: time, which is how one xen-pvh image runs on Xen and on plain QEMU.)
EXCLUSIVE_CAPABILITIES = frozenset({"clock", "timer", "netstack"})


@dataclass(frozen=True)
class Option:
    """One board option of a plugin: its type, default and help text.

    ``type`` is one of ``int``, ``str``, ``bool``; ``choices`` restricts the
    allowed values; ``minimum``/``maximum`` bound an int.
    """

    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class PluginInfo:
    """Who a plugin is.

    ``provides`` and ``requires`` name capabilities (``console``, ``clock``,
    ``netif``, ``blockdev`` ...) or other plugins by name.
    """

    name: str
    description: str
    provides: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    options: dict[str, Option] = field(default_factory=dict)


@dataclass
class Component:
    """What one plugin contributes to one board's image.

    Paths are absolute. ``defines`` become ``#define`` lines in the generated
    board_config.h (values are C tokens: quote strings yourself, or use
    :func:`c_string`). ``init`` is a C function ``void init(void)`` that the
    generated board_init.c calls at boot; ``init_order`` sorts those calls
    (lower first; consoles use 10 so that later errors are visible).
    ``frozen`` is a list of paths to freeze: a .py file is a MicroPython
    module, a directory a package. ``qemu_args`` are added to the QEMU command line of boards that
    select this plugin. ``make_vars`` are variables for MicroPython's make
    rules (e.g. ``MICROPY_VFS_LFS2 = 1`` compiles littlefs in), written to
    board.mk.
    """

    c_sources: list[Path] = field(default_factory=list)
    include_dirs: list[Path] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    frozen: list[Path] = field(default_factory=list)
    init: str | None = None
    init_order: int = 50
    qemu_args: list[str] = field(default_factory=list)
    make_vars: dict[str, str] = field(default_factory=dict)


def c_string(value: str) -> str:
    """``value`` as a C string literal, for :attr:`Component.defines`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class PyunikSpec:
    """The hooks. Implementations use :data:`hookimpl`."""

    @hookspec(firstresult=True)
    def pyunik_plugin(self) -> PluginInfo:  # type: ignore[empty-body]
        """Return this plugin's :class:`PluginInfo`."""

    @hookspec(firstresult=True)
    def pyunik_validate_options(  # type: ignore[empty-body]
        self, board: Board, options: dict[str, Any]
    ) -> list[str]:
        """Return error messages about ``options`` (already schema-checked)."""

    @hookspec(firstresult=True)
    def pyunik_component(  # type: ignore[empty-body]
        self, board: Board, options: dict[str, Any]
    ) -> Component:
        """Return what this plugin puts into ``board``'s image."""
