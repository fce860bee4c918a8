"""``tcp``: connect (optionally over TLS), optionally send something, read the banner.

- {name: smtp, tcp: "mail.example.com:25", expect: ["tcp.banner contains 'ESMTP'"]}
- {name: redis, tcp: {address: "127.0.0.1:6379", send: "PING\\r\\n"},
   expect: ["tcp.banner == '+PONG'"]}
"""

from __future__ import annotations

from pydantic import field_validator

from watchkeeper.checks._address import split_address
from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
    close_stream,
    connect_or_fail,
    describe_os_error,
    readable_ca_file,
    start_tls_or_fail,
)
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType
from watchkeeper.units import Size


class TcpSettings(CheckSettings):
    shorthand_field = "address"

    address: str
    send: str | None = None
    read_banner: bool | None = None
    max_banner: Size = 4096
    tls: bool = False
    verify_tls: bool = True
    ca_file: str | None = None
    """PEM file of the CAs to trust instead of the system's (a private CA)."""

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        split_address(value)
        return value

    @property
    def host(self) -> str:
        return split_address(self.address)[0]

    @property
    def port(self) -> int:
        return split_address(self.address)[1]

    def host_key(self) -> str:
        return self.address

    def target(self) -> str:
        return ("tls://" if self.tls else "") + self.address


async def probe(settings: TcpSettings, attempt: Attempt) -> None:
    host, port = split_address(settings.address)
    opened = await connect_or_fail(host, port, attempt, settings.address)
    if opened is None:
        return
    reader, writer = opened
    try:
        if settings.tls:
            upgraded = await start_tls_or_fail(
                writer, attempt, host, verify=settings.verify_tls, ca_file=settings.ca_file
            )
            if upgraded is None:
                return
        wants_banner = settings.read_banner
        if wants_banner is None:
            wants_banner = settings.send is not None or attempt.wanted("tcp.banner")
        if settings.send is not None:
            writer.write(settings.send.encode())
            await writer.drain()
        if wants_banner:
            attempt.begin("ttfb")
            data = await reader.read(settings.max_banner)
            attempt.end("ttfb")
            attempt.observation.facts["tcp.banner"] = data.decode("utf-8", "replace").strip()
            attempt.observation.facts["tcp.banner_bytes"] = len(data)
    except OSError as exc:
        attempt.fail(describe_os_error(exc) + " while reading the banner")
    finally:
        await close_stream(writer)


CHECK = CheckKind(
    name="tcp",
    settings=TcpSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "tcp.banner": ValueType.TEXT,
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.sans": ValueType.SET,
    },
    probe=probe,
    runtime=RUNTIME,
)
