"""Size: the stripped image per board, and what takes the bytes, from the symbol table and DWARF.

The stripped ELF is what a hypervisor loads. The image is linked with LTO
(port/Makefile), so GNU ld's map names only the link-time partitions, not
the sources: instead every sized symbol in .text, .rodata and .data counts
for the source file that defined it, which the debug information knows even
after LTO (each concrete function and variable points back, through
DW_AT_abstract_origin, to its compile-time unit). Each source file belongs
to one component: py/ is the interpreter core, extmod/ MicroPython's
extension modules, port/pvboot/ the boot layer, modules/<plugin>/ a
plugin's device code, frozen_content.c the frozen bytecode. Bytes of those
sections without a symbol (string literals, alignment) are "literals +
alignment"; the rest of the file (ELF headers, page alignment between
segments) is "headers + padding". .bss costs RAM, not image bytes: it is
listed apart. The issue-2 goal is at most 400 KiB stripped.
"""

from __future__ import annotations

import bisect
import re
import subprocess
from collections import defaultdict
from pathlib import Path

from bench import common
from pyunik import build as builder

GOAL_BYTES = 400 * 1024
FILE_SECTIONS = (".text", ".rodata", ".note.pvh", ".data")
RAM_SECTIONS = (".bss",)
UNATTRIBUTED = "literals + alignment"

_OUTPUT = re.compile(r"^(\.[\w.]+|/DISCARD/)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+)?\s*$")
_INPUT = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(.+))?$")
_INPUT_NAME = re.compile(r"^ ([.*\w][^\s]*)$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(.+))?$")
_CU = re.compile(r"^\s+Compilation Unit @ offset (?:0x)?([0-9a-f]+):")
_DIE = re.compile(r"^ <(\d+)><([0-9a-f]+)>: Abbrev Number: \d+ \((DW_TAG_\w+)\)")
_ATTR = re.compile(r"^\s+<[0-9a-f]+>\s+(DW_AT_\w+)\s*:\s*(.*)$")
_REF = re.compile(r"<0x([0-9a-f]+)>")
_ADDR = re.compile(r"DW_OP_addr: ([0-9a-f]+)")


def objects_outside_lto(map_file: Path, build_dir: Path) -> list[tuple[str, int, int, Path]]:
    """(output section, address, size, object) of each input section that a
    non-LTO object file (assembly, libc's string functions, libgcc) placed,
    read from GNU ld's map; LTO's own partitions are left out."""
    placed: list[tuple[str, int, int, Path]] = []
    text = map_file.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    if start < 0:
        raise common.BenchError(f"{map_file}: no 'Linker script and memory map' section")
    current = ""
    pending = False
    for line in text[start:].splitlines()[1:]:
        if not line.strip():
            continue
        out = _OUTPUT.match(line)
        if out and not line.startswith(" "):
            current, pending = out.group(1), False
            continue
        match = _CONTINUATION.match(line) if pending else None
        pending = False
        match = match or _INPUT.match(line)
        if match is None:
            pending = bool(_INPUT_NAME.match(line)) and not line.startswith(" *(")
            continue
        address, size, obj = match.groups()[-3:]
        address, size = int(address, 16), int(size, 16)
        if not size or not obj or "ltrans" in obj:
            continue
        path = Path(obj.strip().split("(")[0])
        if "libgcc" in path.name or path.resolve().is_relative_to(build_dir.resolve()):
            placed.append((current, address, size, path))
    return placed


def component_of(path: str | Path, build_dir: Path) -> str:
    """Which component a source file (as DWARF names it) or an object file of
    the link belongs to. Objects mirror the sources' layout under the build
    directory (py/, extmod/, pvboot/, modules/<plugin>/...)."""
    if not str(path):
        return UNATTRIBUTED
    resolved = Path(path).resolve()
    if "libgcc" in resolved.name:
        return "libgcc"
    if resolved.stem == "frozen_content":
        return "frozen bytecode"
    for root in (build_dir, common.MICROPYTHON, common.ROOT / "port", common.ROOT):
        if resolved.is_relative_to(root.resolve()):
            parts = resolved.relative_to(root.resolve()).parts
            break
    else:
        return "other"
    top = parts[0]
    if top == "py":
        return "py (interpreter core)"
    if top == "extmod":
        return "extmod"
    if top in ("shared", "lib"):
        return "shared + lib (readline, pyexec, libm)"
    if top == "pvboot":
        return "pvboot"
    if top == "modules" and len(parts) > 2:
        return f"plugin {parts[1].replace('_', '-')}"
    return "port"  # port/*.c, libc/, the generated board_init.c


