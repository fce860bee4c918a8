"""Stack traces and debug pages in a site's answers: what each framework prints when an error
reaches the visitor instead of the log.

Each signature names a framework, a few plain strings that must all appear and at most one
pattern that must match, on RE2 (linear in the text whatever it holds). A signature asks for
the structure of a trace (a ``File "...", line N`` frame, a ``(Foo.java:12)`` frame), not one
phrase, so a page that merely talks about tracebacks is not one. The text is HTML-unescaped
first (error pages escape the quotes of their frames) and read up to ``MAX_TEXT`` characters.

An interactive debugger (Werkzeug's console) runs code for whoever opens it: critical.
Every other trace is a warning: it shows paths, versions and code to an attacker.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from typing import Any

from watchkeeper.findings import Severity

MAX_TEXT = 256 * 1024


@dataclass(frozen=True, slots=True)
class Signature:
    framework: str
    all_of: tuple[str, ...] = ()
    pattern: str | None = None
    severity: Severity = Severity.warning
    fix: str = ""


_PYTHON_FIX = "Log errors, show a plain error page: never run a debug server in production."

SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "Werkzeug debugger",
        ("The debugger caught an exception in your WSGI application",),
        severity=Severity.critical,
        fix="Start the app without the debugger (Flask: app.run(debug=False), or better "
        "gunicorn app:app); its console runs any Python code for whoever opens the page.",
    ),
    Signature(
        "Django debug page",
        ("You're seeing this error because you have", "DEBUG = True"),
        fix="In settings.py: DEBUG = False (and ALLOWED_HOSTS set).",
    ),
    Signature(
        "Python traceback",
        ("Traceback (most recent call last):",),
        r'File "[^"\n]{1,400}", line \d+',
        fix=_PYTHON_FIX,
    ),
    Signature(
        "Rails exception page",
        ("Rails.root:",),
        r"(?:Action Controller: Exception caught|[A-Z]\w+::\w+Error)",
        fix="In config/environments/production.rb: config.consider_all_requests_local = false",
    ),
    Signature(
        "PHP error",
        (" on line ",),
        r"(?:Fatal error|Parse error|Warning|Notice|Deprecated)(?:</b>)?:\s(?s:.{0,1000}?) in "
        r"(?:<b>)?[^\s<]{1,400}\.php(?:</b>)? on line (?:<b>)?\d+",
        fix="In php.ini: display_errors = Off and log_errors = On",
    ),
    Signature(
        "PHP stack trace",
        ("Stack trace:",),
        r"#0 [^\n]{0,400}\.php\(\d+\)",
        fix="In php.ini: display_errors = Off and log_errors = On",
    ),
    Signature(
        "Java stack trace",
        (),
        r"\bat [A-Za-z_$][\w$]*(?:\.[\w$<>]+)+\([\w$]+\.(?:java|kt|scala):\d+\)",
        fix="Map exceptions to a plain error page (web.xml <error-page>, Spring Boot: "
        "server.error.include-stacktrace=never).",
    ),
    Signature(
        "ASP.NET error page",
        ("Server Error in '", "' Application."),
        fix='In web.config: <customErrors mode="RemoteOnly" /> (and debug="false").',
    ),
    Signature(
        "ASP.NET Core developer exception page",
        ("An unhandled exception occurred while processing the request.",),
        fix="Run with ASPNETCORE_ENVIRONMENT=Production (no UseDeveloperExceptionPage).",
    ),
    Signature(
        ".NET stack trace",
        (),
        r"\bat [\w.`<>\[\]]+\([^)\n]{0,300}\) in [^\n]{1,400}:line \d+",
        fix='In web.config: <customErrors mode="RemoteOnly" />; in ASP.NET Core, '
        "UseExceptionHandler instead of the developer page.",
    ),
    Signature(
        "Node.js stack trace",
        (),
        r"\n\s{1,8}at [^\n]{1,300}\((?:/|[A-Za-z]:\\)[^\n)]{1,400}\.[cm]?js:\d+:\d+\)",
        fix="Set NODE_ENV=production (Express then hides stacks) and answer errors with a "
        "plain page.",
    ),
)


@dataclass(frozen=True, slots=True)
class Trace:
    signature: Signature
    excerpt: str
    """Up to 120 characters around what matched, on one line."""


def find_trace(body: bytes) -> Trace | None:
    """The first signature that ``body`` shows, or None. Linear in ``body``'s length."""
    text = html.unescape(body[:MAX_TEXT].decode("utf-8", errors="replace"))
    for signature in SIGNATURES:
        if not all(needle in text for needle in signature.all_of):
            continue
        start = text.find(signature.all_of[0]) if signature.all_of else -1
        if signature.pattern is not None:
            match = _compiled(signature.pattern).search(text)
            if match is None:
                continue
            start = match.start()
        return Trace(signature, _excerpt(text, max(0, start)))
    return None


@cache
def _compiled(pattern: str) -> Any:
    import re2

    return re2.compile(pattern)


def _excerpt(text: str, start: int) -> str:
    piece = " ".join(text[start : start + 240].split())
    return piece[:120]
