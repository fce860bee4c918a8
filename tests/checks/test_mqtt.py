"""mqtt checks against the machine's mosquitto (127.0.0.1:1883, anonymous), a private mosquitto
with a password file and a TLS listener (the test CA), and peers that are no broker."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from tests.helpers.certs import CertificateSet
from tests.helpers.ports import free_port
from tests.helpers.servers import RawServer

from watchkeeper.model import Result

Check = Callable[[str], Awaitable[Result]]
MACHINE = "mqtt://127.0.0.1:1883"


class PrivateMosquitto:
    """mosquitto on two free ports: plain and TLS, both wanting user ``monitor``."""

    def __init__(self, directory: Path, certificates: CertificateSet) -> None:
        self.port, self.tls_port = free_port(), free_port()
        passwords = directory / "passwd"
        subprocess.run(
            ["mosquitto_passwd", "-c", "-b", str(passwords), "monitor", "s3cret-pw"], check=True
        )
        passwords.chmod(0o600)
        valid = certificates.valid
        config = directory / "mosquitto.conf"
        config.write_text(
            # as root, mosquitto would drop to its own user, who cannot read the test's files
            "user root\nper_listener_settings false\nallow_anonymous false\n"
            f"password_file {passwords}\npersistence false\nlog_dest file {directory / 'log'}\n"
            f"listener {self.port} 127.0.0.1\n"
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {certificates.ca_file}\ncertfile {valid.cert_file}\nkeyfile {valid.key_file}\n"
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.log = directory / "log"
        self.process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        for port in (self.port, self.tls_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        self.stop()
                        log = self.log.read_text() if self.log.exists() else ""
                        raise RuntimeError(f"mosquitto did not start: {log[-500:]}") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def private_broker(tmp_path: Path, certificates: CertificateSet) -> Iterator[PrivateMosquitto]:
    broker = PrivateMosquitto(tmp_path, certificates)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_a_message_published_comes_back_through_the_machines_broker(
    check: Check, qos: int
) -> None:
    result = await check(f"""
        monitors:
          - name: broker
            mqtt: {{url: "{MACHINE}", topic: "watchkeeper/test/{qos}", qos: {qos}}}
            expect: ["mqtt.connack == 0", "mqtt.roundtrip < 5s"]
        """)
    assert result.ok, result.reason
    assert result.metrics["mqtt.connack"] == 0
    assert 0 < result.metrics["mqtt.roundtrip"] <= result.phases.total
    assert result.phases.connect is not None and result.phases.ttfb is not None
    assert result.phases.transfer is not None and result.phases.transfer > 0


async def test_without_a_topic_the_check_is_the_connect_alone(check: Check) -> None:
    result = await check(f"monitors: [{{name: broker, mqtt: '{MACHINE}'}}]")
    assert result.ok, result.reason
    assert "mqtt.roundtrip" not in result.metrics and result.phases.transfer is None


async def _retain(topic: str, *message: str) -> None:
    """Leave ``message`` retained on ``topic`` of the machine's broker (none: clear it)."""
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-t",
        topic,
        "-r",
        *(("-m", *message) if message else ("-n",)),
    )
    assert await process.wait() == 0


async def test_other_messages_on_the_topic_are_not_taken_for_the_probes(check: Check) -> None:
    # a retained message waits on the topic: the subscription gets it first
    await _retain("watchkeeper/test/retained", "old")
    try:
        result = await check(f"""
            monitors:
              - {{name: broker, mqtt: {{url: "{MACHINE}", topic: "watchkeeper/test/retained"}}}}
            """)
        assert result.ok, result.reason
        assert "mqtt.roundtrip" in result.metrics
    finally:
        await _retain("watchkeeper/test/retained")


async def test_user_and_password_over_tls_with_the_private_ca(
    check: Check, private_broker: PrivateMosquitto, certificates: CertificateSet
) -> None:
    result = await check(f"""
        monitors:
          - name: broker
            mqtt: {{url: "mqtts://localhost:{private_broker.tls_port}", username: monitor,
                    password: s3cret-pw, topic: wk/tls, ca_file: "{certificates.ca_file}"}}
            expect: ["cert.expires_in > 30d", "mqtt.roundtrip < 5s"]
        """)
    assert result.ok, result.reason
    assert result.phases.tls is not None and result.phases.tls > 0
    assert "mqtt.roundtrip" in result.metrics


