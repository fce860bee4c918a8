"""``amqp``: connect to an AMQP 0-9-1 broker (RabbitMQ), read the depth and consumers of named
queues, optionally publish a message and consume it back.

    - {name: rabbit, amqp: "amqp://monitor:${RABBIT_PASSWORD}@127.0.0.1:5672/"}
    - name: jobs-queue
      amqp: {url: "amqps://monitor:${RABBIT_PASSWORD}@mq.example.com/prod",
             queues: [jobs, "orders.created"], roundtrip: true}
      expect: ["amqp.queue.jobs.messages < 1000", "amqp.queue.jobs.consumers >= 1",
               "amqp.roundtrip < 500ms"]

Phases: ``connect`` (TCP, TLS and the AMQP handshake, login included), ``ttfb`` (opening a
channel), ``transfer`` (with ``roundtrip``: a message published to a temporary exclusive queue
until it is delivered back). Facts (numbers are series): ``amqp.queue.<name>.messages`` (ready
messages) and ``amqp.queue.<name>.consumers`` for each of ``queues`` (a name with dots:
``amqp.queue["orders.created"].messages``), ``amqp.roundtrip``, ``amqp.product`` and
``amqp.version`` (what the server says it is). The queues are looked at passively: a probe
never creates one. A missing queue, a refused login or vhost: one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets as random_tokens
import ssl
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import field_validator

from watchkeeper.checks._net import (
    RUNTIME,
    TLS_SUBJECTS,
    client_context,
    describe_os_error,
    describe_ssl_error,
    readable_ca_file,
)
from watchkeeper.checks.base import Attempt, CheckKind, CheckSettings
from watchkeeper.expect import ValueType

if TYPE_CHECKING:
    import aio_pika.abc

MAX_QUEUES = 100


class AmqpSettings(CheckSettings):
    shorthand_field = "url"

    url: str
    queues: tuple[str, ...] = ()
    roundtrip: bool = False
    """Publish a unique message to a temporary exclusive queue and consume it back."""
    verify: bool = True
    ca_file: str | None = None

    _ca_file = field_validator("ca_file")(readable_ca_file)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ValueError(f"'{value}' is not an amqp://user:password@host:port/vhost URL")
        try:
            parts.port  # noqa: B018 — only whether it parses
        except ValueError:
            raise ValueError(f"'{value}' has a bad port") from None
        return value

    @field_validator("queues")
    @classmethod
    def _queues(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > MAX_QUEUES:
            raise ValueError(f"at most {MAX_QUEUES} queues per monitor")
        for name in value:
            if not name or len(name.encode()) > 255:
                raise ValueError(f"'{name}' is not a queue name (1 to 255 bytes)")
        return value

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "amqps"

    def endpoint(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "", parts.port or (5671 if self.tls else 5672)

    def host_key(self) -> str:
        host, port = self.endpoint()
        return f"amqp:{host}:{port}"

    def target(self) -> str:
        host, port = self.endpoint()
        parts = urlsplit(self.url)
        user = f"{parts.username}@" if parts.username else ""
        return f"{parts.scheme}://{user}{host}:{port}{parts.path or '/'}"


async def probe(settings: AmqpSettings, attempt: Attempt) -> None:
    import aio_pika
    import aiormq.exceptions

    # the driver logs each failed connection as an error: the Result says it, once
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    facts = attempt.observation.facts
    context: ssl.SSLContext | None = None
    if settings.tls:
        context = client_context(
            attempt.resources, verify=settings.verify, ca_file=settings.ca_file
        )
    connection: aio_pika.abc.AbstractConnection | None = None
    attempt.begin("connect", "the TCP connection and the AMQP handshake")
    try:
        connection = await aio_pika.connect(
            settings.url,
            ssl_context=context,
            client_properties={"connection_name": f"watchkeeper {attempt.monitor}"[:200]},
        )
        attempt.end("connect")
        transport = connection.transport
        properties: dict[str, Any] = (
            dict(transport.connection.server_properties) if transport else {}
        )
        for key in ("product", "version"):
            if isinstance(properties.get(key), str | bytes):
                value = properties[key]
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                facts[f"amqp.{key}"] = text[:200]
        attempt.begin("ttfb", "a channel to open")
        channel = await connection.channel()
        attempt.end("ttfb")
        depths: dict[str, dict[str, int]] = {}
        for name in settings.queues:
            attempt.begin("transfer", f"the broker to declare queue '{name}'")
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                attempt.fail(f"queue '{name}' does not exist")
                return
            attempt.end("transfer")
            declared = queue.declaration_result
            depths[name] = {
                "messages": int(declared.message_count or 0),
                "consumers": int(declared.consumer_count or 0),
            }
        if depths:
            facts["amqp.queue"] = depths
        if settings.roundtrip:
            await _round_trip(channel, attempt)
    except aiormq.exceptions.AMQPError as exc:
        reason = describe(exc)
        if reason == "connection refused":
            reason += " ({}:{})".format(*settings.endpoint())
        attempt.fail(reason)
    except ssl.SSLError as exc:
        attempt.fail(describe_ssl_error(exc))
    except OSError as exc:
        host, port = settings.endpoint()
        attempt.fail(describe_os_error(exc) + f" ({host}:{port})")
    finally:
        if connection is not None:
            await _close(connection)


async def _round_trip(channel: aio_pika.abc.AbstractChannel, attempt: Attempt) -> None:
    import aio_pika

    attempt.begin("transfer", "the message to come back")
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    body = f"watchkeeper {random_tokens.token_hex(12)}".encode()
    arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def received(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        if message.body == body and not arrived.done():
            arrived.set_result(time.perf_counter())

    await queue.consume(received, no_ack=True)
    sent = time.perf_counter()
    await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue.name)
    attempt.observation.facts["amqp.roundtrip"] = await arrived - sent
    attempt.end("transfer")


async def _close(connection: aio_pika.abc.AbstractConnection) -> None:
    """Close at once when the probe is being cancelled (its deadline), else politely."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        transport = connection.transport
        writer = getattr(transport.connection, "writer", None) if transport else None
        if writer is not None:
            writer.transport.abort()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(connection.close(), 1.0)


