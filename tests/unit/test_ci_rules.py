"""tests/conftest.py: in CI a skip of a ci_required test fails the run; every skip is listed at the end.

Each case runs pytest on a small test file beside a copy of tests/conftest.py,
in a fresh process, once as a developer would (no CI) and once as .ci/run does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "conftest.py"

TESTS = """
import pytest

@pytest.mark.ci_required
def test_needs_a_tool():
    pytest.skip("the tool is not installed")

@pytest.mark.ci_required
@pytest.mark.ci_optional
def test_needs_a_real_host():
    pytest.skip("no real host here")

def test_unmarked():
    pytest.skip("not required")

@pytest.mark.ci_required
def test_runs():
    assert True
"""


def run_pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    shutil.copy(RULES, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # not pytest-embedded: plain pytest
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-ra", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_outside_ci_skips_are_skips_and_listed_last(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, ci=None)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped" in result.stdout
    listing = result.stdout[result.stdout.index("skipped tests and why: 3") :]
    assert "SKIPPED test_sample.py::test_needs_a_tool: the tool is not installed [required in CI" in listing
    assert "SKIPPED test_sample.py::test_needs_a_real_host: no real host here\n" in listing
    assert "SKIPPED test_sample.py::test_unmarked: not required\n" in listing
    # The list comes after pytest's short summary: the last section before the final line.
    assert result.stdout.index("short test summary info") < result.stdout.index("skipped tests and why")


@pytest.mark.parametrize("ci", ["true", "1"])
def test_in_ci_a_required_skip_fails(tmp_path: Path, ci: str) -> None:
    result = run_pytest(tmp_path, ci=ci)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed, 2 skipped" in result.stdout
    assert "skipped in CI, where this test is required (ci_required): the tool is not installed" in result.stdout
    assert "FAILED test_sample.py::test_needs_a_tool" in result.stdout
