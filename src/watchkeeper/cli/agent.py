"""``wk agent``: a remote probe. Checks the monitors a node assigns to its token's location
and pushes the results to that node over HTTP(S); needs no inbound port and no store.

    wk agent --server https://wk.example.com --token wkt_... --location eu-west

Runs until SIGTERM or Ctrl-C (exit 0: the last results are pushed or kept on disk for the
next start). Exit 2: bad options, or the node refuses the agent (a token that is not an
agent token, another location, another protocol version).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from watchkeeper.cli.common import EXIT_OK, fail

if TYPE_CHECKING:
    from watchkeeper.agent.runner import Agent, AgentSettings


def agent(
    server: Annotated[
        str | None,
        typer.Option("--server", metavar="URL", help="The node to report to: http(s)://HOST."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="WK_AGENT_TOKEN",
            metavar="TOKEN",
            show_envvar=True,
            help="An agent token (wk token create --scope agent --location L).",
        ),
    ] = None,
    location: Annotated[
        str | None,
        typer.Option("--location", metavar="L", help="Refuse to run unless the token is for L."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="This agent's name (default: the hostname)."),
    ] = None,
    buffer: Annotated[
        Path | None,
        typer.Option(
            "--buffer",
            metavar="DIR",
            help="Keep unpushed results here (default: ./wk-agent-<location>).",
        ),
    ] = None,
    buffer_size: Annotated[
        str, typer.Option("--buffer-size", metavar="SIZE", help="Cap of the disk buffer.")
    ] = "64MB",
    concurrency: Annotated[
        int, typer.Option("--concurrency", metavar="N", help="Checks running at once, at most.")
    ] = 100,
    per_host: Annotated[
        int,
        typer.Option("--per-host", metavar="N", help="Checks of one host at once, at most."),
    ] = 100,
    ca: Annotated[
        Path | None,
        typer.Option("--ca", metavar="FILE", help="Trust this CA (PEM) for an https node."),
    ] = None,
    push_every: Annotated[
        str | None,
        typer.Option(
            "--push-every",
            metavar="DURATION",
            help="Push this often, e.g. 5s (default: as the node says).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every push.")] = False,
) -> None:
    """Check the monitors a node assigns to this location and push the results to it."""
    settings = _settings(
        server, token, location, name, buffer, buffer_size, concurrency, ca, push_every,
        per_host,
    )  # fmt: skip
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("aiohttp", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from watchkeeper.agent.runner import Agent

    try:
        runner = Agent(settings)
    except ValueError as exc:
        fail(str(exc))
    problem = _run(runner)
    if problem is not None:
        fail(problem)
    raise typer.Exit(EXIT_OK)


def _settings(
    server: str | None,
    token: str | None,
    location: str | None,
    name: str | None,
    buffer: Path | None,
    buffer_size: str,
    concurrency: int,
    ca: Path | None,
    push_every: str | None,
    per_host: int = 100,
) -> AgentSettings:
    """The options checked, or one line and exit 2."""
    from watchkeeper.agent.client import check_server, trust
    from watchkeeper.agent.runner import AgentSettings
    from watchkeeper.units import parse_duration, parse_size

    if not server:
        fail("--server URL is required (the node to report to)")
    if not token:
        fail("--token is required (or WK_AGENT_TOKEN): make one with wk token create --scope agent")
    try:
        server = check_server(server)
        size = parse_size(buffer_size)
        every = parse_duration(push_every) if push_every is not None else None
        trust(ca)
    except ValueError as exc:
        message = str(exc)
        if message.startswith("bad size"):
            message = f"--buffer-size: {message}"
        elif message.startswith("bad duration"):
            message = f"--push-every: {message}"
        fail(message)
    if size < 64 * 1024:
        fail(f"--buffer-size {buffer_size}: at least 64KiB")
    if every is not None and not 0.1 <= every <= 3600:
        fail(f"--push-every {push_every}: between 100ms and 1h")
    if concurrency < 1:
        fail(f"--concurrency {concurrency}: at least 1")
    if per_host < 1:
        fail(f"--per-host {per_host}: at least 1")
    if location is not None and not location.strip():
        fail("--location cannot be empty")
    agent_name = name or socket.gethostname()
    if not agent_name.isprintable() or not 0 < len(agent_name) <= 200:
        fail("--name: up to 200 printable characters")
    return AgentSettings(
        server=server,
        token=token,
        name=agent_name,
        location=location,
        buffer=buffer,
        buffer_size=size,
        concurrency=concurrency,
        per_host=per_host,
        ca=ca,
        push_every=every,
    )


def _run(runner: Agent) -> str | None:
    """Run the agent until a signal; the one line to exit 2 with, if it was refused."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        return asyncio.run(_main(runner))
    return uvloop.run(_main(runner))


async def _main(runner: Agent) -> str | None:
    from watchkeeper.agent.buffer import BufferError
    from watchkeeper.agent.client import Refused

    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, runner.stop)
    try:
        await runner.run()
    except Refused as exc:
        return str(exc)
    except BufferError as exc:
        return str(exc)
    finally:
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(number)
    return None
