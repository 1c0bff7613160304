"""Obtain the pinned upstream source trees (MicroPython and lwIP) under ``deps/``.

pyunik compiles MicroPython's ``py/``, ``extmod/`` and ``shared/`` and lwIP's
``src/`` straight from upstream release trees; nothing of them is vendored.
:func:`ensure_sources` puts each tree at ``<root>/deps/<name>`` (or uses one the
user points to) and proves it is the pinned release by reading its version
header. For each tree it tries, in order:

1. an explicit tree named by an environment variable (``MICROPY_DIR``,
   ``LWIP_DIR``), used in place;
2. a tree already at ``deps/<name>`` (from an earlier run, or unpacked by hand);
3. ``west update`` of the project pinned in the repository's ``west.yml``, with
   the west workspace rooted at ``deps/`` so the projects land there;
4. Debian's source package from trixie, of which only the pristine upstream
   ``.orig.tar.xz`` is unpacked (pinned by SHA-256).

Debian is the fallback because machines building pyunik may reach Debian's
mirror but not GitHub. Debian's patches are deliberately not applied: they
rewrite ``py/py.mk``, ``py/mkrules.mk`` and ``extmod/extmod.mk`` for Debian's
unix build, and the patched tree reports its version as ``1.25.0+ds-1``.

Notes for the build that consumes these trees:

* Neither a west checkout (submodules are not fetched) nor Debian's ``+ds``
  tarball has anything in ``lib/micropython-lib``; MicroPython's make rules
  still want ``$(MPY_LIB_DIR)/README.md`` even when no micropython-lib package
  is used. This module does not fake that file inside the upstream tree: the
  build passes ``MPY_LIB_DIR`` pointing to an empty directory it creates under
  ``build/``, so manifests must not ``require()`` micropython-lib packages.
* ``lib/lwip`` in the MicroPython tree is also an empty submodule; the lwIP
  tree returned here replaces it.

Fixes pyunik needs in a pinned tree before upstream has them are a patch
series, ``patches/<name>/NNNN-*.patch`` (one fix per file, each naming the
upstream issue or pull request), applied with ``patch -p1`` once the tree is
in place. The first application keeps a pristine copy of every file a patch
touches under ``deps/.pristine/<name>/``; when the series changes, those
copies are put back and the whole series is applied again, so ``deps/`` never
carries a patch that is no longer in the series. A tree the user names with
``MICROPY_DIR``/``LWIP_DIR`` is never modified: it must carry the series
already, and an error says which patch is missing.

A successful run writes ``deps/.sources-stamp.json``; later calls that find it
consistent with the current pins, patches and environment only re-read two
version headers and return, in milliseconds.
"""

import configparser
import contextlib
import getpass
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import filelock

from pyunik import paths, progress

__all__ = [
    "APT_PACKAGES",
    "UPSTREAMS",
    "SourcesError",
    "Upstream",
    "ensure_sources",
    "verify_tree",
]

#: Debian packages the fallback path needs besides apt itself: ``xz-utils``
#: because the ``.orig`` tarballs are ``.tar.xz`` and are unpacked with
#: ``tar -J``; ``dpkg-dev`` because it provides ``dpkg-source``, which
#: ``apt-get source`` calls whenever it is asked to unpack (we only download,
#: but keep the tool there for anyone re-running the command by hand); ``git``
#: and ``ca-certificates`` for ``west update`` over HTTPS; ``patch`` for the
#: patch series (patches/<name>/).
APT_PACKAGES: tuple[str, ...] = ("dpkg-dev", "xz-utils", "git", "ca-certificates", "patch")

#: The Debian suite that carries the pinned versions (bookworm's lwIP 2.1.3
#: lacks files MicroPython 1.25 compiles, such as ``acd.c`` and ``mdns_*``).
DEBIAN_SUITE = "trixie"

#: Bookworm's archive keyring also holds trixie's signing keys.
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

#: Seconds to wait for a TCP connection to a west remote before deciding that
#: the network does not reach it; keeps an offline ``west update`` from hanging.
PROBE_TIMEOUT_S = 3.0

#: Upper bound on one ``west update``, once its remote answered the probe.
WEST_TIMEOUT_S = 300.0

#: Upper bound on one apt command (index download or source download).
APT_TIMEOUT_S = 300.0

STAMP_NAME = ".sources-stamp.json"
_STAMP_FORMAT = 2

#: Per tree, which patches are applied and which files they touched.
PATCH_RECORD = ".patches-{name}.json"
PRISTINE_DIR = ".pristine"


class SourcesError(RuntimeError):
    """No way of obtaining a pinned source tree worked.

    The message lists, for every tree that is missing, each method tried and
    why it failed, so one error tells the user what to fix.
    """


