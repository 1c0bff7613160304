"""The xen-pvh image as a real Xen 4.17 PVH domU (the rig: rigs/xenrig.py).

The REPL over the PV console, xenstore from Python, asyncio sleeps woken by
the timer while the domain idles, and the shutdown reasons xl sees.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyunik import board as boards
from pyunik import build
from rigs.xenrig import Domain, XenRig

APPS = Path(__file__).parent.parent / "hil" / "apps"
EXAMPLES = boards.ROOT / "examples"


@pytest.fixture(scope="session")
def xen_image():  # type: ignore[no-untyped-def]
    """image(app=None): xen-pvh images, built once per session each."""
    built: dict[Path | None, build.Image] = {}

    def get(app: Path | None = None) -> build.Image:
        if app not in built:
            built[app] = build.build(boards.load("xen-pvh"), app=build.App.load(app) if app else None)
        return built[app]

    return get


class Console:
    """The domU's console through pytest-embedded's dut (Enter is CR)."""

    def __init__(self, dut) -> None:  # type: ignore[no-untyped-def]
        self.dut = dut

    def keys(self, data: bytes) -> None:
        self.dut.serial.proc.write(data)

    def run(self, line: str, timeout: float = 30) -> str:
        self.keys(line.encode() + b"\r")
        self.dut.expect_exact(b"\r\n", timeout=timeout)
        return self.dut.expect(rb"([\s\S]*?)>>> ", timeout=timeout).group(1).decode(errors="replace")


def expect_prompt(domain: Domain, dut, when: str = "at boot", timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    """The domU's ``>>>``; if it does not come, a failure that shows what
    the domU, xl, the backends and the console bridge were doing (CI saw
    domUs with disks that printed nothing, with nothing else to go on)."""
    try:
        dut.expect_exact(b">>> ", timeout=timeout)
    except Exception as exc:  # pexpect's TIMEOUT or EOF
        raise AssertionError(f"{domain.name} ({when}) printed no >>> in {timeout} s\n{domain.diagnosis()}") from exc


def test_repl_over_the_pv_console(xen_rig: XenRig, xen_image, dut, stopwatch) -> None:  # type: ignore[no-untyped-def]
    image = xen_image()
    stopwatch.reset()
    domain = xen_rig.create(image.elf, "pyunik-repl", memory_mb=32)
    boot = dut.expect(rb"([\s\S]*?)MicroPython v1.25.0 on ", timeout=60).group(1)
    # xen-pvh has netfront and blkfront: with no vif and no vbd they say
    # nothing (virtio-net is quiet on Xen too); lwIP and storage each say in
    # one line that there is nothing to use.
    assert b"xen-netfront" not in boot and b"xen-blkfront" not in boot and b"virtio" not in boot, boot
    assert b"lwip: no network interface found" in boot, boot
    dut.expect_exact(b"; xen-pvh with x86_64\r\n", timeout=30)
    dut.expect_exact(b">>> ", timeout=30)
    stopwatch.lap("xl create -> pyunik's first >>>")
    console = Console(dut)
    assert console.run("print(6 * 7)").strip() == "42"
    assert console.run("import xen; print(xen.present(), xen.store.read('name'))").strip() == "True pyunik-repl"
    # Ctrl-C, then the raw REPL, as mpremote speaks it, through xl console.
    console.keys(b"while True: pass\r\r")
    time.sleep(1)
    console.keys(b"\x03")
    dut.expect_exact(b"KeyboardInterrupt: \r\n>>> ", timeout=30)
    console.keys(b"\r\x01")
    dut.expect_exact(b"raw REPL; CTRL-B to exit\r\n>", timeout=30)
    console.keys(b"print(sum(range(10)))\x04")
    dut.expect_exact(b"OK45\r\n\x04\x04>", timeout=30)
    console.keys(b"\x02")
    dut.expect_exact(b">>> ", timeout=30)
    domain.destroy()


def test_xenstore_and_idle_sleep(xen_rig: XenRig, xen_image, dut) -> None:  # type: ignore[no-untyped-def]
    domain = xen_rig.create(xen_image().elf, "pyunik-store", memory_mb=32)
    dut.expect_exact(b">>> ", timeout=60)
    console = Console(dut)
    out = console.run(
        "import xen; s = xen.store; home = '/local/domain/%d' % xen.domid(); "
        "print('DIR', 'name' in s.directory(home), 'DOMID', xen.domid() > 0, "
        "'TIME', __import__('time').time() > 1.7e9)"
    )
    assert "DIR True DOMID True TIME True" in out, out
    console.run("s.write('data/pyunik', 'hello'); s.watch('data/pyunik', 'tok')")
    # XS_WATCH fires once on registration, whatever the key holds; that event is not
    # evidence that writes are seen, so drain it and check that nothing else is queued.
    assert "('data/pyunik', 'tok')" in console.run("print(s.wait_event(2000))")
    assert console.run("print(s.wait_event(300))").strip() == "None"
    # A real write, by dom0 after the registration, must fire the watch again.
    domid = int(console.run("print(xen.domid())").strip())
    status, out = xen_rig.sh(f"xenstore-write /local/domain/{domid}/data/pyunik from-dom0")
    assert status == 0, out
    assert "('data/pyunik', 'tok')" in console.run("print(s.wait_event(5000))")
    assert console.run("print(s.read('data/pyunik'))").strip() == "from-dom0"
    # Two seconds of a busy loop must show as domain CPU time: without this,
    # a cpu_seconds() stuck at 0 would pass the idle check below.
    before = domain.cpu_seconds()
    console.run(
        "import time; t = time.ticks_ms(); exec('while time.ticks_diff(time.ticks_ms(), t) < 2000: pass')",
        timeout=60,
    )
    busy = domain.cpu_seconds() - before
    assert busy >= 1.0, f"a 2 s busy loop used {busy:.1f} s of domain CPU (xl list)"
    # Three seconds of asyncio.sleep: woken by the timer, the vCPU blocked.
    console.run("import asyncio, pvboot; exec('async def nap():\\n    await asyncio.sleep(3)')")
    before = domain.cpu_seconds()
    started = time.monotonic()
    out = console.run(
        "a = pvboot.idle_stats(); asyncio.run(nap()); b = pvboot.idle_stats(); "
        "print('IDLE', [y - x for x, y in zip(a, b)])",
        timeout=60,
    )
    wall = time.monotonic() - started
    used = domain.cpu_seconds() - before
    print(f"\nxen idle: {out.strip()}; domain CPU {used:.1f} s over {wall:.1f} s wall")
    assert wall >= 3
    assert used < 0.5 * wall  # a spinning guest would use all of it
    domain.destroy()


def test_argv_reaches_the_app_on_xen(xen_rig: XenRig, xen_image, dut) -> None:  # type: ignore[no-untyped-def]
    image = xen_image(EXAMPLES / "json-batch")
    domain = xen_rig.create(image.elf, "pyunik-batch", memory_mb=32, cmdline="limit=10 -- [1,2,300]")
    dut.expect_exact(b'"over_limit": [300]', timeout=60)
    assert domain.wait_shutdown(timeout=60) == "crash"  # exit status 3: not a clean poweroff


def test_clean_exit_is_poweroff(xen_rig: XenRig, xen_image, dut) -> None:  # type: ignore[no-untyped-def]
    domain = xen_rig.create(xen_image(EXAMPLES / "hello").elf, "pyunik-hello", memory_mb=32)
    dut.expect_exact(b"Hello from pyunik on xen-pvh", timeout=60)
    assert domain.wait_shutdown(timeout=60) == "poweroff"


def test_uncaught_exception_is_crash(xen_rig: XenRig, xen_image, dut) -> None:  # type: ignore[no-untyped-def]
    domain = xen_rig.create(xen_image(APPS / "crash").elf, "pyunik-crash", memory_mb=32)
    dut.expect_exact(b"ValueError: invalid syntax for integer", timeout=60)
    assert domain.wait_shutdown(timeout=60) == "crash"
