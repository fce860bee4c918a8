"""The host advisor's findings from one sample of the machine: CPU saturation, steal and
iowait; memory pressure; swap traffic or a full swap; and the top processes by CPU and by
resident memory, as evidence of the CPU and memory findings or, when neither fires, an info
Finding of their own."""

from __future__ import annotations

from watchkeeper.advisors._host_settings import HostAdviceSettings, Sample
from watchkeeper.findings import Evidence, Finding, Severity
from watchkeeper.units import format_duration, format_size, plural


def _top(sample: Sample, settings: HostAdviceSettings, by: str) -> Evidence:
    if by == "cpu":
        ordered = sorted(sample.processes, key=lambda p: (-p.cpu_pct, -p.rss, p.pid))
    else:
        ordered = sorted(sample.processes, key=lambda p: (-p.rss, -p.cpu_pct, p.pid))
    return {
        f"top_{by}_{rank}": process.describe()
        for rank, process in enumerate(ordered[: max(0, settings.top_processes)], start=1)
    }


def _cpu_evidence(sample: Sample) -> Evidence:
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


def cpu(sample: Sample, settings: HostAdviceSettings) -> list[Finding]:
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
                f"core ({plural(sample.cores, 'core')})",
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


def memory(sample: Sample, settings: HostAdviceSettings) -> list[Finding]:
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


def swap(sample: Sample, settings: HostAdviceSettings) -> list[Finding]:
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


def top_processes(sample: Sample, settings: HostAdviceSettings) -> Finding:
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