@dataclass(frozen=True)
class Upstream:
    """One pinned upstream tree and every way of getting it.

    The pins live here rather than only in ``west.yml`` because the Debian
    fallback and the version check need them without west installed; a unit
    test keeps the two in agreement.
    """

    name: str
    #: Environment variable naming a tree to use in place.
    env_var: str
    #: Release as (major, minor, micro).
    version: tuple[int, int, int]
    #: Header (relative to the tree) that defines the version macros.
    version_header: str
    #: Macro names holding major, minor and micro, in that order.
    version_macros: tuple[str, str, str]
    #: Further ``#define NAME VALUE`` pairs that must hold (e.g. "not an RC").
    extra_defines: tuple[tuple[str, str], ...]
    #: Project name in west.yml, and the tag it must pin.
    west_project: str
    west_tag: str
    #: Debian source package, and its upstream version (without revision).
    debian_source: str
    debian_upstream: str
    #: Debian versions known to carry that upstream version, preferred first;
    #: any other revision of ``debian_upstream`` is accepted too, because the
    #: ``.orig`` tarball it ships is checked against ``orig_sha256`` anyway.
    debian_versions: tuple[str, ...]
    #: SHA-256 of Debian's ``.orig.tar.xz`` (pristine upstream, repacked).
    orig_sha256: str
    #: Files whose presence marks a Debian-patched tree, which is refused.
    patched_markers: tuple[str, ...] = (".pc/applied-patches", "debian/patches")

    @property
    def version_str(self) -> str:
        """Dotted version, e.g. ``1.25.0``."""
        return ".".join(str(n) for n in self.version)


MICROPYTHON = Upstream(
    name="micropython",
    env_var="MICROPY_DIR",
    version=(1, 25, 0),
    version_header="py/mpconfig.h",
    version_macros=(
        "MICROPY_VERSION_MAJOR",
        "MICROPY_VERSION_MINOR",
        "MICROPY_VERSION_MICRO",
    ),
    # MicroPython marks development snapshots with a prerelease flag.
    extra_defines=(("MICROPY_VERSION_PRERELEASE", "0"),),
    west_project="micropython",
    west_tag="v1.25.0",
    debian_source="micropython",
    debian_upstream="1.25.0+ds",
    debian_versions=("1.25.0+ds-1",),
    orig_sha256="7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea",
)

LWIP = Upstream(
    name="lwip",
    env_var="LWIP_DIR",
    version=(2, 2, 1),
    version_header="src/include/lwip/init.h",
    version_macros=(
        "LWIP_VERSION_MAJOR",
        "LWIP_VERSION_MINOR",
        "LWIP_VERSION_REVISION",
    ),
    # A 2.2.1 release candidate has the same three numbers.
    extra_defines=(("LWIP_VERSION_RC", "LWIP_RC_RELEASE"),),
    west_project="lwip",
    west_tag="STABLE-2_2_1_RELEASE",
    debian_source="lwip",
    debian_upstream="2.2.1+dfsg1",
    # trixie's point release replaced 2.2.1+dfsg1-1 (a security fix to the
    # SNMP agent, which MicroPython does not compile); both share one .orig.
    debian_versions=("2.2.1+dfsg1-1+deb13u1", "2.2.1+dfsg1-1"),
    orig_sha256="83729c274c499d3348e9fbbe043a3113f3fa8953e7efddc7c21c7fcbb1f2b7b1",
)

UPSTREAMS: tuple[Upstream, ...] = (MICROPYTHON, LWIP)

Log = Callable[[str], None]


class _MethodFailed(Exception):
    """One method could not provide a tree; the message says why."""


@dataclass
class _Context:
    """State shared by the methods during one :func:`ensure_sources` call.

    It memoises the slow shared steps (the apt index download) so that the
    second tree does not repeat them, or their failure.
    """

    root: Path
    deps: Path
    log: Log
    downloads: progress.DownloadReporter = field(default_factory=progress.QuietDownloads)
    apt_index_error: str | None = None
    apt_index_ready: bool = False
    attempts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def apt_dir(self) -> Path:
        """Isolated apt state, so the system's lists and caches stay untouched."""
        return self.deps / ".apt"


# --------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------


