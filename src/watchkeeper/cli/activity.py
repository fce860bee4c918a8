"""``wk activity``: the activity log (who changed what), read from the store."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from watchkeeper.cli.common import ConfigOption, JsonOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import parse_duration


def activity(
    config: ConfigOption = DEFAULT_FILE,
    since: Annotated[
        str, typer.Option("--since", metavar="DURATION", help="How far back, e.g. 7d.")
    ] = "7d",
    actor: Annotated[
        str | None, typer.Option("--actor", metavar="NAME", help="Only this actor.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", metavar="VERB", help="This verb and those under it (login)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N")] = 200,
    as_json: JsonOption = False,
) -> None:
    """Show the activity log, newest first: who changed what, when and from where.

    API and dashboard writes, logins (failed ones one line per address and minute), token
    use (first per hour), silences, acknowledgements, reloads and the CLI's writes.
    """
    from watchkeeper import activity as log

    try:
        start = time.time() - parse_duration(since)
    except ValueError as exc:
        fail(f"--since: {exc}")
    if not 1 <= limit <= 100_000:
        fail("--limit: between 1 and 100000")
    store = open_store(load(config), existing=True)
    try:
        found = log.read(store, since=start, actor=actor, action=action, limit=limit)
    finally:
        store.close()
    if as_json:
        print(json.dumps([entry.to_json() for entry in found], indent=2))
        return
    if not found:
        console.print(f"nothing recorded in the last {since}", markup=False)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("when", "actor", "action", "subject", "address", "outcome"):
        table.add_column(column, no_wrap=column != "subject")
    for entry in found:
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.at)),
            Text(entry.actor),
            Text(entry.action + (f" ×{entry.count}" if entry.count > 1 else "")),
            Text(entry.subject or ""),
            Text(entry.address or ""),
            Text(entry.outcome, style="" if entry.outcome == "ok" else "red"),
        )
    console.print(table)
