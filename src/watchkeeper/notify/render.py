"""Turn alert items into a Message: a title and a plain-text body, from Jinja2 templates.

The defaults say what a person on call needs first: which monitor, what state, since when,
the failing expectations with what was observed, the error, the dependency to blame, the
runbook and a link. A route can replace either template (``title:``, ``body:``); templates
run sandboxed and see ``items``, ``event``, ``route``, ``dashboard`` and the filters
``duration`` and ``clock``.

What a template makes is plain text, never markup: autoescape is off because nothing here
is HTML, and the notifier makes the whole text inert for each destination (declared as text
to Apprise, which escapes it for HTML mail and Slack; escaped for services that read
Markdown, see ``notify.escape``; JSON for webhooks and Alertmanager). So neither a value a
target sent nor a template's own text can become a link, a tag or a mention. The title is
one line (a subject or a heading): line breaks in it become spaces.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from watchkeeper.notify.base import AlertItem, Message
from watchkeeper.units import format_duration

DEFAULT_BODY = """\
{%- for item in items %}
{%- if item.event == "resolved" %}
{{ item.monitor }} is UP again{% if item.duration %} after {{ item.duration | duration }}{% endif %} (since {{ item.at | clock }})
{%- if item.affected %}
  back up with it: {{ item.affected | join(", ") }}
{%- endif %}
{%- else %}
{{ item.monitor }} is {{ item.state | upper }}{% if item.event == "reminder" %} (still){% elif item.event == "escalation" %} (escalated: not acknowledged){% endif %} since {{ item.since | clock }} ({{ (now - item.since) | duration }})
{%- for failure in item.failures %}
  - {{ failure }}
{%- endfor %}
{%- for warning in item.warnings %}
  - warning: {{ warning }}
{%- endfor %}
{%- if item.error %}
  - {{ item.error }}
{%- endif %}
{%- if item.cause %}
  caused by {{ item.cause }}, which is down
{%- endif %}
{%- if item.affected %}
  also down because of it: {{ item.affected | join(", ") }}
{%- endif %}
{%- if item.runbook %}
  runbook: {{ item.runbook }}
{%- endif %}
{%- endif %}
{%- if item.url %}
  {{ item.url }}
{%- endif %}
{% endfor %}
{%- if dashboard %}
{{ dashboard }}
{%- endif %}"""

_WORDS = {"firing": None, "reminder": "STILL", "escalation": "ESCALATED"}


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(max(0.0, float(seconds)))


def _clock(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(float(at), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    environment.filters["duration"] = _duration
    environment.filters["clock"] = _clock
    return environment


_ENV = _environment()
_BODY = _ENV.from_string(DEFAULT_BODY)


def event_of(items: Sequence[AlertItem]) -> str:
    kinds = {item.event for item in items}
    if len(kinds) == 1:
        return next(iter(kinds))
    return "resolved" if kinds == {"resolved"} else "mixed"


def default_title(items: Sequence[AlertItem]) -> str:
    if len(items) == 1:
        item = items[0]
        if item.event == "resolved":
            lasted = f" after {_duration(item.duration)}" if item.duration else ""
            return f"[RESOLVED] {item.monitor} is up again{lasted}"
        word = _WORDS.get(item.event)
        label = f"{word} {item.state.upper()}" if word else item.state.upper()
        detail = item.reason or item.error or ""
        return f"[{label}] {item.monitor}" + (f" — {detail}" if detail else "")
    counts = Counter(
        "RESOLVED" if item.event == "resolved" else item.state.upper() for item in items
    )
    label = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    names = ", ".join(item.monitor for item in items[:4]) + ("…" if len(items) > 4 else "")
    return f"[{label}] {names}"


def render(
    route: str,
    dedup_key: str,
    items: Sequence[AlertItem],
    *,
    title_template: str | None = None,
    body_template: str | None = None,
    dashboard: str | None = None,
    now: float | None = None,
) -> Message:
    """The Message for ``items`` on ``route``; a broken user template falls back to the
    defaults (and says so in the text) rather than losing the notification."""
    now = time.time() if now is None else now
    event = event_of(items)
    values = {"items": items, "event": event, "route": route, "dashboard": dashboard, "now": now}
    title = default_title(items)
    text = _BODY.render(**values).strip()
    problems: list[str] = []
    if title_template:
        try:
            title = _ENV.from_string(title_template).render(**values).strip() or title
        except TemplateError as exc:
            problems.append(f"title template failed: {exc}")
    if body_template:
        try:
            text = _ENV.from_string(body_template).render(**values).strip() or text
        except TemplateError as exc:
            problems.append(f"body template failed: {exc}")
    if problems:
        text += "\n\n(" + "; ".join(problems) + ")"
    title = " ".join(title.split())  # a mail subject: no line break can add a header
    return Message(
        route=route,
        dedup_key=dedup_key,
        event=event,
        title=title,
        text=text,
        items=tuple(items),
        created_at=now,
        dashboard=dashboard,
    )


def trial_message(route: str, dedup_key: str, now: float | None = None) -> Message:
    now = time.time() if now is None else now
    return Message(
        route=route,
        dedup_key=dedup_key,
        event="test",
        title="Watchkeeper test notification",
        text=f"This is a test of route '{route}' sent at {_clock(now)}. It works.",
        created_at=now,
    )
