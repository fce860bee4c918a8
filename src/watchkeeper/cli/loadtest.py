"""``wk loadtest TARGET``: an open-model load test (or a closed one with ``--users``), with a
live display, thresholds for CI, and JSON/HTML reports.

Exit codes: 0 all thresholds held (or none given), 1 a threshold failed, 2 usage error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.text import Text

from watchkeeper.cli.common import EXIT_FAILED, console, fail
from watchkeeper.errors import ConfigError
from watchkeeper.loadtest import plan as plans
from watchkeeper.loadtest.generator import Second, Settings, Tally
from watchkeeper.loadtest.results import summarize
from watchkeeper.loadtest.runner import Job, run, workers_for
from watchkeeper.loadtest.target import Target, from_scenario, from_url, is_private
from watchkeeper.units import format_duration, parse_duration, plural

MAX_DURATION = "10m"
MAX_RATE = "20000/s"


def load_target(text: str, method: str, headers: list[str]) -> Target:
    """A URL, or a scenario file (one located line when it is wrong)."""
    try:
        if text.startswith(("http://", "https://")):
            parsed = {}
            for header in headers:
                name, sep, value = header.partition(":")
                if not sep or not name.strip():
                    fail(f"--header '{header}': use 'Name: value'")
                parsed[name.strip()] = value.strip()
            return from_url(text, method=method, headers=parsed)
        if not os.path.exists(text):
            fail(f"'{text}' is neither an http(s):// URL nor a scenario file")
        return from_scenario(text)
    except ConfigError as exc:
        for line in exc.lines()[:20]:
            console.print(line, markup=False, style="red")
        raise typer.Exit(2) from None
    except ValueError as exc:
        fail(str(exc))


def check_safety(target: Target, yes: bool) -> None:
    host = target.endpoint.host
    if not yes and not is_private(host):
        fail(
            f"refusing to load-test {host}: it is not a loopback or private address. If it is "
            "yours and you mean it, add --yes"
        )


def check_caps(seconds: float, rate: float, max_duration: str, max_rate: str) -> float:
    """Refuse a test over the duration or rate cap; the rate cap (req/s), which also holds
    a closed-model run's users back."""
    try:
        duration_cap = parse_duration(max_duration)
        rate_cap = plans.parse_rate(max_rate)
    except ValueError as exc:
        fail(str(exc))
    if seconds > duration_cap:
        fail(
            f"a {format_duration(seconds)} test is over the {format_duration(duration_cap)} cap; "
            "lift it with --max-duration (e.g. --max-duration 1h)"
        )
    if rate > rate_cap:
        fail(
            f"{rate:,.0f} req/s is over the {rate_cap:,.0f} req/s cap; lift it with --max-rate "
            "(e.g. --max-rate 100000/s)"
        )
    return rate_cap


NotConfig = Annotated[str | None, typer.Option("-c", hidden=True, show_default=False)]
"""``-c`` is ``--config`` in every wk command; these two read none, and once took ``-c`` for
``--connections``: say so instead of running with it."""


def refuse_c(command: str, value: str | None) -> None:
    if value is not None:
        fail(
            f"-c means --config in every wk command, and wk {command} reads no config; for "
            f"the connection pool cap write --connections {value}"
        )


