"""Error alerts: a new issue, a regression, a spike — queued in the outbox of notifications
in the same transaction as the batch of events that caused them, so a restart loses none.

    new         an issue's first events were stored
    regression  a resolved issue came back (``lifecycle``); it is unresolved again
    spike       an issue's events in the current minute beyond its own baseline (``spikes``)

Each goes to the routes the project's ``notify:`` names (none: nothing is queued) and is
delivered like a monitor's alert: by the deliverer of ``wk up`` (in a cluster, the alert
leader's), escaped for each destination by its notifier. Each notification's dedup key is
``wk-error-<issue>-<kind>-<hour>-<route>``: one of a kind per issue and hour, whichever node
wrote it first; and at most one spike per issue in any 60 minutes.

A deploy that breaks many things at once must not page once per issue: a project tells at
most ``ISSUES_PER_HOUR`` new issues and regressions in a clock hour; the first one past that
sends one summary instead ("N more new issues in shop this hour", with the Errors page's
link), and the rest of the hour is quiet (the Errors page and ``wk errors`` list them all).
The count is this process's (a restart within the hour may tell up to that many again).

The object is used by one thread at a time (the store writer's lane, inside the tracker's
write); its caches only spare queries: the store decides.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

import sqlalchemy as sa

from watchkeeper.config import Config
from watchkeeper.errortrack import spikes
from watchkeeper.errortrack.projects import Project
from watchkeeper.notify.base import AlertItem, Message
from watchkeeper.store import alerts as outbox
from watchkeeper.store import issues as issue_rows
from watchkeeper.store.issue_batches import GroupWrite, Written
from watchkeeper.store.issues import Issue, MinuteCount
from watchkeeper.units import plural

NEW = "new"
REGRESSION = "regression"
SPIKE = "spike"
FLOOD = "flood"
SPIKE_EVERY = 3600.0
"""Seconds between two spike alerts of one issue, at least."""
ISSUES_PER_HOUR = 10
"""New-issue and regression alerts of one project in a clock hour, at most (then a summary)."""
_LABELS = {NEW: "NEW ERROR", REGRESSION: "REGRESSION", SPIKE: "ERROR SPIKE", FLOOD: "NEW ERRORS"}
_TITLE_CHARS = 200


def dedup_key(issue_id: int, kind: str, at: float, route: str) -> str:
    return f"wk-error-{issue_id}-{kind}-{int(at // 3600)}-{route}"


def issue_url(config: Config, issue_id: int) -> str:
    """The issue's page: under ``server.public_url``, else the address ``wk up`` listens on."""
    base = config.server.public_url
    if not base:
        host = config.server.host
        base = f"http://{f'[{host}]' if ':' in host else host}:{config.server.port}"
    return f"{base}/errors/{issue_id}"


def flood_message(
    project: str, sample: Issue, route: str, key: str, url: str, now: float
) -> Message:
    """The one summary of an hour whose new issues went past ``ISSUES_PER_HOUR``."""
    title = " ".join(sample.title.split())[:_TITLE_CHARS] or "(no title)"
    headline = (
        f"More new issues in {project}: {ISSUES_PER_HOUR} were told this hour, and more are "
        "coming (a deploy?); the rest of this hour's are not sent one by one"
    )
    lines = [headline, f"  the latest: {title}", f"  all of them: {url}"]
    item = AlertItem(
        monitor=project,
        state=FLOOD,
        previous_state="",
        at=now,
        since=now,
        kind="error",
        target=sample.culprit or "",
        reason=headline,
        url=url,
        severity="critical",
        event=FLOOD,
        issue=sample.id,
        count=sample.count,
        users=sample.users,
        release=sample.last_release,
    )
    return Message(
        route=route,
        dedup_key=key,
        event=FLOOD,
        title=f"[{_LABELS[FLOOD]}] {project}: more than {ISSUES_PER_HOUR} this hour",
        text="\n".join(lines),
        items=(item,),
        created_at=now,
    )


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def message_for(
    kind: str,
    issue: Issue,
    route: str,
    key: str,
    url: str,
    now: float,
    *,
    environment: str | None = None,
    minute: MinuteCount | None = None,
    baseline: spikes.Baseline | None = None,
) -> Message:
    """The notification of one error alert on one route. Plain text: the notifier makes it
    inert for its destination (the title, the culprit and the release are the SDK's)."""
    title = " ".join(issue.title.split())[:_TITLE_CHARS] or "(no title)"
    project = issue.project
    where = f"  at {issue.culprit}" if issue.culprit else "  (no in-app frame)"
    facts = [plural(issue.count, "event"), plural(issue.users, "user")]
    if issue.last_release:
        facts.append(f"release {issue.last_release}")
    if environment:
        facts.append(f"environment {environment}")
    if kind == SPIKE and minute is not None and baseline is not None:
        rate = f"{minute.count} events in the minute from {_clock(minute.minute)}"
        usual = f"usually {baseline.level:g} a minute"
        headline = f"Error spike in {project}: {title}"
        reason = f"{rate} ({usual})"
        lines = [headline, f"  {reason}", where, "  " + ", ".join(facts)]
        subject = f"[{_LABELS[kind]}] {project}: {title} — {minute.count}/min"
    else:
        what = "New issue" if kind == NEW else "Regression"
        headline = f"{what} in {project}: {title}"
        since = (
            f"  first seen {_clock(issue.first_seen)}"
            if kind == NEW
            else f"  resolved before, seen again {_clock(issue.last_seen)}"
        )
        reason = title
        lines = [headline, where, "  " + ", ".join(facts), since]
        subject = f"[{_LABELS[kind]}] {project}: {title}"
    lines.append(f"  {url}")
    item = AlertItem(
        monitor=project,
        state=kind,
        previous_state="",
        at=now,
        since=issue.first_seen,
        kind="error",
        target=issue.culprit or "",
        reason=reason,
        url=url,
        severity="warning" if kind == SPIKE else "critical",
        event=kind,
        issue=issue.id,
        count=minute.count if kind == SPIKE and minute is not None else issue.count,
        users=issue.users,
        release=issue.last_release,
        environment=environment,
    )
    return Message(
        route=route,
        dedup_key=key,
        event=kind,
        title=" ".join(subject.split()),
        text="\n".join(lines),
        items=(item,),
        created_at=now,
    )