def describe(exc: BaseException) -> str:
    """One line for the usual failures, without the URL (it holds the password)."""
    import aiormq.exceptions as errors

    if isinstance(exc, errors.ProbableAuthenticationError | errors.AuthenticationError):
        return "authentication failed: the broker refused the user name or password"
    if isinstance(exc, errors.ConnectionNotAllowed):
        return "access refused: the user may not use this virtual host"
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLError):
        return describe_ssl_error(cause)
    if isinstance(cause, OSError):
        return describe_os_error(cause)
    frame = exc.args[0] if exc.args else None
    text = getattr(frame, "reply_text", None) or (str(frame) if frame is not None else "")
    text = str(text).strip() or type(exc).__name__
    lowered = text.lower()
    if "connect call failed" in lowered and "111" in lowered:
        return "connection refused"
    if "got <connection.close" in lowered:  # the broker's reason is not kept by aiormq
        return "the broker closed the connection: no such virtual host, or the user may not use it"
    if "unexpectedly closed" in lowered:
        return "the broker closed the connection"
    return text.splitlines()[0][:300]


CHECK = CheckKind(
    name="amqp",
    settings=AmqpSettings,
    subjects={
        "connect": ValueType.DURATION,
        "ttfb": ValueType.DURATION,
        "transfer": ValueType.DURATION,
        "amqp.roundtrip": ValueType.DURATION,
        "amqp.product": ValueType.TEXT,
        "amqp.version": ValueType.TEXT,
        "amqp.*": ValueType.ANY,  # amqp.queue.<name>.messages, .consumers
        **{name: ValueType.TEXT for name in TLS_SUBJECTS},
    },
    probe=probe,
    runtime=(*RUNTIME, "aio_pika", "aiormq", "aiormq.exceptions"),
)