class Progress:
    """The live line while a test runs."""

    def __init__(self, job: Job, enabled: bool) -> None:
        self.job = job
        self.enabled = enabled
        self.live: Live | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self.live = Live(Text("starting…"), console=console, auto_refresh=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def second(self, second: Second, tally: Tally) -> None:
        if self.live is None:
            return
        histogram = second.latency
        p99 = (
            histogram.get_value_at_percentile(99) / 1000
            if histogram is not None and histogram.get_total_count()
            else 0.0
        )
        done = min(1.0, (second.at + 1) / max(self.job.duration, 1))
        bar = "█" * int(done * 20) + "░" * (20 - int(done * 20))
        line = Text(
            f"{bar} {second.at + 1:>4}s/{self.job.duration:g}s  offered {second.offered:>7,}/s  "
            f"answered {second.completed:>7,}/s  p99 {p99:8.1f}ms  errors {second.errors:,}"
        )
        self.live.update(line, refresh=True)


def loadtest(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="A URL or a scenario file.")],
    rate: Annotated[
        str,
        typer.Option("--rate", "-r", metavar="RATE", help="Arrivals per second (open model)."),
    ] = "100/s",
    duration: Annotated[
        str, typer.Option("--duration", "-d", metavar="DURATION", help="e.g. 30s, 5m.")
    ] = "30s",
    ramp: Annotated[
        str | None,
        typer.Option(
            "--ramp", metavar="RAMP", help="100/s:2000/s:5m, or stages 100/s:30s,500/s:1m."
        ),
    ] = None,
    users: Annotated[
        int | None, typer.Option("--users", "-u", help="Closed model: this many users.")
    ] = None,
    connections: Annotated[int, typer.Option("--connections", help="Pool cap.")] = 100,
    workers: Annotated[str, typer.Option("--workers", "-w", help="auto or a number.")] = "1",
    poisson: Annotated[bool, typer.Option("--poisson", help="Poisson arrivals.")] = False,
    timeout: Annotated[
        str, typer.Option("--timeout", metavar="DURATION", help="Per request.")
    ] = "10s",
    slo: Annotated[
        str | None,
        typer.Option("--slo", metavar="SLO", help='Thresholds, e.g. "p99<300ms,errors<1%".'),
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the summary.")
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Write the report.")
    ] = None,
    method: Annotated[str, typer.Option("--method", "-X", metavar="METHOD")] = "GET",
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", metavar="HEADER", help="'Name: value' (repeatable)."),
    ] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify TLS.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Allow a public target.")] = False,
    max_duration: Annotated[str, typer.Option("--max-duration", metavar="DURATION")] = MAX_DURATION,
    max_rate: Annotated[str, typer.Option("--max-rate", metavar="RATE")] = MAX_RATE,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live display.")] = False,
    not_config: NotConfig = None,
) -> None:
    """Load-test TARGET: open model by default, latency from each request's intended time."""
    refuse_c("loadtest", not_config)
    try:
        thresholds = plans.parse_slo(slo) if slo else ()
        per_request = parse_duration(timeout)
        count = workers_for(workers)
        if users is not None:
            if users < 1:
                raise ValueError("--users must be at least 1")
            profile = None
            seconds = parse_duration(duration)
            peak = 0.0
        else:
            profile = (
                plans.parse_ramp(ramp)
                if ramp
                else plans.constant(plans.parse_rate(rate), parse_duration(duration))
            )
            seconds, peak = profile.seconds, profile.peak
        if connections < 1:
            raise ValueError("--connections must be at least 1")
    except ValueError as exc:
        fail(str(exc))
    chosen = load_target(target, method, header or [])
    check_safety(chosen, yes)
    rate_cap = check_caps(seconds, peak, max_duration, max_rate)
    settings = Settings(
        connections=connections,
        timeout=per_request,
        poisson=poisson,
        verify_tls=not insecure,
        max_rate=rate_cap if profile is None else 0.0,
    )
    job = (
        Job(chosen, settings, profile=profile)
        if profile is not None
        else Job(chosen, settings, users=users or 1, seconds=seconds)
    )
    closed = f"{plural(users or 1, 'user')} for {format_duration(seconds)}"
    console.print(
        f"load test of {chosen.endpoint.show()}: "
        + (profile.describe() if profile else closed)
        + f", up to {plural(connections, 'connection')}, {plural(count, 'worker')}",
        markup=False,
    )
    with Progress(job, enabled=not quiet and console.is_terminal) as progress:
        tally = run(job, count, progress.second)
    summary = summarize(tally, job, count, thresholds, target=chosen.endpoint.show())
    write_outputs(summary, json_file, html_file)
    from watchkeeper.report.loadtest import terminal

    console.print(terminal(summary))
    if not summary["passed"]:
        raise typer.Exit(EXIT_FAILED)


