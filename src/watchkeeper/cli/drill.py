"""``wk drill``: restore drills of backup monitors, now and on record.

    wk drill NAME                 restore NAME's newest backup now, verify it, remove it
    wk drill NAME --file PATH     the same with this backup file
    wk drill history NAME         the drills kept for NAME, newest first
    wk drill report               every backup's last successful restore, RTO and RPO
                                  against its objectives (for an auditor: --format md|html)

NAME is the backup monitor's name (or its drill's, ``NAME drill``). A drill run here is
recorded in the store beside those ``wk up`` runs, so history and the report show both.
Exit 0: passed (report: every backup proven within its objectives); 1: a drill failed or
missed an objective (report: one that is failing, overdue, never drilled or over its
objectives); 2: bad input.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
)
from watchkeeper.config import DEFAULT_FILE, Config, Monitor

if TYPE_CHECKING:
    from watchkeeper.store import Store


HISTORY_DEFAULT = 20


def drill(
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="NAME | history NAME | report",
            help="A backup monitor to drill now; history NAME: its drills; report: all.",
        ),
    ],
    config: ConfigOption = DEFAULT_FILE,
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
    output: OutputOption = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="PATH", help="Drill this backup, not the newest."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="history: how many drills.")
    ] = HISTORY_DEFAULT,
) -> None:
    """Restore a backup into a scratch target, verify it and remove it (or show the drills
    on record).

    The target is a private PostgreSQL cluster, a scratch database on the server the
    monitor's drill names, or a throwaway redis-server, made for the drill and always
    removed. Exit 0: passed (report: every backup proven within its objectives); 1: a
    drill failed or missed an objective; 2: bad input."""
    loaded = load(config)
    action, name = _action(words)
    if action == "report":
        _report(loaded, output_format, output)
    monitor = _drill_monitor(loaded, name)
    if action == "history":
        _history(loaded, monitor, output_format, output, limit)
    _run(loaded, monitor, output_format, output, file)


def _action(words: list[str]) -> tuple[str, str]:
    if words == ["report"]:
        return "report", ""
    if len(words) == 2 and words[0] in ("history", "run"):
        return words[0], words[1]
    if len(words) == 1 and words[0] not in ("history", "run"):
        return "run", words[0]
    fail("usage: wk drill NAME | wk drill history NAME | wk drill report")


def _drill_monitor(config: Config, name: str) -> Monitor:
    """The drill monitor of backup monitor ``name`` (or named ``name``)."""
    monitor = config.monitor(name)
    if monitor is not None and monitor.kind == "backup":
        drill_of = config.monitor(f"{name} drill")
        if drill_of is None:
            fail(
                f"{config.path}: backup monitor '{name}' has no drill: add "
                "drill: {every: 7d} under its backup:"
            )
        return drill_of
    if monitor is not None and monitor.kind == "drill":
        return monitor
    if monitor is not None:
        fail(f"{config.path}: '{name}' is a {monitor.kind} monitor, not a backup")
    backups = sorted(m.name for m in config.monitors if m.kind == "backup")
    hint = (
        f" (backup monitors: {', '.join(backups)})"
        if backups
        else " (there are no backup monitors)"
    )
    fail(f"{config.path}: no monitor named '{name}'{hint}")


# -- run one now ---------------------------------------------------------------------------
def _run(
    config: Config, monitor: Monitor, output_format: Format, output: Path | None, file: Path | None
) -> None:
    from watchkeeper.backup.settings import BackupSpec

    settings: Any = monitor.settings
    spec: BackupSpec = settings.backup
    chosen = None
    if file is not None:
        chosen = _file(file)
    store = _store(config)
    previous = None
    if store is not None:
        previous = _previous(store, monitor.name)
    try:
        record = asyncio.run(_drill(config, settings.monitor, spec, chosen, previous))
    except KeyboardInterrupt:
        errors.print("interrupted: the scratch target was removed", markup=False)
        raise typer.Exit(130) from None
    body = record.as_json()
    if store is not None:
        _record(store, monitor, record)
        store.close()
    _emit_one(body, output_format, output)
    raise typer.Exit(EXIT_OK if record.ok and not record.warnings else EXIT_FAILED)


def _file(path: Path) -> Any:
    from watchkeeper.backup.files import BackupFile

    try:
        stat = path.stat()
    except OSError as exc:
        fail(f"--file: cannot read {path} ({exc.strerror})")
    size = stat.st_size
    if path.is_dir():
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return BackupFile(path=str(path.resolve()), name=path.name, size=size, mtime=stat.st_mtime)


async def _drill(
    config: Config, name: str, spec: Any, chosen: Any, previous: dict[str, int] | None
) -> Any:
    from watchkeeper.backup.drill import drill
    from watchkeeper.engine.drills import sweep

    await sweep(list(config.monitors))  # what an earlier drill, killed mid-way, left
    return await drill(name, spec, file=chosen, previous=previous)


def _store(config: Config) -> Store | None:
    from watchkeeper.errors import StoreError
    from watchkeeper.store import Store

    try:
        return Store.open(config.storage)
    except StoreError as exc:
        errors.print(f"{config.path}: {exc} (the drill runs, but is not recorded)", markup=False)
        return None


def _previous(store: Store, monitor: str) -> dict[str, int] | None:
    from watchkeeper.errors import StoreError

    try:
        reports = store.reports(monitor, 30)
    except StoreError:
        return None
    for report in reports:
        if report.body.get("ok") and isinstance(report.body.get("counts"), dict):
            return {str(k): int(v) for k, v in report.body["counts"].items()}
    return None


def _record(store: Store, monitor: Monitor, record: Any) -> None:
    from watchkeeper.checks.drill import facts
    from watchkeeper.errors import StoreError
    from watchkeeper.model import Phases, Result, State, Transition

    numbers = {k: float(v) for k, v in facts(record).items()}
    result = Result(
        monitor=monitor.name,
        kind="drill",
        started_at=record.started_at,
        ok=not record.failures,
        phases=Phases(total=record.timings.get("total")),
        failures=list(record.failures[1:]),
        error=record.failures[0] if record.failures else None,
        warnings=list(record.warnings),
        metrics=numbers,
        detail=record.as_json(),
    )
    try:
        store.ensure_monitors([(monitor.name, monitor.kind, monitor.target)])
        stored = store.states().get(monitor.name)
        before = stored.state if stored is not None else State.UNKNOWN
        changed = (
            [Transition(monitor.name, record.started_at, before, result.health, result.reason)]
            if before != result.health
            else []
        )
        store.write([result], changed)
    except StoreError as exc:
        errors.print(f"the drill was not recorded: {exc}", markup=False)


def _emit_one(body: dict[str, Any], output_format: Format, output: Path | None) -> None:
    import json

    from watchkeeper.report import drills as render

    if output_format is Format.text and output is None:
        render.print_drill(console, body)
        return
    text = {
        Format.json: lambda: json.dumps(body, indent=2) + "\n",
        Format.md: lambda: render.drill_markdown(body),
        Format.html: lambda: render.drill_html(body),
        Format.text: lambda: render.drill_markdown(body),
    }[output_format]()
    _write(text, output)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    console.print(f"written to {output}", markup=False)


# -- history and the report ------------------------------------------------------------
def _stored(config: Config) -> Store:
    from watchkeeper.cli.common import open_store
    from watchkeeper.store.database import StoreMissingError

    try:
        return open_store(config, existing=True)
    except StoreMissingError:  # pragma: no cover - open_store fails in one line first
        fail(f"{config.path}: no store yet")


def _history(
    config: Config, monitor: Monitor, output_format: Format, output: Path | None, limit: int
) -> None:
    import json

    from watchkeeper.report import drills as render

    store = _stored(config)
    try:
        records = [r.body for r in store.reports(monitor.name, limit)]
    finally:
        store.close()
    backup = str(getattr(monitor.settings, "monitor", monitor.name))
    if output_format is Format.text and output is None:
        render.print_history(console, backup, records)
    elif output_format is Format.json:
        _write(json.dumps({"backup": backup, "drills": records}, indent=2) + "\n", output)
    elif output_format is Format.html:
        _write(render.history_html(backup, records), output)
    else:
        _write(render.history_markdown(backup, records), output)
    raise typer.Exit(EXIT_OK)


def _report(config: Config, output_format: Format, output: Path | None) -> None:
    from watchkeeper.backup.evidence import evidence
    from watchkeeper.report import drills as render

    store = _stored(config)
    try:
        rows = evidence(config.monitors, store)
    finally:
        store.close()
    if output_format is Format.text and output is None:
        render.print_evidence(console, rows)
    elif output_format is Format.json:
        _write(render.evidence_json(rows) + "\n", output)
    elif output_format is Format.html:
        _write(render.evidence_html(rows, generated=time.time()), output)
    else:
        _write(render.evidence_markdown(rows, generated=time.time()), output)
    raise typer.Exit(EXIT_OK if rows and all(r.status == "ok" for r in rows) else EXIT_FAILED)


__all__ = ["drill"]