def ensure_sources(root: Path, log: Log = print, deps: Path | None = None) -> dict[str, Path]:
    """Make sure the pinned MicroPython and lwIP trees exist; return their paths.

    ``root`` is pyunik's tree (the directory holding ``west.yml`` and
    ``patches/``; see pyunik/paths.py); ``deps`` where the trees go (default:
    pyunik.paths.DEPS for pyunik's own tree, else ``<root>/deps``). The
    result maps ``"micropython"`` and ``"lwip"`` to absolute paths, normally
    ``<deps>/<name>`` but the user's own tree when ``MICROPY_DIR`` or
    ``LWIP_DIR`` is set. Safe to call repeatedly and from concurrent
    processes: a consistent stamp makes it return at once, and the slow path
    holds a lock on ``deps/``.

    Raises :class:`SourcesError` when some tree cannot be obtained.
    """
    root = Path(root).resolve()
    if deps is None:
        # pyunik's own tree: where paths.py says (never inside an installed package).
        deps = paths.DEPS if root == paths.ROOT.resolve() else root / "deps"
    deps = Path(deps).resolve()
    env = _env_snapshot()
    patches = _patch_digests(root)
    cached = _read_stamp(deps, env, patches)
    if cached is not None:
        return cached

    deps.mkdir(parents=True, exist_ok=True)
    with _locked(deps / ".sources.lock"):
        # Another process may have finished while we waited for the lock.
        cached = _read_stamp(deps, env, patches)
        if cached is not None:
            return cached
        found: dict[str, Path] = {}
        methods: list[str] = []
        with progress.download_reporter() as downloads:
            ctx = _Context(root=root, deps=deps, log=log, downloads=downloads)
            for up in UPSTREAMS:
                got = _obtain(ctx, up)
                if got is not None:
                    found[up.name] = got[0]
                    methods.append(got[1])
        if len(found) != len(UPSTREAMS):
            raise SourcesError(_failure_message(ctx, found))
        for up in UPSTREAMS:
            series = patch_series(root, up.name)
            if os.environ.get(up.env_var):
                _check_patched(found[up.name], series, up.env_var)
            else:
                apply_patches(found[up.name], series, deps, up.name, log)
        _write_stamp(deps, env, found, methods, patches)
        return found


def verify_tree(path: Path, up: Upstream) -> None:
    """Check that ``path`` holds release ``up.version`` of ``up``, unpatched.

    Reads only the version header, so it is cheap enough to run on every
    call. Raises :class:`ValueError` with the reason when the tree does not
    qualify.
    """
    header = path / up.version_header
    try:
        text = header.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise ValueError(f"{header} not found (not a {up.name} tree?)") from None
    except OSError as exc:
        raise ValueError(f"cannot read {header}: {exc.strerror}") from None
    found = []
    for macro in up.version_macros:
        value = _define(text, macro)
        if value is None or not value.isdigit():
            raise ValueError(f"{header}: no numeric #define {macro}")
        found.append(int(value))
    if tuple(found) != up.version:
        have = ".".join(str(n) for n in found)
        raise ValueError(f"{path} is {up.name} {have}, need {up.version_str}")
    for macro, want in up.extra_defines:
        value = _define(text, macro)
        if value != want:
            raise ValueError(f"{header}: {macro} is {value!r}, need {want!r} (not the {up.version_str} release?)")
    for marker in up.patched_markers:
        if (path / marker).exists():
            raise ValueError(
                f"{path} has {marker}: a Debian-patched tree; pyunik needs "
                f"the pristine upstream sources (the .orig tarball)"
            )


def _define(text: str, macro: str) -> str | None:
    """Value of ``#define macro VALUE`` in C text, without parentheses."""
    m = re.search(
        rf"^[ \t]*#[ \t]*define[ \t]+{re.escape(macro)}[ \t]+\(?[ \t]*(\w+)",
        text,
        re.MULTILINE,
    )
    return m.group(1) if m else None


# --------------------------------------------------------------------------
# Stamp (fast path)
# --------------------------------------------------------------------------


def _env_snapshot() -> dict[str, str | None]:
    """The environment variables that change where trees come from."""
    return {up.env_var: os.environ.get(up.env_var) or None for up in UPSTREAMS}


def _pins() -> dict[str, dict[str, object]]:
    """Everything about the pins that must match for a stamp to be valid.

    Round-tripped through JSON so that it compares equal to what a stamp
    file reads back (tuples become lists).
    """
    return json.loads(json.dumps({up.name: asdict(up) for up in UPSTREAMS}))


