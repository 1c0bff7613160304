"""The event loop on bare metal: interrupts, one-shot timers, tickless idle.

Timing under TCG is honest only in one direction: a sleep must never end
early, and events must keep their order; how late they are depends on the
host, so it is reported (printed), not asserted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import Guest, Repl


def paste(repl: Repl, code: str, timeout: float = 60) -> str:
    """Run code in paste mode; returns what it printed."""
    repl.keys("\x05")
    repl.expect("=== ")
    repl.keys(code.replace("\n", "\r") + "\x04")
    match = repl.dut.expect(rb"\r\n([\s\S]*?)>>> ", timeout=timeout)
    return match.group(1).decode(errors="replace")


def test_sleep_never_ends_early_and_keeps_order(repl: Repl) -> None:
    out = paste(
        repl,
        "import time, asyncio\n"
        "late = []\n"
        "for ms in (1, 5, 20, 100, 250):\n"
        "    t0 = time.ticks_us()\n"
        "    time.sleep_ms(ms)\n"
        "    late.append(time.ticks_diff(time.ticks_us(), t0) - ms * 1000)\n"
        "order = []\n"
        "async def sleeper(ms):\n"
        "    t0 = time.ticks_ms()\n"
        "    await asyncio.sleep_ms(ms)\n"
        "    order.append((ms, time.ticks_diff(time.ticks_ms(), t0)))\n"
        "async def main():\n"
        "    await asyncio.gather(*[sleeper(ms) for ms in (300, 10, 200, 50, 100)])\n"
        "asyncio.run(main())\n"
        "print('LATE', late)\n"
        "print('ORDER', order)\n",
    )
    late = eval(out.split("LATE ")[1].splitlines()[0])
    order = eval(out.split("ORDER ")[1].splitlines()[0])
    assert all(us >= 0 for us in late), late
    assert [ms for ms, _ in order] == [10, 50, 100, 200, 300]
    assert all(took >= ms for ms, took in order), order
    print(f"\nsleep lateness (us) for 1/5/20/100/250 ms: {late}; asyncio (ms, took): {order}")


def test_ten_thousand_tasks_gathered(repl: Repl) -> None:
    out = paste(
        repl,
        "import asyncio, gc\n"
        "async def task(i):\n"
        "    await asyncio.sleep_ms(i % 7)\n"
        "    return i\n"
        "async def main():\n"
        "    return await asyncio.gather(*[task(i) for i in range(10000)])\n"
        "gc.collect()\n"
        "results = asyncio.run(main())\n"
        "print('DONE', len(results), sum(results) == sum(range(10000)))\n",
        timeout=300,
    )
    assert "DONE 10000 True" in out, out


def test_wait_for_times_out(repl: Repl) -> None:
    out = paste(
        repl,
        "import asyncio, time\n"
        "async def slow():\n"
        "    await asyncio.sleep(10)\n"
        "async def main():\n"
        "    t0 = time.ticks_ms()\n"
        "    try:\n"
        "        await asyncio.wait_for(slow(), 0.2)\n"
        "    except asyncio.TimeoutError:\n"
        "        print('TIMEOUT after', time.ticks_diff(time.ticks_ms(), t0) >= 200)\n"
        "    async def quick():\n"
        "        await asyncio.sleep_ms(10)\n"
        "        return 'done'\n"
        "    print('FAST', await asyncio.wait_for(quick(), 5))\n"
        "asyncio.run(main())\n",
    )
    assert "TIMEOUT after True" in out
    assert "FAST done" in out


def test_event_lock_and_threadsafeflag_from_a_timer(repl: Repl) -> None:
    out = paste(
        repl,
        "import asyncio, machine, micropython\n"
        "log = []\n"
        "async def waiter(ev):\n"
        "    await ev.wait()\n"
        "    log.append('event')\n"
        "async def locked(lock, name):\n"
        "    async with lock:\n"
        "        log.append(name + '+')\n"
        "        await asyncio.sleep_ms(20)\n"
        "        log.append(name + '-')\n"
        "flag = asyncio.ThreadSafeFlag()\n"
        "def on_timer(t):\n"
        "    flag.set()  # scheduled by the timer interrupt, runs between bytecodes\n"
        "async def main():\n"
        "    ev = asyncio.Event()\n"
        "    w = asyncio.create_task(waiter(ev))\n"
        "    await asyncio.sleep_ms(10)\n"
        "    ev.set()\n"
        "    await w\n"
        "    lock = asyncio.Lock()\n"
        "    await asyncio.gather(locked(lock, 'a'), locked(lock, 'b'))\n"
        "    tim = machine.Timer(-1, mode=machine.Timer.ONE_SHOT, period=50, callback=on_timer)\n"
        "    await asyncio.wait_for(flag.wait(), 5)\n"
        "    log.append('flag')\n"
        "asyncio.run(main())\n"
        "print('LOG', log)\n",
    )
    assert "LOG ['event', 'a+', 'a-', 'b+', 'b-', 'flag']" in out, out


def test_timer_callbacks_and_schedule_from_interrupt(repl: Repl) -> None:
    # machine.Timer's callbacks are queued with mp_sched_schedule() by the
    # soft-timer handler, which runs in the LAPIC timer interrupt; a callback
    # can schedule more work in turn.
    out = paste(
        repl,
        "import machine, micropython, time\n"
        "ticks = []\n"
        "scheduled = []\n"
        "t0 = time.ticks_ms()\n"
        "def soft(t):\n"
        "    ticks.append(time.ticks_diff(time.ticks_ms(), t0))\n"
        "def once(t):\n"
        "    micropython.schedule(scheduled.append, 'from-timer')\n"
        "p = machine.Timer(-1, period=50, callback=soft)\n"
        "o = machine.Timer(-1, mode=machine.Timer.ONE_SHOT, period=120, callback=once)\n"
        "time.sleep_ms(520)\n"
        "p.deinit()\n"
        "n = len(ticks)\n"
        "time.sleep_ms(200)\n"
        "print('PERIODIC', n, len(ticks) - n <= 1, all(t >= 50 * (k + 1) for k, t in enumerate(ticks)))\n"
        "print('SCHEDULED', scheduled)\n",
    )
    periodic = out.split("PERIODIC ")[1].splitlines()[0].split()
    assert 5 <= int(periodic[0]) <= 10, out
    # Stopped by deinit (one callback may already have been queued), and
    # the k-th tick never comes before k periods have passed.
    assert periodic[1:] == ["True", "True"], out
    assert "SCHEDULED ['from-timer']" in out


def test_asyncio_awaits_console_input(repl: Repl) -> None:
    repl.keys("\x05")
    repl.expect("=== ")
    repl.keys(
        "import asyncio, sys, select\r"
        "p = select.poll(); p.register(sys.stdin, select.POLLIN)\r"
        "print('POLL-EMPTY', p.poll(0))\r"
        "async def main():\r"
        "    reader = asyncio.StreamReader(sys.stdin)\r"
        "    print('WAITING')\r"
        "    data = await reader.read(3)\r"
        "    print('GOT', data)\r"
        "asyncio.run(main())\r\x04"
    )
    repl.expect("POLL-EMPTY []\r\n")
    repl.expect("WAITING\r\n")
    time.sleep(0.3)
    repl.keys("xyz")
    repl.expect("GOT xyz\r\n")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_idle_halts_instead_of_spinning(repl: Repl, guest: Guest) -> None:
    repl.keys("\x05")
    repl.expect("=== ")
    repl.keys(
        "import asyncio, pvboot\r"
        "async def main():\r"
        "    await asyncio.sleep(3)\r"
        "before = pvboot.idle_stats()\r"
        "print('SLEEPING')\r"
        "asyncio.run(main())\r"
        "after = pvboot.idle_stats()\r"
        "print('IDLE', [a - b for a, b in zip(after, before)])\r\x04"
    )
    repl.expect("SLEEPING\r\n")
    cpu0, wall0 = cpu_seconds(guest.proc.pid), time.monotonic()
    match = repl.dut.expect(rb"IDLE \[(\d+), (\d+), (\d+)\]", timeout=30)
    cpu = cpu_seconds(guest.proc.pid) - cpu0
    wall = time.monotonic() - wall0
    halts, interrupts, timer_interrupts = (int(g) for g in match.groups())
    print(
        f"\nidle 3 s: {halts} halts, {interrupts} interrupts ({timer_interrupts} timer); "
        f"QEMU CPU {cpu:.2f} s over {wall:.2f} s wall ({100 * cpu / wall:.1f}%)"
    )
    assert 1 <= halts <= 10
    assert interrupts <= 10
    assert cpu < 0.3 * wall  # a spinning guest keeps QEMU's vCPU thread at ~100%


def test_wall_clock_from_the_rtc(repl: Repl) -> None:
    out = paste(repl, "import time\nprint('NOW', time.time(), time.localtime(), time.gmtime(0)[:3])\n")
    words = out.split("NOW ")[1].split(" ", 1)
    guest_time = float(words[0])
    # QEMU's RTC starts from the host's UTC clock; allow for rounding to the
    # second and for the time the command took.
    assert abs(guest_time - time.time()) < 30
    assert f"({time.gmtime(guest_time).tm_year}, " in words[1]
    assert "(1970, 1, 1)" in words[1]


def test_machine_functions(repl: Repl) -> None:
    out = paste(
        repl,
        "import machine, time\n"
        "uid = machine.unique_id()\n"
        "t0 = time.ticks_ms()\n"
        "tim = machine.Timer(-1, mode=machine.Timer.ONE_SHOT, period=100, callback=lambda t: None)\n"
        "machine.idle()  # halts until the next interrupt: the timer's\n"
        "print('FREQ', machine.freq() > 100_000_000, 'UID', len(uid), uid == machine.unique_id())\n"
        "print('IDLE', time.ticks_diff(time.ticks_ms(), t0) < 5000)\n",
    )
    assert "FREQ True UID 20 True" in out
    assert "IDLE True" in out


def test_machine_reset_reboots(repl: Repl) -> None:
    repl.line("kept = 1; import machine; machine.reset()")
    repl.expect("MicroPython v1.25.0 on ")  # the banner of a fresh boot
    repl.expect(">>> ")
    assert "NameError" in repl.run("print(kept)")
