"""An xl domain configuration for a pyunik image, for a real Xen host.

    invoke xl-config --board xen-pvh [--app DIR] [--name N] [--memory 32] \
        [--net bridge=xenbr0] [--disk data.img]
    xl create build/xen-pvh/pyunik.cfg    # on the Xen host, image beside it

The image is a PVH kernel: `type = "pvh"`, no bootloader. The kernel
command line is `cmdline` (QEMU's -append): key=value options, then `--`
and the app's arguments. Each --net is a vif (netfront in the guest): its
text is xl's vif spec (bridge=, mac=, script= ...). Each --disk is a raw
image the guest sees as xvda, xvdb ... (blkfront).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

#: What xl does when the guest stops; a crash is kept for `xl dump-core`.
ON_POWEROFF = "destroy"
ON_REBOOT = "restart"
ON_CRASH = "preserve"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def vif_line(nets: Sequence[str]) -> str:
    """xl's ``vif = [...]`` for vif specs such as ``bridge=xenbr0,mac=00:16:3e:..``."""
    for net in nets:
        if not re.fullmatch(r"[A-Za-z0-9_.:/=,-]+", net):
            raise ValueError(
                f"--net {net!r}: give xl vif settings, e.g. bridge=xenbr0 or bridge=xenbr0,mac=00:16:3e:00:00:01"
            )
    return "vif = [" + ", ".join(_quote(net) for net in nets) + "]"


def disk_line(disks: Sequence[Path]) -> str:
    """xl's ``disk = [...]``: raw images as xvda, xvdb ..., read-write."""
    if len(disks) > 26:
        raise ValueError(f"{len(disks)} disks: xvda..xvdz is 26 at most")
    specs = [
        f"format=raw, vdev=xvd{chr(ord('a') + i)}, access=rw, target={Path(d).resolve()}" for i, d in enumerate(disks)
    ]
    return "disk = [" + ", ".join(_quote(spec) for spec in specs) + "]"


def render(
    kernel: Path,
    name: str,
    memory_mb: int,
    vcpus: int = 1,
    cmdline: str = "",
    nets: Sequence[str] = (),
    disks: Sequence[Path] = (),
) -> str:
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
    if nets:
        lines.append(vif_line(nets))
    if disks:
        lines.append(disk_line(disks))
    return "\n".join(lines) + "\n"
