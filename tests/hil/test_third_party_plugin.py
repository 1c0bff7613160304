"""A third-party plugin, pip-installed, selected by a board, built and booted.

examples/plugins/pyunik-rdrand is a separate package: its entry point makes
it a plugin, and it ships its C module and frozen Python inside itself.
Also shown here: code of a plugin a board does not select is not in its
image at all (nm on both ELFs).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import boot

from pyunik import board as boards
from pyunik import build

# The invoke of this Python environment (the venv), not whatever is on PATH.
INVOKE = [sys.executable, "-m", "invoke"]

PACKAGE = boards.ROOT / "examples" / "plugins" / "pyunik-rdrand"
BOARD_FILE = Path(__file__).parent / "boards" / "rdrand-test" / "board.toml"


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    """pip install the example plugin (not editable: its sources must travel
    inside the package), and uninstall it afterwards."""
    result = pip("install", "--quiet", str(PACKAGE))
    assert result.returncode == 0, result.stderr
    yield
    pip("uninstall", "--yes", "--quiet", "pyunik-rdrand")


@pytest.fixture(scope="module")
def rdrand_image(installed: None) -> Path:
    # A new process, as a user would run it: entry points are read afresh.
    result = subprocess.run(
        [*INVOKE, "build", "--board", str(BOARD_FILE)],
        cwd=boards.ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "plugins uart16550, tsc-clock, lapic-timer, isa-debug-exit, rdrand" in result.stdout
    return build.BUILD_ROOT / "rdrand-test" / "pyunik.elf"


def test_listed_with_its_origin(installed: None) -> None:
    result = subprocess.run([*INVOKE, "plugins"], cwd=boards.ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("rdrand "))
    assert "provides: entropy" in lines[at + 1]
    assert "from: pyunik-rdrand 0.1.0" in lines[at + 1]
    uart = next(i for i, line in enumerate(lines) if line.startswith("uart16550 "))
    assert "from: built-in" in lines[uart + 1]


def test_plugin_function_called_over_the_repl(rdrand_image: Path) -> None:
    image = build.build(boards.load(BOARD_FILE))  # the same, already built: make does nothing
    assert image.elf == rdrand_image
    assert "-cpu" in image.qemu_args  # the plugin's own QEMU arguments
    guest = boot(image)
    try:
        port = guest.console(timeout=20)
        port.read_until(b">>> ")
        port.write(b"import rdrand, entropy; a = rdrand.bytes(16); b = rdrand.bytes(16)\r")
        port.read_until(b">>> ")
        port.write(b"print(len(a), a != b, rdrand.available(), len(entropy.token()), rdrand.getrandbits(8) < 256)\r")
        reply = port.read_until(b">>> ")
        assert b"16 True True 32 True\r\n" in reply, reply
        port.close()
    finally:
        guest.stop()


def symbols(elf: Path) -> set[str]:
    """The image's symbol names, without the suffixes LTO gives the static ones
    it moves between units (rdrand_bytes_obj.lto_priv.0)."""
    out = subprocess.run(["nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1].split(".")[0] for line in out.splitlines() if line.split()}


def test_unselected_plugin_code_is_absent(rdrand_image: Path, image_for) -> None:  # type: ignore[no-untyped-def]
    plain = image_for(boards.DEFAULT_BOARD).elf
    with_rdrand = symbols(rdrand_image)
    without = symbols(plain)
    plugin_symbols = {"mp_module_rdrand", "rdrand_bytes_obj", "rdrand_getrandbits_obj"}
    assert plugin_symbols <= with_rdrand
    assert not plugin_symbols & without
    # And the other way round: both images have the console driver they select.
    assert "uart_console" in with_rdrand and "uart_console" in without
