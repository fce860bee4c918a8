"""Host advisor: what psutil says about the machine Watchkeeper runs on, as Findings.

CPU shares, swap traffic and per-process CPU are measured over ``sample_seconds`` (psutil's
``cpu_times_percent`` over that interval); the rest is read once. Checks (thresholds are
:class:`HostAdviceSettings` fields, defaults in brackets; a measured value at or past its
threshold fires):

- **CPU saturation**: busy (everything but idle, iowait and steal, which have findings of
  their own) at ``cpu_busy_pct`` [90 %], or the 1-minute load average per logical core at
  ``load_per_core`` [1.5]: warning, with the top processes by CPU;
- **steal** at ``steal_pct`` [10 %]: warning (the hypervisor gives this VM's CPU time to
  others: a noisy neighbour or an undersized/burstable instance);
- **iowait** at ``iowait_pct`` [20 %]: warning (CPUs idle waiting on the disk);
- **memory pressure**: available memory at or below ``memory_available_warn_pct`` [10 %] of the
  total: warning, ``memory_available_critical_pct`` [5 %]: critical, with the top processes by
  resident memory;
- **swap**: swap traffic (pages in + out) during the sample at ``swap_activity_bytes_per_s``
  [256 KiB/s]: warning, the machine is short of memory now; swap at ``swap_used_pct`` [50 %]
  full without traffic: info (idle pages parked there, harmless until it fills);
- **disks**: each real file system (``psutil.disk_partitions(all=False)`` less read-only mounts
  and ``skip_fstypes``, one mount per device) at ``disk_warn_pct`` [90 %]: warning,
  ``disk_critical_pct`` [95 %]: critical. ``mounts`` names the mount points to look at instead
  (any file-system type). Each mount is measured with a ``mount_timeout_s`` [2 s] budget: one
  that does not answer (a hung NFS server) is skipped with a warning of its own;
- **inodes** (``os.statvfs``: ``f_files``/``f_ffree``) at ``inode_warn_pct`` [90 %]: warning,
  ``inode_critical_pct`` [95 %]: critical;
- **top processes**: the ``top_processes`` [5] biggest by CPU (% of one core, over the sample)
  and by resident memory go into the CPU and memory findings' evidence (``top_cpu_1``...,
  ``top_rss_1``...); when neither fires they make an info Finding of their own
  (``top_processes_info``). The advisor's own process (and a parent running the same
  Watchkeeper command, a launcher) is left out.

Every psutil call runs in a worker thread (``asyncio.to_thread``); the calls on a mount
(``statvfs``) run in a daemon thread each, so one that never returns cannot hold up the run
or the interpreter's exit (a mount still hung from an earlier run is not asked again until
that call returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil

from watchkeeper.findings import Evidence, Finding, Severity, ranked
from watchkeeper.units import format_duration, format_size

_SKIP_FSTYPES = frozenset(
    {
        "squashfs", "overlay", "tmpfs", "devtmpfs", "ramfs", "proc", "sysfs", "nsfs",
        "cgroup", "cgroup2", "devpts", "iso9660", "udf", "fuse.snapfuse", "fuse.lxcfs",
        "autofs", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs",
    }
)  # fmt: skip
_PROGRAMS = frozenset({"wk", "watchkeeper"})
"""Names Watchkeeper's command runs under (console scripts; ``python -m watchkeeper``)."""
_HUNG: dict[str, threading.Thread] = {}
"""Mount point → the thread still stuck measuring it (from this or an earlier run)."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HostAdviceSettings:
    """Thresholds of the host advisor; the module docstring says what each one gates."""

    cpu_busy_pct: float = 90.0
    load_per_core: float = 1.5
    steal_pct: float = 10.0
    iowait_pct: float = 20.0
    memory_available_warn_pct: float = 10.0
    memory_available_critical_pct: float = 5.0
    swap_activity_bytes_per_s: float = 256 * 1024
    swap_used_pct: float = 50.0
    disk_warn_pct: float = 90.0
    disk_critical_pct: float = 95.0
    inode_warn_pct: float = 90.0
    inode_critical_pct: float = 95.0
    mounts: tuple[str, ...] = ()
    """Only these mount points, whatever their type (default: every real file system)."""
    skip_fstypes: frozenset[str] = field(default=_SKIP_FSTYPES)
    """File-system types left out when ``mounts`` is empty (pseudo, in-memory, read-only
    images)."""
    mount_timeout_s: float = 2.0
    """Seconds each mount may take to answer ``statvfs`` before it is skipped as hung."""
    top_processes: int = 5
    top_processes_info: bool = True


@dataclass(frozen=True, slots=True)
class _Process:
    pid: int
    name: str
    cpu_pct: float
    rss: int

    def describe(self) -> str:
        return f"{self.pid} {self.name}: {self.cpu_pct:.1f}% CPU, {format_size(self.rss)} RSS"


@dataclass(frozen=True, slots=True)
class _Sample:
    seconds: float
    cpu: dict[str, float]
    """Shares of CPU time over the sample, in %, summing to 100."""
    cores: int
    load: tuple[float, float, float]
    memory: Any
    swap: Any
    swapped_bytes: int
    """Swapped in + out during the sample."""
    processes: list[_Process]


@dataclass(frozen=True, slots=True)
class _Mount:
    mountpoint: str
    device: str
    fstype: str
    total: int
    used: int
    free: int
    used_pct: float
    inodes: int
    inodes_free: int


@dataclass(frozen=True, slots=True)
class _Chosen:
    """A mount to measure."""

    mountpoint: str
    device: str
    fstype: str


async def advise(
    *, settings: HostAdviceSettings | None = None, sample_seconds: float = 1.0
) -> list[Finding]:
    """Look at this machine and return what is wrong (and its top processes) as Findings,
    most important first."""
    settings = settings or HostAdviceSettings()
    sample = await asyncio.to_thread(_sample, max(0.05, sample_seconds))
    chosen = await asyncio.to_thread(_chosen_mounts, settings)
    measured = await asyncio.gather(*(_measure(c, settings.mount_timeout_s) for c in chosen))
    findings: list[Finding] = []
    cpu = _cpu(sample, settings)
    memory = _memory(sample, settings)
    findings += cpu + memory
    findings += _swap(sample, settings)
    for mount, result in zip(chosen, measured, strict=True):
        if result is None:
            findings.append(_hung(mount, settings))
        elif isinstance(result, _Mount):
            findings += _disk(result, settings)
    if not cpu and not memory and settings.top_processes_info and sample.processes:
        findings.append(_top_processes(sample, settings))
    return ranked(findings)


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


def _sample(seconds: float) -> _Sample:
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
    rows: list[_Process] = []
    for process in processes:
        try:
            with process.oneshot():
                cpu_pct = float(process.cpu_percent(None))
                rss = int(process.memory_info().rss)
        except (psutil.Error, OSError):
            continue
        name = str(process.info.get("name") or "?")[:40]
        rows.append(_Process(int(process.pid), name, cpu_pct, rss))
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
    return _Sample(
        seconds=seconds,
        cpu=shares,
        cores=psutil.cpu_count() or 1,
        load=os.getloadavg(),
        memory=psutil.virtual_memory(),
        swap=swap,
        swapped_bytes=swapped,
        processes=rows,
    )


def _chosen_mounts(settings: HostAdviceSettings) -> list[_Chosen]:
    """The mounts to look at (the partition table only: nothing here touches a mount)."""
    if settings.mounts:
        known = {p.mountpoint: p for p in psutil.disk_partitions(all=True)}
        return [
            _Chosen(mount, known[mount].device, known[mount].fstype)
            if mount in known
            else _Chosen(mount, "?", "?")
            for mount in dict.fromkeys(settings.mounts)
        ]
    chosen: list[_Chosen] = []
    devices: set[str] = set()
    partitions = sorted(psutil.disk_partitions(all=False), key=lambda p: len(p.mountpoint))
    for partition in partitions:
        if partition.fstype in settings.skip_fstypes:
            continue
        if "ro" in partition.opts.split(","):
            continue
        if partition.device in devices:  # a bind mount of one already seen
            continue
        devices.add(partition.device)
        chosen.append(_Chosen(partition.mountpoint, partition.device, partition.fstype))
    return chosen


async def _measure(chosen: _Chosen, timeout: float) -> _Mount | OSError | None:  # noqa: ASYNC109
    """The mount's use, an OSError (gone, not permitted: skipped), or None: no answer within
    ``timeout`` seconds (hung)."""
    where = chosen.mountpoint
    stuck = _HUNG.get(where)
    if stuck is not None:
        if stuck.is_alive():
            return None
        del _HUNG[where]

    def statvfs() -> tuple[Any, os.statvfs_result]:
        return psutil.disk_usage(where), os.statvfs(where)

    thread, answer = _in_daemon_thread(statvfs, f"wk-statvfs {where}")
    try:
        usage, stats = await asyncio.wait_for(answer, timeout)
    except TimeoutError:
        _HUNG[where] = thread
        return None
    except OSError as exc:
        return exc
    return _Mount(
        mountpoint=where,
        device=chosen.device,
        fstype=chosen.fstype,
        total=int(usage.total),
        used=int(usage.used),
        free=int(usage.free),
        used_pct=float(usage.percent),
        inodes=int(stats.f_files),
        inodes_free=int(stats.f_ffree),
    )


def _in_daemon_thread(
    call: Callable[[], T], name: str
) -> tuple[threading.Thread, asyncio.Future[T]]:
    """Run ``call`` in a daemon thread of its own: unlike ``asyncio.to_thread``'s pool, a
    call that never returns holds up neither the loop's shutdown nor the interpreter's
    exit."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[T] = loop.create_future()

    def succeed(result: T) -> None:
        if not answer.done():  # else it timed out meanwhile
            answer.set_result(result)

    def fail(error: Exception) -> None:
        if not answer.done():
            answer.set_exception(error)

    def work() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            try:
                result = call()
            except Exception as exc:
                loop.call_soon_threadsafe(fail, exc)
            else:
                loop.call_soon_threadsafe(succeed, result)

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread, answer


