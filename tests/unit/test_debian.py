"""rigs.debian: unpacking a .deb keeps what is asked for, inside the target."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from rigs import debian


def make_deb(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: t\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    )
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    deb = tmp_path / "t_1_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


def test_extract_takes_the_matching_files_only(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, {"boot/vmlinuz-6.1": b"kernel", "lib/modules/6.1/a.ko": b"ko", "usr/share/doc/x": b"doc"})
    written = debian.extract(deb, tmp_path / "out", ["./boot/vmlinuz-*", "./lib/modules/*/*.ko"])
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "boot/vmlinuz-6.1",
        "lib/modules/6.1/a.ko",
    ]
    assert (tmp_path / "out" / "boot" / "vmlinuz-6.1").read_bytes() == b"kernel"
    assert not (tmp_path / "out" / "usr").exists()
    assert debian.deb_for(tmp_path, "t") == deb


def test_the_data_filter_refuses_a_path_out_of_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("./../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    real_popen = subprocess.Popen

    def fake_dpkg_deb(argv, **kwargs):  # type: ignore[no-untyped-def]
        return real_popen(["cat"], stdin=open(tmp_path / "evil.tar", "rb"), **kwargs)

    (tmp_path / "evil.tar").write_bytes(evil.getvalue())
    monkeypatch.setattr(subprocess, "Popen", fake_dpkg_deb)
    with pytest.raises(tarfile.OutsideDestinationError):
        debian.extract(tmp_path / "x.deb", tmp_path / "out", ["*"])
    assert not (tmp_path / "escaped").exists()


def test_library_closure_of_a_host_program_matches_ldd() -> None:
    # /usr/bin/gpgv (gnupg's, always on Debian) links several libraries; ldd is the reference.
    program = Path("/usr/bin/gpgv")
    libdirs = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64")
    found = debian.library_closure(Path("/"), [str(program).lstrip("/")], libdirs)
    ldd = subprocess.run(["ldd", str(program)], capture_output=True, text=True, check=True).stdout
    expected = {Path(line.split("=>")[-1].split("(")[0].strip()).name for line in ldd.splitlines() if "/" in line}
    assert {Path(key).name for key in found} == expected
    assert all(path.is_file() for path in found.values())


def test_a_missing_library_is_named(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    shutil.copy2("/usr/bin/gpgv", tmp_path / "bin" / "gpgv")
    with pytest.raises(debian.DebianError, match=r"libraries missing: .*libc\.so\.6"):
        debian.library_closure(tmp_path, ["bin/gpgv"], ["lib"])
