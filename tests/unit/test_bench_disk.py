"""bench/disk.py's summary of raw runs, and bench/report.py's storage rows and chart."""

from __future__ import annotations

from pathlib import Path

from bench import disk, report


def run(seq_us: int, first_s: float) -> dict[str, object]:
    def stats(wr: int, flushes: int) -> dict[str, int]:
        return {"rd_bytes": 0, "wr_bytes": wr, "rd_operations": 0, "wr_operations": 0, "flush_operations": flushes}

    return {
        "first_file_read_s": first_s,
        "results": {
            "seq_write": {"count": 4, "bytes": 4 << 20, "us": seq_us},
            "seq_read": {"count": 4, "bytes": 4 << 20, "us": seq_us // 2},
            "rand_read": {"count": 200, "bytes": 200 * 4096, "us": 100_000},
            "small_files": {"count": 50, "bytes": 50 * 1024, "us": 1_000_000},
        },
        "blockstats": {
            "start": stats(0, 0),
            "seq_write": stats(4 << 20, 1),
            "seq_read": stats(4 << 20, 1),
            "rand_read": stats(4 << 20, 1),
            "small_files": stats((4 << 20) + 2 * 50 * 1024, 101),
        },
        "mount_us": 1500,
    }


def test_summary_takes_medians_and_host_bytes_per_byte() -> None:
    summary = disk.summarise([run(1_000_000, 0.2), run(2_000_000, 0.4), run(4_000_000, 0.3)])
    assert summary["seq_write_mb_s"] == round((4 << 20) / 1e6 / 2.0, 2)
    assert summary["rand_read_iops"] == 2000.0
    assert summary["small_files_per_s"] == 50.0
    assert summary["first_file_read_ms"] == 300.0
    assert summary["seq_write_host_bytes_per_byte"] == 1.0
    assert summary["small_files_host_bytes_per_byte"] == 2.0
    assert summary["small_files_flushes_per_op"] == 2.0
    assert summary["mount_ms"] == 1.5


def entry() -> dict[str, object]:
    lfs = disk.summarise([run(2_000_000, 0.2)])
    ext4 = disk.summarise([run(500_000, 15.0)])
    return {
        "memory": "128M",
        "platforms": {"pyunik/lfs": lfs, "linux/ext4": ext4},
        "ratios": {"seq_write_mb_s: pyunik/lfs / linux/ext4": 0.25},
        "linux_dd": {"dd_write_mb_s": 60.0, "dd_read_mb_s": 200.0},
    }


def test_markdown_has_the_storage_rows() -> None:
    text = report.markdown({"disk": entry()})
    assert (
        "| sequential write, 1 MiB records (MB/s), pyunik/lfs | 2.10 | linux/ext4 8.39 | 0.25x (goal >= 1.0x) |" in text
    )
    assert "| Linux guest dd O_DIRECT on the raw disk, write / read (MB/s) | - | 60.0 / 200.0 | - |" in text


def test_chart_is_written(tmp_path: Path) -> None:
    written = report.charts({"disk": entry()}, tmp_path)
    assert written == [tmp_path / "disk.png"]
    assert (tmp_path / "disk.png").read_bytes().startswith(b"\x89PNG")
