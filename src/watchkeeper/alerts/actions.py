"""What people do to alerting, from the CLI or the web alike: acknowledge an incident, add or
expire a silence. Each is one transaction; a request that cannot be done is an ActionError
with one line for the user."""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterable

from watchkeeper.config import Monitor
from watchkeeper.errors import WatchkeeperError
from watchkeeper.store import Store
from watchkeeper.store import alerts as db

MAX_SILENCE = 90 * 86400.0


class ActionError(WatchkeeperError):
    """An alerting request that cannot be done (unknown incident, monitor or tag...)."""


def acknowledge(store: Store, incident_id: int, who: str) -> tuple[db.Incident, bool]:
    """Acknowledge an incident (reminders and escalation stop). Returns it, and whether it had
    been acknowledged already (then nothing changes)."""
    now = time.time()
    with store.transaction() as connection:
        incident = db.incident(connection, incident_id)
        if incident is None:
            raise ActionError(f"no incident {incident_id}")
        if incident.acked_at is not None:
            return incident, True
        db.update_incident(connection, incident_id, acked_at=now, acked_by=who)
        db.add_timeline(
            connection,
            [db.TimelineEntry(incident_id, now, "acknowledged", f"acknowledged by {who}")],
        )
        updated = db.incident(connection, incident_id)
    assert updated is not None
    return updated, False


def add_silence(
    store: Store,
    monitors: Iterable[Monitor],
    *,
    monitor: str | None,
    tag: str | None,
    lasting: float,
    reason: str | None,
    by: str | None,
) -> db.Silence:
    """Silence one monitor or every monitor with a tag, from now for ``lasting`` seconds."""
    known = list(monitors)
    if (monitor is None) == (tag is None):
        raise ActionError("give a monitor or a tag (one of them)")
    if not 0 < lasting <= MAX_SILENCE:
        raise ActionError("a silence lasts more than 0 s and at most 90d")
    names = [m.name for m in known]
    tags = sorted({t for m in known for t in m.tags})
    if monitor is not None and monitor not in names:
        raise ActionError(f"no monitor named '{monitor}'" + _hint(monitor, names))
    if tag is not None and tag not in tags:
        raise ActionError(f"no monitor has the tag '{tag}'" + _hint(tag, tags))
    now = time.time()
    with store.transaction() as connection:
        return db.add_silence(
            connection,
            monitor=monitor,
            tag=tag,
            starts_at=now,
            ends_at=now + lasting,
            reason=reason or None,
            created_by=by,
            now=now,
        )


def expire_silence(store: Store, silence_id: int) -> None:
    with store.transaction() as connection:
        if not db.expire_silence(connection, silence_id, time.time()):
            raise ActionError(f"no active silence #{silence_id}")


def _hint(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
