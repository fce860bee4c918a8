"""Maintenance windows (one-off and cron in a time zone) and silences."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from watchkeeper.config import parse_config
from watchkeeper.state.maintenance import Mutes, window_active
from watchkeeper.store.alerts import Silence

BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


def windows(text: str):  # type: ignore[no-untyped-def]
    return parse_config(
        "monitors:\n  - {name: db, tcp: 'x:1', tags: [data]}\n  - {name: web, tcp: 'x:2'}\n" + text,
        "wk.yaml",
        env={},
    ).maintenance


def test_a_one_off_window_covers_its_span_only() -> None:
    (window,) = windows(
        "maintenance:\n  - {name: up, start: '2026-12-01T02:00:00+01:00', "
        "duration: 2h, monitors: [db]}\n"
    )
    assert not window_active(window, at(2026, 12, 1, 1, 59))
    assert window_active(window, at(2026, 12, 1, 2, 0))
    assert window_active(window, at(2026, 12, 1, 3, 59))
    assert not window_active(window, at(2026, 12, 1, 4, 0))


def test_a_time_without_offset_is_in_the_windows_zone() -> None:
    (window,) = windows(
        "maintenance:\n  - {name: up, start: '2026-12-01T02:00:00', "
        "end: '2026-12-01T03:00:00', tz: Europe/Berlin}\n"
    )
    assert window.start == at(2026, 12, 1, 2, 0)


def test_a_cron_window_keeps_local_time_across_daylight_saving() -> None:
    (window,) = windows(
        "maintenance:\n  - {name: nightly, cron: '0 2 * * *', duration: 1h, tz: Europe/Berlin}\n"
    )
    # the days around both changes of 2026: always 02:00-03:00 Berlin time (UTC+1, then +2)
    for day in ((2026, 3, 28), (2026, 3, 30), (2026, 10, 24), (2026, 10, 26)):
        assert window_active(window, at(*day, 2, 30)), day
        assert not window_active(window, at(*day, 3, 30)), day
        assert not window_active(window, at(*day, 1, 30)), day
    # on the night 02:00 does not exist, the window starts when the clock reaches 03:00
    start = datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert window_active(window, start + 60) and not window_active(window, start + 3660)


def test_a_cron_window_holds_from_its_first_second_up_to_not_including_its_last() -> None:
    (window,) = windows(
        "maintenance:\n  - {name: nightly, cron: '0 2 * * *', duration: 1h, tz: Europe/Berlin}\n"
    )
    assert window_active(window, at(2026, 12, 1, 2, 0, 0)), "it starts on the minute it fires"
    assert window_active(window, at(2026, 12, 1, 2, 59, 59))
    assert not window_active(window, at(2026, 12, 1, 3, 0, 0)), "and ends after its duration"
    assert not window_active(window, at(2026, 12, 1, 1, 59, 59))


def test_mutes_name_the_window_or_silence_that_holds_a_monitor() -> None:
    (window,) = windows(
        "maintenance:\n  - {name: data, start: '2026-12-01T00:00:00Z', "
        "duration: 1d, tags: [data]}\n"
    )
    now = at(2026, 12, 1, 12, 0)
    silence = Silence(4, "web", None, now - 60, now + 60, "deploy", "alice", now - 60, None)
    mutes = Mutes([window], [silence], now)
    assert mutes.reason("db", ("data",)) == "maintenance window 'data'"
    assert mutes.reason("web", ()) == "silence #4 (deploy)"
    assert Mutes([window], [silence], now + 3 * 86400).reason("web", ()) is None


def test_a_window_or_silence_holds_what_it_names_by_monitor_or_by_tag_and_nothing_else() -> None:
    (window,) = windows(
        "maintenance:\n  - {name: db-upgrade, start: '2026-12-01T00:00:00Z', "
        "duration: 1d, monitors: [db]}\n"
    )
    now = at(2026, 12, 1, 12, 0)
    tagged = Silence(5, None, "edge", now - 60, now + 60, None, "bob", now - 60, None)
    mutes = Mutes([window], [tagged], now)
    assert mutes.reason("db", ()) == "maintenance window 'db-upgrade'"
    assert mutes.reason("web", ("edge",)) == "silence #5", "no reason: no parentheses"
    assert mutes.reason("web", ("core",)) is None
    assert mutes.reason("cache", ()) is None
