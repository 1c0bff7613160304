"""virtio-rng: the host's entropy for os.urandom and the seeds of random and
lwIP, through the shared virtio core (mmio on microvm, PCI on q35).

The device side (modules/virtio_rng/) registers the device with pvboot as
its entropy device (pvboot_entropy_register, port/pvboot/pvboot.h), which
uses it where the CPU has no RDSEED/RDRAND (QEMU's default TCG CPU). The
plugin adds the device to QEMU's command line, fed by QEMU's rng-random
backend from a file of the host (``/dev/urandom``). The stack canary and
the randomised layout are drawn before any driver runs: they keep the CPU's
bits or the cycle counter's jitter (port/pvboot/entropy.c).
"""

from __future__ import annotations

from typing import Any

from pyunik.board import Board
from pyunik.hookspecs import Component, Option, PluginInfo, hookimpl

from . import MODULES_DIR

SOURCE_DIR = MODULES_DIR / "virtio_rng"
#: The id of QEMU's rng-random backend object, which the device names.
BACKEND_ID = "pyunik-rng"


@hookimpl
def pyunik_plugin() -> PluginInfo:
    return PluginInfo(
        name="virtio-rng",
        description="virtio entropy device: the host's /dev/urandom for os.urandom and seeds (CPUs without RDRAND)",
        provides=("entropy",),
        requires=("virtio",),
        options={
            "timeout_ms": Option(
                int,
                5000,
                "how long a request may wait for the device before it is dropped (os.urandom raises OSError)",
                minimum=100,
                maximum=600000,
            ),
            "host_source": Option(str, "/dev/urandom", "the host file QEMU's rng-random backend reads"),
        },
    )


@hookimpl
def pyunik_validate_options(board: Board, options: dict[str, Any]) -> list[str]:
    source = options["host_source"]
    if not source.startswith("/"):
        return [f'host_source is {source!r}; fix: give an absolute path on the host, e.g. "/dev/urandom"']
    return []


def qemu_args(board: Board, host_source: str) -> list[str]:
    """The device on the board's transport (virtio-mmio on microvm, modern
    virtio-pci elsewhere, as pyunik.vm gives NICs and disks), and its backend."""
    model = "virtio-rng-device" if board.vm.machine == "microvm" else "virtio-rng-pci,disable-legacy=on"
    # QEMU quotes nothing: a comma in a path would split the option.
    filename = host_source.replace(",", ",,")
    return ["-object", f"rng-random,id={BACKEND_ID},filename={filename}", "-device", f"{model},rng={BACKEND_ID}"]


@hookimpl
def pyunik_component(board: Board, options: dict[str, Any]) -> Component:
    return Component(
        c_sources=[SOURCE_DIR / "virtio_rng.c"],
        include_dirs=[MODULES_DIR / "virtio"],
        defines={"VIRTIO_RNG_TIMEOUT_MS": str(options["timeout_ms"])},
        init="virtio_rng_init",
        # After the clock and the timer (its waits are bounded by them) and
        # before lwIP (45), whose init draws its first random port numbers.
        init_order=35,
        qemu_args=qemu_args(board, options["host_source"]),
    )
