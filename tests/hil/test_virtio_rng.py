"""os.urandom from virtio-rng on QEMU's default TCG CPU (qemu64: no RDRAND, no RDSEED).

The device boards carry the virtio-rng plugin (boards/qemu-*-net, -disk). Each
test boots the real image with the board's own QEMU arguments (the plugin's
device fed by the host's /dev/urandom), or with them changed: the device left
out (os.urandom's OSError names both fixes, at once), or its backend replaced
by QEMU's rng-egd on a null chardev, a device that takes requests and never
answers (a bounded wait, one console line, an OSError; never a hang).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import pytest
from conftest import Guest
from pyunik_plugins import virtio_rng

from pyunik import vm

ASK = (
    b"import os, pvboot, random; b = os.urandom(64); "
    b"print('RNG', len(b), pvboot.entropy(), pvboot.layout()[5], random.getrandbits(32), b.hex())\r"
)
URANDOM_ERROR = b"import os; os.urandom(16)\r"
NO_SOURCE = (
    b"OSError: os.urandom: this CPU has no RDRAND or RDSEED and no virtio-rng device answers; "
    b"fix: QEMU -cpu max, or the board's virtio-rng plugin with QEMU -device virtio-rng-device (microvm) "
    b"or virtio-rng-pci (q35)"
)


def without_rng(args: Sequence[str]) -> list[str]:
    """The plugin's QEMU arguments without its -object/-device pair."""
    out: list[str] = []
    pairs = iter(zip(args[::2], args[1::2], strict=True))
    for option, value in pairs:
        if virtio_rng.BACKEND_ID not in value:
            out += [option, value]
    assert len(out) == len(args) - 4, args
    return out


def silent_rng(args: Sequence[str]) -> list[str]:
    """The device kept, its backend an rng-egd daemon behind a null chardev:
    requests go out and nothing ever comes back."""
    out: list[str] = []
    for arg in args:
        if arg.startswith(f"rng-random,id={virtio_rng.BACKEND_ID},"):
            out[-1:] = ["-chardev", "null,id=silent", "-object"]
            arg = f"rng-egd,id={virtio_rng.BACKEND_ID},chardev=silent"
        out.append(arg)
    assert "rng-egd" in " ".join(out), args
    return out


def ask(image_for, board: str, question: bytes, args=None, timeout: float = 20) -> bytes:  # type: ignore[no-untyped-def]
    """One boot of ``board`` on the default TCG CPU: the console up to the
    prompt, then the replies to the question's lines, each up to its prompt."""
    image = image_for(board)
    plugin_args = image.qemu_args if args is None else args(image.qemu_args)
    command = vm.qemu_command(image.board, image.elf, serial="stdio", plugin_args=plugin_args)
    assert "-cpu" not in command.argv
    guest = Guest(image.board, vm.start_with_pty(command), command.argv)
    try:
        port = guest.console(timeout=timeout)
        booted = port.read_until(b">>> ")
        assert booted.endswith(b">>> "), booted
        reply = b""
        for line in question.split(b"\r")[:-1]:
            port.write(line + b"\r")
            reply += port.read_until(b">>> ")
            assert reply.endswith(b">>> "), (booted, reply)
        port.close()
    finally:
        guest.stop()
    return booted + reply


@pytest.mark.parametrize("board", ["qemu-microvm-net", "qemu-q35-net"])
def test_os_urandom_takes_virtio_rng_and_differs_between_boots(image_for, board: str) -> None:  # type: ignore[no-untyped-def]
    replies = []
    for _ in range(2):
        line = re.search(rb"RNG (\d+) (\S+) (\S+) (\d+) ([0-9a-f]+)\r\n", ask(image_for, board, ASK))
        assert line is not None
        length, source, layout_source, seeded, data = line.groups()
        assert (int(length), len(data), source) == (64, 128, b"virtio-rng")
        # The layout is drawn before any driver runs: the CPU's jitter here.
        assert layout_source == b"tsc-jitter"
        replies.append((data, seeded))
    assert replies[0][0] != replies[1][0]
    assert replies[0][1] != replies[1][1]  # random's seed (from the device) differs too


@pytest.mark.parametrize("board", ["qemu-microvm-net", "qemu-q35-net"])
def test_without_the_device_os_urandom_names_both_fixes(image_for, board: str) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    reply = ask(image_for, board, URANDOM_ERROR + b"import pvboot; print('SOURCE', pvboot.entropy())\r", without_rng)
    assert NO_SOURCE in reply
    assert b"SOURCE tsc-jitter" in reply
    assert b"virtio-rng:" not in reply  # the plugin says nothing when the VM has no device
    print(f"\n{board} without the device: boot and answer in {time.monotonic() - start:.1f} s")


def test_a_device_that_never_answers_gives_oserror_not_a_hang(image_for) -> None:  # type: ignore[no-untyped-def]
    # The disk board: nothing draws a seed at boot (lwIP would), so os.urandom meets the silent device first.
    question = URANDOM_ERROR + URANDOM_ERROR
    reply = ask(image_for, "qemu-microvm-disk", question, silent_rng, timeout=30)
    assert re.search(rb"virtio-rng: virtio-mmio@\S+: no answer in 5000 ms; the device is no longer used", reply)
    assert b"OSError: os.urandom: virtio-rng gave no entropy" in reply
    # Dropped after that: the next call is the no-source error, at once.
    assert reply.count(b"no answer in 5000 ms") == 1
    assert NO_SOURCE in reply


def test_lwip_draws_its_seed_from_the_device_at_boot(image_for) -> None:  # type: ignore[no-untyped-def]
    # The net board with a silent device: lwIP's init asks it for its first
    # random numbers, so the one line comes before the prompt, after the
    # bounded wait; the seeds then fall back to the jitter and the boot goes on.
    question = (
        URANDOM_ERROR + b"import pvboot, random; print('SOURCE', pvboot.entropy(), random.getrandbits(8) < 256)\r"
    )
    reply = ask(image_for, "qemu-microvm-net", question, silent_rng, timeout=30)
    prompt = reply.index(b">>> ")
    assert re.search(rb"virtio-rng: virtio-mmio@\S+: no answer in 5000 ms", reply[:prompt]), reply
    assert NO_SOURCE in reply and b"SOURCE tsc-jitter True" in reply
