"""``icmp``: ping a host (echo requests, IPv4 or IPv6) and report loss and round-trip times.

    - {name: router, icmp: 192.168.1.1}
    - name: gateway
      icmp: {host: gw.example.com, count: 5, interval: 200ms, size: 1400}
      expect: ["icmp.loss_pct < 20", "icmp.rtt_avg < 30ms"]

Unprivileged ICMP datagram sockets are used where the kernel allows them (the process's group
is inside ``net.ipv4.ping_group_range``), raw sockets otherwise (root or CAP_NET_RAW). The
``count`` pings go ``interval`` apart; each reply may take ``wait``; the whole must fit in the
monitor's timeout (the config is refused when it does not). No reply is a loss, not an error:
the default expectation is ``icmp.loss_pct < 100``.

Phases: ``dns`` (for a name). Facts: ``icmp.sent``, ``icmp.received``, ``icmp.loss_pct``,
``icmp.rtt_min``, ``icmp.rtt_avg``, ``icmp.rtt_max`` (durations, when any reply came),
``icmp.address`` (the address pinged) and ``icmp.socket`` (``datagram`` or ``raw``). Its
``latency`` is the mean round trip (``icmp.rtt_avg``) when any reply came, else how long the
check waited.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import struct
import time
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from watchkeeper.checks._address import is_ip
from watchkeeper.checks._net import RUNTIME, describe_os_error, resolve
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.units import Duration, Size, format_duration

if TYPE_CHECKING:
    import asyncio

_ECHO = {socket.AF_INET: (8, 0), socket.AF_INET6: (128, 129)}
"""(request, reply) ICMP types by address family."""
_TOKEN = 8
"""Random bytes at the start of every payload: a reply must carry this run's."""
_MAX_SIZE = 8192
_READS_PER_WAKEUP = 64
"""Datagrams read per readiness callback (a raw socket sees every ICMP packet the host gets)."""


class IcmpSettings(CheckSettings):
    shorthand_field = "host"

    host: str
    count: int = Field(default=3, ge=1, le=100)
    interval: Duration = Field(default=1.0, ge=0.01)
    """Time between two echo requests."""
    wait: Duration = Field(default=1.0, gt=0)
    """How long after the last request its reply may come."""
    size: Size = Field(default=56, ge=0, le=_MAX_SIZE)
    """Payload bytes of each echo request (as ``ping -s``)."""

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        host = value.strip().strip("[]")
        if not host or "/" in host or " " in host or (":" in host and not is_ip(host)):
            raise ValueError(f"'{value}' is not a host name or IP address")
        return host

    def host_key(self) -> str:
        return f"icmp:{self.host}"

    def target(self) -> str:
        return self.host

    def timeout_problem(self, timeout: float) -> str | None:
        span = (self.count - 1) * self.interval + self.wait
        if span <= _budget(timeout):
            return None
        return (
            f"{self.count} pings {format_duration(self.interval)} apart and a "
            f"{format_duration(self.wait)} wait take {format_duration(span)}, more than the "
            f"timeout {format_duration(timeout)}"
        )


def _budget(timeout: float) -> float:
    """The part of a monitor's timeout the pings may use (the rest: leaving in time)."""
    return timeout - min(0.05, timeout / 10)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def open_socket(family: socket.AddressFamily) -> tuple[socket.socket, bool]:
    """A non-blocking ICMP socket: a datagram one where allowed, else a raw one; (socket,
    is_raw). Raises OSError (PermissionError when neither is allowed)."""
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        raw = False
    except OSError as first:
        if first.errno not in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT):
            raise
        try:
            sock = socket.socket(family, socket.SOCK_RAW, proto)
        except PermissionError:
            raise PermissionError(
                errno.EPERM,
                "ICMP not permitted: this process's group is outside net.ipv4.ping_group_range "
                "and it may not open raw sockets (root or CAP_NET_RAW)",
            ) from None
        raw = True
    sock.setblocking(False)
    return sock, raw