def _top(sample: _Sample, settings: HostAdviceSettings, by: str) -> Evidence:
    if by == "cpu":
        ordered = sorted(sample.processes, key=lambda p: (-p.cpu_pct, -p.rss, p.pid))
    else:
        ordered = sorted(sample.processes, key=lambda p: (-p.rss, -p.cpu_pct, p.pid))
    return {
        f"top_{by}_{rank}": process.describe()
        for rank, process in enumerate(ordered[: max(0, settings.top_processes)], start=1)
    }


def _cpu_evidence(sample: _Sample) -> Evidence:
    cpu = sample.cpu
    busy = 100.0 - cpu.get("idle", 0.0) - cpu.get("iowait", 0.0) - cpu.get("steal", 0.0)
    one, five, fifteen = sample.load
    return {
        "busy_pct": round(busy, 2),
        "idle_pct": round(cpu.get("idle", 0.0), 2),
        "user_pct": round(cpu.get("user", 0.0) + cpu.get("nice", 0.0), 2),
        "system_pct": round(
            cpu.get("system", 0.0) + cpu.get("irq", 0.0) + cpu.get("softirq", 0.0), 2
        ),
        "iowait_pct": round(cpu.get("iowait", 0.0), 2),
        "steal_pct": round(cpu.get("steal", 0.0), 2),
        "load1": round(one, 2),
        "load5": round(five, 2),
        "load15": round(fifteen, 2),
        "cores": sample.cores,
        "load1_per_core": round(one / sample.cores, 3),
        "sample_s": round(sample.seconds, 3),
    }


