"""The generator against servers that close connections, as real ones do: one that answers
HTTP/1.0 and closes after each answer (Python's own ``http.server``, run as a user would),
and ones that close a keep-alive connection when it has been idle (or just as the next
request arrives on it). A server closing an idle connection is normal; only a request that
was sent and got no answer is an error. A request sent on a reused connection that dies
before any byte of its answer is sent again once, on a fresh connection, as browsers do."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from tests.helpers.cli import wk
from tests.helpers.servers import RawServer

from watchkeeper.loadtest.generator import Generator, Settings
from watchkeeper.loadtest.plan import constant
from watchkeeper.loadtest.results import summarize
from watchkeeper.loadtest.runner import Job
from watchkeeper.loadtest.target import from_url

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@pytest.fixture
async def http_server(tmp_path: Path) -> AsyncIterator[str]:
    """``python -m http.server`` on a free port, serving a folder with one page."""
    (tmp_path / "index.html").write_text("<p>hello</p>\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
        "--directory", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        port = re.search(r"port (\d+)", line)
        assert port, line
        yield f"http://127.0.0.1:{port.group(1)}/"
    finally:
        process.terminate()
        await process.wait()


async def test_the_closed_model_reconnects_to_a_server_that_closes_after_each_answer(
    http_server: str,
) -> None:
    tally = await Generator(from_url(http_server), Settings()).run_closed(4, 2)
    assert tally.completed > 50 and tally.statuses == {200: tally.completed}
    assert not tally.errors, tally.errors
    assert tally.sent == tally.completed and tally.retried == 0
    # one connection per answer, as it asks (and each user's last one, opened as time ran out)
    assert tally.completed <= tally.connections <= tally.completed + 4


async def test_the_open_model_reconnects_to_a_server_that_closes_after_each_answer(
    http_server: str,
) -> None:
    # 300/s with a small pool: arrivals wait in line for connections the server is closing
    tally = await Generator(from_url(http_server), Settings(connections=4)).run_open(
        constant(300, 1)
    )
    assert tally.completed == tally.sent == 300 and not tally.errors, tally.errors


async def test_wk_loadtest_reports_no_errors_against_http_server_in_either_model(
    http_server: str, tmp_path: Path
) -> None:
    for model in (("--users", "4"), ("--rate", "200/s")):
        out = tmp_path / "out.json"
        done = await wk("loadtest", http_server, *model, "--duration", "2s", "--json", str(out))
        assert done.code == 0, done.stdout + done.stderr
        summary = json.loads(out.read_text())
        assert summary["completed"] > 0 and summary["errors"] == 0, summary["errors_by_kind"]
        assert summary["error_rate"] == 0.0 and summary["retried"] == 0


Then = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class KeepAliveOnce:
    """A server's connection handler: answers the first request on a connection with
    keep-alive (HTTP/1.1, no ``Connection: close``), then does ``then``. ``requests`` counts
    the requests that reached it (``then`` counts its own through ``reached``)."""

    def __init__(self, then: Then) -> None:
        self.then = then
        self.requests = 0

    async def reached(self, reader: asyncio.StreamReader) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.requests += 1

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.reached(reader)
        writer.write(OK)
        await writer.drain()
        await self.then(reader, writer)


async def test_a_request_on_a_connection_closed_as_it_arrived_is_sent_again_once() -> None:
    """The race every keep-alive client meets: the server's idle timer fires just as the next
    request arrives, and it closes the connection without answering."""

    async def close_on_next_request(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await server_side.reached(reader)

    server_side = KeepAliveOnce(close_on_next_request)
    async with RawServer(server_side) as server:
        tally = await Generator(from_url(server.url("/")), Settings()).run_closed(2, 1)
    assert tally.completed > 20 and not tally.errors, tally.errors
    assert tally.sent == tally.completed, "a request sent again is still one request"
    assert tally.retried == server_side.requests - tally.sent > 0


async def test_connections_the_server_closes_when_idle_cost_no_errors() -> None:
    async def close_when_idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.03)
            except TimeoutError:
                return  # idle for 30 ms: close, as servers with a short keep-alive do
            writer.write(OK)
            await writer.drain()

    async with RawServer(KeepAliveOnce(close_when_idle)) as server:
        # arrivals 50 ms apart: each finds its idle connection closed, or closing
        tally = await Generator(from_url(server.url("/")), Settings()).run_open(constant(20, 2))
    assert tally.completed == tally.sent == 40 and not tally.errors, tally.errors


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the next request, then close without a byte of answer."""
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


async def test_a_fresh_connection_that_dies_unanswered_is_an_error_and_not_sent_again() -> None:
    seen = 0

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        await reader.readuntil(b"\r\n\r\n")
        seen += 1

    async with RawServer(never_answers) as server:
        tally = await Generator(from_url(server.url("/")), Settings()).run_open(constant(20, 1))
    assert tally.sent == 20 and sum(tally.errors.values()) == 20, tally.errors
    assert set(tally.errors) <= {"connection closed", "connection reset"}, tally.errors
    assert seen == 20 and tally.retried == 0
    summary = summarize(tally, Job(from_url(server.url("/")), Settings()), 1)
    assert summary["error_rate"] == 1.0


async def test_a_request_sent_again_that_fails_again_is_one_error() -> None:
    reached = 0

    async def first_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal reached
        while True:  # answers the first request it ever gets; drops all the others unanswered
            await reader.readuntil(b"\r\n\r\n")
            reached += 1
            if reached > 1:
                return
            writer.write(OK)
            await writer.drain()

    async with RawServer(first_only) as server:
        # one user: the 1st is answered, the 2nd (reused connection) dies and is sent again
        # on a fresh one, which dies too; from then on every request goes on a fresh one
        tally = await Generator(from_url(server.url("/")), Settings()).run_closed(1, 0.5)
    errors = sum(tally.errors.values())
    assert tally.completed == 1 and tally.retried == 1
    assert errors == tally.sent - 1 >= 2, (tally.sent, tally.errors)
    assert reached == tally.sent + 1, "the one retry reached the server, no more"


async def test_a_partly_answered_or_non_idempotent_request_is_not_sent_again() -> None:
    async def half_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        await writer.drain()

    async with RawServer(KeepAliveOnce(half_answer)) as server:
        partly = await Generator(from_url(server.url("/")), Settings()).run_closed(1, 0.5)
    async with RawServer(KeepAliveOnce(hang_up)) as server:
        posted = await Generator(
            from_url(server.url("/cart"), method="POST"), Settings()
        ).run_closed(1, 0.5)
    for tally in (partly, posted):
        assert tally.retried == 0 and tally.completed >= 2, tally
        # every other request is the second on its connection, and fails
        assert sum(tally.errors.values()) in (tally.completed - 1, tally.completed), tally.errors
