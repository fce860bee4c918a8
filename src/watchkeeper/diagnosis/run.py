"""One diagnosis: the monitors' drift and phases from the store, and the advisors for the
databases, caches and host asked for, all at once; the error tracker's issues whose events
rose (``diagnosis.errors``), beside the latency shift they began with; Findings ranked, and
the targets that could not be looked at (one line each).

With a config and no explicit targets, the advisors look at what the config watches: every
``postgres`` and ``redis`` monitor's target, and the host when a ``host`` monitor exists.
The Postgres advisor's statement statistics are kept in the store between runs, so a run
reports what happened since the previous one (the user's statistics are never reset).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from watchkeeper.advisors import targets
from watchkeeper.advisors.errors import AdvisorError
from watchkeeper.config import Config, Monitor
from watchkeeper.diagnosis import errors
from watchkeeper.diagnosis.monitors import Window, bucket_width, diagnose_monitor
from watchkeeper.errors import StoreError
from watchkeeper.findings import Finding, ranked
from watchkeeper.lanes import DIAGNOSIS
from watchkeeper.redact import redact
from watchkeeper.store import Store

log = logging.getLogger("watchkeeper.diagnosis")

NOT_DIAGNOSED = frozenset({"heartbeat", "slo"})
"""Kinds whose results have no latency worth a diagnosis."""

DEADLINE = 120.0
"""Seconds one monitor's or advisor's diagnosis may take (a hung NFS mount, a database that
accepts but never answers): past it, that one is reported as not looked at."""


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


def diagnosable(monitors: Sequence[Monitor]) -> list[str]:
    """The names of the monitors whose results a diagnosis reads."""
    return [m.name for m in monitors if m.kind not in NOT_DIAGNOSED]


async def diagnose(request: Request) -> Diagnosis:
    out = Diagnosis()
    secrets = set(request.secrets)
    for target in request.targets:
        secrets.update(_shown(target).secrets)
    request.secrets = frozenset(secrets)
    # the host first and alone: its CPU sample must not see this command's own work
    hosts = [t for t in request.targets if t.kind == "host"]
    rest = [t for t in request.targets if t.kind != "host"]
    done: list[tuple[str, list[Finding] | BaseException]] = []
    for target in hosts:
        done += await _run([(f"host {target.label}", functools.partial(_advise, target, request))])
    jobs: list[tuple[str, Callable[[], Awaitable[list[Finding]]]]] = []
    store = request.store
    if store is not None:
        for name in request.monitors:
            jobs.append(
                (
                    f"monitor {name}",
                    functools.partial(_monitor, store, name, request.window),
                )
            )
    for target in rest:
        jobs.append((f"{target.kind} {target.label}", functools.partial(_advise, target, request)))
    done += await _run(jobs)
    order = {
        what: i
        for i, what in enumerate(
            [f"monitor {n}" for n in request.monitors]
            + [f"{t.kind} {t.label}" for t in request.targets]
        )
    }
    done.sort(key=lambda item: order.get(item[0], len(order)))
    for what, answer in done:
        out.looked_at.append(what)
        if isinstance(answer, Overdue):
            out.errors.append(f"{what}: no answer within {DEADLINE:.0f}s")
        elif isinstance(answer, AdvisorError):
            out.errors.append(f"{what}: {redact(str(answer), request.secrets)}")
        elif isinstance(answer, BaseException):
            if isinstance(answer, asyncio.CancelledError | KeyboardInterrupt):
                raise answer
            log.error("diagnosing %s failed", what, exc_info=answer)
            text = f"{type(answer).__name__}: {answer}".splitlines()[0][:200]
            out.errors.append(f"{what}: internal error ({redact(text, request.secrets)})")
        else:
            out.findings.extend(_redacted(f, request.secrets) for f in answer)
    if store is not None:
        out.findings += await _errors(store, request.window, out.findings)
    out.findings = ranked(coincide(out.findings))
    return out


async def _errors(store: Store, window: Window, findings: list[Finding]) -> list[Finding]:
    """Error rises in the window (per project), and those beside a latency shift."""
    try:
        found = await _in_daemon_thread(errors.find, store, window)
    except StoreError as exc:
        log.warning("reading the error tracker's minute counts failed: %s", exc)
        return []
    width = bucket_width(window.since)
    return errors.per_project(found) + errors.beside_latency(findings, found, width)


TOGETHER = 600.0
"""Changes whose onsets lie this close (seconds) are told as happening together."""


def coincide(findings: list[Finding]) -> list[Finding]:
    """Each change (a finding with an ``onset``) names the other changes that began within
    ``TOGETHER`` of it: a latency rise at 14:05 beside the database's connections jumping at
    14:06 is the lead a person wants first."""
    onsets: list[tuple[int, float]] = []
    for index, finding in enumerate(findings):
        onset = finding.evidence.get("onset")
        if isinstance(onset, str):
            try:
                onsets.append((index, dt.datetime.fromisoformat(onset).timestamp()))
            except ValueError:
                continue
    if len(onsets) < 2:
        return findings
    out = list(findings)
    for index, at in onsets:
        others = [
            findings[j].subject + _change(findings[j])
            for j, when in onsets
            if j != index and abs(when - at) <= TOGETHER and findings[j].subject
        ]
        if not others:
            continue
        finding = findings[index]
        together = ", ".join(others[:5])
        out[index] = replace(
            finding,
            evidence={**finding.evidence, "coincides_with": together},
            recommendation=f"At the same moment: {together}. {finding.recommendation}".strip(),
        )
    return out


def _change(finding: Finding) -> str:
    pct = finding.evidence.get("change_pct")
    return f" ({pct:+.0f} %)" if isinstance(pct, int | float) else ""


async def _monitor(store: Store, name: str, window: Window) -> list[Finding]:
    return await _in_daemon_thread(diagnose_monitor, store, name, window)


T = TypeVar("T")


async def _in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a thread of its own that does not hold up the exit: past the
    deadline it is left behind (``asyncio.to_thread``'s pool would be waited for)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():  # given up on (the deadline)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def work() -> None:
        value: T | None = None
        error: BaseException | None = None
        try:
            value = function(*args)
        except BaseException as exc:  # handed to the waiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name="wk-diagnose", daemon=True).start()
    return await future


class Overdue(Exception):
    """A job's own deadline passed (not a timeout inside the job)."""


