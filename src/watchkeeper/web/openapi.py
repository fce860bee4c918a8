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
_BEACON_ANSWERS = {
    "202": "Counted: how many metrics were accepted, duplicates, refused, sampled out",
    "400": "Not a batch (bad JSON, no view id, too many metrics, no valid metric)",
    "403": "The Origin is not in rum.origins",
    "404": "Real-user monitoring is off (no rum: section)",
    "405": "Only POST and OPTIONS",
    "413": "The batch is over 64 KiB",
    "415": "Not text/plain or application/json",
    "429": "Past this address's limit (Retry-After)",
}
_BATCH = {
    "type": "object",
    "required": ["view", "metrics"],
    "properties": {
        "view": {"type": "string", "description": "the page view's random id (hex)"},
        "metrics": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"enum": ["LCP", "INP", "CLS", "FCP", "TTFB"]},
                    "value": {"type": "number"},
                    "delta": {"type": "number"},
                    "rating": {"type": "string"},
                    "navigationType": {"type": "string"},
                    "page": {"type": "string", "description": "the path: no query or fragment"},
                    "device": {"enum": ["mobile", "tablet", "desktop"]},
                    "attribution": {"type": "object"},
                },
            },
        },
    },
}


def _rum_paths() -> dict[str, Any]:
    """``/rum.js`` and ``/rum``, served ahead of the framework (``web.rum``): public, no
    cookie, no CSRF token."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

    def answers(codes: list[str]) -> dict[str, Any]:
        return {code: {"description": _BEACON_ANSWERS[code], "content": error} for code in codes}

    counted = {
        "type": "object",
        "properties": {
            name: {"type": "integer"}
            for name in ("accepted", "duplicates", "refused", "sampled_out")
        }
        | {"why": {"type": "string"}},
    }
    return {
        "/rum.js": {
            "get": {
                "tags": ["rum"],
                "summary": "The real-user monitoring script",
                "description": "Google's web-vitals (attribution build) and Watchkeeper's "
                'loader in one script; add `<script src=".../rum.js" defer></script>` to a '
                "page (`data-endpoint`, `data-sample` on the tag). Cacheable (ETag).",
                "operationId": "rum_script",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The script",
                        "content": {"text/javascript": {"schema": {"type": "string"}}},
                    },
                    "304": {"description": "Not modified (If-None-Match)"},
                    **answers(["404"]),
                },
            }
        },
        "/rum": {
            "post": {
                "tags": ["rum"],
                "summary": "A batch of web-vitals beacons",
                "description": "What /rum.js sends with navigator.sendBeacon: text/plain (or "
                "application/json) JSON, at most 64 KiB and 50 metrics. Each metric is "
                "checked on its own; a metric id seen before counts once.",
                "operationId": "rum_beacons",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/plain": {"schema": {"type": "string"}},
                        "application/json": {"schema": _BATCH},
                    },
                },
                "responses": {
                    "202": {
                        "description": _BEACON_ANSWERS["202"],
                        "content": {"application/json": {"schema": counted}},
                    },
                    **answers(["400", "403", "404", "413", "415", "429"]),
                },
            },
            "options": {
                "tags": ["rum"],
                "summary": "CORS preflight for a configured origin",
                "operationId": "rum_preflight",
                "security": [],
                "responses": {
                    "204": {"description": "Allowed: POST with Content-Type"},
                    **answers(["403", "404"]),
                },
            },
        },
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
    document["paths"].update(_rum_paths())
    app.openapi_schema = document
    return document