def _cpu(sample: _Sample, settings: HostAdviceSettings) -> list[Finding]:
    findings: list[Finding] = []
    evidence = _cpu_evidence(sample)
    busy = float(evidence["busy_pct"] or 0.0)
    per_core = float(evidence["load1_per_core"] or 0.0)
    over = format_duration(sample.seconds)
    if busy >= settings.cpu_busy_pct or per_core >= settings.load_per_core:
        findings.append(
            Finding(
                source="host",
                severity=Severity.warning,
                title=f"CPU saturated: {busy:.0f}% busy over {over}, load {per_core:.2f} per "
                f"core ({sample.cores} cores)",
                subject="cpu",
                evidence={
                    **evidence,
                    "busy_threshold_pct": settings.cpu_busy_pct,
                    "load_per_core_threshold": settings.load_per_core,
                    **_top(sample, settings, "cpu"),
                },
                recommendation="Requests queue for the CPU, so every response slows. Look at "
                "the top processes in the evidence: fix a runaway one, move batch jobs off "
                "peak hours (or nice them), or give the machine more cores. A load per core "
                "well above busy% points at processes waiting on disk instead (see iowait).",
                impact=max(busy / max(settings.cpu_busy_pct, 1e-9), per_core),
            )
        )
    steal = float(evidence["steal_pct"] or 0.0)
    if steal >= settings.steal_pct:
        findings.append(
            Finding(
                source="host",
                severity=Severity.warning,
                title=f"CPU steal {steal:.1f}%: the hypervisor runs others on this VM's CPUs",
                subject="cpu",
                evidence={**evidence, "steal_threshold_pct": settings.steal_pct},
                recommendation="This VM waits for physical CPU it was promised: a noisy "
                "neighbour, or a burstable/shared instance out of credits. Move to a "
                "dedicated-CPU or larger instance type, or ask the provider to migrate the VM.",
                impact=steal,
            )
        )
    iowait = float(evidence["iowait_pct"] or 0.0)
    if iowait >= settings.iowait_pct:
        findings.append(
            Finding(
                source="host",
                severity=Severity.warning,
                title=f"CPUs wait on the disk {iowait:.1f}% of the time (iowait)",
                subject="cpu",
                evidence={**evidence, "iowait_threshold_pct": settings.iowait_pct},
                recommendation="Processes are stalled on storage; common causes are swapping, "
                "a database without enough cache memory, or logs on a slow volume. Faster "
                "disks (or more IOPS on a cloud volume) help when the load is real. Who does "
                "the I/O: iotop -o; pidstat -d 1",
                impact=iowait,
            )
        )
    return findings


