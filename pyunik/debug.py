"""gdb on a running guest, through QEMU's gdbstub.

    invoke debug [--board B] [--app A]

QEMU starts with its gdbstub on a free port of 127.0.0.1 and the CPU held
before the first instruction (-S); gdb loads the unstripped ELF (it has
-g debug info), the MicroPython helpers of tools/gdb/pyunik.py, connects,
breaks at pvboot_main and continues to it. The console is on a pty: open it
from another terminal (`python -m serial.tools.miniterm PTY`, `mpremote
connect PTY`).

Useful at the (gdb) prompt:
    bt                            backtrace, also from inside an exception handler
                                  (pvboot's isr_* frames show the interrupted code)
    break uart_interrupt          the 16550 driver's interrupt handler (nm the ELF for names;
                                  LTO renames statics to NAME.lto_priv.0, break NAME works)
    break pvboot_exception        where a CPU fault lands; then info registers, x/8gx $rsp
    break mp_builtin_hash         a builtin reached from the REPL: hash('x')
    mp-obj o_in                   a MicroPython object: type and value
    break nlr_jump / mp-traceback val   the Python traceback of an exception being raised
    detach                        let the guest run on alone
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from pyunik.board import ROOT

GDB = "gdb"
HELPER = ROOT / "tools" / "gdb" / "pyunik.py"


def gdb_argv(elf: Path, port: int, commands: Sequence[str] = (), batch: bool = False) -> list[str]:
    """gdb for ``elf`` connected to the gdbstub at 127.0.0.1:``port``, then ``commands``."""
    argv = [GDB, "-nx", "-q", *(["-batch"] if batch else [])]
    for command in ("set pagination off", "set confirm off", f"source {HELPER}", f"target remote 127.0.0.1:{port}"):
        argv += ["-ex", command]
    for command in commands:
        argv += ["-ex", command]
    return [*argv, str(elf)]


def run_gdb(elf: Path, port: int, commands: Sequence[str]) -> int:
    """gdb in this terminal until the user quits it; its exit status."""
    return subprocess.run(gdb_argv(elf, port, commands)).returncode
