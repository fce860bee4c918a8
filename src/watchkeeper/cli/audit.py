"""``wk audit``: grade sites' headers and cookies as Mozilla's HTTP Observatory does, check
their TLS, exposure and delivery, and print every point lost with the fix."""

from __future__ import annotations

import asyncio
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from watchkeeper.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigOption,
    OutputOption,
    console,
    errors,
    fail,
    load,
)
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.units import parse_duration, plural

if TYPE_CHECKING:
    from watchkeeper.audit.run import Options, SiteReport
    from watchkeeper.audit.target import Target

_GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F")


class Format(StrEnum):
    text = "text"
    md = "md"
    html = "html"
    json = "json"
    sarif = "sarif"


def audit(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="URL",
            help="Sites to audit (https:// is tried when no scheme is given). "
            "None: the config's audit monitors.",
        ),
    ] = None,
    config: ConfigOption = DEFAULT_FILE,
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
    output: OutputOption = None,
    fail_under: Annotated[
        str | None,
        typer.Option(
            "--fail-under",
            metavar="GRADE",
            help="Exit 1 when a site's grade is worse than this (A+ … F).",
        ),
    ] = None,
    ports: Annotated[
        bool, typer.Option("--ports", help="Also connect-scan the hosts' common service ports.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="PART",
            help="Only these parts: headers, tls, exposure, delivery (repeatable).",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", metavar="PEM", help="Trust this CA too (an internal site)."),
    ] = None,
    timeout: Annotated[
        str, typer.Option(metavar="DURATION", help="For one request or handshake.")
    ] = "10s",
    hsts_preload: Annotated[
        Path | None,
        typer.Option(
            "--hsts-preload",
            metavar="JSON",
            help="The HSTS preload list to grade against (the Observatory's "
            "conf/hsts-preload.json or Chromium's format); none is bundled.",
        ),
    ] = None,
) -> None:
    """Audit sites: Observatory grade, TLS, exposure and delivery, each problem with its fix.

    Headers and cookies are graded exactly as Mozilla's HTTP Observatory grades them (A+ to
    F); TLS protocols, ciphers and certificate, well-known leaks (/.git, /.env, directory
    listings, stack traces), and delivery (HTTP/2, compression, caching, page weight) add
    findings. Without URLs, every audit monitor of the config is audited. Exit 0 when all is
    well; 1 when a finding is worth a warning (with --fail-under: when a grade is below it or
    a finding is critical); 2 on bad input or a site that cannot be reached.
    """
    from watchkeeper.audit.run import PARTS, Options
    from watchkeeper.audit.target import Target, TargetError

    try:
        per_request = parse_duration(timeout)
    except ValueError as exc:
        fail(f"--timeout: {exc}")
    if per_request <= 0:
        fail("--timeout: must be above zero")
    if fail_under is not None and fail_under.upper() not in _GRADES:
        fail(f"--fail-under: {fail_under!r} is not a grade ({', '.join(_GRADES)})")
    parts = frozenset(only or PARTS)
    if unknown := sorted(parts - set(PARTS)):
        fail(f"--only: no part named {', '.join(unknown)} (parts: {', '.join(PARTS)})")
    if ca_file is not None and not os.access(ca_file, os.R_OK):
        fail(f"--ca-file: cannot read {ca_file}")
    preload = None
    if hsts_preload is not None:
        from watchkeeper.audit.observatory import HstsPreload

        try:
            preload = HstsPreload.from_file(hsts_preload)
        except ValueError as exc:
            fail(f"--hsts-preload: {exc}")
    base = Options(
        timeout=per_request,
        deadline=max(60.0, per_request * 6),
        parts=parts,
        ports=ports,
        ca_file=str(ca_file) if ca_file else None,
        preload=preload,
    )
    jobs: list[tuple[Target, Options]] = []
    if targets:
        for text in targets:
            try:
                jobs.append((Target.parse(text), base))
            except TargetError as exc:
                fail(str(exc))
    else:
        jobs = _from_config(config, base)
    reports = asyncio.run(_run(jobs))
    _emit(reports, output_format, output)
    unreachable = [r for r in reports if not r.reachable]
    if unreachable:
        raise typer.Exit(EXIT_USAGE)
    from watchkeeper.audit.run import below

    if fail_under:  # a CI gate: the grade, and only critical findings besides
        floor = fail_under.upper()
        failing = any(
            below(r.grade, floor) or any(f.severity.value == "critical" for f in r.findings)
            for r in reports
        )
    else:  # as wk diagnose: anything worth a warning is something to act on
        failing = any(f.severity.value != "info" for r in reports for f in r.findings)
    raise typer.Exit(EXIT_FAILED if failing else EXIT_OK)


def _from_config(path: str, base: Options) -> list[tuple[Target, Options]]:
    from dataclasses import replace

    from watchkeeper.audit.target import Target
    from watchkeeper.checks.audit import AuditSettings

    loaded = load(path)
    jobs = []
    for monitor in loaded.monitors:
        if monitor.kind != "audit":
            continue
        settings = monitor.settings
        assert isinstance(settings, AuditSettings)
        jobs.append(
            (
                Target.parse(settings.url),
                replace(
                    base,
                    parts=base.parts & settings.parts(),
                    ports=base.ports or settings.ports,
                    ca_file=base.ca_file or settings.ca_file,
                ),
            )
        )
    if not jobs:
        fail(f"{path}: no audit monitors to audit (name sites on the command line instead)")
    return jobs


async def _run(jobs: list[tuple[Target, Options]]) -> list[SiteReport]:
    from watchkeeper.audit.run import audit

    limit = asyncio.Semaphore(4)

    async def one(target: Target, options: Options) -> SiteReport:
        async with limit:
            return await audit(target, options)

    return list(await asyncio.gather(*(one(t, o) for t, o in jobs)))


def _emit(reports: list[SiteReport], output_format: Format, output: Path | None) -> None:
    from watchkeeper.report import audit as render

    for report in reports:
        if not report.reachable:
            first = report.errors[0] if report.errors else "no answer"
            errors.print(f"{report.target.url}: cannot be audited: {first}", markup=False)
    if output_format is Format.text and output is None:
        render.print_text(console, reports)
        return
    text = render.render_text(reports, output_format.value)
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror})")
    found = sum(len(r.findings) for r in reports)
    console.print(f"{plural(found, 'finding')} written to {output}")
