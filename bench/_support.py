"""Shared bench plumbing: start the target in its own process, pin to a core, summarise."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
