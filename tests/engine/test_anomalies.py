"""Online anomalies: a lasting latency shift warns (so the monitor degrades) until the new
level is the normal one; a lone spike does not keep a warning past its own check."""

from __future__ import annotations

import numpy as np

from watchkeeper.config import load_config
from watchkeeper.engine.anomalies import Anomalies
from watchkeeper.model import Phases, Result


def monitor(tmp_path, anomaly: str = "on"):  # type: ignore[no-untyped-def]
    path = tmp_path / "wk.yaml"
    path.write_text(
        f"monitors:\n  - {{name: api, http: 'http://127.0.0.1:9/', anomaly: {anomaly}}}\n"
    )
    return load_config(str(path)).monitors[0]


def result(at: float, ms: float, ok: bool = True) -> Result:
    return Result("api", "http", at, ok, Phases(total=ms / 1000.0))


def test_anomaly_on_is_read_from_the_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert monitor(tmp_path).anomaly is True
    assert monitor(tmp_path, "off").anomaly is False


def test_a_lasting_shift_warns_until_it_is_the_new_normal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = monitor(tmp_path)
    watch = Anomalies(hold=40)
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
    assert all(warned[first : first + 30]), "and it stays while the latency stays up"
    assert not any(warned[first + 45 :]), "until the hold ends: the new level is normal"
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
