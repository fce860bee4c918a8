"""One diagnosis: the monitors' drift and phases from the store, and the advisors for the
databases, caches and host asked for, all at once; Findings ranked, and the targets that
could not be looked at (one line each).

With a config and no explicit targets, the advisors look at what the config watches: every
``postgres`` and ``redis`` monitor's target, and the host when a ``host`` monitor exists.
The Postgres advisor's statement statistics are kept in the store between runs, so a run
reports what happened since the previous one (the user's statistics are never reset).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from watchkeeper.advisors.errors import AdvisorError
from watchkeeper.config import Config, Monitor
from watchkeeper.diagnosis.monitors import Window, diagnose_monitor
from watchkeeper.findings import Finding, ranked
from watchkeeper.redact import redact
from watchkeeper.store import Store

log = logging.getLogger("watchkeeper.diagnosis")

NOT_DIAGNOSED = frozenset({"heartbeat", "slo"})
"""Kinds whose results have no latency worth a diagnosis."""


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    """postgres, redis or host."""
    address: str
    """The DSN or URL ("" for the host)."""
    label: str
    """How it is shown (a monitor's name, or the address with secrets masked)."""


@dataclass(slots=True)
class Request:
    window: Window
    store: Store | None = None
    monitors: Sequence[str] = ()
    targets: Sequence[Target] = ()
    analyze: bool = False
    secrets: frozenset[str] = frozenset()


@dataclass(slots=True)
class Diagnosis:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    looked_at: list[str] = field(default_factory=list)
    """What was examined ("monitor api", "postgres db", "host")."""

    def as_json(self) -> dict[str, Any]:
        return {
            "findings": [f.as_json() for f in self.findings],
            "errors": list(self.errors),
            "looked_at": list(self.looked_at),
        }


def targets_of(config: Config, monitors: Sequence[Monitor]) -> list[Target]:
    """The advisors' targets a config implies: its postgres and redis monitors' targets
    (each once) and the host when it watches the host."""
    found: dict[tuple[str, str], Target] = {}
    for monitor in monitors:
        if monitor.kind == "postgres":
            address = str(getattr(monitor.settings, "dsn", ""))
        elif monitor.kind == "redis":
            address = str(getattr(monitor.settings, "url", ""))
        elif monitor.kind == "host":
            address = ""
        else:
            continue
        found.setdefault((monitor.kind, address), Target(monitor.kind, address, monitor.name))
    return list(found.values())


async def diagnose(request: Request) -> Diagnosis:
    out = Diagnosis()
    jobs: list[tuple[str, Awaitable[list[Finding]]]] = []
    if request.store is not None:
        for name in request.monitors:
            jobs.append(
                (
                    f"monitor {name}",
                    asyncio.to_thread(diagnose_monitor, request.store, name, request.window),
                )
            )
    for target in request.targets:
        jobs.append((f"{target.kind} {target.label}", _advise(target, request)))
    answers = await asyncio.gather(*(job for _, job in jobs), return_exceptions=True)
    for (what, _), answer in zip(jobs, answers, strict=True):
        out.looked_at.append(what)
        if isinstance(answer, AdvisorError):
            out.errors.append(f"{what}: {redact(str(answer), request.secrets)}")
        elif isinstance(answer, BaseException):
            if isinstance(answer, asyncio.CancelledError | KeyboardInterrupt):
                raise answer
            log.error("diagnosing %s failed", what, exc_info=answer)
            text = f"{type(answer).__name__}: {answer}".splitlines()[0][:200]
            out.errors.append(f"{what}: internal error ({redact(text, request.secrets)})")
        else:
            out.findings.extend(answer)
    out.findings = ranked(out.findings)
    return out


async def _advise(target: Target, request: Request) -> list[Finding]:
    runners: dict[str, Callable[[Target, Request], Awaitable[list[Finding]]]] = {
        "postgres": _postgres,
        "redis": _redis,
        "host": _host,
    }
    return await runners[target.kind](target, request)


def _note_key(target: Target) -> str:
    digest = hashlib.sha256(target.address.encode()).hexdigest()[:16]
    return f"diagnose.{target.kind}.{digest}"


async def _postgres(target: Target, request: Request) -> list[Finding]:
    from watchkeeper.advisors import postgres

    store = request.store
    previous: dict[str, Any] | None = None
    if store is not None:
        kept = await asyncio.to_thread(store.get_note, _note_key(target))
        if kept:
            try:
                loaded = json.loads(kept)
                previous = loaded if isinstance(loaded, dict) else None
            except ValueError:
                previous = None
    advice = await postgres.advise(target.address, previous=previous, analyze=request.analyze)
    if store is not None:
        text = json.dumps(advice.snapshot, separators=(",", ":"))
        await asyncio.to_thread(store.set_note, _note_key(target), text)
    return _labelled(advice.findings, target)


async def _redis(target: Target, request: Request) -> list[Finding]:
    from watchkeeper.advisors import redis

    return _labelled(await redis.advise(target.address), target)


async def _host(target: Target, request: Request) -> list[Finding]:
    from watchkeeper.advisors import host

    return await host.advise()


def _labelled(findings: list[Finding], target: Target) -> list[Finding]:
    """Each finding names the target it is about in its evidence (two databases may both
    have a table called orders)."""
    return [replace(f, evidence={**f.evidence, "target": target.label}) for f in findings]
