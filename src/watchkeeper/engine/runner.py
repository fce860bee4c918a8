"""Run one check of one monitor: enforce its timeout, judge the Observation, return a Result.

Nothing escapes: an expected failure is already in the Observation, a timeout is reported
with the phase it happened in, and a bug in a check becomes an ``error`` Result with its
traceback logged — one bad check never stops the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from math import isfinite
from typing import Any

from watchkeeper.checks import Attempt, Resources
from watchkeeper.config import Monitor
from watchkeeper.expect import evaluate
from watchkeeper.lanes import JUDGING, Busy
from watchkeeper.model import Observation, Result
from watchkeeper.printable import visible
from watchkeeper.redact import mask_url, redact
from watchkeeper.units import format_duration

log = logging.getLogger("watchkeeper.engine")

_WAITING_FOR = {
    "dns": "the DNS answer",
    "connect": "the TCP connection",
    "tls": "the TLS handshake",
    "ttfb": "the response",
    "transfer": "the rest of the body",
}


class _Deadline:
    """Cancel the current task after ``seconds``: ``asyncio.timeout`` without its overhead
    (one timer handle), since every check of every monitor pays for it. As with
    ``asyncio.timeout``, a cancellation from elsewhere (shutdown) is never swallowed."""

    __slots__ = ("_before", "_fired", "_handle", "_settled", "_task")

    def __init__(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._before = task.cancelling()
        self._fired = False
        self._settled = False
        self._handle = asyncio.get_running_loop().call_later(seconds, self._fire)

    def _fire(self) -> None:
        self._fired = True
        self._task.cancel()

    def _settle(self) -> bool:
        """Take back our own cancellation once; True when no other one is pending."""
        if not self._fired or self._settled:
            return self._fired and self._task.cancelling() <= self._before
        self._settled = True
        return self._task.uncancel() <= self._before

    def expired(self) -> bool:
        """Did this deadline (and nothing else) cancel the probe?"""
        return self._fired and self._settle()

    def cancel(self) -> None:
        self._handle.cancel()
        self._settle()


JUDGE_INLINE = 64 * 1024
"""Bytes of body past which a Result is judged on threads of its own, not the event loop:
parsing a megabyte of JSON or running a regular expression over it takes milliseconds to
seconds of CPU (RE2 is linear, but some patterns make its DFA give up: ``a[ab]{200}c`` over
a MiB of random a/b text takes ~0.8 s). RE2 lets go of the interpreter while it matches,
and a thread parsing JSON hands it back every few milliseconds, so the event loop and the
other monitors' checks go on meanwhile."""


