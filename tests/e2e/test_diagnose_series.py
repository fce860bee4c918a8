"""``wk diagnose series``: any timestamp,value CSV in, timestamp,anomaly_score out; bad input
is one located line and exit 2."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from tests.helpers.cli import wk


def write_series(path: Path, values: list[float]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for i, value in enumerate(values):
            writer.writerow([f"2026-01-01 {i // 60:02d}:{i % 60:02d}:00", value])


async def test_a_level_shift_scores_high_where_it_starts_and_nowhere_before(
    tmp_path: Path,
) -> None:
    values = [100 + 3 * math.sin(i / 7) + (i % 5) * 0.5 for i in range(1000)]
    values[700:] = [v + 60 for v in values[700:]]  # latency jumps at row 700 and stays
    source, out = tmp_path / "latency.csv", tmp_path / "scores.csv"
    write_series(source, values)
    done = await wk("diagnose", "series", str(source), "--scores", str(out))
    assert done.code == 0, done.stderr
    with out.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp", "anomaly_score"] and len(rows) == 1001
    found = [float(score) for _, score in rows[1:]]
    assert all(0.0 <= s <= 1.0 for s in found)
    assert max(found[700:705]) > 0.9, found[698:706]
    assert max(found[:700]) < 0.9, "the steady wiggle before the shift is not an anomaly"
    assert rows[701][0] == "2026-01-01 11:40:00", "the timestamps are the input's"


async def test_bad_input_is_one_line_naming_the_row(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("timestamp,value\n2026-01-01 00:00:00,1.5\n2026-01-01 00:05:00,fast\n")
    done = await wk("diagnose", "series", str(source), "--scores", str(tmp_path / "o.csv"))
    assert done.code == 2
    assert done.stderr.strip() == f"{source}:3: 'fast' is not a number"
    source.write_text("when,latency\n1,2\n")
    done = await wk("diagnose", "series", str(source), "--scores", str(tmp_path / "o.csv"))
    assert (
        done.code == 2 and done.stderr.strip() == f"{source}:1: expected the header timestamp,value"
    )
    source.write_text("timestamp,value\n2026-01-01 00:00:00,1.5\nyesterday,2\n")
    done = await wk("diagnose", "series", str(source), "--scores", str(tmp_path / "o.csv"))
    assert done.code == 2 and done.stderr.strip().startswith(f"{source}:3: 'yesterday' is not")
    missing = await wk("diagnose", "series", str(tmp_path / "nope.csv"), "--scores", "o.csv")
    assert (
        missing.code == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    )
