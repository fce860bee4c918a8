"""What people do to alerting, from the CLI or the web alike: acknowledge an incident, add or
expire a silence, add or remove a maintenance window. Each is one transaction; a request
that cannot be done is an ActionError with one line for the user."""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterable
from typing import Any

from watchkeeper.config import Config, MaintenanceWindow, Monitor, load_api_maintenance
from watchkeeper.errors import ConfigError, WatchkeeperError
from watchkeeper.store import Store, definitions
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


# -- maintenance windows defined through the API -----------------------------------------------
class Conflict(ActionError):
    """The request clashes with what exists (a name taken)."""


def windows(
    store: Store, config: Config, monitors: Iterable[str]
) -> list[tuple[MaintenanceWindow, str, int | None]]:
    """Every maintenance window: (window, ``config`` or ``api``, its id if from the API). A
    stored window that no longer validates (a monitor it named is gone) is left out."""
    with store.read() as connection:
        defined = definitions.api_maintenance(connection)
    names = list(monitors)
    found: list[tuple[MaintenanceWindow, str, int | None]] = [
        (window, "config", None) for window in config.maintenance
    ]
    for definition in defined:
        try:
            window = load_api_maintenance(definition.spec, names)
        except ConfigError:
            continue
        found.append((window, "api", definition.id))
    return found


def add_window(
    store: Store, config: Config, monitors: Iterable[str], spec: dict[str, Any], by: str
) -> tuple[MaintenanceWindow, int]:
    """Validate and keep a window (the JSON form of a ``maintenance:`` entry). Raises
    ConfigError when it does not validate, Conflict when its name is taken."""
    window = load_api_maintenance(spec, list(monitors))
    if any(w.name == window.name for w in config.maintenance):
        raise Conflict(f"the config has a window named '{window.name}' already")
    with store.transaction() as connection:
        if any(d.name == window.name for d in definitions.api_maintenance(connection)):
            raise Conflict(f"a window named '{window.name}' exists already")
        window_id = definitions.add_api_maintenance(connection, window.name, spec, by, time.time())
    return window, window_id


def delete_window(store: Store, window_id: int) -> None:
    with store.transaction() as connection:
        if not definitions.delete_api_maintenance(connection, window_id):
            raise ActionError(f"no maintenance window {window_id} defined through the API")