async def run_check(
    monitor: Monitor, resources: Resources, secrets: frozenset[str] = frozenset()
) -> Result:
    """Probe ``monitor`` once and judge what was seen."""
    attempt = Attempt(
        resources=resources, timeout=monitor.timeout, wants=monitor.wants, monitor=monitor.name
    )
    started = time.perf_counter()
    deadline = _Deadline(monitor.timeout)
    try:
        await monitor.check.probe(monitor.settings, attempt)
    except asyncio.CancelledError:
        if not deadline.expired():
            raise
        phase, waiting_for = attempt.phase, attempt.waiting_for
        if phase is not None:
            attempt.end(phase)
        waiting_for = waiting_for or _WAITING_FOR.get(phase or "", phase)
        waiting = f" in {phase} (waiting for {waiting_for})" if phase else ""
        attempt.observation.error = f"timeout after {format_duration(monitor.timeout)}{waiting}"
    except Exception as exc:  # a bug in a check: never let it stop the engine
        log.exception("check %s (%s) raised", monitor.name, monitor.kind)
        attempt.observation.error = (
            f"internal error in {monitor.kind} check: "
            + (f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
        )
    finally:
        deadline.cancel()
    if attempt.phase is not None:  # the probe failed inside a phase: count its time
        attempt.end(attempt.phase)
    if attempt.observation.phases.total is None:  # a ping says its own: the mean round trip
        attempt.observation.phases.total = time.perf_counter() - started
    try:
        body = attempt.observation.facts.get("body")
        if isinstance(body, bytes | str) and len(body) > JUDGE_INLINE:
            return await _judge_aside(monitor, attempt.observation, secrets)
        return judge(monitor, attempt.observation, secrets)
    except Exception as exc:  # a bug in evaluation: an error Result, never a lost one
        log.exception("judging %s (%s) raised", monitor.name, monitor.kind)
        attempt.observation.error = (
            "internal error judging the result: "
            + (f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
        )
        attempt.observation.facts.pop("status", None)
        return judge(replace(monitor, expectations=()), attempt.observation, secrets)


async def _judge_aside(
    monitor: Monitor, observation: Observation, secrets: frozenset[str]
) -> Result:
    """``judge`` on the judging threads, one at a time per monitor, within the monitor's
    timeout; past it (or while its previous judgement still runs) an error Result."""
    try:
        return await asyncio.wait_for(
            JUDGING.run_one(monitor.name, judge, monitor, observation, secrets), monitor.timeout
        )
    except Busy:
        reason = "the previous result is still being judged (a large body)"
    except TimeoutError:
        reason = f"judging the body took longer than {format_duration(monitor.timeout)}"
    observation.error = reason  # with an error, judge evaluates no expectation
    observation.facts.pop("status", None)
    return judge(monitor, observation, secrets)


def judge(
    monitor: Monitor, observation: Observation, secrets: frozenset[str] = frozenset()
) -> Result:
    """Evaluate the monitor's expectations on an Observation (not when the probe failed);
    its soft ``warn:`` expectations only when everything else passed."""
    failures: list[str] = []
    warnings: list[str] = []
    error = observation.error
    if error is None:
        for expectation in monitor.expectations:
            failure = evaluate(expectation, observation, secrets)
            if failure is not None:
                failures.append(failure)
        if not failures:
            warnings.extend(observation.warnings)
            for expectation in monitor.warnings:
                warning = evaluate(expectation, observation, secrets)
                if warning is not None:
                    warnings.append(warning)
    if secrets:
        failures = [redact(f, secrets) for f in failures]
    # a check's error or warning may quote a URL the config wrote a password or token into,
    # and text a target sent (a reason phrase, a banner): masked, then made inert
    error = visible(mask_url(redact(error, secrets))) if error else error
    warnings = [visible(mask_url(redact(w, secrets))) for w in warnings]
    status = observation.facts.get("status")
    expires_in = observation.facts.get("cert.expires_in")
    return Result(
        monitor=monitor.name,
        kind=monitor.kind,
        started_at=observation.started_at,
        ok=error is None and not failures,
        phases=observation.phases,
        failures=failures,
        error=error,
        status=status if isinstance(status, int) else None,
        warnings=warnings,
        cert_expires_at=(
            observation.started_at + expires_in if isinstance(expires_in, int | float) else None
        ),
        metrics=numeric_facts(observation.facts),
        detail=observation.detail,
    )


MAX_METRICS = 200
"""Numeric observations kept per result (a scrape may name many series)."""
_NOT_SERIES = frozenset({"status", "headers"})
"""Facts that are never series: the status is stored with the result itself, and a
response's headers are text (looking through them costs every http check)."""


def numeric_facts(facts: dict[str, Any]) -> dict[str, float]:
    """The numbers among a check's facts, by subject: ``pg.connections``, and up to two levels
    into mappings (``disk./.used_pct``, ``metric.up.value``, ``amqp.queue.jobs.messages``).
    Booleans count as 0/1; text, lists and bytes are not series."""
    out: dict[str, float] = {}
    finite = True  # the usual case: no second pass to drop NaN and infinities
    for key, value in facts.items():
        kind = type(value)
        if kind is float or kind is int:
            if key not in _NOT_SERIES:
                number = out[key] = float(value)
                finite = finite and isfinite(number)
        elif kind is bool:
            out[key] = 1.0 if value else 0.0
        elif (kind is dict or isinstance(value, dict)) and key not in _NOT_SERIES:
            for inner, item in value.items():
                if not isinstance(inner, str):
                    continue
                if isinstance(item, int | float):
                    number = out[f"{key}.{inner}"] = float(item)
                    finite = finite and isfinite(number)
                elif isinstance(item, dict):  # amqp.queue.<name>.messages
                    for leaf, number in item.items():
                        if isinstance(number, int | float) and isinstance(leaf, str):
                            out[f"{key}.{inner}.{leaf}"] = float(number)
                            finite = finite and isfinite(float(number))
        if len(out) >= MAX_METRICS:
            break
    if finite:
        return out
    return {k: v for k, v in out.items() if isfinite(v)}
