"""pyunik.vm without starting QEMU: exit statuses, KVM detection, command lines."""

from __future__ import annotations

import dataclasses
import gc
import os
import pathlib
from pathlib import Path

import pytest

from pyunik import board as boards
from pyunik import vm
from pyunik.vm import guest_status, has_hardware_virtualisation, qemu_command

KERNEL = Path("/images/pyunik.elf")


# ---- exit status ----------------------------------------------------------


@pytest.mark.parametrize("status", [0, 1, 2, 3, 42, vm.EXIT_FAULT, 127])
def test_guest_status_undoes_isa_debug_exit(status: int) -> None:
    assert guest_status((status << 1) | 1) == status


@pytest.mark.parametrize("code", [0, 2, 4, 254])
def test_guest_status_keeps_even_codes(code: int) -> None:
    assert guest_status(code) == code


@pytest.mark.parametrize("code", [-1, -9, -15])
def test_guest_status_keeps_signals(code: int) -> None:
    # subprocess reports a QEMU killed by a signal as -signum.
    assert guest_status(code) == code


def test_guest_status_examples() -> None:
    assert guest_status(1) == 0
    assert guest_status(3) == 1
    assert guest_status(251) == vm.EXIT_FAULT


# ---- hardware virtualisation ---------------------------------------------

CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu vme de pse tsc msr pae {extra} sse sse2
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu vme de pse tsc msr pae {extra} sse sse2
"""


@pytest.fixture
def dev_kvm(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Pretend /dev/kvm exists (or not: set ``state["exists"]``)."""
    state = {"exists": True}
    real = pathlib.Path.exists

    def exists(self: pathlib.Path, *args: object, **kwargs: object) -> bool:
        if str(self) == "/dev/kvm":
            return state["exists"]
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "exists", exists)
    return state


@pytest.mark.parametrize(("extra", "expected"), [("vmx", True), ("svm", True), ("", False), ("vmxx svmm", False)])
def test_hardware_virtualisation_flags(dev_kvm: dict[str, bool], extra: str, expected: bool) -> None:
    assert has_hardware_virtualisation(CPUINFO.format(extra=extra)) is expected


@pytest.mark.parametrize("extra", ["vmx", "svm"])
def test_hardware_virtualisation_needs_dev_kvm(dev_kvm: dict[str, bool], extra: str) -> None:
    dev_kvm["exists"] = False
    assert has_hardware_virtualisation(CPUINFO.format(extra=extra)) is False


def test_dev_kvm_alone_is_not_enough(dev_kvm: dict[str, bool]) -> None:
    # An emulating KVM shows /dev/kvm but no vmx/svm flag.
    assert has_hardware_virtualisation(CPUINFO.format(extra="hypervisor")) is False


def test_flags_only_from_flags_lines(dev_kvm: dict[str, bool]) -> None:
    assert has_hardware_virtualisation("model name\t: vmx svm\nflags\t: fpu\n") is False
    assert has_hardware_virtualisation("") is False


@pytest.mark.parametrize(("hardware", "expected"), [(True, "kvm"), (False, "tcg")])
def test_choose_accel_auto(monkeypatch: pytest.MonkeyPatch, hardware: bool, expected: str) -> None:
    monkeypatch.setattr(vm, "has_hardware_virtualisation", lambda cpuinfo=None: hardware)
    assert vm.choose_accel("auto") == expected
    assert vm.choose_accel("tcg") == "tcg"
    assert vm.choose_accel("kvm") == "kvm"


# ---- QEMU command lines ---------------------------------------------------


def value_of(argv: tuple[str, ...], flag: str) -> str:
    assert argv.count(flag) == 1, (flag, argv)
    return argv[argv.index(flag) + 1]


@pytest.fixture
def no_kvm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm, "has_hardware_virtualisation", lambda cpuinfo=None: False)


@pytest.mark.parametrize(("name", "machine"), [("qemu-microvm", "microvm"), ("qemu-q35", "q35")])
def test_qemu_command_for_real_boards(no_kvm: None, name: str, machine: str) -> None:
    board = boards.load(name)
    command = qemu_command(board, KERNEL)
    argv = command.argv
    assert argv[0] == vm.QEMU
    assert value_of(argv, "-M") == machine
    assert value_of(argv, "-kernel") == str(KERNEL)
    assert value_of(argv, "-serial") == "stdio"
    assert value_of(argv, "-monitor") == "none"
    assert value_of(argv, "-m") == board.memory
    assert value_of(argv, "-smp") == "1"
    assert value_of(argv, "-display") == "none"
    assert value_of(argv, "-accel") == "tcg"
    assert command.accel == "tcg"
    assert "-nodefaults" in argv
    assert "-nographic" not in argv  # it would take Ctrl-A from the raw REPL
    assert "-append" not in argv  # neither board has a command line
    assert "-cpu" not in argv
    assert all(isinstance(arg, str) for arg in argv)


def test_qemu_command_serial(no_kvm: None) -> None:
    board = boards.load("qemu-microvm")
    serial = "tcp:127.0.0.1:4444,server=on,wait=on"
    assert value_of(qemu_command(board, KERNEL, serial=serial).argv, "-serial") == serial
    assert value_of(qemu_command(board, KERNEL, serial="pty").argv, "-serial") == "pty"