def write_outputs(summary: dict[str, Any], json_file: Path | None, html_file: Path | None) -> None:
    from watchkeeper.report.loadtest import loadtest_html

    try:
        if json_file is not None:
            json_file.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if html_file is not None:
            html_file.write_text(loadtest_html(summary), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the report: {exc.strerror or exc} ({exc.filename})")


def capacity(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="A URL or a scenario file.")],
    slo: Annotated[
        str, typer.Option("--slo", metavar="SLO", help="What must hold.")
    ] = "p99<300ms,errors<1%",
    expect: Annotated[
        str | None,
        typer.Option("--expect", metavar="FACTOR", help="The peak to plan for, e.g. 10x."),
    ] = None,
    current_rps: Annotated[
        str | None,
        typer.Option("--current-rps", metavar="RATE", help="Today's peak traffic, for --expect."),
    ] = None,
    peak_rps: Annotated[
        str | None, typer.Option("--peak-rps", metavar="RATE", help="Plan for this rate.")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Short steps (5 s), for a first look.")
    ] = False,
    step: Annotated[
        str | None, typer.Option("--step", metavar="DURATION", help="Time per step (30s).")
    ] = None,
    sweep_time: Annotated[
        str | None,
        typer.Option("--sweep", metavar="DURATION", help="Time per concurrency (15s)."),
    ] = None,
    start_rate: Annotated[str, typer.Option("--start-rate", metavar="RATE")] = "50/s",
    loads: Annotated[
        str, typer.Option("--loads", metavar="N,N,...", help="Concurrencies to sweep.")
    ] = "1,2,4,8,16,32,64",
    connections: Annotated[int, typer.Option("--connections", help="Pool cap.")] = 256,
    workers: Annotated[str, typer.Option("--workers", "-w")] = "1",
    metrics: Annotated[
        str | None,
        typer.Option("--metrics", metavar="URL", help="A Prometheus endpoint to watch."),
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the summary.")
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Write the report.")
    ] = None,
    method: Annotated[str, typer.Option("--method", "-X", metavar="METHOD")] = "GET",
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", metavar="HEADER", help="'Name: value' (repeatable)."),
    ] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify TLS.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Allow a public target.")] = False,
    max_rate: Annotated[
        str, typer.Option("--max-rate", metavar="RATE", help="No step nor sweep sends faster.")
    ] = MAX_RATE,
    not_config: NotConfig = None,
) -> None:
    """Find the highest rate that holds the SLO, how it scales, and a plan for the peak."""
    refuse_c("capacity", not_config)
    from watchkeeper.loadtest.capacity import Options, measure
    from watchkeeper.loadtest.resources import Sampler
    from watchkeeper.report.capacity import capacity_html, terminal

    try:
        thresholds = plans.parse_slo(slo)
        multiple = float(expect.lower().rstrip("x")) if expect else None
        if multiple is not None and multiple <= 0:
            raise ValueError("--expect must be above zero, e.g. 10x")
        sweep = tuple(sorted({int(n) for n in loads.split(",") if n.strip()}))
        if len(sweep) < 6 or sweep[0] != 1:
            raise ValueError("--loads needs at least 6 concurrencies, starting at 1")
        step_seconds = parse_duration(step) if step else (5.0 if quick else 30.0)
        options = Options(
            thresholds=thresholds,
            step_seconds=step_seconds,
            warmup=min(5.0, step_seconds / 5),
            sweep_seconds=parse_duration(sweep_time) if sweep_time else (3.0 if quick else 15.0),
            start_rate=plans.parse_rate(start_rate),
            max_rate=plans.parse_rate(max_rate),
            loads=sweep,
            workers=workers_for(workers),
            expect=multiple,
            current_rps=plans.parse_rate(current_rps) if current_rps else None,
            peak_rps=plans.parse_rate(peak_rps) if peak_rps else None,
        )
    except ValueError as exc:
        fail(str(exc))
    chosen = load_target(target, method, header or [])
    check_safety(chosen, yes)
    # a request far slower than the SLO allows has failed already: do not wait 10 s for it
    bound = max((t.value for t in thresholds if t.metric in ("p99", "p999", "max")), default=1000)
    per_request = min(10.0, max(1.0, 10 * bound / 1000))
    settings = Settings(connections=connections, timeout=per_request, verify_tls=not insecure)
    local = is_private(chosen.endpoint.host) and chosen.endpoint.host in (
        "127.0.0.1",
        "localhost",
        "::1",
    )
    sampler = Sampler(chosen.endpoint.port if local else None, metrics).start()
    try:
        result = measure(
            chosen,
            settings,
            options,
            sampler=sampler,
            progress=lambda text: console.print(text, markup=False, style="dim"),
        )
    finally:
        sampler.stop()
    plan = result.to_json()
    shown = chosen.endpoint.show()
    try:
        if json_file is not None:
            json_file.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
        if html_file is not None:
            html_file.write_text(capacity_html(plan, shown), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the report: {exc.strerror or exc} ({exc.filename})")
    console.print(terminal(plan, shown))
    if result.sustainable is None:
        raise typer.Exit(EXIT_FAILED)
