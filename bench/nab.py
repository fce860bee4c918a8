"""The drift detector on the Numenta Anomaly Benchmark subset in ``../shared/data/nab``: runs
``wk diagnose series`` on every file (through the same function, with the rows' timestamps),
writes the scores where ``../shared/tools/nab_score.py`` reads them, and prints the NAB score
(standard profile) beside the reference scores on this subset: Numenta HTM 65.7, Windowed
Gaussian 12.6, random about 5.

    python bench/nab.py [--json]

This is the in-sample score (the settings were chosen on these files); ``bench/nab_cv.py``
gives the cross-validated one, the figure to quote.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from watchkeeper.analysis.drift import scores

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "data" / "nab"
SCORER = SHARED / "tools" / "nab_score.py"


def epoch(stamp: str) -> float:
    """Seconds since 1970 of a NAB timestamp ("2014-04-01 00:00:00", UTC)."""
    return datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def detect(results: Path) -> tuple[int, float]:
    rows = 0
    started = time.perf_counter()
    for source in sorted((CORPUS / "data").glob("*/*.csv")):
        with source.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            table = [(row[0], float(row[1])) for row in reader if row]
        values = np.array([value for _, value in table])
        found = scores(values, times=np.array([epoch(stamp) for stamp, _ in table]))
        target = results / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "anomaly_score"])
            writer.writerows(
                (stamp, f"{s:.6f}") for (stamp, _), s in zip(table, found, strict=True)
            )
        rows += len(table)
    return rows, time.perf_counter() - started


def nab_score(results: Path) -> dict[str, object]:
    answer = subprocess.run(
        [sys.executable, str(SCORER), "--corpus", str(CORPUS), "--results", str(results), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, object] = json.loads(answer.stdout)
    return found


def nab_score_of_detector() -> dict[str, object]:
    """Score the detector on the subset (what the test's floor holds it to)."""
    with tempfile.TemporaryDirectory(prefix="wk-nab-") as folder:
        rows, seconds = detect(Path(folder))
        result = nab_score(Path(folder))
    result["rows"] = rows
    result["detector_seconds"] = round(seconds, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CORPUS.is_dir() or not SCORER.is_file():
        raise SystemExit(f"needs the NAB subset and its scorer under {SHARED}")
    result = nab_score_of_detector()
    rows, seconds = result["rows"], result["detector_seconds"]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"NAB standard score: {result['score']}  ({rows} rows in {seconds:.1f} s)")
    print("references on this subset: Numenta HTM 65.7, Windowed Gaussian 12.6, random ~5")
    print(json.dumps({k: v for k, v in result.items() if k != "score"}))


if __name__ == "__main__":
    main()
