"""Linear time, measured without a clock: the number of Python lines our parsers execute for an
input of size n and of size k·n must grow about k-fold. Deterministic (same input, same count),
so a test can fail on an accidental quadratic loop and never on a slow machine. Work done in C
(``str.split``, ``sort``) is not counted: tests pair this with inputs large enough that a
quadratic C step would not finish within the test timeout."""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import pairwise
from types import FrameType
from typing import Any

PACKAGE = "watchkeeper/audit/observatory"


def line_events(work: Callable[[], Any]) -> int:
    """Lines of the observatory package executed by ``work()``."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if PACKAGE in frame.f_code.co_filename.replace("\\", "/"):
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(previous)
    return count


def assert_linear(work: Callable[[int], Any], sizes: list[int], *, slack: float = 1.3) -> None:
    """Each step from ``sizes[i]`` to ``sizes[i+1]`` costs at most ``slack`` times the size
    ratio more lines."""
    counts = [line_events(lambda size=size: work(size)) for size in sizes]
    for (small, large), (cost_small, cost_large) in zip(
        pairwise(sizes), pairwise(counts), strict=True
    ):
        growth = cost_large / max(cost_small, 1)
        allowed = slack * large / small
        assert growth <= allowed, (
            f"size {small} -> {large}: lines executed {cost_small} -> {cost_large} "
            f"({growth:.2f}x, linear allows {allowed:.2f}x)"
        )
