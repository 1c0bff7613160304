"""pyunik.sources: choosing, verifying and stamping the upstream trees, offline.

The network methods (west, Debian) are replaced by fakes: what is tested is
the order of the methods, version verification, the stamp that makes a
second call free, and the single error that lists every failed attempt.
The real fetch is exercised by ``invoke deps``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import pytest
import yaml

from pyunik import progress, sources
from pyunik.sources import LWIP, MICROPYTHON, UPSTREAMS, SourcesError, Upstream, ensure_sources, verify_tree

REPO = Path(__file__).resolve().parents[2]


def make_tree(path: Path, up: Upstream, version: tuple[int, int, int] | None = None) -> Path:
    """Write the smallest tree ``verify_tree`` accepts (or a wrong version)."""
    major, minor, micro = version or up.version
    lines = [
        "/* fake version header */",
        f"#define {up.version_macros[0]} {major}",
        f"#define {up.version_macros[1]} ({minor})",  # parentheses occur upstream
        f"#define {up.version_macros[2]} {micro}",
    ]
    lines += [f"#define {name} {value}" for name, value in up.extra_defines]
    header = path / up.version_header
    header.parent.mkdir(parents=True, exist_ok=True)
    header.write_text("\n".join(lines) + "\n")
    return path


def no_fetch(ctx: object, up: Upstream) -> str:
    raise AssertionError(f"{up.name}: no fetch expected")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's own MICROPY_DIR / LWIP_DIR must not leak into the tests."""
    for up in UPSTREAMS:
        monkeypatch.delenv(up.env_var, raising=False)


@pytest.fixture
def logs() -> list[str]:
    return []


# -- verify_tree ---------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS, ids=lambda u: u.name)
def test_verify_accepts_the_pinned_release(tmp_path: Path, up: Upstream) -> None:
    verify_tree(make_tree(tmp_path, up), up)


def test_verify_rejects_another_version(tmp_path: Path) -> None:
    make_tree(tmp_path, MICROPYTHON, (1, 24, 1))
    with pytest.raises(ValueError, match=r"is micropython 1\.24\.1, need 1\.25\.0"):
        verify_tree(tmp_path, MICROPYTHON)


def test_verify_rejects_a_missing_header(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"init\.h not found \(not a lwip tree\?\)"):
        verify_tree(tmp_path, LWIP)


def test_verify_rejects_a_release_candidate(tmp_path: Path) -> None:
    header = make_tree(tmp_path, LWIP) / LWIP.version_header
    header.write_text(header.read_text().replace("LWIP_RC_RELEASE", "1"))
    with pytest.raises(ValueError, match="LWIP_VERSION_RC is '1'"):
        verify_tree(tmp_path, LWIP)


def test_verify_rejects_a_debian_patched_tree(tmp_path: Path) -> None:
    make_tree(tmp_path, MICROPYTHON)
    (tmp_path / ".pc").mkdir()
    (tmp_path / ".pc" / "applied-patches").write_text("0004-py-py.mk-Use-fixed-mpversion.patch\n")
    with pytest.raises(ValueError, match="Debian-patched"):
        verify_tree(tmp_path, MICROPYTHON)


# -- where trees come from -----------------------------------------------------


def test_env_vars_are_used_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: list[str]) -> None:
    monkeypatch.setattr(sources, "_try_west", no_fetch)
    monkeypatch.setattr(sources, "_try_debian", no_fetch)
    mine = {up.name: make_tree(tmp_path / "src" / up.name, up) for up in UPSTREAMS}
    for up in UPSTREAMS:
        monkeypatch.setenv(up.env_var, str(mine[up.name]))

    assert ensure_sources(tmp_path / "repo", log=logs.append) == mine
    assert not (tmp_path / "repo" / "deps" / "micropython").exists()
    assert any("from MICROPY_DIR" in line for line in logs)


def test_a_wrong_env_tree_is_an_error_not_a_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_try_west", no_fetch)
    monkeypatch.setattr(sources, "_try_debian", no_fetch)
    make_tree(tmp_path / "repo" / "deps" / "lwip", LWIP)
    monkeypatch.setenv("MICROPY_DIR", str(make_tree(tmp_path / "old", MICROPYTHON, (1, 22, 0))))

    with pytest.raises(SourcesError) as err:
        ensure_sources(tmp_path / "repo", log=lambda _: None)
    message = str(err.value)
    assert "micropython 1.22.0, need 1.25.0" in message
    assert "not falling back" in message
    assert "lwip 2.2.1 (wanted at" not in message  # lwip was fine


