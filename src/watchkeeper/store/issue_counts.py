"""The counting rows a batch of the error tracker adds to, in the caller's transaction:
each issue's distinct users (at most ``MAX_USERS``), its tags' values (at most
``MAX_TAG_VALUES`` per tag: once a tag has that many, only those go on being counted), its
events per minute, and each project's releases and outcomes. Called by
``issue_batches.write_batch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from watchkeeper.store import schema
from watchkeeper.store.ingest import dialect_insert
from watchkeeper.store.issues import MAX_USERS, MinuteCount

if TYPE_CHECKING:
    from watchkeeper.store.issue_batches import GroupWrite, OutcomeKey, ReleaseWrite

_U = schema.error_issue_users
_T = schema.error_issue_tags
_M = schema.error_minutes
_R = schema.error_releases
_O = schema.error_outcomes

MAX_TAG_VALUES = 100
"""Values kept per tag of an issue."""
_CHUNK = 500


def users(
    connection: sa.Connection, groups: Sequence[GroupWrite], rows: Mapping[tuple[int, str], Any]
) -> dict[int, int]:
    """Record users not seen before (all issues' in a few queries); returns issue id → how
    many were new."""
    rooms: dict[int, int] = {}
    pairs: list[tuple[int, str]] = []
    for group in groups:
        row = rows[(group.project_id, group.fingerprint)]
        room = MAX_USERS - int(row["users"])
        if group.users and room > 0:
            rooms[int(row["id"])] = room
            pairs += [(int(row["id"]), user) for user in sorted(group.users)]
    known: set[tuple[int, str]] = set()
    for start in range(0, len(pairs), _CHUNK):
        query = sa.select(_U.c.issue_id, _U.c.user_hash).where(
            sa.tuple_(_U.c.issue_id, _U.c.user_hash).in_(pairs[start : start + _CHUNK])
        )
        known.update((int(r.issue_id), str(r.user_hash)) for r in connection.execute(query))
    added: dict[int, int] = {}
    new: list[dict[str, Any]] = []
    for issue_id, user in pairs:
        if (issue_id, user) not in known and added.get(issue_id, 0) < rooms[issue_id]:
            added[issue_id] = added.get(issue_id, 0) + 1
            new.append({"issue_id": issue_id, "user_hash": user})
    if new:
        connection.execute(dialect_insert(connection, _U).on_conflict_do_nothing(), new)
    return added


def tags(
    connection: sa.Connection, groups: Sequence[GroupWrite], rows: Mapping[tuple[int, str], Any]
) -> None:
    ids = [int(rows[(g.project_id, g.fingerprint)]["id"]) for g in groups if g.tags]
    if not ids:
        return
    full: set[tuple[int, str]] = set()
    for start in range(0, len(ids), _CHUNK):
        query = (
            sa.select(_T.c.issue_id, _T.c.key)
            .where(_T.c.issue_id.in_(ids[start : start + _CHUNK]))
            .group_by(_T.c.issue_id, _T.c.key)
            .having(sa.func.count() >= MAX_TAG_VALUES)
        )
        full.update((int(r.issue_id), str(r.key)) for r in connection.execute(query))
    upserts: list[dict[str, Any]] = []
    counted: list[dict[str, Any]] = []
    for group in groups:
        issue_id = int(rows[(group.project_id, group.fingerprint)]["id"])
        for (key, value), count in group.tags.items():
            item = {"issue_id": issue_id, "key": key, "value": value, "count": count}
            item["last_seen"] = group.last_seen
            (counted if (issue_id, key) in full else upserts).append(item)
    if upserts:
        statement = dialect_insert(connection, _T)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["issue_id", "key", "value"],
                set_={
                    "count": _T.c.count + statement.excluded.count,
                    "last_seen": statement.excluded.last_seen,
                },
            ),
            upserts,
        )
    if counted:  # a tag with its fill of values: only those go on being counted
        connection.execute(
            sa.update(_T)
            .where(
                _T.c.issue_id == sa.bindparam("b_issue"),
                _T.c.key == sa.bindparam("b_key"),
                _T.c.value == sa.bindparam("b_value"),
            )
            .values(count=_T.c.count + sa.bindparam("b_count"), last_seen=sa.bindparam("b_seen")),
            [
                {
                    "b_issue": c["issue_id"],
                    "b_key": c["key"],
                    "b_value": c["value"],
                    "b_count": c["count"],
                    "b_seen": c["last_seen"],
                }
                for c in counted
            ],
        )


def minutes(
    connection: sa.Connection, groups: Sequence[GroupWrite], rows: Mapping[tuple[int, str], Any]
) -> list[MinuteCount]:
    items = []
    for group in groups:
        issue_id = int(rows[(group.project_id, group.fingerprint)]["id"])
        items += [
            {"issue_id": issue_id, "minute": minute, "count": count, "_project": group.project_id}
            for minute, count in group.minutes.items()
        ]
    if not items:
        return []
    statement = dialect_insert(connection, _M)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["issue_id", "minute"],
            set_={"count": _M.c.count + statement.excluded.count},
        ),
        [{k: v for k, v in item.items() if k != "_project"} for item in items],
    )
    totals: dict[tuple[int, int], int] = {}
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        query = sa.select(_M.c.issue_id, _M.c.minute, _M.c.count.label("n")).where(
            sa.tuple_(_M.c.issue_id, _M.c.minute).in_(
                [(item["issue_id"], item["minute"]) for item in chunk]
            )
        )
        totals.update(
            {(int(r.issue_id), int(r.minute)): int(r.n) for r in connection.execute(query)}
        )
    return [
        MinuteCount(
            item["issue_id"],
            item["_project"],
            item["minute"] * 60,
            totals.get((item["issue_id"], item["minute"]), item["count"]),
        )
        for item in items
    ]


def releases(connection: sa.Connection, releases: Sequence[ReleaseWrite]) -> None:
    if not releases:
        return
    statement = dialect_insert(connection, _R)
    excluded = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "version"],
            set_={
                "first_seen": sa.case(
                    (excluded.first_seen < _R.c.first_seen, excluded.first_seen),
                    else_=_R.c.first_seen,
                ),
                "last_seen": sa.case(
                    (excluded.last_seen > _R.c.last_seen, excluded.last_seen),
                    else_=_R.c.last_seen,
                ),
                **{
                    name: getattr(_R.c, name) + getattr(excluded, name)
                    for name in ("events", "sessions", "crashed", "errored", "abnormal")
                },
            },
        ),
        [
            {
                "project_id": r.project_id,
                "version": r.version,
                "first_seen": r.first_seen,
                "last_seen": r.last_seen,
                "events": r.events,
                "sessions": r.sessions,
                "crashed": r.crashed,
                "errored": r.errored,
                "abnormal": r.abnormal,
            }
            for r in releases
        ],
    )


def outcomes(connection: sa.Connection, outcomes: Mapping[OutcomeKey, int]) -> None:
    if not outcomes:
        return
    statement = dialect_insert(connection, _O)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "hour", "category", "outcome"],
            set_={"quantity": _O.c.quantity + statement.excluded.quantity},
        ),
        [
            {"project_id": p, "hour": h, "category": c, "outcome": o, "quantity": q}
            for (p, h, c, o), q in outcomes.items()
        ],
    )
