"""Plugins declare every plugin they need.

Checked on the objects of real builds: every symbol a plugin's object files
leave undefined and another plugin's objects define belongs to a plugin it
requires (by name or by a capability, transitively). A plugin that calls
into one it does not require would not link on a board without that one
(as `xen` once called xen-console's flush).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pyunik import board as boards
from pyunik.plugins import PluginManager


def symbols(obj: Path, undefined: bool) -> set[str]:
    flag = "--undefined-only" if undefined else "--defined-only"
    # gcc-nm reads the symbol tables of LTO objects too.
    out = subprocess.run(["gcc-nm", flag, str(obj)], capture_output=True, text=True, check=True).stdout
    # Defined: global symbols only (upper-case types); a static of the same name is no link.
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return {row[-1] for row in rows if undefined or (len(row) >= 2 and row[-2].isupper())}


@pytest.mark.parametrize("board", ["qemu-microvm-net", "xen-pvh"])
def test_each_plugin_requires_what_it_calls(image_for, board: str) -> None:  # type: ignore[no-untyped-def]
    image = image_for(board)
    manager = PluginManager()
    loaded = boards.load(board)
    selected = manager.components(loaded, manager.resolve(loaded))
    objects: dict[str, list[Path]] = {}
    for sel, component in selected:
        found = []
        for source in map(Path.resolve, component.c_sources):
            if source.is_relative_to(boards.ROOT):
                found.append(image.build_dir / source.relative_to(boards.ROOT).with_suffix(".o"))
        objects[sel.name] = found
    assert all(o.is_file() for objs in objects.values() for o in objs), objects
    defines = {name: set().union(*(symbols(o, undefined=False) for o in objs)) for name, objs in objects.items()}
    plugins = {sel.name: sel.plugin for sel, _ in selected}

    def needed(name: str, seen: set[str]) -> set[str]:
        for need in plugins[name].info.requires:
            for other, plugin in plugins.items():
                if other not in seen and (other == need or need in plugin.info.provides):
                    seen.add(other)
                    needed(other, seen)
        return seen

    for name, objs in objects.items():
        undefined = set().union(*(symbols(o, undefined=True) for o in objs))
        allowed = needed(name, {name})
        for other, defined in defines.items():
            wrong = sorted(undefined & defined) if other not in allowed else []
            assert not wrong, f"plugin '{name}' calls {wrong} of plugin '{other}', which it does not require"
