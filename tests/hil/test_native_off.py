"""Board key ``native = "off"`` (issue 16, item 4): MicroPython's native and
viper emitters are left out of the image, so no code is generated at run
time at all. The default board keeps them in a sealed arena (test_seal.py's
viper probe); here the image must not contain the x64 emitter, and the
decorators must be refused at compile time."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Guest, boot
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from pyunik import board as boards
from pyunik import build

BOARD_FILE = Path(__file__).parent / "boards" / "native-off" / "board.toml"
EMITTER = "emit_native_x64_method_table"


def symbols(elf: Path) -> set[str]:
    with elf.open("rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        assert isinstance(table, SymbolTableSection), f"{elf} has no symbol table"
        return {s.name for s in table.iter_symbols()}


@pytest.fixture(scope="module")
def native_off() -> build.Image:
    return build.build(boards.load(BOARD_FILE))


def test_the_emitter_is_left_out(native_off: build.Image, image_for) -> None:  # type: ignore[no-untyped-def]
    assert EMITTER not in symbols(native_off.elf)
    assert "native_arena_commit" not in symbols(native_off.elf)
    # The same check sees it in the default (sealed) image: it can fail.
    assert EMITTER in symbols(image_for(boards.DEFAULT_BOARD).elf)


@pytest.mark.parametrize("decorator", ["viper", "native"])
def test_native_decorators_are_a_syntax_error(native_off: build.Image, decorator: str) -> None:
    guest: Guest = boot(native_off)
    try:
        console = guest.console(timeout=30)
        assert console.read_until(b">>> ").endswith(b">>> ")
        console.write(b"import micropython\r")
        assert console.read_until(b">>> ").endswith(b">>> ")
        console.write(f"@micropython.{decorator}\rdef f(): return 42\r\r".encode())
        out = console.read_until(b"\r\n>>> ")
        assert b"SyntaxError: invalid micropython decorator" in out, out
        console.write(b"print(6 * 7)\r")
        assert console.read_until(b">>> ").endswith(b"42\r\n>>> ")
    finally:
        guest.stop()
