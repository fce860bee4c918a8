"""Fault proxy pass-through cost: ``wk chaos proxy`` with no toxic, against a direct connection
to the same server in the same run.

    python bench/chaos_proxy.py [--rounds 5] [--pings 2000] [--megabytes 200]

``wk chaos proxy`` runs in its own process pinned to core 0 (one core, uvloop); the server (an
echo for ping-pong, a sink for the bulk stream) and this client share core 1. Each round
measures both paths, alternating:

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
    args = parser.parse_args()
    if args.serve:
        pin(1)
        import uvloop

        uvloop.run(_server())
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
    try:
        assert server.stdout is not None and proxy.stdout is not None
        target = int(server.stdout.readline())
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(proxy.pid, {0})
        found = re.search(r"http://\S+", proxy.stdout.readline())
        assert found, "wk chaos proxy did not start"
        body = {"name": "bench", "upstream": f"127.0.0.1:{target}"}
        created = _api(found.group(0), "/proxies", body)
        through = int(str(created["listen"]).rpartition(":")[2])
        _run(args, target, through)
    finally:
        for process in (proxy, server):
            process.terminate()
            process.wait(10)


def _run(args: argparse.Namespace, direct: int, proxied: int) -> None:
    for port in (direct, proxied):  # warm up both paths
        _pings(port, 200)
    p50: dict[str, list[float]] = {"direct": [], "proxied": []}
    p99: dict[str, list[float]] = {"direct": [], "proxied": []}
    rate: dict[str, list[float]] = {"direct": [], "proxied": []}
    for number in range(1, args.rounds + 1):
        for side, port in (("direct", direct), ("proxied", proxied)):
            rounds = _pings(port, args.pings)
            p50[side].append(_percentile(rounds, 0.50) * 1e6)
            p99[side].append(_percentile(rounds, 0.99) * 1e6)
            rate[side].append(_bulk(port, args.megabytes))
        print(
            f"round {number}: p50 {p50['direct'][-1]:6.0f} / {p50['proxied'][-1]:6.0f} µs  "
            f"p99 {p99['direct'][-1]:6.0f} / {p99['proxied'][-1]:6.0f} µs  "
            f"throughput {rate['direct'][-1]:7.0f} / {rate['proxied'][-1]:7.0f} MB/s "
            "(direct / proxied)",
            flush=True,
        )
    median = statistics.median
    print()
    print(f"{'':24}{'direct':>10}{'proxied':>10}{'ratio':>8}")
    for label, figures in (
        ("round trip p50 (µs)", p50),
        ("round trip p99 (µs)", p99),
        ("throughput (MB/s)", rate),
    ):
        direct_value, proxied_value = median(figures["direct"]), median(figures["proxied"])
        print(
            f"{label:24}{direct_value:10.0f}{proxied_value:10.0f}"
            f"{proxied_value / direct_value:8.2f}"
        )
    added = median(p50["proxied"]) - median(p50["direct"])
    print(f"\nadded p50 latency: {added:.0f} µs per round trip (two proxy passes)")
    print(f"rounds: {args.rounds}, {args.pings} pings and {args.megabytes} MB per side and round")


if __name__ == "__main__":
    main()
