"""Read one period's evidence from the store into files (name → bytes, with a title).

Nothing secret goes in: users by name and role, tokens by name, scope and use (never a
token, its hash or its first characters), monitors' targets as the config shows them
(``${VAR}`` values and URL passwords masked).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from watchkeeper import __version__
from watchkeeper import activity as activity_log
from watchkeeper.auth.service import SESSION_TTL
from watchkeeper.config import Config, Monitor
from watchkeeper.config.models import is_loopback
from watchkeeper.engine.defined import api_monitors
from watchkeeper.engine.slos import slo_rows
from watchkeeper.store import Store, people
from watchkeeper.store import alerts as alert_rows
from watchkeeper.store.activity import Entry

MAX_INCIDENTS = 10_000
MAX_REPORTS = 10_000
"""Stored reports read per audit or drill monitor."""
MAX_FAILURES = 500
"""Failed results listed per backup monitor."""
ACTIVITY_PAGE = 5_000
ACTIVITY_COLUMNS = ("id", "at", "actor", "action", "subject", "address", "outcome", "count")


@dataclass(frozen=True, slots=True)
class File:
    name: str
    title: str
    data: bytes


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode()


def collect(config: Config, store: Store, since: float, until: float) -> list[File]:
    """Every evidence file for ``[since, until)``."""
    defined = api_monitors(store, config)
    monitors = [*config.monitors, *defined.monitors]
    return [
        File(
            "uptime.json",
            "Uptime and latency of each monitor over the period",
            _json(_uptime(store, monitors, since, until)),
        ),
        File(
            "slo.json",
            "Each SLO's error budget and burn rates (at the end of the period)",
            _json(slo_rows(store, [m for m in monitors if m.kind == "slo"], until)),
        ),
        File(
            "incidents.json",
            "Incidents open during the period, each with its timeline",
            _json(_incidents(store, since, until)),
        ),
        File(
            "security-audits.json",
            "Security audit grades and scores (audit monitors)",
            _json(_audits(store, monitors, since, until)),
        ),
        File(
            "restore-drills.json",
            "Restore drills: each backup's evidence and the drills run in the period",
            _json(_drills(store, config, since, until)),
        ),
        File(
            "backups.json",
            "Backup monitors: uptime and failed checks in the period",
            _json(_backups(store, monitors, since, until)),
        ),
        File(
            "access-control.json",
            "Users, roles, API tokens (never the tokens) and the authentication settings",
            _json(_access(store, config)),
        ),
        *_activity(store, since, until),
    ]


def _uptime(
    store: Store, monitors: list[Monitor], since: float, until: float
) -> list[dict[str, Any]]:
    rows = []
    for monitor in monitors:
        found = store.summary(monitor.name, since, until)
        rows.append(
            {
                "monitor": monitor.name,
                "kind": monitor.kind,
                "target": monitor.target,
                "resolution": found.resolution,
                "checks": found.checks,
                "failures": found.failures,
                "uptime_pct": None if found.uptime is None else round(found.uptime * 100, 4),
                "latency_p50_ms": _ms(found.latency_p50),
                "latency_p95_ms": _ms(found.latency_p95),
                "latency_p99_ms": _ms(found.latency_p99),
                "latency_max_ms": _ms(found.latency_max),
            }
        )
    return rows


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _incidents(store: Store, since: float, until: float) -> list[dict[str, Any]]:
    with store.read() as connection:
        found = alert_rows.incidents(connection, open_only=False, limit=MAX_INCIDENTS, since=since)
        kept = [i for i in found if i.opened_at < until]
        return [
            {
                **incident.to_json(),
                "timeline": [
                    {"at": entry.at, "kind": entry.kind, "text": entry.text}
                    for entry in alert_rows.timeline(connection, incident.id)
                ],
            }
            for incident in reversed(kept)
        ]


def _reports(store: Store, name: str, since: float, until: float) -> list[tuple[float, Any]]:
    return [
        (report.at, report.body)
        for report in reversed(store.reports(name, MAX_REPORTS))
        if since <= report.at < until
    ]


def _audits(
    store: Store, monitors: list[Monitor], since: float, until: float
) -> list[dict[str, Any]]:
    sites = []
    for monitor in (m for m in monitors if m.kind == "audit"):
        runs = _reports(store, monitor.name, since, until)
        newest = runs[-1][1] if runs else {}
        sites.append(
            {
                "monitor": monitor.name,
                "target": monitor.target,
                "runs": [
                    {"at": at, "grade": body.get("grade"), "score": body.get("score")}
                    for at, body in runs
                ],
                "latest": {
                    "grade": newest.get("grade"),
                    "score": newest.get("score"),
                    "findings": [
                        {k: f.get(k) for k in ("severity", "title", "subject")}
                        for f in newest.get("findings") or []
                        if isinstance(f, dict)
                    ],
                },
            }
        )
    return sites


def _drills(store: Store, config: Config, since: float, until: float) -> dict[str, Any]:
    from watchkeeper.backup.evidence import evidence

    rows = evidence(config.monitors, store)
    return {
        "backups": [row.as_json() for row in rows],
        "drills": {
            row.drill: [body for _, body in _reports(store, row.drill, since, until)]
            for row in rows
        },
    }


def _backups(
    store: Store, monitors: list[Monitor], since: float, until: float
) -> list[dict[str, Any]]:
    rows = []
    for monitor in (m for m in monitors if m.kind == "backup"):
        found = store.summary(monitor.name, since, until)
        failed = store.results(monitor.name, since, until, MAX_FAILURES, failed_only=True)
        rows.append(
            {
                "monitor": monitor.name,
                "target": monitor.target,
                "checks": found.checks,
                "failures": found.failures,
                "uptime_pct": None if found.uptime is None else round(found.uptime * 100, 4),
                "failed_checks": [
                    {"at": r.started_at, "error": r.error, "failures": r.failures} for r in failed
                ],
            }
        )
    return rows


def _access(store: Store, config: Config) -> dict[str, Any]:
    with store.read() as connection:
        users = people.users(connection)
        tokens = people.tokens(connection)
    host = config.server.listen.rsplit(":", 1)[0].strip("[]")
    return {
        "users": [
            {
                "name": u.name,
                "role": u.role,
                "created_at": u.created_at,
                "last_login_at": u.last_login_at,
            }
            for u in users
        ],
        "tokens": [
            {
                "id": t.id,
                "name": t.name,
                "scope": t.scope,
                "created_by": t.created_by,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "revoked_at": t.revoked_at,
            }
            for t in tokens
        ],
        "settings": {
            "listen": config.server.listen,
            "public_bind": not is_loopback(host),
            "public_url": config.server.public_url,
            "trusted_proxies": list(config.server.trusted_proxies),
            "session_lifetime_s": SESSION_TTL,
            "roles": {"admin": "reads and changes", "viewer": "reads"},
            "token_scopes": {
                "read": "reads",
                "write": "an admin's powers",
                "agent:LOCATION": "an agent's assignment and pushes",
            },
            "activity_retention_s": config.retention.activity,
            "watchkeeper": __version__,
        },
    }


def _activity(store: Store, since: float, until: float) -> list[File]:
    entries: list[Entry] = []
    while True:
        page = activity_log.read(
            store,
            since=since if not entries else entries[-1].at,
            until=until,
            limit=ACTIVITY_PAGE,
            oldest_first=True,
        )
        seen = {e.id for e in entries[-ACTIVITY_PAGE:]}
        fresh = [e for e in page if e.id not in seen]
        entries += fresh
        if len(page) < ACTIVITY_PAGE or not fresh:
            break
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*ACTIVITY_COLUMNS, "detail"])
    for entry in entries:
        row = entry.to_json()
        writer.writerow(
            [*(_cell(row[c]) for c in ACTIVITY_COLUMNS), json.dumps(entry.detail, sort_keys=True)]
        )
    return [
        File(
            "activity.csv", "The activity log (who changed what), as CSV", text.getvalue().encode()
        ),
        File(
            "activity.json",
            "The activity log (who changed what), as JSON",
            _json([e.to_json() for e in entries]),
        ),
    ]


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
