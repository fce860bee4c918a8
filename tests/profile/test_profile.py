"""``wk profile`` and ``wk diagnose --profile``: the real py-spy sampling real Python processes
with a known hot function, and its failures (not Python, no process, ptrace refused) as one
line each."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.helpers.cli import WK, wk

from watchkeeper.profile import flame, speedscope
from watchkeeper.profile.stacks import StacksError, parse

HOT = textwrap.dedent(
    """
    import time

    def burn_cpu():
        x = 0
        for i in range(300_000):
            x += i * i
        return x

    def idle():
        time.sleep(0.002)

    def handle():
        burn_cpu()
        idle()

    while True:
        handle()
    """
)


@pytest.fixture
async def hot(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    script = tmp_path / "hot_app.py"
    script.write_text(HOT)
    process = await asyncio.create_subprocess_exec(sys.executable, str(script))
    try:
        await asyncio.sleep(0.3)  # past the interpreter's start-up
        yield process.pid, script
    finally:
        process.kill()
        await process.wait()


def test_collapsed_stacks_give_self_and_total_time() -> None:
    profile = parse("main;a;b 6\nmain;a 2\nmain;c;a;a 2\n\n")
    assert profile.samples == 10
    assert profile.self_time() == {"b": 6, "a": 4}
    total = profile.total_time()
    assert total["main"] == 10 and total["a"] == 10  # recursion counts a sample once
    assert total["b"] == 6 and total["c"] == 2
    with pytest.raises(StacksError, match="line 2"):
        parse("main;a 3\nmain;a three\n")


def test_the_flame_graph_is_proportional_and_escaped_and_speedscope_is_whole() -> None:
    profile = parse(
        "<module> (app.py:1);render (<b>&x.py:3) 75\n<module> (app.py:1);io (y.py:9) 25\n"
    )
    tree = ET.fromstring(flame.svg(profile, "wk profile test"))
    boxes = {
        group.findtext("{http://www.w3.org/2000/svg}title", "").split(" — ")[0]: float(
            group.find("{http://www.w3.org/2000/svg}rect").get("width", "0")  # type: ignore[union-attr]
        )
        for group in tree.iter("{http://www.w3.org/2000/svg}g")
    }
    assert set(boxes) == {"all", "<module> (app.py:1)", "render (<b>&x.py:3)", "io (y.py:9)"}
    assert boxes["render (<b>&x.py:3)"] / boxes["io (y.py:9)"] == pytest.approx(3, rel=0.02)
    document = speedscope.document(profile, "test")
    frames = document["shared"]["frames"]
    assert {"name": "render", "file": "<b>&x.py", "line": 3} in frames
    (sampled,) = document["profiles"]
    assert sampled["type"] == "sampled" and sum(sampled["weights"]) == 100
    assert len(sampled["samples"]) == len(sampled["weights"])
    assert all(0 <= i < len(frames) for row in sampled["samples"] for i in row)


async def test_profiling_a_running_process_names_its_hot_function(
    hot: tuple[int, Path], tmp_path: Path
) -> None:
    pid, _ = hot
    out = tmp_path / "out"
    out.mkdir()
    done = await wk("profile", str(pid), "-d", "2s", "-o", str(out), "--format", "json")
    assert done.code == 1, done.stderr  # one function takes most of the time: a warning
    report = done.json()
    top = report["profile"]["top_self"][0]
    assert top["frame"].startswith("burn_cpu (hot_app.py:"), report["profile"]["top_self"]
    assert top["share"] > 0.5
    totals = {t["frame"].split(" ")[0]: t["share"] for t in report["profile"]["top_total"]}
    assert totals["handle"] >= totals["burn_cpu"]  # the caller holds what it calls
    (found,) = report["findings"]
    assert found["source"] == "profile" and "burn_cpu" in found["title"]
    svg = (out / f"profile-{pid}.svg").read_text()
    assert "burn_cpu (hot_app.py:" in svg
    ET.fromstring(svg)
    scope = json.loads((out / f"profile-{pid}.speedscope.json").read_text())
    assert any(f["name"] == "burn_cpu" for f in scope["shared"]["frames"])


async def test_profiling_a_command_it_starts(tmp_path: Path) -> None:
    script = tmp_path / "hot_app.py"
    script.write_text(HOT)
    done = await wk("profile", "-d", "2s", "-o", str(tmp_path), "--", sys.executable, str(script))
    assert done.code == 1, done.stderr
    assert "burn_cpu (hot_app.py:" in done.stdout
    assert (tmp_path / "profile-hot_app.py.svg").exists()


async def test_diagnose_adds_the_profile_of_a_process(
    hot: tuple[int, Path], tmp_path: Path
) -> None:
    pid, _ = hot
    done = await wk(
        "diagnose",
        "--profile",
        str(pid),
        "--profile-duration",
        "2s",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert done.code == 1, done.stderr
    findings = done.json()["findings"]
    assert findings[0]["source"] == "profile" and "burn_cpu" in findings[0]["title"]


async def test_what_cannot_be_profiled_is_one_line(tmp_path: Path) -> None:
    sleeper = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        done = await wk("profile", str(sleeper.pid), "-d", "1s", "-o", str(tmp_path))
    finally:
        sleeper.kill()
        await sleeper.wait()
    assert done.code == 2
    assert done.stderr.strip().splitlines() == [
        f"process {sleeper.pid} is not a Python program (no Python interpreter found in its memory)"
    ]
    gone = await wk("profile", "999999999", "-d", "1s", "-o", str(tmp_path))
    assert gone.code == 2
    assert gone.stderr.strip().splitlines() == ["no process 999999999 (it is not running)"]
    bad = await wk("profile", "1", "-d", "soon")
    assert bad.code == 2 and bad.stderr.strip().startswith("--duration:")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another user")
async def test_ptrace_refused_says_what_to_do(hot: tuple[int, Path]) -> None:
    """wk profile run as nobody against root's process: the kernel refuses ptrace."""
    pid, _ = hot
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is part of every Debian"
    # a folder of its own that nobody can enter (pytest's tmp_path sits in root's 0700 one)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        os.chmod(folder, 0o777)
        err = await _as_nobody(setpriv, pid, out)
    (line,) = err.strip().splitlines()
    assert line.startswith(f"cannot read process {pid}: ptrace is not permitted"), line


async def _as_nobody(setpriv: str, pid: int, out: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        setpriv,
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        *WK,
        "profile",
        str(pid),
        "-d",
        "1s",
        "-o",
        str(out),
        cwd=out,
        env={**os.environ, "HOME": str(out)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, err.decode()
    return err.decode()
