"""Hardware-in-loop fixtures: boot the real image in QEMU, talk over serial.

Each test gets a freshly booted guest (a boot costs tens of milliseconds)
with its console on a pty. pytest-embedded's serial service reads that pty:
the ``port`` fixture below hands it the path, and ``dut`` is pytest-embedded's
own. ``repl`` wraps ``dut`` with the keys a MicroPython user types (Enter is
CR; pytest-embedded's ``dut.write`` appends LF, which the REPL ignores).

The board under test is qemu-microvm unless PYUNIK_TEST_BOARD says otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import serial

from pyunik import board as boards
from pyunik import build, vm

BOARD = os.environ.get("PYUNIK_TEST_BOARD", boards.DEFAULT_BOARD)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/hil/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.hil)
            # CI provisions QEMU and every tool these use: a skip there fails (tests/conftest.py).
            item.add_marker(pytest.mark.ci_required)


@pytest.fixture(scope="session")
def images() -> dict[str, build.Image]:
    """Images built once per session, by board name."""
    if shutil.which(vm.QEMU) is None:
        pytest.skip(f"{vm.QEMU} is not installed (./bootstrap.sh installs it)")
    return {}


APPS = Path(__file__).parent / "apps"
EXAMPLES = boards.ROOT / "examples"


@pytest.fixture(scope="session")
def image_for(images: dict[str, build.Image]):  # type: ignore[no-untyped-def]
    """image_for(board, app_dir=None): built once per session."""

    def get(name: str, app: Path | None = None) -> build.Image:
        key = f"{name}+{app}" if app else name
        if key not in images:
            images[key] = build.build(boards.load(name), app=build.App.load(app) if app else None)
        return images[key]

    return get


@dataclass
class Guest:
    """A booted image: the QEMU process and its console pty."""

    board: boards.Board
    running: vm.Running
    argv: tuple[str, ...] = field(default=())

    @property
    def pty(self) -> str:
        return self.running.pty

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.running.proc

    def console(self, timeout: float | None = None) -> serial.Serial:
        """The console, with everything the guest printed (vm.Running.console)."""
        return self.running.console(timeout)

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for QEMU to exit; returns the guest's exit status."""
        self.proc.wait(timeout=timeout)
        return vm.guest_status(self.proc.returncode)

    def stop(self) -> None:
        self.running.close()


def boot(
    image: build.Image,
    memory: str | None = None,
    cmdline: str | None = None,
    disks: tuple[Path, ...] = (),
    blkdebug: Path | None = None,
) -> Guest:
    command = vm.qemu_command(
        image.board,
        image.elf,
        serial="stdio",
        memory=memory,
        cmdline=cmdline,
        plugin_args=image.qemu_args,
        extra=vm.disk_args(image.board, disks, blkdebug),
    )
    return Guest(image.board, vm.start_with_pty(command), command.argv)


@pytest.fixture
def guest(image_for) -> Iterator[Guest]:  # type: ignore[no-untyped-def]
    """The default board's image, booted, console on a pty."""
    running = boot(image_for(BOARD))
    yield running
    running.stop()


@pytest.fixture
def port(guest: Guest) -> serial.Serial:
    """pytest-embedded's serial service reads this: the guest's console, an
    open port (pytest-embedded would flush a path it opens itself, and with
    it a banner printed before the test attached)."""
    return guest.console()


class Repl:
    """Type at the MicroPython REPL through pytest-embedded's dut."""

    def __init__(self, dut) -> None:  # type: ignore[no-untyped-def]
        self.dut = dut

    def keys(self, data: str | bytes) -> None:
        """Send bytes exactly as typed (no line ending added)."""
        raw = data.encode() if isinstance(data, str) else data
        self.dut.serial.proc.write(raw)

    def line(self, text: str) -> None:
        """Type a line and press Enter."""
        self.keys(text + "\r")

    def expect(self, pattern: str | bytes, timeout: float = 20) -> bytes:
        raw = pattern.encode() if isinstance(pattern, str) else pattern
        self.dut.expect_exact(raw, timeout=timeout)
        return raw

    def run(self, text: str, timeout: float = 20) -> str:
        """Type one line, wait for the next prompt; returns what was printed."""
        self.line(text)
        self.dut.expect_exact(b"\r\n", timeout=timeout)  # the echo of the line
        match = self.dut.expect(rb"([\s\S]*?)>>> ", timeout=timeout)
        return match.group(1).decode(errors="replace")


@pytest.fixture
def repl(dut) -> Repl:  # type: ignore[no-untyped-def]
    """The friendly REPL of a freshly booted guest, at its first prompt."""
    r = Repl(dut)
    r.expect(">>> ")
    return r
