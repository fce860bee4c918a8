"""``wk assess``: one ranked report of what to do first (see ``watchkeeper.assess``)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Annotated

import typer

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    ConfigOption,
    Format,
    OutputOption,
    console,
    fail,
    load,
    open_store,
    write_text,
)
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import format_duration, parse_duration


def assess(
    config: ConfigOption = DEFAULT_FILE,
    target: Annotated[
        str | None,
        typer.Option("--target", metavar="URL", help="Audit this site (and probe its capacity)."),
    ] = None,
    max_rate: Annotated[
        str | None,
        typer.Option(
            "--max-rate",
            metavar="RATE",
            help="Probe --target's capacity, never sending faster than this (e.g. 50/s).",
        ),
    ] = None,
    slo: Annotated[
        str, typer.Option("--slo", metavar="SLO", help="What the capacity probe must hold.")
    ] = "p99<500ms,errors<1%",
    yes: Annotated[bool, typer.Option("--yes", help="Allow load on a public target.")] = False,
    lookback: Annotated[
        str,
        typer.Option(
            "--lookback", metavar="DURATION", help="Uptime, latency and cost over this period."
        ),
    ] = "14d",
    advisors: Annotated[
        bool,
        typer.Option(
            "--advisors/--no-advisors",
            help="Connect to the config's databases, caches and host for their advice.",
        ),
    ] = True,
    save_baseline: Annotated[
        bool, typer.Option("--save-baseline", help="Keep this report as the baseline.")
    ] = False,
    compare: Annotated[
        bool, typer.Option("--compare", help="Say what improved or regressed since it.")
    ] = False,
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
    output: OutputOption = None,
) -> None:
    """Assess it all and rank what to do first: status, SLOs, diagnosis, audit, backups,
    capacity and cost.

    Runs what applies to the config: states, uptime and latency over --lookback and the SLOs'
    budgets (from the store wk up writes), wk diagnose's drift and advisors, the audit
    monitors' last grades (and a live audit of --target), the restore drills' standing, a
    capacity probe of --target up to --max-rate, and wk cost. Each finding is ranked by
    risk × impact ÷ effort and links to where to see it. --save-baseline keeps the report in
    the store; --compare says what improved or regressed since. Exit 0 when nothing is worth
    a warning, 1 when something is, 2 on bad input.
    """
    from watchkeeper.assess import Request, render
    from watchkeeper.assess import assess as run
    from watchkeeper.assess import baseline as saved
    from watchkeeper.assess.gather import Probe
    from watchkeeper.engine.defined import api_monitors
    from watchkeeper.loadtest import plan as plans

    try:
        period = parse_duration(lookback)
    except ValueError as exc:
        fail(f"--lookback: {exc}")
    if period < 3600:
        fail(f"--lookback: at least 1h, not {format_duration(period)}")
    probe = None
    if max_rate is not None:
        if target is None:
            fail("--max-rate: give the --target to probe")
        try:
            rate = plans.parse_rate(max_rate)
            plans.parse_slo(slo)
        except ValueError as exc:
            fail(str(exc))
        probe = Probe(target, rate, slo, allow_public=yes)
    if target is not None and not target.startswith(("http://", "https://")):
        fail(f"--target: '{target}' is not an http(s):// URL")
    loaded = load(config)
    store = open_store(loaded, existing=True)
    try:
        kept = store.get_note(saved.KEY) if compare else None
        if compare and kept is None:  # said before the parts run, not after
            fail("--compare: no baseline saved yet (run wk assess --save-baseline first)")
        defined = api_monitors(store, loaded)
        monitors = [*loaded.monitors, *defined.monitors]
        report = asyncio.run(
            run(
                Request(
                    config=loaded,
                    store=store,
                    monitors=monitors,
                    now=time.time(),
                    lookback=period,
                    target=target,
                    probe=probe,
                    advisors=advisors,
                )
            )
        )
        report.config = os.path.abspath(config)
        data = report.as_json()
        comparison = None
        if kept is not None:
            comparison = saved.compare(data, json.loads(kept))
        if save_baseline:
            store.set_note(saved.KEY, saved.encode(data))
    finally:
        store.close()
    if output_format is Format.json:
        text = render.as_json(report, comparison)
    elif output_format is Format.md:
        text = render.markdown(report, comparison)
    elif output_format is Format.html:
        text = render.html_page(report, comparison)
    elif output is None:
        render.print_text(console, report, comparison)
        text = ""
    else:
        text = render.text(report, comparison)
    if output is not None:
        write_text(output, text)
        console.print(f"{render.headline(report)}: written to {output}")
    elif text:
        print(text, end="")
    if save_baseline:
        console.print("saved as the baseline (wk assess --compare shows what changes)")
    raise typer.Exit(EXIT_FAILED if report.to_act_on() else EXIT_OK)
