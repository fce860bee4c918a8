"""Online anomalies: a lasting latency shift warns (so the monitor degrades) until the new
level is the normal one; a lone spike does not keep a warning past its own check."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from watchkeeper.config import load_config
from watchkeeper.engine.anomalies import Anomalies
from watchkeeper.errors import ConfigError
from watchkeeper.model import Phases, Result
from watchkeeper.store import Store


def monitor(tmp_path, anomaly: str = "on"):  # type: ignore[no-untyped-def]
    path = tmp_path / "wk.yaml"
    path.write_text(
        f"monitors:\n  - {{name: api, http: 'http://127.0.0.1:9/', anomaly: {anomaly}}}\n"
    )
    return load_config(str(path)).monitors[0]


def result(at: float, ms: float, ok: bool = True) -> Result:
    return Result("api", "http", at, ok, Phases(total=ms / 1000.0))


def test_anomaly_on_is_read_from_the_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert monitor(tmp_path).anomaly == ("latency",)
    assert monitor(tmp_path, "off").anomaly == ()


def test_a_lasting_shift_warns_until_it_is_the_new_normal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = monitor(tmp_path)
    watch = Anomalies()  # hold: 60 checks
    rng = np.random.default_rng(3)
    warned_before = 0
    for i in range(600):
        checked = result(i * 30.0, 100 + rng.normal(0, 5))
        watch.judge(api, checked)
        warned_before += bool(checked.warnings)
    assert warned_before == 0, "steady latency raises nothing"
    warned = []
    for i in range(600, 700):
        checked = result(i * 30.0, 300 + rng.normal(0, 5))
        watch.judge(api, checked)
        warned.append(bool(checked.warnings))
        if checked.warnings:
            text = checked.warnings[0]
    first = warned.index(True)
    assert first < 10, "found within a few checks of the shift"
    assert all(warned[first : first + 50]), "and it stays while the latency stays up"
    assert not any(warned[first + 62 :]), "until the hold ends: the new level is normal"
    assert text.startswith("anomaly: latency 3") and "usually 10" in text and "%" in text


def test_a_lone_spike_warns_once_at_most_and_failures_are_not_scored(tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = monitor(tmp_path)
    watch = Anomalies()
    rng = np.random.default_rng(4)
    for i in range(600):
        watch.judge(api, result(i * 30.0, 100 + rng.normal(0, 5)))
    warnings = 0
    for i, ms in enumerate([2500.0] + [100 + rng.normal(0, 5) for _ in range(20)]):
        checked = result((600 + i) * 30.0, ms)
        watch.judge(api, checked)
        warnings += bool(checked.warnings)
    assert warnings <= 1
    failed = result(1e6, 9000.0, ok=False)
    watch.judge(api, failed)
    assert failed.warnings == []


def test_faster_than_usual_is_no_anomaly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = monitor(tmp_path)
    watch = Anomalies()
    rng = np.random.default_rng(5)
    for i in range(600):
        watch.judge(api, result(i * 30.0, 300 + rng.normal(0, 5)))
    warned = 0
    for i in range(600, 700):  # a fix made it three times faster
        checked = result(i * 30.0, 100 + rng.normal(0, 5))
        watch.judge(api, checked)
        warned += bool(checked.warnings)
    assert warned == 0


def test_anomaly_names_the_series_to_watch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert monitor(tmp_path, "[latency, pg.connections]").anomaly == ("latency", "pg.connections")
    assert monitor(tmp_path, "pg.connections").anomaly == ("pg.connections",)
    path = tmp_path / "bad.yaml"
    path.write_text("monitors:\n  - {name: api, http: 'http://127.0.0.1:9/', anomaly: []}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    assert "bad.yaml:2" in raised.value.lines()[0] and "series" in raised.value.lines()[0]


def test_a_series_of_the_check_is_watched_either_way(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "wk.yaml"
    path.write_text(
        "monitors:\n  - {name: db, postgres: 'postgresql://127.0.0.1:9/x',"
        " anomaly: [pg.connections]}\n"
    )
    db = load_config(str(path)).monitors[0]
    watch = Anomalies()
    rng = np.random.default_rng(6)
    for i in range(600):
        checked = Result("db", "postgres", i * 30.0, True, Phases(total=0.002))
        checked.metrics["pg.connections"] = float(40 + rng.integers(-2, 3))
        watch.judge(db, checked)
        assert checked.warnings == []
    warned = []
    for i in range(600, 640):  # the pool lost most of its connections
        checked = Result("db", "postgres", i * 30.0, True, Phases(total=0.002))
        checked.metrics["pg.connections"] = float(5 + rng.integers(0, 2))
        watch.judge(db, checked)
        warned += checked.warnings
    assert warned and warned[0].startswith("anomaly: pg.connections "), warned[:1]
    assert "usually 40 (-8" in warned[0], "a fall is an anomaly too"


def test_the_detectors_start_from_the_stored_history(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "wk.yaml"
    path.write_text(
        "monitors:\n  - {name: db, postgres: 'postgresql://127.0.0.1:9/x', interval: 30s,"
        " anomaly: [latency, pg.connections]}\n"
    )
    db = load_config(str(path)).monitors[0]
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}")
    rng = np.random.default_rng(8)
    start = time.time() - 600 * 30
    try:
        earlier = []
        for i in range(600):
            stored = Result("db", "postgres", start + i * 30, True, Phases(total=0.002))
            stored.metrics["pg.connections"] = float(40 + rng.integers(-2, 3))
            earlier.append(stored)
        store.write(earlier)
        watch = Anomalies()
        watch.seed(store, [db])
    finally:
        store.close()
    told = []
    for i in range(3):  # one value is a spike; the median of the last five moves on the third
        checked = Result("db", "postgres", time.time() + i, True, Phases(total=0.002))
        checked.metrics["pg.connections"] = 400.0
        watch.judge(db, checked)
        told.append(any(w.startswith("anomaly: pg.connections 400") for w in checked.warnings))
    assert told == [False, False, True]


def test_an_anomaly_open_before_a_restart_is_open_after_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = monitor(tmp_path)
    live = Anomalies()
    rng = np.random.default_rng(12)
    start = time.time() - 700 * 30
    history = []
    for i in range(640):  # 600 steady checks, then 40 three times slower
        checked = result(start + i * 30, (100 if i < 600 else 300) + rng.normal(0, 5))
        live.judge(api, checked)
        history.append(checked)
    assert history[-1].warnings, "open before the restart"
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}")
    try:
        store.write([Result(r.monitor, r.kind, r.started_at, r.ok, r.phases) for r in history])
        restarted = Anomalies()
        restarted.seed(store, [api])
    finally:
        store.close()
    for i in range(640, 660):
        ms = 300 + rng.normal(0, 5)
        before, after = result(start + i * 30, ms), result(start + i * 30, ms)
        live.judge(api, before)
        restarted.judge(api, after)
        assert before.warnings == after.warnings and after.warnings, i


def test_an_intermittent_regression_is_told_without_flapping(tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = monitor(tmp_path)
    watch = Anomalies(hold=200)
    rng = np.random.default_rng(13)
    for i in range(600):
        watch.judge(api, result(i * 30.0, 100 + rng.normal(0, 5)))
    told = []
    for i in range(600, 750):  # seven in ten checks three times slower
        slow = rng.random() < 0.7
        checked = result(i * 30.0, (300 if slow else 100) + rng.normal(0, 5))
        watch.judge(api, checked)
        told.append(bool(checked.warnings))
    first = told.index(True)
    assert first < 10
    runs = sum(1 for a, b in itertools.pairwise(told) if a and not b)
    assert runs <= 2, f"told in {runs + 1} separate runs: {told}"
    assert sum(told[first:]) >= 0.85 * len(told[first:])


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("5", "expected on, off or a list of series names"),
        ("{a: 1}", "expected on, off or a list of series names"),
        ('""', "a series name is text"),
        ('"latency, pg.connections"', "write a list"),
        ("[latency, 3]", "not 3"),
        ("[a, b, c, d, e, f, g, h, i]", "at most 8 series"),
    ],
)
@pytest.mark.parametrize("where", ["monitor", "defaults"])
def test_a_bad_anomaly_value_is_one_located_line(
    tmp_path, written: str, says: str, where: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "wk.yaml"
    if where == "monitor":
        path.write_text(
            f"monitors:\n  - {{name: api, http: 'http://127.0.0.1:9/', anomaly: {written}}}\n"
        )
    else:
        path.write_text(
            f"defaults: {{anomaly: {written}}}\nmonitors:\n  - {{name: api, http: 'http://127.0.0.1:9/'}}\n"
        )
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    lines = raised.value.lines()
    assert len(lines) == 1 and says in lines[0], lines
    assert lines[0].startswith(f"{path}:{2 if where == 'monitor' else 1}")


def test_a_series_the_check_never_observes_is_told_in_the_log(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    api = monitor(tmp_path, "[latency, pg.conections]")
    watch = Anomalies()
    with caplog.at_level("WARNING", logger="watchkeeper.engine"):
        for i in range(30):
            checked = result(i * 30.0, 100.0)
            checked.metrics["body.size"] = 14.0
            watch.judge(api, checked)
    told = [r.getMessage() for r in caplog.records if "pg.conections" in r.getMessage()]
    assert told == [
        "monitor api: anomaly series 'pg.conections' is not among what its check observes"
        " (body.size)"
    ]
    assert monitor(tmp_path, "[Latency]").anomaly == ("latency",)
