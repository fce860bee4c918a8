"""Contract: a heartbeat keeps its newest ``pings.KEEP`` pings, whoever pings it how often."""

from __future__ import annotations

import pytest

from watchkeeper.store import Store, pings

NOW = 1_700_000_000.0


def _add(store: Store, monitor_id: int, times: list[float]) -> None:
    with store.transaction() as connection:
        pings.add(connection, [pings.Ping(monitor_id, at, "success") for at in times])


def _times(store: Store, monitor_id: int) -> list[float]:
    with store.read() as connection:
        return [p.ts for p in pings.recent(connection, monitor_id, limit=100_000)]


def test_trim_deletes_the_oldest_pings_beyond_the_newest_keep(store: Store) -> None:
    job, other = store.monitor_id("job", "heartbeat"), store.monitor_id("other", "heartbeat")
    _add(store, job, [NOW + i for i in range(130)] + [NOW + 129.0] * 3)  # ties at the end
    _add(store, other, [NOW + i for i in range(20)])

    with store.transaction() as connection:
        assert pings.trim(connection, job, keep=100) == 33
        assert pings.trim(connection, other, keep=100) == 0

    kept = _times(store, job)
    assert len(kept) == 100
    assert kept[0] == NOW + 33 and kept[-4:] == [NOW + 129.0] * 4, "the newest are kept"
    assert len(_times(store, other)) == 20, "another monitor's pings are its own"


def test_trim_catches_up_a_long_backlog_in_bounded_steps(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pings, "TRIM_BATCH", 40)
    job = store.monitor_id("job", "heartbeat")
    _add(store, job, [NOW + i for i in range(200)])

    steps = []
    while True:
        with store.transaction() as connection:
            deleted = pings.trim(connection, job, keep=50)
        if not deleted:
            break
        steps.append(deleted)

    assert steps == [40, 40, 40, 30]
    assert _times(store, job) == [NOW + i for i in range(150, 200)]
