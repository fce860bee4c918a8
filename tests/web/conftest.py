"""Fixtures for the web tests: a probe target to watch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.helpers.web_app import ProbeTargetServer


@pytest.fixture
async def web() -> AsyncIterator[ProbeTargetServer]:
    async with ProbeTargetServer() as server:
        yield server
