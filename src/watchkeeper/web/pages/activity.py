"""The Activity page: the activity log as a table with filters (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from watchkeeper import activity
from watchkeeper.web.api.activity import ActivityReader, parse_filters
from watchkeeper.web.context import web_of
from watchkeeper.web.pages.render import Pages

router = APIRouter(include_in_schema=False)
pages = Pages()


@router.get("/activity")
async def activity_page(
    request: Request,
    user: ActivityReader,
    since: str = Query("7d", max_length=64),
    actor: str = Query("", max_length=200),
    action: str = Query("", max_length=100),
    before: int | None = Query(None, ge=1, le=2**62),
) -> Response:
    web = web_of(request)
    try:
        start, _ = parse_filters(since or None, None)
    except HTTPException as exc:
        return pages.render(
            "message.html", 422, user=user, title="Bad filter", text=str(exc.detail)
        )
    limit = 200
    found = await web.run(
        activity.read,
        web.engine.store,
        since=start,
        actor=actor or None,
        action=action or None,
        before_id=before,
        limit=limit,
    )
    return pages.render(
        "activity.html",
        section="activity",
        user=user,
        entries=found,
        since=since,
        actor=actor,
        action=action,
        next_before=found[-1].id if len(found) == limit else None,
    )
