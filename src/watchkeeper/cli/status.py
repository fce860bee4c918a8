"""``wk status`` and ``wk history``: what the store knows, without a running server."""

from __future__ import annotations

import difflib
import json
import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from watchkeeper.cli.common import ConfigOption, JsonOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE, Monitor
from watchkeeper.model import Result, State, StoredState
from watchkeeper.store import alerts as db
from watchkeeper.units import format_duration, parse_duration, plural

_STYLE = {
    "broken": "bold red",
    "flapping": "magenta",
    "up": "green",
    "down": "bold red",
    "degraded": "yellow",
    "unknown": "dim",
    "paused": "dim",
}


def status(config: ConfigOption = DEFAULT_FILE, as_json: JsonOption = False) -> None:
    """Show each monitor's state, last latency and since when (the config's, then those
    defined through the API, and any stored definition that is broken and not watched)."""
    from watchkeeper.engine.defined import api_monitors

    loaded = load(config)
    store = open_store(loaded, existing=True)
    try:
        states = store.states()
        latest = store.latest_results()
        defined = api_monitors(store, loaded)
        rows = [
            _row(monitor, source, states.get(monitor.name), latest.get(monitor.name))
            for monitors, source in ((loaded.monitors, "config"), (defined.monitors, "api"))
            for monitor in monitors
        ]
        rows += [
            {
                "monitor": broken.name,
                "kind": broken.kind,
                "source": "api",
                "state": "broken",
                "since": None,
                "reason": f"not watched: {broken.reason}",
                "last_check": None,
                "last_ok": None,
                "latency_ms": None,
                "last_reason": None,
            }
            for broken in defined.broken
        ]
        with store.read() as connection:
            health = db.route_health(connection)
            open_incidents = db.incidents(connection, open_only=True, limit=1000)
            outbox = db.outbox_depth(connection)
    finally:
        store.close()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    now = time.time()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("monitor", "kind", "state", "since", "latency", "last check", "reason"):
        table.add_column(column, no_wrap=column != "reason")
    for row in rows:
        latency = row["latency_ms"]
        table.add_row(
            Text(row["monitor"]),  # Text: a name like "db[replica]" is not Rich markup
            row["kind"],
            Text(row["state"], style=_STYLE.get(row["state"], "")),
            _ago(row["since"], now),
            "" if latency is None else format_duration(latency / 1000),
            _ago(row["last_check"], now),
            Text(row["reason"] or row["last_reason"] or "", style="red"),
        )
    console.print(table)
    broken = [h for h in health.values() if h.broken_since is not None]
    for route in broken:
        console.print(
            Text(
                f"route '{route.route}' is broken since {_ago(route.broken_since, now)}: "
                f"{route.last_error}",
                style="bold red",
            )
        )
    if open_incidents:
        console.print(f"{plural(len(open_incidents), 'open incident')} (wk incidents --open)")
    if outbox:
        console.print(f"{plural(outbox, 'notification')} waiting to be delivered")


def _row(
    monitor: Monitor, source: str, saved: StoredState | None, newest: Result | None
) -> dict[str, Any]:
    state = State.PAUSED if monitor.paused else (saved.state if saved else State.UNKNOWN)
    troubled = state in (State.DOWN, State.DEGRADED, State.FLAPPING)
    return {
        "monitor": monitor.name,
        "kind": monitor.kind,
        "source": source,
        "state": str(state),
        "since": saved.since if saved else None,
        "reason": saved.reason if saved and troubled else None,
        "last_check": newest.started_at if newest else None,
        "last_ok": newest.ok if newest else None,
        "latency_ms": newest.phases.as_ms()["total"] if newest else None,
        "last_reason": newest.reason if newest else None,
    }


def history(
    name: Annotated[str, typer.Argument(help="The monitor.")],
    config: ConfigOption = DEFAULT_FILE,
    since: Annotated[
        str, typer.Option("--since", metavar="DURATION", help="How far back, e.g. 24h, 7d.")
    ] = "24h",
    as_json: JsonOption = False,
) -> None:
    """Uptime, latency percentiles, state changes and recent failures of one monitor (of
    the config, or defined through the API)."""
    from watchkeeper.engine.defined import api_monitors

    loaded = load(config)
    try:
        span = parse_duration(since)
    except ValueError as exc:
        fail(f"--since: {exc}")
    until = time.time()
    start = until - span
    store = open_store(loaded, existing=True)
    try:
        if loaded.monitor(name) is None:
            defined = api_monitors(store, loaded)
            names = [m.name for m in (*loaded.monitors, *defined.monitors)]
            names += [broken.name for broken in defined.broken]  # its history is there
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                fail(
                    f"{config}: no monitor named '{name}'"
                    + (f" (did you mean '{close[0]}'?)" if close else "")
                )
        summary = store.summary(name, start, until)
        failures = store.results(name, start, until, 10, failed_only=True, newest_first=True)
        failures.reverse()  # shown oldest first
        changes = store.transitions(name, start)
    finally:
        store.close()
    if as_json:
        print(
            json.dumps(
                {
                    "monitor": name,
                    "since": start,
                    "until": until,
                    "resolution": summary.resolution,
                    "checks": summary.checks,
                    "failures": summary.failures,
                    "uptime": summary.uptime,
                    "latency_ms": {
                        k: None if v is None else round(v * 1000, 3)
                        for k, v in (
                            ("p50", summary.latency_p50),
                            ("p95", summary.latency_p95),
                            ("p99", summary.latency_p99),
                            ("max", summary.latency_max),
                        )
                    },
                    "state_changes": [
                        {
                            "at": t.at,
                            "from": str(t.from_state),
                            "to": str(t.to_state),
                            "reason": t.reason,
                        }
                        for t in changes
                    ],
                    "recent_failures": [{"at": r.started_at, "reason": r.reason} for r in failures],
                },
                indent=2,
            )
        )
        return
    uptime = "n/a" if summary.uptime is None else f"{summary.uptime * 100:.3f}%"
    console.print(
        f"[bold]{escape(name)}[/] over the last {escape(since)}: uptime {uptime} "
        f"({plural(summary.checks, 'check')}, {summary.failures} failed)"
    )

    def show(value: float | None) -> str:
        return "-" if value is None else format_duration(value)

    console.print(
        f"latency p50 {show(summary.latency_p50)}  p95 {show(summary.latency_p95)}  "
        f"p99 {show(summary.latency_p99)}  max {show(summary.latency_max)}"
    )
    if changes:
        console.print("[bold]state changes[/]")
        for t in changes[-10:]:
            console.print(
                f"  {_clock(t.at)}  {t.from_state} → {t.to_state}"
                + (f"  {t.reason}" if t.reason else ""),
                markup=False,
            )
    if failures:
        console.print("[bold]recent failures[/]")
        for r in failures:
            console.print(f"  {_clock(r.started_at)}  {r.reason}", markup=False)


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _ago(at: float | None, now: float) -> str:
    if not at:
        return ""
    return f"{format_duration(max(0.0, now - at))} ago"
