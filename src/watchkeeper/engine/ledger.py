"""What the pages need about every monitor at once, kept in memory: uptime per hour (last
48 h) and per day (last 90 days), and the latency of the last minutes (sparklines).

The store could answer all of it, but not for a thousand monitors within one page's time
budget; so the ledger is seeded from the store's rollups once at start (before any check
runs, so nothing is counted twice) and then fed every Result. Days and hours are UTC.
Reading it never touches the database.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from watchkeeper.model import Result
from watchkeeper.store import Store, minutes, raw, schema
from watchkeeper.store.rollups import HOUR, MINUTE, watermark

HOURS_KEPT = 48
DAYS_KEPT = 90
MINUTES_KEPT = 30
_TOTAL_P50 = schema.ROLLUP_VALUE_COLUMNS.index("total_p50")


@dataclass(slots=True)
class _Book:
    hours: dict[int, list[int]] = field(default_factory=dict)
    """hour index → [checks, failures]"""
    days: dict[int, list[int]] = field(default_factory=dict)
    minutes: deque[tuple[int, list[float]]] = field(default_factory=deque)
    """(minute index, latencies in ms) for the newest minutes, oldest first."""
    seeded_minutes: dict[int, float] = field(default_factory=dict)
    """minute index → median latency (ms) from the store, for minutes before the start."""


@dataclass(frozen=True, slots=True)
class DayBar:
    """One day of a monitor's uptime bar."""

    start: float
    checks: int
    failures: int

    @property
    def uptime(self) -> float | None:
        return (self.checks - self.failures) / self.checks if self.checks else None


