"""Charts (PNG, matplotlib's Agg backend: no display needed) and a Markdown summary of results.json.

Kept apart from the measurements so that `python -m bench --report-only`
can redraw from an existing results.json without booting anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GOAL_COLOUR = "#d62728"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_boot(boot: dict[str, Any], path: Path) -> None:
    plt = _plt()
    names = [n for n, e in boot["targets"].items() if "prompt_ms" in e]
    med = [boot["targets"][n]["prompt_ms"]["median"] for n in names]
    lo = [m - boot["targets"][n]["prompt_ms"]["min"] for n, m in zip(names, med, strict=True)]
    hi = [boot["targets"][n]["prompt_ms"]["max"] - m for n, m in zip(names, med, strict=True)]
    colours = ["#7f7f7f" if n.startswith("floor") else "#ff7f0e" if n.startswith("linux") else "#1f77b4" for n in names]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(names) + 1.5))
    ax.barh(names, med, xerr=[lo, hi], color=colours, capsize=3)
    ax.set_xlim(10, max(m + h for m, h in zip(med, hi, strict=True)) * 3)
    for y, (m, h) in enumerate(zip(med, hi, strict=True)):
        ax.text((m + h) * 1.1, y, f"{m:.1f} ms", va="center", fontsize=9)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("QEMU start -> first '>>> ' (ms, log scale; bar = median, whiskers = min..max)")
    r = boot.get("ratios", {})
    headline = ", ".join(
        f"{b}: {r[f'{b} / floor prompt']:.2f}x" for b in ("qemu-microvm", "qemu-q35") if r.get(f"{b} / floor prompt")
    )
    ax.set_title(
        "Boot to the prompt under QEMU TCG: floor, pyunik, Linux guest (vmlinux; bzImage row apart)\n"
        f"pyunik prompt / floor prompt: {headline}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart_size(size: dict[str, Any], path: Path) -> None:
    plt = _plt()
    boards = list(size["boards"])
    comps: list[str] = []
    for b in boards:
        for c in size["boards"][b]["components"]:
            if c not in comps:
                comps.append(c)
    fig, ax = plt.subplots(figsize=(10, 1.2 * len(boards) + 2.5))
    left = [0.0] * len(boards)
    palette = [plt.get_cmap("tab10")(i) for i in range(10)] + [plt.get_cmap("Set3")(i) for i in range(12)]
    for i, comp in enumerate(comps):
        vals = [size["boards"][b]["components"].get(comp, 0) / 1024 for b in boards]
        ax.barh(boards, vals, left=left, color=palette[i % len(palette)], label=f"{comp} ({vals[0]:.1f})")
        left = [a + v for a, v in zip(left, vals, strict=True)]
    ax.axvline(400, color=GOAL_COLOUR, linestyle="--", label="goal: 400 KiB")
    for y, b in enumerate(boards):
        ax.text(left[y] + 3, y, f"{size['boards'][b]['stripped_kib']} KiB", va="center", fontsize=9)
    ax.set_xlabel("stripped image, KiB (components from the link map)")
    ax.set_title("Image size by component")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart_memory(memory: dict[str, Any], path: Path) -> None:
    plt = _plt()
    labels: list[str] = []
    values: list[float] = []
    for board, entry in memory["boards"].items():
        for key, what in (("prompt_kib", "prompt"), ("prompt_plus_alloc_script_kib", "prompt + alloc.py")):
            if entry.get(key):
                labels.append(f"pyunik {board}: {what}")
                values.append(entry[key])
    linux = memory.get("linux/microvm", {})
    if linux.get("least_mib"):
        labels.append("Linux guest (microvm): prompt + alloc.py")
        values.append(linux["least_mib"] * 1024)
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(labels) + 1.5))
    ax.barh(labels, values, color=["#ff7f0e" if lbl.startswith("Linux") else "#2ca02c" for lbl in labels])
    for y, v in enumerate(values):
        ax.text(v * 1.05, y, f"{v:.0f}K" if v < 10240 else f"{v / 1024:.0f}M", va="center", fontsize=9)
    ax.axvline(1434, color=GOAL_COLOUR, linestyle="--", label="goal: -m 1434K")
    ax.set_xscale("log")
    ax.set_xlim(1000, max([*values, 1434]) * 2.5)
    ax.invert_yaxis()
    ax.set_xlabel("least QEMU -m (KiB, log scale)")
    ax.set_title("Least memory to boot and run an allocation-heavy script")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


#: perf_bench's comparison platforms, in the order drawn, with their colours.
INTERP_SIDES = {
    "linux-guest/tuned": "#ff7f0e",
    "linux-guest": "#ffbb78",
    "qemu-user/tuned": "#1f77b4",
    "qemu-user": "#aec7e8",
}


def chart_interpreter(interp: dict[str, Any], path: Path) -> None:
    plt = _plt()
    names = [k for k, v in interp["programs"].items() if v.get("speed_ratio")]
    geo = interp.get("geomean_speed_ratio") or {}
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(names) + 2.2))
    height = 0.8 / len(INTERP_SIDES)
    for j, (side, colour) in enumerate(INTERP_SIDES.items()):
        ys = [i + (j - 1.5) * height for i in range(len(names))]
        vals = [interp["programs"][n]["speed_ratio"].get(side, 0) for n in names]
        label = f"{side}: geomean {geo[side]:.2f}x" if geo.get(side) else side
        ax.barh(ys, vals, height * 0.95, color=colour, label=label)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("other platform's time / pyunik's time (>1: pyunik faster); base: pyunik on qemu-microvm, TCG")
    ax.set_title("perf_bench: pyunik vs the unix port (upstream and tuned) in a Linux guest and under qemu-user")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart_asyncio(aio: dict[str, Any], path: Path) -> None:
    plt = _plt()
    names = [n for n, e in aio["platforms"].items() if "spawn_tasks_per_s" in e]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for ax, metric, title in (
        (axes[0], "spawn_tasks_per_s", "tasks created + completed / s"),
        (axes[1], "pingpong_round_trips_per_s", "Event ping-pong round trips / s"),
    ):
        vals = [aio["platforms"][n][metric]["median"] for n in names]
        ax.barh(names, vals, color=["#1f77b4" if n.startswith("pyunik") else "#ff7f0e" for n in names])
        for y, v in enumerate(vals):
            ax.text(v, y, f" {v / 1000:.1f}k", va="center", fontsize=9)
        ax.invert_yaxis()
        ax.set_title(title)
        ax.set_xlim(0, max(vals) * 1.3 if vals else 1)
    fig.suptitle("asyncio under TCG (same heap everywhere; medians of rounds)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


NET_PANELS = (
    ("http_rps_c1", "HTTP requests/s, 1 connection", "higher is better"),
    ("http_rps_c30", "HTTP requests/s, 30 connections", "higher is better"),
    ("echo_rtt_p50_us", "TCP echo RTT p50 (us)", "lower is better"),
    ("ping_p50_ms", "ping RTT p50 (ms)", "lower is better"),
    ("bulk_up_mb_s", "bulk TCP host -> guest (MB/s)", "higher is better"),
    ("bulk_down_mb_s", "bulk TCP guest -> host (MB/s)", "higher is better"),
    ("first_response_ms", "boot -> first HTTP response (ms)", "lower is better"),
    ("least_mib", "least -m serving 30 connections (MiB)", "lower is better"),
)


def chart_net(net: dict[str, Any], path: Path) -> None:
    plt = _plt()
    plats = net["platforms"]
    names = [n for n in ("pyunik", "linux-guest") if n in plats]

    def value(name: str, metric: str) -> float | None:
        if metric == "least_mib":
            kib = plats[name].get("least_memory", {}).get("least_kib")
            return None if kib is None else kib / 1024
        return plats[name].get(metric)

    fig, axes = plt.subplots(2, 4, figsize=(14, 5.5))
    for ax, (metric, title, better) in zip(axes.flat, NET_PANELS, strict=True):
        vals = [value(n, metric) for n in names]
        shown = [v if v is not None else 0 for v in vals]
        ax.bar(names, shown, color=["#1f77b4" if n == "pyunik" else "#ff7f0e" for n in names])
        for x, v in enumerate(vals):
            label = "n/a" if v is None else f"{v:,.3g}" if v < 1000 else f"{v:,.0f}"
            ax.text(x, (v or 0), label, ha="center", va="bottom", fontsize=9)
        ax.set_title(f"{title}\n({better})", fontsize=9)
        ax.set_ylim(0, max([*shown, 1e-9]) * 1.25)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"Network under QEMU TCG: examples/httpd and examples/echo, pyunik vs the unix port in a Linux guest "
                 f"(-m {net.get('memory')}, same netdev)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


#: bench/xen_io.py's figures, as the README's table and the chart name them.
IO_LABELS = {
    "create_to_prompt_s": "xl create -> `>>>` with a vif and two disks (s)",
    "raw_write_mb_s": "blkfront raw write, 64 KiB requests + flush (MB/s)",
    "raw_read_mb_s": "blkfront raw read, 64 KiB requests (MB/s)",
    "file_write_mb_s": "littlefs on blkfront: 1 MiB file write + sync (MB/s)",
    "file_read_mb_s": "littlefs on blkfront: 1 MiB file read (MB/s)",
    "small_write_files_s": "littlefs on blkfront: 512 B files created + one sync (files/s)",
    "small_read_files_s": "littlefs on blkfront: 512 B files read (files/s)",
    "tcp_echo_p50_ms": "netfront: TCP echo RTT to dom0, 32 B, p50 (ms)",
    "tcp_echo_p99_ms": "netfront: TCP echo RTT to dom0, 32 B, p99 (ms)",
    "tcp_in_mb_s": "netfront: TCP bulk dom0 -> domU (MB/s)",
    "tcp_out_mb_s": "netfront: TCP bulk domU -> dom0 (MB/s)",
    "ping_p50_ms": "netfront: ping RTT from dom0, p50 (ms)",
    "ping_p99_ms": "netfront: ping RTT from dom0, p99 (ms)",
}


#: bench/xen_http.py's figures, as the README's table names them.
HTTP_LABELS = {
    "create_to_http_s": "xl create -> first HTTP response (s)",
    "xl_create_s": "of which xl create + console + unpause (s)",
    "boot_to_http_s": "of which unpause -> first HTTP response (s)",
    "http_requests_s": "HTTP requests/s from dom0, 4 keep-alive connections",
    "tcp_echo_p50_ms": "TCP echo RTT to dom0, 32 B, p50 (ms)",
    "tcp_echo_p99_ms": "TCP echo RTT to dom0, 32 B, p99 (ms)",
    "blk_seq_read_mb_s": "blkfront sequential read, 64 KiB (MB/s)",
}


def _xen_http_rows(http: dict[str, Any]) -> list[str]:
    """pyunik's domU beside the Linux PVH domU (bench/xen_http.py), with the goals."""
    if not http:
        return []
    load = http.get("host_load_1min") or {}
    failed = http.get("failed") or {}
    # The load each run met (bench/xen_http.py records it), else before-after.
    loads = [run["load_1min"] for side in (http.get("values") or {}).values() for run in side if "load_1min" in run]
    span = f"{min(loads):.1f}-{max(loads):.1f}" if loads else f"{load.get('before', '?')}-{load.get('after', '?')}"
    runs = (
        f"{http.get('runs')} runs (failed: pyunik {len(failed.get('pyunik', []))}, "
        f"Linux {len(failed.get('linux', []))}; load {span})"
    )
    goals = http.get("goals") or {}
    rows = []
    for key, label in HTTP_LABELS.items():
        mine, base = (http.get("pyunik") or {}).get(key), (http.get("linux") or {}).get(key)
        if mine is None and base is None:
            continue
        ratio = (http.get("ratio_to_linux") or {}).get(key)
        goal = goals.get(key)
        said = (
            f" (goal {'>=' if key in ('http_requests_s', 'blk_seq_read_mb_s') else '<='} {goal['target']}x)"
            if goal
            else ""
        )
        rows.append(
            f"| Xen domU vs Linux PVH domU: {label}, {runs} | {_fmt(mine, '', 3)} | Linux domU {_fmt(base, '', 3)} "
            f"| {_fmt(ratio, 'x', 3) + ' Linux' if ratio is not None else '-'}{said} |"
        )
    small = http.get("pyunik_serves_in_small_memory") or {}
    if small:
        serves = (
            f"yes, {_fmt(small.get('http_requests_s'), '', 1)} req/s, "
            f"first response {_fmt(small.get('first_http_s'), '', 1)} s after xl create"
        )
        rows.append(
            f"| Xen domU serving HTTP in `memory = {small.get('memory_mib')}` | "
            f"{serves if small.get('serves') else 'no'} "
            f"| Linux domU at {http.get('linux_memory_mib')} MiB | goal: serves in 4 MiB |"
        )
    return rows