def _read_stamp(deps: Path, env: dict[str, str | None], patches: dict[str, str]) -> dict[str, Path] | None:
    """Return the stamped trees if the stamp still describes reality, else None.

    The stamp is only trusted for the same pins and the same environment
    variables, and each tree's version header is re-read, since someone may
    have replaced a tree since.
    """
    try:
        data = json.loads((deps / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("format") != _STAMP_FORMAT:
        return None
    if data.get("env") != env or data.get("pins") != _pins() or data.get("patches") != patches:
        return None
    trees = data.get("trees")
    if not isinstance(trees, dict):
        return None
    result: dict[str, Path] = {}
    for up in UPSTREAMS:
        entry = trees.get(up.name)
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            return None
        path = Path(entry["path"])
        try:
            verify_tree(path, up)
        except ValueError:
            return None
        result[up.name] = path
    return result


def _write_stamp(
    deps: Path,
    env: dict[str, str | None],
    trees: dict[str, Path],
    methods: Sequence[str],
    patches: dict[str, str],
) -> None:
    """Record what was obtained and how, atomically."""
    data = {
        "format": _STAMP_FORMAT,
        "env": env,
        "pins": _pins(),
        "patches": patches,
        "trees": {
            up.name: {"path": str(trees[up.name]), "method": how} for up, how in zip(UPSTREAMS, methods, strict=True)
        },
    }
    tmp = deps / f".{STAMP_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, deps / STAMP_NAME)


def _locked(path: Path) -> filelock.FileLock:
    """An exclusive lock (filelock), so parallel builds fetch only once."""
    return filelock.FileLock(path)


# --------------------------------------------------------------------------
# The patch series
# --------------------------------------------------------------------------


def patch_series(root: Path, name: str) -> list[Path]:
    """The patches for tree ``name``, in the order they apply."""
    return sorted((root / "patches" / name).glob("*.patch"))


def _patch_digests(root: Path) -> dict[str, str]:
    """``name/file.patch`` -> SHA-256 of every patch, for the stamp."""
    return {f"{up.name}/{p.name}": _sha256(p) for up in UPSTREAMS for p in patch_series(root, up.name)}


def patched_files(patch: Path) -> list[str]:
    """The paths (relative to the tree, as ``patch -p1`` sees them) a patch changes."""
    files: list[str] = []
    for line in patch.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("--- ", "+++ ")):
            path = line[4:].split("\t")[0].strip()
            if path != "/dev/null" and "/" in path:
                rel = path.split("/", 1)[1]
                if rel not in files:
                    files.append(rel)
    return files


def _patch_cmd(tree: Path, patch: Path, *extra: str) -> list[str]:
    return ["patch", "-p1", "--batch", "--no-backup-if-mismatch", "-r", "-", "-d", str(tree), "-i", str(patch), *extra]


def apply_patches(tree: Path, series: Sequence[Path], deps: Path, name: str, log: Log) -> None:
    """Make ``tree`` the pristine tree plus exactly ``series``; idempotent.

    Raises :class:`SourcesError` naming the patch that does not apply.
    """
    record_path = deps / PATCH_RECORD.format(name=name)
    pristine = deps / PRISTINE_DIR / name
    want = [{"patch": p.name, "sha256": _sha256(p)} for p in series]
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {"applied": [], "saved": {}}
    if record.get("applied") == want and record.get("tree") == str(tree) and _carries(tree, series):
        return
    saved: dict[str, bool] = record.get("saved", {}) if record.get("tree") == str(tree) else {}
    # Back to pristine: every file an earlier series touched.
    for rel, existed in saved.items():
        if existed:
            shutil.copy2(pristine / rel, tree / rel)
        else:
            (tree / rel).unlink(missing_ok=True)
    record = {"tree": str(tree), "applied": [], "saved": saved}
    for patch in series:
        for rel in patched_files(patch):
            if rel not in saved:
                existed = (tree / rel).is_file()
                if existed:
                    (pristine / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(tree / rel, pristine / rel)
                saved[rel] = existed
        record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        code, out = _run(_patch_cmd(tree, patch, "--forward"), timeout=60)
        if code != 0:
            raise SourcesError(f"{patch}: does not apply to {tree}: {_last_line(out)}")
        record["applied"].append({"patch": patch.name, "sha256": _sha256(patch)})
        log(f"sources: {name}: applied {patch.name}")
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _missing(tree: Path, series: Sequence[Path]) -> Path | None:
    """The first patch of ``series`` that ``tree`` does not carry, or None."""
    for patch in series:
        code, _ = _run(_patch_cmd(tree, patch, "--reverse", "--dry-run", "--force"), timeout=60)
        if code != 0:
            return patch
    return None


def _carries(tree: Path, series: Sequence[Path]) -> bool:
    return _missing(tree, series) is None


def _check_patched(tree: Path, series: Sequence[Path], env_var: str) -> None:
    """A user's tree is not modified: it must already carry the series."""
    patch = _missing(tree, series)
    if patch is not None:
        raise SourcesError(
            f"{env_var}={tree} lacks {patch.name}; fix: patch -p1 -d {tree} < {patch} (or unset {env_var})"
        )


# --------------------------------------------------------------------------
# The methods, in order
# --------------------------------------------------------------------------


def _obtain(ctx: _Context, up: Upstream) -> tuple[Path, str] | None:
    """Try each method for one tree; record why each failed.

    Returns the path and a short description of the method that worked, or
    None after recording every failure in ``ctx.attempts``.
    """
    tried = ctx.attempts.setdefault(up.name, [])
    target = ctx.deps / up.name

    # 1. The user's own tree. When the variable is set but wrong we stop:
    # silently building the pinned tree instead would make the user believe
    # their tree was tested.
    env_value = os.environ.get(up.env_var)
    if env_value:
        path = Path(env_value).expanduser().resolve()
        try:
            verify_tree(path, up)
        except ValueError as exc:
            tried.append(
                f"{up.env_var}={env_value}: {exc} (not falling back to other "
                f"methods; unset {up.env_var} to fetch the pinned tree)"
            )
            return None
        ctx.log(f"sources: {up.name}: using {path} from {up.env_var}")
        return path, f"env {up.env_var}"
    tried.append(f"{up.env_var}: not set")

    # 2. A tree already in place (earlier run without a stamp, or by hand).
    if target.exists():
        try:
            verify_tree(target, up)
        except ValueError as exc:
            aside = _move_aside(ctx, target)
            tried.append(f"existing {target}: {exc}; moved to {aside}")
            ctx.log(f"sources: {up.name}: {exc}; moved it to {aside}")
        else:
            ctx.log(f"sources: {up.name}: adopted existing {target}")
            return target, "existing"
    else:
        tried.append(f"existing {target}: absent")

    # 3 and 4. Fetch.
    fetchers: tuple[tuple[str, Callable[[_Context, Upstream], str]], ...] = (
        ("west update", _try_west),
        ("Debian source package", _try_debian),
    )
    for label, fetch in fetchers:
        try:
            how = fetch(ctx, up)
            verify_tree(target, up)
        except (_MethodFailed, ValueError) as exc:
            tried.append(f"{label}: {exc}")
            ctx.log(f"sources: {up.name}: {label} failed: {exc}")
            continue
        ctx.log(f"sources: {up.name}: {how} -> {target}")
        return target, how
    return None


def _failure_message(ctx: _Context, found: dict[str, Path]) -> str:
    """One message naming every missing tree and every attempt for it."""
    lines = ["could not obtain the pinned upstream sources:"]
    for up in UPSTREAMS:
        if up.name in found:
            continue
        lines.append(f"  {up.name} {up.version_str} (wanted at {ctx.deps / up.name}):")
        lines.extend(f"    - {why}" for why in ctx.attempts.get(up.name, []))
    lines.append(
        "Point "
        + " / ".join(up.env_var for up in UPSTREAMS if up.name not in found)
        + " at a pristine release tree, or give this machine access to GitHub/"
        "savannah or to a Debian mirror carrying " + DEBIAN_SUITE + " sources."
    )
    return "\n".join(lines)


def _move_aside(ctx: _Context, path: Path) -> Path:
    """Keep a tree that failed verification instead of deleting it.

    It may hold someone's edits; moving it under ``deps/.old/`` frees the
    path for the pinned tree without losing them.
    """
    old = ctx.deps / ".old"
    old.mkdir(exist_ok=True)
    dest = old / f"{path.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.rename(dest)
    return dest


# --------------------------------------------------------------------------
# west
# --------------------------------------------------------------------------


def _try_west(ctx: _Context, up: Upstream) -> str:
    """Fetch ``up`` with ``west update`` into ``deps/<name>``.

    The workspace topdir is ``deps/`` and its manifest is the repository's
    ``west.yml`` (``manifest.path = ..``), which west accepts; so project
    paths in ``west.yml`` are relative to ``deps/``. To fail fast offline,
    the remote host is probed first with a short TCP connect, unless a proxy
    is configured or the workspace has a west name/path cache (which serves
    clones without the network). A failed update leaves an empty git
    repository behind; it is removed so it cannot pass for a tree later.
    """
    west = _west_command()
    if west is None:
        raise _MethodFailed("west is not installed (pip install west)")
    if shutil.which("git") is None:
        raise _MethodFailed("git is not installed")
    manifest = ctx.root / "west.yml"
    if not manifest.is_file():
        raise _MethodFailed(f"{manifest} not found")
    _write_west_config(ctx)
    if not _west_cache_configured(ctx) and not _proxy_configured():
        url = _west_project_url(manifest, up.west_project)
        host = urlsplit(url).hostname or ""
        port = urlsplit(url).port or 443
        problem = _probe(host, port, PROBE_TIMEOUT_S)
        if problem:
            raise _MethodFailed(f"{host} unreachable ({problem}); skipped")

    target = ctx.deps / up.name
    env = dict(os.environ)
    env.update(
        GIT_TERMINAL_PROMPT="0",
        # Abort a transfer that stalls below 1 kB/s for 30 s.
        GIT_HTTP_LOW_SPEED_LIMIT="1000",
        GIT_HTTP_LOW_SPEED_TIME="30",
    )
    existed = target.exists()
    code, out = _run(
        [*west, "update", "--narrow", up.west_project],
        cwd=ctx.deps,
        env=env,
        timeout=WEST_TIMEOUT_S,
    )
    if code != 0:
        if not existed and target.exists():
            shutil.rmtree(target, ignore_errors=True)
        raise _MethodFailed(_last_line(out))
    return f"west update ({up.west_tag})"


def _west_command() -> list[str] | None:
    """How to run west: this interpreter's module if present, else PATH."""
    try:
        import west  # noqa: F401  (probe only)
    except ImportError:
        exe = shutil.which("west")
        return [exe] if exe else None
    return [sys.executable, "-m", "west"]


def _write_west_config(ctx: _Context) -> None:
    """Root a west workspace at ``deps/`` whose manifest is ``../west.yml``.

    Other settings already in ``deps/.west/config`` (e.g. ``update.name-cache``)
    are kept.
    """
    cfg_path = ctx.deps / ".west" / "config"
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg = configparser.ConfigParser()
    cfg.read(cfg_path, encoding="utf-8")
    if not cfg.has_section("manifest"):
        cfg.add_section("manifest")
    cfg["manifest"]["path"] = os.path.relpath(ctx.root, ctx.deps)
    cfg["manifest"]["file"] = "west.yml"
    with cfg_path.open("w", encoding="utf-8") as fh:
        cfg.write(fh)


def _west_cache_configured(ctx: _Context) -> bool:
    """Whether the workspace config names a local clone cache for west."""
    cfg = configparser.ConfigParser()
    cfg.read(ctx.deps / ".west" / "config", encoding="utf-8")
    return cfg.has_option("update", "name-cache") or cfg.has_option("update", "path-cache")


def _proxy_configured() -> bool:
    """A proxy makes a direct TCP probe meaningless; git may still get through."""
    names = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
    return any(os.environ.get(n) for n in (*names, "all_proxy", "ALL_PROXY"))


def _west_project_url(manifest: Path, project: str) -> str:
    """The fetch URL of ``project`` in ``manifest``, as west's own manifest API resolves it."""
    from west.manifest import ImportFlag, MalformedManifest, Manifest  # imported late: the fast path skips west

    try:
        parsed = Manifest.from_data(manifest.read_text(encoding="utf-8"), import_flags=ImportFlag.IGNORE)
        return str(parsed.get_projects([project])[0].url)
    except MalformedManifest as exc:
        raise _MethodFailed(f"{manifest}: {exc}") from None
    except ValueError:  # get_projects: no such project
        raise _MethodFailed(f"project {project!r} not in {manifest}") from None


def _probe(host: str, port: int, timeout: float) -> str | None:
    """Try a TCP connection; return None on success, else the reason.

    Runs in a thread because name resolution ignores socket timeouts and can
    stall far longer than ``timeout`` on a machine with a dead resolver.
    """
    if not host:
        return "no host in URL"
    result: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as exc:
            result.append(str(exc) or type(exc).__name__)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if not result:
        return f"no answer within {timeout:g} s"
    return result[0]


# --------------------------------------------------------------------------
# Debian source packages
# --------------------------------------------------------------------------


def _try_debian(ctx: _Context, up: Upstream) -> str:
    """Unpack Debian's pristine ``.orig`` tarball of ``up`` into ``deps/<name>``.

    A tarball already downloaded (and matching the pinned SHA-256) is reused,
    so this works offline after one successful run. Otherwise a trixie
    deb-src index is fetched into isolated apt state under ``deps/.apt``
    from the mirror the system already uses, the pinned version is
    downloaded with ``apt-get source --download-only``, and its checksum is
    checked before unpacking.
    """
    dl = ctx.apt_dir / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    tarball = _cached_orig(dl, up)
    how = "Debian .orig tarball (cached)"
    if tarball is None:
        _ensure_apt_index(ctx)
        version, orig_name = _choose_debian_version(ctx, up)
        ctx.log(f"sources: {up.name}: downloading Debian {up.debian_source}={version}")
        code, out = _run_apt(
            ctx,
            ["source", "--download-only", "-q", f"{up.debian_source}={version}"],
            label=f"{up.debian_source} {version}",
            cwd=dl,
        )
        if code != 0:
            raise _MethodFailed(f"apt-get source failed: {_last_line(out)}")
        tarball = dl / orig_name
        if not tarball.is_file():
            raise _MethodFailed(f"apt-get source did not produce {orig_name}")
        digest = _sha256(tarball)
        if digest != up.orig_sha256:
            raise _MethodFailed(f"{orig_name} has SHA-256 {digest}, pinned {up.orig_sha256}")
        how = f"Debian {up.debian_source} {version} (.orig only, unpatched)"
    _unpack(tarball, ctx.deps / up.name, up)
    return how


def _cached_orig(dl: Path, up: Upstream) -> Path | None:
    """A previously downloaded ``.orig`` tarball with the pinned checksum."""
    for tarball in sorted(dl.glob(f"{up.debian_source}_{up.debian_upstream}.orig.tar.*")):
        if _sha256(tarball) == up.orig_sha256:
            return tarball
    return None


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _apt(tool: str, ctx: _Context) -> list[str]:
    """``tool`` with options that confine apt to the state under ``deps/.apt``.

    Only sources, lists and caches are redirected; the system's apt.conf.d
    (proxies, etc.) still applies, and the system's dpkg status is only read.
    """
    a = ctx.apt_dir
    return [
        tool,
        "-o",
        f"Dir::Etc::SourceList={a / 'sources.list'}",
        "-o",
        f"Dir::Etc::SourceParts={a / 'sources.list.d'}",
        "-o",
        f"Dir::State::Lists={a / 'lists'}",
        "-o",
        f"Dir::Cache={a / 'cache'}",
        "-o",
        "Acquire::Languages=none",
        "-o",
        # The _apt sandbox user cannot write into deps/ (often under $HOME).
        f"APT::Sandbox::User={getpass.getuser()}",
    ]


def _run_apt(ctx: _Context, args: Sequence[str], label: str, cwd: Path | None = None) -> tuple[int, str]:
    """``apt-get ARGS`` in the isolated state, its download progress shown as ``label``.

    apt reports progress as lines on the file descriptor named by
    ``APT::Status-Fd``: a pipe here, read by a thread while :func:`_run` waits.
    """
    read_fd, write_fd = os.pipe()

    def follow() -> None:
        with os.fdopen(read_fd, encoding="utf-8", errors="replace") as status:
            for line in status:
                seen = progress.parse_apt_status(line)
                if seen is not None:
                    ctx.downloads.update(label, *seen)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        cmd = [*_apt("apt-get", ctx), "-o", f"APT::Status-Fd={write_fd}", *args]
        result = _run(cmd, cwd=cwd, timeout=APT_TIMEOUT_S, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)  # apt has exited: the reader sees the end of the pipe
        reader.join(timeout=5)
    ctx.downloads.update(label, 100.0, "done" if result[0] == 0 else "failed")
    return result


def _ensure_apt_index(ctx: _Context) -> None:
    """Download trixie's Sources index into the isolated apt state, once."""
    if ctx.apt_index_ready:
        return
    if ctx.apt_index_error is not None:
        raise _MethodFailed(ctx.apt_index_error)
    try:
        _fetch_apt_index(ctx)
    except _MethodFailed as exc:
        ctx.apt_index_error = str(exc)
        raise
    ctx.apt_index_ready = True


def _fetch_apt_index(ctx: _Context) -> None:
    """Write a deb-src stanza for the system's own mirror and run apt-get update.

    The mirror is read from apt's configuration at run time so that no host
    name is written into this repository, and mirrors configured by the
    machine's owner (or a proxy) are honoured.
    """
    if shutil.which("apt-get") is None:
        raise _MethodFailed("apt-get not found (not a Debian-based system)")
    uris = debian_mirror_uris(_apt_indextargets())
    if not uris:
        raise _MethodFailed("found no Debian mirror in apt's configuration")
    a = ctx.apt_dir
    for sub in ("sources.list.d", "lists/partial", "cache/archives/partial"):
        (a / sub).mkdir(parents=True, exist_ok=True)
    (a / "sources.list").write_text("", encoding="utf-8")
    (a / "sources.list.d" / f"{DEBIAN_SUITE}-src.sources").write_text(
        "# Written by pyunik/sources.py from the system's apt mirror.\n"
        "Types: deb-src\n"
        f"URIs: {' '.join(uris)}\n"
        f"Suites: {DEBIAN_SUITE}\n"
        "Components: main\n"
        f"Signed-By: {DEBIAN_KEYRING}\n",
        encoding="utf-8",
    )
    ctx.log(f"sources: fetching the Debian {DEBIAN_SUITE} source index")
    code, out = _run_apt(ctx, ["update", "-q", "--error-on=any"], label=f"{DEBIAN_SUITE} source index")
    if code != 0:
        raise _MethodFailed(f"apt-get update ({DEBIAN_SUITE} deb-src) failed: {_last_line(out)}")


def _apt_indextargets() -> str:
    """Return apt's configured index targets, one ``URI RELEASE TYPE`` per line."""
    code, out = _run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE) $(TARGET_OF)"],
        timeout=30,
    )
    return out if code == 0 else ""