class Ledger:
    def __init__(self) -> None:
        self._books: dict[str, _Book] = {}

    # -- writing -----------------------------------------------------------------------------
    def record(self, result: Result) -> None:
        book = self._books.get(result.monitor)
        if book is None:
            book = self._books[result.monitor] = _Book()
        at = result.started_at
        failed = 0 if result.ok else 1
        hour, day = int(at // 3600), int(at // 86400)
        counts = book.hours.get(hour)
        if counts is None:
            counts = book.hours[hour] = [0, 0]
            _forget_before(book.hours, hour - HOURS_KEPT)
        counts[0] += 1
        counts[1] += failed
        counts = book.days.get(day)
        if counts is None:
            counts = book.days[day] = [0, 0]
            _forget_before(book.days, day - DAYS_KEPT)
        counts[0] += 1
        counts[1] += failed
        if result.ok and result.latency is not None:
            minute = int(at // 60)
            if not book.minutes or book.minutes[-1][0] < minute:
                book.minutes.append((minute, []))
                while book.minutes and book.minutes[0][0] <= minute - MINUTES_KEPT:
                    book.minutes.popleft()
            book.minutes[-1][1].append(result.latency * 1000.0)

    def forget(self, monitor: str) -> None:
        self._books.pop(monitor, None)

    def take(self, other: Ledger) -> None:
        """Adopt the books ``other`` was seeded with (monitors a reload added: seeded in a
        thread apart, then taken on the event loop, which feeds this one)."""
        self._books.update(other._books)

    # -- reading -----------------------------------------------------------------------------
    def uptime(self, monitor: str, window: float, now: float) -> float | None:
        """Share of good checks over the last ``window`` seconds: hourly up to 48 h, daily
        beyond (the current hour or day counts as a whole)."""
        book = self._books.get(monitor)
        if book is None:
            return None
        if window <= HOURS_KEPT * 3600:
            last = int(now // 3600)
            first = last - math.ceil(window / 3600) + 1
            rows = (book.hours.get(i) for i in range(first, last + 1))
        else:
            last = int(now // 86400)
            first = last - math.ceil(window / 86400) + 1
            rows = (book.days.get(i) for i in range(first, last + 1))
        checks = failures = 0
        for row in rows:
            if row is not None:
                checks += row[0]
                failures += row[1]
        return (checks - failures) / checks if checks else None

    def days(self, monitor: str, count: int, now: float) -> list[DayBar]:
        """The last ``count`` days, oldest first (days without checks have ``checks == 0``)."""
        book = self._books.get(monitor)
        last = int(now // 86400)
        bars = []
        for index in range(last - count + 1, last + 1):
            row = book.days.get(index) if book else None
            bars.append(DayBar(index * 86400.0, row[0] if row else 0, row[1] if row else 0))
        return bars

    def sparkline(self, monitor: str, now: float, points: int = MINUTES_KEPT) -> list[float | None]:
        """Median latency (ms) of each of the last ``points`` minutes (None: no good check)."""
        book = self._books.get(monitor)
        last = int(now // 60)
        if book is None:
            return [None] * points
        live = {minute: values for minute, values in book.minutes}
        line: list[float | None] = []
        for minute in range(last - points + 1, last + 1):
            values = live.get(minute)
            if values:
                line.append(values[0] if len(values) == 1 else statistics.median(values))
            else:
                line.append(book.seeded_minutes.get(minute))
        return line

    def version(self, monitor: str) -> tuple[int, int]:
        """Changes whenever what the ledger says of ``monitor`` may have changed (for caches
        of what is drawn from it): the newest minute and how many checks it holds."""
        book = self._books.get(monitor)
        if book is None or not book.minutes:
            return (0, 0)
        minute, values = book.minutes[-1]
        return (minute, len(values))

    # -- seeding from the store --------------------------------------------------------------
    def seed(self, store: Store, names: Iterable[str], now: float) -> None:
        """Load the history of ``names`` from the store's rollups and raw results: days from
        1-hour rollups, the recent part from 1-minute rollups and raw results after their
        watermarks, so every check is counted once."""
        wanted = set(names)
        with store.read() as connection:
            ids = {
                int(id_): str(name)
                for id_, name in connection.execute(
                    sa.select(schema.monitors.c.id, schema.monitors.c.name)
                )
                if name in wanted
            }
            if not ids:
                return
            hour_mark = watermark(connection, HOUR) or 0
            minute_mark = watermark(connection, MINUTE) or 0
            since_day = (int(now // 86400) - DAYS_KEPT + 1) * 86400
            since_hour = (int(now // 3600) - HOURS_KEPT + 1) * 3600
            hourly = schema.rollup_1h
            for monitor_id, bucket, checks, failures in connection.execute(
                sa.select(hourly.c.monitor_id, hourly.c.bucket, hourly.c.checks, hourly.c.failures)
                .where(hourly.c.bucket >= since_day, hourly.c.bucket < hour_mark)
                .order_by(hourly.c.monitor_id)
            ):
                self._add(ids.get(int(monitor_id)), int(bucket), int(checks), int(failures))
            recent = (int(now // 60) - MINUTES_KEPT) * 60
            counted_from = max(hour_mark, since_day)
            found = minutes.check_rows(
                connection, sorted(ids), min(counted_from, recent), minute_mark
            )
            counted: dict[tuple[int, int], list[int]] = {}
            for monitor_id, bucket, checks, failures, *values in found:
                if bucket >= counted_from:  # type: ignore[operator]
                    tally = counted.setdefault((int(monitor_id), int(bucket) // 3600), [0, 0])  # type: ignore[arg-type]
                    tally[0] += int(checks)  # type: ignore[arg-type]
                    tally[1] += int(failures)  # type: ignore[arg-type]
                p50 = values[_TOTAL_P50]
                if bucket >= recent and p50 is not None:  # type: ignore[operator]
                    name = ids.get(int(monitor_id))  # type: ignore[arg-type]
                    if name is not None:
                        book = self._books.setdefault(name, _Book())
                        book.seeded_minutes[int(bucket) // 60] = float(p50)  # type: ignore[arg-type]
            for (monitor_id, hour), (checks, failures) in counted.items():
                self._add(ids.get(monitor_id), hour * 3600, checks, failures)
            for monitor_id, hour, checks, failures in raw.hourly_counts(
                connection, sorted(ids), max(minute_mark, hour_mark, since_day)
            ):
                self._add(ids.get(monitor_id), hour * 3600, checks, failures)
        for book in self._books.values():
            _forget_before(book.hours, since_hour // 3600)

    def _add(self, name: str | None, start: int, checks: int, failures: int) -> None:
        if name is None or checks <= 0:
            return
        book = self._books.setdefault(name, _Book())
        for table, index in ((book.hours, start // 3600), (book.days, start // 86400)):
            row = table.setdefault(index, [0, 0])
            row[0] += checks
            row[1] += failures


def _forget_before(table: dict[int, list[int]], first: int) -> None:
    for index in [i for i in table if i < first]:
        del table[index]
