"""``wk chaos proxy``: the fault proxy, TCP proxies with a Toxiproxy-compatible HTTP API;
``wk chaos run``: a chaos experiment judged by the monitors; ``wk chaos rollback``: undo what
a crashed experiment left.

    wk chaos proxy                          the API on 127.0.0.1:8474, no proxies yet
    wk chaos proxy --config proxies.json    start with the proxies listed (a JSON array of
                                            {name, listen, upstream, enabled}, as Toxiproxy's)

Drive it with any Toxiproxy client or curl; it runs until interrupted.

    wk chaos run FILE                       the experiment(s) in FILE (-c: the config)
    wk chaos run NAME                       the config's experiment NAME (experiments:)
    wk chaos rollback                       undo the faults a killed run left in place
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigOption,
    Format,
    OutputOption,
    console,
    errors,
    fail,
    load,
    write_text,
)
from watchkeeper.config import DEFAULT_FILE

chaos_app = typer.Typer(
    help="Fault injection and chaos experiments: TCP proxies that add latency, resets and "
    "other faults, and experiments that check the monitors' steady state holds under them.",
    no_args_is_help=True,
)

DEFAULT_LISTEN = "127.0.0.1:8474"
EXIT_INTERRUPTED = 130
JOURNAL = ".watchkeeper-chaos.json"


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


JournalOption = Annotated[
    Path | None,
    typer.Option(
        "--journal",
        metavar="FILE",
        help="The crash journal (default: .watchkeeper-chaos.json beside the config).",
    ),
]


@chaos_app.command("run")
def run(
    experiment: Annotated[
        str,
        typer.Argument(
            metavar="FILE|NAME", help="An experiment file, or a name under experiments:."
        ),
    ],
    config: ConfigOption = DEFAULT_FILE,
    only: Annotated[
        list[str] | None,
        typer.Option("--experiment", "-e", metavar="NAME", help="Only this one of the file's."),
    ] = None,
    send: Annotated[
        bool,
        typer.Option("--send", help="Really notify the routes (default: dry run, recorded only)."),
    ] = False,
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
    output: OutputOption = None,
    journal: JournalOption = None,
) -> None:
    """Run a chaos experiment: check the steady state, inject the faults, watch the monitors,
    roll back (also on Ctrl-C) and report whether the steady state held."""
    from watchkeeper.config.experiments import load_experiment_file
    from watchkeeper.errors import ConfigError

    loaded = load(config)
    chosen = [e for e in loaded.experiments if e.name == experiment]
    if not chosen:
        if not Path(experiment).is_file():
            import difflib

            names = [e.name for e in loaded.experiments]
            close = difflib.get_close_matches(experiment, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            fail(f"{experiment}: no such file, and {config} has no experiment of that name{hint}")
        try:
            chosen = load_experiment_file(experiment, loaded.monitors)
        except ConfigError as exc:
            for line in exc.lines()[:50]:
                errors.print(line, markup=False)
            raise typer.Exit(2) from None
    if only:
        missing = [n for n in only if n not in {e.name for e in chosen}]
        if missing:
            fail(f"{experiment}: no experiment named '{missing[0]}'")
        chosen = [e for e in chosen if e.name in only]
    where = journal or Path(loaded.path).parent / JOURNAL
    echo = None if output_format is not Format.text and output is None else _echo
    found, interrupted = _run_all(chosen, loaded, where, send, echo)
    _emit(found, output_format, output)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if any(f["error"] for f in found) and not any(f["steps"] for f in found):
        raise typer.Exit(2)
    raise typer.Exit(EXIT_OK if all(f["held"] for f in found) else EXIT_FAILED)


def _echo(line: str) -> None:
    errors.print(line, markup=False, style="dim")


def _run_all(
    chosen: list[Any], config: Any, journal: Path, send: bool, echo: Any
) -> tuple[list[dict[str, Any]], bool]:
    from watchkeeper.chaos.errors import ChaosError
    from watchkeeper.chaos.experiment import Run
    from watchkeeper.chaos.journal import Journal
    from watchkeeper.chaos.verdict import summary

    found: list[dict[str, Any]] = []

    async def main() -> bool:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, task.cancel)
        for experiment in chosen:
            runner = Run(
                experiment,
                config,
                Journal(journal),
                send=send,
                echo=echo or (lambda line: None),
            )
            try:
                record = await runner.run()
            except asyncio.CancelledError:
                found.append(summary(runner.record))
                return True
            except ChaosError as exc:
                fail(f"{experiment.name}: {exc.message}")
            found.append(summary(record))
        return False

    interrupted = asyncio.run(main())
    return found, interrupted


def _emit(found: list[dict[str, Any]], output_format: Format, output: Path | None) -> None:
    from watchkeeper.report import chaos as shown

    if output_format is Format.json:
        text = json.dumps(found[0] if len(found) == 1 else {"experiments": found}, indent=2)
        text += "\n"
    elif output_format is Format.md:
        text = "\n".join(shown.markdown(f) for f in found)
    elif output_format is Format.html:
        text = "".join(shown.html_report(f) for f in found[:1])
    else:
        text = "\n".join("\n".join(shown.lines(f)) for f in found) + "\n"
    if output is None:
        console.print(text, markup=False, end="")
        return
    write_text(output, text)
    console.print(f"report written to {output}", markup=False)


@chaos_app.command("rollback")
def rollback(config: ConfigOption = DEFAULT_FILE, journal: JournalOption = None) -> None:
    """Undo what a killed chaos experiment left in place (toxics, proxies, processes), as its
    journal lists them."""
    from watchkeeper.chaos.errors import ChaosError
    from watchkeeper.chaos.journal import Journal, roll_back

    where = journal or Path(os.path.dirname(os.path.abspath(config))) / JOURNAL
    book = Journal(where)
    try:
        left = book.leftover()
        if left is None:
            console.print(f"nothing to roll back ({where} holds no journal)", markup=False)
            raise typer.Exit(EXIT_OK)
        lines = asyncio.run(roll_back(left))
    except ChaosError as exc:
        fail(exc.message)
    book.finish()
    for line in lines:
        console.print(f"rolled back: {line}", markup=False)
    console.print(
        f"experiment '{left.get('experiment')}': {len(lines)} fault(s) rolled back", markup=False
    )
