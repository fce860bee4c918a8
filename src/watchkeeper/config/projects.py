"""The ``projects:`` section: error-tracking projects that Sentry SDKs send events to.

    projects:
      - name: shop                       # names the project in wk errors, the API and pages
        key: ${SHOP_SENTRY_KEY}          # optional: the DSN's public key (else one is made)
        rate_limit: 600/m                # optional: events a burst, and per that time
        origins: [https://shop.example.com]   # optional: browsers allowed to send (any)
        notify: [ops]                    # optional: routes for new issues, regressions, spikes

A project's id (the last part of its DSN) is given by the store the first time ``wk up``
sees its name, and kept. Projects can also be made at run time (``wk project add``, the
API); those live in the store and take the same keys (``ProjectFields``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from watchkeeper.config.messages import unknown
from watchkeeper.config.models import _Strict, name_problem
from watchkeeper.config.reporting import Reporter
from watchkeeper.config.yamlsource import Path, line_of
from watchkeeper.units import parse_duration

DEFAULT_RATE_LIMIT = "1000/m"
KEY_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
KEY_RULE = "16-128 letters, digits, - and _ (Sentry's are 32 hex digits)"
RATE_RULE = "N/DURATION, e.g. 600/m, 50/s, 10000/1h"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``count`` events at once, refilled at ``count`` per ``per`` seconds."""

    count: int
    per: float

    @property
    def per_second(self) -> float:
        return self.count / self.per

    def __str__(self) -> str:
        from watchkeeper.units import format_duration

        per = format_duration(self.per)
        return f"{self.count}/{per[1:] if per in ('1s', '1m', '1h', '1d') else per}"


def parse_rate_limit(text: str) -> RateLimit:
    """``"600/m"`` → 600 per 60 s; ValueError with the rule for anything else."""
    count_text, slash, per_text = str(text).strip().partition("/")
    if not slash or not count_text.strip().isdigit():
        raise ValueError(f"bad rate limit '{text}': use {RATE_RULE}")
    per_text = per_text.strip()
    try:
        per = parse_duration(per_text if per_text[:1].isdigit() else f"1{per_text}")
    except ValueError:
        raise ValueError(f"bad rate limit '{text}': use {RATE_RULE}") from None
    count = int(count_text)
    if not 1 <= count <= 10_000_000 or not 0.001 <= per <= 86400 * 7:
        raise ValueError(f"rate limit '{text}' is out of range (1 to 10,000,000 per 1ms to 7d)")
    return RateLimit(count, per)


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a project's key, or None."""
    if not 16 <= len(key) <= 128 or not set(key) <= KEY_CHARACTERS:
        return f"a project key must be {KEY_RULE}"
    return None


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` is not ``*``, ``https://host[:port]`` or ``https://*.domain``."""
    if origin == "*":
        return None
    scheme, separator, rest = origin.partition("://")
    host = rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest
    port = rest.rsplit(":", 1)[1] if rest.count(":") == 1 else ""
    if (
        not separator
        or scheme not in ("http", "https")
        or not host
        or "/" in rest
        or (port and not port.isdigit())
        or "*" in host.removeprefix("*.")
    ):
        return (
            f"origin '{origin}' must be * or like https://shop.example.com or https://*.example.com"
        )
    return None


class ProjectFields(_Strict):
    name: str = Field(min_length=1, max_length=100)
    key: str | None = None
    rate_limit: str = DEFAULT_RATE_LIMIT
    origins: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()

    @field_validator("origins", "notify", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("key", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError("write the key in quotes: YAML reads a key of digits as a number")
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        problem = None if value is None else key_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _rate(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value}/m"
        if isinstance(value, str):
            parse_rate_limit(value)
        return value

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(origin.strip().rstrip("/").lower() for origin in value)
        for origin in cleaned:
            problem = origin_problem(origin)
            if problem is not None:
                raise ValueError(problem)
        return cleaned


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """A project as validated: from the config file (``line`` set) or the store."""

    name: str
    key: str | None = None
    """The DSN key the config gives (None: the store's, made once)."""
    key_reference: str | None = None
    """How the config writes its key when it is a ``${...}`` (shown instead of it)."""
    rate_limit: RateLimit = RateLimit(1000, 60.0)
    origins: tuple[str, ...] = ()
    """Browser origins allowed to send (empty or ``*``: any)."""
    notify: tuple[str, ...] = ()
    line: int | None = None

    def allows_origin(self, origin: str) -> bool:
        if not self.origins or "*" in self.origins:
            return True
        origin = origin.lower()
        for allowed in self.origins:
            if origin == allowed:
                return True
            scheme, _, host = allowed.partition("://*.")
            if (
                host
                and origin.startswith(f"{scheme}://")
                and origin.split("://", 1)[1].split(":")[0].endswith("." + host.split(":")[0])
            ):
                return True
        return False

    def settings_json(self) -> dict[str, Any]:
        """What the store keeps of a project made at run time (never its key)."""
        return {
            "rate_limit": str(self.rate_limit),
            "origins": list(self.origins),
            "notify": list(self.notify),
        }


def project_from_fields(
    fields: ProjectFields, *, key_reference: str | None = None, line: int | None = None
) -> ProjectConfig:
    return ProjectConfig(
        name=fields.name,
        key=fields.key,
        key_reference=key_reference,
        rate_limit=parse_rate_limit(fields.rate_limit),
        origins=fields.origins,
        notify=fields.notify,
        line=line,
    )


def load_projects(
    reporter: Reporter, data: Any, raw: Any, routes: Collection[str]
) -> list[ProjectConfig]:
    """``projects:`` (``data`` interpolated, ``raw`` as written) into projects, each problem
    located; ``routes`` are the routes ``notify`` may name."""
    if data is None:
        return []
    if not isinstance(data, list):
        reporter.problem(
            "projects must be a list, e.g. - {name: shop} (wk project add makes one too)",
            ("projects",),
        )
        return []
    projects: list[ProjectConfig] = []
    seen: dict[str, int | None] = {}
    keys: dict[str, str] = {}
    for index, item in enumerate(data):
        path: Path = ("projects", index)
        fields: ProjectFields | None = reporter.validate(ProjectFields, item, path)
        if fields is None:
            continue
        line = line_of(reporter.lines, path)
        if fields.name in seen:
            reporter.problem(
                f"duplicate project name '{fields.name}' (first at line {seen[fields.name]})",
                (*path, "name"),
            )
            continue
        if fields.key is not None and fields.key in keys:
            reporter.problem(
                f"project '{fields.name}' has the key of project '{keys[fields.key]}': "
                "each project needs its own",
                (*path, "key"),
            )
            continue
        missing = [route for route in fields.notify if route not in routes]
        if missing:
            reporter.problem(
                unknown("notify route", missing[0], sorted(routes))
                if routes
                else f"notify route '{missing[0]}' is not defined: add it under notify:",
                (*path, "notify"),
            )
            continue
        seen[fields.name] = line
        if fields.key is not None:
            keys[fields.key] = fields.name
        written = raw[index].get("key") if _item(raw, index) else None
        reference = written if isinstance(written, str) and "${" in written else None
        projects.append(project_from_fields(fields, key_reference=reference, line=line))
    return projects


def _item(raw: Any, index: int) -> bool:
    return isinstance(raw, list) and index < len(raw) and isinstance(raw[index], dict)
