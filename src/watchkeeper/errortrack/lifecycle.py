"""An issue's status and what a new event does to it. Pure: no I/O, no clock.

    unresolved ── resolve ──► resolved ── an event that counts as a regression ──► unresolved
         ▲   └──── ignore ──► ignored  (events are counted; it stays ignored)
         └────── unresolve ───┘

Resolving takes one of two forms:

- ``resolve`` (plain): fixed now. The newest release the issue was seen in is remembered:
  an event of that release or an older one (a server not yet upgraded) does not reopen it; an
  event of a newer release, or without a release (or when the issue never had one), does;
- ``resolve in release X``: the fix ships in X. Events of releases older than X do not
  reopen it; an event of X or newer, or without a release, does.

Releases are ordered by version when both read as versions (``1.10.0`` after ``1.9.2``,
``shop@2.0`` after ``shop@1.4``, a build suffix ignored), else by when this project first saw
each (a release never seen is the newest).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class Resolution(StrEnum):
    NOW = "now"
    """Plain resolve: fixed after the newest release seen (``release`` is that one)."""
    IN_RELEASE = "in_release"
    """Fixed in ``release``."""


_VERSION = re.compile(
    r"^(?:(?P<package>[^@\s]{1,200})@)?v?(?P<numbers>\d{1,9}(?:\.\d{1,9}){0,5})"
    r"(?P<rest>(?:[-~][0-9A-Za-z.-]{0,60}|(?:a|b|rc|alpha|beta|dev|pre)\.?\d{0,9})?)"
    r"(?:\+.{0,200})?$"
)


def version_key(release: str) -> tuple[str, tuple[int, ...], int, str] | None:
    """A release as an orderable version: (package, numbers, final?, pre-release tag); None
    when it does not read as one."""
    match = _VERSION.match(release.strip())
    if match is None:
        return None
    rest = match.group("rest")
    numbers = tuple(int(part) for part in match.group("numbers").split("."))
    while len(numbers) > 1 and numbers[-1] == 0:  # 1.2 == 1.2.0
        numbers = numbers[:-1]
    return match.group("package") or "", numbers, 0 if rest else 1, rest


def is_newer(
    release: str, than: str, first_seen: Mapping[str, float], *, or_same: bool = False
) -> bool:
    """Is ``release`` newer than ``than`` (or the same one, with ``or_same``)?"""
    if release == than:
        return or_same
    mine, theirs = version_key(release), version_key(than)
    if mine is not None and theirs is not None and mine[0] == theirs[0]:
        return mine > theirs or (or_same and mine == theirs)
    infinity = float("inf")
    return first_seen.get(release, infinity) > first_seen.get(than, infinity) or (
        or_same and first_seen.get(release, infinity) == first_seen.get(than, infinity)
    )


@dataclass(frozen=True, slots=True)
class Resolved:
    """How a resolved issue was resolved."""

    resolution: Resolution
    release: str | None
    """The newest release seen when resolved (NOW), or the release of the fix (IN_RELEASE)."""
    at: float
    """When it was resolved (events received before then never reopen it)."""


def reopens(
    resolved: Resolved,
    event_release: str | None,
    received_at: float,
    first_seen: Mapping[str, float],
) -> bool:
    """Does an event of ``event_release`` received at ``received_at`` make the resolved
    issue a regression?"""
    if received_at < resolved.at:
        return False  # queued before the issue was resolved: what was fixed
    if resolved.release is None or event_release is None:
        return True
    if resolved.resolution is Resolution.IN_RELEASE:
        return is_newer(event_release, resolved.release, first_seen, or_same=True)
    return is_newer(event_release, resolved.release, first_seen)
