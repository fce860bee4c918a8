"""``wk silence add|list|expire``: hold a monitor's (or a tag's) notifications for a while.

Checks go on and are recorded while a silence holds; when it ends with the monitor still
down, the problem is announced once. Recoveries of problems already announced are never held.
"""

from __future__ import annotations

import getpass
import json
import time
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from watchkeeper.activity import record_cli
from watchkeeper.alerts import actions
from watchkeeper.cli.common import ConfigOption, JsonOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.store import alerts as db
from watchkeeper.units import format_duration, parse_duration

silence_app = typer.Typer(
    help="Hold notifications while you work on something.", no_args_is_help=True
)


@silence_app.command("add")
def add(
    config: ConfigOption = DEFAULT_FILE,
    monitor: Annotated[str | None, typer.Option("--monitor", "-m", metavar="NAME")] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", metavar="TAG")] = None,
    lasting: Annotated[str, typer.Option("--for", metavar="DURATION", help="e.g. 2h")] = "1h",
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT")] = None,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME")] = None,
) -> None:
    """Silence a monitor or every monitor with a tag, starting now."""
    loaded = load(config)
    if (monitor is None) == (tag is None):
        fail("give --monitor NAME or --tag TAG (one of them)")
    try:
        span = parse_duration(lasting)
    except ValueError as exc:
        fail(f"--for: {exc}")
    store = open_store(loaded, existing=True)
    try:
        silence = actions.add_silence(
            store,
            loaded.monitors,
            monitor=monitor,
            tag=tag,
            lasting=span,
            reason=reason,
            by=by or getpass.getuser(),
        )
        record_cli(
            store,
            "silence.create",
            monitor or tag,
            detail={
                "id": silence.id,
                "monitor": monitor,
                "tag": tag,
                "for": lasting,
                "reason": reason,
            },
        )
    except actions.ActionError as exc:
        fail(str(exc))
    finally:
        store.close()
    what = f"monitor {monitor}" if monitor else f"tag {tag}"
    console.print(
        Text(
            f"silence #{silence.id}: {what} for {format_duration(span)}"
            + (f" ({reason})" if reason else "")
        )
    )


@silence_app.command("list")
def list_(
    config: ConfigOption = DEFAULT_FILE,
    everything: Annotated[bool, typer.Option("--all", help="Ended ones too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Silences in force (or all of them)."""
    now = time.time()
    store = open_store(load(config), existing=True)
    try:
        with store.read() as connection:
            found = db.silences(connection, current_at=None if everything else now)
    finally:
        store.close()
    if as_json:
        print(
            json.dumps(
                [s.to_json(now) for s in found],
                indent=2,
            )
        )
        return
    if not found:
        console.print("no silences")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("id", "matches", "ends", "by", "reason"):
        table.add_column(column)
    for silence in found:
        matches = f"monitor {silence.monitor}" if silence.monitor else f"tag {silence.tag}"
        if silence.expired_at is not None:
            ends = "expired"
        elif silence.ends_at <= now:
            ends = "ended"
        else:
            ends = f"in {format_duration(silence.ends_at - now)}"
        table.add_row(
            str(silence.id),
            Text(matches),
            ends,
            Text(silence.created_by or ""),
            Text(silence.reason or ""),
        )
    console.print(table)


@silence_app.command("expire")
def expire(
    silence_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """End a silence now."""
    store = open_store(load(config), existing=True)
    try:
        with store.transaction() as connection:
            ended = db.expire_silence(connection, silence_id, time.time())
        record_cli(store, "silence.expire", str(silence_id), outcome="ok" if ended else "failed")
    finally:
        store.close()
    if not ended:
        fail(f"no silence #{silence_id} in force")
    console.print(f"silence #{silence_id} expired")
