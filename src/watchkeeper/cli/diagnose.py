"""``wk diagnose``: what changed and why. So far: ``wk diagnose series`` runs the drift
detector over any ``timestamp,value`` CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from watchkeeper.analysis.drift import scores
from watchkeeper.cli.common import console, fail

diagnose_app = typer.Typer(
    help="Why is it getting slower? Drift in series (more to come).", no_args_is_help=True
)


@diagnose_app.command("series")
def series(
    source: Annotated[Path, typer.Argument(metavar="FILE.csv", help="timestamp,value rows.")],
    out: Annotated[
        Path, typer.Option("--scores", metavar="OUT.csv", help="Where timestamp,anomaly_score go.")
    ],
) -> None:
    """Score every row of a timestamp,value CSV for anomalies (0 to 1, each from the rows
    before it only) and write timestamp,anomaly_score rows."""
    stamps, values = _read(source)
    found = scores(np.asarray(values, dtype=np.float64))
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
    console.print(f"{len(values)} rows scored; {high} at 0.9 or more; written to {out}")


def _read(source: Path) -> tuple[list[str], list[float]]:
    try:
        handle = source.open(newline="", encoding="utf-8")
    except OSError as exc:
        fail(f"{source}: cannot read ({exc.strerror})")
    stamps: list[str] = []
    values: list[float] = []
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
            stamps.append(row[0])
            values.append(value)
    if not values:
        fail(f"{source}: no rows after the header")
    return stamps, values