def _memory(sample: _Sample, settings: HostAdviceSettings) -> list[Finding]:
    memory = sample.memory
    total = int(memory.total) or 1
    available = int(memory.available)
    available_pct = 100.0 * available / total
    if available_pct <= settings.memory_available_critical_pct:
        severity = Severity.critical
    elif available_pct <= settings.memory_available_warn_pct:
        severity = Severity.warning
    else:
        return []
    swap = sample.swap
    return [
        Finding(
            source="host",
            severity=severity,
            title=f"Memory nearly exhausted: {format_size(available)} available of "
            f"{format_size(total)} ({available_pct:.1f}%)",
            subject="memory",
            evidence={
                "total_bytes": total,
                "available_bytes": available,
                "available_pct": round(available_pct, 2),
                "used_pct": round(float(memory.percent), 2),
                "swap_total_bytes": int(swap.total),
                "swap_used_pct": round(float(swap.percent), 2),
                "swapped_in_sample_bytes": sample.swapped_bytes,
                "warn_below_pct": settings.memory_available_warn_pct,
                "critical_below_pct": settings.memory_available_critical_pct,
                **_top(sample, settings, "rss"),
            },
            recommendation="The kernel is about to swap or kill processes (OOM killer). Look "
            "at the top processes in the evidence: cap a cache or worker count that grew, "
            "restart a leaking service, or add RAM.",
            impact=100.0 - available_pct,
        )
    ]


def _swap(sample: _Sample, settings: HostAdviceSettings) -> list[Finding]:
    swap = sample.swap
    if not int(swap.total):
        return []
    rate = sample.swapped_bytes / sample.seconds
    evidence: Evidence = {
        "swap_total_bytes": int(swap.total),
        "swap_used_bytes": int(swap.used),
        "swap_used_pct": round(float(swap.percent), 2),
        "swapped_in_sample_bytes": sample.swapped_bytes,
        "swap_bytes_per_s": round(rate),
        "sample_s": round(sample.seconds, 3),
    }
    if sample.swapped_bytes and rate >= settings.swap_activity_bytes_per_s:
        return [
            Finding(
                source="host",
                severity=Severity.warning,
                title=f"The machine is swapping: {format_size(rate)}/s in and out",
                subject="swap",
                evidence={**evidence, **_top(sample, settings, "rss")},
                recommendation="Pages move to and from disk right now, which slows whatever "
                "touches them by orders of magnitude. Free memory (the top processes by RSS "
                "are in the evidence) or add RAM.",
                impact=rate,
            )
        ]
    if float(swap.percent) >= settings.swap_used_pct:
        return [
            Finding(
                source="host",
                severity=Severity.info,
                title=f"Swap is {float(swap.percent):.0f}% full but quiet",
                subject="swap",
                evidence=evidence,
                recommendation="Idle pages were pushed out earlier; harmless while no swapping "
                "happens, but the machine has little reserve left. Watch it grow.",
                impact=float(swap.percent),
            )
        ]
    return []


