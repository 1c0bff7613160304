"""The README rows bench/report.py writes from bench/xen_http.py's result."""

from __future__ import annotations

from typing import Any

from bench import report


def _http(values: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    return {
        "runs": 2,
        "host_load_1min": {"before": 1.0, "after": 1.5},
        "failed": {"pyunik": [], "linux": ["boom"]},
        "pyunik": {"create_to_http_s": 4.4, "xl_create_s": 3.3, "boot_to_http_s": 1.1},
        "linux": {"create_to_http_s": 35.4, "xl_create_s": 16.7, "boot_to_http_s": 18.7},
        "ratio_to_linux": {"create_to_http_s": 0.125, "xl_create_s": 0.2, "boot_to_http_s": 0.059},
        "goals": {"create_to_http_s": {"target": 0.2, "ratio": 0.125, "met": True}},
        "linux_memory_mib": 256,
        "pyunik_serves_in_small_memory": {
            "memory_mib": 4,
            "serves": True,
            "first_http_s": 2.42,
            "http_requests_s": 99.1,
        },
        "values": values,
    }


def test_rows_name_the_load_each_run_met_and_the_steps() -> None:
    values = {"pyunik": [{"load_1min": 2.04}, {"load_1min": 3.2}], "linux": [{"load_1min": 3.86}]}
    rows = report._xen_http_rows(_http(values))
    first = next(r for r in rows if "xl create -> first HTTP response" in r)
    assert "2 runs (failed: pyunik 0, Linux 1; load 2.0-3.9)" in first
    assert "| 4.400 | Linux domU 35.400 | 0.125x Linux (goal <= 0.2x) |" in first
    assert any("of which unpause -> first HTTP response (s)" in r and "0.059x" in r for r in rows)
    assert rows[-1].startswith("| Xen domU serving HTTP in `memory = 4` | yes, 99.1 req/s, first response 2.4 s")


def test_rows_fall_back_to_the_load_before_and_after() -> None:
    rows = report._xen_http_rows(_http({"pyunik": [{}], "linux": [{}]}))
    assert "load 1.0-1.5)" in rows[0]