def test_existing_trees_are_adopted_and_stamped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_try_west", no_fetch)
    monkeypatch.setattr(sources, "_try_debian", no_fetch)
    deps = tmp_path / "deps"
    for up in UPSTREAMS:
        make_tree(deps / up.name, up)

    assert ensure_sources(tmp_path, log=lambda _: None) == {up.name: deps / up.name for up in UPSTREAMS}
    assert (deps / sources.STAMP_NAME).is_file()


def test_second_call_is_a_fast_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: list[str]) -> None:
    monkeypatch.setattr(sources, "_try_west", no_fetch)
    monkeypatch.setattr(sources, "_try_debian", no_fetch)
    for up in UPSTREAMS:
        make_tree(tmp_path / "deps" / up.name, up)
    first = ensure_sources(tmp_path, log=lambda _: None)

    def no_slow_path(*args: object) -> None:
        raise AssertionError("the stamp should have answered")

    monkeypatch.setattr(sources, "_obtain", no_slow_path)
    start = time.perf_counter()
    second = ensure_sources(tmp_path, log=logs.append)
    elapsed = time.perf_counter() - start

    assert second == first
    assert logs == []
    assert elapsed < 0.1, f"cached call took {elapsed:.3f} s"


def test_the_stamp_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_try_west", no_fetch)
    monkeypatch.setattr(sources, "_try_debian", no_fetch)
    for up in UPSTREAMS:
        make_tree(tmp_path / "deps" / up.name, up)
    ensure_sources(tmp_path, log=lambda _: None)

    mine = make_tree(tmp_path / "my-lwip", LWIP)
    monkeypatch.setenv("LWIP_DIR", str(mine))
    assert ensure_sources(tmp_path, log=lambda _: None)["lwip"] == mine
    monkeypatch.delenv("LWIP_DIR")
    assert ensure_sources(tmp_path, log=lambda _: None)["lwip"] == tmp_path / "deps" / "lwip"


def test_a_stale_tree_is_moved_aside_and_refetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deps = tmp_path / "deps"
    make_tree(deps / "lwip", LWIP)
    make_tree(deps / "micropython", MICROPYTHON, (1, 24, 0))
    calls: list[str] = []

    def west_fails(ctx: object, up: Upstream) -> str:
        calls.append(f"west {up.name}")
        raise sources._MethodFailed("no network")

    def debian_unpacks(ctx: object, up: Upstream) -> str:
        calls.append(f"debian {up.name}")
        make_tree(deps / up.name, up)
        return "fake Debian"

    monkeypatch.setattr(sources, "_try_west", west_fails)
    monkeypatch.setattr(sources, "_try_debian", debian_unpacks)

    assert ensure_sources(tmp_path, log=lambda _: None)["micropython"] == deps / "micropython"
    assert calls == ["west micropython", "debian micropython"]
    (old,) = (deps / ".old").iterdir()
    verify_tree(old, dataclasses.replace(MICROPYTHON, version=(1, 24, 0)))  # kept, not deleted


def test_all_methods_failing_gives_one_error_listing_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def west_fails(ctx: object, up: Upstream) -> str:
        raise sources._MethodFailed(f"{up.name} host unreachable; skipped")

    def debian_fails(ctx: object, up: Upstream) -> str:
        raise sources._MethodFailed("apt-get update (trixie deb-src) failed: mirror down")

    monkeypatch.setattr(sources, "_try_west", west_fails)
    monkeypatch.setattr(sources, "_try_debian", debian_fails)

    with pytest.raises(SourcesError) as err:
        ensure_sources(tmp_path, log=lambda _: None)
    message = str(err.value)
    for up in UPSTREAMS:
        assert f"{up.name} {up.version_str} (wanted at {tmp_path / 'deps' / up.name})" in message
        assert f"{up.env_var}: not set" in message
        assert f"existing {tmp_path / 'deps' / up.name}: absent" in message
        assert f"west update: {up.name} host unreachable; skipped" in message
    assert message.count("Debian source package: apt-get update (trixie deb-src) failed: mirror down") == 2
    assert "MICROPY_DIR / LWIP_DIR" in message
    assert not (tmp_path / "deps" / sources.STAMP_NAME).exists()


