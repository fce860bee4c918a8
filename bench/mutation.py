"""Mutation score of the pure cores: how many small wrong versions of the code (``>=`` made
``>``, ``min`` made ``max``, a constant nudged) the area's own tests catch.

    python bench/mutation.py                    # every area below
    python bench/mutation.py state expect       # some areas
    python bench/mutation.py --survivors expect # and print each surviving mutant's diff
    python bench/mutation.py --source src/watchkeeper/store/rollups.py \\
        --tests tests/store/test_store_rollups.py  # any module, with the tests that cover it
    python bench/mutation.py --list             # the areas, their sources and tests
    python bench/mutation.py --recheck-timeouts 10 retention  # the last run's timeouts again

Needs the ``mutation`` extra (``pip install -e '.[mutation]'``: mutmut). It is no part of the
test run: a run takes minutes per area on two cores, and the score is a figure to read, not a
pass/fail line (``--fail-under 80`` makes it one for a script that wants it).

How: each area runs in its own scratch copy (``.mutation/AREA/``, git-ignored) of ``src``,
``tests``, ``bench`` and ``pyproject.toml`` with a ``[tool.mutmut]`` section naming the
files to mutate and the tests to run, so the worktree is never edited and two areas can run
side by side. mutmut first runs the area's tests once to learn which test reaches which
function, then forks one child per mutant that runs only those tests (``-n 0``: one process
each, ``--jobs`` children at once, 2 by default for a shared 2-core machine). Property tests
draw 10 examples, the same each run (``bench/mutation_pytest.py``), so a score is repeatable.

A mutant is *killed* when a test fails, *timeout* when the tests ran 5× longer than clean
(an infinite loop: also caught), *survived* when every test passed, *no tests* when no test
of the area reached the function at all. Score = (killed + timeout) / (mutants −
equivalent), per source file and per area. Tests that reach the code only through a ``wk``
subprocess do not count: the child imports the unmutated package.

The 5× is wall-clock time: mutmut allows (the tests' clean time + 1 s) × 5, so on a machine
busy with other work, mutants with quick tests time out without being slow at all.
``--recheck-timeouts SECONDS`` runs the last run's timeouts again, allowed (clean time +
SECONDS) × 5 (mutmut keeps every other verdict): what still times out is slow.

``EQUIVALENT`` lists mutants that behave exactly as the original (no test can kill them), each
with the line it produces and why; they leave the denominator while that line still matches,
and are reported as stale (and counted again) once the code under them changes.

Figures, before and after, per module: bench/results/mutation.md (rerun an area and paste its
table there).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".mutation"


@dataclass(frozen=True)
class Area:
    """Files to mutate, the tests that are theirs, and optionally which functions count."""

    sources: tuple[str, ...]
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    """mutmut mutant-name globs (``*.x_judge__mutmut_*``); empty: every function."""
    note: str = ""


AREAS: dict[str, Area] = {
    "state": Area(
        ("src/watchkeeper/state/",),
        ("tests/state", "tests/alerts/test_maintenance.py"),
        note="the state machine, flap policy, maintenance windows and mutes",
    ),
    "expect": Area(
        ("src/watchkeeper/expect/",),
        ("tests/expect",),
        note="the expectation language: parser, compiler, evaluator, regexes",
    ),
    "analysis": Area(
        ("src/watchkeeper/analysis/",),
        ("tests/analysis",),
        note="change points, drift, forecasts, phases, SLO burn rates",
    ),
    "heartbeat": Area(
        ("src/watchkeeper/checks/heartbeat.py",),
        ("tests/checks/test_heartbeat.py",),
        functions=("*.x_is_failure__mutmut_*", "*.x_next_due__mutmut_*", "*.x_judge__mutmut_*"),
        note="lateness: when the next ping is due and how a heartbeat is judged",
    ),
    "retention": Area(
        ("src/watchkeeper/store/retention.py",),
        (
            "tests/store/test_store_retention.py",
            # chunks and raw series are pruned with the results: their tests live beside
            # compaction's and the series'
            "tests/store/test_store_compaction.py::"
            "test_packed_results_past_their_retention_are_deleted_and_no_others",
            "tests/store/test_store_samples.py::test_old_samples_are_pruned_with_the_raw_results",
        ),
        note="what each horizon deletes (SQLite and PostgreSQL)",
    ),
    "loadtest": Area(
        ("src/watchkeeper/loadtest/results.py", "src/watchkeeper/loadtest/generator.py"),
        ("tests/loadtest/test_accounting.py",),
        functions=(
            "watchkeeper.loadtest.results.*",
            # mutmut names a method xǁClassǁname__mutmut_N; "?Generator?_failed" leaves
            # _connect_failed (reconnect scheduling, reached only over real sockets) out
            "*?Tally?merge__mutmut_*",
            "*?Generator?_done__mutmut_*",
            "*?Generator?_failed__mutmut_*",
            "*?Generator?_count_error__mutmut_*",
        ),
        note="accounting: answers, errors and statuses counted, merged and summarised",
    ),
}

EQUIVALENT: dict[str, tuple[str, str]] = {
    # mutant name: (text of the line the mutant produces, why no test can tell it apart)
    "watchkeeper.state.maintenance.x_window_active__mutmut_17": (
        "+ timedelta(seconds=2)",
        "looking back from 2 s later instead of 1 s finds the same firing unless the schedule "
        "fires twice within 2 s (a cron with a seconds field, every second): no window does",
    ),
    "watchkeeper.loadtest.generator.xǁGeneratorǁ_done__mutmut_2": (
        "connection.busy = None",
        "busy is only ever read as a truth value (if, and, any): None and False read the same",
    ),
    "watchkeeper.loadtest.generator.xǁGeneratorǁ_failed__mutmut_2": (
        "connection.busy = None",
        "busy is only ever read as a truth value (if, and, any): None and False read the same",
    ),
    "watchkeeper.loadtest.results.x_latency_ms__mutmut_16": (
        "/ 1000, 4)",
        "an HDR percentile is a whole number of microseconds: in milliseconds it has at most "
        "3 decimals, so rounding to 3 or to 4 gives the same float",
    ),
    "watchkeeper.loadtest.results.x_latency_ms__mutmut_26": (
        "/ 1000, 4)",
        "the histogram's max is a whole number of microseconds: 3 decimals of a millisecond "
        "at most, so rounding to 3 or to 4 gives the same float",
    ),
    "watchkeeper.loadtest.results.x__second_quantiles__mutmut_9": (
        "round(v, 4)",
        "a second's quantiles are whole microseconds over 1000 (Second.close): 3 decimals "
        "at most, so rounding to 3 or to 4 gives the same float",
    ),
    "watchkeeper.loadtest.results.x_judge__mutmut_17": (
        'float("INF")',
        'float() reads "inf" in any case: float("INF") is the same infinity',
    ),
    "watchkeeper.loadtest.results.x_judge__mutmut_26": (
        'float("INF")',
        'float() reads "inf" in any case: float("INF") is the same infinity',
    ),
    "watchkeeper.loadtest.results.x_observed__mutmut_21": (
        'float("INF")',
        'float() reads "inf" in any case: float("INF") is the same infinity',
    ),
    "watchkeeper.store.retention.x__prune_slices__mutmut_6": (
        "where(owned, )",
        "without the horizon the probe still finds the oldest owned row: one older than the "
        "cutoff is the same minimum, and one at or after it starts no slice (start < cutoff)",
    ),
    "watchkeeper.store.retention.x__prune_slices__mutmut_9": (
        "time_column <= cutoff)",
        "a row exactly at the cutoff found by the probe starts no slice (start < cutoff), and "
        "the DELETEs ask time < end <= cutoff",
    ),
    "watchkeeper.store.retention.x__prune_slices__mutmut_30": (
        'weighed = ""',
        "weighed is read only when a weight is given, and then set first",
    ),
    "watchkeeper.store.retention.x__prune_chunks__mutmut_24": (
        ")",
        "a chunk spans at most MAX_SPAN, so first_ts < cutoff <= last_ts already means "
        "first_ts >= cutoff - MAX_SPAN: the bound only lets the index stop early",
    ),
    "watchkeeper.store.retention.x__prune_chunks__mutmut_66": (
        "whole = sa.and_(owned, )",
        "the chunks across the cutoff have just been rewritten to start at it, so every owned "
        "chunk starting before it also ends before it: last_ts < cutoff changes nothing",
    ),
    "watchkeeper.store.retention.x__prune_chunks__mutmut_67": (
        "table.c.last_ts <= cutoff)",
        "a chunk ending exactly at the cutoff reaches it, so it has just been rewritten to "
        "start there: no chunk starting before the cutoff ends at it",
    ),
    "watchkeeper.expect.evaluate.x__compare__mutmut_82": (
        "return True  # pragma: no cover",
        "the last line of _compare is unreachable: every Op returns above it",
    ),
}

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}
STATUS |= dict.fromkeys((36, 24, -24, 152, 255), "timeout")
COLUMNS = ("killed", "timeout", "survived", "no tests", "other", "equivalent")


def _pattern(source: str) -> str:
    return source + "*" if source.endswith("/") else source


def prepare(name: str, area: Area) -> Path:
    """A fresh scratch copy for ``area`` with its mutmut section; returns its folder."""
    work = SCRATCH / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.db", ".pytest_cache")
    for folder in ("src", "tests", "bench"):
        shutil.copytree(ROOT / folder, work / folder, ignore=skip)
    for file in ("README.md", "LICENSE"):
        if (ROOT / file).exists():
            shutil.copy(ROOT / file, work / file)
    settings = {
        "source_paths": ["src/watchkeeper/"],
        "only_mutate": [_pattern(source) for source in area.sources],
        "also_copy": ["bench/", "README.md", "LICENSE"],
        # one process per mutant, no cache between children, and only the area's tests
        # and property tests cut to a few examples, the same each run (mutation_pytest.py)
        "pytest_add_cli_args": ["-n", "0", "-p", "no:cacheprovider", "-p", "bench.mutation_pytest"],
        "pytest_add_cli_args_test_selection": list(area.tests),
        # a mutant whose tests run 5x longer than clean is caught (mutmut's 15x made one
        # week-long SLO simulation cost four minutes per slowed mutant)
        "timeout_multiplier": 5.0,
    }
    section = "\n[tool.mutmut]\n" + "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in settings.items()
    )
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + section)
    return work


def allow(work: Path, seconds: float) -> None:
    """Give each mutant's tests ``seconds`` more before they count as a timeout (mutmut's
    ``timeout_constant``: the limit is (their clean time + it) × 5); mutmut then runs again
    only the mutants that timed out, and keeps every other verdict."""
    settings = work / "pyproject.toml"
    text = settings.read_text()
    kept = [line for line in text.splitlines() if not line.startswith("timeout_constant = ")]
    settings.write_text("\n".join(kept) + f"\ntimeout_constant = {seconds!r}\n")


def timeouts(work: Path, area: Area) -> list[str]:
    """The mutants of the area's last run that timed out."""
    found = []
    for meta in sorted((work / "mutants").glob("src/**/*.py.meta")):
        for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            counted = not area.functions or any(fnmatch.fnmatch(key, g) for g in area.functions)
            if counted and STATUS.get(code) == "timeout":
                found.append(key)
    return found


