"""``grpc``: ask a server's standard health service (``grpc.health.v1.Health/Check``) how it
is, over plaintext HTTP/2 or TLS.

    - {name: orders-api, grpc: "orders.internal:50051"}
    - name: payments
      grpc: {address: "payments.example.com:443", tls: true, service: payments.v1.Payments}
      expect: ["grpc.status == 'SERVING'", "cert.expires_in > 14d"]

Phases: ``dns``, ``connect`` and ``tls`` (the probe's own connection, which also gives the
certificate's facts and says in plain words what is wrong with it), then ``ttfb``: gRPC's
connection (HTTP/2, and TLS again) and the health answer. Facts: ``grpc.status``
(``SERVING``, ``NOT_SERVING``, ``UNKNOWN``, or ``SERVICE_UNKNOWN`` when the server does not
know ``service``), ``cert.*``/``tls.*`` with TLS. The default expectation is
``grpc.status == 'SERVING'``.

``verify_tls: false`` trusts the certificate the server presents (gRPC itself has no switch
to skip verification): that serves a self-signed one; for a private CA give ``ca_file``.
"""

from __future__ import annotations

import re
import ssl
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from watchkeeper.checks._address import split_address
from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
    cert_facts,
    close_stream,
    connect_or_fail,
    readable_ca_file,
    start_tls_or_fail,
)
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType

if TYPE_CHECKING:
    import grpc

_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", 64 * 1024),  # a health answer is a few bytes
    ("grpc.max_metadata_size", 16 * 1024),
    ("grpc.enable_retries", 0),
    ("grpc.use_local_subchannel_pool", 1),  # each check its own connection
]
_UNREACHED = re.compile(r"failed to connect to all addresses; last error: \w+: \S+: (.+)")
_STATUSES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


class GrpcSettings(CheckSettings):
    shorthand_field = "address"

    address: str
    service: str = ""
    """The service to ask about; empty asks about the server as a whole."""
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

    def host_key(self) -> str:
        return self.address

    def target(self) -> str:
        return (
            ("grpcs://" if self.tls else "grpc://")
            + self.address
            + (f"/{self.service}" if self.service else "")
        )


async def probe(settings: GrpcSettings, attempt: Attempt) -> None:
    host, port = split_address(settings.address)
    opened = await connect_or_fail(host, port, attempt, settings.address)
    if opened is None:
        return
    _, writer = opened
    peer = writer.get_extra_info("peername")
    leaf: bytes | None = None
    try:
        if settings.tls:
            ssl_object = await start_tls_or_fail(
                writer, attempt, host, verify=settings.verify_tls, ca_file=settings.ca_file
            )
            if ssl_object is None:
                return
            leaf = ssl_object.getpeercert(binary_form=True)
    finally:
        await close_stream(writer)
    # gRPC connects to the address just reached (not resolving the name again)
    ip = str(peer[0]) if peer else host
    target = f"ipv6:[{ip}]:{port}" if ":" in ip else f"ipv4:{ip}:{port}"
    options = [*_OPTIONS, ("grpc.default_authority", f"{host}:{port}")]
    await _health(settings, attempt, target, options, host, leaf)


async def _health(
    settings: GrpcSettings,
    attempt: Attempt,
    target: str,
    options: list[tuple[str, Any]],
    host: str,
    leaf: bytes | None,
) -> None:
    import grpc
    import grpc.aio
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    if settings.tls:
        credentials, name = _credentials(settings, attempt, host, leaf)
        channel = grpc.aio.secure_channel(
            target, credentials, options=[*options, ("grpc.ssl_target_name_override", name)]
        )
    else:
        channel = grpc.aio.insecure_channel(target, options=options)
    try:
        attempt.begin("ttfb", "the HTTP/2 connection")
        state = channel.get_state(try_to_connect=True)
        while state not in (
            grpc.ChannelConnectivity.READY,
            grpc.ChannelConnectivity.TRANSIENT_FAILURE,
            grpc.ChannelConnectivity.SHUTDOWN,
        ):
            await channel.wait_for_state_change(state)
            state = channel.get_state()
        attempt.waiting_for = "the health check answer"
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(
                health_pb2.HealthCheckRequest(service=settings.service),
                wait_for_ready=False,
            )
        except grpc.aio.AioRpcError as exc:
            attempt.end("ttfb")
            if exc.code() == grpc.StatusCode.NOT_FOUND:  # the protocol's unknown service
                attempt.observation.facts["grpc.status"] = "SERVICE_UNKNOWN"
                return
            attempt.fail(describe_rpc_error(exc, settings))
            return
        attempt.end("ttfb")
        attempt.observation.facts["grpc.status"] = _STATUSES.get(response.status, "UNKNOWN")
    finally:
        await channel.close(grace=None)


def _credentials(
    settings: GrpcSettings, attempt: Attempt, host: str, leaf: bytes | None
) -> tuple[grpc.ChannelCredentials, str]:
    """The channel's credentials and the name its certificate is checked against."""
    import grpc

    if not settings.verify_tls and leaf is not None:
        names = sorted(cert_facts(leaf).get("cert.sans", ())) or [host]
        name = host if host in names else names[0]
        return grpc.ssl_channel_credentials(ssl.DER_cert_to_PEM_cert(leaf).encode()), name
    roots: bytes | None = None
    if settings.ca_file:
        path = settings.ca_file
        roots = attempt.resources.shared(f"grpc.roots.{path}", lambda: _read(path))
    return grpc.ssl_channel_credentials(roots), host


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(1024 * 1024)


def describe_rpc_error(exc: grpc.aio.AioRpcError, settings: GrpcSettings) -> str:
    """One line for a failed health call: what gRPC said, in the words a user needs."""
    import grpc

    code = exc.code()
    details = (exc.details() or "").strip().splitlines()
    detail = details[0][:200] if details else ""
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return f"{settings.address} does not serve the gRPC health service (grpc.health.v1)"
    lowered = detail.lower()
    if "ssl" in lowered or "tsi_" in lowered or "handshake" in lowered:
        return f"TLS: gRPC's handshake failed ({detail})"
    if "connection refused" in lowered:
        return f"connection refused ({settings.address})"
    unreached = _UNREACHED.match(detail)
    if unreached:  # "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:...: x"
        said = unreached[1].strip()
        return f"gRPC could not connect ({said[:1].lower() + said[1:]})"
    name = code.name if code is not None else "UNKNOWN"
    return f"gRPC {name}: {detail}" if detail else f"gRPC {name}"


CHECK = CheckKind(
    name="grpc",
    settings=GrpcSettings,
    subjects={
        "dns": ValueType.DURATION,
        "connect": ValueType.DURATION,
        "tls": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "grpc.status": ValueType.TEXT,
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
        "cert.expires_in": ValueType.DURATION,
        "cert.sans": ValueType.SET,
    },
    probe=probe,
    default_expect=("grpc.status == 'SERVING'",),
    runtime=(
        *RUNTIME,
        "grpc",
        "grpc.aio",
        "grpc_health.v1.health_pb2",
        "grpc_health.v1.health_pb2_grpc",
    ),
)
