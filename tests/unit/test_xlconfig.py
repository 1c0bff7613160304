"""xl domain configs for a real Xen host: vifs and disks as xl.cfg(5) wants them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyunik import xlconfig


def test_a_config_with_vifs_and_disks(tmp_path: Path) -> None:
    disk = tmp_path / "data.img"
    text = xlconfig.render(
        Path("/srv/pyunik.elf"), "web", 8, nets=["bridge=xenbr0", "bridge=xenbr1,mac=00:16:3e:00:00:02"], disks=[disk]
    )
    assert 'type = "pvh"' in text and "memory = 8" in text
    assert 'vif = ["bridge=xenbr0", "bridge=xenbr1,mac=00:16:3e:00:00:02"]' in text
    assert f'disk = ["format=raw, vdev=xvda, access=rw, target={disk.resolve()}"]' in text


def test_without_devices_there_are_no_device_lines() -> None:
    text = xlconfig.render(Path("k.elf"), "plain", 4)
    assert "vif" not in text and "disk" not in text


@pytest.mark.parametrize("bad", ['bridge=x"y', "bridge=a b", ""])
def test_a_vif_spec_xl_would_misread_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="--net"):
        xlconfig.render(Path("k.elf"), "n", 4, nets=[bad])


def test_disks_are_lettered_in_order(tmp_path: Path) -> None:
    line = xlconfig.disk_line([tmp_path / "a.img", tmp_path / "b.img"])
    assert "vdev=xvda" in line and "vdev=xvdb" in line and line.index("a.img") < line.index("b.img")
