"""The hook phase 2 builds on: what hears of the error tracker's batches (alerts of new and
regressed issues, spikes from the minute counts, pages that refresh).

    tracker = engine.errors                  # an ErrorTracker
    tracker.listeners.append(my_listener)    # any object with the three methods below

Each method is called on the event loop after a batch commits, issue by issue; it must not
block (hand work to a lane or a queue). One that raises is logged and the others still hear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from watchkeeper.errortrack.projects import Project
    from watchkeeper.store.issues import Issue, MinuteCount


class ErrorListener(Protocol):
    """What hears of the tracker's batches (phase 2: alerts, pages). Called on the event
    loop after each batch commits; must not block. A listener that raises is logged."""

    def issue_created(self, issue: Issue, project: Project) -> None:
        """A new issue: its first events were just stored."""

    def issue_regressed(self, issue: Issue, project: Project) -> None:
        """A resolved issue came back (see ``lifecycle``); it is unresolved again."""

    def events_stored(self, counts: Sequence[MinuteCount]) -> None:
        """Each minute a batch added events to, per issue: the minute's total so far."""
