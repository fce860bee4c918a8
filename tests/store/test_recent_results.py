"""``Store.recent_results``: many monitors' newest results in one read (a node taking over
thousands of monitors restores their streaks with it)."""

from __future__ import annotations

from pathlib import Path

from watchkeeper.model import Phases, Result
from watchkeeper.store import Store


def _result(monitor: str, at: float, ok: bool) -> Result:
    return Result(monitor=monitor, kind="http", started_at=at, ok=ok, phases=Phases(total=0.01),
                  error=None if ok else "refused")  # fmt: skip


def test_each_monitor_gets_its_own_newest_results_oldest_first(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'wk.db'}")
    try:
        store.write([_result(m, 1000.0 + i, ok=i % 2 == 0) for m in ("a", "b") for i in range(5)])
        store.write([_result("c", 10.0, ok=True)])  # before the window: left out
        found = store.recent_results({"a": 2, "b": 3, "c": 2, "missing": 1}, since=500.0)
        assert [r.started_at for r in found["a"]] == [1003.0, 1004.0]
        assert [r.started_at for r in found["b"]] == [1002.0, 1003.0, 1004.0]
        assert [r.ok for r in found["b"]] == [True, False, True]
        assert found["b"][1].error == "refused"
        assert "c" not in found and "missing" not in found
    finally:
        store.close()