def environments(groups: Iterable[GroupWrite]) -> dict[tuple[int, str], str]:
    """The environment most of each issue's events in the batch came from."""
    found: dict[tuple[int, str], str] = {}
    for group in groups:
        seen = Counter({value: n for (key, value), n in group.tags.items() if key == "environment"})
        if seen:
            found[(group.project_id, group.fingerprint)] = seen.most_common(1)[0][0]
    return found


class ErrorAlerts:
    """Writes the alerts of each batch (``write``), in the batch's transaction."""

    def __init__(
        self,
        config: Config,
        projects: Callable[[int], Project | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._project = projects
        self._clock = clock
        self._baselines: dict[tuple[int, int], spikes.Baseline] = {}
        """(issue, minute) → its baseline: looked up once a minute per busy issue."""
        self._spiked: dict[int, float] = {}
        """Issue → when this process last queued a spike alert of it."""
        self.queued = 0
        """Notifications queued (a transaction rolled back after may have undone some)."""
        self._told: dict[tuple[int, int], int] = {}
        """(project, clock hour) → new issues and regressions told in it."""

    def routes(self, project_id: int) -> list[str]:
        """The project's routes that the config has (a reload may have removed one)."""
        project = self._project(project_id)
        if project is None:
            return []
        known = {route.name for route in self.config.routes}
        return [name for name in project.settings.notify if name in known]

    def write(
        self, connection: sa.Connection, written: Written, groups: Sequence[GroupWrite] = ()
    ) -> int:
        """Queue the alerts of a batch just written; how many notifications were queued."""
        now = self._clock()
        where = environments(groups)
        queued = 0
        hour = int(now // 3600)
        if any(told_hour != hour for _, told_hour in self._told):
            self._told = {k: v for k, v in self._told.items() if k[1] == hour}
        past: dict[int, Issue] = {}
        for kind, found in ((NEW, written.created), (REGRESSION, written.regressed)):
            for issue in found:
                slot = (issue.project_id, hour)
                if self._told.get(slot, 0) >= ISSUES_PER_HOUR:
                    past[issue.project_id] = issue
                    continue
                told = self._queue(
                    connection,
                    kind,
                    issue,
                    now,
                    environment=where.get((issue.project_id, issue.fingerprint)),
                )
                if told:
                    self._told[slot] = self._told.get(slot, 0) + 1
        for project_id, sample in past.items():
            queued += self._flood(connection, sample, project_id, hour, now)
        fresh = {issue.id for issue in (*written.created, *written.regressed)}
        queued += self._spikes(connection, written.minutes, fresh, where, now)
        self.queued += queued
        return queued

    def _queue(
        self,
        connection: sa.Connection,
        kind: str,
        issue: Issue,
        now: float,
        *,
        environment: str | None = None,
        minute: MinuteCount | None = None,
        baseline: spikes.Baseline | None = None,
    ) -> int:
        url = issue_url(self.config, issue.id)
        queued = 0
        for route in self.routes(issue.project_id):
            key = dedup_key(issue.id, kind, now, route)
            message = message_for(
                kind,
                issue,
                route,
                key,
                url,
                now,
                environment=environment,
                minute=minute,
                baseline=baseline,
            )
            if outbox.add_notification_once(connection, route, key, kind, now, message.to_json()):
                queued += 1
        return queued

    def _flood(
        self, connection: sa.Connection, sample: Issue, project_id: int, hour: int, now: float
    ) -> int:
        """The hour's one summary of the project's issues past the cap, per route."""
        base = issue_url(self.config, 0).removesuffix("/errors/0")
        url = f"{base}/errors?{urlencode({'project': sample.project})}"
        queued = 0
        for route in self.routes(project_id):
            key = f"wk-error-flood-{project_id}-{hour}-{route}"
            message = flood_message(sample.project, sample, route, key, url, now)
            if outbox.add_notification_once(connection, route, key, FLOOD, now, message.to_json()):
                queued += 1
        return queued

    def _spikes(
        self,
        connection: sa.Connection,
        minutes: Sequence[MinuteCount],
        fresh: set[int],
        where: dict[tuple[int, str], str],
        now: float,
    ) -> int:
        newest: dict[int, MinuteCount] = {}
        for minute in minutes:
            known = newest.get(minute.issue_id)
            if known is None or minute.minute > known.minute:
                newest[minute.issue_id] = minute
        candidates = [
            m
            for m in newest.values()
            if m.count > spikes.FLOOR
            and m.issue_id not in fresh
            and now - self._spiked.get(m.issue_id, -SPIKE_EVERY) >= SPIKE_EVERY
            and self.routes(m.project_id)
        ]
        if not candidates:
            return 0
        self._forget_before(max(m.minute for m in candidates) - 120)
        unknown = [m for m in candidates if (m.issue_id, m.minute) not in self._baselines]
        issues = _issues(connection, {m.issue_id for m in unknown})
        if unknown:
            self._look_up(connection, unknown, issues)
        spiking = [
            (minute, self._baselines.get((minute.issue_id, minute.minute), spikes.NO_HISTORY))
            for minute in candidates
        ]
        spiking = [(m, b) for m, b in spiking if spikes.is_spike(m.count, b)]
        issues.update(_issues(connection, {m.issue_id for m, _ in spiking} - set(issues)))
        queued = 0
        for minute, baseline in spiking:
            issue = issues.get(minute.issue_id)
            if issue is None:
                continue
            if self._spiked_lately(connection, issue, now):
                self._spiked[issue.id] = now
                continue
            self._spiked[issue.id] = now
            queued += self._queue(
                connection,
                SPIKE,
                issue,
                now,
                environment=where.get((issue.project_id, issue.fingerprint)),
                minute=minute,
                baseline=baseline,
            )
        return queued

    def _look_up(
        self, connection: sa.Connection, wanted: Sequence[MinuteCount], issues: dict[int, Issue]
    ) -> None:
        """The baselines of ``wanted`` minutes: one query for all their issues' last hour."""
        earliest = min(m.minute for m in wanted) - spikes.WINDOW * 60
        latest = max(m.minute for m in wanted)
        counts: dict[int, dict[int, int]] = {}
        for row in issue_rows.minute_counts(
            connection, sorted({m.issue_id for m in wanted}), earliest, latest
        ):
            counts.setdefault(row.issue_id, {})[row.minute] = row.count
        for minute in wanted:
            issue = issues.get(minute.issue_id)
            if issue is None:
                continue
            since = max(issue.first_seen, issue.regressed_at or 0.0)
            self._baselines[(minute.issue_id, minute.minute)] = spikes.baseline_for(
                counts.get(minute.issue_id, {}), minute.minute, since
            )

    def _spiked_lately(self, connection: sa.Connection, issue: Issue, now: float) -> bool:
        """Was a spike of this issue queued in the last ``SPIKE_EVERY`` (by any node)?"""
        keys = [
            dedup_key(issue.id, SPIKE, at, route)
            for at in (now, now - SPIKE_EVERY)
            for route in self.routes(issue.project_id)
        ]
        return outbox.queued_since(connection, keys, now - SPIKE_EVERY)

    def _forget_before(self, minute: int) -> None:
        if len(self._baselines) > 10_000 or any(m < minute for _, m in self._baselines):
            self._baselines = {k: v for k, v in self._baselines.items() if k[1] >= minute}
        if len(self._spiked) > 10_000:
            cutoff = self._clock() - SPIKE_EVERY
            self._spiked = {k: v for k, v in self._spiked.items() if v >= cutoff}


def _issues(connection: sa.Connection, ids: set[int]) -> dict[int, Issue]:
    return {i.id: i for i in issue_rows.issues_by_id(connection, ids)} if ids else {}
