"""How much heap freezing saves: the same module imported frozen vs from source.

A frozen module's bytecode and constants stay in the image's read-only
section and run in place; importing it costs the heap only its objects
(functions, classes, the module dict). Compiling the same source at run
time also puts the bytecode, the constants and the compiler's temporaries
on the heap. Both are measured in one boot, in one image, with
gc.mem_alloc() around each step after a collection.

The sample is MicroPython's own extmod/asyncio/core.py (the event loop),
a realistic module. Run: python3 bench/frozen_heap.py [--out build/bench]
Writes frozen_heap.json and frozen_heap.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from pyunik import board as boards
from pyunik import build, sources, vm

MAIN = """
import gc, json
SOURCE = {source!r}
gc.collect()
free0 = gc.mem_free()
before = gc.mem_alloc()
import sample
gc.collect()
frozen = gc.mem_alloc() - before
namespace = {{"__name__": "sample_from_source"}}
gc.collect()
before = gc.mem_alloc()
gc.disable()
exec(SOURCE, namespace)
allocated = gc.mem_alloc() - before
gc.enable()
gc.collect()
kept = gc.mem_alloc() - before
print("RESULT", json.dumps({{"frozen_import": frozen, "source_exec_kept": kept,
                            "source_exec_allocated": allocated, "heap_free": free0}}))
"""


def measure(timeout: float = 120.0) -> dict[str, int]:
    trees = sources.ensure_sources(boards.ROOT, log=lambda *_: None)
    sample = (trees["micropython"] / "extmod" / "asyncio" / "core.py").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "frozen-heap"
        app.mkdir()
        (app / "sample.py").write_text(sample)
        (app / "main.py").write_text(MAIN.format(source=sample))
        image = build.build(boards.load(boards.DEFAULT_BOARD), app=build.App.load(app))
        command = vm.qemu_command(image.board, image.elf, serial="stdio", plugin_args=image.qemu_args)
        running = vm.start_with_pty(command)
        try:
            port = running.console(timeout=0.5)
            output = b""
            deadline = time.monotonic() + timeout
            while b"RESULT" not in output or not output.rstrip().endswith(b"}"):
                if time.monotonic() > deadline:
                    raise TimeoutError(output.decode(errors="replace"))
                output += port.read(4096)
            port.close()
        finally:
            running.close()
    line = output.decode(errors="replace").split("RESULT ", 1)[1].splitlines()[0]
    result: dict[str, int] = json.loads(line)
    result["sample_source_bytes"] = len(sample.encode())
    return result


def chart(result: dict[str, int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    labels = ["frozen import", "from source: kept", "from source: allocated"]
    values = [result["frozen_import"], result["source_exec_kept"], result["source_exec_allocated"]]
    ax.barh(labels, values, color=["#2a7", "#c54", "#e98"])
    for y, v in enumerate(values):
        ax.text(v, y, f" {v} B", va="center")
    ax.set_xlabel("heap bytes")
    ax.set_title("asyncio/core.py on pyunik: heap cost of one import")
    ax.set_xlim(0, max(values) * 1.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=build.BUILD_ROOT / "bench")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = measure()
    qemu = subprocess.run([vm.QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    result_doc = {"benchmark": "frozen_heap", "qemu": qemu, **result}
    (args.out / "frozen_heap.json").write_text(json.dumps(result_doc, indent=2) + "\n")
    chart(result, args.out / "frozen_heap.png")
    saved = result["source_exec_kept"] - result["frozen_import"]
    print(
        f"asyncio/core.py ({result['sample_source_bytes']} bytes of source): frozen import keeps "
        f"{result['frozen_import']} B of heap, compiled from source {result['source_exec_kept']} B "
        f"(and {result['source_exec_allocated']} B allocated while compiling); "
        f"freezing saves {saved} B kept ({saved / result['source_exec_kept']:.0%})"
    )


if __name__ == "__main__":
    main()