def test_qemu_command_append_only_with_cmdline(no_kvm: None) -> None:
    board = boards.load("qemu-microvm")
    assert "-append" not in qemu_command(board, KERNEL).argv
    assert "-append" not in qemu_command(board, KERNEL, cmdline="").argv
    assert value_of(qemu_command(board, KERNEL, cmdline="debug=1").argv, "-append") == "debug=1"


def test_qemu_command_board_cmdline(no_kvm: None) -> None:
    board = boards.load("qemu-microvm")
    board = dataclasses.replace(board, vm=boards.VmSettings(machine="microvm", cmdline="quiet"))
    assert value_of(qemu_command(board, KERNEL).argv, "-append") == "quiet"
    assert value_of(qemu_command(board, KERNEL, cmdline="loud").argv, "-append") == "loud"
    assert "-append" not in qemu_command(board, KERNEL, cmdline="").argv  # an explicit empty line wins


def test_qemu_command_tcg_has_no_cpu_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # Even where KVM would be chosen, an explicit tcg gets no -cpu host.
    monkeypatch.setattr(vm, "has_hardware_virtualisation", lambda cpuinfo=None: True)
    command = qemu_command(boards.load("qemu-microvm"), KERNEL, accel="tcg")
    assert command.accel == "tcg"
    assert value_of(command.argv, "-accel") == "tcg"
    assert "-cpu" not in command.argv
    assert "host" not in command.argv


def test_qemu_command_kvm_uses_cpu_host(no_kvm: None) -> None:
    command = qemu_command(boards.load("qemu-q35"), KERNEL, accel="kvm")
    assert command.accel == "kvm"
    assert value_of(command.argv, "-accel") == "kvm"
    assert value_of(command.argv, "-cpu") == "host"


def test_qemu_command_auto_picks_kvm_with_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm, "has_hardware_virtualisation", lambda cpuinfo=None: True)
    command = qemu_command(boards.load("qemu-microvm"), KERNEL)
    assert command.accel == "kvm"
    assert value_of(command.argv, "-cpu") == "host"


def test_qemu_command_board_accel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm, "has_hardware_virtualisation", lambda cpuinfo=None: True)
    board = boards.load("qemu-microvm")
    board = dataclasses.replace(board, vm=boards.VmSettings(machine="microvm", accel="tcg"))
    assert qemu_command(board, KERNEL).accel == "tcg"


def test_qemu_command_memory_override(no_kvm: None) -> None:
    assert value_of(qemu_command(boards.load("qemu-microvm"), KERNEL, memory="64M").argv, "-m") == "64M"


def test_qemu_command_extra_arguments_come_last(no_kvm: None) -> None:
    board = boards.load("qemu-q35")
    board = dataclasses.replace(board, vm=boards.VmSettings(machine="q35", args=("-board-arg",)))
    argv = qemu_command(board, KERNEL, cmdline="c", plugin_args=["-device", "plugin-dev"], extra=["-extra-arg"]).argv
    assert argv[-4:] == ("-device", "plugin-dev", "-board-arg", "-extra-arg")
    assert argv.index("-kernel") < argv.index("-append") < argv.index("-device")


def test_netdev_spec_maps_the_user_forms() -> None:
    assert vm.netdev_spec("user") == "user"
    assert vm.netdev_spec("user:hostfwd=tcp:127.0.0.1:8080-:80") == "user,hostfwd=tcp:127.0.0.1:8080-:80"
    assert vm.netdev_spec("tap:tap0") == "tap,ifname=tap0,script=no,downscript=no"
    assert vm.netdev_spec("user,hostfwd=tcp::1-:2") == "user,hostfwd=tcp::1-:2"


@pytest.mark.parametrize("bad", ["tap:", "tap:a,b=c", "wifi:x", "nonsense"])
def test_netdev_spec_rejects_what_qemu_would(bad: str) -> None:
    with pytest.raises(vm.VmError, match="--net"):
        vm.netdev_spec(bad)


def test_nics_follow_the_board_transport() -> None:
    microvm = boards.load("qemu-microvm-net")
    q35 = boards.load("qemu-q35-net")
    assert vm.nic_args(microvm, ["user"]) == ["-netdev", "user,id=net0", "-device", "virtio-net-device,netdev=net0"]
    args = vm.nic_args(q35, ["user", "tap:t1"])
    assert args[3] == "virtio-net-pci,disable-legacy=on,netdev=net0"
    assert args[4:6] == ["-netdev", "tap,ifname=t1,script=no,downscript=no,id=net1"]


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")
def test_start_with_pty_leaves_no_descriptor_behind() -> None:
    """A process that boots many guests does not run out of descriptors:
    close() (or a with block) releases the pty, and so does dropping the
    Running without it. Run with a process that exits at once: the pty
    plumbing is what is tested, not QEMU."""
    vm.require_qemu()
    command = vm.QemuCommand(("true",), "tcg")
    before = open_descriptors()
    for _ in range(200):
        running = vm.start_with_pty(command)
        running.proc.wait()
        running.close()
        running.close()  # again: harmless
    assert open_descriptors() == before
    for _ in range(200):
        with vm.start_with_pty(command) as running:
            running.proc.wait()
    assert open_descriptors() == before
    for _ in range(200):
        vm.start_with_pty(command).proc.wait()  # dropped without close()
    gc.collect()
    assert open_descriptors() == before
