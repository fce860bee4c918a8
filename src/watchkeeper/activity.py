"""The activity log: who changed what, when and from where — the audit trail a compliance
review asks for (not to be confused with ``wk audit``, the security audit of sites).

What is recorded, and by whom:

- every write through the API and the dashboard (``web.activity.Recorder``: the route's
  dotted verb, the principal, the client address, the outcome from the answer's status);
- logins (``login``, ``login.failed``), ``logout``, the first admin's ``user.create`` at
  setup (``web.pages.account``);
- the use of each API token: its first use per hour (``token.use``), not one row a request;
- config reloads (``config.reload``; by ``system`` for SIGHUP, ``wk reload`` and the file
  watch, since a signal does not say who sent it);
- the CLI's writes (``wk user``, ``wk token``, ``wk silence``, ``wk incident ack``,
  ``wk project add``) as ``cli:<unix user>``.

``detail`` is small JSON: values under secret-sounding keys (``password``, ``token``,
``*_key`` ...; see ``redact.is_secret_name``) become ``***``, URLs lose their passwords and
secret query values, the config's ``${VAR}`` values are masked, and past ``MAX_DETAIL_BYTES``
only the keys are kept.

A login flood cannot grow the table without bound: failed logins are aggregated in memory,
one row per client address and minute (``count`` = attempts, ``detail`` the reasons and up to
``NAMES_KEPT`` names tried), for at most ``ADDRESSES_PER_MINUTE`` addresses a minute; the
attempts of any further address that minute share one row whose address is empty. So a
flood writes at most ``ADDRESSES_PER_MINUTE + 1`` rows a minute, rewritten at most every
``FLUSH_EVERY`` seconds. The first failure of an address in a minute is written at once.

Writes are made on a lane's threads (the web's), never on the event loop; a write the store
refuses is logged and counted in ``lost`` (the request it describes has already been served).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.errors import StoreError
from watchkeeper.lanes import WEB, Lane
from watchkeeper.redact import MASK, is_secret_name, mask_url, redact
from watchkeeper.store import Store
from watchkeeper.store import activity as rows
from watchkeeper.store.activity import Entry

log = logging.getLogger("watchkeeper.activity")

MAX_DETAIL_BYTES = 2048
"""A detail's JSON past this keeps only its keys (``{"truncated": true, "keys": [...]}``)."""
MAX_TEXT = 200
"""Characters kept of each string in a detail (and of a subject)."""
MAX_ITEMS = 20
"""Items kept of each list or object in a detail."""
MAX_DEPTH = 4
ADDRESSES_PER_MINUTE = 20
"""Client addresses a minute whose failed logins get a row of their own."""
NAMES_KEPT = 5
"""Names tried kept per failed-login row."""
FLUSH_EVERY = 5.0
"""Seconds between two writes of the failed-login aggregates during a flood."""
TOKEN_USE_EVERY = 3600
"""A token's use is recorded once per this many seconds (per clock hour), per process."""
OUTCOMES = ("ok", "denied", "failed")
DROPPED_KEYS = frozenset({"csrf", "again"})
"""Form fields never worth keeping (the CSRF token, a password's repetition)."""


def cli_actor() -> str:
    """``cli:<unix user>``: who ran a command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def shape_detail(detail: dict[str, Any] | None, secrets: Collection[str] = ()) -> dict[str, Any]:
    """``detail`` as it may be stored: secrets masked, strings and lists cut, small."""
    if not detail:
        return {}
    shaped = _shape(detail, secrets, 0)
    assert isinstance(shaped, dict)
    text = json.dumps(shaped, separators=(",", ":"), sort_keys=True, default=str)
    if len(text.encode()) <= MAX_DETAIL_BYTES:
        return shaped
    return {"truncated": True, "keys": sorted(str(k)[:MAX_TEXT] for k in shaped)[:MAX_ITEMS]}


def _shape(value: Any, secrets: Collection[str], depth: int) -> Any:
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return "…"
        kept: dict[str, Any] = {}
        for key, item in list(value.items())[:MAX_ITEMS]:
            name = str(key)[:MAX_TEXT]
            if name.lower() in DROPPED_KEYS:
                continue
            kept[name] = MASK if is_secret_name(name) else _shape(item, secrets, depth + 1)
        return kept
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            return "…"
        return [_shape(item, secrets, depth + 1) for item in value[:MAX_ITEMS]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _text(str(value), secrets)


def _text(text: str, secrets: Collection[str]) -> str:
    # masked before it is cut, so a cut cannot leave part of a secret behind
    shown = mask_url(redact(text, secrets))
    return shown if len(shown) <= MAX_TEXT else shown[: MAX_TEXT - 1] + "…"


def make_entry(
    actor: str,
    action: str,
    subject: str | None = None,
    *,
    address: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
    secrets: Collection[str] = (),
    at: float | None = None,
) -> Entry:
    """One entry, shaped: lengths capped, detail masked."""
    return Entry(
        at=time.time() if at is None else at,
        actor=actor[:MAX_TEXT] or "anonymous",
        action=action[:100],
        subject=None if subject is None else _text(subject, secrets),
        address=None if address is None else address[:100],
        outcome=outcome if outcome in OUTCOMES else "failed",
        detail=shape_detail(detail, secrets),
    )


def write(store: Store, entries: Sequence[Entry]) -> None:
    """Store entries now, in one transaction (blocking: a thread, or the CLI)."""
    with store.transaction() as connection:
        rows.append_many(connection, entries)


def record_cli(
    store: Store,
    action: str,
    subject: str | None = None,
    *,
    detail: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> None:
    """A CLI command's write, as ``cli:<unix user>`` (a store that refuses it is warned
    about on the log; the command's own work is done)."""
    try:
        write(store, [make_entry(cli_actor(), action, subject, outcome=outcome, detail=detail)])
    except StoreError as exc:
        log.warning("the activity log did not take %s: %s", action, exc)


