"""The host advisor on this real machine: its own measurements, thresholds set relative to
them to prove the wiring, and real tmpfs mounts filled up (space, then inodes)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from watchkeeper.advisors.host import HostAdviceSettings, advise
from watchkeeper.findings import Finding, Severity

SAMPLE = 0.2
Mount = Callable[[str], Path]


def assert_shape(findings: list[Finding]) -> None:
    for finding in findings:
        assert finding.source == "host"
        assert isinstance(finding.severity, Severity)
        assert finding.title and "\n" not in finding.title
        assert finding.subject
        assert finding.recommendation
        for name, value in finding.evidence.items():
            assert isinstance(name, str)
            assert value is None or isinstance(value, int | float | str), (name, value)
    ranks = [f.severity.rank for f in findings]
    assert ranks == sorted(ranks), "most important first"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """``tmpfs("size=2m")``: a real tmpfs mounted in a temporary directory, unmounted after."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"mount -t tmpfs not permitted here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], check=False)
        if os.path.ismount(where):
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path, size: int) -> None:
    """Write ``size`` bytes (or until the file system is full)."""
    chunk = b"\0" * 65536
    with path.open("ab") as file:
        written = 0
        try:
            while written < size:
                part = chunk[: size - written]
                file.write(part)
                file.flush()
                written += len(part)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise


async def test_default_thresholds_on_this_machine_give_well_formed_findings() -> None:
    findings = await advise(sample_seconds=SAMPLE)
    assert_shape(findings)
    fired = {f.subject for f in findings if f.severity is not Severity.info}
    if "cpu" not in fired and "memory" not in fired:
        # nothing fired on CPU or memory: the top processes come as an info finding
        (top,) = [f for f in findings if f.subject == "processes"]
        assert top.severity is Severity.info
        assert "top_cpu_1" in top.evidence and "top_rss_1" in top.evidence
        processes = top.evidence["processes"]
        assert isinstance(processes, int) and processes >= 1


async def test_cpu_threshold_at_zero_fires_with_the_top_processes() -> None:
    settings = HostAdviceSettings(cpu_busy_pct=0)
    findings = await advise(settings=settings, sample_seconds=SAMPLE)
    assert_shape(findings)
    (cpu,) = [f for f in findings if f.title.startswith("CPU saturated")]
    assert cpu.severity is Severity.warning
    assert cpu.subject == "cpu"
    busy = cpu.evidence["busy_pct"]
    assert isinstance(busy, float | int) and 0 <= busy <= 100
    assert cpu.evidence["cores"] == os.cpu_count()
    tops = [k for k in cpu.evidence if k.startswith("top_cpu_")]
    assert tops and len(tops) <= 5
    assert "CPU" in str(cpu.evidence["top_cpu_1"]) and "RSS" in str(cpu.evidence["top_cpu_1"])
    # the processes rode along with the CPU finding: no separate info finding
    assert [f for f in findings if f.subject == "processes"] == []


async def test_load_threshold_relative_to_the_measured_load() -> None:
    load_per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    never = HostAdviceSettings(cpu_busy_pct=101, load_per_core=load_per_core + 1000)
    assert [f for f in await advise(settings=never, sample_seconds=SAMPLE) if
            f.title.startswith("CPU saturated")] == []  # fmt: skip
    always = HostAdviceSettings(cpu_busy_pct=101, load_per_core=0)
    (cpu,) = [
        f
        for f in await advise(settings=always, sample_seconds=SAMPLE)
        if f.title.startswith("CPU saturated")
    ]
    assert cpu.evidence["load_per_core_threshold"] == 0


async def test_memory_thresholds_relative_to_the_measured_memory() -> None:
    warn = HostAdviceSettings(memory_available_warn_pct=100, memory_available_critical_pct=0)
    findings = await advise(settings=warn, sample_seconds=SAMPLE)
    assert_shape(findings)
    (memory,) = [f for f in findings if f.subject == "memory"]
    assert memory.severity is Severity.warning
    available = memory.evidence["available_pct"]
    assert isinstance(available, float) and 0 < available <= 100
    assert "top_rss_1" in memory.evidence
    assert "RSS" in str(memory.evidence["top_rss_1"])

    critical = HostAdviceSettings(memory_available_warn_pct=100, memory_available_critical_pct=100)
    (memory,) = [
        f for f in await advise(settings=critical, sample_seconds=SAMPLE) if f.subject == "memory"
    ]
    assert memory.severity is Severity.critical


async def test_a_nearly_full_filesystem_is_named_with_its_use(tmpfs: Mount) -> None:
    where = tmpfs("size=2m")
    settings = HostAdviceSettings(mounts=(str(where),))
    assert [f for f in await advise(settings=settings, sample_seconds=SAMPLE) if
            f.subject == str(where)] == []  # fmt: skip

    fill(where / "filler", 1900 * 1024)  # 1.86 of 2 MiB: ~93 %
    findings = await advise(settings=settings, sample_seconds=SAMPLE)
    assert_shape(findings)
    (disk,) = [f for f in findings if f.subject == str(where)]
    assert disk.severity is Severity.warning
    used = disk.evidence["used_pct"]
    assert isinstance(used, float) and 90 <= used < 95
    assert disk.evidence["mount"] == str(where)
    assert disk.evidence["fstype"] == "tmpfs"
    assert str(where) in disk.title and str(where) in disk.recommendation

    fill(where / "filler", 2 * 1024 * 1024)  # to the brim
    (disk,) = [
        f for f in await advise(settings=settings, sample_seconds=SAMPLE) if f.subject == str(where)
    ]
    assert disk.severity is Severity.critical
    used = disk.evidence["used_pct"]
    assert isinstance(used, float) and used > 95
    total = disk.evidence["total"]
    assert total == 2 * 1024 * 1024


async def test_inodes_running_out_are_found(tmpfs: Mount) -> None:
    where = tmpfs("size=2m,nr_inodes=64")
    made = 0
    with pytest.raises(OSError, match="No space left") as raised:  # noqa: PT012 - until full
        while made < 1000:
            (where / f"f{made}").touch()
            made += 1
    assert raised.value.errno == errno.ENOSPC
    assert 0 < made < 64
    settings = HostAdviceSettings(mounts=(str(where),))
    findings = await advise(settings=settings, sample_seconds=SAMPLE)
    assert_shape(findings)
    (inodes,) = [f for f in findings if "inodes_used_pct" in f.evidence]
    assert inodes.subject == str(where)
    assert inodes.severity is Severity.critical
    assert inodes.evidence["inodes_used_pct"] == 100.0
    assert inodes.evidence["inodes"] == 64
    assert inodes.evidence["inodes_free"] == 0
    # empty files take no space: no disk-space finding for it
    assert [f for f in findings if f.title.startswith(f"Disk {where}")] == []


async def test_default_mounts_leave_out_pseudo_file_systems(tmpfs: Mount) -> None:
    where = tmpfs("size=1m")
    fill(where / "filler", 1024 * 1024)
    findings = await advise(sample_seconds=SAMPLE)
    assert str(where) not in {f.subject for f in findings}
