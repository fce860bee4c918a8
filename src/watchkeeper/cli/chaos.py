"""``wk chaos proxy``: the fault proxy, TCP proxies with a Toxiproxy-compatible HTTP API.

    wk chaos proxy                          the API on 127.0.0.1:8474, no proxies yet
    wk chaos proxy --config proxies.json    start with the proxies listed (a JSON array of
                                            {name, listen, upstream, enabled}, as Toxiproxy's)

Drive it with any Toxiproxy client or curl; it runs until interrupted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli.common import fail

chaos_app = typer.Typer(
    help="Fault injection: TCP proxies that add latency, resets and other faults.",
    no_args_is_help=True,
)

DEFAULT_LISTEN = "127.0.0.1:8474"
CONFIG_LIMIT = 1024 * 1024


@chaos_app.command("proxy")
def proxy(
    listen: Annotated[
        str,
        typer.Option("--listen", metavar="HOST:PORT", help="Where the HTTP API listens."),
    ] = DEFAULT_LISTEN,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", metavar="FILE", help="Proxies to create at start (a JSON array)."
        ),
    ] = None,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote",
            help="Allow --listen on an address other machines reach (the API has no login).",
        ),
    ] = False,
) -> None:
    """Run TCP proxies with a Toxiproxy-compatible HTTP API until interrupted."""
    from watchkeeper.chaos.errors import BadInput
    from watchkeeper.chaos.proxy import split_address

    try:
        host, port = split_address(listen, "--listen", default_host="127.0.0.1")
    except BadInput as exc:
        fail(exc.message)
    if not remote and not _loopback(host):
        fail(
            f"refusing to listen on {listen}: the API has no login, and whoever reaches it can "
            "open proxies to anything this machine reaches. Add --remote if you mean it."
        )
    entries: object = []
    if config is not None:
        try:
            with config.open("rb") as handle:
                raw = handle.read(CONFIG_LIMIT + 1)
        except OSError as exc:
            fail(f"{config}: {exc.strerror or exc}")
        if len(raw) > CONFIG_LIMIT:
            fail(f"{config}: over {CONFIG_LIMIT} bytes")
        try:
            entries = json.loads(raw)
        except ValueError as exc:
            fail(f"{config}: not JSON ({exc})")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        asyncio.run(_serve(host, port, entries, config))
    else:
        uvloop.run(_serve(host, port, entries, config))


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _serve(host: str, port: int, entries: object, config: Path | None) -> None:
    from watchkeeper.chaos.api import ChaosServer
    from watchkeeper.chaos.errors import ChaosError

    server = ChaosServer()
    try:
        await server.start(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    try:
        try:
            created = await server.proxies.populate(entries)
        except ChaosError as exc:
            fail(f"{config}: {exc.message}")
        print(f"fault proxy API on {server.url} (Toxiproxy-compatible)", flush=True)
        for item in created:
            print(f"proxy {item.name}: {item.listen} -> {item.upstream}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        await stop.wait()
    finally:
        await server.stop()