def debian_mirror_uris(indextargets: str) -> list[str]:
    """Pick the Debian archive URIs from ``apt-get indextargets`` output.

    Keeps URIs that serve a plain release suite (``bookworm``, not
    ``bookworm-security`` or ``bookworm-updates``), since only those carry
    ``trixie/main`` too; security mirrors are a separate archive. Order is
    preserved and duplicates dropped.
    """
    uris: list[str] = []
    for line in indextargets.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        uri, release = parts[0], parts[1]
        if "-" in release or "/" in release or uri.startswith("cdrom:"):
            continue
        uri = uri.rstrip("/") + "/"
        if uri not in uris:
            uris.append(uri)
    return uris


def _choose_debian_version(ctx: _Context, up: Upstream) -> tuple[str, str]:
    """The Debian version to download and the name of its ``.orig`` tarball."""
    code, out = _run(
        [*_apt("apt-cache", ctx), "showsrc", "--only-source", up.debian_source],
        timeout=60,
    )
    if code != 0:
        raise _MethodFailed(f"{up.debian_source} not in {DEBIAN_SUITE} sources: {_last_line(out)}")
    return choose_debian_version(out, up)


def choose_debian_version(showsrc: str, up: Upstream) -> tuple[str, str]:
    """Choose from ``apt-cache showsrc`` output; return (version, orig name).

    A pinned Debian version is preferred; otherwise any revision of the same
    upstream version will do, since the tarball is checked by SHA-256.
    """
    offers: dict[str, str] = {}
    for record in re.split(r"\n\s*\n", showsrc):
        pkg = re.search(r"^Package: (\S+)", record, re.MULTILINE)
        ver = re.search(r"^Version: (\S+)", record, re.MULTILINE)
        orig = re.search(r"^ [0-9a-f]+ \d+ (\S+\.orig\.tar\.\w+)$", record, re.MULTILINE)
        if pkg and ver and orig and pkg.group(1) == up.debian_source:
            offers[ver.group(1)] = orig.group(1)
    for version in up.debian_versions:
        if version in offers:
            return version, offers[version]
    for version, orig in offers.items():
        if version.rsplit("-", 1)[0] == up.debian_upstream:
            return version, orig
    listed = ", ".join(sorted(offers)) or "none"
    raise _MethodFailed(f"no {up.debian_source} {up.debian_upstream}-* in {DEBIAN_SUITE} (offered: {listed})")


