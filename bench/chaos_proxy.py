"""Fault proxy pass-through cost: ``wk chaos proxy`` with no toxic, against a direct connection
to the same server in the same run.

    python bench/chaos_proxy.py [--rounds 5] [--pings 2000] [--megabytes 200]

``wk chaos proxy`` runs in its own process pinned to core 0 (one core, uvloop); the server (an
echo for ping-pong, a sink for the bulk stream) and this client share core 1. A bare uvloop
forwarder (30 lines, no toxics, no flow control) on core 0 too gives the floor: what any
proxy process costs here. Each round measures the three paths in turn:

- latency: a 64-byte ping-pong on one connection, ``--pings`` times: p50 and p99 round trip;
- throughput: ``--megabytes`` sent on one connection to the sink, until it acknowledges the
  last byte (MB/s, 1 MB = 10^6 bytes).

It prints the medians over the rounds, the added p50 latency and the proxied/direct ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import pin

PING = 64
BLOCK = 256 * 1024


class _Serve(asyncio.Protocol):
    """The first byte says what the connection is: ``E`` echo, ``S`` sink (count to EOF,
    then answer the count)."""

    def __init__(self) -> None:
        self.mode = b""
        self.count = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if not self.mode:
            self.mode, data = data[:1], data[1:]
        if self.mode == b"E":
            self.transport.write(data)
        else:
            self.count += len(data)

    def eof_received(self) -> bool:
        assert self.transport is not None
        if self.mode == b"S":
            self.transport.write(f"{self.count}\n".encode())
        self.transport.close()
        return True


class _Relay(asyncio.Protocol):
    """The floor: a bare uvloop forwarder (no toxics, no flow control, no API), to tell the
    cost of a process hop from the cost of the fault proxy's code."""

    dialling: ClassVar[set[asyncio.Task[None]]] = set()

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream  # 0 for the side that dialled the upstream
        self.peer: _Relay | None = None
        self.transport: Any = None
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self.upstream:
            task = asyncio.ensure_future(self._dial())
            self.dialling.add(task)
            task.add_done_callback(self.dialling.discard)

    async def _dial(self) -> None:
        loop = asyncio.get_running_loop()
        _, other = await loop.create_connection(lambda: _Relay(0), "127.0.0.1", self.upstream)
        other.peer, self.peer = self, other
        for data in self.early:
            other.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.early.append(data)
        else:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        if self.peer is not None:
            self.peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.transport.close()


async def _bare(upstream: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Relay(upstream), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


async def _server() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def _connect(port: int, mode: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(mode)
    return sock


def _pings(port: int, count: int) -> list[float]:
    payload = b"p" * PING
    rounds = []
    with _connect(port, b"E") as sock:
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(payload)
            got = 0
            while got < PING:
                got += len(sock.recv(65536))
            rounds.append(time.perf_counter() - started)
    return rounds


def _bulk(port: int, megabytes: int) -> float:
    total = megabytes * 1_000_000
    block = b"b" * BLOCK
    with _connect(port, b"S") as sock:
        started = time.perf_counter()
        sent = 0
        while sent < total:
            piece = block[: min(BLOCK, total - sent)]
            sock.sendall(piece)
            sent += len(piece)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(100):
            answer += chunk
        elapsed = time.perf_counter() - started
    assert int(answer) == total, answer
    return total / elapsed / 1e6


def _api(url: str, path: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, object] = json.load(response)
        return answer


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve or args.bare:
        import uvloop

        pin(0 if args.bare else 1)
        uvloop.run(_bare(args.bare) if args.bare else _server())
        return

    pin(1)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    proxy = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "chaos", "proxy", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    processes = [proxy, server]
    try:
        assert server.stdout is not None and proxy.stdout is not None
        target = int(server.stdout.readline())
        bare = subprocess.Popen(
            [sys.executable, __file__, "--bare", str(target)], stdout=subprocess.PIPE, text=True
        )
        processes.append(bare)
        assert bare.stdout is not None
        floor = int(bare.stdout.readline())
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(proxy.pid, {0})
        found = re.search(r"http://\S+", proxy.stdout.readline())
        assert found, "wk chaos proxy did not start"
        body = {"name": "bench", "upstream": f"127.0.0.1:{target}"}
        created = _api(found.group(0), "/proxies", body)
        through = int(str(created["listen"]).rpartition(":")[2])
        _run(args, {"direct": target, "bare": floor, "proxied": through})
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


def _run(args: argparse.Namespace, ports: dict[str, int]) -> None:
    for port in ports.values():  # warm up every path
        _pings(port, 200)
    p50: dict[str, list[float]] = {side: [] for side in ports}
    p99: dict[str, list[float]] = {side: [] for side in ports}
    rate: dict[str, list[float]] = {side: [] for side in ports}
    for number in range(1, args.rounds + 1):
        for side, port in ports.items():
            rounds = _pings(port, args.pings)
            p50[side].append(_percentile(rounds, 0.50) * 1e6)
            p99[side].append(_percentile(rounds, 0.99) * 1e6)
            rate[side].append(_bulk(port, args.megabytes))
        print(
            f"round {number}: p50 "
            + " / ".join(f"{p50[side][-1]:.0f}" for side in ports)
            + " µs  p99 "
            + " / ".join(f"{p99[side][-1]:.0f}" for side in ports)
            + " µs  throughput "
            + " / ".join(f"{rate[side][-1]:.0f}" for side in ports)
            + " MB/s  (direct / bare forwarder / wk chaos proxy)",
            flush=True,
        )
    median = statistics.median
    print()
    print(
        f"{'':24}{'direct':>10}{'bare fwd':>10}{'proxy':>10}{'proxy/direct':>14}{'proxy/bare':>12}"
    )
    for label, figures in (
        ("round trip p50 (µs)", p50),
        ("round trip p99 (µs)", p99),
        ("throughput (MB/s)", rate),
    ):
        direct, bare, proxied = (median(figures[side]) for side in ("direct", "bare", "proxied"))
        print(
            f"{label:24}{direct:10.0f}{bare:10.0f}{proxied:10.0f}"
            f"{proxied / direct:14.2f}{proxied / bare:12.2f}"
        )
    added = median(p50["proxied"]) - median(p50["direct"])
    floor = median(p50["bare"]) - median(p50["direct"])
    print(
        f"\nadded p50 latency: {added:.0f} µs per round trip (two proxy passes); "
        f"a bare forwarder in the same place adds {floor:.0f} µs"
    )
    print(f"rounds: {args.rounds}, {args.pings} pings and {args.megabytes} MB per path and round")


if __name__ == "__main__":
    main()
