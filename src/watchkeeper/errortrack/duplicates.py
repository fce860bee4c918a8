"""Duplicate events: an SDK (or a proxy) that sends an event twice gets its answer twice,
and the second is dropped. Remembered here: the newest ``most`` event ids taken in (about
25 MB at the default); the batch writer also drops an event whose id the store keeps."""

from __future__ import annotations

from collections import deque


class RecentIds:
    """The newest ``most`` (project, event id) pairs taken in: duplicates are dropped."""

    def __init__(self, most: int = 200_000) -> None:
        self._most = most
        self._order: deque[tuple[int, str]] = deque()
        self._known: set[tuple[int, str]] = set()

    def __contains__(self, key: tuple[int, str]) -> bool:
        return key in self._known

    def add(self, key: tuple[int, str]) -> None:
        if key in self._known:
            return
        self._known.add(key)
        self._order.append(key)
        if len(self._order) > self._most:
            self._known.discard(self._order.popleft())
