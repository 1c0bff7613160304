"""Debian packages for the rigs: find, download and unpack a .deb.

The Xen rig's dom0 (pyunik/xenrig.py) and the benchmark's Linux guest
(bench/linux.py) are assembled from Debian's own binaries: the kernel
package linux-image-amd64 points at, busybox, Xen's tools. apt-get does the
downloading (from the mirror the system uses); tarfile with its "data"
filter does the unpacking, so a member cannot land outside the target.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

KERNEL_METAPACKAGE = "linux-image-amd64"


class DebianError(Exception):
    """A package could not be found, fetched or unpacked; the message says which."""


def kernel_package(metapackage: str = KERNEL_METAPACKAGE) -> str:
    """The versioned kernel package (e.g. linux-image-6.1.0-56-amd64) ``metapackage`` depends on."""
    result = subprocess.run(["apt-cache", "depends", metapackage], capture_output=True, text=True, timeout=60)
    found = re.search(r"Depends:\s*(linux-image-\S+-amd64)\b", result.stdout)
    if not found:
        raise DebianError(f"apt-cache depends {metapackage} names no kernel package (run apt-get update?)")
    return found.group(1)


def download(packages: Iterable[str], dest: Path) -> None:
    """``apt-get download`` into ``dest`` (as root without the _apt sandbox,
    which cannot write into a root-owned build directory)."""
    argv = ["apt-get", "-q", "download", *packages]
    if os.geteuid() == 0:
        argv[1:1] = ["-o", "APT::Sandbox::User=root"]
    dest.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(argv, cwd=dest, capture_output=True, text=True, timeout=600)
    if result.returncode:
        raise DebianError(f"apt-get download failed: {result.stderr.strip() or result.stdout.strip()}")


def deb_for(debs: Path, package: str) -> Path | None:
    """The newest downloaded .deb of ``package`` (a glob: linux-image-*-amd64) in ``debs``."""
    found = sorted(debs.glob(f"{package}_*.deb"))
    return found[-1] if found else None


def extract(deb: Path, target: Path, patterns: Iterable[str]) -> list[Path]:
    """Unpack the files of ``deb`` whose paths (``./boot/vmlinuz-*``) match
    one of ``patterns`` (fnmatch) into ``target``; returns what was written."""
    wanted = tuple(patterns)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            if member.isfile() and any(fnmatch.fnmatchcase(member.name, p) for p in wanted):
                tar.extract(member, target, filter="data")
                written.append(target / member.name)
    if proc.wait():
        raise DebianError(f"dpkg-deb --fsys-tarfile {deb.name} failed")
    return written
