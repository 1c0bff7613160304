# asyncio's cost per task, on any MicroPython (pyunik, the unix port):
# - spawn: tasks created and run to completion, in batches of `batch`
#   (create the batch, then await each task), as a server would per request;
# - pingpong: two tasks hand control back and forth through two
#   asyncio.Event objects; one round trip is two wake-ups.
# Each timed round starts from a collected heap: MicroPython's allocator
# rescans the garbage made since the last collection for every multi-block
# allocation, so the cost of a round depends on how much garbage it starts
# with; collecting first makes rounds (and platforms) comparable.
# Times come from the guest's own time.ticks_us(). Each result line is
# "RESULT <name> <count> <microseconds>"; on pyunik, pvboot.idle_stats()
# (halts, interrupts, timer interrupts) is reported around the runs.
import asyncio
import gc
import sys
import time


async def _nop():
    pass


async def spawn(n, batch):
    t0 = time.ticks_us()
    done = 0
    while done < n:
        tasks = [asyncio.create_task(_nop()) for _ in range(batch)]
        for t in tasks:
            await t
        done += batch
    return done, time.ticks_diff(time.ticks_us(), t0)


async def _ping(n, a, b):
    for _ in range(n):
        a.set()
        await b.wait()
        b.clear()


async def _pong(n, a, b):
    for _ in range(n):
        await a.wait()
        a.clear()
        b.set()


async def pingpong(n):
    a = asyncio.Event()
    b = asyncio.Event()
    t0 = time.ticks_us()
    other = asyncio.create_task(_pong(n, a, b))
    await _ping(n, a, b)
    await other
    return n, time.ticks_diff(time.ticks_us(), t0)


def idle():
    try:
        import pvboot
    except ImportError:
        return None
    return pvboot.idle_stats()


def main(n_spawn, n_ping, rounds=3, batch=100):
    before = idle()
    for _ in range(rounds):
        gc.collect()
        count, us = asyncio.run(spawn(n_spawn, batch))
        print("RESULT spawn", count, us)
        gc.collect()
        count, us = asyncio.run(pingpong(n_ping))
        print("RESULT pingpong", count, us)
    after = idle()
    if before is not None:
        print("RESULT idle", after[0] - before[0], after[1] - before[1], after[2] - before[2])


if len(sys.argv) > 3:
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
