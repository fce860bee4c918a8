"""One psutil sample of the machine for the host advisor: CPU shares, swap traffic and each
process' CPU measured over the sample's seconds, load, memory, swap and each process'
resident memory read once. The advisor's own process (and a parent running the same
Watchkeeper command, a launcher) is left out. Blocking: run it in a worker thread."""

from __future__ import annotations

import contextlib
import os

import psutil

from watchkeeper.advisors._host_settings import Process, Sample

_PROGRAMS = frozenset({"wk", "watchkeeper"})
"""Names Watchkeeper's command runs under (console scripts; ``python -m watchkeeper``)."""


def _command(cmdline: list[str]) -> list[str] | None:
    """Watchkeeper's command in a command line, from its program name on (``wk diagnose``
    out of ``python /venv/bin/wk diagnose`` or ``uv run wk diagnose``); None if none."""
    for index, word in enumerate(cmdline):
        name = os.path.basename(word)
        module = index > 0 and cmdline[index - 1] == "-m" and word in _PROGRAMS
        if name in _PROGRAMS or module:
            return ["wk", *cmdline[index + 1 :]]
    return None


def _own_pids() -> set[int]:
    """This process, and its parent when that runs the same Watchkeeper command."""
    me = psutil.Process()
    own = {me.pid}
    with contextlib.suppress(psutil.Error, OSError):
        parent = me.parent()
        mine = _command(me.cmdline())
        if parent is not None and mine is not None and _command(parent.cmdline()) == mine:
            own.add(parent.pid)
    return own


def take_sample(seconds: float) -> Sample:
    own = _own_pids()
    processes: list[psutil.Process] = []
    for process in psutil.process_iter(["pid", "name"]):
        if process.pid in own:
            continue
        try:
            process.cpu_percent(None)  # starts the process' CPU measurement
        except (psutil.Error, OSError):
            continue
        processes.append(process)
    swap_before = psutil.swap_memory()
    times = psutil.cpu_times_percent(interval=seconds)
    swap = psutil.swap_memory()
    rows: list[Process] = []
    for process in processes:
        try:
            with process.oneshot():
                cpu_pct = float(process.cpu_percent(None))
                rss = int(process.memory_info().rss)
        except (psutil.Error, OSError):
            continue
        name = str(process.info.get("name") or "?")[:40]
        rows.append(Process(int(process.pid), name, cpu_pct, rss))
    shares = {
        name: float(getattr(times, name))
        for name in times._fields
        if name not in ("guest", "guest_nice")  # already inside user and nice
    }
    total = sum(shares.values())
    if total > 0:  # a counter that went backwards is clamped to 0: scale back to 100 %
        shares = {name: 100.0 * value / total for name, value in shares.items()}
    else:
        shares = {name: 0.0 for name in shares} | {"idle": 100.0}
    swapped = max(0, int(swap.sin) - int(swap_before.sin)) + max(
        0, int(swap.sout) - int(swap_before.sout)
    )
    return Sample(
        seconds=seconds,
        cpu=shares,
        cores=psutil.cpu_count() or 1,
        load=os.getloadavg(),
        memory=psutil.virtual_memory(),
        swap=swap,
        swapped_bytes=swapped,
        processes=rows,
    )
