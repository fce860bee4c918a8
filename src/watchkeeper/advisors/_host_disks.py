"""The host advisor's disks: which mounts to look at (the partition table only), each one's
space and inodes from ``statvfs`` run in a daemon thread of its own under a timeout (one that
never returns, a hung NFS server, holds up neither the run nor the interpreter's exit, and is
not asked again until that call returns), and the full-disk, full-inode and hung-mount
Findings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psutil

from watchkeeper.advisors._host_settings import Chosen, HostAdviceSettings, Mount
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_duration, format_size

_HUNG: dict[str, threading.Thread] = {}
"""Mount point → the thread still stuck measuring it (from this or an earlier run)."""

T = TypeVar("T")


def chosen_mounts(settings: HostAdviceSettings) -> list[Chosen]:
    """The mounts to look at (the partition table only: nothing here touches a mount)."""
    if settings.mounts:
        known = {p.mountpoint: p for p in psutil.disk_partitions(all=True)}
        return [
            Chosen(mount, known[mount].device, known[mount].fstype)
            if mount in known
            else Chosen(mount, "?", "?")
            for mount in dict.fromkeys(settings.mounts)
        ]
    chosen: list[Chosen] = []
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
        chosen.append(Chosen(partition.mountpoint, partition.device, partition.fstype))
    return chosen


async def measure(chosen: Chosen, timeout: float) -> Mount | OSError | None:  # noqa: ASYNC109
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
    return Mount(
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


def disk(mount: Mount, settings: HostAdviceSettings) -> list[Finding]:
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


def hung(mount: Chosen, settings: HostAdviceSettings) -> Finding:
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
