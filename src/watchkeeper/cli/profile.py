"""``wk profile``: sample a Python process with py-spy and write a flame graph and a speedscope
file, with its top functions as a Finding (see ``watchkeeper.profile``)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from watchkeeper.cli.common import EXIT_FAILED, EXIT_OK, console, fail, write_text
from watchkeeper.units import parse_duration


class Format(StrEnum):
    text = "text"
    md = "md"
    json = "json"


def profile(
    target: Annotated[
        list[str],
        typer.Argument(
            metavar="PID | -- COMMAND...",
            help="A running Python process's PID, or -- and a command to start and profile.",
        ),
    ],
    duration: Annotated[
        str, typer.Option("--duration", "-d", metavar="DURATION", help="How long to sample.")
    ] = "30s",
    rate: Annotated[int, typer.Option("--rate", min=1, max=1000, help="Samples per second.")] = 100,
    subprocesses: Annotated[
        bool, typer.Option("--subprocesses", help="Also sample its child processes.")
    ] = False,
    native: Annotated[bool, typer.Option("--native", help="Include C extensions' frames.")] = False,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="DIR", help="Where the SVG and speedscope files go."
        ),
    ] = Path("."),
    output_format: Annotated[Format, typer.Option("--format", help="How to print.")] = (
        Format.text
    ),
) -> None:
    """Profile a Python process with py-spy: a flame graph, a speedscope file, the top functions.

    Samples PID (or a command it starts: wk profile -- python app.py) for --duration without
    changing or restarting it, and writes profile-LABEL.svg (a flame graph) and
    profile-LABEL.speedscope.json (open it at speedscope.app) into --output. Prints the
    functions that take the most time on their own (self) and with what they call (total).
    Reading another process needs ptrace: run it as that process's user or root. Exit 0 when
    no function stands out, 1 when one takes a fifth of the time or more, 2 when it could
    not be profiled.
    """
    from watchkeeper.profile.spy import ProfileError, Request

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(f"--duration: {exc}")
    if not 1 <= seconds <= 3600:
        fail("--duration: between 1s and 1h")
    if len(target) == 1 and target[0].isdigit():
        request = Request(
            pid=int(target[0]),
            duration=seconds,
            rate=rate,
            subprocesses=subprocesses,
            native=native,
        )
        label = target[0]
    else:
        request = Request(
            command=tuple(target),
            duration=seconds,
            rate=rate,
            subprocesses=subprocesses,
            native=native,
        )
        script = next((word for word in target if word.endswith(".py")), target[0])
        label = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(script).name)[:40].strip("-.") or "command"
    if not output.is_dir():
        fail(f"--output: {output} is not a folder")
    try:
        code = asyncio.run(_run(request, label, output, output_format))
    except ProfileError as exc:
        fail(str(exc))
    raise typer.Exit(code)


async def _run(request: object, label: str, folder: Path, output_format: Format) -> int:
    from watchkeeper.findings import Severity
    from watchkeeper.profile import flame, speedscope
    from watchkeeper.profile.findings import finding, top_self, top_total
    from watchkeeper.profile.spy import Request, record

    assert isinstance(request, Request)
    started = time.monotonic()
    found = await record(request)
    took = time.monotonic() - started
    subject = f"process {request.pid}" if request.pid is not None else " ".join(request.command)
    title = f"wk profile {subject}"
    svg_path = folder / f"profile-{label}.svg"
    json_path = folder / f"profile-{label}.speedscope.json"
    write_text(svg_path, flame.svg(found, title))
    write_text(json_path, json.dumps(speedscope.document(found, title), separators=(",", ":")))
    result = finding(found, subject, min(took, request.duration))
    total = max(found.samples, 1)
    if output_format is Format.json:
        print(
            json.dumps(
                {
                    "findings": [result.as_json()],
                    "profile": {
                        "samples": found.samples,
                        "truncated": found.truncated,
                        "top_self": [
                            {"frame": f, "samples": c, "share": round(c / total, 4)}
                            for f, c in top_self(found, 20)
                        ],
                        "top_total": [
                            {"frame": f, "samples": c, "share": round(c / total, 4)}
                            for f, c in top_total(found, 20)
                        ],
                        "files": {"svg": str(svg_path), "speedscope": str(json_path)},
                    },
                },
                indent=2,
            )
        )
    else:
        from watchkeeper.report import findings as render

        if output_format is Format.md:
            print(render.markdown([result], [], [subject], title="wk profile"), end="")
        else:
            render.print_text(console, [result], [], [subject], title="wk profile")
        console.print(f"flame graph: {svg_path}\nspeedscope:  {json_path}", markup=False)
    return EXIT_FAILED if result.severity is Severity.warning else EXIT_OK
