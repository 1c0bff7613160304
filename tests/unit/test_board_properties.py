"""Property tests (hypothesis): any board.toml or app.toml gives a board/app or one clear error.

Whatever the text - not TOML, TOML of the wrong shape, known keys with
values of any type - pyunik.board.parse() returns a Board or raises
BoardError naming the file, and pyunik.build.App.load() returns an App or
raises BuildError naming app.toml: never another exception (a KeyError or
TypeError from deep inside would be a traceback instead of "file, key, fix").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyunik import board as boards
from pyunik import build

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

PATH = boards.ROOT / "boards" / "fuzzed" / "board.toml"

scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["fuzzed", "x86_64", "32M", "1434K", "0M", "microvm", "q35", "tcg", "kvm", "examples/hello"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
top_keys = st.sampled_from([*boards._TOP_KEYS, "vm", "plugins", "bogus"])
vm_table = st.dictionaries(st.sampled_from([*boards._VM_KEYS, "bogus"]), values, max_size=4)
documents = st.dictionaries(top_keys, st.one_of(values, vm_table), max_size=7)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml(doc: dict[str, Any]) -> str:
    return "".join(f"{toml_value(k)} = {toml_value(v)}\n" for k, v in doc.items())


def parse_or_clear_error(text: str) -> None:
    try:
        board = boards.parse(PATH, text)
    except boards.BoardError as exc:
        assert "board.toml" in str(exc) and "\n" not in str(exc).strip()
    else:
        assert board.name == "fuzzed"


@SETTINGS
@given(doc=documents)
def test_board_files_of_any_shape(doc: dict[str, Any]) -> None:
    parse_or_clear_error(toml(doc))


@SETTINGS
@given(doc=documents)
def test_board_files_with_the_required_keys(doc: dict[str, Any]) -> None:
    parse_or_clear_error(toml({"name": "fuzzed", "description": "d", **doc}))


@SETTINGS
@given(text=st.text(max_size=200))
def test_board_files_of_any_text(text: str) -> None:
    parse_or_clear_error(text)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text("print('hi')\n")
    return tmp_path


@SETTINGS
@given(doc=st.dictionaries(st.sampled_from(["after_main", "romfs", "bogus"]), values, max_size=3))
def test_app_files_of_any_shape(app_dir: Path, doc: dict[str, Any]) -> None:
    (app_dir / "app.toml").write_text(toml(doc))
    try:
        app = build.App.load(app_dir)
    except build.BuildError as exc:
        assert "app.toml" in str(exc) or app_dir.name in str(exc)
        assert "fix" in str(exc)
    else:
        assert app.after_main in ("shutdown", "repl")
