"""Fixtures for the engine tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

RunOnLoop = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run_on_loop(request: pytest.FixtureRequest) -> RunOnLoop:
    """``run_on_loop(scenario())``: run a coroutine on asyncio's own loop, and again on uvloop,
    the loop ``wk up`` runs on (for a sync test; async tests run on the default loop)."""
    if request.param == "uvloop":
        return uvloop.run
    return asyncio.run
