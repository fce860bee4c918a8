"""The ``rum:`` section of the config: where beacons may come from, the page groups, the
share of page views kept, and each client address's rate limit.

    rum:
      origins: ["https://shop.example.com"]     # or ["*"]: any site
      pages:
        - {name: product, pattern: "/product/*"}
        - {name: checkout, pattern: "/checkout/**"}
      sample: 0.25                              # keep a quarter of the page views

Without a ``rum:`` section ``/rum.js`` and ``/rum`` answer 404: nothing is collected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchkeeper.rum.pages import OTHER, pattern_problem

ANY_ORIGIN = "*"


class PageGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    pattern: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == OTHER:
            raise ValueError("'other' is the group of pages no pattern matches: pick another name")
        if not value.isprintable() or value != value.strip():
            raise ValueError(f"page name '{value}' must be printable, without outer spaces")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        problem = pattern_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


def normal_origin(value: str) -> str:
    """``https://Shop.Example.com:443/`` → ``https://shop.example.com``; ValueError when it
    is not an http(s) origin."""
    if value == ANY_ORIGIN:
        return value
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"origin '{value}' must look like https://shop.example.com (or '*')")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"origin '{value}' is scheme://host[:port] only, no path")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"origin '{value}' has a bad port") from None
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class RumConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    origins: tuple[str, ...] = Field(min_length=1)
    """Sites whose pages may send beacons (their ``Origin``), or ``*`` for any."""
    pages: tuple[PageGroup, ...] = ()
    sample: float = Field(1.0, gt=0.0, le=1.0)
    """The share of page views kept (the loader's ``data-sample`` may ask for fewer)."""
    burst: int = Field(120, ge=1, le=1_000_000)
    """Beacon requests one client address may send at once before 429."""
    rate: float = Field(20.0, ge=0.01, le=1_000_000.0)
    """Beacon requests a second one client address may send after its burst."""

    @field_validator("origins", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(normal_origin(item) for item in value))

    @model_validator(mode="after")
    def _unique_pages(self) -> RumConfig:
        seen: set[str] = set()
        for page in self.pages:
            if page.name in seen:
                raise ValueError(f"page name '{page.name}' is used twice")
            seen.add(page.name)
        return self

    @property
    def any_origin(self) -> bool:
        return ANY_ORIGIN in self.origins

    def page_names(self) -> list[str]:
        return [page.name for page in self.pages]

    def page_pairs(self) -> list[tuple[str, str]]:
        return [(page.name, page.pattern) for page in self.pages]
