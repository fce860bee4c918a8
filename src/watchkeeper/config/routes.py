"""The ``notify:`` section: routes, each with one notifier kind (``apprise``, ``webhook``,
``alertmanager``) and the kind's own keys beside the generic ones."""

from __future__ import annotations

from typing import Any

from watchkeeper import notify
from watchkeeper.config.messages import closest
from watchkeeper.config.models import Route, RouteFields
from watchkeeper.config.reporting import Reporter
from watchkeeper.config.yamlsource import Path, line_of
from watchkeeper.redact import redact

_GENERIC = frozenset(RouteFields.model_fields)


def load_routes(reporter: Reporter, data: Any) -> list[Route]:
    if data is None:
        return []
    if not isinstance(data, list):
        reporter.problem(
            "notify must be a list of routes, e.g. - {name: ops, apprise: ...}", ("notify",)
        )
        return []
    routes: list[Route] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(data):
        path: Path = ("notify", index)
        route = _load_route(reporter, item, path)
        if route is None:
            continue
        if route.name in seen:
            first = line_of(reporter.lines, ("notify", seen[route.name]))
            reporter.problem(
                f"duplicate route name '{route.name}' (first at line {first})", (*path, "name")
            )
            continue
        seen[route.name] = index
        routes.append(route)
    return routes


def _load_route(reporter: Reporter, item: Any, path: Path) -> Route | None:
    if not isinstance(item, dict):
        reporter.problem("a route must be a mapping, e.g. {name: ops, apprise: ...}", path)
        return None
    kinds = [key for key in item if key in notify.KINDS]
    if not kinds:
        unknown = [str(k) for k in item if k not in _GENERIC]
        hints = [closest(k, list(notify.KINDS)) for k in unknown]
        hint = next((f" (did you mean '{h}'?)" for h in hints if h), "")
        reporter.problem(f"route needs one notifier kind: {', '.join(notify.KINDS)}{hint}", path)
        return None
    if len(kinds) > 1:
        reporter.problem(
            f"more than one notifier kind ({', '.join(kinds)}): a route has one",
            (*path, kinds[1]),
        )
        return None
    kind = kinds[0]
    notifier = notify.get(kind)
    generic = {key: value for key, value in item.items() if key in _GENERIC}
    fields: RouteFields | None = reporter.validate(RouteFields, generic, path)
    value = item[kind]
    own = {key: item[key] for key in item if key not in _GENERIC and key != kind}
    if isinstance(value, str):
        value = {notifier.settings.shorthand_field: value}
    elif not isinstance(value, dict):
        reporter.problem(f"{kind}: expected a URL or a mapping", (*path, kind))
        return None
    settings = reporter.validate(
        notifier.settings, {**value, **own}, path, extra_keys=tuple(_GENERIC)
    )
    if fields is None or settings is None:
        return None
    for name in ("title", "body"):
        template = getattr(fields, name)
        if template is not None:
            from jinja2 import TemplateSyntaxError  # only a route with its own templates pays
            from jinja2.sandbox import SandboxedEnvironment

            try:
                SandboxedEnvironment().parse(template)
            except TemplateSyntaxError as exc:
                reporter.problem(f"{name}: bad template: {exc.message}", (*path, name))
                return None
    return Route(
        name=fields.name,
        kind=kind,
        notifier=notifier,
        settings=settings,
        group_wait=fields.group_wait,
        tags=fields.tags,
        severities=fields.severity,
        timeout=fields.timeout,
        retry_max=fields.retry_max,
        title=fields.title,
        body=fields.body,
        target=redact(settings.target(), reporter.secrets),
        line=line_of(reporter.lines, path),
    )