class Pinger:
    """Echo requests to one address over one socket; replies matched by identifier (raw
    sockets; the kernel does it for datagram ones), sequence and this run's random token."""

    def __init__(self, family: socket.AddressFamily, address: tuple[object, ...]) -> None:
        self.family = family
        self.address = address
        self.target = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        self.sock, self.raw = open_socket(family)
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.token = os.urandom(_TOKEN)
        self.sent_at: dict[int, float] = {}
        self.rtts: dict[int, float] = {}
        self.send_error: OSError | None = None
        self._all_in: asyncio.Event | None = None
        self._bufsize = 0

    def close(self) -> None:
        self.sock.close()

    def packet(self, seq: int, size: int) -> bytes:
        request, _ = _ECHO[self.family]
        payload = (self.token + seq.to_bytes(2, "big") * (size // 2 + 1))[:size]
        header = struct.pack("!BBHHH", request, 0, 0, self.ident, seq)
        if self.raw and self.family == socket.AF_INET:  # the kernel sums the others
            header = struct.pack("!BBHHH", request, 0, checksum(header + payload), self.ident, seq)
        return header + payload

    def _readable(self) -> None:
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, peer = self.sock.recvfrom(self._bufsize)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error queued on the socket: the ping is lost
                continue
            self._take(data, peer)

    def _take(self, data: bytes, peer: tuple[object, ...]) -> None:
        received = time.perf_counter()
        try:
            source = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
        except ValueError:
            return
        if source != self.target:
            return
        if self.raw and self.family == socket.AF_INET and data:  # raw IPv4: the IP header too
            data = data[(data[0] & 0x0F) * 4 :]
        if len(data) < 8:
            return
        kind, _code, _sum, ident, seq = struct.unpack("!BBHHH", data[:8])
        if kind != _ECHO[self.family][1] or (self.raw and ident != self.ident):
            return
        payload = data[8:]
        if not self.token.startswith(payload[:_TOKEN]):  # short payloads carry part of it
            return
        if seq in self.sent_at and seq not in self.rtts:
            self.rtts[seq] = received - self.sent_at[seq]
            if self._all_in is not None and len(self.rtts) == len(self.sent_at):
                self._all_in.set()

    async def run(
        self, count: int, interval: float, size: int, wait: float, deadline: float
    ) -> None:
        """Send ``count`` requests ``interval`` apart and wait up to ``wait`` for the last
        reply, never past ``deadline`` (``time.perf_counter``: a slow DNS answer took some
        of the timeout)."""
        import asyncio

        loop = asyncio.get_running_loop()
        self._all_in = asyncio.Event()
        self._bufsize = size + 8 + 60 + 64  # ICMP header, largest IPv4 header, slack
        loop.add_reader(self.sock.fileno(), self._readable)
        try:
            first = loop.time()
            for seq in range(count):
                if seq:
                    await asyncio.sleep(max(0.0, first + seq * interval - loop.time()))
                if time.perf_counter() >= deadline:
                    break
                packet = self.packet(seq, size)
                sent = time.perf_counter()
                try:
                    self.sock.sendto(packet, self.address)
                except OSError as exc:  # no route, buffer full: not sent
                    self.send_error = exc
                    continue
                self.sent_at[seq] = sent
            if self.sent_at and len(self.rtts) < len(self.sent_at):
                self._all_in.clear()
                last = max(self.sent_at.values())
                left = min(last + wait, deadline) - time.perf_counter()
                if left > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._all_in.wait(), left)
        finally:
            loop.remove_reader(self.sock.fileno())


async def probe(settings: IcmpSettings, attempt: Attempt) -> None:
    deadline = time.perf_counter() + _budget(attempt.timeout)
    problem = settings.timeout_problem(attempt.timeout)  # the config loader said so too
    if problem is not None:
        attempt.fail(problem)
        return
    try:
        family, address = (await resolve(settings.host, 0, attempt))[0]
    except OSError as exc:
        attempt.fail(describe_os_error(exc))
        return
    try:
        pinger = Pinger(family, address)
    except OSError as exc:
        denied = isinstance(exc, PermissionError) and exc.strerror
        attempt.fail(exc.strerror if denied and exc.strerror else describe_os_error(exc))
        return
    try:
        await pinger.run(settings.count, settings.interval, settings.size, settings.wait, deadline)
    finally:
        pinger.close()
    facts = attempt.observation.facts
    sent, received = len(pinger.sent_at), len(pinger.rtts)
    if not sent and pinger.send_error is not None:
        attempt.fail(f"{describe_os_error(pinger.send_error)} ({address[0]})")
        return
    facts["icmp.address"] = str(address[0])
    facts["icmp.socket"] = "raw" if pinger.raw else "datagram"
    facts["icmp.sent"] = sent
    facts["icmp.received"] = received
    loss = round(100.0 * (sent - received) / sent, 2) if sent else 100.0
    facts["icmp.loss_pct"] = int(loss) if loss.is_integer() else loss
    if received:
        rtts = sorted(pinger.rtts.values())
        facts["icmp.rtt_min"] = rtts[0]
        facts["icmp.rtt_avg"] = sum(rtts) / received
        facts["icmp.rtt_max"] = rtts[-1]
        # its latency is the mean round trip, not the time the pings were spread over
        attempt.observation.phases.total = facts["icmp.rtt_avg"]


CHECK = CheckKind(
    name="icmp",
    settings=IcmpSettings,
    subjects={
        "dns": ValueType.DURATION,
        "icmp.sent": ValueType.NUMBER,
        "icmp.received": ValueType.NUMBER,
        "icmp.loss_pct": ValueType.NUMBER,
        "icmp.rtt_min": ValueType.DURATION,
        "icmp.rtt_avg": ValueType.DURATION,
        "icmp.rtt_max": ValueType.DURATION,
        "icmp.address": ValueType.TEXT,
        "icmp.socket": ValueType.TEXT,
    },
    probe=probe,
    default_expect=("icmp.loss_pct < 100",),
    runtime=RUNTIME,
)
