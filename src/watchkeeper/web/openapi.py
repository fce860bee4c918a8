"""The OpenAPI document, with the errors every operation can answer documented.

Every error is ``{"detail": ...}``: a sentence, or a list of them (a monitor or window that
does not validate: one located line per problem), or FastAPI's own validation objects. The
document says which status each operation can answer with, so a client (or schemathesis)
can hold the API to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "object"}]},
                },
            ]
        }
    },
}
_WHY = {
    "400": "The body is not valid JSON",
    "401": "No session or bearer token",
    "403": "The token or user may only read (or a session write lacks its CSRF token)",
    "404": "No such monitor, incident, silence, window, project or issue",
    "409": "In conflict with what exists (a name taken, a config monitor or project, dependants)",
    "422": "The request does not validate; detail says why",
    "503": "The store does not answer",
    "ping404": "No heartbeat monitor has this UUID (or the action is not start, fail or 0-255)",
    "ping503": "The store did not take the ping: send it again",
    "504": "The check did not finish in time",
}


def _errors_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    codes = ["401", "422", "503"]
    if method in ("post", "put", "delete", "patch"):
        codes.append("403")
    if "{" in path or path == "/api/v1/errors/issues":  # an issue; a project named in ?project=
        codes.append("404")
    if "requestBody" in operation:
        codes.append("400")
    if method in ("post", "put", "delete") and path.startswith(
        ("/api/v1/monitors", "/api/v1/maintenance", "/api/v1/projects")
    ):
        codes.append("409")
    if path.endswith("/check"):
        codes += ["409", "504"]
    return sorted(set(codes))


def build(app: FastAPI) -> dict[str, Any]:
    """The document (made once, then cached on the app as FastAPI does)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "wk token create"}
    }
    document["security"] = [{"bearer": []}]
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    text = {"text/plain": {"schema": {"type": "string"}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if path.startswith("/ping/"):  # the public, plain-text Healthchecks ping API
                operation["security"] = []
                responses["200"] = {"description": "The ping is stored", "content": text}
                responses["404"] = {"description": _WHY["ping404"], "content": text}
                responses["503"] = {"description": _WHY["ping503"], "content": text}
                continue
            for code in _errors_for(path, method, operation):
                responses[code] = {"description": _WHY[code], "content": reference}
    app.openapi_schema = document
    return document
