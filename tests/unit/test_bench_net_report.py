"""bench/report.py's network table and chart, from a results entry shaped as bench/net.py writes it."""

from __future__ import annotations

from pathlib import Path

from bench import report


def entry() -> dict[str, object]:
    def plat(rps: float, rtt: float, least: int) -> dict[str, object]:
        return {
            "http_rps_c1": rps,
            "http_rps_c30": rps * 1.5,
            "echo_rtt_p50_us": rtt,
            "ping_p50_ms": 0.5,
            "bulk_up_mb_s": 10.0,
            "bulk_down_mb_s": 8.0,
            "first_response_ms": 300.0,
            "least_memory": {"least_kib": least},
            "idle": {"wakeups_per_s": 1.2, "host_cpu_percent": 0.4},
        }

    return {
        "memory": "128M",
        "platforms": {"pyunik": plat(300.0, 500.0, 2048), "linux-guest": plat(100.0, 1000.0, 98304)},
        "ratios": {"http_rps_c1: pyunik / linux-guest": 3.0, "echo_rtt_p50_us: pyunik / linux-guest": 0.5},
    }


def test_markdown_has_the_network_rows() -> None:
    text = report.markdown({"net": entry()})
    assert "| HTTP requests/s, 1 connection (wrk) | 300 | Linux guest 100 | 3.00x (goal >= 1.5x) |" in text
    assert "| TCP echo RTT p50 (us) | 500 | Linux guest 1,000 | 0.50x (goal <= 0.6x) |" in text
    assert "| least -m serving 30 HTTP connections | 2,048K | Linux guest 98,304K | goal <= 3 MiB |" in text
    assert "1.2, 0.40%" in text


def test_chart_is_written(tmp_path: Path) -> None:
    written = report.charts({"net": entry()}, tmp_path)
    assert written == [tmp_path / "net.png"] and (tmp_path / "net.png").stat().st_size > 10_000
