"""pyunik's benchmarks: boot time, image size, least memory, interpreter speed, asyncio.

Measurements, never assertions: ``invoke bench`` (or ``python -m bench``) runs
them side by side in one go on this machine - pyunik beside a trivial PVH
floor, a Linux guest built from Debian packages and the MicroPython unix port
under qemu-user - and writes build/bench/results.json and PNG charts. Every
QEMU or other child process runs under a timeout and is killed when it expires,
so a hung guest costs seconds, never the run.
"""
