"""Guest instructions per function while asyncio spawns tasks: where pyunik's time goes.

    python3 -m bench.tcgprof [--board qemu-microvm] [--tasks 20000] [--top 30]

A QEMU TCG plugin (tbcount.c, built with gcc into build/tcgprof/) counts
the instructions each translated block executes. The asyncio program
(bench/programs/asyncio_tasks.py) runs twice on a fresh boot - with the
given number of tasks, then with none - and the difference, divided by the
number of tasks, is attributed to functions through the image's symbol
table. The unix port under qemu-user runs the same program with the same
plugin for the total per task (its binary is stripped: no breakdown).

Instruction counts are not time under TCG - a memory access or an indirect
jump (every return) costs more than arithmetic - but they are exact and
repeatable, where timings on a shared host vary by 10%.
"""
