"""The networking plugins as a board file meets them: what they pull in,
and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from boardfiles import make_board, resolve_error

from pyunik.plugins import PluginManager


def test_virtio_net_pulls_in_the_virtio_core_and_a_stack(tmp_path: Path) -> None:
    selected = [s.name for s in PluginManager().resolve(make_board(tmp_path, "virtio-net = {}\n"))]
    assert "virtio" in selected and "lwip" in selected
    assert selected.index("virtio") < selected.index("virtio-net")


def test_lwip_without_a_nic_is_one_clear_error(tmp_path: Path) -> None:
    message = resolve_error(make_board(tmp_path, "lwip = {}\n"))
    assert "lwip needs a network interface" in message and "virtio-net = {}" in message


@pytest.mark.parametrize(
    ("option", "value", "fix"),
    [
        ("ip", '"10.0.2.300/24"', "ADDR/PREFIX"),
        ("gw", '"gateway"', "IPv4 address"),
        ("tcp_pcbs", "2", "within 4..4096"),
    ],
)
def test_lwip_options_are_checked(tmp_path: Path, option: str, value: str, fix: str) -> None:
    board = make_board(tmp_path, f"virtio-net = {{}}\nlwip = {{ {option} = {value} }}\n")
    assert fix in resolve_error(board)


def test_virtio_net_buffers_are_a_power_of_two(tmp_path: Path) -> None:
    board = make_board(tmp_path, "virtio-net = { rx_buffers = 100 }\nlwip = {}\n")
    assert "power of two" in resolve_error(board)


def test_microvm_gets_modern_virtio_mmio_announced_on_the_cmdline(tmp_path: Path) -> None:
    manager = PluginManager()
    for machine, expected in (
        ("microvm", ["-M", "acpi=off", "-global", "virtio-mmio.force-legacy=false"]),
        ("q35", []),
    ):
        board = make_board(tmp_path / machine, "virtio-net = {}\nlwip = {}\n", machine)
        components = dict((sel.name, c) for sel, c in manager.components(board, manager.resolve(board)))
        assert components["virtio"].qemu_args == expected
        assert components["lwip"].defines["MICROPY_PY_LWIP"] == "1"
