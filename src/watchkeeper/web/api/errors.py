"""``/api/v1/projects`` and ``/api/v1/errors/issues``: the error tracker's projects (with
their DSNs) and the issues their events were grouped into.

A project's key is a secret of sorts: a writer (an admin, a write token) sees it and the
DSN; a reader sees neither. A key the config takes from ``${VAR}`` is never shown: its DSN
reads ``http://${VAR}@host/3``. The SDKs' own URLs (``/api/<id>/envelope/``) are served by
``web.ingest`` and take envelopes, not JSON: they are not in the OpenAPI document.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from watchkeeper.errortrack import projects as registry
from watchkeeper.errortrack.projects import Project, ProjectError
from watchkeeper.store import issues as db
from watchkeeper.web.activity import records
from watchkeeper.web.api.shapes import RowId
from watchkeeper.web.context import Web, web_of
from watchkeeper.web.security import Reader, Writer, require_read

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_read)])
MAX_PAGE = 500


def base_url(web: Web, request: Request) -> str:
    """Where SDKs reach this server: ``server.public_url``, else the address asked."""
    if web.config.server.public_url:
        return web.config.server.public_url
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def project_json(project: Project, base: str, *, writer: bool) -> dict[str, Any]:
    settings = project.settings
    shown = writer and not project.key_is_secret
    return {
        "id": project.id,
        "name": project.name,
        "source": project.source,
        "rate_limit": str(settings.rate_limit),
        "origins": list(settings.origins),
        "notify": list(settings.notify),
        "created_at": project.created_at or None,
        "created_by": project.created_by,
        "public_key": project.key if shown else None,
        "dsn": project.shown_dsn(base) if writer else None,
    }


# -- projects ----------------------------------------------------------------------------------
@router.get("/projects", tags=["errors"])
async def list_projects(request: Request, who: Reader) -> dict[str, Any]:
    """Every project events can be sent to, by id. Keys and DSNs only for writers."""
    web = web_of(request)
    tracker = web.engine.errors
    await tracker.refresh()
    base = base_url(web, request)
    return {
        "items": [
            project_json(p, base, writer=who.can_write)
            for p in sorted(tracker.projects.values(), key=lambda p: p.id)
        ]
    }


class ProjectRequest(BaseModel):
    name: str = Field(description="letters, digits, spaces and . _ - : ( ) [ ] @ +")
    rate_limit: str | None = Field(None, description="N/DURATION, e.g. 600/m (default 1000/m)")
    origins: list[str] = Field(
        default_factory=list, description="browser origins allowed to send (default: any)"
    )
    notify: list[str] = Field(
        default_factory=list, description="routes told of new issues and regressions"
    )


@router.post("/projects", tags=["errors"], status_code=201)
@records("project.create")
async def create_project(request: Request, body: ProjectRequest, who: Writer) -> dict[str, Any]:
    """Make a project with a new key; answers it with its DSN."""
    web = web_of(request)
    spec = body.model_dump(exclude_none=True)
    try:
        made = await web.run(registry.create, web.engine.store, web.config, spec, who.name)
    except ProjectError as exc:
        raise HTTPException(409 if exc.taken else 422, str(exc)) from None
    tracker = web.engine.errors
    await tracker.refresh()
    project = tracker.known(made.id)
    if project is None:  # the config took its name meanwhile (a reload)
        raise HTTPException(409, f"project '{made.name}' is defined in the config")
    return project_json(project, base_url(web, request), writer=True)


# -- issues ------------------------------------------------------------------------------------
Status = Literal["unresolved", "resolved", "ignored"]
Sort = Literal["last_seen", "first_seen", "count", "users"]


def _project_id(web: Web, name: str | None) -> int | None:
    if name is None:
        return None
    found = web.engine.errors.by_name(name)
    if found is None:
        raise HTTPException(404, f"no project named '{name[:200]}'")
    return found.id


@router.get("/errors/issues", tags=["errors"])
async def list_issues(
    request: Request,
    project: str | None = Query(None, max_length=200, description="a project's name"),
    status: Status | None = None,
    q: str | None = Query(None, max_length=200, description="in the title or culprit"),
    sort: Sort = "last_seen",
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    """Issues, the most recently seen first (or by ``sort``)."""
    web = web_of(request)
    project_id = _project_id(web, project)
    found, total = await web.run(
        web.engine.store.error_issues,
        project_id=project_id,
        status=status,
        query=q.replace("\x00", "") if q else None,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return {
        "items": [issue.to_json() for issue in found],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/errors/issues/{issue_id}", tags=["errors"])
async def get_issue(
    request: Request,
    issue_id: RowId,
    events: int = Query(20, ge=0, le=db.MAX_EVENTS_SHOWN, description="newest events to include"),
) -> dict[str, Any]:
    """One issue with its newest events (trimmed: frames with context lines, breadcrumbs,
    tags, user, request) and the most common values of each tag."""
    web = web_of(request)

    def read() -> tuple[db.Issue | None, list[dict[str, Any]], dict[str, list[tuple[str, int]]]]:
        with web.engine.store.read() as connection:
            found = db.issue(connection, issue_id)
            if found is None:
                return None, [], {}
            return (
                found,
                db.events(connection, issue_id, events),
                db.tag_values(connection, issue_id),
            )

    issue, recent, tags = await web.run(read)
    if issue is None:
        raise HTTPException(404, f"no issue {issue_id}")
    return {
        **issue.to_json(),
        "events": recent,
        "tags": {
            key: [{"value": value, "count": count} for value, count in values]
            for key, values in tags.items()
        },
    }


class ResolveRequest(BaseModel):
    in_release: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the release the fix ships in: events of older releases do not reopen it",
    )


async def _set_status(
    request: Request, issue_id: int, status: str, who: Writer, in_release: str | None = None
) -> dict[str, Any]:
    web = web_of(request)
    issue = await web.run(
        web.engine.store.set_issue_status,
        issue_id,
        status,
        time.time(),
        in_release=in_release.replace("\x00", "") if in_release else None,
        by=who.name,
    )
    if issue is None:
        raise HTTPException(404, f"no issue {issue_id}")
    return issue.to_json()


@router.post("/errors/issues/{issue_id}/resolve", tags=["errors"])
@records("issue.resolve")
async def resolve_issue(
    request: Request, issue_id: RowId, who: Writer, body: ResolveRequest | None = None
) -> dict[str, Any]:
    """Resolve an issue: now (an event of a newer release than it was last seen in reopens
    it), or in a release (events of that release or newer reopen it)."""
    return await _set_status(request, issue_id, "resolved", who, body.in_release if body else None)


@router.post("/errors/issues/{issue_id}/ignore", tags=["errors"])
@records("issue.ignore")
async def ignore_issue(request: Request, issue_id: RowId, who: Writer) -> dict[str, Any]:
    """Ignore an issue: its events are still counted, it never reopens by itself."""
    return await _set_status(request, issue_id, "ignored", who)


@router.post("/errors/issues/{issue_id}/unresolve", tags=["errors"])
@records("issue.unresolve")
async def unresolve_issue(request: Request, issue_id: RowId, who: Writer) -> dict[str, Any]:
    """Make an issue unresolved again."""
    return await _set_status(request, issue_id, "unresolved", who)