def test_a_failed_west_update_leaves_no_empty_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "west.yml").write_text((REPO / "west.yml").read_text())
    (tmp_path / "deps").mkdir()
    monkeypatch.setattr(sources, "_west_command", lambda: ["west"])
    monkeypatch.setattr(sources, "_probe", lambda host, port, timeout: None)

    def west_update(cmd: list[str], **kwargs: object) -> tuple[int, str]:
        (tmp_path / "deps" / "micropython" / ".git").mkdir(parents=True)  # what west leaves
        return 1, "fatal: unable to access 'https://github.com/...': Could not resolve host\nERROR: update failed"

    monkeypatch.setattr(sources, "_run", west_update)
    ctx = sources._Context(root=tmp_path, deps=tmp_path / "deps", log=lambda _: None)

    with pytest.raises(sources._MethodFailed, match=r"^fatal: unable to access"):
        sources._try_west(ctx, MICROPYTHON)
    assert not (tmp_path / "deps" / "micropython").exists()
    assert "path = .." in (tmp_path / "deps" / ".west" / "config").read_text()


# -- pins and parsing ------------------------------------------------------------


def test_west_yml_pins_the_same_tags() -> None:
    manifest = yaml.safe_load((REPO / "west.yml").read_text())["manifest"]
    projects = {p["name"]: p for p in manifest["projects"]}
    for up in UPSTREAMS:
        project = projects[up.west_project]
        assert project["revision"] == up.west_tag
        assert project["path"] == up.name  # relative to the deps/ workspace
    assert sources._west_project_url(REPO / "west.yml", "lwip") == "https://git.savannah.nongnu.org/git/lwip.git"
    assert sources._west_project_url(REPO / "west.yml", "micropython") == "https://github.com/micropython/micropython"


def test_mirror_uris_come_from_the_plain_release_suites() -> None:
    indextargets = "\n".join(
        [
            "http://mirror.example/debian-security/ bookworm-security deb",
            "http://mirror.example/debian/ bookworm deb",
            "http://mirror.example/debian/ bookworm-updates deb",
            "http://mirror.example/debian/ bookworm deb",
            "https://other.example/debian bookworm deb",
            "cdrom:[Debian]/ bookworm deb",
        ]
    )
    assert sources.debian_mirror_uris(indextargets) == [
        "http://mirror.example/debian/",
        "https://other.example/debian/",
    ]


SHOWSRC = """\
Package: lwip
Version: {version}
Files:
 3d880e258d07127aa9ede5986d84dcae 1100868 lwip_2.2.1+dfsg1.orig.tar.xz
 e09d40e6e146e8374b22ccc51d9c6a4f 14948 lwip_{version}.debian.tar.xz
Checksums-Sha256:
 83729c274c499d3348e9fbbe043a3113f3fa8953e7efddc7c21c7fcbb1f2b7b1 1100868 lwip_2.2.1+dfsg1.orig.tar.xz

"""


def test_debian_version_prefers_the_pinned_one() -> None:
    text = SHOWSRC.format(version="2.2.1+dfsg1-1") + SHOWSRC.format(version="2.2.1+dfsg1-1+deb13u1")
    assert sources.choose_debian_version(text, LWIP) == ("2.2.1+dfsg1-1+deb13u1", "lwip_2.2.1+dfsg1.orig.tar.xz")


def test_debian_version_accepts_a_later_revision_of_the_same_upstream() -> None:
    text = SHOWSRC.format(version="2.2.1+dfsg1-1+deb13u2")
    assert sources.choose_debian_version(text, LWIP)[0] == "2.2.1+dfsg1-1+deb13u2"


def test_debian_version_refuses_another_upstream() -> None:
    text = SHOWSRC.format(version="2.2.2+dfsg1-1").replace("2.2.1+dfsg1.orig", "2.2.2+dfsg1.orig")
    with pytest.raises(
        sources._MethodFailed, match=r"no lwip 2\.2\.1\+dfsg1-\* in trixie \(offered: 2\.2\.2\+dfsg1-1\)"
    ):
        sources.choose_debian_version(text, LWIP)


