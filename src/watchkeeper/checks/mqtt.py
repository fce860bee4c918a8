"""``mqtt``: connect to an MQTT broker (TLS, authentication) and optionally publish a unique
message and receive it back on a topic.

    - {name: broker, mqtt: "mqtt://127.0.0.1:1883"}
    - name: broker-roundtrip
      mqtt: {url: "mqtts://broker.example.com", username: monitor, password: "${MQTT_PASSWORD}",
             topic: "watchkeeper/probe", qos: 1}
      expect: ["mqtt.roundtrip < 500ms"]

MQTT 3.1.1, spoken here (a few packet types) rather than through paho-mqtt: paho connects and
shakes hands with a blocking socket, which aiomqtt runs on the event loop's shared default
thread pool; on asyncio streams every step is timed as a phase and every packet read is capped.

Phases: ``dns``, ``connect`` (TCP), ``tls`` (mqtts), ``ttfb`` (CONNECT until CONNACK),
``transfer`` (with ``topic``: subscribe, publish, and the message back). Facts:
``mqtt.connack`` (the CONNACK return code: 0 accepted, 4 bad user name or password, 5 not
authorized), ``mqtt.roundtrip`` (seconds from PUBLISH until the broker delivered it back),
``cert.*`` and ``tls.*`` over TLS. A refused CONNECT, a refused subscription, a broker that
sends no CONNACK or never delivers the message: one line naming the step.
"""

from __future__ import annotations

import secrets as random_tokens
import ssl
import struct
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pydantic import field_validator, model_validator

from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
    close_stream,
    connect_or_fail,
    describe_os_error,
    describe_ssl_error,
    readable_ca_file,
    start_tls_or_fail,
)
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.units import Size

if TYPE_CHECKING:
    import asyncio

_CONNACK_REASONS = {
    1: "the broker refused the connection: unacceptable protocol version",
    2: "the broker refused the connection: client identifier rejected",
    3: "the broker refused the connection: server unavailable",
    4: "authentication failed: bad user name or password",
    5: "the broker refused the connection: not authorized",
}
# packet types (the high nibble of the first byte)
_CONNACK, _PUBLISH, _PUBACK, _PUBREC, _PUBREL, _PUBCOMP, _SUBACK = 2, 3, 4, 5, 6, 7, 9


