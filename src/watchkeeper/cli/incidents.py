"""``wk incidents``, ``wk incident show|ack|export``: what went wrong, when, and who knows."""

from __future__ import annotations

import getpass
import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from watchkeeper.activity import record_cli
from watchkeeper.alerts import actions
from watchkeeper.cli.common import ConfigOption, JsonOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE, Config
from watchkeeper.store import Store
from watchkeeper.store import alerts as db
from watchkeeper.units import format_duration, plural

incident_app = typer.Typer(help="One incident: show, acknowledge, export.", no_args_is_help=True)

_STYLE = {"down": "bold red", "degraded": "yellow", "flapping": "magenta", "up": "green"}


def _clock(at: float | None) -> str:
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _lasted(incident: db.Incident, now: float) -> str:
    end = incident.closed_at if incident.closed_at is not None else now
    return format_duration(max(0.0, end - incident.opened_at))


def incidents(
    config: ConfigOption = DEFAULT_FILE,
    open_only: Annotated[bool, typer.Option("--open", help="Only incidents not resolved.")] = False,
    monitor: Annotated[
        str | None, typer.Option("--monitor", "-m", metavar="NAME", help="Only this monitor.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List incidents, newest first."""
    store = open_store(load(config), existing=True)
    try:
        with store.read() as connection:
            found = db.incidents(connection, open_only=open_only, limit=limit, monitor=monitor)
    finally:
        store.close()
    if as_json:
        print(json.dumps([i.to_json() for i in found], indent=2))
        return
    if not found:
        console.print("no open incidents" if open_only else "no incidents")
        return
    now = time.time()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("id", "monitor", "state", "opened", "lasted", "acknowledged", "reason"):
        table.add_column(column, no_wrap=column != "reason")
    for incident in found:
        state = incident.state if incident.open else f"resolved ({incident.worst})"
        table.add_row(
            str(incident.id),
            Text(incident.monitor),
            Text(state, style=_STYLE.get(incident.state if incident.open else "up", "")),
            _clock(incident.opened_at),
            _lasted(incident, now) + ("" if incident.closed_at else " so far"),
            Text(incident.acked_by or ("yes" if incident.acked_at else "")),
            Text(incident.reason or ""),
        )
    console.print(table)


def _one(config: Config, incident_id: int) -> tuple[Store, db.Incident]:
    store = open_store(config, existing=True)
    with store.read() as connection:
        incident = db.incident(connection, incident_id)
    if incident is None:
        store.close()
        fail(f"no incident {incident_id}")
    return store, incident


@incident_app.command("show")
def show(
    incident_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = DEFAULT_FILE,
    as_json: JsonOption = False,
) -> None:
    """An incident with its timeline."""
    loaded = load(config)
    store, incident = _one(loaded, incident_id)
    monitor = loaded.monitor(incident.monitor)
    runbook = monitor.runbook if monitor else None
    try:
        with store.read() as connection:
            timeline = db.timeline(connection, incident_id)
    finally:
        store.close()
    if as_json:
        data = incident.to_json()
        data["runbook"] = runbook
        data["timeline"] = [{"at": e.at, "kind": e.kind, "text": e.text} for e in timeline]
        print(json.dumps(data, indent=2))
        return
    now = time.time()
    status = "open" if incident.open else "resolved"
    console.print(
        Text.assemble(
            (f"incident {incident.id}: ", "bold"),
            (incident.monitor, "bold"),
            f" — {status}, {incident.state}, lasted {_lasted(incident, now)}",
        )
    )
    if incident.reason:
        console.print(Text(f"reason: {incident.reason}"))
    if incident.cause:
        console.print(Text(f"caused by: {incident.cause}"))
    if runbook:
        console.print(Text(f"runbook: {runbook}"))
    if incident.acked_at:
        console.print(Text(f"acknowledged by {incident.acked_by} at {_clock(incident.acked_at)}"))
    for entry in timeline:
        console.print(Text(f"  {_clock(entry.at)}  {entry.kind:<12} {entry.text}"))


@incident_app.command("ack")
def ack(
    incident_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = DEFAULT_FILE,
    by: Annotated[
        str | None, typer.Option("--by", metavar="NAME", help="Who (default: your login).")
    ] = None,
) -> None:
    """Acknowledge an incident: reminders and escalation stop."""
    who = by or getpass.getuser()
    store, _ = _one(load(config), incident_id)
    try:
        incident, already = actions.acknowledge(store, incident_id, who)
        record_cli(store, "incident.ack", str(incident_id), detail={"by": who, "already": already})
    except actions.ActionError as exc:
        record_cli(store, "incident.ack", str(incident_id), outcome="failed")
        fail(str(exc))
    finally:
        store.close()
    if already:
        console.print(
            f"incident {incident_id} was acknowledged by {incident.acked_by} "
            f"at {_clock(incident.acked_at)}"
        )
        return
    resolved = "" if incident.open else " (it is already resolved)"
    console.print(
        Text(f"incident {incident_id} ({incident.monitor}) acknowledged by {who}{resolved}")
    )


@incident_app.command("export")
def export(
    incident_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = DEFAULT_FILE,
) -> None:
    """A Markdown postmortem skeleton: summary, timeline and the results around it."""
    loaded = load(config)
    store, incident = _one(loaded, incident_id)
    monitor = loaded.monitor(incident.monitor)
    try:
        with store.read() as connection:
            timeline = db.timeline(connection, incident_id)
        end = incident.closed_at if incident.closed_at is not None else time.time()
        around = store.results(incident.monitor, incident.opened_at - 300, end + 300, 500)
    finally:
        store.close()
    print(postmortem(incident, timeline, around, monitor.runbook if monitor else None))


def postmortem(
    incident: db.Incident,
    timeline: list[db.TimelineEntry],
    around: list[Any],
    runbook: str | None = None,
) -> str:
    now = time.time()
    lines = [
        f"# Postmortem: {incident.monitor} {incident.worst} ({_clock(incident.opened_at)})",
        "",
        "| | |",
        "|---|---|",
        f"| Monitor | {incident.monitor} |",
        f"| Started | {_clock(incident.opened_at)} |",
        f"| Resolved | {_clock(incident.closed_at) or 'not yet'} |",
        f"| Duration | {_lasted(incident, now)} |",
        f"| Worst state | {incident.worst} |",
        f"| Reason | {incident.reason or ''} |",
        f"| Caused by | {incident.cause or ''} |",
        f"| Acknowledged | {incident.acked_by or ''} {_clock(incident.acked_at)} |",
        f"| Runbook | {runbook or ''} |",
        "",
        "## Summary",
        "",
        "_What happened, in two sentences._",
        "",
        "## Impact",
        "",
        "_Who noticed what, for how long._",
        "",
        "## Timeline",
        "",
    ]
    lines += [f"- {_clock(e.at)} — **{e.kind}** — {e.text}" for e in timeline]
    failed = [r for r in around if not r.ok]
    lines += [
        "",
        "## Checks around the incident",
        "",
        f"{plural(len(around), 'check')} from 5 minutes before to 5 minutes after; "
        f"{len(failed)} failed.",
        "",
        "| time | result | latency | detail |",
        "|---|---|---|---|",
    ]
    for result in around[-60:]:
        latency = "" if result.latency is None else format_duration(result.latency)
        detail = (result.reason or "").replace("|", "\\|")
        lines.append(
            f"| {_clock(result.started_at)} | {'ok' if result.ok else 'FAILED'} | "
            f"{latency} | {detail} |"
        )
    lines += [
        "",
        "## Root cause",
        "",
        "_Why it happened; keep asking why._",
        "",
        "## Resolution",
        "",
        "_What fixed it._",
        "",
        "## Action items",
        "",
        "- [ ] _owner — what — by when_",
        "",
    ]
    return "\n".join(lines)