def _patch(path: Path, old: str, new: str) -> Path:
    path.write_text(f"a change\n\n--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-{old}\n+{new}\n", encoding="utf-8")
    return path


def test_the_patch_series_is_applied_once_and_reapplied_when_it_changes(tmp_path: Path) -> None:
    tree, deps, series = tmp_path / "deps" / "t", tmp_path / "deps", tmp_path / "patches"
    tree.mkdir(parents=True)
    series.mkdir()
    (tree / "f.txt").write_text("hello\n", encoding="utf-8")
    first = _patch(series / "0001-x.patch", "hello", "hello world")
    sources.apply_patches(tree, [first], deps, "t", lambda _: None)
    sources.apply_patches(tree, [first], deps, "t", lambda _: None)  # again: nothing to do
    assert (tree / "f.txt").read_text(encoding="utf-8") == "hello world\n"
    # A changed series starts from the pristine file, not from the patched one.
    changed = _patch(series / "0001-x.patch", "hello", "bye")
    sources.apply_patches(tree, [changed], deps, "t", lambda _: None)
    assert (tree / "f.txt").read_text(encoding="utf-8") == "bye\n"
    sources.apply_patches(tree, [], deps, "t", lambda _: None)
    assert (tree / "f.txt").read_text(encoding="utf-8") == "hello\n"


def test_a_patch_that_does_not_apply_is_named(tmp_path: Path) -> None:
    tree = tmp_path / "deps" / "t"
    tree.mkdir(parents=True)
    (tree / "f.txt").write_text("other\n", encoding="utf-8")
    bad = _patch(tmp_path / "0001-bad.patch", "hello", "bye")
    with pytest.raises(SourcesError, match=r"0001-bad\.patch: does not apply"):
        sources.apply_patches(tree, [bad], tmp_path / "deps", "t", lambda _: None)


FAKE_APT = """
import os, sys
fd = int(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("APT::Status-Fd=")))
with os.fdopen(fd, "w") as status:
    for percent in (0, 12.5, 50, 100):
        status.write(f"dlstatus:1:{percent}:Retrieving file 1 of 2\\n")
    status.write("pmstatus:dpkg-exec:50:not a download\\n")
print("fake apt done")
"""


class RecordedDownloads:
    def __init__(self) -> None:
        self.seen: list[tuple[str, float, str]] = []

    def update(self, label: str, percent: float, detail: str) -> None:
        self.seen.append((label, percent, detail))


def test_apt_download_progress_is_read_from_its_status_fd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What apt writes on APT::Status-Fd reaches the progress reporter, in order."""
    script = tmp_path / "apt-get.py"
    script.write_text(FAKE_APT)
    monkeypatch.setattr(sources, "_apt", lambda tool, ctx: [sys.executable, str(script)])
    downloads = RecordedDownloads()
    ctx = sources._Context(root=tmp_path, deps=tmp_path, log=print, downloads=downloads)
    code, out = sources._run_apt(ctx, ["update"], label="index")
    assert code == 0 and "fake apt done" in out
    assert [p for _, p, _ in downloads.seen] == [0.0, 12.5, 50.0, 100.0, 100.0]
    assert downloads.seen[1] == ("index", 12.5, "Retrieving file 1 of 2")
    assert downloads.seen[-1] == ("index", 100.0, "done")


def test_live_download_bars_render_from_the_first_update() -> None:
    """The bar's detail column exists from the moment the bar is added (rich renders at once)."""
    import io

    from rich.console import Console
    from rich.progress import Progress, TextColumn

    screen = io.StringIO()
    with Progress(
        TextColumn("{task.description} {task.fields[detail]}"), console=Console(file=screen, force_terminal=True)
    ) as bars:
        add_task = bars.add_task

        def add_and_render(*args, **kwargs):  # type: ignore[no-untyped-def]
            task = add_task(*args, **kwargs)
            bars.refresh()  # as rich's refresh thread may, before the first update
            return task

        bars.add_task = add_and_render  # type: ignore[method-assign]
        live = progress.LiveDownloads(bars)
        live.update("index", 40.0, "Retrieving file 1 of 2")
        live.update("lwip 2.2.1", 100.0, "done")
        bars.refresh()
    assert "Retrieving file 1 of 2" in screen.getvalue() and "lwip 2.2.1 done" in screen.getvalue()
