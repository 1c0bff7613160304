"""Fixtures for tests on real Xen: one Xen rig (rigs/xenrig.py) per session.

Booting Xen and its dom0 under QEMU TCG costs seconds, so the session boots it
once and every test creates its own domU in it. ``port`` hands the domU
console's pty to pytest-embedded's serial service, so ``dut`` reads what the
domU a test creates (with ``attach=True``, the default) writes.

``pvhtest_elf`` is a tiny PVH kernel (tests/xen/pvhtest/) that prints a line
on the Xen console ring and shuts down with the reason its cmdline asks for:
it proves the rig without depending on the image under development.

Tests here are marked ``xen``: ``pytest -m "not xen"`` leaves them out, and
``PYUNIK_XEN=0`` skips them. The rig's costs (build, boot, creates) are
printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyunik import board as boards
from pyunik import build, disk, vm
from rigs import xenrig
from rigs.xenrig import Domain, XenRig, XenRigError

PVHTEST = Path(__file__).parent / "pvhtest"
#: A board with both Xen front ends: xen-pvh itself (issue 17, item 5).
NET_DISK_BOARD = boards.ROOT / "boards" / "xen-pvh" / "board.toml"
#: What the rig cost in this session, for the summary at the end.
COSTS: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xen: boots real Xen 4.17 under QEMU (rigs/xenrig.py) and runs domUs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/xen/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.xen)
            # In CI the rig must run: a skip (no apt-get, a failed download) fails there (tests/conftest.py).
            item.add_marker(pytest.mark.ci_required)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if COSTS:
        terminalreporter.write_sep("-", "xen rig costs")
        for key, seconds in COSTS.items():
            terminalreporter.write_line(f"{key:32} {seconds:7.2f} s")


def why_not() -> str | None:
    """Why this machine cannot run the rig, or None."""
    if os.environ.get("PYUNIK_XEN") == "0":
        return "PYUNIK_XEN=0"
    for tool, package in ((vm.QEMU, "qemu-system-x86"), ("dpkg-deb", "dpkg"), ("readelf", "binutils")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package}; ./bootstrap.sh installs it)"
    if not XenRig().is_built() and shutil.which("apt-get") is None:
        return "the Xen rig is not built and there is no apt-get to fetch Debian's Xen"
    return None


@pytest.fixture(scope="session")
def xen_rig() -> Iterator[XenRig]:
    """Xen booted under QEMU with a dom0 ready for ``xl`` (skips with the
    reason when this machine cannot run it)."""
    reason = why_not()
    if reason:
        pytest.skip(f"no Xen rig: {reason}")
    rig = XenRig()
    cached = rig.is_built()
    try:
        rig.ensure_built()
    except XenRigError as exc:
        if "apt-get download failed" in str(exc):
            # A skip here is a failure in CI (ci_required, tests/conftest.py).
            pytest.skip(f"no Xen rig: cannot fetch Debian's packages: {exc}")
        raise
    COSTS["ensure_built (cached)" if cached else "ensure_built (built now)"] = rig.timings["ensure_built"]
    rig.boot()
    COSTS["boot: QEMU start -> dom0 ready"] = rig.timings["boot"]
    yield rig
    rig.close()


def build_pvhtest(out_dir: Path) -> Path:
    """Compile tests/xen/pvhtest into out_dir/pvhtest.elf (when its sources
    are newer): gcc -m32 and ld -m elf_i386, no C library, no multilib."""
    out_dir.mkdir(parents=True, exist_ok=True)
    elf = out_dir / "pvhtest.elf"
    sources = [PVHTEST / "pvhtest.c", PVHTEST / "pvhtest.ld"]
    if elf.exists() and all(src.stat().st_mtime <= elf.stat().st_mtime for src in sources):
        return elf
    obj = out_dir / "pvhtest.o"
    cflags = ["-m32", "-march=i686", "-Os", "-ffreestanding", "-fno-pic", "-fno-pie", "-fno-stack-protector"]
    cflags += ["-fno-asynchronous-unwind-tables", "-nostdlib", "-Wall", "-Wextra", "-Werror"]
    subprocess.run(["gcc", *cflags, "-c", str(sources[0]), "-o", str(obj)], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-T", str(sources[1]), "-nostdlib", "-o", str(elf), str(obj)], check=True)
    return elf


@pytest.fixture(scope="session")
def pvhtest_elf() -> Path:
    """The minimal PVH test kernel (see tests/xen/pvhtest/pvhtest.c)."""
    if shutil.which("gcc") is None or shutil.which("ld") is None:
        pytest.skip("gcc and ld are needed to build the PVH test kernel")
    return build_pvhtest(xenrig.DEFAULT_CACHE / "pvhtest")


@pytest.fixture(autouse=True)
def _no_domains_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that uses the rig leaves no domU behind, even when it fails
    half-way: the next test starts from a dom0 alone."""
    yield
    if "xen_rig" in request.fixturenames:
        rig: XenRig = request.getfixturevalue("xen_rig")
        if rig.running:
            rig.destroy_all()


@pytest.fixture
def port(request: pytest.FixtureRequest) -> str | None:
    """pytest-embedded's serial service opens this: the domU console.

    pytest-embedded asks for ``port`` on every test; only a test with a
    ``dut`` gets the rig booted for it.
    """
    if "dut" not in request.fixturenames:
        return None
    rig: XenRig = request.getfixturevalue("xen_rig")
    return rig.serial_path


class Stopwatch:
    """Records how long the steps of a test took into the session summary."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def reset(self) -> None:
        self.start = time.monotonic()

    def lap(self, what: str) -> float:
        now = time.monotonic()
        seconds = now - self.start
        self.start = now
        COSTS[what] = seconds
        return seconds


@pytest.fixture
def stopwatch() -> Stopwatch:
    return Stopwatch()


@pytest.fixture(scope="session")
def net_disk_image() -> build.Image:
    return build.build(boards.load(NET_DISK_BOARD))


@pytest.fixture
def net_disk_domu(xen_rig: XenRig, net_disk_image: build.Image, dut) -> Callable[[str, str, int], Domain]:  # type: ignore[no-untyped-def]
    """Starts a domU of NET_DISK_BOARD at its REPL: a fresh littlefs disk of
    ``disk_size`` bytes in the rig's disk share (``<name>.img``) and one vif
    with ``mac`` on the rig's bridge, at test_netfront.GUEST."""
    from test_netfront import GUEST, vif  # tests/xen is on sys.path (rootdir-relative imports)
    from test_pyunik_on_xen import expect_prompt

    def start(name: str, mac: str, disk_size: int) -> Domain:
        img = xen_rig.disks / f"{name}.img"
        disk.create(img, "lfs", disk_size)
        domain = xen_rig.create(
            net_disk_image.elf,
            name,
            cmdline=f"ip={GUEST}/{xenrig.RIG_PREFIX} gw={xenrig.DOM0_ADDRESS}",
            extra_config=[vif(mac), xen_rig.disk_config([img])],
        )
        expect_prompt(domain, dut)
        return domain

    return start
