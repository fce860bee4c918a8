"""The connect scan against a loopback address of its own where the test opens known ports."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from tests.helpers.nginx import next_address

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.exposure import DEFAULT_PORTS, exposure, open_ports, scan_ports
from watchkeeper.findings import Severity

OPENED = (2375, 6379, 8080, 11211)


@pytest.fixture
def listening() -> Iterator[str]:
    """A fresh loopback address with OPENED listening on it (and nothing else)."""
    address = next_address()
    sockets = []
    try:
        for port in OPENED:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(16)
            sockets.append(sock)
        yield address
    finally:
        for sock in sockets:
            sock.close()


async def test_the_scan_reports_exactly_the_open_ports_with_their_severity(
    listening: str,
) -> None:
    findings = await scan_ports(listening)
    by_port = {f.evidence["port"]: f for f in findings}
    assert sorted(by_port) == list(OPENED)
    # a loopback address: one step below what a public one would get
    assert by_port[2375].severity == Severity.warning  # Docker API: critical if public
    assert by_port[6379].severity == Severity.warning
    assert by_port[11211].severity == Severity.warning
    assert by_port[8080].severity == Severity.info
    assert by_port[6379].rule == "port-6379-open"
    assert by_port[6379].subject == f"{listening}:6379"
    assert by_port[6379].evidence["scope"] == "loopback"
    assert "bind 127.0.0.1" in by_port[6379].recommendation
    assert "dockerd" in by_port[2375].recommendation


async def test_only_the_ports_asked_for_are_knocked_on(listening: str) -> None:
    assert await open_ports(listening, [6379, 5432]) == [6379]
    assert set(OPENED) <= set(DEFAULT_PORTS)


async def test_a_port_that_never_completes_the_handshake_counts_as_closed() -> None:
    # a listener whose accept queue is full: Linux drops further SYNs, the connect hangs
    address = next_address()
    full = socket.socket()
    full.bind((address, 9200))
    full.listen(0)
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((address, 9200))
            fillers.append(filler)
        await asyncio.sleep(0.1)
        found = await open_ports(address, [9200], wait=0.3)
    finally:
        for filler in fillers:
            filler.close()
        full.close()
    assert found == []


async def test_exposure_of_a_host_checks_the_databases_its_scan_finds() -> None:
    # the machine's Redis on 127.0.0.1:6379 has no password: the scan finds the port and
    # the database check that follows finds the missing password
    async with Fetcher(timeout=5) as fetch:
        findings = await exposure("127.0.0.1", fetch=fetch, ports=[6379])
    rules = {f.rule for f in findings}
    assert {"port-6379-open", "redis-no-password"} <= rules
