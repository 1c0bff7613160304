"""Size: the stripped image per board, and what takes the bytes, from the link map.

The stripped ELF is what a hypervisor loads. Its bytes are attributed to
components by reading GNU ld's map (firmware.map, written by port/Makefile):
every input section placed in a file-backed output section (.text, .rodata,
.note.pvh, .data) counts for the object file it came from, and each object
file belongs to one component by where it was compiled - py/ is the
interpreter core, extmod/ MicroPython's extension modules, pvboot/ the boot
layer, modules/<plugin>/ a plugin's device code, frozen_content.o the frozen
bytecode. What remains (ELF headers, page alignment between segments) is
"headers + padding". .bss costs RAM, not image bytes: it is listed apart.
The issue-2 goal is at most 400 KiB stripped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from bench import common
from pyunik import build as builder

GOAL_BYTES = 400 * 1024
FILE_SECTIONS = {".text", ".rodata", ".note.pvh", ".data"}
RAM_SECTIONS = {".bss"}

_OUTPUT = re.compile(r"^(\.[\w.]+|/DISCARD/)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+)?\s*$")
_INPUT = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(.+))?$")
_INPUT_NAME = re.compile(r"^ ([.*\w][^\s]*)$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(.+))?$")


def component_of(obj: str, build_dir: Path) -> str:
    """Which component an input file of the link belongs to."""
    if not obj:
        return "headers + padding"
    if "libgcc" in obj:
        return "libgcc"
    try:
        rel = Path(obj).resolve().relative_to(build_dir.resolve())
    except ValueError:
        return "other"
    parts = rel.parts
    top = parts[0]
    if top == "py":
        return "py (interpreter core)"
    if top == "extmod":
        return "extmod"
    if top == "pvboot":
        return "pvboot"
    if top == "modules" and len(parts) > 2:
        return f"plugin {parts[1].replace('_', '-')}"
    if top in ("shared", "lib"):
        return "shared + lib (readline, pyexec, libm)"
    if rel.name == "frozen_content.o":
        return "frozen bytecode"
    return "port"


def parse_map(map_file: Path, build_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(file bytes per component, .bss bytes per component) from a GNU ld map."""
    in_file: dict[str, int] = defaultdict(int)
    in_ram: dict[str, int] = defaultdict(int)
    text = map_file.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    if start < 0:
        raise common.BenchError(f"{map_file}: no 'Linker script and memory map' section")
    current = ""
    pending: str | None = None
    for line in text[start:].splitlines()[1:]:
        if not line.strip():
            continue
        out = _OUTPUT.match(line)
        if out and not line.startswith(" "):
            current = out.group(1)
            pending = None
            continue
        size = obj = None
        if pending is not None:
            cont = _CONTINUATION.match(line)
            if cont:
                size, obj = int(cont.group(2), 16), cont.group(3) or ""
            pending = None
        if size is None:
            match = _INPUT.match(line)
            if match:
                size, obj = int(match.group(3), 16), match.group(4) or ""
            elif _INPUT_NAME.match(line) and not line.startswith(" *("):
                pending = line.strip()
                continue
        if size is None or not size:
            continue
        name = component_of((obj or "").strip(), build_dir)
        if current in FILE_SECTIONS:
            in_file[name] += size
        elif current in RAM_SECTIONS:
            in_ram[name] += size
    return dict(in_file), dict(in_ram)


def measure(board_name: str) -> dict[str, object]:
    img = common.image(board_name)
    map_file = img.build_dir / "firmware.map"
    in_file, in_ram = parse_map(map_file, img.build_dir)
    stripped = img.stripped.stat().st_size
    counted = sum(v for k, v in in_file.items() if k != "headers + padding")
    components = {k: v for k, v in in_file.items() if k != "headers + padding"}
    for plugin in img.plugins:  # a plugin with no C of its own still gets its line
        components.setdefault(f"plugin {plugin}", 0)
    components["headers + padding"] = stripped - counted
    return {
        "stripped_bytes": stripped,
        "stripped_kib": round(stripped / 1024, 1),
        "unstripped_bytes": img.elf.stat().st_size,
        "sections": builder.section_sizes(img.elf),
        "components": dict(sorted(components.items(), key=lambda kv: -kv[1])),
        "bss_by_component": dict(sorted(in_ram.items(), key=lambda kv: -kv[1])),
        "frozen_mpy_bytes": builder.frozen_sizes(img),
        "map": str(map_file.relative_to(common.ROOT)),
        "goal_le_400_kib": stripped <= GOAL_BYTES,
    }


def run(quick: bool) -> dict[str, object]:
    boards = {name: measure(name) for name in common.BOARDS}
    for name, entry in boards.items():
        common.log(f"size {name}: {entry['stripped_bytes']} bytes stripped")
    return {"what": "bytes of the stripped PVH ELF, by component from the link map", "boards": boards}