async def test_a_certificate_of_an_untrusted_ca_is_one_line(
    check: Check, private_broker: PrivateMosquitto
) -> None:
    url = f"mqtts://localhost:{private_broker.tls_port}"
    result = await check(f"monitors: [{{name: broker, mqtt: '{url}', timeout: 5s}}]")
    assert not result.ok
    assert result.error is not None and result.error.startswith("TLS: ")
    assert "\n" not in result.error
    unverified = await check(f"""
        monitors:
          - {{name: broker, mqtt: {{url: "{url}", verify: false, username: monitor,
              password: s3cret-pw}}}}
        """)
    assert unverified.ok, unverified.reason


async def test_bad_credentials_are_one_line_without_the_password(
    check: Check, private_broker: PrivateMosquitto
) -> None:
    for credentials in ("monitor:wrong-pw@", "nobody:wrong-pw@", ""):
        url = f"mqtt://{credentials}127.0.0.1:{private_broker.port}"
        result = await check(f"monitors: [{{name: broker, mqtt: '{url}', timeout: 5s}}]")
        assert not result.ok
        assert result.error in (
            "authentication failed: bad user name or password",
            "the broker refused the connection: not authorized",
        ), result.error
        assert result.metrics["mqtt.connack"] in (4, 5)
        assert "wrong-pw" not in str(result.to_json())


async def test_a_server_that_accepts_and_never_answers_times_out_naming_the_phase(
    check: Check, hanging_server: RawServer
) -> None:
    result = await check(f"""
        monitors:
          - {{name: broker, mqtt: "mqtt://{hanging_server.address}", timeout: 1s}}
        """)
    assert result.error == "timeout after 1s in ttfb (waiting for the CONNACK)"


async def test_a_broker_that_never_returns_the_message_times_out_in_transfer(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def accepts_then_drops(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read(1024)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")
        await reader.read(1024)  # SUBSCRIBE
        writer.write(b"\x90\x03\x00\x01\x01")
        await writer.drain()
        await reader.read(1024)  # the PUBLISH, never delivered back
        await asyncio.sleep(30)

    server = await serve_raw(accepts_then_drops)
    result = await check(f"""
        monitors:
          - {{name: broker, mqtt: {{url: "mqtt://{server.address}", topic: t}}, timeout: 1s}}
        """)
    assert result.error == (
        "timeout after 1s in transfer (waiting for the published message to come back)"
    )


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"\x20\xff\xff\xff\x7f", "a packet of 268435455 bytes from the broker (over max_packet)"),
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            "the broker closed the connection instead of the CONNACK",
        ),
        (b"\x40\x02\x00\x01", "not an MQTT broker: packet type 4 instead of a CONNACK"),
        (b"", "the broker closed the connection instead of the CONNACK"),
        (b"\x90\x03\x00\x01\x80", "not an MQTT broker: packet type 9 instead of a CONNACK"),
    ],
)
async def test_a_peer_that_is_no_broker_is_one_line(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]], answer: bytes, error: str
) -> None:
    async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await serve_raw(answers)
    result = await check(f"monitors: [{{name: b, mqtt: 'mqtt://{server.address}', timeout: 5s}}]")
    assert result.error == error


async def test_a_refused_subscription_is_one_line(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"\x20\x02\x00\x00")
        await reader.read(1024)
        writer.write(b"\x90\x03\x00\x01\x80")
        await writer.drain()
        await asyncio.sleep(30)

    server = await serve_raw(refuses)
    result = await check(f"""
        monitors:
          - {{name: b, mqtt: {{url: "mqtt://{server.address}", topic: a/b}}, timeout: 5s}}
        """)
    assert result.error == "the broker refused the subscription to 'a/b'"


async def test_a_refused_port_names_the_address(check: Check) -> None:
    port = free_port()
    result = await check(f"monitors: [{{name: b, mqtt: 'mqtt://127.0.0.1:{port}', timeout: 2s}}]")
    assert result.error == f"connection refused (127.0.0.1:{port})"


def test_bad_settings_are_refused_when_the_config_loads(
    monitors: Callable[[str], object],
) -> None:
    from watchkeeper.errors import ConfigError

    for bad in (
        "{url: 'http://broker'}",
        "{url: 'mqtt://broker', topic: 'a/#'}",
        "{url: 'mqtt://broker', qos: 3}",
    ):
        with pytest.raises(ConfigError):
            monitors(f"monitors: [{{name: b, mqtt: {bad}}}]")
