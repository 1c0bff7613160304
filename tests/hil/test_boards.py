"""Every board boots to a working prompt; the board module says which."""

from __future__ import annotations

import pytest
from conftest import boot

from pyunik import board as boards


@pytest.mark.parametrize("name", boards.board_names())
def test_board_boots_to_prompt(name: str, image_for) -> None:  # type: ignore[no-untyped-def]

    guest = boot(image_for(name))
    try:
        port = guest.console(timeout=20)
        seen = port.read_until(b">>> ")
        assert seen.endswith(b">>> "), seen
        assert f"; {name} with x86_64".encode() in seen
        port.write(b"import board; print(board.name, board.plugins)\r")
        reply = port.read_until(b">>> ")
        expected = tuple(image_for(name).plugins)
        assert f"{name} {expected!r}".encode() in reply, reply
        port.close()
    finally:
        guest.stop()
