"""``wk evidence``: one period's compliance evidence in one zip file (see ``evidence``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli.common import ConfigOption, console, fail, load, open_store
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import format_duration, parse_duration


def evidence(
    config: ConfigOption = DEFAULT_FILE,
    since: Annotated[
        str, typer.Option("--since", metavar="DURATION", help="The period, back from now.")
    ] = "90d",
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The zip file to write.")
    ] = Path("evidence.zip"),
) -> None:
    """Bundle compliance evidence for a period into one zip file with an index page.

    Uptime and SLOs, incidents with their timelines, security audit grades, restore drills,
    backup monitors, users and tokens (never the tokens) with the authentication settings,
    and the activity log (CSV and JSON); index.html, index.md and manifest.json give each
    file's SHA-256 and the period.
    """
    from watchkeeper.evidence import Bundle, collect, write_zip

    try:
        span = parse_duration(since)
    except ValueError as exc:
        fail(f"--since: {exc}")
    if span <= 0:
        fail("--since: the period must be longer than zero")
    if output.suffix.lower() != ".zip":
        fail(f"-o: {output} should end in .zip")
    if not output.parent.is_dir() if str(output.parent) else False:
        fail(f"-o: no folder {output.parent}")
    loaded = load(config)
    until = time.time()
    store = open_store(loaded, existing=True)
    try:
        files = collect(loaded, store, until - span, until)
    finally:
        store.close()
    bundle = Bundle(files, until - span, until, loaded.path, until)
    try:
        size = write_zip(bundle, output)
    except OSError as exc:
        fail(f"-o: cannot write {output}: {exc.strerror or exc}")
    console.print(
        f"wrote {output} ({size} bytes): {len(files)} files of evidence over the last "
        f"{format_duration(span)}, index.html and manifest.json",
        markup=False,
    )
