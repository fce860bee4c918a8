"""The icmp check: echo requests to loopback (IPv4 and IPv6) and to network namespaces the
tests make (see tests/helpers/netns.py: joined to the machine by one veth pair, no route
out), so no ping ever leaves the machine.

The kernel setting that decides between datagram and raw sockets
(``net.ipv4.ping_group_range``) is per network namespace: the tests that need one or the
other run ``wk check`` inside a namespace of their own with it set, the machine's own
setting untouched. The tests run as root (as the agents' tests do: namespaces need it);
one drops to ``nobody`` to see the refusal a user without either permission gets."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.netns import Namespace

from watchkeeper.checks.icmp import Pinger, checksum
from watchkeeper.errors import ConfigError


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    made = Namespace().create()
    try:
        yield made
    finally:
        made.destroy()


def sysctl(namespace: Namespace, setting: str) -> None:
    """``name=value`` set inside ``namespace`` only (``/proc/sys/net`` is per namespace;
    written directly: procps's sysctl is not on every Debian machine)."""
    name, value = setting.split("=", 1)
    path = "/proc/sys/" + name.replace(".", "/")
    subprocess.run(
        namespace.command("sh", "-c", f'echo "{value}" > {path}'), check=True, timeout=10
    )


def wk_check_inside(namespace: Namespace, config: str, *, user: str | None = None) -> dict:
    """``wk check --json`` run inside ``namespace`` (as the user and group id ``user`` if given:
    65534 is ``nobody``/``nogroup`` on Debian) on one monitor."""
    folder = Path(tempfile.mkdtemp(prefix="wk-icmp-"))
    try:
        folder.chmod(0o755)
        path = folder / "watchkeeper.yaml"
        path.write_text(textwrap.dedent(config))
        path.chmod(0o644)
        drop = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
        done = subprocess.run(
            namespace.command(
                *drop, sys.executable, "-m", "watchkeeper", "check", "--json", "-c", str(path)
            ),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=folder,
        )
    finally:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
    assert done.returncode in (0, 1), done.stderr
    (result,) = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


async def test_it_pings_loopback_and_reports_loss_and_round_trips(check):
    result = await check("""
        monitors:
          - name: lo
            icmp: {host: 127.0.0.1, interval: 50ms, wait: 2s}
            timeout: 5s
            expect: ["icmp.address == '127.0.0.1'", "icmp.rtt_max < 2s"]
        """)
    assert result.ok, result.reason
    metrics = result.metrics
    assert (metrics["icmp.sent"], metrics["icmp.received"], metrics["icmp.loss_pct"]) == (3, 3, 0)
    assert 0 < metrics["icmp.rtt_min"] <= metrics["icmp.rtt_avg"] <= metrics["icmp.rtt_max"]
    assert result.latency == metrics["icmp.rtt_avg"]  # not the time the pings took
    assert result.phases.dns is None


async def test_it_pings_ipv6_loopback_with_large_payloads(check):
    result = await check("""
        monitors:
          - name: lo6
            icmp: {host: "::1", count: 5, interval: 20ms, size: 4000, wait: 2s}
            timeout: 5s
            expect: ["icmp.received == 5"]
        """)
    assert result.ok, result.reason
    assert result.metrics["icmp.loss_pct"] == 0


async def test_it_resolves_a_host_name_in_the_dns_phase(check):
    result = await check("""
        monitors:
          - name: lo-name
            icmp: {host: localhost, count: 1, wait: 2s}
            timeout: 5s
        """)
    assert result.ok, result.reason
    assert result.phases.dns is not None
    assert result.metrics["icmp.received"] == 1


async def test_it_pings_an_address_inside_a_network_namespace(check, namespace):
    result = await check(f"""
        monitors:
          - name: inside
            icmp: {{host: {namespace.inside}, count: 4, interval: 50ms, wait: 2s}}
            timeout: 5s
        """)
    assert result.ok, result.reason
    assert (result.metrics["icmp.sent"], result.metrics["icmp.received"]) == (4, 4)


async def test_a_host_that_never_replies_is_full_loss_within_the_timeout(check, namespace):
    sysctl(namespace, "net.ipv4.icmp_echo_ignore_all=1")
    result = await check(f"""
        monitors:
          - name: silent
            icmp: {{host: {namespace.inside}, count: 3, interval: 50ms, wait: 300ms}}
            timeout: 2s
        """)
    assert not result.ok
    assert result.error is None
    assert result.failures == ["icmp.loss_pct 100, expected < 100"]
    assert (result.metrics["icmp.sent"], result.metrics["icmp.received"]) == (3, 0)
    assert "icmp.rtt_avg" not in result.metrics
    assert result.latency is not None and result.latency < 2


def test_pings_that_cannot_fit_in_the_timeout_are_a_config_error(monitors):
    with pytest.raises(ConfigError) as raised:
        monitors("""
            monitors:
              - name: too-many
                icmp: {host: 127.0.0.1, count: 10, interval: 1s}
                timeout: 3s
            """)
    assert str(raised.value).splitlines() == [
        "test.yaml:4: monitor 'too-many': 10 pings 1s apart and a 1s wait take 10s,"
        " more than the timeout 3s"
    ]
    monitors("""
        monitors:
          - {name: fits, icmp: {host: 127.0.0.1, count: 10, interval: 200ms}, timeout: 3s}
        """)


def test_it_uses_unprivileged_datagram_sockets_where_the_kernel_allows_them(namespace):
    sysctl(namespace, "net.ipv4.ping_group_range=0 2147483647")
    for host in ("127.0.0.1", "::1", namespace.host):
        result = wk_check_inside(
            namespace,
            f"""
            monitors:
              - name: dgram
                icmp: {{host: "{host}", count: 2, interval: 50ms, wait: 2s}}
                timeout: 5s
                expect: ["icmp.socket == 'datagram'", "icmp.received == 2"]
            """,
            user="65534",
        )
        assert result["ok"], (host, result)


def test_it_uses_raw_sockets_as_root_where_datagram_ones_are_not_allowed(namespace):
    sysctl(namespace, "net.ipv4.ping_group_range=1 0")
    result = wk_check_inside(
        namespace,
        f"""
        monitors:
          - name: raw
            icmp: {{host: {namespace.host}, count: 2, interval: 50ms, wait: 2s}}
            timeout: 5s
            expect: ["icmp.socket == 'raw'", "icmp.received == 2"]
        """,
    )
    assert result["ok"], result


def test_without_either_permission_it_says_so_in_one_line(namespace):
    sysctl(namespace, "net.ipv4.ping_group_range=1 0")
    result = wk_check_inside(
        namespace,
        """
        monitors:
          - {name: refused, icmp: 127.0.0.1, timeout: 5s}
        """,
        user="65534",
    )
    assert not result["ok"]
    assert result["error"] == (
        "ICMP not permitted: this process's group is outside net.ipv4.ping_group_range"
        " and it may not open raw sockets (root or CAP_NET_RAW)"
    )


def test_an_address_with_no_route_is_an_error_not_a_loss(namespace):
    # inside the namespace nothing lies beyond its /30: there is no route to send on
    result = wk_check_inside(
        namespace,
        """
        monitors:
          - {name: nowhere, icmp: 192.0.2.1, timeout: 5s}
        """,
    )
    assert not result["ok"]
    assert result["error"] == "network unreachable (192.0.2.1)"


def test_a_bad_host_is_a_config_error(monitors):
    with pytest.raises(Exception, match="is not a host name or IP address"):
        monitors("""
            monitors:
              - {name: bad, icmp: "http://example.com/"}
            """)


def test_the_checksum_is_rfc_1071s():
    # RFC 1071's worked example (section 3): the sum of 0001 f203 f4f5 f6f7 is ddf2
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == ~0xDDF2 & 0xFFFF
    assert checksum(b"\x45") == ~0x4500 & 0xFFFF  # an odd length is padded with a zero


async def test_the_pings_never_run_past_the_deadline_the_probe_gives_them():
    # the probe's deadline is its timeout less what DNS took: past it nothing more is sent
    # and no reply is awaited
    pinger = Pinger(socket.AF_INET, ("127.0.0.1", 0))
    try:
        await pinger.run(3, 0.01, 56, 60.0, deadline=time.perf_counter())
    finally:
        pinger.close()
    assert (pinger.sent_at, pinger.rtts) == ({}, {})

    pinger = Pinger(socket.AF_INET, ("127.0.0.1", 0))
    try:
        await pinger.run(3, 0.01, 56, 60.0, deadline=time.perf_counter() + 60)
    finally:
        pinger.close()
    assert sorted(pinger.rtts) == [0, 1, 2]
