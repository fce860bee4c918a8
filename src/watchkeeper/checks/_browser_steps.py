"""The ``browser`` kind's settings: a journey's steps and the page it runs them in (apart
from ``browser.py`` so that the journey runner and the kind both read them)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchkeeper.checks.base import CheckSettings
from watchkeeper.units import Duration

MAX_STEPS = 50
ACTIONS = ("goto", "click", "fill", "press", "wait_for", "expect")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{value}' is not an http(s):// URL")
    return value


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fill(_Part):
    selector: str = Field(min_length=1, max_length=1000)
    value: str = Field(max_length=10_000)


class Press(_Part):
    key: str = Field(min_length=1, max_length=100)
    selector: str | None = Field(None, max_length=1000)


class WaitFor(_Part):
    selector: str | None = Field(None, max_length=1000)
    url: str | None = Field(None, max_length=2000)
    state: Literal["visible", "hidden", "attached", "detached"] = "visible"

    @model_validator(mode="after")
    def _one(self) -> WaitFor:
        if (self.selector is None) == (self.url is None):
            raise ValueError("wait_for takes a selector or a url (a glob like **/done)")
        return self


class Expect(_Part):
    text: str | None = Field(None, max_length=10_000)
    url: str | None = Field(None, max_length=2000)
    selector: str | None = Field(None, max_length=1000)
    title: str | None = Field(None, max_length=1000)
    status: int | None = Field(None, ge=100, le=599)

    @model_validator(mode="after")
    def _some(self) -> Expect:
        if all(getattr(self, k) is None for k in ("text", "url", "selector", "title", "status")):
            raise ValueError("expect needs text, url, selector, title or status")
        return self


class Step(_Part):
    goto: str | None = None
    click: str | None = Field(None, max_length=1000)
    fill: Fill | None = None
    press: Press | None = None
    wait_for: WaitFor | None = None
    expect: Expect | None = None
    name: str | None = Field(None, min_length=1, max_length=100)
    timeout: Duration | None = Field(None, gt=0, le=600)

    @field_validator("goto")
    @classmethod
    def _goto(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("wait_for", mode="before")
    @classmethod
    def _selector(cls, value: object) -> object:
        return {"selector": value} if isinstance(value, str) else value

    @field_validator("press", mode="before")
    @classmethod
    def _key(cls, value: object) -> object:
        return {"key": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one(self) -> Step:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            raise ValueError(f"a step is one of {', '.join(ACTIONS)}")
        if self.name is not None and not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"step name '{self.name}' is letters, digits, - and _ only")
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)

    def label(self, index: int) -> str:
        return self.name or f"{index}-{self.action.replace('_', '-')}"

    def describe(self) -> str:
        """What it does, for messages: never a filled value."""
        if self.goto is not None:
            return f"goto {self.goto}"
        if self.click is not None:
            return f"click '{self.click}'"
        if self.fill is not None:
            return f"fill '{self.fill.selector}'"
        if self.press is not None:
            where = f" in '{self.press.selector}'" if self.press.selector else ""
            return f"press {self.press.key}{where}"
        if self.wait_for is not None:
            if self.wait_for.url is not None:
                return f"wait for url {self.wait_for.url}"
            return f"wait for '{self.wait_for.selector}' ({self.wait_for.state})"
        assert self.expect is not None
        shown = ", ".join(
            f"{k} {v!r}" for k, v in self.expect.model_dump(exclude_none=True).items()
        )
        return f"expect {shown}"


class Viewport(_Part):
    width: int = Field(1280, ge=200, le=4000)
    height: int = Field(800, ge=200, le=4000)


class BrowserSettings(CheckSettings):
    shorthand_field = "url"

    url: str | None = None
    """A one-step journey: load this page."""
    steps: tuple[Step, ...] = Field((), max_length=MAX_STEPS)
    viewport: Viewport = Viewport()
    user_agent: str | None = Field(None, max_length=500)
    verify_tls: bool = True
    screenshot: bool = True
    """Keep a screenshot of the page where a journey failed (in the run's report)."""
    settle: Duration = Field(1.0, ge=0, le=30)
    """After the last step, how long the page is watched before its vitals are read (late
    paints and layout shifts come after the load event); only when an expectation looks at
    the vitals, so that the journey's latency is the journey's."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @model_validator(mode="after")
    def _journey(self) -> BrowserSettings:
        if (self.url is None) == (not self.steps):
            raise ValueError("a browser monitor takes a url or steps (a list), not both")
        names = [s.name for s in self.steps if s.name]
        if len(names) != len(set(names)):
            raise ValueError("two steps share a name")
        return self

    @property
    def journey(self) -> tuple[Step, ...]:
        return self.steps or (Step(goto=self.url),)

    def host_key(self) -> str:
        first = next((s.goto for s in self.journey if s.goto), None)
        return f"browser:{urlsplit(first).hostname}" if first else "browser"

    def target(self) -> str:
        first = next((s.goto for s in self.journey if s.goto), "")
        more = len(self.journey) - 1
        return f"{first} (+{more} steps)" if more > 0 else first
