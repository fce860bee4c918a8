"""snmp checks against Debian's snmpd, started on a free UDP port with a config of the test's
own (a v2c community, a v3 user with SHA + AES, one with SHA-256 and no privacy), and a UDP
port that never answers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from tests.helpers.ports import free_port

from watchkeeper.model import Result

Check = Callable[[str], Awaitable[Result]]
COMMUNITY = "wk-community"


def _free_udp_port() -> int:
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


class PrivateSnmpd:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
        self.port = _free_udp_port()
        (directory / "state").mkdir()
        config = directory / "snmpd.conf"
        config.write_text(
            f"[snmp] persistentDir {directory / 'state'}\n"
            f"agentAddress udp:127.0.0.1:{self.port}\n"
            f"rocommunity {COMMUNITY} 127.0.0.1\n"
            'createUser wkpriv SHA "auth-pass-123" AES "priv-pass-123"\n'
            'createUser wkauth SHA-256 "auth-pass-456"\n'
            "rouser wkpriv priv\nrouser wkauth auth\n"
            "sysLocation wk-test-lab\nsysContact ops@example.test\n"
        )
        self.log = directory / "snmpd.log"
        self.process = subprocess.Popen(
            [
                binary,
                "-f",
                "-C",
                "-c",
                str(config),
                "-Lf",
                str(self.log),
                "-p",
                str(directory / "pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"snmpd did not answer: {self.log.read_text()[-500:]}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        # an SNMPv2c GET of sysUpTime.0 with the community, by hand (BER)
        community = COMMUNITY.encode()
        oid = bytes.fromhex("06082b06010201010300")  # 1.3.6.1.2.1.1.3.0
        binding = b"\x30" + bytes([len(oid) + 2]) + oid + b"\x05\x00"
        bindings = b"\x30" + bytes([len(binding)]) + binding
        pdu_body = b"\x02\x01\x01\x02\x01\x00\x02\x01\x00" + bindings
        pdu = b"\xa0" + bytes([len(pdu_body)]) + pdu_body
        body = b"\x02\x01\x01\x04" + bytes([len(community)]) + community + pdu
        message = b"\x30" + bytes([len(body)]) + body
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            sock.sendto(message, ("127.0.0.1", self.port))
            try:
                return bool(sock.recv(4096))
            except OSError:
                return False

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def snmpd(tmp_path: Path) -> Iterator[PrivateSnmpd]:
    agent = PrivateSnmpd(tmp_path)
    try:
        yield agent
    finally:
        agent.stop()


async def test_v2c_gets_named_and_numeric_oids_as_facts_and_series(
    check: Check, snmpd: PrivateSnmpd
) -> None:
    result = await check(f"""
        monitors:
          - name: agent
            snmp: {{address: "127.0.0.1:{snmpd.port}", community: {COMMUNITY},
                    get: [sysUpTime.0, sysDescr.0, sysLocation.0, ifInOctets.1,
                          "1.3.6.1.2.1.1.4.0"]}}
            expect: ["snmp.sysUpTime.0 > 0", "snmp.sysLocation.0 == 'wk-test-lab'",
                     "snmp.sysDescr.0 contains 'Linux'", "snmp.ifInOctets.1 >= 0",
                     'snmp["1.3.6.1.2.1.1.4.0"] == "ops@example.test"']
        """)
    assert result.ok, result.reason
    assert result.metrics["snmp.sysUpTime.0"] > 0  # TimeTicks, in seconds
    assert "snmp.ifInOctets.1" in result.metrics  # a counter: a series
    assert "snmp.sysLocation.0" not in result.metrics  # text: a fact only
    assert result.phases.ttfb is not None and result.phases.ttfb > 0


async def test_a_mapping_names_the_facts(check: Check, snmpd: PrivateSnmpd) -> None:
    result = await check(f"""
        monitors:
          - name: agent
            snmp: {{address: "127.0.0.1:{snmpd.port}", community: {COMMUNITY},
                    get: {{uptime: sysUpTime.0, where: "1.3.6.1.2.1.1.6.0"}}}}
            expect: ["snmp.where == 'wk-test-lab'", "snmp.uptime > 0"]
        """)
    assert result.ok, result.reason
    assert set(result.metrics) == {"snmp.uptime"}


@pytest.mark.parametrize(
    "user",
    [
        "{user: wkpriv, auth_protocol: sha, auth_password: auth-pass-123, priv_protocol: aes,"
        " priv_password: priv-pass-123}",
        "{user: wkauth, auth_protocol: sha256, auth_password: auth-pass-456}",
    ],
)
async def test_v3_users_with_and_without_privacy(
    check: Check, snmpd: PrivateSnmpd, user: str
) -> None:
    settings = user[1:-1]
    result = await check(f"""
        monitors:
          - name: agent
            snmp: {{address: "127.0.0.1:{snmpd.port}", version: 3, {settings},
                    get: [sysLocation.0]}}
            expect: ["snmp.sysLocation.0 == 'wk-test-lab'"]
        """)
    assert result.ok, result.reason


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (
            "user: wkpriv, auth_protocol: sha, auth_password: s3cret-wrong, priv_protocol: aes,"
            " priv_password: priv-pass-123",
            "authentication failed: wrong auth_password or auth_protocol",
        ),
        (
            "user: nobody, auth_protocol: sha, auth_password: s3cret-wrong",
            "authentication failed: the agent has no such user",
        ),
    ],
)
async def test_bad_v3_credentials_are_one_line_without_the_password(
    check: Check, snmpd: PrivateSnmpd, settings: str, error: str
) -> None:
    result = await check(f"""
        monitors:
          - {{name: agent, snmp: {{address: "127.0.0.1:{snmpd.port}", version: 3, {settings}}}}}
        """)
    assert result.error == error
    assert "s3cret-wrong" not in str(result.to_json())


async def test_an_oid_the_agent_lacks_is_one_line(check: Check, snmpd: PrivateSnmpd) -> None:
    result = await check(f"""
        monitors:
          - name: agent
            snmp: {{address: "127.0.0.1:{snmpd.port}", community: {COMMUNITY},
                    get: [sysUpTime.0, sysDescr.7]}}
        """)
    assert result.error == "the agent has no sysDescr.7 (1.3.6.1.2.1.1.1.7)"


async def test_an_agent_that_never_answers_times_out_naming_the_phase(check: Check) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # receives every request, answers none
        port = silent.getsockname()[1]
        result = await check(f"""
            monitors:
              - {{name: agent, snmp: {{address: "127.0.0.1:{port}"}}, timeout: 2s}}
            """)
        assert silent.recv(4096)  # the request did arrive
    assert result.error == "timeout after 2s in ttfb (waiting for the SNMP response)"


async def test_a_wrong_community_is_silence(check: Check, snmpd: PrivateSnmpd) -> None:
    result = await check(f"""
        monitors:
          - {{name: agent, snmp: {{address: "127.0.0.1:{snmpd.port}", community: nope}},
              timeout: 2s}}
        """)
    assert result.error == "timeout after 2s in ttfb (waiting for the SNMP response)"


def test_bad_settings_are_refused_when_the_config_loads(
    monitors: Callable[[str], object],
) -> None:
    from watchkeeper.errors import ConfigError

    for bad in (
        "{address: 'router', get: [sysNothing.0]}",
        "{address: 'router', version: 3}",
        "{address: 'router', version: 3, user: u, auth_protocol: sha, auth_password: short}",
        "{address: 'router', version: 1}",
        "{address: 'router', version: 3, user: u, auth_protocol: sha1x, auth_password: longenough}",
    ):
        with pytest.raises(ConfigError):
            monitors(f"monitors: [{{name: s, snmp: {bad}}}]")
