"""The host advisor's thresholds (what each gates: ``advisors/host.py``) and the records its
modules hand one another: a process and a sample of the machine (from ``_host_sample``), a
mount chosen to measure and its measured use (from ``_host_disks``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watchkeeper.units import format_size

_SKIP_FSTYPES = frozenset(
    {
        "squashfs", "overlay", "tmpfs", "devtmpfs", "ramfs", "proc", "sysfs", "nsfs",
        "cgroup", "cgroup2", "devpts", "iso9660", "udf", "fuse.snapfuse", "fuse.lxcfs",
        "autofs", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HostAdviceSettings:
    """Thresholds of the host advisor; ``advisors/host.py`` says what each one gates."""

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
class Process:
    pid: int
    name: str
    cpu_pct: float
    rss: int

    def describe(self) -> str:
        return f"{self.pid} {self.name}: {self.cpu_pct:.1f}% CPU, {format_size(self.rss)} RSS"


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float
    cpu: dict[str, float]
    """Shares of CPU time over the sample, in %, summing to 100."""
    cores: int
    load: tuple[float, float, float]
    memory: Any
    swap: Any
    swapped_bytes: int
    """Swapped in + out during the sample."""
    processes: list[Process]


@dataclass(frozen=True, slots=True)
class Mount:
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
class Chosen:
    """A mount to measure."""

    mountpoint: str
    device: str
    fstype: str
