"""Shared bench plumbing: start the target in its own process, pin to a core, summarise."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@contextlib.contextmanager
def target_server(cpu: int = 1) -> Iterator[int]:
    """Run bench/target.py on ``cpu``; yield its port."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "target.py"), "--cpu", str(cpu)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield port
    finally:
        process.terminate()
        process.wait(5)


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):,.0f}  (min {min(values):,.0f}, "
        f"max {max(values):,.0f}, n={len(values)})"
    )


NEWER_KEYS = (
    (r"\n *server: \{trusted_proxies: \[[^\]]*\]\}", ""),
    (r", ping_burst: \d+, ping_rate: \d+", ""),
)
"""Keys a bench's config uses that older checkouts do not know, and how to drop them."""


def write_config(path: Path, text: str) -> bool:
    """Write a bench's config; for an older checkout (``PYTHONPATH=old/src``) that refuses a
    key added since, write it without those keys. True when the keys were kept."""
    import re

    path.write_text(text)
    validate = [sys.executable, "-m", "watchkeeper", "validate", "-c", str(path)]
    if subprocess.run(validate, capture_output=True, check=False).returncode == 0:
        return True
    for pattern, replacement in NEWER_KEYS:
        text = re.sub(pattern, replacement, text)
    path.write_text(text)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, interpolated between the two nearest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def probe(
    url: str,
    paths: dict[str, str],
    seconds: float,
    *,
    rate: float = 20.0,
    headers: dict[str, str] | None = None,
) -> tuple[dict[str, list[float]], int]:
    """Each of ``paths`` (name → path) asked ``rate`` times a second for ``seconds``, on
    schedule whatever the answers (an open model: a one-at-a-time probe would count a 3 s
    stall as one slow sample, not the 60 it held up). Latencies in ms from when each request
    was due, by name; and how many failed (an error or an answer other than 200)."""
    import asyncio

    import aiohttp

    loop = asyncio.get_running_loop()
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    failed = 0

    async def one(session: aiohttp.ClientSession, name: str, path: str, due: float) -> None:
        nonlocal failed
        try:
            async with session.get(url + path) as answer:
                await answer.read()
                failed += answer.status != 200
        except (aiohttp.ClientError, TimeoutError):
            failed += 1
        latencies[name].append((loop.time() - due) * 1000)

    connector = aiohttp.TCPConnector(limit=200)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        headers=headers, connector=connector, timeout=timeout
    ) as session:
        start = loop.time()
        tasks = []
        for i in range(int(seconds * rate)):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            tasks += [
                asyncio.create_task(one(session, name, path, due)) for name, path in paths.items()
            ]
        await asyncio.gather(*tasks)
    return latencies, failed


async def wk(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    """Run a ``wk`` command in ``cwd``; its standard output (exit with its error if it fails)."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "watchkeeper",
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    if process.returncode != 0:
        raise SystemExit(f"wk {' '.join(args)} failed: {err.decode()}")
    return out.decode()


async def wk_up(cwd: Path) -> tuple[Any, str]:
    """``wk up`` on a free port in ``cwd``, once /healthz answers: (the process, its URL)."""
    import asyncio

    import aiohttp

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "watchkeeper", "up", "--listen", f"127.0.0.1:{port}"),
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url + "/healthz") as answer:
                    if answer.status == 200:
                        return server, url
            await asyncio.sleep(0.1)
    server.kill()
    raise SystemExit("wk up did not answer within 30 s")