def read(
    store: Store,
    *,
    since: float | None = None,
    until: float | None = None,
    actor: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
    oldest_first: bool = False,
) -> list[Entry]:
    with store.read() as connection:
        return rows.entries(
            connection,
            since=since,
            until=until,
            actor=actor,
            action=action,
            before_id=before_id,
            limit=limit,
            oldest_first=oldest_first,
        )


def prune(store: Store, before: float) -> int:
    """Delete entries older than ``before`` (the retention job's)."""
    with store.transaction() as connection:
        return rows.prune(connection, before)


@dataclass(slots=True)
class _Failures:
    """Failed logins of one address (or of the addresses past the cap) in one minute."""

    minute: int
    address: str | None
    first_at: float
    attempts: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    names: list[str] = field(default_factory=list)
    row_id: int | None = None
    dirty: bool = True

    def entry(self) -> Entry:
        detail: dict[str, Any] = {"attempts": self.attempts, "reasons": dict(self.reasons)}
        if self.names:
            detail["names"] = list(self.names)
        if self.address is None:
            detail["addresses"] = f"past the first {ADDRESSES_PER_MINUTE} of the minute"
        return Entry(
            at=self.first_at,
            actor="anonymous",
            action="login.failed",
            subject=self.names[0] if len(self.names) == 1 else None,
            address=self.address,
            outcome="failed",
            detail=detail,
            count=self.attempts,
        )


class ActivityLog:
    """The running server's activity log: entries written on a lane, failed logins
    aggregated, token use deduplicated. ``aclose`` writes what is still pending."""

    def __init__(
        self,
        store: Store,
        *,
        secrets: Callable[[], Collection[str]] = frozenset,
        lane: Lane = WEB,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._secrets = secrets
        self._lane = lane
        self._clock = clock
        self._failures: dict[tuple[int, str | None], _Failures] = {}
        self._token_hours: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.lost = 0
        """Entries the store refused (each logged)."""

    def entry(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        *,
        address: str | None = None,
        outcome: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> Entry:
        return make_entry(
            actor,
            action,
            subject,
            address=address,
            outcome=outcome,
            detail=detail,
            secrets=self._secrets(),
            at=self._clock(),
        )

    async def record(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        *,
        address: str | None = None,
        outcome: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write one entry (on the lane's threads); never raises for the store."""
        made = self.entry(actor, action, subject, address=address, outcome=outcome, detail=detail)
        try:
            await self._lane.run(write, self.store, [made])
        except StoreError as exc:
            self.lost += 1
            log.warning("the activity log did not take %s by %s: %s", action, actor, exc)

    async def token_used(self, actor: str, address: str | None) -> None:
        """A request made with an API token: recorded the first time each clock hour."""
        hour = int(self._clock() // TOKEN_USE_EVERY)
        if self._token_hours.get(actor) == hour:
            return
        if len(self._token_hours) > 10_000:
            self._token_hours.clear()
        self._token_hours[actor] = hour
        await self.record(actor, "token.use", actor.removeprefix("token:"), address=address)

    def login_failed(self, address: str | None, name: str, reason: str) -> None:
        """Count one failed login (``reason``: ``wrong``, ``throttled``, ``busy``); it is
        written by the flushing task (at once for an address's first in a minute)."""
        now = self._clock()
        minute = int(now // 60)
        for old in [k for k, f in self._failures.items() if k[0] < minute - 1 and not f.dirty]:
            del self._failures[old]
        key: tuple[int, str | None] = (minute, address)
        if key not in self._failures:
            own = sum(1 for m, a in self._failures if m == minute and a is not None)
            if address is None or own >= ADDRESSES_PER_MINUTE:
                key = (minute, None)
        failures = self._failures.get(key)
        if failures is None:
            failures = self._failures[key] = _Failures(minute, key[1], now)
        failures.attempts += 1
        failures.reasons[reason] += 1
        shown = _text(name, self._secrets())
        if shown and shown not in failures.names and len(failures.names) < NAMES_KEPT:
            failures.names.append(shown)
        failures.dirty = True
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_loop())

    @property
    def pending(self) -> int:
        """Failed-login aggregates not written yet."""
        return sum(1 for f in self._failures.values() if f.dirty)

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await asyncio.sleep(FLUSH_EVERY)

    async def flush(self) -> None:
        """Write the failed-login aggregates that changed."""
        async with self._flushing:
            dirty = [f for f in self._failures.values() if f.dirty]
            if not dirty:
                return
            for failures in dirty:
                failures.dirty = False
            batch = [(f.row_id, f.entry()) for f in dirty]
            try:
                ids = await self._lane.run(self._write_aggregates, batch)
            except StoreError as exc:
                for failures in dirty:
                    failures.dirty = True
                log.warning("the activity log did not take failed logins: %s", exc)
                return
            for failures, row_id in zip(dirty, ids, strict=True):
                failures.row_id = row_id

    def _write_aggregates(self, batch: Sequence[tuple[int | None, Entry]]) -> list[int]:
        ids: list[int] = []
        with self.store.transaction() as connection:
            for row_id, made in batch:
                if row_id is None:
                    ids.append(rows.append(connection, made))
                else:
                    rows.replace(connection, row_id, made)
                    ids.append(row_id)
        return ids

    async def aclose(self) -> None:
        """Stop the flushing task and write what is pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
