"""amqp checks against the machine's RabbitMQ (127.0.0.1:5672, guest/guest): queue depth and
consumers of queues the test fills, a publish/consume round trip, a missing queue, a refused
login, and a peer that accepts and never answers."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
from tests.helpers.certs import CertificateSet
from tests.helpers.ports import free_port
from tests.helpers.servers import RawServer

from watchkeeper.model import Result

Check = Callable[[str], Awaitable[Result]]
MACHINE = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
async def queues() -> AsyncIterator[tuple[str, str]]:
    """Two fresh queues on the machine's broker: three messages wait in the first, the second
    has two consumers (on a connection of the test's)."""
    token = secrets.token_hex(4)
    waiting, consumed = f"wk_test_waiting_{token}", f"wk.test.consumed.{token}"
    connection = await aio_pika.connect(MACHINE)
    try:
        channel = await connection.channel()
        await channel.declare_queue(waiting)
        target = await channel.declare_queue(consumed)
        for n in range(3):
            await channel.default_exchange.publish(aio_pika.Message(b"%d" % n), waiting)

        async def ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()

        await target.consume(ignore)
        await target.consume(ignore)
        yield waiting, consumed
        await channel.queue_delete(waiting)
        await channel.queue_delete(consumed)
    finally:
        await connection.close()


async def test_depth_and_consumers_of_named_queues_are_facts_and_series(
    check: Check, queues: tuple[str, str]
) -> None:
    waiting, consumed = queues
    result = await check(f"""
        monitors:
          - name: rabbit
            amqp: {{url: "{MACHINE}", queues: [{waiting}, "{consumed}"]}}
            expect: ["amqp.queue.{waiting}.messages == 3", "amqp.queue.{waiting}.consumers == 0",
                     'amqp.queue["{consumed}"].consumers == 2', "amqp.product == 'RabbitMQ'"]
        """)
    assert result.ok, result.reason
    assert result.metrics[f"amqp.queue.{waiting}.messages"] == 3
    assert result.metrics[f"amqp.queue.{consumed}.consumers"] == 2
    assert result.phases.connect is not None and result.phases.ttfb is not None
    failing = await check(f"""
        monitors:
          - name: rabbit
            amqp: {{url: "{MACHINE}", queues: [{waiting}]}}
            expect: ["amqp.queue.{waiting}.messages < 2"]
        """)
    assert failing.failures == [f"amqp.queue.{waiting}.messages 3, expected < 2"]


async def test_a_message_published_to_a_temporary_queue_comes_back(check: Check) -> None:
    result = await check(f"""
        monitors:
          - name: rabbit
            amqp: {{url: "{MACHINE}", roundtrip: true}}
            expect: ["amqp.roundtrip < 5s"]
        """)
    assert result.ok, result.reason
    assert 0 < result.metrics["amqp.roundtrip"] <= result.phases.total
    assert result.phases.transfer is not None


async def test_a_missing_queue_is_one_line(check: Check) -> None:
    name = f"wk_test_missing_{secrets.token_hex(4)}"
    result = await check(f"monitors: [{{name: r, amqp: {{url: '{MACHINE}', queues: [{name}]}}}}]")
    assert result.error == f"queue '{name}' does not exist"
    connection = await aio_pika.connect(MACHINE)  # and the probe created none
    try:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(name, passive=True)
    finally:
        await connection.close()


async def test_bad_credentials_are_one_line_without_the_password(check: Check) -> None:
    result = await check("""
        monitors: [{name: r, amqp: "amqp://guest:s3cret-wrong@127.0.0.1:5672/", timeout: 5s}]
        """)
    assert result.error == "authentication failed: the broker refused the user name or password"
    assert "s3cret-wrong" not in str(result.to_json())


async def test_a_virtual_host_that_does_not_exist_is_one_line(check: Check) -> None:
    result = await check("""
        monitors: [{name: r, amqp: "amqp://guest:guest@127.0.0.1:5672/wk-no-such-vhost"}]
        """)
    assert result.error is not None and result.error.startswith("the broker closed the connection")


async def test_a_server_that_accepts_and_never_answers_times_out_naming_the_phase(
    check: Check, hanging_server: RawServer
) -> None:
    result = await check(f"""
        monitors:
          - {{name: r, amqp: "amqp://guest:guest@{hanging_server.address}/", timeout: 1s}}
        """)
    assert result.error == (
        "timeout after 1s in connect (waiting for the TCP connection and the AMQP handshake)"
    )


async def test_a_peer_that_closes_at_once_is_one_line(
    check: Check, serve_raw: Callable[..., Awaitable[RawServer]]
) -> None:
    async def closes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(8)  # the protocol header, then nothing
        writer.close()

    server = await serve_raw(closes)
    result = await check(f"monitors: [{{name: r, amqp: 'amqp://{server.address}/', timeout: 5s}}]")
    assert result.error == "the broker closed the connection"


async def test_a_refused_port_names_the_address(check: Check) -> None:
    port = free_port()
    result = await check(f"monitors: [{{name: r, amqp: 'amqp://127.0.0.1:{port}/', timeout: 2s}}]")
    assert result.error == f"connection refused (127.0.0.1:{port})"


def test_bad_settings_are_refused_when_the_config_loads(
    monitors: Callable[[str], object],
) -> None:
    from watchkeeper.errors import ConfigError

    for bad in ("{url: 'http://broker'}", "{url: 'amqp://broker', queues: ['']}"):
        with pytest.raises(ConfigError):
            monitors(f"monitors: [{{name: r, amqp: {bad}}}]")


async def test_amqps_checks_the_certificate(
    check: Check, tls_server: RawServer, certificates: CertificateSet
) -> None:
    url = f"amqps://guest:guest@localhost:{tls_server.port}/"
    untrusted = await check(f"monitors: [{{name: r, amqp: '{url}', timeout: 5s}}]")
    assert untrusted.error is not None and untrusted.error.startswith("TLS: "), untrusted.error
    # with the test CA the handshake passes; the peer then says nothing (no AMQP)
    trusted = await check(f"""
        monitors:
          - {{name: r, amqp: {{url: "{url}", ca_file: "{certificates.ca_file}"}}, timeout: 1s}}
        """)
    assert trusted.error == (
        "timeout after 1s in connect (waiting for the TCP connection and the AMQP handshake)"
    )
