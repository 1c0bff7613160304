# asyncio tasks printing on timers until Ctrl-C: the event loop is the
# unikernel's scheduler, and its tasks are the lightweight threads.
import asyncio
import time


async def clock(name, period_ms, start):
    n = 0
    while True:
        n += 1
        print("%s tick %d at %d ms" % (name, n, time.ticks_diff(time.ticks_ms(), start)))
        await asyncio.sleep_ms(period_ms)


async def main():
    start = time.ticks_ms()
    await asyncio.gather(clock("fast", 250, start), clock("slow", 1000, start))


try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("clock stopped")
