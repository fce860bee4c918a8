"""The host advisor on this real machine: its own measurements, thresholds set relative to
them to prove the wiring, real tmpfs mounts filled up (space, then inodes), and a real FUSE
mount whose daemon never answers (as a hung NFS server)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from watchkeeper.advisors._host_sample import _command
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


@pytest.fixture
def hung_mount(tmp_path: Path) -> Iterator[Path]:
    """A FUSE mount whose daemon (this test, holding /dev/fuse) never answers: statvfs on it
    blocks until the descriptor is closed, as on an NFS mount whose server went away."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.skip("a FUSE mount needs root and /dev/fuse")
    where = tmp_path / "hung"
    where.mkdir()
    fuse = os.open("/dev/fuse", os.O_RDWR)
    options = f"fd={fuse},rootmode=40000,user_id=0,group_id=0"
    done = subprocess.run(
        ["mount", "-t", "fuse", "-o", options, "wk-hung", str(where)],
        pass_fds=(fuse,),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        os.close(fuse)
        pytest.skip(f"mount -t fuse not permitted here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        os.close(fuse)  # the kernel aborts the connection: the stuck statvfs returns ENOTCONN
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
    # busy leaves out idle, iowait and steal (steal has a finding of its own)
    parts = [cpu.evidence[k] for k in ("busy_pct", "idle_pct", "iowait_pct", "steal_pct")]
    assert all(isinstance(p, float | int) for p in parts)
    assert sum(float(p or 0) for p in parts) == pytest.approx(100.0, abs=0.05)
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
    total, available = memory.evidence["total_bytes"], memory.evidence["available_bytes"]
    assert isinstance(total, int) and isinstance(available, int) and 0 < available <= total
    assert isinstance(memory.evidence["swap_total_bytes"], int)

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
    assert disk.evidence["total_bytes"] == 2 * 1024 * 1024
    used_bytes, free_bytes = disk.evidence["used_bytes"], disk.evidence["free_bytes"]
    assert isinstance(used_bytes, int) and isinstance(free_bytes, int)
    assert used_bytes + free_bytes <= 2 * 1024 * 1024
    # the commands come after the prose, not inside it
    assert disk.recommendation.endswith("journalctl --vacuum-size=500M")


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


async def test_the_advisors_own_process_is_not_among_the_top_processes() -> None:
    settings = HostAdviceSettings(
        cpu_busy_pct=0, memory_available_warn_pct=100, top_processes=10**6
    )
    findings = await advise(settings=settings, sample_seconds=SAMPLE)
    tops = [
        str(value)
        for finding in findings
        for name, value in finding.evidence.items()
        if name.startswith(("top_cpu_", "top_rss_"))
    ]
    assert tops, "every process is listed"
    assert not [top for top in tops if top.startswith(f"{os.getpid()} ")]


def test_a_launcher_running_the_same_wk_command_is_recognised() -> None:
    child = _command(["/venv/bin/python", "/venv/bin/wk", "diagnose", "host"])
    assert child == ["wk", "diagnose", "host"]
    assert _command(["uv", "run", "wk", "diagnose", "host"]) == child
    assert _command(["python3", "-m", "watchkeeper", "diagnose", "host"]) == child
    assert _command(["uv", "run", "wk", "diagnose", "redis"]) != child
    assert _command(["/bin/bash"]) is None


def test_a_parent_running_the_same_wk_command_is_left_out(tmp_path: Path) -> None:
    """A real launcher: ``wk host-top`` that runs itself again as its child, the child
    being the one that advises."""
    script = tmp_path / "wk"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, json, os, subprocess, sys
            if not os.environ.get("WK_CHILD"):
                env = {**os.environ, "WK_CHILD": "1"}
                sys.exit(subprocess.run([sys.executable, *sys.argv], env=env).returncode)
            from watchkeeper.advisors.host import HostAdviceSettings, advise
            settings = HostAdviceSettings(cpu_busy_pct=0, top_processes=10**6)
            findings = asyncio.run(advise(settings=settings, sample_seconds=0.1))
            tops = [str(v) for f in findings for k, v in f.evidence.items() if k.startswith("top_")]
            print(json.dumps({"pid": os.getpid(), "parent": os.getppid(), "tops": tops}))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), "host-top"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    pids = {int(top.split()[0]) for top in seen["tops"]}
    assert pids, "every process is listed"
    assert seen["pid"] not in pids
    assert seen["parent"] not in pids
    assert os.getpid() in pids  # this pytest process runs another command: it stays


async def test_a_hung_mount_is_skipped_with_a_warning_and_the_rest_measured(
    hung_mount: Path, tmpfs: Mount
) -> None:
    healthy = tmpfs("size=1m")
    settings = HostAdviceSettings(
        mounts=(str(hung_mount), str(healthy)), mount_timeout_s=0.5, disk_warn_pct=0
    )
    findings = await advise(settings=settings, sample_seconds=SAMPLE)
    assert_shape(findings)
    (hung,) = [f for f in findings if f.subject == str(hung_mount)]
    assert hung.severity is Severity.warning
    assert "did not answer" in hung.title
    assert hung.evidence["timeout_s"] == 0.5
    assert "fuse" in str(hung.evidence["fstype"])
    assert hung.recommendation.endswith(f"umount -f -l {hung_mount}")
    # the healthy mount beside it was measured (disk_warn_pct=0: any use fires)
    (disk,) = [f for f in findings if f.subject == str(healthy)]
    assert disk.evidence["total_bytes"] == 1024 * 1024
    # a mount still hung from the run before is not asked again (no second stuck thread)
    again = await advise(settings=settings, sample_seconds=SAMPLE)
    assert [f.subject for f in again if "did not answer" in f.title] == [str(hung_mount)]
    stuck = [t for t in threading.enumerate() if t.name == f"wk-statvfs {hung_mount}"]
    assert len(stuck) == 1
