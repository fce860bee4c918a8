"""``wk check``: run every monitor once, now, and report (exit 0 all pass, 1 any failed).

It sees what ``wk up`` on the same config watches: the monitors defined through the API
are read from the config's store, and heartbeats are judged on the pings stored there."""

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
    errors,
    fail,
    load,
)
from watchkeeper.config import DEFAULT_FILE, Config
from watchkeeper.engine import check_once
from watchkeeper.engine.once import Known, known_monitors
from watchkeeper.errors import StoreError
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
    """Run every monitor once now and print the results (those defined through the API
    too; heartbeats are judged on the pings wk up stored)."""
    loaded = load(config)
    known = _known(loaded)
    chosen = [m for m in known.monitors if not m.paused]
    if monitor:
        names = {m.name for m in known.monitors}
        for name in monitor:
            if name in known.broken:
                fail(
                    f"{config}: monitor '{name}' defined through the API is not watched: "
                    f"{known.broken[name]}"
                )
            if name not in names:
                close = difflib.get_close_matches(name, sorted(names), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                fail(f"{config}: no monitor named '{name}'{hint}")
        chosen = [m for m in known.monitors if m.name in monitor]
    results = asyncio.run(
        check_once(
            chosen,
            concurrency=loaded.engine.concurrency,
            per_host=loaded.engine.per_host,
            secrets=loaded.secrets,
            nameservers=loaded.engine.resolvers,
            settings={"browser": loaded.engine.browser},
            heartbeats=known.heartbeats,
            vitals=known.vitals,
        )
    )
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        _table(results)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


def _known(config: Config) -> Known:
    """What ``wk up`` on this config watches, read from its store. No store yet: the
    config's monitors; a store that cannot be read: those too, after one line saying so."""
    from watchkeeper.store import Store
    from watchkeeper.store.database import StoreMissingError

    try:
        store = Store.open(config.storage, existing=True)
    except StoreMissingError:
        return known_monitors(config, None)
    except StoreError as exc:
        errors.print(f"{config.path}: {exc}{_LEFT_OUT}", markup=False)
        return known_monitors(config, None)
    try:
        return known_monitors(config, store)
    except StoreError as exc:
        errors.print(f"{config.path}: {exc}{_LEFT_OUT}", markup=False)
        return known_monitors(config, None)
    finally:
        store.close()


_LEFT_OUT = " (monitors defined through the API are not checked, heartbeats not judged)"


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
