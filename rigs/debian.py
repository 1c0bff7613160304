"""Debian packages for the rigs: find, download and unpack a .deb.

The Xen rig's dom0 (rigs/xenrig.py) and the benchmark's Linux guest
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


def dynamic(path: Path) -> tuple[str, list[str]]:
    """An ELF file's program interpreter and DT_NEEDED sonames (pyelftools);
    ("", []) for a file that is not ELF (a script) or is linked statically."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.segments import InterpSegment

    interp, needed = "", []
    with path.open("rb") as fh:
        try:
            elf = ELFFile(fh)
            for segment in elf.iter_segments():
                if isinstance(segment, InterpSegment):
                    interp = segment.get_interp_name()
                elif isinstance(segment, DynamicSegment):
                    needed += [tag.needed for tag in segment.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]
        except ELFError:
            return "", []
    return interp, needed


def library_closure(
    root: Path, programs: Iterable[str], libdirs: Iterable[str], dlopened: Iterable[str] = ()
) -> dict[str, Path]:
    """The shared libraries ``programs`` (paths under ``root``) load, as
    {path in a guest's root file system: file under root}: each DT_NEEDED
    soname looked up in ``libdirs`` (under root), recursively, plus the
    program interpreter and the sonames in ``dlopened`` (loaded at run time,
    which no DT_NEEDED names). Each file once: a soname that resolves to a
    file already taken (libc's DT_NEEDED on the interpreter) adds nothing.
    A soname not found is an error naming it."""
    dirs = list(libdirs)
    todo = [root / p for p in programs]
    seen: set[Path] = set()
    found: dict[str, Path] = {}
    missing: set[str] = set()
    interpreters: set[str] = set()

    def add(soname: str) -> None:
        for d in dirs:
            candidate = root / d / soname
            if candidate.exists():
                found[f"{d}/{soname}"] = candidate.resolve()
                todo.append(candidate.resolve())
                return
        missing.add(soname)

    for soname in dlopened:
        add(soname)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        interp, needed = dynamic(path)
        if interp:
            target = (root / interp.lstrip("/")).resolve()
            if not target.is_relative_to(root.resolve()):  # an absolute symlink inside root
                target = root / os.readlink(root / interp.lstrip("/")).lstrip("/")
            if target.exists():
                found[interp.lstrip("/")] = target.resolve()
                interpreters.add(interp.lstrip("/"))
            else:
                missing.add(interp)
        for soname in needed:
            add(soname)
    if missing:
        raise DebianError(f"libraries missing: {', '.join(sorted(missing))}")
    # The interpreter once, where programs ask for it (libc names it as a soname too).
    loaders = {found[name] for name in interpreters}
    return {name: path for name, path in found.items() if name in interpreters or path not in loaders}
