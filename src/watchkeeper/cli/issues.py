"""``wk errors``: the issues Sentry SDKs' events were grouped into."""

from __future__ import annotations

import json
import time
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
    open_store,
)
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.store import projects as project_rows
from watchkeeper.store.issues import STATUSES
from watchkeeper.units import format_duration

_STYLE = {"unresolved": "bold red", "resolved": "green", "ignored": "dim"}


def errors(
    config: ConfigOption = DEFAULT_FILE,
    project: Annotated[
        str | None, typer.Option("--project", "-p", metavar="NAME", help="Only this project.")
    ] = None,
    status: Annotated[
        str,
        typer.Option(
            "--status", "-s", metavar="unresolved|resolved|ignored|all", help="Only these."
        ),
    ] = "unresolved",
    limit: Annotated[int, typer.Option("--limit", metavar="N")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List error issues, the most recently seen first: title, where, events, users, last
    seen, status.

    Exit 1 when an unresolved issue is listed, else 0."""
    if status != "all" and status not in STATUSES:
        fail(f"--status: unknown status '{status}': use {', '.join(STATUSES)} or all")
    if not 1 <= limit <= 10_000:
        fail("--limit: from 1 to 10000")
    loaded = load(config)
    store = open_store(loaded, existing=True)
    try:
        project_id = None
        if project is not None:
            with store.read() as connection:
                found = project_rows.project(connection, name=project)
            if found is None:
                fail(f"{loaded.path}: no project named '{project}' (wk project list)")
            project_id = found.id
        issues, total = store.error_issues(
            project_id=project_id, status=None if status == "all" else status, limit=limit
        )
    finally:
        store.close()
    code = EXIT_FAILED if any(i.status == "unresolved" for i in issues) else EXIT_OK
    if as_json:
        print(json.dumps([issue.to_json() for issue in issues], indent=2))
        raise typer.Exit(code)
    if not issues:
        console.print("no issues" if status == "all" else f"no {status} issues")
        raise typer.Exit(code)
    now = time.time()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("id", "status", "events", "users", "last seen", "project", "issue"):
        table.add_column(column, justify="right" if column in ("events", "users") else "left")
    for issue in issues:
        described = Text(issue.title)
        if issue.culprit:
            described.append(f"  {issue.culprit}", style="dim")
        table.add_row(
            str(issue.id),
            Text(issue.status, style=_STYLE.get(issue.status, "")),
            f"{issue.count:,}",
            f"{issue.users:,}",
            f"{format_duration(max(0.0, now - issue.last_seen))} ago",
            Text(issue.project),
            described,
        )
    console.print(table)
    if total > len(issues):
        console.print(f"… {total - len(issues)} more (--limit)", markup=False)
    raise typer.Exit(code)
