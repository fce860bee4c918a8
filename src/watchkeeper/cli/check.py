"""``wk check``: run every monitor once, now, and report (exit 0 all pass, 1 any failed)."""

from __future__ import annotations

import asyncio
import difflib
import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigOption,
    JsonOption,
    console,
    fail,
    load,
)
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.engine import check_once
from watchkeeper.model import Result
from watchkeeper.units import format_duration


def check(
    config: ConfigOption = DEFAULT_FILE,
    monitor: Annotated[
        list[str] | None,
        typer.Option("--monitor", "-m", metavar="NAME", help="Only this monitor (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run every monitor once now and print the results."""
    loaded = load(config)
    chosen = [m for m in loaded.monitors if not m.paused]
    if monitor:
        names = {m.name for m in loaded.monitors}
        for name in monitor:
            if name not in names:
                close = difflib.get_close_matches(name, sorted(names), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                fail(f"{config}: no monitor named '{name}'{hint}")
        chosen = [m for m in loaded.monitors if m.name in monitor]
    results = asyncio.run(
        check_once(
            chosen,
            concurrency=loaded.engine.concurrency,
            per_host=loaded.engine.per_host,
            secrets=loaded.secrets,
            nameservers=loaded.engine.resolvers,
        )
    )
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        _table(results)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(seconds)


def _table(results: list[Result]) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("", "monitor", "kind", "latency", "dns", "connect", "tls", "ttfb", "reason"):
        table.add_column(
            column,
            no_wrap=column != "reason",
            justify="right" if column in ("latency", "dns", "connect", "tls", "ttfb") else "left",
        )
    for r in results:
        mark = Text("✓", style="green") if r.ok else Text("✗", style="bold red")
        p = r.phases
        table.add_row(
            mark,
            Text(r.monitor),  # Text: a name like "db[replica]" is not Rich markup
            r.kind,
            _ms(p.total),
            _ms(p.dns),
            _ms(p.connect),
            _ms(p.tls),
            _ms(p.ttfb),
            Text(r.reason or "", style="red"),
        )
    console.print(table)
    failed = sum(1 for r in results if not r.ok)
    console.print(
        f"{len(results)} checked, {failed} failed"
        if failed
        else f"{len(results)} checked, all passed",
        style="red" if failed else "green",
    )
