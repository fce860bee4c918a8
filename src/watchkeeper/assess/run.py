"""One assessment: every part that applies, run at once where they are independent, and
their Findings ranked into one list of what to do first.

    status     states, uptime and latency over the look-back, broken routes, SLO budgets
    diagnose   drift, phases and the Postgres/Redis/host advisors (``wk diagnose``)
    audit      the audit: monitors' last reports, and a live audit of ``--target``
    backups    restore drills' standing, data nobody backs up
    capacity   with ``--target`` and ``--max-rate``: a short probe, never faster than it
    cost       right-sizing, idle machines, what growth costs (``wk cost``)

A part that cannot run says why in one line; the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchkeeper import __version__
from watchkeeper.assess import gather
from watchkeeper.assess.items import Item, item, rank
from watchkeeper.findings import Severity

if TYPE_CHECKING:
    from watchkeeper.config import Config, Monitor
    from watchkeeper.store import Store

log = logging.getLogger("watchkeeper.assess")

DIAGNOSE_SINCE = 6 * 3600.0
DIAGNOSE_BASELINE = 86400.0


@dataclass(slots=True)
class Request:
    config: Config
    store: Store
    monitors: list[Monitor]
    """The config's and the API's monitors."""
    now: float
    lookback: float = 14 * 86400.0
    target: str | None = None
    probe: gather.Probe | None = None
    advisors: bool = True
    """Run the Postgres/Redis/host advisors (they connect to the targets)."""


@dataclass(slots=True)
class Assessment:
    generated: float
    lookback: float
    items: list[Item]
    sections: list[gather.Section]
    config: str = ""
    covered: list[str] = field(default_factory=list)
    """The scopes looked at in full (``scope_of``)."""

    @property
    def errors(self) -> list[str]:
        return [f"{s.name}: {e}" for s in self.sections for e in s.errors]

    @property
    def facts(self) -> dict[str, Any]:
        return {s.name: s.facts for s in self.sections if s.facts}

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for entry in self.items:
            out[entry.finding.severity.value] += 1
        return out

    def to_act_on(self) -> bool:
        return any(i.finding.severity is not Severity.info for i in self.items)

    def as_json(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "version": __version__,
            "config": self.config,
            "lookback_s": self.lookback,
            "counts": self.counts(),
            "items": [i.as_json() for i in self.items],
            "findings": [i.finding.as_json() for i in self.items],
            "sections": [s.as_json() for s in self.sections],
            "facts": self.facts,
            "covered": self.covered,
            "errors": self.errors,
        }


async def assess(request: Request) -> Assessment:
    jobs: list[tuple[str, Callable[[], Awaitable[gather.Section]]]] = [
        (
            "status",
            lambda: _thread(
                gather.status,
                request.config,
                request.store,
                request.monitors,
                request.now,
                request.lookback,
            ),
        ),
        ("diagnose", lambda: _diagnose(request)),
        (
            "audit",
            lambda: _thread(gather.stored_audits, request.config, request.store, request.now),
        ),
        ("backups", lambda: _thread(gather.backups, request.config, request.store)),
        ("cost", lambda: _cost(request)),
    ]
    if request.target:
        target = request.target
        jobs.append(("audit of target", lambda: gather.live_audit(target)))
    sections = list(await asyncio.gather(*(_guarded(name, job) for name, job in jobs)))
    # the load probe last and alone: the other parts' reads must not be timed under it, and
    # its numbers not under theirs
    if request.probe is not None:
        sections.append(await _guarded("capacity", lambda: _thread(gather.capacity, request.probe)))
    elif request.target:
        sections.append(gather.Section("capacity", skipped="no --max-rate: no load was sent"))
    else:
        sections.append(gather.Section("capacity", skipped="no --target"))
    sections = _merge_audits(sections)
    items = rank(
        item(finding, link, scope_of(s.name, finding.source, link))
        for s in sections
        for finding, link in s.findings
    )
    covered = sorted({c for s in sections for c in _covers(s, request)})
    return Assessment(time.time(), request.lookback, items, sections, covered=covered)


def scope_of(section: str, source: str, link: str) -> str:
    """Audits are told apart by site (each monitor's, or --target's); the rest by source."""
    return f"audit:{link}" if section == "audit" else f"{section}:{source}"


_SOURCES = {
    "status": ("status", "slo", "backup"),
    "backups": ("drill", "backup"),
    "capacity": ("capacity",),
    "cost": ("cost",),
}
_ADVISORS = ("postgres", "redis", "host", "resolver")


def _covers(section: gather.Section, request: Request) -> list[str]:
    """The scopes this run looked at in full: where a baseline's finding that is missing now
    was really fixed, not merely not looked for."""
    if section.skipped:
        return []
    if section.name == "diagnose":
        sources = ["drift", "phase", "errors"]
        if request.advisors and not section.errors:
            sources += _ADVISORS
        return [f"diagnose:{s}" for s in sources]
    if section.name == "audit":
        return [f"audit:{link}" for link in section.facts.get("links", [])]
    if section.errors:
        return []
    return [f"{section.name}:{s}" for s in _SOURCES.get(section.name, ())]


def _merge_audits(sections: list[gather.Section]) -> list[gather.Section]:
    audits = [s for s in sections if s.name == "audit"]
    if len(audits) < 2:
        return sections
    merged = gather.Section("audit")
    for part in audits:
        merged.findings += part.findings
        merged.errors += part.errors
        merged.facts.setdefault("grades", {}).update(part.facts.get("grades", {}))
        merged.facts.setdefault("links", []).extend(part.facts.get("links", []))
    if not merged.facts["grades"] and not merged.findings:
        merged.skipped = audits[0].skipped
    out = [s for s in sections if s.name != "audit"]
    out.insert(2, merged)
    return out


async def _thread(function: Callable[..., gather.Section], *args: Any) -> gather.Section:
    return await asyncio.to_thread(function, *args)


async def _guarded(name: str, job: Callable[[], Awaitable[gather.Section]]) -> gather.Section:
    """A part that fails is one line in its section; the assessment goes on."""
    try:
        return await job()
    except Exception as exc:  # one part's trouble must not lose the others' findings
        log.debug("assess part %s failed", name, exc_info=True)
        section = gather.Section(name.split(" ")[0])
        section.errors.append(
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        return section


async def _diagnose(request: Request) -> gather.Section:
    from watchkeeper.diagnosis import Request as DiagnosisRequest
    from watchkeeper.diagnosis import Window, diagnosable, diagnose, targets_of

    section = gather.Section("diagnose")
    window = Window(now=request.now, since=DIAGNOSE_SINCE, baseline=DIAGNOSE_BASELINE)
    found = await diagnose(
        DiagnosisRequest(
            window=window,
            store=request.store,
            monitors=diagnosable(request.monitors),
            targets=targets_of(request.config, request.monitors) if request.advisors else [],
            secrets=request.config.secrets,
        )
    )
    names = {m.name for m in request.monitors}
    for finding in found.findings:
        link = gather.monitor_link(finding.subject) if finding.subject in names else ""
        section.add(finding, link or "wk diagnose")
    section.errors += found.errors
    section.facts["looked_at"] = list(found.looked_at)
    return section


async def _cost(request: Request) -> gather.Section:
    from watchkeeper.assess.costs import cost_section

    return await cost_section(request.config, request.store, request.lookback, request.now)
