"""Smoke tests of the Xen rig itself: dom0 boots, PVH domUs run one after
another in it, their console reaches pytest-embedded's dut raw in both
directions, and xl's shutdown reason comes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigs.xenrig import XenRig

HELLO = b"pvhtest: hello from a PVH domU"


def test_dom0_runs_the_toolstack(xen_rig: XenRig) -> None:
    info = xen_rig.xl("info")
    assert "xen_version            : 4.17" in info
    assert "Domain-0" in xen_rig.xl("list")


def test_domu_console_and_poweroff(xen_rig: XenRig, pvhtest_elf: Path, dut, stopwatch) -> None:  # type: ignore[no-untyped-def]
    stopwatch.reset()
    domain = xen_rig.create(pvhtest_elf, "pvhtest", memory_mb=8, cmdline="hello")
    dut.expect_exact(HELLO + b"; cmdline: hello", timeout=30)
    stopwatch.lap("create -> first console line")
    assert domain.wait_shutdown(timeout=30) == "poweroff"
    stopwatch.lap("console line -> poweroff seen, destroyed")
    assert "pvhtest" not in xen_rig.domains()


@pytest.mark.parametrize(("cmdline", "reason"), [("crash", "crash"), ("reboot", "reboot"), ("fault", "reboot")])
def test_shutdown_reasons(xen_rig: XenRig, pvhtest_elf: Path, dut, cmdline: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    """One dom0, several domUs; a triple fault is Xen's "reboot"."""
    domain = xen_rig.create(pvhtest_elf, f"pvhtest-{cmdline}", memory_mb=8, cmdline=cmdline)
    dut.expect_exact(HELLO, timeout=30)
    assert domain.wait_shutdown(timeout=30) == reason


def test_console_passes_control_characters(xen_rig: XenRig, pvhtest_elf: Path, dut, stopwatch) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-A..E (raw REPL), Ctrl-C, Ctrl-], XON/XOFF, NUL, CR, LF and DEL
    all reach the domU unchanged: neither Xen, nor dom0's ttys, nor the
    bridge eats or translates them."""
    stopwatch.reset()
    domain = xen_rig.create(pvhtest_elf, "pvhtest-echo", memory_mb=8, cmdline="echo")
    dut.expect_exact(b"pvhtest: echo\n", timeout=30)
    # A lone Ctrl-] first: xl console's client would quit on it.
    dut.serial.proc.write(b"\x1d")
    dut.expect_exact(b"<1d>", timeout=30)
    keys = bytes([1, 2, 3, 4, 5, 0x1D, 0x11, 0x13, 0, 0x0D, 0x0A, 0x7F])
    dut.serial.proc.write(keys + b"q")
    dut.expect_exact("".join(f"<{k:02x}>" for k in keys).encode(), timeout=30)
    dut.expect_exact(b"pvhtest: end of echo\n", timeout=30)
    assert domain.wait_shutdown(timeout=30) == "poweroff"
    stopwatch.lap("echo domain, create -> poweroff")
