"""The Security page: every audited site's grade and score history, and one site's
Observatory tests and findings, from the newest reports the ``audit`` monitors stored."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from watchkeeper.web.api.audits import audit_names, summary
from watchkeeper.web.context import web_of
from watchkeeper.web.pages.render import Pages
from watchkeeper.web.security import Reader

router = APIRouter(include_in_schema=False)
pages = Pages()
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@router.get("/security")
async def security_page(request: Request, user: Reader) -> Response:
    web = web_of(request)
    names = audit_names(web)

    def read() -> dict[str, list[tuple[float, object]]]:
        return {
            name: [(r.at, r.body) for r in web.engine.store.reports(name, 30)] for name in names
        }

    found = await web.run(read)
    sites = []
    for name in names:
        runs = found.get(name) or []
        newest_at, newest = runs[0] if runs else (None, None)
        line = summary(web, name, newest if isinstance(newest, dict) else None, newest_at)
        line["scores"] = [body.get("score") for _, body in reversed(runs) if isinstance(body, dict)]
        sites.append(line)
    return pages.render(
        "security.html", section="security", user=user, sites=sites, now=time.time()
    )


@router.get("/security/{name}")
async def security_site_page(request: Request, name: str, user: Reader) -> Response:
    web = web_of(request)
    monitor = web.engine.monitors.get(name)
    if monitor is None or monitor.kind != "audit":
        return pages.render(
            "message.html",
            404,
            user=user,
            title="No such audit",
            text=f"There is no audit monitor named '{name}'.",
        )
    reports = await web.run(web.engine.store.reports, name, 90)
    newest = reports[0] if reports else None
    body = newest.body if newest else None
    findings = sorted(
        (f for f in (body or {}).get("findings") or [] if isinstance(f, dict)),
        key=lambda f: _SEVERITY_ORDER.get(str(f.get("severity")), 3),
    )
    tests = ((body or {}).get("observatory") or {}).get("tests") or {}
    return pages.render(
        "security_site.html",
        section="security",
        user=user,
        site=summary(web, name, body, newest.at if newest else None),
        findings=findings,
        tests=tests,
        algorithm=(((body or {}).get("observatory") or {}).get("scan") or {}).get(
            "algorithmVersion", ""
        ),
        history=[(r.at, r.body.get("grade"), r.body.get("score")) for r in reports],
        scores=[r.body.get("score") for r in reversed(reports)],
        now=time.time(),
    )
