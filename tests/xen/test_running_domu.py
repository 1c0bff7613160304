"""The Xen tests against a domU that is already running, on a real Xen host.

Start the xen-pvh image there (`invoke xl-config --board xen-pvh`, then
`xl create -c`, or expose its console as a pty or serial port) and point
the test at that console:

    PYUNIK_DOMU_PORT=/dev/pts/5 PYUNIK_DOMU_NAME=pyunik-xen-pvh pytest tests/xen/test_running_domu.py

pytest-embedded's serial service opens the port. Without PYUNIK_DOMU_PORT
these tests are skipped, saying so.
"""

from __future__ import annotations

import os

import pytest

PORT = os.environ.get("PYUNIK_DOMU_PORT", "")
NAME = os.environ.get("PYUNIK_DOMU_NAME", "")

# CI has no real Xen host: these may skip there (ci_optional, tests/conftest.py).
pytestmark = [
    pytest.mark.ci_optional,
    pytest.mark.skipif(not PORT, reason="set PYUNIK_DOMU_PORT to a running xen-pvh domU's console"),
]


@pytest.fixture
def port() -> str:
    return PORT


def run(dut, line: str, timeout: float = 30) -> str:  # type: ignore[no-untyped-def]
    dut.serial.proc.write(line.encode() + b"\r")
    dut.expect_exact(b"\r\n", timeout=timeout)
    return dut.expect(rb"([\s\S]*?)>>> ", timeout=timeout).group(1).decode(errors="replace")


def sync(dut) -> None:  # type: ignore[no-untyped-def]
    """Whatever the domU was doing: back to the friendly REPL, past any
    output still buffered (a banner, an earlier session's prompt)."""
    dut.serial.proc.write(b"\x03\x02\rprint('SYNC' + 'ED')\r")
    dut.expect_exact(b"SYNCED\r\n>>> ", timeout=30)


def test_repl_and_xenstore(dut) -> None:  # type: ignore[no-untyped-def]
    sync(dut)
    assert run(dut, "print(6 * 7)").strip() == "42"
    out = run(dut, "import xen; print(xen.present(), xen.store.read('name'))").strip()
    assert out.startswith("True ")
    if NAME:
        assert out == f"True {NAME}"


def test_raw_repl(dut) -> None:  # type: ignore[no-untyped-def]
    sync(dut)
    dut.serial.proc.write(b"\r\x01")
    dut.expect_exact(b"raw REPL; CTRL-B to exit\r\n>", timeout=30)
    dut.serial.proc.write(b"print(sum(range(10)))\x04")
    dut.expect_exact(b"OK45\r\n\x04\x04>", timeout=30)
    dut.serial.proc.write(b"\x02")
    dut.expect_exact(b">>> ", timeout=30)
