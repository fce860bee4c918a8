"""``wk diagnose``: what changed and why — the monitors' drift and latency phases from the
store of a running ``wk up``, and the Postgres, Redis and host advisors, as ranked Findings
(text, Markdown, HTML or JSON). ``wk diagnose series`` runs the drift detector over any
``timestamp,value`` CSV."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigOption,
    Format,
    OutputOption,
    console,
    errors,
    fail,
    load,
    open_store,
)
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import format_duration, parse_duration, plural

if TYPE_CHECKING:
    from watchkeeper.config import Config
    from watchkeeper.diagnosis import Diagnosis, Request

diagnose_app = typer.Typer(invoke_without_command=True)


@diagnose_app.callback()
def diagnose(
    ctx: typer.Context,
    config: ConfigOption = DEFAULT_FILE,
    monitor: Annotated[
        list[str] | None,
        typer.Option(
            "--monitor", "-m", metavar="NAME", help="Only this monitor (repeatable; no advisors)."
        ),
    ] = None,
    since: Annotated[
        str, typer.Option(metavar="DURATION", help="The recent period to explain.")
    ] = "6h",
    baseline: Annotated[
        str,
        typer.Option(metavar="DURATION", help="How far before it the baseline reaches."),
    ] = "1d",
    postgres: Annotated[
        list[str] | None,
        typer.Option("--postgres", metavar="DSN", help="Advise on this database (repeatable)."),
    ] = None,
    redis: Annotated[
        list[str] | None,
        typer.Option("--redis", metavar="URL", help="Advise on this Redis (repeatable)."),
    ] = None,
    host: Annotated[bool, typer.Option("--host", help="Advise on this machine.")] = False,
    analyze: Annotated[
        bool,
        typer.Option("--analyze", help="EXPLAIN ANALYZE suspect queries (runs them; rolled back)."),
    ] = False,
    profile: Annotated[
        int | None,
        typer.Option(
            "--profile",
            metavar="PID",
            help="Also sample this Python process with py-spy: its hottest functions.",
        ),
    ] = None,
    profile_duration: Annotated[
        str,
        typer.Option("--profile-duration", metavar="DURATION", help="How long to sample it."),
    ] = "10s",
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
    output: OutputOption = None,
) -> None:
    """Why is it getting slower? Drift, latency phases, Postgres/Redis/host advisors.

    What changed, when, where the time goes and what to do about it, ranked.

    With a config: every monitor's latency drift, spikes, failures and phase shifts over
    --since against the --baseline before it (from the store `wk up` writes), and the
    advisors for the config's postgres, redis and host monitors. --postgres, --redis and
    --host name the advisors' targets instead (and work without a config). Exit 0 when
    nothing is worth a warning, 1 when something is, 2 on bad input or a target that could
    not be looked at. --profile PID samples a Python process with py-spy at the same time
    and adds its hottest functions (wk profile writes the flame graph).
    """
    if ctx.invoked_subcommand is not None:
        return
    sampling = _duration(profile_duration, "--profile-duration") if profile is not None else 0
    from watchkeeper.diagnosis import Request, Target, Window, diagnosable, targets_of

    window = Window(
        now=time.time(),
        since=_duration(since, "--since"),
        baseline=_duration(baseline, "--baseline"),
    )
    from watchkeeper.advisors import targets as shown

    targets = [Target("postgres", dsn, shown.postgres(dsn).label) for dsn in postgres or ()]
    explicit_profile = profile is not None
    targets += [Target("redis", url, shown.redis(url).label) for url in redis or ()]
    if host:
        targets.append(Target("host", "", "this machine"))
    loaded: Config | None = None
    explicit = bool(targets) or explicit_profile
    if os.path.exists(config) or not explicit or monitor:
        loaded = load(config)
    store = None
    names: list[str] = []
    secrets: frozenset[str] = frozenset()
    if loaded is not None:
        secrets = loaded.secrets
        known = {m.name: m for m in loaded.monitors}
        for name in monitor or ():
            if name not in known:
                fail(f"{config}: no monitor named '{name}'")
        chosen = [known[n] for n in monitor] if monitor else list(loaded.monitors)
        names = diagnosable(chosen)
        if not monitor and not explicit:
            targets += targets_of(loaded, chosen)
        store = open_store(loaded, existing=True)
    request = Request(
        window=window,
        store=store,
        monitors=names,
        targets=targets,
        analyze=analyze,
        secrets=secrets,
    )
    try:
        found = asyncio.run(_diagnose_and_profile(request, profile, sampling))
    finally:
        if store is not None:
            store.close()
    _emit(found, output_format, output, window.now)
    from watchkeeper.findings import Severity

    if found.errors:
        raise typer.Exit(EXIT_USAGE)
    serious = any(f.severity is not Severity.info for f in found.findings)
    raise typer.Exit(EXIT_FAILED if serious else EXIT_OK)


async def _diagnose_and_profile(request: Request, pid: int | None, seconds: float) -> Diagnosis:
    """The diagnosis, and the profile of ``pid`` sampled meanwhile (its finding ranked in)."""
    from watchkeeper.diagnosis import diagnose

    if pid is None:
        return await diagnose(request)
    from watchkeeper.findings import ranked
    from watchkeeper.profile.findings import finding
    from watchkeeper.profile.spy import ProfileError, record
    from watchkeeper.profile.spy import Request as Sampling

    found, sampled = await asyncio.gather(
        diagnose(request),
        record(Sampling(pid=pid, duration=seconds)),
        return_exceptions=True,
    )
    if isinstance(found, BaseException):
        raise found
    if isinstance(sampled, ProfileError):
        found.errors.append(f"profile of process {pid}: {sampled}")
    elif isinstance(sampled, BaseException):
        raise sampled
    else:
        found.findings = ranked([*found.findings, finding(sampled, f"process {pid}", seconds)])
        found.looked_at.append(f"profile of process {pid}")
    return found


def _duration(text: str, option: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        fail(f"{option}: {exc}")
    if seconds <= 0:
        fail(f"{option}: must be above zero, not {format_duration(seconds)}")
    return seconds


def _emit(found: Diagnosis, output_format: Format, output: Path | None, now: float) -> None:
    from watchkeeper.report import findings as render

    if output_format is Format.text and output is None:
        render.print_text(console, found.findings, found.errors, found.looked_at)
        return
    for error in found.errors if output_format is not Format.text else ():
        errors.print(f"cannot look at {error}", markup=False)
    if output_format is Format.json:
        text = json.dumps(found.as_json(), indent=2) + "\n"
    elif output_format is Format.md:
        text = render.markdown(found.findings, found.errors, found.looked_at)
    elif output_format is Format.html:
        text = render.html_report(found.findings, found.errors, found.looked_at, generated=now)
    else:
        from io import StringIO

        from rich.console import Console

        buffer = StringIO()
        render.print_text(
            Console(file=buffer, width=120, highlight=False, soft_wrap=True),
            found.findings,
            found.errors,
            found.looked_at,
        )
        text = buffer.getvalue()
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    console.print(f"{plural(len(found.findings), 'finding')} written to {output}")


@diagnose_app.command("series")
def series(
    source: Annotated[Path, typer.Argument(metavar="FILE.csv", help="timestamp,value rows.")],
    out: Annotated[
        Path, typer.Option("--scores", metavar="OUT.csv", help="Where timestamp,anomaly_score go.")
    ],
) -> None:
    """Score every row of a timestamp,value CSV for anomalies (0 to 1, each from the rows
    before it only) and write timestamp,anomaly_score rows.

    Timestamps are ISO 8601 (UTC unless they say otherwise) or epoch seconds; the detector
    learns the hour of day from them (after two days of data). It scores nothing while it is
    learning: its first day of rows (at least 200, at most 400), and 50 more.
    """
    from watchkeeper.analysis.drift import scores

    stamps, values, times = _read(source)
    found = scores(np.asarray(values, dtype=np.float64), times=np.asarray(times))
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "anomaly_score"])
            writer.writerows(
                (stamp, f"{score:.6f}") for stamp, score in zip(stamps, found, strict=True)
            )
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
    high = int((found >= 0.9).sum())
    console.print(f"{plural(len(values), 'row')} scored; {high} at 0.9 or more; written to {out}")


def _epoch(text: str) -> float | None:
    """Epoch seconds of a timestamp: a number, or ISO 8601 (UTC unless it says otherwise)."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return number if math.isfinite(number) else None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _read(source: Path) -> tuple[list[str], list[float], list[float]]:
    try:
        handle = source.open(newline="", encoding="utf-8")
    except OSError as exc:
        fail(f"{source}: cannot read ({exc.strerror})")
    stamps: list[str] = []
    values: list[float] = []
    times: list[float] = []
    with handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
            fail(f"{source}:1: expected the header timestamp,value")
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) < 2:
                fail(f"{source}:{line}: expected timestamp,value")
            try:
                value = float(row[1])
            except ValueError:
                fail(f"{source}:{line}: '{row[1]}' is not a number")
            if not math.isfinite(value):
                fail(f"{source}:{line}: '{row[1]}' is not a finite number")
            when = _epoch(row[0])
            if when is None:
                fail(f"{source}:{line}: '{row[0]}' is not a time (ISO 8601 or epoch seconds)")
            stamps.append(row[0])
            values.append(value)
            times.append(when)
    if not values:
        fail(f"{source}: no rows after the header")
    return stamps, values, times
