"""RUM rows on both backends: tallies add up, hours roll up, the worst samples are trimmed
per hour, retention deletes them, and nothing about the client's address is kept."""

from __future__ import annotations

import sqlalchemy as sa

from watchkeeper.rum.histogram import bucket
from watchkeeper.rum.rows import Sample, Tally
from watchkeeper.store import Store, schema
from watchkeeper.store import rum as rum_rows

HOUR = 1_700_002_800.0  # an hour starts
assert HOUR % 3600 == 0


def tally(at: float, value: float, n: int = 1, device: str = "mobile") -> Tally:
    return Tally(
        at,
        "product",
        device,
        "LCP",
        n,
        n if value <= 2500 else 0,
        0,
        0 if value <= 2500 else n,
        {bucket("LCP", value): n},
    )


def sample(sample_id: str, value: float, at: float = HOUR + 10) -> Sample:
    return Sample(
        sample_id,
        at,
        "product",
        "mobile",
        "LCP",
        value,
        "poor",
        "/product/1",
        "navigate",
        {"target": "img#hero", "url": "https://cdn/x.jpg"},
    )


def test_tallies_of_a_key_are_kept_and_read_back_with_their_histograms(store: Store) -> None:
    store.rum_write([tally(HOUR, 1000.0, 3), tally(HOUR, 5000.0, 2)], [])
    store.rum_write([tally(HOUR + 60, 1000.0, 1, device="desktop")], [])
    found = store.rum_tallies(HOUR, HOUR + 120, page="product", metric="LCP")
    assert sorted((t.device, t.samples) for t in found) == [
        ("desktop", 1),
        ("mobile", 2),
        ("mobile", 3),
    ]
    assert store.rum_tallies(HOUR, HOUR + 60, device="desktop") == []
    mobile = store.rum_tallies(HOUR, HOUR + 60, device="mobile")
    assert {tuple(t.counts.items()) for t in mobile} == {
        ((bucket("LCP", 1000.0), 3),),
        ((bucket("LCP", 5000.0), 2),),
    }


def test_hours_roll_up_and_long_windows_read_them(store: Store, store_url: str) -> None:
    for minute in range(0, 120):
        store.rum_write([tally(HOUR + minute * 60, 1000.0 if minute < 60 else 5000.0)], [])
    assert store.rollup(HOUR + 2 * 3600 + 120, grace=60) >= 2
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as connection:
            hours = connection.execute(
                sa.select(schema.rum_hours.c.at, schema.rum_hours.c.samples)
            ).all()
    finally:
        engine.dispose()
    assert sorted((float(at), n) for at, n in hours) == [(HOUR, 60), (HOUR + 3600, 60)]
    assert store.rollup(HOUR + 2 * 3600 + 120, grace=60) == 0  # once
    store.rum_write([tally(HOUR + 2 * 3600 + 30, 1000.0, 7)], [])
    found = store.rum_tallies(HOUR - 3600, HOUR + 8 * 3600)  # long: hours and newer minutes
    assert sum(t.samples for t in found) == 127
    assert len(found) == 3


def test_the_worst_samples_of_an_hour_are_trimmed_and_a_repeat_updates(store: Store) -> None:
    store.rum_write([], [sample(f"id{i}", 1000.0 + i) for i in range(15)])
    store.rum_write([], [sample("id0", 99_000.0)])  # seen again, grown: now the worst
    store.rum_write([], [sample("next-hour", 10.0, at=HOUR + 3700)])
    worst = store.rum_worst(HOUR, HOUR + 3600, page="product", metric="LCP", limit=50)
    assert len(worst) == rum_rows.WORST_KEPT
    assert worst[0].id == "id0" and worst[0].value == 99_000.0
    assert worst[0].attribution == {"target": "img#hero", "url": "https://cdn/x.jpg"}
    assert [s.id for s in store.rum_worst(HOUR + 3600, HOUR + 7200)] == ["next-hour"]


def test_retention_deletes_old_rum_rows(store: Store) -> None:
    store.rum_write([tally(HOUR, 1000.0)], [sample("old", 5000.0)])
    store.rollup(HOUR + 3 * 3600, grace=60)
    now = HOUR + 20 * 86400
    store.prune(now, raw=14 * 86400, minute=90 * 86400, hour=365 * 86400)
    assert store.rum_tallies(HOUR, HOUR + 60) == []
    assert store.rum_worst(HOUR, HOUR + 3600) == []
    assert store.rum_tallies(HOUR - 86400, now) != []  # the hour is kept longer
    store.prune(now + 400 * 86400, raw=14 * 86400, minute=90 * 86400, hour=365 * 86400)
    assert store.rum_tallies(HOUR - 86400, now) == []


def test_no_rum_table_has_a_column_for_an_address() -> None:
    for table in (schema.rum_minutes, schema.rum_hours, schema.rum_samples):
        names = {column.name for column in table.columns}
        assert not names & {"address", "ip", "client", "source", "user_agent", "cookie"}