class MqttSettings(CheckSettings):
    shorthand_field = "url"

    url: str
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    """Default: ``watchkeeper-`` and a random suffix (a fixed id would knock a second
    watchkeeper, or the previous stuck check, off the broker)."""
    topic: str | None = None
    """Publish a unique message here and wait for it to come back (a round trip)."""
    qos: int = 1
    verify: bool = True
    ca_file: str | None = None
    keepalive: int = 30
    max_packet: Size = 64 * 1024
    """Bytes of one packet from the broker past which the check fails (a retained message on
    the topic, or a broker that is not one)."""

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"'{value}' is not an mqtt://host:port or mqtts:// URL")
        try:
            parts.port  # noqa: B018 — only whether it parses
        except ValueError:
            raise ValueError(f"'{value}' has a bad port") from None
        return value

    @field_validator("qos")
    @classmethod
    def _qos(cls, value: int) -> int:
        if value not in (0, 1, 2):
            raise ValueError("qos is 0, 1 or 2")
        return value

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        if value is not None and (not value or "+" in value or "#" in value or "\0" in value):
            raise ValueError("topic must be one topic name to publish to (no + or # wildcards)")
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and not 0 < len(value.encode()) <= 65535:
            raise ValueError("client_id must be 1 to 65535 bytes")
        return value

    @model_validator(mode="after")
    def _keepalive(self) -> MqttSettings:
        if not 0 <= self.keepalive <= 65535:
            raise ValueError("keepalive is 0 to 65535 seconds")
        return self

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    def endpoint(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "", parts.port or (8883 if self.tls else 1883)

    def credentials(self) -> tuple[str | None, str | None]:
        parts = urlsplit(self.url)
        user = self.username if self.username is not None else parts.username
        password = self.password if self.password is not None else parts.password
        return (
            None if user is None else unquote(user),
            None if password is None else unquote(password),
        )

    def host_key(self) -> str:
        host, port = self.endpoint()
        return f"mqtt:{host}:{port}"

    def target(self) -> str:
        host, port = self.endpoint()
        topic = f"/{self.topic}" if self.topic else ""
        return f"{urlsplit(self.url).scheme}://{host}:{port}{topic}"


class MqttError(Exception):
    """The broker answered, but not as it should (one line)."""


async def probe(settings: MqttSettings, attempt: Attempt) -> None:
    host, port = settings.endpoint()
    opened = await connect_or_fail(host, port, attempt, f"{host}:{port}")
    if opened is None:
        return
    reader, writer = opened
    facts = attempt.observation.facts
    try:
        if settings.tls:
            upgraded = await start_tls_or_fail(
                writer, attempt, host, verify=settings.verify, ca_file=settings.ca_file
            )
            if upgraded is None:
                return
        attempt.begin("ttfb", "the CONNACK")
        writer.write(_connect_packet(settings))
        await writer.drain()
        kind, _, body = await _read_packet(reader, settings.max_packet, "the CONNACK")
        if kind != _CONNACK or len(body) != 2:
            raise MqttError(f"not an MQTT broker: packet type {kind} instead of a CONNACK")
        attempt.end("ttfb")
        code = body[1]
        facts["mqtt.connack"] = code
        if code != 0:
            raise MqttError(
                _CONNACK_REASONS.get(code, f"the broker refused the connection ({code})")
            )
        if settings.topic is not None:
            await _round_trip(settings, settings.topic, reader, writer, attempt)
        writer.write(b"\xe0\x00")  # DISCONNECT
        await writer.drain()
    except MqttError as exc:
        attempt.fail(str(exc))
    except ssl.SSLError as exc:
        attempt.fail(describe_ssl_error(exc))
    except OSError as exc:
        attempt.fail(describe_os_error(exc) + _while(attempt))
    finally:
        await close_stream(writer)


def _while(attempt: Attempt) -> str:
    return f" while waiting for {attempt.waiting_for}" if attempt.waiting_for else ""


async def _round_trip(
    settings: MqttSettings,
    topic: str,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    attempt: Attempt,
) -> None:
    qos = settings.qos
    attempt.begin("transfer", "the SUBACK")
    writer.write(_packet(0x82, struct.pack("!H", 1) + _text(topic) + bytes([qos])))
    await writer.drain()
    payload = f"watchkeeper {random_tokens.token_hex(12)}".encode()
    sent = 0.0
    published = False
    while True:
        kind, flags, body = await _read_packet(reader, settings.max_packet, attempt.waiting_for)
        if kind == _SUBACK and not published:
            if len(body) < 3 or body[2] == 0x80:
                raise MqttError(f"the broker refused the subscription to '{topic}'")
            attempt.waiting_for = "the published message to come back"
            header = 0x30 | (qos << 1)
            sent = time.perf_counter()
            writer.write(
                _packet(header, _text(topic) + (struct.pack("!H", 2) if qos else b"") + payload)
            )
            await writer.drain()
            published = True
        elif kind == _PUBLISH:
            message_qos = (flags >> 1) & 3
            topic_length = struct.unpack("!H", body[:2])[0] if len(body) >= 2 else len(body)
            rest = body[2 + topic_length :]
            if message_qos:
                if len(rest) < 2:
                    raise MqttError("malformed PUBLISH from the broker")
                packet_id, rest = rest[:2], rest[2:]
                # acknowledge it, or the broker holds back the rest
                ack = _PUBACK if message_qos == 1 else _PUBREC
                writer.write(bytes([ack << 4, 2]) + packet_id)
                await writer.drain()
            if published and rest == payload:
                attempt.observation.facts["mqtt.roundtrip"] = time.perf_counter() - sent
                attempt.end("transfer")
                return
        elif kind == _PUBREC:  # our QoS 2 publish, step two
            writer.write(bytes([(_PUBREL << 4) | 2, 2]) + body[:2])
            await writer.drain()
        elif kind == _PUBREL:  # a QoS 2 delivery to us, step three
            writer.write(bytes([_PUBCOMP << 4, 2]) + body[:2])
            await writer.drain()


async def _read_packet(
    reader: asyncio.StreamReader, most: int, waiting_for: str | None
) -> tuple[int, int, bytes]:
    """(type, flags, body) of the next packet, at most ``most`` bytes of body."""
    import asyncio

    try:
        first = (await reader.readexactly(1))[0]
        length, multiplier = 0, 1
        for _ in range(4):
            byte = (await reader.readexactly(1))[0]
            length += (byte & 0x7F) * multiplier
            if not byte & 0x80:
                break
            multiplier *= 128
        else:
            raise MqttError("not an MQTT broker: malformed packet length")
        if length > most:
            raise MqttError(f"a packet of {length} bytes from the broker (over max_packet)")
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise MqttError(
            "the broker closed the connection"
            + (f" instead of {waiting_for}" if waiting_for else "")
        ) from None
    return first >> 4, first & 0x0F, body


def _connect_packet(settings: MqttSettings) -> bytes:
    user, password = settings.credentials()
    client_id = settings.client_id or f"watchkeeper-{random_tokens.token_hex(6)}"
    flags = 0x02  # clean session: nothing is kept for a probe
    payload = _text(client_id)
    if user is not None:
        flags |= 0x80
        payload += _text(user)
        if password is not None:
            flags |= 0x40
            payload += _text(password)
    header = _text("MQTT") + bytes([4, flags]) + struct.pack("!H", settings.keepalive)
    return _packet(0x10, header + payload)


def _text(value: str) -> bytes:
    data = value.encode()
    return struct.pack("!H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([first]) + bytes(encoded) + body


CHECK = CheckKind(
    name="mqtt",
    settings=MqttSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "transfer": ValueType.DURATION,
        "mqtt.connack": ValueType.NUMBER,
        "mqtt.roundtrip": ValueType.DURATION,
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.sans": ValueType.SET,
    },
    probe=probe,
    runtime=RUNTIME,
)
