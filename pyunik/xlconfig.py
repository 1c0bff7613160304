"""An xl domain configuration for a pyunik image, for a real Xen host.

    invoke xl-config --board xen-pvh [--app DIR] [--name N] [--memory 32]
    xl create build/xen-pvh/pyunik.cfg        # on the Xen host, image beside it

The image is a PVH kernel: `type = "pvh"`, no bootloader, no disk. The
kernel command line is `cmdline` (QEMU's -append): key=value options, then
`--` and the app's arguments.
"""

from __future__ import annotations

import re
from pathlib import Path

#: What xl does when the guest stops; a crash is kept for `xl dump-core`.
ON_POWEROFF = "destroy"
ON_REBOOT = "restart"
ON_CRASH = "preserve"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(kernel: Path, name: str, memory_mb: int, vcpus: int = 1, cmdline: str = "") -> str:
    """The text of an xl.cfg(5) file for ``kernel``."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"domain name {name!r}: use letters, digits, '.', '_' and '-'")
    if memory_mb < 2:
        raise ValueError(f"memory {memory_mb} MiB: a pyunik domain needs at least 2 MiB")
    lines = [
        f"# pyunik image {kernel.name}: a PVH unikernel (see xl.cfg(5))",
        f"name = {_quote(name)}",
        'type = "pvh"',
        f"kernel = {_quote(str(kernel))}",
        f"memory = {memory_mb}",
        f"vcpus = {vcpus}",
        f"cmdline = {_quote(cmdline)}",
        f"on_poweroff = {_quote(ON_POWEROFF)}",
        f"on_reboot = {_quote(ON_REBOOT)}",
        f"on_crash = {_quote(ON_CRASH)}",
    ]
    return "\n".join(lines) + "\n"