def source_by_address(elf: Path) -> dict[int, str]:
    """Address of each function and variable -> the source file that defined it.

    Compile-time units carry the file name; after LTO the code and data sit
    in link-time units whose entries name their origin by DIE offset.
    """
    dump = subprocess.run(["readelf", "--debug-dump=info", str(elf)], capture_output=True, text=True, check=True).stdout
    cu_starts: list[int] = []
    cu_names: list[str] = []
    cu_dirs: list[str] = []
    entries: list[tuple[int, int | None, int]] = []  # (address, origin DIE, unit index)
    tag = None
    addr: int | None = None
    origin: int | None = None

    def flush() -> None:
        if tag in ("DW_TAG_subprogram", "DW_TAG_variable") and addr is not None:
            entries.append((addr, origin, len(cu_starts) - 1))

    for line in dump.splitlines():
        if m := _CU.match(line):
            flush()
            tag = None
            cu_starts.append(int(m.group(1), 16))
            cu_names.append("")
            cu_dirs.append("")
            continue
        if m := _DIE.match(line):
            flush()
            depth, tag = int(m.group(1)), m.group(3)
            addr = origin = None
            if (depth > 1 and tag != "DW_TAG_variable") or (depth == 0 and tag != "DW_TAG_compile_unit"):
                tag = None  # inlined copies count in their outer function; static locals have an address
            continue
        if tag is None:
            continue
        if m := _ATTR.match(line):
            name, value = m.groups()
            if tag == "DW_TAG_compile_unit" and name in ("DW_AT_name", "DW_AT_comp_dir"):
                (cu_names if name == "DW_AT_name" else cu_dirs)[-1] = value.rsplit(": ", 1)[-1].strip()
            elif name in ("DW_AT_abstract_origin", "DW_AT_specification") and (r := _REF.search(value)):
                origin = int(r.group(1), 16)
            elif name == "DW_AT_low_pc":
                addr = int(value.split()[-1], 16)
            elif name == "DW_AT_location" and (a := _ADDR.search(value)):
                addr = int(a.group(1), 16)
    flush()
    sources: dict[int, str] = {}
    for address, die, unit in entries:
        if cu_names[unit] in ("", "<artificial>") and die is not None:
            unit = bisect.bisect_right(cu_starts, die) - 1
        if cu_names[unit] not in ("", "<artificial>"):
            sources.setdefault(address, str(Path(cu_dirs[unit]) / cu_names[unit]))
    return sources


def attribute(elf: Path, build_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(file bytes per component, .bss bytes per component) of a linked image."""
    sources = source_by_address(elf)
    out = subprocess.run(
        ["nm", "-S", "-l", "--defined-only", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    headers = subprocess.run(["readelf", "-SW", str(elf)], capture_output=True, text=True, check=True).stdout
    ranges: dict[str, tuple[int, int]] = {}
    for m in re.finditer(r"\]\s+(\.\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", headers):
        ranges[m.group(1)] = (int(m.group(2), 16), int(m.group(2), 16) + int(m.group(3), 16))
    in_file: dict[str, int] = defaultdict(int)
    in_ram: dict[str, int] = defaultdict(int)
    outside = objects_outside_lto(build_dir / "firmware.map", build_dir)
    for section, _, size, obj in outside:
        if section in FILE_SECTIONS:
            in_file[component_of(obj, build_dir)] += size
        elif section in RAM_SECTIONS:
            in_ram[component_of(obj, build_dir)] += size
    starts = sorted((address, address + size) for _, address, size, _ in outside)
    seen: set[int] = set()
    for line in out.splitlines():
        fields = line.split("\t")[0].split()
        if len(fields) != 4:
            continue  # no size: a label such as __rodata_start
        address, size = int(fields[0], 16), int(fields[1], 16)
        i = bisect.bisect_right(starts, (address, 1 << 64)) - 1
        if address in seen or not size or (i >= 0 and address < starts[i][1]):
            continue  # an alias of a symbol already counted, or counted from the map
        seen.add(address)
        where = sources.get(address) or (line.split("\t")[1].rsplit(":", 1)[0] if "\t" in line else "")
        section = next((n for n, (lo, hi) in ranges.items() if lo <= address < hi), "")
        if section in FILE_SECTIONS:
            in_file[component_of(where, build_dir)] += size
        elif section in RAM_SECTIONS:
            in_ram[component_of(where, build_dir)] += size
    counted = sum(in_file.values())
    in_file[UNATTRIBUTED] += sum(hi - lo for n, (lo, hi) in ranges.items() if n in FILE_SECTIONS) - counted
    return dict(in_file), dict(in_ram)


def measure(board_name: str) -> dict[str, object]:
    img = common.image(board_name)
    in_file, in_ram = attribute(img.elf, img.build_dir)
    stripped = img.stripped.stat().st_size
    counted = sum(in_file.values())
    components = dict(in_file)
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
        "goal_le_400_kib": stripped <= GOAL_BYTES,
    }


def run(quick: bool) -> dict[str, object]:
    boards = {name: measure(name) for name in common.BOARDS}
    for name, entry in boards.items():
        common.log(f"size {name}: {entry['stripped_bytes']} bytes stripped")
    return {"what": "bytes of the stripped PVH ELF, by component from the symbol table and DWARF", "boards": boards}
