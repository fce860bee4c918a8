"""One audit of one site: headers and cookies (graded as Mozilla's HTTP Observatory grades
them), TLS, exposure and delivery, run side by side, each part's problems as Findings.

A part that cannot finish (the site refuses https, a handshake hangs) becomes one line in
``errors`` and the others go on; only a site that answers nothing at all is unreachable. Every
request is bounded (``Options.timeout`` each, size caps in ``_http``) and the whole audit by
``Options.deadline``; nothing is sent to a host other than the target's (a redirect to another
host is followed for the grade, as a browser would, but never probed for leaks or ports).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper.audit.target import Target
from watchkeeper.findings import Finding, Severity, ranked

if TYPE_CHECKING:
    from watchkeeper.audit.observatory import Scorecard
    from watchkeeper.audit.tls import TlsReport

GRADES = ("A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F")
"""The Observatory's grades, best first."""
PARTS = ("headers", "tls", "exposure", "delivery")


@dataclass(frozen=True, slots=True)
class Options:
    timeout: float = 10.0
    """Seconds for one request or handshake."""
    deadline: float = 60.0
    """Seconds for the whole audit of one site."""
    parts: frozenset[str] = frozenset(PARTS)
    ports: bool = False
    """Also connect-scan the host's common service ports (exposure)."""
    databases: tuple[str, ...] = ()
    """Database URLs (postgresql://, mysql://, redis://) to check for open doors."""
    ca_file: str | None = None
    """A private CA to trust besides the system's (an internal site)."""
    preload: Any = None
    """An ``observatory.HstsPreload`` (the HSTS preload list the grade consults), or None."""

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context


@dataclass(slots=True)
class SiteReport:
    """Everything one audit of one site found."""

    target: Target
    started_at: float
    elapsed: float = 0.0
    scorecard: Scorecard | None = None
    tls: TlsReport | None = None
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Parts that could not be finished, one line each."""

    @property
    def grade(self) -> str | None:
        return self.scorecard.grade if self.scorecard is not None else None

    @property
    def score(self) -> int | None:
        return self.scorecard.score if self.scorecard is not None else None

    @property
    def reachable(self) -> bool:
        return self.scorecard is not None or self.tls is not None or bool(self.findings)

    def worst(self) -> Severity | None:
        return min((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target.url,
            "started_at": self.started_at,
            "elapsed_s": round(self.elapsed, 3),
            "grade": self.grade,
            "score": self.score,
            "observatory": self.scorecard.as_json() if self.scorecard is not None else None,
            "tls": self.tls.as_json() if self.tls is not None else None,
            "findings": [f.as_json() for f in self.findings],
            "errors": list(self.errors),
        }


def below(grade: str | None, floor: str) -> bool:
    """Is ``grade`` worse than ``floor`` (no grade at all counts as below)?"""
    if grade is None:
        return True
    return GRADES.index(grade) > GRADES.index(floor)


async def audit(target: Target, options: Options = Options()) -> SiteReport:
    """Audit ``target``: every part in ``options.parts`` at once, within ``options.deadline``."""
    report = SiteReport(target=target, started_at=time.time())
    began = time.perf_counter()
    jobs = {
        name: job
        for name, job in (
            ("headers", _headers),
            ("tls", _tls),
            ("exposure", _exposure),
            ("delivery", _delivery),
        )
        if name in options.parts
    }
    tasks = {
        name: asyncio.ensure_future(job(target, options, report)) for name, job in jobs.items()
    }
    _, pending = await asyncio.wait(tasks.values(), timeout=options.deadline)
    for name, task in tasks.items():
        if task in pending:
            task.cancel()
            report.errors.append(f"{name}: not finished within {options.deadline:g}s")
        elif (exc := task.exception()) is not None:
            report.errors.append(f"{name}: {_one_line(exc)}")
    if pending:
        await asyncio.wait(pending)
    report.findings = ranked(report.findings)
    report.elapsed = time.perf_counter() - began
    return report


async def _headers(target: Target, options: Options, report: SiteReport) -> None:
    from watchkeeper.audit import observatory
    from watchkeeper.audit._http import Fetcher

    async with Fetcher(timeout=options.timeout, tls=options.tls_context()) as fetch:
        retrieval = await observatory.retrieve(
            fetch,
            target.host,
            http_port=target.port if not target.https else (80 if target.port == 443 else None),
            https_port=target.port if target.https else (443 if target.port == 80 else None),
            path=target.path,
        )
    card = observatory.grade(retrieval, preload=options.preload)
    report.scorecard = card
    report.findings += observatory.findings(card, target.url)


async def _tls(target: Target, options: Options, report: SiteReport) -> None:
    if not target.https:
        return
    from watchkeeper.audit import tls

    found = await tls.scan(
        target.host,
        target.port,
        timeout=options.timeout,
        ca_file=options.ca_file,
        hsts="headers" not in options.parts,  # the Observatory grades HSTS when it runs
    )
    if found.error is not None:
        raise PartError(found.error)
    report.tls = found
    report.findings += tls.findings(found, f"{target.host}:{target.port}")


async def _exposure(target: Target, options: Options, report: SiteReport) -> None:
    from watchkeeper.audit import exposure
    from watchkeeper.audit._http import Fetcher

    async with Fetcher(
        timeout=options.timeout,
        tls=options.tls_context(),
        allowed_hosts=frozenset({target.host}),
    ) as fetch:
        report.findings += await exposure.exposure(
            target.url,
            fetch=fetch,
            ports=options.ports,
            databases=list(options.databases),
            wait=min(3.0, options.timeout),
        )


async def _delivery(target: Target, options: Options, report: SiteReport) -> None:
    from watchkeeper.audit import delivery
    from watchkeeper.audit._http import Fetcher

    async with Fetcher(timeout=options.timeout, tls=options.tls_context()) as fetch:
        report.findings += await delivery.delivery(target.url, fetch=fetch)


class PartError(Exception):
    """A part that could not be done: the message is its one line."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
