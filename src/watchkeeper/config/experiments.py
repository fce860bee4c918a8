"""Chaos experiments as config: the ``experiments:`` section, or a file of them for
``wk chaos run FILE``, validated into ``chaos.plan.Experiment`` with every problem at
file:line, and checked against the config's monitors (names, SLOs, expectations)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from watchkeeper.chaos.plan import Experiment
from watchkeeper.config.messages import unknown
from watchkeeper.config.models import Monitor
from watchkeeper.config.reporting import Reporter
from watchkeeper.config.yamlsource import Path, load_with_lines
from watchkeeper.errors import ConfigError, ExpectationError
from watchkeeper.expect import PHASE_SUBJECTS, Expectation, compile_expectation

MAX_FILE = 1024 * 1024


def load_experiments(
    reporter: Reporter, data: Any, monitors: Iterable[Monitor], path: Path = ("experiments",)
) -> list[Experiment]:
    """A list of experiments at ``path``; problems go to ``reporter``."""
    if data is None:
        return []
    if not isinstance(data, list):
        reporter.problem("experiments must be a list, e.g. - {name: ..., method: [...]}", path)
        return []
    known = {m.name: m for m in monitors}
    found: list[Experiment] = []
    for index, item in enumerate(data):
        experiment = load_one(reporter, item, known, (*path, index))
        if experiment is None:
            continue
        if any(e.name == experiment.name for e in found):
            reporter.problem(
                f"duplicate experiment name '{experiment.name}'", (*path, index, "name")
            )
            continue
        found.append(experiment)
    return found


def load_one(
    reporter: Reporter, item: Any, monitors: dict[str, Monitor], where: Path
) -> Experiment | None:
    """One experiment at ``where``, checked against the monitors; None on problems."""
    if not isinstance(item, dict):
        reporter.problem("an experiment is a mapping: {name, steady_state, method}", where)
        return None
    experiment: Experiment | None = reporter.validate(Experiment, item, where)
    if experiment is None:
        return None
    before = len(reporter.problems)
    check_references(reporter, experiment, monitors, where)
    return experiment if len(reporter.problems) == before else None


def check_references(
    reporter: Reporter, experiment: Experiment, monitors: dict[str, Monitor], where: Path
) -> None:
    """Every monitor, SLO and expectation the experiment names exists in the config."""
    plain = sorted(n for n, m in monitors.items() if m.kind != "slo")
    slos = sorted(n for n, m in monitors.items() if m.kind == "slo")
    hypothesis = experiment.steady_state
    for index, name in enumerate(hypothesis.monitors):
        if name not in monitors:
            reporter.problem(
                unknown("monitor", name, sorted(monitors)),
                (*where, "steady_state", "monitors", index),
            )
    for index, name in enumerate(hypothesis.slos):
        if name not in monitors or monitors[name].kind != "slo":
            reporter.problem(unknown("SLO", name, slos), (*where, "steady_state", "slos", index))
    for name, texts in hypothesis.expect.items():
        monitor = monitors.get(name)
        if monitor is None:
            reporter.problem(
                unknown("monitor", name, plain), (*where, "steady_state", "expect", name)
            )
            continue
        compile_extra(reporter, texts, monitor, (*where, "steady_state", "expect", name))
    if not experiment.method:
        reporter.problem("method: needs at least one step (a toxic, stop or pause)", where)
    processes = sorted(p.name for p in experiment.processes)
    for index, step in enumerate(experiment.method):
        target = step.stop or step.pause
        if target is not None and target not in processes:
            known = ", ".join(processes) or "none are declared"
            reporter.problem(
                f"method[{index}]: {step.action} '{target}' is not one of the experiment's "
                f"processes ({known}): only a process it started can be stopped",
                (*where, "method", index, step.action),
            )
    for index, breaker in enumerate(experiment.fail_fast):
        if breaker.monitor not in monitors:
            reporter.problem(
                unknown("monitor", breaker.monitor, plain),
                (*where, "fail_fast", index, "monitor"),
            )


def compile_extra(
    reporter: Reporter | None, texts: Sequence[str], monitor: Monitor, where: Path = ()
) -> list[Expectation]:
    """The hypothesis' own expectations of a monitor, compiled for its kind."""
    table = {**PHASE_SUBJECTS, **monitor.check.subjects}
    compiled: list[Expectation] = []
    for index, text in enumerate(texts):
        try:
            compiled.append(compile_expectation(text, table))
        except ExpectationError as exc:
            if reporter is None:
                raise
            reporter.problem(
                f"expect '{text}': {exc.message} (column {exc.position + 1})",
                (*where, index),
                monitor.name,
            )
    return compiled


def load_experiment_file(filename: str, monitors: Iterable[Monitor]) -> list[Experiment]:
    """The experiments of a file of its own: one experiment (a mapping with ``name``), a list
    of them, or a mapping with ``experiments:``. Raises ConfigError with every problem."""
    try:
        with open(filename, "rb") as handle:
            raw = handle.read(MAX_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read ({exc.strerror or exc})", file=filename) from None
    if len(raw) > MAX_FILE:
        raise ConfigError(f"over {MAX_FILE} bytes", file=filename)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=filename) from None
    data, lines = load_with_lines(text, filename)
    reporter = Reporter(os.fspath(filename))
    reporter.lines = lines
    reporter.raw = data
    if isinstance(data, dict) and "experiments" in data:
        extra = [k for k in data if k != "experiments"]
        if extra:
            reporter.problem(f"unknown key '{extra[0]}' beside experiments:", (extra[0],))
        found = load_experiments(reporter, data["experiments"], monitors)
    elif isinstance(data, dict):
        one = load_one(reporter, data, {m.name: m for m in monitors}, ())
        found = [] if one is None else [one]
    elif isinstance(data, list):
        found = load_experiments(reporter, data, monitors, ())
    else:
        reporter.problem("an experiment file holds an experiment, a list, or experiments:")
        found = []
    if reporter.problems:
        raise ConfigError.collect(reporter.problems)
    if not found:
        raise ConfigError("no experiment in it", file=filename, line=1)
    return found
