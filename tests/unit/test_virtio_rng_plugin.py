"""The virtio-rng plugin as a board file meets it: what it pulls in, the
QEMU device it adds on each machine, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from boardfiles import make_board, resolve_error

from pyunik import board as boards
from pyunik.board import Board
from pyunik.hookspecs import Component
from pyunik.plugins import PluginManager


def components(board: Board) -> dict[str, Component]:
    manager = PluginManager()
    return {sel.name: c for sel, c in manager.components(board, manager.resolve(board))}


def test_virtio_rng_pulls_in_the_virtio_core_and_inits_before_lwip(tmp_path: Path) -> None:
    board = make_board(tmp_path, "virtio-rng = {}\nvirtio-net = {}\n")
    selected = [s.name for s in PluginManager().resolve(board)]
    assert selected.index("virtio") < selected.index("virtio-rng")
    found = components(board)
    rng, lwip = found["virtio-rng"], found["lwip"]
    assert rng.init == "virtio_rng_init"
    # lwIP's init draws its first random numbers: the device must be there by then.
    assert rng.init_order < lwip.init_order
    assert rng.defines == {"VIRTIO_RNG_TIMEOUT_MS": "5000"}


@pytest.mark.parametrize(
    ("machine", "device"),
    [("microvm", "virtio-rng-device,rng=pyunik-rng"), ("q35", "virtio-rng-pci,disable-legacy=on,rng=pyunik-rng")],
)
def test_the_device_follows_the_machines_transport(tmp_path: Path, machine: str, device: str) -> None:
    rng = components(make_board(tmp_path, "virtio-rng = {}\n", machine))["virtio-rng"]
    assert rng.qemu_args == [
        "-object",
        "rng-random,id=pyunik-rng,filename=/dev/urandom",
        "-device",
        device,
    ]


def test_options_reach_c_and_qemu(tmp_path: Path) -> None:
    board = make_board(tmp_path, 'virtio-rng = { timeout_ms = 250, host_source = "/tmp/a,b" }\n')
    rng = components(board)["virtio-rng"]
    assert rng.defines["VIRTIO_RNG_TIMEOUT_MS"] == "250"
    # QEMU splits options at commas: a comma in the path is doubled.
    assert "rng-random,id=pyunik-rng,filename=/tmp/a,,b" in rng.qemu_args


@pytest.mark.parametrize(
    ("option", "fix"),
    [
        ("timeout_ms = 10", "within 100..600000"),
        ("timeout_ms = 1000000", "within 100..600000"),
        ('host_source = "urandom"', "absolute path"),
        ("host_source = 3", "give a str"),
        ("retries = 3", "retries"),
    ],
)
def test_bad_options_are_one_clear_line(tmp_path: Path, option: str, fix: str) -> None:
    message = resolve_error(make_board(tmp_path, f"virtio-rng = {{ {option} }}\n"))
    assert "virtio-rng" in message and fix in message, message


def test_the_virtio_device_boards_carry_it_and_the_default_board_does_not() -> None:
    for name in ("qemu-microvm-net", "qemu-q35-net", "qemu-microvm-disk", "qemu-q35-disk"):
        assert "virtio-rng" in boards.load(name).plugins, name
    # Its boot time is measured against a floor: no device it does not need.
    assert "virtio-rng" not in boards.load(boards.DEFAULT_BOARD).plugins