def run(work: Path, area: Area, jobs: int, mutants: list[str] | None = None) -> int:
    """mutmut on ``work``: the area's mutants, or just ``mutants`` when given."""
    mutmut = Path(sys.executable).with_name("mutmut")
    chosen = area.functions if mutants is None else tuple(mutants)
    command = [str(mutmut), "run", "--max-children", str(jobs), *chosen]
    with (work / "mutmut.log").open("w") as log:
        done = subprocess.run(command, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = (work / "mutmut.log").read_text(errors="replace").replace("\r", "\n")
        print("\n".join(tail.splitlines()[-15:]), file=sys.stderr)
    return done.returncode


def _functions(path: Path) -> dict[str, str]:
    """Every function of a mutated file (methods too) by name, as source text."""
    text = path.read_text()
    lines = text.splitlines()
    found = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = "\n".join(lines[node.lineno - 1 : node.end_lineno])
    return found


def diff(functions: dict[str, str], key: str) -> list[str]:
    """The lines a mutant changes: its function against the original, the def line left out."""
    local = key.rsplit(".", 1)[-1]
    original = functions.get(local.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", "")
    mutant = functions.get(local, "")
    lines = difflib.unified_diff(
        original.splitlines()[1:], mutant.splitlines()[1:], lineterm="", n=0
    )
    return [line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def score(self) -> float:
        scored = sum(self.counts.values()) - self.counts["equivalent"]
        return (self.counts["killed"] + self.counts["timeout"]) / scored if scored else 1.0


def collect(work: Path, area: Area) -> tuple[dict[str, Tally], list[str]]:
    """Per mutated file, what became of its mutants; and stale EQUIVALENT entries."""
    per_file: dict[str, Tally] = {}
    stale = []
    mutants = work / "mutants"
    for meta in sorted(mutants.glob("src/**/*.py.meta")):
        source = meta.with_suffix("")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if area.functions:
            codes = {
                key: code
                for key, code in codes.items()
                if any(fnmatch.fnmatch(key, glob) for glob in area.functions)
            }
        if not codes:
            continue
        functions = _functions(source)
        tally = per_file.setdefault(
            str(source.relative_to(mutants / "src" / "watchkeeper")), Tally()
        )
        for key, code in sorted(codes.items()):
            status = STATUS.get(code, "other")
            if key in EQUIVALENT:
                line, _reason = EQUIVALENT[key]
                if any(line in changed for changed in diff(functions, key) if changed[0] == "+"):
                    tally.counts["equivalent"] += 1
                    continue
                stale.append(key)
            tally.counts[status] += 1
            if status in ("survived", "no tests"):
                tally.survivors.append((f"{key} ({status})", diff(functions, key)))
    return per_file, stale


def report(name: str, per_file: dict[str, Tally], survivors: bool) -> Tally:
    total = Tally()
    header = f"{'':<28}{'mutants':>8}" + "".join(f"{column:>11}" for column in COLUMNS)
    print(f"\n== {name}\n{header}{'score':>9}")
    for source, tally in per_file.items():
        total.counts.update(tally.counts)
        total.survivors.extend(tally.survivors)
        cells = "".join(f"{tally.counts[column]:>11}" for column in COLUMNS)
        print(f"{source:<28}{sum(tally.counts.values()):>8}{cells}{tally.score:>8.1%}")
    cells = "".join(f"{total.counts[column]:>11}" for column in COLUMNS)
    print(f"{'= ' + name:<28}{sum(total.counts.values()):>8}{cells}{total.score:>8.1%}")
    if survivors:
        for key, lines in total.survivors:
            print(f"  {key}")
            for line in lines:
                print(f"      {line.strip() if len(line) > 120 else line}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("areas", nargs="*", help=f"some of: {', '.join(AREAS)} (default: all)")
    parser.add_argument("--source", nargs="+", help="files or folders to mutate (ad hoc area)")
    parser.add_argument("--tests", nargs="+", help="the tests that cover --source")
    parser.add_argument("--functions", nargs="+", default=[], help="mutant-name globs to count")
    parser.add_argument("--name", help="the ad hoc area's name (default: the first source's)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (2)")
    parser.add_argument("--survivors", action="store_true", help="print surviving mutants")
    parser.add_argument("--report-only", action="store_true", help="read the last run again")
    parser.add_argument(
        "--recheck-timeouts",
        type=float,
        metavar="SECONDS",
        help="run the last run's timeouts again, each allowed SECONDS more (a busy machine)",
    )
    parser.add_argument("--fail-under", type=float, help="exit 1 if an area scores below (%%)")
    parser.add_argument("--list", action="store_true", help="print the areas and stop")
    options = parser.parse_args()
    if options.list:
        for name, area in AREAS.items():
            print(f"{name:<10} {area.note}\n{'':<10} mutate {' '.join(area.sources)}")
            print(f"{'':<10} tests  {' '.join(area.tests)}")
        return 0
    chosen: dict[str, Area] = {}
    if options.source:
        if not options.tests:
            parser.error("--source needs --tests (the tests that cover it)")
        name = options.name or Path(options.source[0].rstrip("/")).stem
        chosen[name] = Area(tuple(options.source), tuple(options.tests), tuple(options.functions))
    for name in options.areas or ([] if options.source else list(AREAS)):
        if name not in AREAS:
            parser.error(f"unknown area '{name}': one of {', '.join(AREAS)}")
        chosen[name] = AREAS[name]
    if shutil.which("mutmut", path=os.path.dirname(sys.executable)) is None:
        print("mutmut is not installed: pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    low = []
    for name, area in chosen.items():
        work = SCRATCH / name
        again = None
        if options.recheck_timeouts is not None:
            if not (work / "mutants").exists():
                parser.error(f"no last run of '{name}' to recheck: run it first")
            allow(work, options.recheck_timeouts)
            again = timeouts(work, area)
            print(f"{name}: {len(again)} timeouts to run again")
        elif not options.report_only:
            work = prepare(name, area)
        ran = options.report_only or again == [] or run(work, area, options.jobs, again) == 0
        if not ran:
            print(f"{name}: mutmut failed, see {work / 'mutmut.log'}", file=sys.stderr)
            return 2
        per_file, stale = collect(work, area)
        total = report(name, per_file, options.survivors)
        for key in stale:
            print(f"  stale EQUIVALENT entry (the code changed, counted again): {key}")
        if options.fail_under is not None and total.score * 100 < options.fail_under:
            low.append(name)
    if low:
        print(f"below {options.fail_under:g} %: {', '.join(low)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