async def _run(
    jobs: Sequence[tuple[str, Callable[[], Awaitable[list[Finding]]]]],
) -> list[tuple[str, list[Finding] | BaseException]]:
    async def one(start: Callable[[], Awaitable[list[Finding]]]) -> list[Finding]:
        try:
            async with asyncio.timeout(DEADLINE) as deadline:
                return await start()
        except TimeoutError:
            if deadline.expired():
                raise Overdue from None
            raise

    answers = await asyncio.gather(*(one(start) for _, start in jobs), return_exceptions=True)
    return [(what, answer) for (what, _), answer in zip(jobs, answers, strict=True)]


def _redacted(finding: Finding, secrets: frozenset[str]) -> Finding:
    """A finding with every secret masked in its text (an advisor's message may quote what
    the server said)."""
    if not secrets:
        return finding
    return replace(
        finding,
        title=redact(finding.title, secrets),
        subject=redact(finding.subject, secrets),
        recommendation=redact(finding.recommendation, secrets),
        evidence={
            k: redact(v, secrets) if isinstance(v, str) else v for k, v in finding.evidence.items()
        },
    )


def _shown(target: Target) -> targets.Shown:
    if target.kind == "postgres":
        return targets.postgres(target.address)
    if target.kind == "redis":
        return targets.redis(target.address)
    return targets.Shown(target.label, ())


async def _advise(target: Target, request: Request) -> list[Finding]:
    runners: dict[str, Callable[[Target, Request], Awaitable[list[Finding]]]] = {
        "postgres": _postgres,
        "redis": _redis,
        "host": _host,
    }
    return await runners[target.kind](target, request)


def _note_key(target: Target) -> str:
    """Where a target's statistics snapshot is kept: by ``host:port/db`` (not the address,
    which may hold a password that rotates)."""
    return f"diagnose.{target.kind}.{_shown(target).label}"


async def _postgres(target: Target, request: Request) -> list[Finding]:
    from watchkeeper.advisors import postgres

    store = request.store
    previous: dict[str, Any] | None = None
    if store is not None:
        kept = await DIAGNOSIS.run(store.get_note, _note_key(target))
        if kept:
            try:
                loaded = json.loads(kept)
                previous = loaded if isinstance(loaded, dict) else None
            except ValueError:
                previous = None
    advice = await postgres.advise(target.address, previous=previous, analyze=request.analyze)
    if store is not None:
        text = json.dumps(advice.snapshot, separators=(",", ":"))
        await DIAGNOSIS.run(store.set_note, _note_key(target), text)
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