def _unpack(tarball: Path, target: Path, up: Upstream) -> None:
    """Extract ``tarball`` (one top-level directory) to ``target`` atomically.

    Extraction goes to a temporary directory next to the target and is
    renamed into place only after it verifies, so an interrupted run never
    leaves a half tree that a later run would adopt.
    """
    if target.exists():
        raise _MethodFailed(f"{target} exists; refusing to unpack over it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        code, out = _run(
            ["tar", "-xJf", str(tarball), "-C", str(tmp), "--strip-components=1", "--no-same-owner"],
            timeout=APT_TIMEOUT_S,
        )
        if code != 0:
            raise _MethodFailed(f"tar failed on {tarball.name}: {_last_line(out)}")
        try:
            verify_tree(tmp, up)
        except ValueError as exc:
            raise _MethodFailed(f"{tarball.name} does not verify: {exc}") from None
        tmp.chmod(0o755)  # mkdtemp makes it 0700
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# Subprocesses
# --------------------------------------------------------------------------


def _run(
    cmd: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> tuple[int, str]:
    """Run ``cmd``; return (exit code, combined output). Never raises on failure.

    The command gets its own process group so that a timeout also kills its
    children (git under west, the http methods under apt).
    """
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        return 127, f"{cmd[0]}: {exc.strerror}"
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return 124, f"{out}\ntimed out after {timeout:g} s"
    return proc.returncode, out


def _last_line(output: str) -> str:
    """The most telling line of a failed command's output (its last error)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    # git's "fatal:" names the cause; west's closing "ERROR:" only the project.
    for prefixes in (("fatal:", "E:", "error:"), ("ERROR",), ("timed out",)):
        for ln in reversed(lines):
            if ln.startswith(prefixes):
                return ln
    return lines[-1] if lines else "no output"
