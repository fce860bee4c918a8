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

Modules: ``_host_settings`` (thresholds and the records passed around), ``_host_sample``
(the psutil sample, the advisor's own processes left out), ``_host_disks`` (mounts, their
measurement under a timeout, disk, inode and hung-mount findings), ``_host_findings`` (CPU,
memory, swap and top-process findings).
"""

from __future__ import annotations

import asyncio

from watchkeeper.advisors._host_disks import chosen_mounts, disk, hung, measure
from watchkeeper.advisors._host_findings import cpu, memory, swap, top_processes
from watchkeeper.advisors._host_sample import take_sample
from watchkeeper.advisors._host_settings import HostAdviceSettings, Mount
from watchkeeper.findings import Finding, ranked

__all__ = ["HostAdviceSettings", "advise"]


async def advise(
    *, settings: HostAdviceSettings | None = None, sample_seconds: float = 1.0
) -> list[Finding]:
    """Look at this machine and return what is wrong (and its top processes) as Findings,
    most important first."""
    settings = settings or HostAdviceSettings()
    sample = await asyncio.to_thread(take_sample, max(0.05, sample_seconds))
    chosen = await asyncio.to_thread(chosen_mounts, settings)
    measured = await asyncio.gather(*(measure(c, settings.mount_timeout_s) for c in chosen))
    findings: list[Finding] = []
    cpu_findings = cpu(sample, settings)
    memory_findings = memory(sample, settings)
    findings += cpu_findings + memory_findings
    findings += swap(sample, settings)
    for mount, result in zip(chosen, measured, strict=True):
        if result is None:
            findings.append(hung(mount, settings))
        elif isinstance(result, Mount):
            findings += disk(result, settings)
    quiet = not cpu_findings and not memory_findings
    if quiet and settings.top_processes_info and sample.processes:
        findings.append(top_processes(sample, settings))
    return ranked(findings)