def chart_xen_io(io: dict[str, Any], path: Path) -> None:
    """pyunik's figures over dom0's, one bar per figure that has a base."""
    plt = _plt()
    ratios = io.get("ratio_to_dom0") or {}
    keys = [k for k in IO_LABELS if k in ratios]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(keys) + 1.2))
    for y, key in enumerate(keys):
        ax.barh(y, ratios[key], color="#2a7f62")
        ax.text(ratios[key], y, f" {ratios[key]:.3g}x", va="center", fontsize=8)
    ax.set_yticks(range(len(keys)), [IO_LABELS[k] for k in keys], fontsize=7)
    ax.set_xscale("log")
    ax.axvline(1.0, color="k", linewidth=0.8)
    load = io.get("host_load_1min") or {}
    ax.set_xlabel(
        f"pyunik domU / dom0 of the same rig (an upper bound, not a guest; MB/s: below 1 is slower, "
        f"ms: above 1 is slower); {io.get('runs')} runs, "
        f"host load {load.get('before')}-{load.get('after')}",
        fontsize=8,
    )
    ax.set_title("Xen netfront and blkfront (bench/xen_io.py)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart_xen(xen: dict[str, Any], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    rows = [("floor: first line", xen.get("floor_create_to_line_s"), "#999999"),
            ("pyunik: first >>>", xen.get("create_to_prompt_s"), "#2a7f62")]  # fmt: skip
    for y, (_label, stats, colour) in enumerate(rows):
        if not stats:
            continue
        ax.barh(y, stats["median"], color=colour)
        ax.plot(stats["values"], [y] * len(stats["values"]), "k.", alpha=0.6)
        ax.text(stats["max"], y, f" {stats['median']:.2f} s", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows])
    failed = xen.get("failed_runs", {})
    ax.set_xlabel(
        f"seconds from xl create (Xen 4.17 under QEMU TCG); failed runs: pyunik {failed.get('pyunik', 0)}, "
        f"floor {failed.get('floor', 0)}",
        fontsize=8,
    )
    ratio = xen.get("ratio_prompt_to_floor")
    ax.set_title(
        f"Xen PVH domU: pyunik / floor = {ratio}x; least memory = {xen.get('least_memory_mib')} MiB", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    if xen.get("io"):
        chart_xen_io(xen["io"], path.with_name("xen_io.png"))


def chart_entropy(ent: dict[str, Any], path: Path) -> None:
    plt = _plt()
    fields = ("stack_top", "heap_pool")
    cpus = list(ent["cpus"])
    fig, ax = plt.subplots(figsize=(9, 3.5))
    width = 0.8 / len(fields)
    for i, field in enumerate(fields):
        bits = [ent["cpus"][c][field]["design_bits"] for c in cpus]
        xs = [x + i * width for x in range(len(cpus))]
        ax.bar(xs, bits, width=width, label=field.replace("_", " "))
        for x, b, c in zip(xs, bits, cpus, strict=True):
            e = ent["cpus"][c][field]
            ax.text(x, b + 0.3, f"{b:.1f}\n{e['distinct']} distinct", ha="center", fontsize=8)
    ax.axhline(ent["goal_bits"], color=GOAL_COLOUR, linestyle="--", label=f"goal: {ent['goal_bits']:.0f} bits")
    ax.set_xticks([x + width / 2 for x in range(len(cpus))], cpus)
    ax.set_ylabel("bits (log2 of places drawn from)")
    ax.set_title(f"Randomised layout over {ent['boots']} boots of {ent['board']} (QEMU TCG)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart_seal(seal: dict[str, Any], path: Path) -> None:
    """Each sealed/unsealed ratio per link order and their geomean, against its goal."""
    plt = _plt()
    orders = seal["link_orders"]
    measures = (  # (label, per-order ratios, geomean, goal), every one "above 1 is sealed faster"
        ("perf_bench speed", [e["geomean"] for e in seal["perf_bench"]["per_link_order"].values()],
         seal["ratios"]["perf_bench"], 0.97),
        ("asyncio spawn speed", [e["ratio"] for e in seal["asyncio"]["per_link_order"].values()],
         seal["ratios"]["asyncio_spawn"], 0.97),
        # boot is a time: drawn as unsealed/sealed, so that the goal <= 1.05 is a floor of 1/1.05
        ("boot speed (1 / time)", [1 / e["ratio"] for e in seal["boot"]["per_link_order"].values()],
         1 / seal["ratios"]["boot"], 1 / 1.05),
        ("boot, QEMU CPU (1 / CPU)", [1 / e["cpu_ratio"] for e in seal["boot"]["per_link_order"].values()],
         1 / seal["cpu_ratios"]["boot"], None),
    )  # fmt: skip
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / (len(orders) + 1)
    for m, (_, each, mean, goal) in enumerate(measures):
        for i, value in enumerate([*each, mean]):
            x = m + i * width
            last = i == len(orders)
            ax.bar(x, value, width=width, color="#1f77b4" if last else "#aec7e8")
            ax.text(x, value + 0.005, f"{value:.3f}", ha="center", fontsize=7, rotation=90)
        if goal is not None:
            ax.hlines(goal, m - width / 2, m + len(orders) * width + width / 2, color=GOAL_COLOUR, linestyle="--")
    ax.set_xticks([m + len(orders) * width / 2 for m in range(len(measures))], [m[0] for m in measures], fontsize=8)
    ax.set_ylim(0.8, 1.2)
    ax.axhline(1.0, color="#7f7f7f", linewidth=0.8)
    ax.set_ylabel("sealed / unsealed, above 1: sealed faster")
    ax.set_title(
        f"Sealing's cost on {seal['board']} (QEMU TCG): light bars per link order ({', '.join(orders)}), "
        "dark their geomean;\nred dashes the goal",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart_clock(clock: dict[str, Any], path: Path) -> None:
    plt = _plt()
    boards = list(clock["boards"])
    fields = (("ticks_ms_drift_percent", "ticks_ms"), ("time_ns_drift_percent", "time_ns"))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / len(fields)
    for i, (field, label) in enumerate(fields):
        values = [clock["boards"][b][field] for b in boards]
        xs = [x + i * width for x in range(len(boards))]
        ax.bar(xs, values, width=width, label=label)
        for x, v in zip(xs, values, strict=True):
            ax.text(x, v, f"{v:+.4f}%", ha="center", va="bottom" if v >= 0 else "top", fontsize=8)
    goal = clock["goal_percent"]
    for sign in (1, -1):
        ax.axhline(sign * goal, color=GOAL_COLOUR, linestyle="--", label="goal: within 0.1%" if sign > 0 else None)
    ax.set_xticks([x + width / 2 for x in range(len(boards))], boards)
    ax.set_ylabel("guest elapsed / host elapsed - 1 (%)")
    ax.set_title(f"Guest clocks against the host over {clock['interval_s']:.0f} s (QEMU TCG)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


DISK_SIDES = ("pyunik/lfs", "linux/ext4", "pyunik/fat", "linux/vfat")
DISK_PANELS = (
    ("seq_write_mb_s", "sequential write, 1 MiB records (MB/s)", "higher is better"),
    ("seq_read_mb_s", "sequential read, 1 MiB records (MB/s)", "higher is better"),
    ("rand_read_iops", "4 KiB random reads (IOPS)", "higher is better"),
    ("small_files_per_s", "1 KiB files created+flushed (/s)", "higher is better"),
    ("first_file_read_ms", "boot -> first file read (ms)", "lower is better"),
    ("small_files_host_bytes_per_byte", "host bytes written per byte (small files)", "lower is better"),
)


def chart_disk(disk: dict[str, Any], path: Path) -> None:
    plt = _plt()
    plats = disk["platforms"]
    names = [n for n in DISK_SIDES if n in plats]
    colours = {"pyunik/lfs": "#1f77b4", "pyunik/fat": "#6baed6", "linux/ext4": "#ff7f0e", "linux/vfat": "#fdae6b"}
    fig, axes = plt.subplots(2, 3, figsize=(13, 6))
    for ax, (metric, title, better) in zip(axes.flat, DISK_PANELS, strict=True):
        vals = [plats[n].get(metric) for n in names]
        shown = [v if v is not None else 0 for v in vals]
        ax.bar(names, shown, color=[colours[n] for n in names])
        for x, v in enumerate(vals):
            label = "n/a" if v is None else f"{v:,.3g}" if v < 1000 else f"{v:,.0f}"
            ax.text(x, (v or 0), label, ha="center", va="bottom", fontsize=9)
        ax.set_title(f"{title}\n({better})", fontsize=9)
        ax.set_ylim(0, max([*shown, 1e-9]) * 1.25)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"Storage under QEMU TCG: bench/programs/disk_io.py on pyunik vs the unix port in a Linux guest "
                 f"(-m {disk.get('memory')}, same virtio-blk drive)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


CHARTS = {
    "boot": chart_boot,
    "size": chart_size,
    "memory": chart_memory,
    "interpreter": chart_interpreter,
    "asyncio": chart_asyncio,
    "net": chart_net,
    "disk": chart_disk,
    "xen": chart_xen,
    "entropy": chart_entropy,
    "clock": chart_clock,
    "seal": chart_seal,
}


def charts(results: dict[str, Any], out: Path) -> list[Path]:
    """One PNG per benchmark present in results; returns the paths written."""
    written = []
    for name, draw in CHARTS.items():
        entry = results.get(name)
        if isinstance(entry, dict) and "error" not in entry:
            if name == "seal" and "per_link_order" not in entry.get("boot", {}):
                continue  # a results.json from before link orders: its table rows are left out too
            path = out / f"{name}.png"
            draw(entry, path)
            written.append(path)
            if name == "xen" and entry.get("io"):
                written.append(path.with_name("xen_io.png"))  # chart_xen draws it beside
    return written


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def _seal_rows(seal: dict[str, Any]) -> list[str]:
    """Sealed vs unsealed: each ratio (the geomean over link orders) with the per-order ones beside it."""
    r, cpu, load = seal["ratios"], seal.get("cpu_ratios", {}), seal.get("load", {})
    orders = ", ".join(seal["link_orders"])

    def per_order(entry: dict[str, Any], key: str) -> str:
        return " / ".join(_fmt(e.get(key), "", 3) for e in entry["per_link_order"].values())

    perf = seal["perf_bench"]["per_link_order"]
    rows = (
        ("perf_bench geomean, speed", " / ".join(_fmt(e["geomean"], "", 3) for e in perf.values()),
         r.get("perf_bench"), ">= 0.97x"),
        ("asyncio tasks/s", per_order(seal["asyncio"], "ratio"), r.get("asyncio_spawn"), ">= 0.97x"),
        ("asyncio program, QEMU CPU s (unsealed/sealed)", per_order(seal["asyncio"], "cpu_ratio"),
         cpu.get("asyncio_spawn"), "none"),
        ("boot to `>>>`", per_order(seal["boot"], "ratio"), r.get("boot"), "<= 1.05x"),
        ("boot, QEMU CPU to `>>>`", per_order(seal["boot"], "cpu_ratio"), cpu.get("boot"), "none"),
    )  # fmt: skip
    lines = [
        f"| sealed vs `seal = false`, {seal['board']}: {label} (load {load.get('before', '?')}-"
        f"{load.get('after', '?')}) | link orders {orders}: {each} | both sides alike | "
        f"{_fmt(ratio, 'x', 3)} (goal {goal}) |"
        for label, each, ratio, goal in rows
    ]
    sizes = seal["image_bytes"]
    lines.append(
        f"| sealed vs `seal = false`, {seal['board']}: stripped image (bytes) | {sizes['sealed']:,} | "
        f"unsealed {sizes['unsealed']:,} | {_fmt(r.get('image'), 'x', 3)} (goal <= 1.05x) |"
    )
    lines.append(
        f"| sealing probes that fault (sealed / unsealed) | {seal['probes_faulted']} | "
        f"{seal['probes_faulted_unsealed']} | goal: all on sealed |"
    )
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The README's table: one line per measure, with its ratio or goal."""
    lines = ["| measure | pyunik | comparison | ratio / goal |", "|---|---:|---:|---|"]
    boot = results.get("boot", {})
    if "targets" in boot:
        t = boot["targets"]

        def med(name: str) -> float | None:
            return t.get(name, {}).get("prompt_ms", {}).get("median")

        def ex(name: str) -> float | None:
            return t.get(name, {}).get("exit_ms", {}).get("median")

        r = boot["ratios"]
        for board, machine in (("qemu-microvm", "microvm"), ("qemu-q35", "q35")):
            lines.append(
                f"| boot to `>>>`, {board} (median ms) | {_fmt(med('pyunik/' + board))} | "
                f"floor `>>>` {_fmt(med('floor/' + machine))} (exit {_fmt(ex('floor/' + machine))}) | "
                f"{_fmt(r.get(board + ' / floor prompt'), 'x', 2)} floor `>>>` (goal <= 1.10x); "
                f"{_fmt(r.get(board + ' / floor exit'), 'x', 2)} floor exit |"
            )
        at = next((k.split("/ ", 1)[1] for k in r if k.startswith("linux-microvm / qemu-microvm@")), "")
        memory = at.split("@", 1)[1] if "@" in at else "?"
        for kernel, target, key in (
            ("vmlinux", "linux/microvm", f"linux-microvm / {at}"),
            ("bzImage, second row", "linux-bzImage/microvm", f"linux-bzImage-microvm / {at}"),
        ):
            lines.append(
                f"| boot to `>>>`, Linux guest ({kernel}) vs pyunik, microvm, both -m {memory} (median ms) | "
                f"{_fmt(med('pyunik/' + at))} | {_fmt(med(target), '', 0)} | "
                f"Linux takes {_fmt(r.get(key), 'x', 0)} pyunik's time |"
            )
        tried = boot.get("linux_at_pyunik_memory") or {}
        if tried and tried.get("prompt_ms") is None:
            lines.append(
                f"| Linux guest at pyunik's -m {tried['memory']} | - | no prompt ({tried.get('failure')}) | "
                "least -m: see the memory row |"
            )
    size = results.get("size", {})
    for board, entry in size.get("boards", {}).items():
        lines.append(f"| stripped image, {board} (KiB) | {entry['stripped_kib']} | - | goal <= 400 KiB |")
    mem = results.get("memory", {})
    for board, entry in mem.get("boards", {}).items():
        lines.append(
            f"| least -m, {board}: prompt / + alloc.py | {entry['prompt_kib']}K / "
            f"{entry['prompt_plus_alloc_script_kib']}K | - | goal: prompt in 1434K "
            f"({'yes' if entry.get('prompt_at_1434K') else 'no'}) |"
        )
    linux = mem.get("linux/microvm", {})
    if linux:
        ratio = mem.get("ratios", {}).get("linux-microvm / qemu-microvm (prompt + alloc.py)")
        lines.append(
            f"| least -m, Linux guest: prompt + alloc.py | - | {linux.get('least_mib')}M | "
            f"Linux needs {_fmt(ratio, 'x', 0)} |"
        )
    interp = results.get("interpreter", {})
    geo = interp.get("geomean_speed_ratio")
    if isinstance(geo, dict):
        for side in INTERP_SIDES:
            if geo.get(side):
                low, high = interp["speed_ratio_range"][side]
                lines.append(
                    f"| perf_bench vs unix port, {side} ({interp['compared'][side]} programs) | - | - | "
                    f"geomean {geo[side]:.2f}x ({low:.2f}x-{high:.2f}x per program; >1: pyunik faster) |"
                )
    aio = results.get("asyncio", {})
    plats = aio.get("platforms", {})
    if plats:
        py = plats.get("pyunik/qemu-microvm", {})
        metrics = (("spawn_tasks_per_s", "asyncio tasks/s"), ("pingpong_round_trips_per_s", "Event round trips/s"))
        for metric, label in metrics:

            def val(p: dict[str, Any], metric: str = metric) -> float | None:
                return p.get(metric, {}).get("median")

            for build, suffix in (("tuned (goals)", "/tuned"), ("upstream", "")):
                rl = aio["ratios"].get(f"{metric}: pyunik / linux-guest{suffix}")
                rq = aio["ratios"].get(f"{metric}: pyunik / qemu-user{suffix}")
                goal_l, goal_q = (" (goal >= 1.6x)", " (goal >= 1.0x)") if suffix else ("", "")
                lines.append(
                    f"| {label}, unix port {build} | {_fmt(val(py), '', 0)} | "
                    f"Linux guest {_fmt(val(plats.get('linux-guest' + suffix, {})), '', 0)}, "
                    f"qemu-user {_fmt(val(plats.get('qemu-user' + suffix, {})), '', 0)} | "
                    f"{_fmt(rl, 'x', 2)} Linux{goal_l}, {_fmt(rq, 'x', 2)} qemu-user{goal_q} |"
                )
    net = results.get("net", {})
    if "platforms" in net:
        py, lx = net["platforms"].get("pyunik", {}), net["platforms"].get("linux-guest", {})
        r = net.get("ratios", {})
        rows = (
            ("HTTP requests/s, 1 connection (wrk)", "http_rps_c1", 0, ">= 1.5x"),
            ("HTTP requests/s, 30 connections (wrk)", "http_rps_c30", 0, ">= 1.5x"),
            ("TCP echo RTT p50 (us)", "echo_rtt_p50_us", 0, "<= 0.6x"),
            ("ping RTT p50, namespace + tap (ms)", "ping_p50_ms", 3, "<= 1.0x"),
            ("bulk TCP host -> guest (MB/s)", "bulk_up_mb_s", 2, ">= 1.0x"),
            ("bulk TCP guest -> host (MB/s)", "bulk_down_mb_s", 2, ">= 1.0x"),
            ("boot -> first HTTP response (ms)", "first_response_ms", 0, "<= 0.1x"),
        )
        for label, metric, digits, goal in rows:
            lines.append(
                f"| {label} | {_fmt(py.get(metric), '', digits)} | Linux guest {_fmt(lx.get(metric), '', digits)} | "
                f"{_fmt(r.get(f'{metric}: pyunik / linux-guest'), 'x', 2)} (goal {goal}) |"
            )
        least_py = py.get("least_memory", {}).get("least_kib")
        least_lx = lx.get("least_memory", {}).get("least_kib")
        lines.append(
            f"| least -m serving 30 HTTP connections | {_fmt(least_py, 'K', 0)} | Linux guest {_fmt(least_lx, 'K', 0)} "
            f"| goal <= 3 MiB |"
        )
        quiet, lquiet = py.get("idle", {}), lx.get("idle", {})
        lines.append(
            f"| idle, DHCP lease held: wake-ups/s, host CPU | {_fmt(quiet.get('wakeups_per_s'), '', 1)}, "
            f"{_fmt(quiet.get('host_cpu_percent'), '%', 2)} | Linux guest {_fmt(lquiet.get('wakeups_per_s'), '', 1)}, "
            f"{_fmt(lquiet.get('host_cpu_percent'), '%', 2)} | goal <= 2/s, < 1% |"
        )
    disk = results.get("disk", {})
    if "platforms" in disk:
        plats, r = disk["platforms"], disk.get("ratios", {})
        rows = (
            ("sequential write, 1 MiB records (MB/s)", "seq_write_mb_s", 2, ">= 1.0x"),
            ("sequential read, 1 MiB records (MB/s)", "seq_read_mb_s", 2, ">= 1.0x"),
            ("4 KiB random reads (IOPS)", "rand_read_iops", 0, ""),
            ("small files: create+write+flush (files/s)", "small_files_per_s", 1, ">= 1.0x"),
            ("boot -> first file read (ms)", "first_file_read_ms", 0, ""),
        )
        for label, metric, digits, goal in rows:
            for mine, base in (("pyunik/lfs", "linux/ext4"), ("pyunik/fat", "linux/vfat")):
                a, b = plats.get(mine, {}), plats.get(base, {})
                ratio = _fmt(r.get(f"{metric}: {mine} / {base}"), "x", 2)
                lines.append(
                    f"| {label}, {mine} | {_fmt(a.get(metric), '', digits)} | {base} "
                    f"{_fmt(b.get(metric), '', digits)} | {ratio}" + (f" (goal {goal})" if goal else "") + " |"
                )
        for mine, base in (("pyunik/lfs", "linux/ext4"), ("pyunik/fat", "linux/vfat")):
            a, b = plats.get(mine, {}), plats.get(base, {})
            lines.append(
                f"| host bytes written per byte, seq / small files, {mine} | "
                f"{_fmt(a.get('seq_write_host_bytes_per_byte'), '', 2)} / "
                f"{_fmt(a.get('small_files_host_bytes_per_byte'), '', 2)} | {base} "
                f"{_fmt(b.get('seq_write_host_bytes_per_byte'), '', 2)} / "
                f"{_fmt(b.get('small_files_host_bytes_per_byte'), '', 2)} | - |"
            )
            lines.append(
                f"| mount (ms), {mine} | {_fmt(a.get('mount_ms'), '', 1)} | {base} {_fmt(b.get('mount_ms'), '', 0)} "
                "(/proc/uptime, 10 ms steps) | - |"
            )
        image = disk.get("image", {})
        if image:
            lines.append(
                f"| stripped image, qemu-microvm-disk vs qemu-microvm (KiB) | {_fmt(image.get('disk_kib'), '', 1)} "
                f"| {_fmt(image.get('repl_kib'), '', 1)} | +{_fmt(image.get('growth_kib'), '', 1)} KiB "
                "(goal <= 120 KiB) |"
            )
        dd = disk.get("linux_dd", {})
        if dd:
            lines.append(
                f"| Linux guest dd O_DIRECT on the raw disk, write / read (MB/s) | - | "
                f"{_fmt(dd.get('dd_write_mb_s'), '', 1)} / {_fmt(dd.get('dd_read_mb_s'), '', 1)} | - |"
            )
    xen = results.get("xen", {})
    if "runs" in xen:
        prompt = xen.get("create_to_prompt_s") or {}
        floor = xen.get("floor_create_to_line_s") or {}
        failed = xen.get("failed_runs", {})
        least = xen.get("least_memory_mib")
        lines.append(
            f"| Xen domU: xl create -> `>>>` (median s, {xen['runs']} interleaved runs; failed: pyunik "
            f"{failed.get('pyunik', 0)}, floor {failed.get('floor', 0)}) | {_fmt(prompt.get('median'), '', 2)} | "
            f"floor (pvhtest) {_fmt(floor.get('median'), '', 2)} | {_fmt(xen.get('ratio_prompt_to_floor'), 'x', 2)} "
            f"floor; least `memory =` "
            + (f"{least} MiB" if least else f"none up to {xen.get('memory_range_mib', [0, '?'])[1]} MiB")
            + " |"
        )
        io = xen.get("io") or {}
        load = io.get("host_load_1min") or {}
        for key, label in IO_LABELS.items():
            mine, base = (io.get("pyunik") or {}).get(key), (io.get("dom0") or {}).get(key)
            if mine is None:
                continue
            ratio = (io.get("ratio_to_dom0") or {}).get(key)
            lines.append(
                f"| Xen domU {label}, {io.get('runs')} runs (failed {len((io.get('failed') or {}).get('pyunik', []))}; "
                f"load {load.get('before', '?')}-{load.get('after', '?')}) | {_fmt(mine, '', 3)} "
                f"| {'dom0 ' + _fmt(base, '', 3) if base is not None else 'no base'} "
                f"| {_fmt(ratio, 'x', 3) + ' dom0 (an upper bound, not a guest)' if ratio is not None else '-'} |"
            )
        lines.extend(_xen_http_rows(xen.get("http") or {}))
    seal = results.get("seal", {})
    if "per_link_order" in seal.get("boot", {}):
        lines.extend(_seal_rows(seal))
    clock = results.get("clock", {})
    for board, entry in clock.get("boards", {}).items():
        lines.append(
            f"| clock drift over {entry['host_seconds']:.0f} s, {board}: ticks_ms / time_ns (host's "
            f"monotonic clock is the base) | {entry['ticks_ms_drift_percent']:+.4f}% / "
            f"{entry['time_ns_drift_percent']:+.4f}% | bracket +-{entry['bracket_percent']:.4f}% | "
            f"goal within {clock['goal_percent']}%: {'met' if entry['goal_met'] else 'not met'} |"
        )
    ent = results.get("entropy", {})
    for cpu, entry in ent.get("cpus", {}).items():
        lines.append(
            f"| layout entropy over {ent['boots']} boots, {cpu}: stack top / heap objects (design bits; "
            f"per-bit sum) | {entry['stack_top']['design_bits']} / {entry['heap_pool']['design_bits']} "
            f"({entry['stack_top']['bit_entropy']} / {entry['heap_pool']['bit_entropy']}) | "
            f"distinct {entry['stack_top']['distinct']} / {entry['heap_pool']['distinct']}, collisions "
            f"{entry['stack_top']['collisions']} / {entry['heap_pool']['collisions']} (uniform: "
            f"{entry['stack_top']['expected_collisions']}) | goal >= {ent['goal_bits']:.0f} bits each: "
            f"{'met' if entry['goal_met'] else 'not met'} |"
        )
    return "\n".join(lines) + "\n"
