"""Fixtures for the web tests: a probe target to watch, a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser
from tests.helpers.browser import chromium
from tests.helpers.web_app import ProbeTargetServer


@pytest.fixture
async def web() -> AsyncIterator[ProbeTargetServer]:
    async with ProbeTargetServer() as server:
        yield server


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched
