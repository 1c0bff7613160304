"""Board files written for the plugin tests: a small board with the given
plugins on top of the console and clock ones, and the one line a board that
cannot be resolved gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyunik.board import Board, parse
from pyunik.plugins import PluginError, PluginManager

#: What every test board has besides the plugins under test.
BASE = "uart16550 = {}\ntsc-clock = {}\nlapic-timer = {}\n"


def make_board(tmp_path: Path, plugins: str, machine: str = "microvm", name: str = "n") -> Board:
    """A board NAME in tmp_path/NAME/board.toml with BASE plus ``plugins`` (TOML lines)."""
    path = tmp_path / name / "board.toml"
    return parse(
        path, f'name = "{name}"\ndescription = "d"\n\n[plugins]\n{BASE}{plugins}\n[vm]\nmachine = "{machine}"\n'
    )


def resolve_error(board: Board) -> str:
    """The PluginError resolving ``board`` gives: one line that names the board file."""
    with pytest.raises(PluginError) as info:
        PluginManager().resolve(board)
    message = str(info.value)
    assert "\n" not in message and str(board.path) in message, message
    return message
