"""``/api/v1/activity``: the activity log (who changed what), newest first, with filters.

Admins (a session) and API tokens may read it; a viewer may not (it names people and their
addresses)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from watchkeeper import activity
from watchkeeper.auth import Principal
from watchkeeper.web.context import web_of
from watchkeeper.web.security import require_read
from watchkeeper.web.timeparse import parse_time

router = APIRouter(prefix="/api/v1")


def require_activity_reader(principal: Annotated[Principal, Depends(require_read)]) -> Principal:
    """An admin's session or an API token (read or write)."""
    if principal.role not in ("admin", "token"):
        raise HTTPException(403, f"{principal.name} may not read the activity log: admins may")
    return principal


ActivityReader = Annotated[Principal, Depends(require_activity_reader)]


def parse_filters(since: str | None, until: str | None) -> tuple[float | None, float | None]:
    try:
        return (
            None if since is None else parse_time(since),
            None if until is None else parse_time(until),
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/activity", tags=["activity"])
async def list_activity(
    request: Request,
    _: ActivityReader,
    since: str | None = Query(None, max_length=64, description="7d (ago), epoch or ISO 8601"),
    until: str | None = Query(None, max_length=64, description="7d (ago), epoch or ISO 8601"),
    actor: str | None = Query(None, max_length=200, description="exactly this actor"),
    action: str | None = Query(
        None, max_length=100, description="this verb and those under it (login: login.failed)"
    ),
    before: int | None = Query(None, ge=1, le=2**62, description="entries before this id"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Who changed what, newest first: API and dashboard writes, logins (failed ones one
    entry per address and minute), token use (first per hour), silences, acknowledgements,
    reloads and the CLI's writes. Page back with ``before`` = the last entry's id."""
    web = web_of(request)
    start, end = parse_filters(since, until)
    found = await web.run(
        activity.read,
        web.engine.store,
        since=start,
        until=end,
        actor=actor,
        action=action,
        before_id=before,
        limit=limit,
    )
    return {
        "items": [entry.to_json() for entry in found],
        "next_before": found[-1].id if len(found) == limit else None,
    }