def _disk(mount: _Mount, settings: HostAdviceSettings) -> list[Finding]:
    findings: list[Finding] = []
    where = mount.mountpoint
    base: Evidence = {"mount": where, "device": mount.device, "fstype": mount.fstype}
    pct = mount.used_pct
    if pct >= settings.disk_warn_pct:
        critical = pct >= settings.disk_critical_pct
        findings.append(
            Finding(
                source="host",
                severity=Severity.critical if critical else Severity.warning,
                title=f"Disk {where} is {pct:.1f}% full ({format_size(mount.free)} free of "
                f"{format_size(mount.total)})",
                subject=where,
                evidence={
                    **base,
                    "used_pct": round(pct, 2),
                    "used_bytes": mount.used,
                    "free_bytes": mount.free,
                    "total_bytes": mount.total,
                },
                recommendation="Writes fail when it is full (databases stop, logs are lost). "
                "Find what grew, then rotate or vacuum the logs, prune old images, releases "
                "and backups, or grow the volume: "
                f"du -xh --max-depth=2 {where} | sort -h | tail; journalctl --vacuum-size=500M",
                impact=pct,
            )
        )
    if mount.inodes > 0:
        used = mount.inodes - mount.inodes_free
        inode_pct = 100.0 * used / mount.inodes
        if inode_pct >= settings.inode_warn_pct:
            critical = inode_pct >= settings.inode_critical_pct
            findings.append(
                Finding(
                    source="host",
                    severity=Severity.critical if critical else Severity.warning,
                    title=f"Inodes on {where} are {inode_pct:.1f}% used ({mount.inodes_free} "
                    "files left)",
                    subject=where,
                    evidence={
                        **base,
                        "inodes_used_pct": round(inode_pct, 2),
                        "inodes": mount.inodes,
                        "inodes_used": used,
                        "inodes_free": mount.inodes_free,
                        "used_pct": round(pct, 2),
                    },
                    recommendation="No new file can be created once inodes run out, however "
                    "much space is free. Find the directory with millions of small files "
                    "(session files, caches, mail queues), and delete them or clean them on a "
                    f"schedule: du --inodes -x --max-depth=3 {where} | sort -n | tail",
                    impact=inode_pct,
                )
            )
    return findings


def _hung(mount: _Chosen, settings: HostAdviceSettings) -> Finding:
    where = mount.mountpoint
    return Finding(
        source="host",
        severity=Severity.warning,
        title=f"Mount {where} did not answer within {format_duration(settings.mount_timeout_s)}"
        " (a hung network file system?): its space was not checked",
        subject=where,
        evidence={
            "mount": where,
            "device": mount.device,
            "fstype": mount.fstype,
            "timeout_s": settings.mount_timeout_s,
        },
        recommendation="Anything that touches this mount hangs too. Check the server behind "
        "it (NFS, SMB, FUSE) and the network to it; to detach it once that server is gone "
        f"for good: umount -f -l {where}",
        impact=1.0,
    )


def _top_processes(sample: _Sample, settings: HostAdviceSettings) -> Finding:
    evidence: Evidence = {
        **_top(sample, settings, "cpu"),
        **_top(sample, settings, "rss"),
        "processes": len(sample.processes),
        "sample_s": round(sample.seconds, 3),
    }
    return Finding(
        source="host",
        severity=Severity.info,
        title=f"Top processes by CPU and memory ({len(sample.processes)} running)",
        subject="processes",
        evidence=evidence,
        recommendation="Nothing to do: for reference when the machine gets slow.",
    )
