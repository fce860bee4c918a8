"""Fixtures for whole-program tests: real servers in the test process, ``wk`` as a subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.helpers import faults
from tests.helpers.certs import CertificateSet
from tests.helpers.dns_server import DnsServer
from tests.helpers.servers import RawServer
from tests.helpers.web_app import ProbeTargetServer


@pytest.fixture
async def web() -> AsyncIterator[ProbeTargetServer]:
    async with ProbeTargetServer() as server:
        yield server


@pytest.fixture
async def https(certificates: CertificateSet) -> AsyncIterator[ProbeTargetServer]:
    async with ProbeTargetServer(ssl_context=certificates.valid.server_context()) as server:
        yield server


@pytest.fixture
async def smtp() -> AsyncIterator[RawServer]:
    async with RawServer(faults.banner(b"220 mail.test ESMTP ready\r\n")) as server:
        yield server


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    zone = {"www.example.test.": {"A": ["192.0.2.10", "192.0.2.11"]}}
    async with DnsServer(zone) as server:
        yield server


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
