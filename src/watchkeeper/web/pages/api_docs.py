"""``/api/docs``: the API's interactive reference (Swagger UI, shipped in the package under
``static/vendor/swagger-ui``) for a logged-in person. It reads ``/api/openapi.json`` with the
same session; its "Try it out" calls the API as that person (a write sends the session's CSRF
token, as the pages' own scripts do). The page is a page, not an API answer: the gate sends
an anonymous visitor to the login (see ``security.PAGES_UNDER_API``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from watchkeeper.web.context import web_of
from watchkeeper.web.pages.overview import troubled
from watchkeeper.web.pages.render import Pages
from watchkeeper.web.security import Reader

router = APIRouter(include_in_schema=False)
pages = Pages()


@router.get("/api/docs")
async def api_docs(request: Request, user: Reader) -> Response:
    return pages.render(
        "api_docs.html",
        section="api",
        user=user,
        open_incidents=troubled(web_of(request)),
    )
