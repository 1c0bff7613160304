"""Property tests (hypothesis): the two kernel command-line parsers agree on every line.

The frozen ``cmdline`` module (port/frozen/cmdline.py, run here by CPython
with a stand-in ``pvboot``) and pvboot's C ``pvboot_cmdline_option()``
(port/pvboot/cmdline.c, built as a shared library with
tests/unit/c/cmdline_harness.c) must give the same value for every key
on lines made of printable ASCII and the whitespace both split on; the C
one must never point outside the line. Hypothesis draws a bounded number
of examples (derandomized, so CI sees the same ones every run).
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyunik.board import ROOT

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# What MicroPython's str.split() and the C parser both treat as separators.
WHITESPACE = " \t\n\v\f\r"
ALPHABET = st.sampled_from([chr(c) for c in range(0x21, 0x7F)] + list(WHITESPACE))
WORD_CHARS = st.sampled_from([chr(c) for c in range(0x21, 0x7F) if chr(c) != "="])


def python_parse() -> Callable[[str], tuple[dict[str, Any], list[str]]]:
    fake = types.ModuleType("pvboot")
    fake.cmdline = lambda: ""  # type: ignore[attr-defined]
    sys.modules["pvboot"] = fake
    try:
        namespace: dict[str, Any] = {}
        source = (ROOT / "port" / "frozen" / "cmdline.py").read_text()
        exec(compile(source, "cmdline.py", "exec"), namespace)
    finally:
        del sys.modules["pvboot"]
    return namespace["_parse"]  # type: ignore[no-any-return]


_parse = python_parse()


@pytest.fixture(scope="module")
def c_option(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], str | None]:
    lib = tmp_path_factory.mktemp("cmdline") / "libcmdline.so"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O1",
            "-Wall",
            "-Werror",
            f"-I{ROOT / 'port' / 'pvboot'}",
            "-o",
            str(lib),
            str(ROOT / "tests" / "unit" / "c" / "cmdline_harness.c"),
            str(ROOT / "port" / "pvboot" / "cmdline.c"),
        ],
        check=True,
    )
    so = ctypes.CDLL(str(lib))
    so.pvboot_cmdline_option.restype = ctypes.c_void_p
    so.pvboot_cmdline_option.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]
    so.harness_set_cmdline.argtypes = [ctypes.c_char_p]

    def option(line: str, key: str) -> str | None:
        buf = ctypes.create_string_buffer(line.encode())
        so.harness_set_cmdline(buf)
        length = ctypes.c_size_t(0)
        at = so.pvboot_cmdline_option(key.encode(), ctypes.byref(length))
        if at is None:
            return None
        start = at - ctypes.addressof(buf)
        assert start >= 0 and start + length.value <= len(line), "points outside the line"
        return line[start : start + length.value]

    return option


def words_line() -> st.SearchStrategy[str]:
    """Lines built from key=value words, bare words, "--" and runs of whitespace."""
    key = st.text(WORD_CHARS, min_size=0, max_size=6)
    word = st.one_of(
        st.builds(lambda k, v: f"{k}={v}", key, st.text(ALPHABET.filter(lambda c: c not in WHITESPACE), max_size=8)),
        key,
        st.just("--"),
    )
    gap = st.text(st.sampled_from(list(WHITESPACE)), min_size=1, max_size=3)
    return st.builds(lambda ws, g: g.join(ws), st.lists(word, max_size=8), gap)


@SETTINGS
@given(line=st.one_of(words_line(), st.text(ALPHABET, max_size=60)), extra=st.text(WORD_CHARS, max_size=4))
def test_c_and_frozen_parsers_agree(c_option: Callable[[str, str], str | None], line: str, extra: str) -> None:
    options, _ = _parse(line)
    for key in [*options, extra]:
        if "=" in key:
            continue
        want = options.get(key)
        assert c_option(line, key) == (want if isinstance(want, str) else None), (line, key)


@SETTINGS
@given(before=words_line(), after=words_line())
def test_words_after_double_dash_are_the_apps(before: str, after: str) -> None:
    options, args = _parse(f"{before} -- {after}")
    own, _ = _parse(before)
    if "--" not in before.split():
        assert options == own
        assert args == after.split()
